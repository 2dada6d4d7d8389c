/* GPT-2-small-shaped decoder training step, the nemoc side of
 * bench/torch/gpt.py: token + learned position embeddings, 12 pre-LN causal
 * transformer layers (nn.h's encoder stack with causal self-attention),
 * final LayerNorm, output head tied to the token embedding, mean
 * cross-entropy of the next token, backward, AdamW.
 *
 *   bench_gpt [--prec 32|bf16] [--layers 12] [--d 768] [--heads 12]
 *             [--batch 4] [--seq 256] [--vocab 50257] [--steps 3] [--warmup 1]
 *             [--save DIR] [--profile]
 *
 * Dropout 0.1 on the embeddings and both residual branches (GPT-2's
 * embd/resid_pdrop), attention-probability dropout 0 on both sides (the
 * fused attention has none; bench/README.md says so). Weights: N(0, 0.02)
 * embeddings, torch.nn defaults elsewhere; --save writes them and the batch
 * for the PyTorch twin. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_util.h"
#include "nemoc/alloc.h"
#include "nemoc/model.h"
#include "nemoc/nn.h"
#include "nemoc/trainer.h"
#include "nemoc/npy.h"
#include "nemoc/optim.h"
#include "nemoc/rng.h"
#include "nemoc/safetensors.h"

typedef struct opts {
    const char *prec, *save;
    int64_t layers, d, heads, batch, seq, vocab;
    int steps, warmup, profile;
} opts;

static opts parse(int argc, char **argv) {
    opts o = {.prec = "32", .save = NULL, .layers = 12, .d = 768, .heads = 12, .batch = 4,
              .seq = 256, .vocab = 50257, .steps = 3, .warmup = 1, .profile = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--profile")) { o.profile = 1; continue; }
        if (!v) break;
        if (!strcmp(a, "--prec")) o.prec = v;
        else if (!strcmp(a, "--save")) o.save = v;
        else if (!strcmp(a, "--layers")) o.layers = atoll(v);
        else if (!strcmp(a, "--d")) o.d = atoll(v);
        else if (!strcmp(a, "--heads")) o.heads = atoll(v);
        else if (!strcmp(a, "--batch")) o.batch = atoll(v);
        else if (!strcmp(a, "--seq")) o.seq = atoll(v);
        else if (!strcmp(a, "--vocab")) o.vocab = atoll(v);
        else if (!strcmp(a, "--steps")) o.steps = atoi(v);
        else if (!strcmp(a, "--warmup")) o.warmup = atoi(v);
        else { fprintf(stderr, "unknown option %s\n", a); exit(2); }
        i++;
    }
    return o;
}

/* The GPT-2 block stack as a model class (trained through the stepper, the
 * code nc_trainer_fit runs). The LLM collection will replace it with
 * MegatronGPTModel. */
typedef struct gpt {
    nc_embedding_m wte, wpe;
    nc_tfm_encoder_m enc;
    int64_t B, T, V, L, d, heads;
    float drop;
} gpt;

typedef struct gpt_batch {
    const int64_t *x, *y, *pos;
} gpt_batch;

static gpt g_cfg; /* sizes for the build hook */

static nc_status gpt_build(nc_model *m, const nc_model_build_args *a) {
    gpt *g = nc_calloc(1, sizeof *g);
    if (!g) return nc_error(NC_ERR_OOM, "gpt");
    *g = g_cfg;
    m->impl = g;
    const int64_t d = g_cfg.d;
    nc_rng rng;
    nc_rng_seed(&rng, a->seed);
    nc_status s;
    if ((s = nc_params_create(&m->params)) || (s = nc_embedding_init(&g->wte, m->params, "wte", g->V, d, -1)) ||
        (s = nc_embedding_init(&g->wpe, m->params, "wpe", g->T, d, -1)) ||
        (s = nc_tfm_encoder_init(&g->enc, m->params, "h", (int)g->L, d, g->heads, 4 * d, g->drop)) ||
        (s = nc_params_finalize(m->params)) || (s = nc_params_initialize(m->params, &rng)))
        return s;
    nc_tfm_encoder_set_attention(&g->enc, true, 0.0f);
    /* GPT-2's initializer_range 0.02 for the embeddings */
    nc_rng_normal(&rng, nc_f32(g->wte.weight), g->V * d, 0.0f, 0.02f);
    nc_rng_normal(&rng, nc_f32(g->wpe.weight), g->T * d, 0.0f, 0.02f);
    return NC_OK;
}

