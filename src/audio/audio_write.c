/* WAV writing: libsndfile encodes into a growable memory buffer through its
 * virtual I/O interface (sf_membuf.c), then the bytes go to disk atomically (temp file,
 * fsync, rename), so a crash never leaves a torn WAV behind. */
#include "nemoc/audio.h"

#include <sndfile.h>
#include <string.h>

#include "audio/sf_membuf.h"
#include "core/strbuf.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"

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
    nc_sf_membuf mb = {0};
    SF_VIRTUAL_IO vio = nc_sf_membuf_io();
    SNDFILE *sf = sf_open_virtual(&vio, SFM_WRITE, &info, &mb);
    if (!sf) {
        nc_sb_free(&mb.s);
        return nc_error(NC_ERR_INTERNAL, "writing '%s': libsndfile refused the format: %s", path, sf_strerror(NULL));
    }
    /* Values outside [-1, 1] would wrap around in 16-bit PCM; clip them instead. */
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    /* libsndfile's PEAK chunk of a float WAV carries the time it was written:
     * without it the same samples give the same bytes (reproducible RIR banks). */
    sf_command(sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
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
