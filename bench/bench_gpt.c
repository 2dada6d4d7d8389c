/* MegatronGPTModel training step (src/llm/gpt, the model `nemoc llm
 * pretrain` trains), the nemoc side of bench/torch/gpt.py: forward, mean
 * next-token cross-entropy, backward and AdamW through nc_stepper_step, the
 * code nc_trainer_fit runs. Shapes in bench_gpt_arch.h (--arch gpt2: GPT-2
 * 124M; --arch llama: a Llama-style model of similar size).
 *
 *   bench_gpt [--arch gpt2|llama] [--prec 32|bf16] [--layers N] [--batch 4]
 *             [--seq 256] [--steps 3] [--warmup 1] [--dropout P]
 *             [--peak-gflops X] [--save DIR] [--profile]
 *
 * The batch is one contiguous random token stream of B*T+1 ids cut into B
 * rows (row b: inputs s[bT .. bT+T), labels shifted by one), the layout of
 * llm.c's data loader, so bench/llmc_gpt2.py can hand llm.c the same batch.
 * --save DIR writes weights.safetensors (NeMo's state_dict names), x.npy,
 * y.npy and stream.npy. --dropout overrides hidden_dropout (0 for the loss
 * check against the twin). Result line: median step, CPU seconds, FLOPs,
 * tokens/s, MFU against --peak-gflops (bench/run.sh passes the bench_matmul
 * peak of the precision), peak RSS, the first and the last step's loss. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_gpt_arch.h"
#include "bench_util.h"
#include "nemoc/optim.h"
#include "nemoc/rng.h"
#include "nemoc/trainer.h"

typedef struct opts {
    const char *arch, *prec, *save;
    int64_t layers, batch, seq;
    int steps, warmup, profile;
    double dropout, peak;
} opts;

static opts parse(int argc, char **argv) {
    opts o = {.arch = "gpt2", .prec = "32", .batch = 4, .seq = 256, .steps = 3, .warmup = 1, .dropout = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--profile")) { o.profile = 1; continue; }
        if (!v) { fprintf(stderr, "%s needs a value\n", a); exit(2); }
        if (!strcmp(a, "--arch")) o.arch = v;
        else if (!strcmp(a, "--prec")) o.prec = v;
        else if (!strcmp(a, "--save")) o.save = v;
        else if (!strcmp(a, "--layers")) o.layers = atoll(v);
        else if (!strcmp(a, "--batch")) o.batch = atoll(v);
        else if (!strcmp(a, "--seq")) o.seq = atoll(v);
        else if (!strcmp(a, "--steps")) o.steps = atoi(v);
        else if (!strcmp(a, "--warmup")) o.warmup = atoi(v);
        else if (!strcmp(a, "--dropout")) o.dropout = atof(v);
        else if (!strcmp(a, "--peak-gflops")) o.peak = atof(v);
        else { fprintf(stderr, "unknown option %s\n", a); exit(2); }
        i++;
    }
    if (strcmp(o.prec, "32") && strcmp(o.prec, "bf16")) { fprintf(stderr, "--prec: 32 or bf16\n"); exit(2); }
    if (o.batch < 1 || o.seq < 2 || o.steps < 0 || o.warmup < 0) { fprintf(stderr, "bad sizes\n"); exit(2); }
    return o;
}

/* Forward FLOPs of one training batch: per token and layer the projections
 * 2 H (heads + 2 groups) kv (qkv) + 2 H^2 (proj) + the MLP (gelu: 4 H ffn;
 * swiglu: 6 H ffn), the attention products 4 T H (q k^T and p v over the
 * full T x T, as the unfused kernels compute them; the causal half would be
 * 2 T H), and the head 2 Vp H. Training counts 3x forward. */
static double forward_flops(const bench_arch *a, int64_t L, int64_t B, int64_t T) {
    const double H = (double)a->hidden, kv = H / (double)a->heads, Vp = (double)((a->vocab + 127) / 128 * 128);
    const double qkv = 2.0 * H * (double)(a->heads + 2 * a->groups) * kv, proj = 2.0 * H * H;
    const double mlp = (strstr(a->act, "swiglu") ? 6.0 : 4.0) * H * (double)a->ffn;
    const double attn = 4.0 * (double)T * H;
    return (double)(B * T) * ((double)L * (qkv + proj + mlp + attn) + 2.0 * Vp * H);
}

