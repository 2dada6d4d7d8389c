/* `nemoc demo`: trains a small pre-LN Transformer on a built-in synthetic
 * task (reverse a random token sequence) and prints the loss curve. It
 * exercises the whole core: embeddings, attention, autograd, AdamW with a
 * warmup + cosine schedule, and gradient clipping. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "nemoc/alloc.h"
#include "nemoc/model.h"
#include "nemoc/nn.h"
#include "nemoc/trainer.h"

enum { VOCAB = 16, SEQ = 12, D_MODEL = 64, HEADS = 4, LAYERS = 2, BATCH = 32 };

/* The demo's model, as a model class of its own (registered by the demo,
 * trained by the trainer's stepper): impl holds the modules. */
typedef struct demo_model {
    nc_embedding_m tok, pos;
    nc_tfm_encoder_m enc;
    nc_linear_m head;
} demo_model;

typedef struct demo_batch {
    int64_t ids[BATCH * SEQ], target[BATCH * SEQ], positions[BATCH * SEQ];
} demo_batch;

static int fail(const char *what) {
    fprintf(stderr, "nemoc demo: %s: %s\n", what, nc_last_error());
    return 1;
}

/* Logits (B * SEQ, VOCAB) for a batch. */
static nc_tensor *forward(nc_ctx *ctx, const nc_model *m, const demo_batch *b) {
    demo_model *d = m->impl;
    nc_tensor *ids = nc_from_data(ctx, NC_I64, NC_DIMS(BATCH, SEQ), b->ids);
    nc_tensor *pos = nc_from_data(ctx, NC_I64, NC_DIMS(BATCH, SEQ), b->positions);
    nc_tensor *x = nc_add(ctx, nc_embedding_fwd(ctx, &d->tok, ids), nc_embedding_fwd(ctx, &d->pos, pos));
    nc_tensor *y = nc_linear_fwd(ctx, &d->head, nc_tfm_encoder_fwd(ctx, &d->enc, x, NULL));
    return nc_reshape(ctx, y, NC_DIMS(BATCH * SEQ, VOCAB));
}

static nc_status demo_train(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss) {
    const demo_batch *b = batch;
    nc_tensor *tg = nc_from_data(ctx, NC_I64, NC_DIMS(BATCH * SEQ), b->target);
    *loss = nc_cross_entropy(ctx, forward(ctx, m, b), tg, -100, 0.0f, NC_REDUCE_MEAN);
    return nc_ctx_status(ctx);
}

/* sums: correct tokens, tokens (metric "acc"). */
static nc_status demo_val(nc_model *m, nc_ctx *ctx, const void *batch, double *sums) {
    const demo_batch *b = batch;
    bool g = nc_set_grad_enabled(ctx, false);
    nc_tensor *pred = nc_argmax(ctx, forward(ctx, m, b), -1, false);
    nc_set_grad_enabled(ctx, g);
    if (!pred) return nc_ctx_status(ctx);
    for (int i = 0; i < BATCH * SEQ; i++) sums[0] += nc_i64(pred)[i] == b->target[i];
    sums[1] += BATCH * SEQ;
    nc_ctx_reset(ctx);
    return NC_OK;
}

static nc_status demo_build(nc_model *m, const nc_model_build_args *a) {
    demo_model *d = nc_calloc(1, sizeof *d);
    if (!d) return nc_error(NC_ERR_OOM, "demo model");
    m->impl = d;
    nc_status s;
    if ((s = nc_params_create(&m->params)) || (s = nc_embedding_init(&d->tok, m->params, "tok_emb", VOCAB, D_MODEL, -1)) ||
        (s = nc_embedding_init(&d->pos, m->params, "pos_emb", SEQ, D_MODEL, -1)) ||
        (s = nc_tfm_encoder_init(&d->enc, m->params, "encoder", LAYERS, D_MODEL, HEADS, 4 * D_MODEL, 0.0f)) ||
        (s = nc_linear_init(&d->head, m->params, "head", D_MODEL, VOCAB, true)) || (s = nc_params_finalize(m->params)))
        return s;
    nc_rng r;
    nc_rng_seed(&r, a->seed);
    return nc_params_initialize(m->params, &r);
}

static void demo_destroy(nc_model *m) {
    demo_model *d = m->impl;
    if (d) nc_tfm_encoder_free(&d->enc);
    nc_free(d);
    m->impl = NULL;
}