static void gpt_destroy(nc_model *m) {
    gpt *g = m->impl;
    if (g) nc_tfm_encoder_free(&g->enc);
    nc_free(g);
}

static nc_status gpt_train(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss) {
    gpt *g = m->impl;
    const gpt_batch *b = batch;
    nc_tensor *xi = nc_from_data(ctx, NC_I64, NC_DIMS(g->B, g->T), b->x);
    nc_tensor *pi = nc_from_data(ctx, NC_I64, NC_DIMS(g->T), b->pos);
    nc_tensor *yi = nc_from_data(ctx, NC_I64, NC_DIMS(g->B * g->T), b->y);
    nc_tensor *h = nc_add(ctx, nc_embedding_fwd(ctx, &g->wte, xi), nc_embedding_fwd(ctx, &g->wpe, pi));
    h = nc_dropout(ctx, h, g->drop);
    h = nc_tfm_encoder_fwd(ctx, &g->enc, h, NULL);
    nc_tensor *logits = nc_linear(ctx, h, g->wte.weight, NULL); /* tied head */
    *loss = nc_cross_entropy(ctx, nc_reshape(ctx, logits, NC_DIMS(g->B * g->T, g->V)), yi, -100, 0.0f,
                             NC_REDUCE_MEAN);
    return nc_ctx_status(ctx);
}

static nc_status gpt_val(nc_model *m, nc_ctx *ctx, const void *batch, double *sums) {
    (void)m, (void)ctx, (void)batch, (void)sums;
    return NC_OK;
}

static const nc_metric_def gpt_metrics[] = {{.name = "loss", .num = 0, .den = 1}};
static const nc_model_class gpt_class = {
    .target = "nemoc.bench.GPT2",
    .collection = "bench",
    .build = gpt_build,
    .destroy = gpt_destroy,
    .training_step = gpt_train,
    .validation_step = gpt_val,
    .metrics = gpt_metrics,
    .n_metrics = 1,
    .n_sums = 2,
    .throughput_unit = "tok",
};

