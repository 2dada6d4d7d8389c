/* `nemoc audio features <audio> [key=value ...] out=feats.npy`: NeMo's
 * AudioToMelSpectrogramPreprocessor on one file (eval mode: no dither),
 * written as a (features, T) float32 .npy exactly as the preprocessor returns
 * processed_signal[0] (frames past the length hold pad_value, the time axis is
 * padded to pad_to). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nemoc/audio.h"
#include "nemoc/features.h"
#include "nemoc/npy.h"
#include "nemoc/tensor.h"

static void features_help(FILE *f) {
    fprintf(f,
            "usage: nemoc audio features <audio> [key=value ...] out=feats.npy\n\n"
            "Log-mel features of one audio file, as NeMo's AudioToMelSpectrogramPreprocessor\n"
            "(eval mode). The file is decoded (WAV, FLAC, OGG, Opus, MP3, ...), averaged to mono\n"
            "and resampled to sample_rate. Writes a (features, T) float32 .npy.\n\n"
            "  out=PATH                     output .npy (required)\n"
            "  offset=SECONDS               start of the segment to read (default 0)\n"
            "  duration=SECONDS             length of the segment (default 0: to the end)\n\n"
            "preprocessor keys (NeMo names, class defaults):\n");
    for (const nc_feature_key_doc *k = nc_feature_config_keys(); k->key; k++)
        fprintf(f, "  %-28s %s (default %s)\n", k->key, k->help, k->default_value);
}

static int fail(const char *what) {
    fprintf(stderr, "nemoc audio features: %s%s%s\n", what, *nc_last_error() ? ": " : "", nc_last_error());
    return 1;
}

int nc_cmd_audio_features(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    nc_feature_config cfg = nc_feature_default_config();
    nc_audio_read_params rp = nc_audio_read_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            features_help(stdout);
            return 0;
        }
        const char *eq = strchr(a, '=');
        if (!eq) {
            if (in) {
                fprintf(stderr, "nemoc audio features: more than one input ('%s' and '%s')\n\n", in, a);
                features_help(stderr);
                return 2;
            }
            in = a;
            continue;
        }
        char key[64];
        const size_t kl = (size_t)(eq - a);
        if (kl == 0 || kl >= sizeof key) {
            fprintf(stderr, "nemoc audio features: bad argument '%s'\n", a);
            return 2;
        }
        memcpy(key, a, kl);
        key[kl] = 0;
        const char *v = eq + 1;
        char *end;
        if (!strcmp(key, "out")) {
            out = v;
        } else if (!strcmp(key, "offset") || !strcmp(key, "duration")) {
            const double d = strtod(v, &end);
            if (end == v || *end || d < 0) {
                fprintf(stderr, "nemoc audio features: %s=%s: expected seconds >= 0\n", key, v);
                return 2;
            }
            if (!strcmp(key, "offset")) rp.offset = d;
            else rp.duration = d;
        } else if (nc_feature_config_set(&cfg, key, v)) {
            fprintf(stderr, "nemoc audio features: %s\n", nc_last_error());
            return 2;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "nemoc audio features: need an input file and out=PATH\n\n");
        features_help(stderr);
        return 2;
    }
    nc_featurizer *f = NULL;
    if (nc_featurizer_create(&cfg, &f)) return fail("bad configuration");
    rp.target_sr = (int)cfg.sample_rate;
    nc_audio audio = {0};
    if (nc_audio_read(in, &rp, &audio)) {
        nc_featurizer_free(f);
        return fail("cannot read audio");
    }
    const int64_t T = audio.n_samples, F = nc_featurizer_n_features(f);
    const int64_t Tout = nc_featurizer_out_frames(f, T);
    nc_tensor *feats = NULL;
    int64_t seq_len = 0;
    int rc = 0;
    if (nc_tensor_new(NC_F32, NC_DIMS(F, Tout), &feats) ||
        nc_featurizer_compute(f, audio.samples, &T, 1, T, false, NULL, nc_f32(feats), &seq_len)) {
        rc = fail("feature extraction failed");
    } else if (nc_npy_save(out, feats)) {
        rc = fail("cannot write output");
    } else {
        printf("%s: %.3f s at %d Hz -> (%lld, %lld) features, %lld valid frames -> %s\n", in,
               (double)T / audio.sample_rate, audio.sample_rate, (long long)F, (long long)Tout, (long long)seq_len,
               out);
    }
    nc_tensor_free(feats);
    nc_audio_free(&audio);
    nc_featurizer_free(f);
    return rc;
}
