/* nc_manifest_perturb (`nemoc data perturb`): the perturbed copy keeps every
 * manifest key but audio_filepath/duration/offset, applies the augmentor to
 * the utterance's segment, is the same for any thread count, and names the
 * manifest line or the config key when something is wrong. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/asr_data.h"
#include "nemoc/audio.h"
#include "nemoc/config.h"

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) len = 0;
    if (buf) buf[len] = 0;
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static double rms(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0;
}

/* Three tones: 0.5 s, 1.0 s, and a 2.0 s file read from offset 0.5 for 1.0 s. */
static void write_inputs(const char *dir, char *manifest, size_t cap) {
    static const double secs[3] = {0.5, 1.0, 2.0};
    char path[512];
    for (int k = 0; k < 3; k++) {
        int64_t n = (int64_t)(secs[k] * 16000);
        float *x = nc_malloc((size_t)n * sizeof *x);
        for (int64_t i = 0; i < n; i++) x[i] = 0.3f * sinf(2.0f * 3.14159265f * 440.0f * (float)(k + 1) * (float)i / 16000.0f);
        snprintf(path, sizeof path, "%s/in%d.wav", dir, k);
        CHECK_OK(nc_audio_write_wav(path, x, n, 1, 16000, NC_WAV_FLOAT));
        nc_free(x);
    }
    snprintf(manifest, cap, "%s/in.json", dir);
    FILE *f = fopen(manifest, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "{\"audio_filepath\": \"in0.wav\", \"duration\": 0.5, \"text\": \"a b\", \"speaker\": \"s0\"}\n");
    fprintf(f, "{\"audio_filepath\": \"in1.wav\", \"duration\": 1.0, \"text\": \"c\", \"pred_text\": \"d\"}\n");
    fprintf(f, "{\"audio_filepath\": \"in2.wav\", \"offset\": 0.5, \"duration\": 1.0, \"text\": \"e f g\"}\n");
    fclose(f);
}

static nc_cfg *dataset(const char *manifest, const char *augmentor) {
    char yaml[1024];
    snprintf(yaml, sizeof yaml, "manifest_filepath: '%s'\nsample_rate: 16000\naugmentor:\n%s", manifest, augmentor);
    nc_cfg *ds = NULL;
    CHECK_OK(nc_cfg_parse(yaml, strlen(yaml), "ds.yaml", &ds));
    return ds;
}

