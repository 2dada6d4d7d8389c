/* WAV writing: libsndfile encodes into a growable memory buffer through its
 * virtual I/O interface, then the bytes go to disk atomically (temp file,
 * fsync, rename), so a crash never leaves a torn WAV behind. */
#include "nemoc/audio.h"

#include <sndfile.h>
#include <string.h>

#include "io/fileutil.h"
#include "nemoc/alloc.h"

typedef struct membuf {
    unsigned char *data;
    sf_count_t len; /* bytes written (file length) */
    sf_count_t cap;
    sf_count_t pos;
    int oom;
} membuf;

static sf_count_t mb_len(void *u) { return ((membuf *)u)->len; }

static sf_count_t mb_seek(sf_count_t off, int whence, void *u) {
    membuf *m = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->len;
    sf_count_t np = base + off;
    if (np < 0) return -1;
    m->pos = np;
    return np;
}

static sf_count_t mb_read(void *ptr, sf_count_t count, void *u) {
    membuf *m = u;
    sf_count_t avail = m->len - m->pos;
    if (count > avail) count = avail > 0 ? avail : 0;
    if (count) memcpy(ptr, m->data + m->pos, (size_t)count);
    m->pos += count;
    return count;
}

static sf_count_t mb_write(const void *ptr, sf_count_t count, void *u) {
    membuf *m = u;
    sf_count_t end = m->pos + count;
    if (end > m->cap) {
        sf_count_t cap = m->cap ? m->cap : 4096;
        while (cap < end) cap *= 2;
        unsigned char *nd = nc_malloc((size_t)cap);
        if (!nd) {
            m->oom = 1;
            return 0;
        }
        if (m->len) memcpy(nd, m->data, (size_t)m->len);
        nc_free(m->data);
        m->data = nd;
        m->cap = cap;
    }
    if (m->pos > m->len) memset(m->data + m->len, 0, (size_t)(m->pos - m->len));
    memcpy(m->data + m->pos, ptr, (size_t)count);
    m->pos = end;
    if (end > m->len) m->len = end;
    return count;
}

static sf_count_t mb_tell(void *u) { return ((membuf *)u)->pos; }

nc_status nc_audio_write_wav(const char *path, const float *samples, int64_t n_frames, int channels,
                             int sample_rate, nc_wav_format fmt) {
    if (!path || (n_frames > 0 && !samples) || n_frames < 0)
        return nc_error(NC_ERR_INVALID_ARG, "nc_audio_write_wav: bad arguments for '%s'", path ? path : "(null)");
    if (channels <= 0 || sample_rate <= 0)
        return nc_error(NC_ERR_INVALID_ARG, "writing '%s': %d channels at %d Hz", path, channels, sample_rate);
    if (fmt != NC_WAV_PCM16 && fmt != NC_WAV_FLOAT)
        return nc_error(NC_ERR_INVALID_ARG, "writing '%s': unknown WAV format %d", path, (int)fmt);
    SF_INFO info = {
        .samplerate = sample_rate,
        .channels = channels,
        .format = SF_FORMAT_WAV | (fmt == NC_WAV_PCM16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT),
    };
    membuf mb = {0};
    SF_VIRTUAL_IO vio = {
        .get_filelen = mb_len, .seek = mb_seek, .read = mb_read, .write = mb_write, .tell = mb_tell};
    SNDFILE *sf = sf_open_virtual(&vio, SFM_WRITE, &info, &mb);
    if (!sf) {
        nc_free(mb.data);
        return nc_error(NC_ERR_INTERNAL, "writing '%s': libsndfile refused the format: %s", path, sf_strerror(NULL));
    }
    /* Values outside [-1, 1] would wrap around in 16-bit PCM; clip them instead. */
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    sf_count_t w = n_frames ? sf_writef_float(sf, samples, (sf_count_t)n_frames) : 0;
    int cerr = sf_close(sf);
    if (mb.oom) {
        nc_free(mb.data);
        return nc_error(NC_ERR_OOM, "encoding '%s' (%lld frames)", path, (long long)n_frames);
    }
    if (w != (sf_count_t)n_frames || cerr) {
        nc_free(mb.data);
        return nc_error(NC_ERR_INTERNAL, "encoding '%s': wrote %lld of %lld frames", path, (long long)w,
                        (long long)n_frames);
    }
    nc_status s = nc_write_file_atomic(path, mb.data, (size_t)mb.len);
    nc_free(mb.data);
    return s;
}
