/* `nemoc demo`: trains a small pre-LN Transformer on a built-in synthetic
 * task (reverse a random token sequence) and prints the loss curve. It
 * exercises the whole core: embeddings, attention, autograd, AdamW with a
 * warmup + cosine schedule, and gradient clipping. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "nemoc/nn.h"
#include "nemoc/optim.h"
#include "nemoc/sched.h"

enum { VOCAB = 16, SEQ = 12, D_MODEL = 64, HEADS = 4, LAYERS = 2, BATCH = 32 };

typedef struct demo_model {
    nc_params *p;
    nc_embedding_m tok, pos;
    nc_tfm_encoder_m enc;
    nc_linear_m head;
} demo_model;

static int fail(const char *what) {
    fprintf(stderr, "nemoc demo: %s: %s\n", what, nc_last_error());
    return 1;
}

/* Logits (B, SEQ, VOCAB) for token ids (B, SEQ). */
static nc_tensor *forward(nc_ctx *ctx, demo_model *m, nc_tensor *ids, nc_tensor *positions) {
    nc_tensor *x = nc_add(ctx, nc_embedding_fwd(ctx, &m->tok, ids), nc_embedding_fwd(ctx, &m->pos, positions));
    return nc_linear_fwd(ctx, &m->head, nc_tfm_encoder_fwd(ctx, &m->enc, x, NULL));
}

static void make_batch(nc_rng *r, int64_t *ids, int64_t *target) {
    for (int b = 0; b < BATCH; b++) {
        for (int t = 0; t < SEQ; t++) ids[b * SEQ + t] = 1 + (int64_t)(nc_rng_u32(r) % (VOCAB - 1));
        for (int t = 0; t < SEQ; t++) target[b * SEQ + t] = ids[b * SEQ + SEQ - 1 - t];
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
    demo_model m = {0};
    if (nc_params_create(&m.p) || nc_embedding_init(&m.tok, m.p, "tok_emb", VOCAB, D_MODEL, -1) ||
        nc_embedding_init(&m.pos, m.p, "pos_emb", SEQ, D_MODEL, -1) ||
        nc_tfm_encoder_init(&m.enc, m.p, "encoder", LAYERS, D_MODEL, HEADS, 4 * D_MODEL, 0.0f) ||
        nc_linear_init(&m.head, m.p, "head", D_MODEL, VOCAB, true) || nc_params_finalize(m.p))
        return fail("building the model");
    nc_rng init_rng;
    nc_rng_seed(&init_rng, 1234);
    nc_params_initialize(m.p, &init_rng);

    nc_optim_params op = nc_optim_default_params(NC_OPTIM_ADAMW);
    op.lr = 3e-3;
    op.betas[1] = 0.98;
    op.weight_decay = 1e-3;
    nc_sched_params sp = nc_sched_default_params();
    sp.name = "CosineAnnealing";
    sp.lr = op.lr;
    sp.max_steps = steps;
    sp.warmup_steps = steps / 10;
    sp.min_lr = 1e-5;
    nc_optim *opt;
    nc_sched *sched;
    nc_ctx *ctx;
    if (nc_optim_create(m.p, &op, &opt) || nc_sched_create(&sp, &sched) || nc_ctx_create(NULL, &ctx))
        return fail("setting up training");

    printf("nemoc demo: reverse %d-token sequences; %d-layer Transformer, d=%d, %lld parameters\n",
           SEQ, LAYERS, D_MODEL, (long long)nc_params_num_trainable(m.p));
    nc_rng data_rng;
    nc_rng_seed(&data_rng, 42);
    int64_t ids[BATCH * SEQ], target[BATCH * SEQ], positions[BATCH * SEQ];
    for (int i = 0; i < BATCH * SEQ; i++) positions[i] = i % SEQ;
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    double acc = 0;
    for (int step = 0; step < steps; step++) {
        make_batch(&data_rng, ids, target);
        nc_params_zero_grad(m.p);
        nc_tensor *idt = nc_from_data(ctx, NC_I64, NC_DIMS(BATCH, SEQ), ids);
        nc_tensor *pos = nc_from_data(ctx, NC_I64, NC_DIMS(BATCH, SEQ), positions);
        nc_tensor *tg = nc_from_data(ctx, NC_I64, NC_DIMS(BATCH * SEQ), target);
        nc_tensor *logits = nc_reshape(ctx, forward(ctx, &m, idt, pos), NC_DIMS(BATCH * SEQ, VOCAB));
        nc_tensor *loss = nc_cross_entropy(ctx, logits, tg, -100, 0.0f, NC_REDUCE_MEAN);
        if (!loss || nc_backward(ctx, loss)) return fail("training step");
        double gnorm;
        nc_clip_grad_norm(m.p, 1.0, &gnorm);
        nc_optim_set_lr(opt, nc_sched_lr(sched, step));
        if (nc_optim_step(opt)) return fail("optimizer step");
        if (step % 25 == 0 || step == steps - 1) {
            nc_set_grad_enabled(ctx, false);
            nc_tensor *pred = nc_argmax(ctx, logits, -1, false);
            int64_t ok = 0;
            for (int i = 0; i < BATCH * SEQ; i++) ok += nc_i64(pred)[i] == target[i];
            nc_set_grad_enabled(ctx, true);
            acc = (double)ok / (BATCH * SEQ);
            float l = nc_f32(loss)[0];
            int bar = (int)(l * 12);
            if (bar > 40) bar = 40;
            printf("step %4d  lr %.2e  loss %.4f  token acc %5.1f%%  |%.*s\n", step,
                   nc_optim_get_lr(opt), l, 100 * acc, bar,
                   "########################################");
        }
        nc_ctx_reset(ctx);
    }
    printf("trained %d steps in %.1f s CPU time; final token accuracy %.1f%%\n", steps,
           (double)clock() / CLOCKS_PER_SEC - t0, 100 * acc);
    nc_ctx_free(ctx);
    nc_sched_free(sched);
    nc_optim_free(opt);
    nc_tfm_encoder_free(&m.enc);
    nc_params_free(m.p);
    return acc > 0.9 ? 0 : 1;
}