static void test_copy_and_threads(void) {
    const char *dir = nc_test_tmpdir("manifest_perturb");
    char manifest[512], out1[600], out2[600], path[700];
    write_inputs(dir, manifest, sizeof manifest);
    /* Band-limiting to 8 kHz and a fixed -6 dB gain: deterministic amounts. */
    nc_cfg *ds = dataset(manifest, "  resample: {prob: 1.0, target_sr: 8000}\n"
                                   "  gain: {prob: 1.0, min_gain_dbfs: -6, max_gain_dbfs: -6}\n"
                                   "  white_noise: {prob: 0.5, min_level: -60, max_level: -50}\n");
    snprintf(out1, sizeof out1, "%s/out1", dir);
    snprintf(out2, sizeof out2, "%s/out2", dir);
    nc_manifest_perturb_params p = {.in_manifest = manifest, .out_dir = out1, .dataset = ds, .seed = 5};
    nc_manifest_perturb_stats st = {0};
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK_OK(nc_manifest_perturb(&p, &st));
    omp_set_num_threads(2);
    p.out_dir = out2;
    CHECK_OK(nc_manifest_perturb(&p, NULL));
    omp_set_num_threads(threads);
    CHECK(st.n_utts == 3);
    CHECK_NEAR(st.seconds, 2.5, 1e-6);

    size_t n1 = 0, n2 = 0;
    snprintf(path, sizeof path, "%s/manifest.json", out1);
    char *m1 = slurp(path, &n1);
    snprintf(path, sizeof path, "%s/manifest.json", out2);
    char *m2 = slurp(path, &n2);
    CHECK(m1 && m2 && n1 == n2 && !memcmp(m1, m2, n1));
    for (int k = 0; k < 3; k++) {
        size_t a = 0, b = 0;
        snprintf(path, sizeof path, "%s/audio/%06d.wav", out1, k);
        char *w1 = slurp(path, &a);
        snprintf(path, sizeof path, "%s/audio/%06d.wav", out2, k);
        char *w2 = slurp(path, &b);
        CHECK(w1 && w2 && a == b && a > 44 && !memcmp(w1, w2, a)); /* same bytes for 1 and 2 threads */
        free(w1);
        free(w2);
    }
    /* Keys kept, offset gone, paths relative to the output folder. */
    if (m1) {
        char *line = m1;
        for (int k = 0; k < 3 && line && *line; k++) {
            char *eol = strchr(line, '\n');
            if (eol) *eol = 0;
            cJSON *o = cJSON_Parse(line);
            CHECK(o != NULL);
            char want[32];
            snprintf(want, sizeof want, "audio/%06d.wav", k);
            const cJSON *fp = cJSON_GetObjectItemCaseSensitive(o, "audio_filepath");
            CHECK(cJSON_IsString(fp) && !strcmp(fp->valuestring, want));
            CHECK(!cJSON_GetObjectItemCaseSensitive(o, "offset"));
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "duration");
            CHECK(cJSON_IsNumber(d) && fabs(d->valuedouble - (k == 0 ? 0.5 : 1.0)) < 1e-6);
            if (k == 0) CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(o, "speaker")->valuestring, "s0"));
            if (k == 1) CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(o, "pred_text")->valuestring, "d"));
            if (k == 2) CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(o, "text")->valuestring, "e f g"));
            cJSON_Delete(o);
            line = eol ? eol + 1 : NULL;
        }
    }
    /* The gain is applied: -6 dB of the 0.3-peak tone (the tone is under
     * 4 kHz, so the telephone band passes it; noise is at most -50 dBFS). */
    nc_audio a = {0};
    nc_audio_read_params rp = nc_audio_read_default_params();
    snprintf(path, sizeof path, "%s/audio/%06d.wav", out1, 1);
    CHECK_OK(nc_audio_read(path, &rp, &a));
    CHECK(a.sample_rate == 16000 && a.n_samples == 16000);
    CHECK_NEAR(rms(a.samples + 800, a.n_samples - 1600), 0.3 / sqrt(2.0) * pow(10.0, -6.0 / 20.0), 2e-3);
    nc_audio_free(&a);
    /* The segment at offset 0.5 s of the third file (a 1320 Hz tone, under
     * 4 kHz too): 1.0 s long. */
    snprintf(path, sizeof path, "%s/audio/%06d.wav", out1, 2);
    CHECK_OK(nc_audio_read(path, &rp, &a));
    CHECK(a.n_samples == 16000);
    nc_audio_free(&a);
    free(m1);
    free(m2);
    nc_cfg_free(ds);
}

static void test_errors(void) {
    const char *dir = nc_test_tmpdir("manifest_perturb_bad");
    char manifest[512], out[600];
    write_inputs(dir, manifest, sizeof manifest);
    snprintf(out, sizeof out, "%s/out", dir);
    /* No perturbation at all. */
    nc_cfg *ds = dataset(manifest, "  {}\n");
    nc_manifest_perturb_params p = {.in_manifest = manifest, .out_dir = out, .dataset = ds};
    CHECK(nc_manifest_perturb(&p, NULL) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "augmentor") != NULL);
    nc_cfg_free(ds);
    /* A bad key is named. */
    ds = dataset(manifest, "  gain: {prob: 1.5}\n");
    p.dataset = ds;
    CHECK(nc_manifest_perturb(&p, NULL) != NC_OK);
    CHECK(strstr(nc_last_error(), "gain.prob") != NULL);
    nc_cfg_free(ds);
    /* A missing audio file names the manifest line, and no manifest is written. */
    char bad[600], path[700];
    snprintf(bad, sizeof bad, "%s/bad.json", dir);
    FILE *f = fopen(bad, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "{\"audio_filepath\": \"in0.wav\", \"duration\": 0.5, \"text\": \"a\"}\n");
        fprintf(f, "{\"audio_filepath\": \"gone.wav\", \"duration\": 0.5, \"text\": \"b\"}\n");
        fclose(f);
    }
    ds = dataset(bad, "  gain: {prob: 1.0}\n");
    p.dataset = ds;
    p.in_manifest = bad;
    CHECK(nc_manifest_perturb(&p, NULL) != NC_OK);
    if (!strstr(nc_last_error(), "bad.json:2")) fprintf(stderr, "message: %s\n", nc_last_error());
    CHECK(strstr(nc_last_error(), "bad.json:2") != NULL);
    snprintf(path, sizeof path, "%s/manifest.json", out);
    FILE *g = fopen(path, "r");
    CHECK(g == NULL);
    if (g) fclose(g);
    nc_cfg_free(ds);
}

int main(void) {
    test_copy_and_threads();
    test_errors();
    return nc_test_finish("manifest_perturb");
}