int main(int argc, char **argv) {
    opts o = parse(argc, argv);
    const bench_arch *a = bench_arch_find(o.arch);
    if (!a) { fprintf(stderr, "--arch: gpt2 or llama\n"); return 2; }
    const int64_t B = o.batch, T = o.seq, L = o.layers > 0 ? o.layers : a->layers;
    nc_model *m = NULL;
    if (bench_arch_build(a, L, T, o.dropout, &m)) {
        fprintf(stderr, "model: %s\n", nc_last_error());
        return 1;
    }
    nc_rng rng;
    nc_rng_seed(&rng, 99);
    int64_t *stream = nc_malloc((size_t)(B * T + 1) * sizeof(int64_t));
    int64_t *x = nc_malloc((size_t)(B * T) * sizeof(int64_t)), *y = nc_malloc((size_t)(B * T) * sizeof(int64_t));
    if (!stream || !x || !y) { fprintf(stderr, "out of memory\n"); return 1; }
    nc_rng_randint(&rng, stream, B * T + 1, 0, a->vocab);
    for (int64_t i = 0; i < B * T; i++) x[i] = stream[i], y[i] = stream[i + 1];

    if (o.save) {
        nc_status s = bench_save_weights(m, o.save);
        if (!s) s = bench_save_ids(o.save, "x.npy", x, B, T);
        if (!s) s = bench_save_ids(o.save, "y.npy", y, B, T);
        if (!s) s = bench_save_ids(o.save, "stream.npy", stream, B * T + 1, 0);
        if (s) { fprintf(stderr, "save: %s\n", nc_last_error()); return 1; }
    }

    nc_trainer_params tp = {.precision = !strcmp(o.prec, "bf16") ? NC_PREC_BF16 : NC_PREC_F32, .seed = 1};
    tp.optim = nc_optim_default_params(NC_OPTIM_ADAMW);
    tp.optim.lr = 1e-4;
    nc_stepper *st = NULL;
    if (nc_stepper_create(&tp, m, &st)) { fprintf(stderr, "setup: %s\n", nc_last_error()); return 1; }
    nc_ctx *ctx = nc_stepper_ctx(st);
    if (o.profile) nc_ctx_set_profile(ctx, true);
    const int n = o.warmup + o.steps;
    double *t = nc_malloc((size_t)(n + 1) * sizeof(double)), *cpu = nc_malloc((size_t)(n + 1) * sizeof(double));
    double loss_v = 0, loss0 = 0;
    nc_gpt_batch batch = {.B = B, .T = T, .tokens = x, .labels = y, .n_loss = B * T};
    for (int it = 0; it < n; it++) {
        if (it == o.warmup && o.profile) nc_ctx_profile_clear(ctx);
        double t0 = bench_now(), c0 = bench_cpu_s();
        if (nc_stepper_step(st, &batch, &loss_v)) { fprintf(stderr, "step: %s\n", nc_last_error()); return 1; }
        t[it] = bench_now() - t0;
        cpu[it] = bench_cpu_s() - c0;
        if (it == 0) loss0 = loss_v;
        if (getenv("NC_BENCH_VERBOSE")) fprintf(stderr, "step %d %.3f s loss %.6f\n", it, t[it], loss_v);
    }
    const double med = bench_median(t + o.warmup, o.steps), cmed = bench_median(cpu + o.warmup, o.steps);
    const double fl = 3.0 * forward_flops(a, L, B, T), gfs = med > 0 ? fl * 1e-9 / med : 0;
    printf("result side=nemoc case=%s_train prec=%s median_s=%.4f cpu_s=%.3f gflop=%.1f gflops=%.1f tok_s=%.0f "
           "mfu=%.3f rss_mb=%.0f loss0=%.6f loss=%.6f\n",
           a->name, o.prec, med, cmed, fl * 1e-9, gfs, med > 0 ? (double)(B * T) / med : 0,
           o.peak > 0 ? gfs / o.peak : 0, bench_max_rss_mb(), loss0, loss_v);
    if (o.profile && o.steps) bench_print_profile(ctx, o.steps);
    nc_stepper_free(st);
    nc_model_free(m);
    nc_free(stream), nc_free(x), nc_free(y), nc_free(t), nc_free(cpu);
    return 0;
}
