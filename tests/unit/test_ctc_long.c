/* Long-audio transcription in buffered chunks (nc_ctc_transcribe_long):
 *  - chunks whose buffers cover the whole file give exactly the tokens and
 *    frames of one pass over the whole file (the chunk frames tile exactly);
 *  - the batch path (loader features + nc_ctc_transcribe_batch) agrees with a
 *    single-buffer pass;
 *  - a 10-minute file is transcribed with a peak of allocated memory far
 *    below its decoded size: it is read one buffer at a time;
 *  - a missing file or an offset past the end is an error naming the path.
 * The model is randomly initialised: its greedy output is a long, arbitrary
 * token sequence, which makes the equality checks sharp. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/collections.h"
#include "nemoc/alloc.h"
#include "asr/models/ctc_model.h"
#include "nemoc/asr_ctc.h"
#include "nemoc/audio.h"
#include "nemoc/log.h"

static nc_model *model(void) {
    const char *t = "model:\n"
                    "  labels: [' ', 'a', 'b', 'c', 'd', 'e']\n"
                    "  preprocessor: {features: 16, n_fft: 256, window_size: 0.016, window_stride: 0.01}\n"
                    "  encoder: {feat_in: 16, n_layers: 1, d_model: 16, n_heads: 2, conv_kernel_size: 3,\n"
                    "            subsampling_conv_channels: 4}\n";
    nc_cfg *root = NULL, *mc = NULL;
    nc_model *m = NULL;
    CHECK_OK(nc_cfg_parse(t, strlen(t), "test", &root));
    CHECK_OK(nc_cfg_get_node(root, "model", &mc));
    CHECK_OK(nc_register_collections());
    CHECK_OK(nc_model_create(mc, "EncDecCTCModel", &(nc_model_build_args){.seed = 7}, &m));
    nc_cfg_free(root);
    return m;
}

/* Tones that change every 0.3 s over noise: the encoder output varies over time. */
static void write_audio(const char *path, double seconds) {
    const int sr = 16000;
    const int64_t n = (int64_t)(seconds * sr);
    float *x = nc_malloc((size_t)n * sizeof(float));
    uint32_t r = 12345;
    for (int64_t i = 0; i < n; i++) {
        r = r * 1664525u + 1013904223u;
        double f = 200.0 + 150.0 * (double)((i / 4800) % 7);
        x[i] = (float)(0.3 * sin(2 * M_PI * f * (double)i / sr) + 0.05 * ((double)(r >> 8) / 16777216.0 - 0.5));
    }
    CHECK_OK(nc_audio_write_wav(path, x, n, 1, sr, NC_WAV_PCM16));
    nc_free(x);
}

static bool same_hyp(const nc_asr_hyp *a, const nc_asr_hyp *b) {
    if (a->hyp.n_tokens != b->hyp.n_tokens || strcmp(a->text, b->text) != 0) return false;
    for (int64_t i = 0; i < a->hyp.n_tokens; i++)
        if (a->hyp.tokens[i].id != b->hyp.tokens[i].id || a->hyp.tokens[i].frame != b->hyp.tokens[i].frame)
            return false;
    return true;
}

