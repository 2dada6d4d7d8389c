/* Greedy transducer decoding speed: the per-utterance loop (strategy
 * greedy: GreedyRNNTInfer / GreedyTDTInfer) against the batched one
 * (greedy_batch: one prediction-network step and one joint evaluation per
 * step for all active utterances, src/asr/decoding/rnnt_greedy_batch.c), for
 * RNN-T and TDT (durations 0..4) on the same encoder output: B utterances of
 * up to T frames of 40 ms (lengths T - (T / 40) b, as in a duration
 * bucket), encoder width D, prediction network and joint width J (1 LSTM
 * layer, NeMo's default), V + 1 token logits. Random weights, with the
 * blank's bias set so that about a third of the steps emit a token; the
 * token counts are printed so the work is visible. Reports the median wall
 * time of `steps` decodes, the CPU time, and the real-time factor (decode
 * time / audio time), and checks that both strategies give the same tokens.
 *     build/bench/bench_rnnt_greedy [B T D J V1] [steps] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "nemoc/ctx.h"
#include "nemoc/params.h"
#include "nemoc/rng.h"
#include "nemoc/rnnt_modules.h"

typedef struct setup {
    nc_params *p;
    nc_rnnt_decoder dec;
    nc_rnnt_joint joint;
} setup;

static int make(setup *s, int64_t D, int64_t J, int64_t V, int64_t n_dur, float blank_bias) {
    memset(s, 0, sizeof *s);
    nc_rnnt_decoder_params dp = nc_rnnt_decoder_default_params();
    dp.vocab_size = V, dp.pred_hidden = J, dp.pred_rnn_layers = 1;
    nc_rnnt_joint_params jp = nc_rnnt_joint_default_params();
    jp.num_classes = V, jp.pred_hidden = J, jp.encoder_hidden = D, jp.joint_hidden = J;
    jp.num_extra_outputs = n_dur;
    if (nc_params_create(&s->p) || nc_rnnt_decoder_init(&s->dec, s->p, "decoder", &dp) ||
        nc_rnnt_joint_init(&s->joint, s->p, "joint", &jp) || nc_params_finalize(s->p))
        return 1;
    nc_rng r;
    nc_rng_seed(&r, 11);
    float *w = nc_params_flat_data(s->p);
    nc_rng_normal(&r, w, nc_params_flat_size(s->p), 0, 1.0f / sqrtf((float)J));
    nc_rnnt_decoder_reset(&s->dec);
    nc_f32(s->joint.out.bias)[V] += blank_bias;
    return 0;
}

static void drop(setup *s) {
    nc_rnnt_decoder_free(&s->dec);
    nc_params_free(s->p);
}

/* Decodes `steps` times with the strategy; median wall s, CPU s per decode,
 * tokens in all; the hypotheses of the last run stay in hyps. */
static int run(setup *s, const float *enc0, int64_t B, int64_t T, int64_t D, const int64_t *len,
               const nc_rnnt_greedy_params *gp, int steps, double *wall, double *cpu, int64_t *tokens,
               nc_rnnt_hyp *hyps) {
    nc_ctx *ctx;
    if (nc_ctx_create(NULL, &ctx)) return 1;
    double ts[64];
    int done = 0;
    double cpu0 = bench_cpu_s();
    for (int i = 0; i < steps + 1 && i < 64; i++) {
        if (i == 1) cpu0 = bench_cpu_s(); /* one warm-up */
        for (int64_t b = 0; b < B && i > 0; b++) nc_rnnt_hyp_free(&hyps[b]);
        nc_tensor *enc = nc_from_data(ctx, NC_F32, NC_DIMS(B, T, D), enc0);
        double t0 = bench_now();
        if (nc_rnnt_greedy_decode(ctx, &s->dec, &s->joint, enc, len, gp, hyps)) {
            fprintf(stderr, "decode: %s\n", nc_last_error());
            nc_ctx_free(ctx);
            return 1;
        }
        if (i > 0) ts[done++] = bench_now() - t0;
        nc_ctx_reset(ctx);
    }
    *cpu = (bench_cpu_s() - cpu0) / done;
    *wall = bench_median(ts, done);
    *tokens = 0;
    for (int64_t b = 0; b < B; b++) *tokens += hyps[b].n;
    nc_ctx_free(ctx);
    return 0;
}

