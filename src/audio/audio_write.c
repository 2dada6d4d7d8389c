/* WAV writing: libsndfile encodes into a growable memory buffer through its
 * virtual I/O interface, then the bytes go to disk atomically (temp file,
 * fsync, rename), so a crash never leaves a torn WAV behind. */
#include "nemoc/audio.h"

#include <sndfile.h>
#include <string.h>

#include "core/strbuf.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"

/* A seekable file in memory: libsndfile seeks back to patch the header. */
typedef struct membuf {
    nc_strbuf s;    /* the file's bytes; s.n is its length */
    sf_count_t pos; /* where the next read or write goes */
} membuf;

static sf_count_t mb_len(void *u) { return (sf_count_t)((membuf *)u)->s.n; }

static sf_count_t mb_seek(sf_count_t off, int whence, void *u) {
    membuf *m = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : (sf_count_t)m->s.n;
    sf_count_t np = base + off;
    if (np < 0) return -1;
    m->pos = np;
    return np;
}

static sf_count_t mb_read(void *ptr, sf_count_t count, void *u) {
    membuf *m = u;
    sf_count_t avail = (sf_count_t)m->s.n - m->pos;
    if (count > avail) count = avail > 0 ? avail : 0;
    if (count) memcpy(ptr, m->s.p + m->pos, (size_t)count);
    m->pos += count;
    return count;
}

static sf_count_t mb_write(const void *ptr, sf_count_t count, void *u) {
    membuf *m = u;
    if (count <= 0) return 0;
    sf_count_t end = m->pos + count;
    if (end > (sf_count_t)m->s.n) {
        /* Grow the file to `end`, zero-filling a hole left by a seek past it. */
        size_t grow = (size_t)(end - (sf_count_t)m->s.n);
        if (nc_sb_reserve(&m->s, grow)) return 0;
        memset(m->s.p + m->s.n, 0, grow);
        m->s.n = (size_t)end;
        m->s.p[m->s.n] = 0;
    }
    memcpy(m->s.p + m->pos, ptr, (size_t)count);
    m->pos = end;
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
        nc_sb_free(&mb.s);
        return nc_error(NC_ERR_INTERNAL, "writing '%s': libsndfile refused the format: %s", path, sf_strerror(NULL));
    }
    /* Values outside [-1, 1] would wrap around in 16-bit PCM; clip them instead. */
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    sf_count_t w = n_frames ? sf_writef_float(sf, samples, (sf_count_t)n_frames) : 0;
    int cerr = sf_close(sf);
    if (mb.s.oom) {
        nc_sb_free(&mb.s);
        return nc_error(NC_ERR_OOM, "encoding '%s' (%lld frames)", path, (long long)n_frames);
    }
    if (w != (sf_count_t)n_frames || cerr) {
        nc_sb_free(&mb.s);
        return nc_error(NC_ERR_INTERNAL, "encoding '%s': wrote %lld of %lld frames", path, (long long)w,
                        (long long)n_frames);
    }
    nc_status s = nc_write_file_atomic(path, mb.s.p, mb.s.n);
    nc_sb_free(&mb.s);
    return s;
}