int main(int argc, char **argv) {
    opts o = parse(argc, argv);
    const int64_t B = o.batch, T = o.seq, d = o.d, V = o.vocab, L = o.layers;
    g_cfg = (gpt){.B = B, .T = T, .V = V, .L = L, .d = d, .heads = o.heads, .drop = 0.1f};
    const nc_model_class *cls[] = {&gpt_class};
    nc_cfg *mcfg = NULL;
    nc_model *m = NULL;
    if (nc_model_register(cls, 1) || nc_cfg_parse("target: nemoc.bench.GPT2\n", 24, "gpt", &mcfg) ||
        nc_model_create(mcfg, NULL, &(nc_model_build_args){.seed = 1234}, &m)) {
        fprintf(stderr, "model: %s\n", nc_last_error());
        return 1;
    }
    nc_cfg_free(mcfg);
    nc_params *p = m->params;
    nc_rng rng;
    nc_rng_seed(&rng, 99);
    int64_t *tok = nc_malloc((size_t)(B * (T + 1)) * sizeof(int64_t));
    int64_t *x_ids = nc_malloc((size_t)(B * T) * sizeof(int64_t)), *y_ids = nc_malloc((size_t)(B * T) * sizeof(int64_t));
    int64_t *pos = nc_malloc((size_t)T * sizeof(int64_t));
    nc_rng_randint(&rng, tok, B * (T + 1), 0, V);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            x_ids[b * T + t] = tok[b * (T + 1) + t];
            y_ids[b * T + t] = tok[b * (T + 1) + t + 1];
        }
    for (int64_t t = 0; t < T; t++) pos[t] = t;

    if (o.save) {
        mkdir(o.save, 0755);
        char path[4096];
        int64_t n = nc_params_count(p);
        nc_st_entry *e = nc_calloc((size_t)n, sizeof *e);
        for (int64_t i = 0; i < n; i++)
            e[i] = (nc_st_entry){.name = nc_params_at(p, i)->name, .tensor = nc_params_at(p, i)};
        snprintf(path, sizeof path, "%s/weights.safetensors", o.save);
        nc_status s = nc_st_save(path, e, n, NULL);
        nc_free(e);
        nc_tensor tx, ty;
        nc_tensor_init(&tx, NC_I64, NC_DIMS(B, T), x_ids);
        nc_tensor_init(&ty, NC_I64, NC_DIMS(B, T), y_ids);
        snprintf(path, sizeof path, "%s/x.npy", o.save);
        if (!s) s = nc_npy_save(path, &tx);
        snprintf(path, sizeof path, "%s/y.npy", o.save);
        if (!s) s = nc_npy_save(path, &ty);
        if (s) {
            fprintf(stderr, "save: %s\n", nc_last_error());
            return 1;
        }
    }

    nc_trainer_params tp = {.precision = !strcmp(o.prec, "bf16") ? NC_PREC_BF16 : NC_PREC_F32, .seed = 1};
    tp.optim = nc_optim_default_params(NC_OPTIM_ADAMW);
    tp.optim.lr = 1e-4;
    nc_stepper *st = NULL;
    if (nc_stepper_create(&tp, m, &st)) {
        fprintf(stderr, "setup: %s\n", nc_last_error());
        return 1;
    }
    nc_ctx *ctx = nc_stepper_ctx(st);
    if (o.profile) nc_ctx_set_profile(ctx, true);
    int n = o.warmup + o.steps;
    double *t = nc_malloc((size_t)n * sizeof(double)), *cpu = nc_malloc((size_t)n * sizeof(double));
    double loss_v = 0;
    gpt_batch batch = {.x = x_ids, .y = y_ids, .pos = pos};
    for (int it = 0; it < n; it++) {
        if (it == o.warmup && o.profile) nc_ctx_profile_clear(ctx);
        double t0 = bench_now(), c0 = bench_cpu_s();
        if (nc_stepper_step(st, &batch, &loss_v)) {
            fprintf(stderr, "step: %s\n", nc_last_error());
            return 1;
        }
        t[it] = bench_now() - t0;
        cpu[it] = bench_cpu_s() - c0;
        if (getenv("NC_BENCH_VERBOSE")) fprintf(stderr, "step %d %.3f s loss %.4f\n", it, t[it], loss_v);
    }
    double med = bench_median(t + o.warmup, o.steps), cmed = bench_median(cpu + o.warmup, o.steps);
    /* forward FLOPs: per layer 4 d^2 (q, k, v, out) + 8 d^2 (MLP) per token and
     * 2 T d per token for q k^T and attn v (full T x T products, as torch
     * computes them), the tied head V d per token; x2 multiply-add, x3 train */
    double tok_n = (double)(B * T);
    double fwd = 2.0 * tok_n * ((double)L * (12.0 * (double)d * (double)d + 2.0 * (double)T * (double)d) +
                               (double)V * (double)d);
    double fl = 3.0 * fwd;
    printf("result side=nemoc case=gpt_train prec=%s median_s=%.4f cpu_s=%.3f gflop=%.1f gflops=%.1f "
           "rss_mb=%.0f loss=%.4f\n",
           o.prec, med, cmed, fl * 1e-9, fl * 1e-9 / med, bench_max_rss_mb(), loss_v);
    if (o.profile) bench_print_profile(ctx, o.steps);
    nc_stepper_free(st);
    nc_model_free(m);
    nc_free(tok), nc_free(x_ids), nc_free(y_ids), nc_free(pos), nc_free(t), nc_free(cpu);
    return 0;
}