static const nc_metric_def demo_metrics[] = {{.name = "acc", .num = 0, .den = 1, .percent = true}};

static const nc_model_class demo_class = {
    .target = "nemoc.demo.ReverseTransformer",
    .collection = "demo",
    .description = "the demo's sequence-reversal Transformer",
    .build = demo_build,
    .destroy = demo_destroy,
    .training_step = demo_train,
    .validation_step = demo_val,
    .metrics = demo_metrics,
    .n_metrics = 1,
    .n_sums = 2,
    .throughput_unit = "tok",
};

static void make_batch(nc_rng *r, demo_batch *b) {
    for (int i = 0; i < BATCH; i++) {
        int64_t *ids = b->ids + i * SEQ, *tg = b->target + i * SEQ;
        for (int t = 0; t < SEQ; t++) ids[t] = 1 + (int64_t)(nc_rng_u32(r) % (VOCAB - 1));
        for (int t = 0; t < SEQ; t++) tg[t] = ids[SEQ - 1 - t];
        for (int t = 0; t < SEQ; t++) b->positions[i * SEQ + t] = t;
    }
}

int nc_cmd_demo(int argc, char **argv) {
    int steps = 400;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: nemoc demo [steps=N]\n\nTrains a %d-layer Transformer (d=%d) to reverse "
                   "random sequences of %d tokens and prints the loss curve.\n",
                   LAYERS, D_MODEL, SEQ);
            return 0;
        }
        if (sscanf(argv[i], "steps=%d", &steps) != 1 || steps <= 0) {
            fprintf(stderr, "nemoc demo: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    const nc_model_class *cls[] = {&demo_class};
    nc_cfg *cfg = NULL;
    nc_model *m = NULL;
    const char *yaml = "target: nemoc.demo.ReverseTransformer\n";
    if (nc_model_register(cls, 1) || nc_cfg_parse(yaml, strlen(yaml), "demo", &cfg) ||
        nc_model_create(cfg, NULL, &(nc_model_build_args){.seed = 1234}, &m))
        return fail("building the model");
    nc_cfg_free(cfg);
    /* AdamW with a warmup + cosine schedule and clipping, as trainer: and
     * model.optim: keys would give them. */
    nc_trainer_params tp = {.max_steps = steps, .gradient_clip_val = 1.0, .seed = 42, .has_sched = true};
    tp.optim = nc_optim_default_params(NC_OPTIM_ADAMW);
    tp.optim.lr = 3e-3;
    tp.optim.betas[1] = 0.98;
    tp.optim.weight_decay = 1e-3;
    tp.sched = nc_sched_default_params();
    tp.sched.name = "CosineAnnealing";
    tp.sched.lr = tp.optim.lr;
    tp.sched.max_steps = steps;
    tp.sched.warmup_steps = steps / 10;
    tp.sched.min_lr = 1e-5;
    nc_stepper *st = NULL;
    if (nc_stepper_create(&tp, m, &st)) return fail("setting up training");

    printf("nemoc demo: reverse %d-token sequences; %d-layer Transformer, d=%d, %lld parameters\n",
           SEQ, LAYERS, D_MODEL, (long long)nc_params_num_trainable(m->params));
    nc_rng data_rng;
    nc_rng_seed(&data_rng, 42);
    demo_batch b;
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    double acc = 0;
    for (int step = 0; step < steps; step++) {
        make_batch(&data_rng, &b);
        double loss = 0;
        if (nc_stepper_step(st, &b, &loss)) return fail("training step");
        if (step % 25 == 0 || step == steps - 1) {
            /* accuracy on a fresh batch the model has not trained on */
            double sums[2] = {0, 0};
            make_batch(&data_rng, &b);
            if (demo_class.validation_step(m, nc_stepper_ctx(st), &b, sums)) return fail("validation");
            acc = nc_metric_value(&demo_metrics[0], sums);
            int bar = (int)(loss * 12);
            if (bar > 40) bar = 40;
            printf("step %4d  lr %.2e  loss %.4f  token acc %5.1f%%  |%.*s\n", step,
                   nc_optim_get_lr(nc_stepper_optim(st)), loss, 100 * acc, bar,
                   "########################################");
        }
    }
    printf("trained %d steps in %.1f s CPU time; final token accuracy %.1f%%\n", steps,
           (double)clock() / CLOCKS_PER_SEC - t0, 100 * acc);
    nc_stepper_free(st);
    nc_model_free(m);
    return acc > 0.9 ? 0 : 1;
}
