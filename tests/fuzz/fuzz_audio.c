/* libFuzzer target: audio files as nemoc decodes them (libsndfile behind
 * nc_audio_probe / nc_audio_read: WAV/RF64/W64 headers and chunk lists, PCM
 * 8/16/24/32, float, FLAC, ...). The input is written to a file in /dev/shm,
 * since decoding goes through a path as in the data pipeline; the last byte
 * picks the read parameters (target rate, offset, duration, channel), so the
 * seek, mix-down and resampling paths are fuzzed with the header. A decoded
 * signal then goes through the log-mel featurizer. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "nemoc/alloc.h"
#include "nemoc/audio.h"
#include "nemoc/features.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    if (!path[0]) snprintf(path, sizeof path, "/dev/shm/nc_fuzz_audio_%ld", (long)getpid());
    const uint8_t knob = data[size - 1];
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size - 1, f);
    fclose(f);

    nc_audio_info info;
    nc_audio_probe(path, &info);
    nc_audio_read_params p = nc_audio_read_default_params();
    static const int rates[4] = {0, 16000, 8000, 44100};
    p.target_sr = rates[knob & 3];
    p.offset = (knob & 4) ? 0.001 * (knob >> 5) : 0.0;
    p.duration = (knob & 8) ? 0.002 * (knob >> 4) : 0.0;
    p.channel = (knob & 16) ? (knob >> 6) - 1 : -1;
    nc_audio a = {0};
    if (nc_audio_read(path, &p, &a) == NC_OK) {
        nc_feature_config c = nc_feature_default_config();
        c.sample_rate = a.sample_rate;
        c.features = 16;
        c.n_fft = 128;
        c.window_size = 0.008;
        c.window_stride = 0.004;
        c.dither = 0;
        nc_featurizer *fz = NULL;
        if (a.n_samples <= 400000 && nc_featurizer_create(&c, &fz) == NC_OK) {
            int64_t len = a.n_samples, out_len = 0;
            int64_t T = nc_featurizer_out_frames(fz, len);
            float *feats = nc_malloc((size_t)(nc_featurizer_n_features(fz) * (T ? T : 1)) * sizeof(float));
            if (feats) nc_featurizer_compute(fz, a.samples, &len, 1, len, false, NULL, feats, &out_len);
            nc_free(feats);
            nc_featurizer_free(fz);
        }
        nc_audio_free(&a);
    }
    unlink(path);
    return 0;
}
