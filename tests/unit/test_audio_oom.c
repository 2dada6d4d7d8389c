/* Every allocation in the audio paths can fail: with the debug allocator
 * failing the k-th allocation (k = 1, 2, ... until the call succeeds), each
 * call returns NC_ERR_OOM (or another clean error) and leaves no live blocks. */
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/audio.h"
#include "nemoc/augment.h"
#include "nemoc/features.h"

static const char *dir;

static const char *tmp(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

typedef nc_status (*op_fn)(void);

/* Runs op with allocation k failing, for k = 1.. until it succeeds. */
static void sweep(const char *what, op_fn op) {
    int k;
    for (k = 1; k < 200; k++) {
        nc_debug_alloc st = {.fail_at = k};
        nc_allocator dbg = nc_debug_allocator(&st);
        nc_allocator prev = nc_set_allocator(&dbg);
        nc_status s = op();
        nc_set_allocator(&prev);
        if (st.live_blocks != 0) nc_test_fail(__FILE__, __LINE__, "%s: %lld blocks leaked with allocation %d failing",
                                              what, (long long)st.live_blocks, k);
        if (s == NC_OK && st.n_failed == 0) break;
        /* Success despite a refused allocation is allowed: the atomic writer's final
         * folder fsync is best effort (src/io/fileutil.c). */
        if (s != NC_OK) CHECK(s == NC_ERR_OOM);
    }
    CHECK(k > 1 && k < 200);
    printf("  %-22s %d allocation points\n", what, k - 1);
}

static nc_status op_features(void) {
    nc_feature_config c = nc_feature_default_config();
    nc_featurizer *f = NULL;
    nc_status s = nc_featurizer_create(&c, &f);
    if (s) return s;
    nc_tensor *audio = NULL, *lens = NULL, *feats = NULL, *fl = NULL;
    s = nc_tensor_new(NC_F32, NC_DIMS(2, 4000), &audio);
    if (!s) s = nc_tensor_new(NC_I64, NC_DIMS(2), &lens);
    if (!s) {
        for (int64_t i = 0; i < 8000; i++) nc_f32(audio)[i] = (float)(i % 37) * 0.01f;
        nc_i64(lens)[0] = 4000;
        nc_i64(lens)[1] = 3000;
        nc_rng rng;
        nc_rng_seed(&rng, 1);
        s = nc_featurizer_forward(f, audio, lens, true, &rng, &feats, &fl);
    }
    nc_tensor_free(feats);
    nc_tensor_free(fl);
    nc_tensor_free(audio);
    nc_tensor_free(lens);
    nc_featurizer_free(f);
    return s;
}

static nc_status op_read(void) {
    nc_audio_read_params p = nc_audio_read_default_params();
    p.target_sr = 16000;
    p.offset = 0.1;
    nc_audio a = {0};
    nc_status s = nc_audio_read(tmp("st.wav"), &p, &a);
    nc_audio_free(&a);
    return s;
}

static nc_status op_write(void) { return nc_audio_write_wav(tmp("w.wav"), (const float[]){0.1f, 0.2f}, 1, 2, 8000, NC_WAV_PCM16); }

static nc_status op_noise(void) {
    nc_noise_set *set = NULL;
    nc_status s = nc_noise_set_load(tmp("noise.json"), &set);
    if (s) return s;
    nc_audio a = {.samples = nc_calloc(4000, sizeof(float)), .n_samples = 4000, .sample_rate = 16000};
    if (!a.samples) {
        nc_noise_set_free(set);
        return NC_ERR_OOM;
    }
    for (int i = 0; i < 4000; i++) a.samples[i] = (float)(i % 50) * 0.001f;
    nc_rng rng;
    nc_rng_seed(&rng, 2);
    nc_noise_perturb np = {.noise = set, .min_snr_db = 5, .max_snr_db = 5, .max_gain_db = 300};
    nc_speed_perturb sp = {.min_speed_rate = 1.1, .max_speed_rate = 1.1, .num_rates = 1};
    s = nc_perturb_noise(&np, &a, &rng, NULL);
    if (!s) s = nc_perturb_speed(&sp, &a, &rng, NULL);
    nc_audio_free(&a);
    nc_noise_set_free(set);
    return s;
}

static nc_status op_spec_augment(void) {
    float spec[2 * 8 * 30];
    for (int i = 0; i < 480; i++) spec[i] = 1.0f;
    const int64_t len[2] = {30, 20};
    nc_spec_augment_config c = nc_spec_augment_default_config();
    c.freq_masks = 2;
    c.time_masks = 3;
    c.freq_width = 3;
    nc_rng rng;
    nc_rng_seed(&rng, 3);
    return nc_spec_augment(&c, spec, 2, 8, 30, len, &rng);
}

int main(void) {
    dir = nc_test_tmpdir("audio_oom");
    float st[2 * 24000];
    for (int i = 0; i < 48000; i++) st[i] = (float)((i * 7919) % 200 - 100) * 0.003f;
    CHECK_OK(nc_audio_write_wav(tmp("st.wav"), st, 24000, 2, 24000, NC_WAV_FLOAT));
    CHECK_OK(nc_audio_write_wav(tmp("n.wav"), st, 48000, 1, 16000, NC_WAV_FLOAT));
    FILE *f = fopen(tmp("noise.json"), "w");
    if (f) {
        fprintf(f, "{\"audio_filepath\": \"n.wav\", \"duration\": 3.0}\n");
        fclose(f);
    }
    sweep("features", op_features);
    sweep("audio read+resample", op_read);
    sweep("wav write", op_write);
    sweep("noise+speed perturb", op_noise);
    sweep("spec augment", op_spec_augment);
    return nc_test_finish("audio_oom");
}