int main(int argc, char **argv) {
    int64_t B = 16, T = 250, D = 176, J = 320, V1 = 129;
    if (argc >= 6) B = atoll(argv[1]), T = atoll(argv[2]), D = atoll(argv[3]), J = atoll(argv[4]), V1 = atoll(argv[5]);
    int steps = argc >= 7 ? atoi(argv[6]) : 5;
    const int64_t V = V1 - 1;
    if (B < 1 || T < 1 || D < 1 || J < 1 || V < 1 || steps < 1) {
        fprintf(stderr, "usage: bench_rnnt_greedy [B T D J V1] [steps]\n");
        return 2;
    }
    float *enc = malloc((size_t)(B * T * D) * sizeof(float));
    int64_t *len = malloc((size_t)B * sizeof(int64_t));
    nc_rnnt_hyp *h1 = calloc((size_t)B, sizeof *h1), *h2 = calloc((size_t)B, sizeof *h2);
    if (!enc || !len || !h1 || !h2) return 1;
    nc_rng r;
    nc_rng_seed(&r, 5);
    nc_rng_normal(&r, enc, B * T * D, 0, 1);
    int64_t frames = 0;
    for (int64_t b = 0; b < B; b++) {
        len[b] = T - (T / 40) * b;
        if (len[b] < 1) len[b] = 1;
        frames += len[b];
    }
    const double audio_s = 0.04 * (double)frames;
    printf("greedy transducer decoding: B=%lld T<=%lld (%.1f s of audio at 40 ms/frame), D=%lld J=%lld V+1=%lld, "
           "1 LSTM layer, %d decodes, %s\n",
           (long long)B, (long long)T, audio_s, (long long)D, (long long)J, (long long)V1, steps,
           getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "default threads");
    static const int64_t durs[5] = {0, 1, 2, 3, 4};
    int rc = 0;
    for (int tdt = 0; tdt < 2 && !rc; tdt++) {
        setup s;
        if (make(&s, D, J, V, tdt ? 5 : 0, tdt ? 2.0f : 2.5f)) {
            fprintf(stderr, "setup: %s\n", nc_last_error());
            return 1;
        }
        nc_rnnt_greedy_params gp = nc_rnnt_greedy_default_params();
        if (tdt) gp.durations = durs, gp.n_durations = 5;
        double w[2], c[2];
        int64_t n[2];
        gp.batched = false;
        rc |= run(&s, enc, B, T, D, len, &gp, steps, &w[0], &c[0], &n[0], h1);
        gp.batched = true;
        rc |= run(&s, enc, B, T, D, len, &gp, steps, &w[1], &c[1], &n[1], h2);
        bool same = !rc;
        for (int64_t b = 0; b < B && same; b++) {
            same = h1[b].n == h2[b].n;
            for (int64_t i = 0; same && i < h1[b].n; i++) same = h1[b].tokens[i] == h2[b].tokens[i];
        }
        for (int k = 0; k < 2 && !rc; k++)
            printf("%-5s %-12s %8.1f ms wall  %8.1f ms CPU  RTF %.5f  %6lld tokens (%.2f per frame)\n",
                   tdt ? "TDT" : "RNN-T", k ? "greedy_batch" : "greedy", 1e3 * w[k], 1e3 * c[k], w[k] / audio_s,
                   (long long)n[k], (double)n[k] / (double)frames);
        if (!rc) printf("%-5s greedy_batch speed-up %.2fx (wall), %.2fx (CPU); same tokens: %s\n", tdt ? "TDT" : "RNN-T",
                        w[0] / w[1], c[0] / c[1], same ? "yes" : "NO");
        if (!same) rc = 1;
        for (int64_t b = 0; b < B; b++) {
            nc_rnnt_hyp_free(&h1[b]);
            nc_rnnt_hyp_free(&h2[b]);
        }
        drop(&s);
    }
    free(enc);
    free(len);
    free(h1);
    free(h2);
    return rc;
}