int main(void) {
    nc_log_set_level(NC_LOG_ERROR);
    const char *dir = nc_test_tmpdir("ctc_long");
    char path[4096], mpath[4096];
    snprintf(path, sizeof path, "%s/a.wav", dir);
    write_audio(path, 6.0);
    nc_model *m = model();
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_transcribe_params tp = {.beam_size = 1};

    /* One buffer over the whole file. */
    nc_long_audio_params whole = {.chunk_s = 100, .buffer_s = 100};
    nc_asr_hyp a, b;
    CHECK_OK(nc_ctc_transcribe_long(m, ctx, path, 0, 0, &whole, &tp, &a));
    CHECK(a.hyp.n_tokens > 10);
    printf("  6 s of audio, whole: %lld tokens\n", (long long)a.hyp.n_tokens);
    /* Chunks of 0.48 s (12 frames) whose buffers reach past both ends: the same frames. */
    nc_long_audio_params tiled = {.chunk_s = 0.48, .buffer_s = 13.0};
    CHECK_OK(nc_ctc_transcribe_long(m, ctx, path, 0, 6.0, &tiled, &tp, &b));
    CHECK(same_hyp(&a, &b));
    nc_asr_hyp_free(&b);
    /* Short context: a different computation, still a transcript of about the same length. */
    nc_long_audio_params narrow = {.chunk_s = 1.0, .buffer_s = 2.0};
    CHECK_OK(nc_ctc_transcribe_long(m, ctx, path, 0, 0, &narrow, &tp, &b));
    CHECK(b.hyp.n_tokens > a.hyp.n_tokens / 2 && b.hyp.n_tokens < a.hyp.n_tokens * 2);
    printf("  chunks of 1 s in buffers of 2 s: %lld tokens\n", (long long)b.hyp.n_tokens);
    nc_asr_hyp_free(&b);

    /* The batch path over the same file agrees with the single buffer. */
    snprintf(mpath, sizeof mpath, "%s/m.json", dir);
    FILE *f = fopen(mpath, "w");
    fprintf(f, "{\"audio_filepath\": \"a.wav\", \"duration\": 6.0, \"text\": \"\"}\n");
    fclose(f);
    nc_asr_loader_params lp = nc_asr_loader_default_params();
    lp.manifest_filepath = mpath;
    lp.batch_size = 1;
    lp.shuffle = false;
    lp.num_workers = 0;
    lp.features = &nc_ctc_of(m)->features;
    lp.training = false;
    nc_asr_loader *l;
    CHECK_OK(nc_asr_loader_create(&lp, &l));
    CHECK_OK(nc_asr_loader_begin_epoch(l, 0, 0));
    const nc_asr_batch *batch;
    CHECK_OK(nc_asr_loader_next(l, &batch));
    CHECK(batch != NULL);
    if (batch) {
        CHECK_OK(nc_ctc_transcribe_batch(m, ctx, batch, &tp, &b));
        CHECK(same_hyp(&a, &b));
        nc_asr_hyp_free(&b);
    }
    nc_ctx_reset(ctx);
    nc_asr_loader_free(l);
    nc_asr_hyp_free(&a);

    /* A 10-minute file (38 MB of float samples once decoded) read one buffer at a time. */
    snprintf(path, sizeof path, "%s/long.wav", dir);
    write_audio(path, 600.0);
    /* Short buffers keep the encoder's own memory small, so the check is about the audio. */
    nc_long_audio_params la = {.chunk_s = 4, .buffer_s = 6};
    nc_debug_alloc st = {0};
    nc_allocator dbg = nc_debug_allocator(&st);
    nc_allocator prev = nc_set_allocator(&dbg);
    nc_status s = nc_ctc_transcribe_long(m, ctx, path, 0, 0, &la, &tp, &a);
    nc_ctx_reset(ctx);
    nc_set_allocator(&prev);
    CHECK_OK(s);
    CHECK(a.hyp.n_tokens > 1000);
    CHECK(st.peak_bytes < (16 << 20));
    printf("  10 min in chunks of %g s (buffers of %g s): %lld tokens, peak %.1f MB allocated\n", la.chunk_s,
           la.buffer_s, (long long)a.hyp.n_tokens, (double)st.peak_bytes / 1048576.0);
    nc_asr_hyp_free(&a);
    /* Its last word: the tail after the last whole chunk is kept. */
    CHECK_OK(nc_ctc_transcribe_long(m, ctx, path, 590.0, 0, &la, &tp, &a));
    nc_asr_hyp_free(&a);

    /* Errors name the file. */
    snprintf(path, sizeof path, "%s/missing.wav", dir);
    CHECK(nc_ctc_transcribe_long(m, ctx, path, 0, 100, &la, &tp, &a) == NC_ERR_NOT_FOUND);
    CHECK(strstr(nc_last_error(), "missing.wav") != NULL);
    snprintf(path, sizeof path, "%s/long.wav", dir);
    CHECK(nc_ctc_transcribe_long(m, ctx, path, 700.0, 0, &la, &tp, &a) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "past the end") != NULL);
    nc_long_audio_params bad = {.chunk_s = 10, .buffer_s = 5};
    CHECK(nc_ctc_transcribe_long(m, ctx, path, 0, 0, &bad, &tp, &a) == NC_ERR_INVALID_ARG);

    nc_ctx_free(ctx);
    nc_model_free(m);
    return nc_test_finish("ctc_long");
}
