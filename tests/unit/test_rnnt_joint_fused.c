/* The fused joint + loss (nc_rnnt_joint_loss) against the same computation
 * as separate ops (broadcast add, activation, dropout, linear, then
 * nc_rnnt_loss / nc_tdt_loss / nc_multiblank_rnnt_loss), which
 * test_rnnt_ref and test_rnnt_modules check against torchaudio and NeMo.
 * For RNN-T, TDT and multi-blank lattices, each activation, several
 * reductions, FastEmit and clamping, ragged lengths and fused_batch_size 1,
 * 2, 3 and B: the loss within 1e-5 relative and the gradients of f, g, W
 * and bias within 1e-5 of each tensor's largest value. Dropout: with one
 * sub-batch covering the longest lengths, the fused op draws torch's mask
 * in the same order as nc_dropout does on the whole joint, so the results
 * match too. Also: evaluation mode records nothing, and bad arguments are
 * named. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/ctx.h"
#include "nemoc/ops.h"
#include "nemoc/rnnt.h"

enum { B = 5, T = 7, U = 4, J = 12, V = 9 };

typedef struct inputs {
    float f[B * T * J], g[B * (U + 1) * J];
    float *w, *bias; /* (C, J), (C) */
    int64_t tg[B * U], il[B], tl[B];
    int64_t C;
} inputs;

typedef struct result {
    double loss;
    float *df, *dg, *dw, *db;
} result;

static uint64_t rng_state = 88172645463325252ull;
static float frand(void) {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (float)((rng_state >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void make_inputs(inputs *in, int64_t C, bool full) {
    in->C = C;
    for (int i = 0; i < B * T * J; i++) in->f[i] = frand();
    for (int i = 0; i < B * (U + 1) * J; i++) in->g[i] = frand();
    in->w = malloc((size_t)(C * J) * sizeof(float));
    in->bias = malloc((size_t)C * sizeof(float));
    for (int64_t i = 0; i < C * J; i++) in->w[i] = 0.6f * frand();
    for (int64_t i = 0; i < C; i++) in->bias[i] = 0.2f * frand();
    /* labels 0..V-1: the blank is V (RNN-T, TDT); multi-blank puts its big
     * blanks at V, V + 1 and the blank at V + 2 */
    const int64_t labels = V;
    for (int i = 0; i < B * U; i++) in->tg[i] = (int64_t)((frand() + 1.0f) * 0.5f * (float)labels) % labels;
    static const int64_t il[B] = {7, 3, 5, 1, 6}, tl[B] = {4, 0, 2, 1, 3};
    for (int b = 0; b < B; b++) {
        in->il[b] = full ? T : il[b];
        in->tl[b] = full ? U : tl[b];
    }
}

static void free_inputs(inputs *in) {
    free(in->w);
    free(in->bias);
}

static void result_free(result *r) {
    free(r->df), free(r->dg), free(r->dw), free(r->db);
    memset(r, 0, sizeof *r);
}

static float *copy_grad(const nc_tensor *t) {
    const int64_t n = nc_numel(t);
    float *o = calloc((size_t)n, sizeof(float));
    if (t->grad) memcpy(o, t->grad->data, (size_t)n * sizeof(float));
    return o;
}

/* fused_batch_size 0: the separate ops. */
static bool run(nc_ctx *ctx, const inputs *in, const nc_rnnt_joint_loss_params *p, int64_t fbs,
                bool training, result *r) {
    nc_ctx_reset(ctx);
    nc_set_training(ctx, training);
    nc_rng_seed(nc_ctx_rng(ctx), 1234);
    nc_tensor *f = nc_from_data(ctx, NC_F32, NC_DIMS(B, T, J), in->f);
    nc_tensor *g = nc_from_data(ctx, NC_F32, NC_DIMS(B, U + 1, J), in->g);
    nc_tensor *w = nc_from_data(ctx, NC_F32, NC_DIMS(in->C, J), in->w);
    nc_tensor *bias = nc_from_data(ctx, NC_F32, NC_DIMS(in->C), in->bias);
    nc_tensor *tg = nc_from_data(ctx, NC_I64, NC_DIMS(B, U), in->tg);
    nc_tensor *il = nc_from_data(ctx, NC_I64, NC_DIMS(B), in->il);
    nc_tensor *tl = nc_from_data(ctx, NC_I64, NC_DIMS(B), in->tl);
    nc_tensor *leaves[] = {f, g, w, bias};
    for (int i = 0; i < 4; i++) nc_requires_grad(leaves[i], true);
    nc_tensor *loss;
    if (fbs > 0) {
        nc_rnnt_joint_loss_params q = *p;
        q.fused_batch_size = fbs;
        loss = nc_rnnt_joint_loss(ctx, f, g, w, bias, tg, il, tl, &q);
    } else {
        nc_tensor *x = nc_add(ctx, nc_reshape(ctx, f, NC_DIMS(B, T, 1, J)), nc_reshape(ctx, g, NC_DIMS(B, 1, U + 1, J)));
        x = p->activation == NC_RNNT_ACT_RELU   ? nc_relu(ctx, x)
            : p->activation == NC_RNNT_ACT_TANH ? nc_tanh(ctx, x)
                                                : nc_sigmoid(ctx, x);
        if (p->dropout > 0) x = nc_dropout(ctx, x, p->dropout);
        nc_tensor *logits = nc_linear(ctx, x, w, bias);
        loss = p->kind == NC_TRANSDUCER_TDT          ? nc_tdt_loss(ctx, logits, tg, il, tl, &p->loss)
               : p->kind == NC_TRANSDUCER_MULTIBLANK ? nc_multiblank_rnnt_loss(ctx, logits, tg, il, tl, &p->loss)
                                                     : nc_rnnt_loss(ctx, logits, tg, il, tl, &p->loss);
    }
    if (!loss || nc_backward(ctx, loss) != NC_OK) {
        nc_test_fail(__FILE__, __LINE__, "run (fbs %lld): %s", (long long)fbs, nc_last_error());
        return false;
    }
    r->loss = ((float *)loss->data)[0];
    r->df = copy_grad(f), r->dg = copy_grad(g), r->dw = copy_grad(w), r->db = copy_grad(bias);
    return true;
}

static void compare(const char *what, const inputs *in, const result *a, const result *b) {
    nc_test_checks++;
    if (!(fabs(a->loss - b->loss) <= 1e-5 * fabs(b->loss) + 1e-6))
        nc_test_fail(__FILE__, __LINE__, "%s: loss %.9g, want %.9g", what, a->loss, b->loss);
    const struct {
        const char *n;
        const float *x, *y;
        int64_t len;
    } gs[] = {{"df", a->df, b->df, B * T * J},
              {"dg", a->dg, b->dg, B * (U + 1) * J},
              {"dW", a->dw, b->dw, in->C * J},
              {"dbias", a->db, b->db, in->C}};
    for (int i = 0; i < 4; i++) {
        nc_test_checks++;
        double e = nc_test_rel_err(gs[i].x, gs[i].y, gs[i].len);
        if (!(e <= 1e-5)) nc_test_fail(__FILE__, __LINE__, "%s: %s rel err %.3g", what, gs[i].n, e);
    }
}

static const int64_t durations[] = {0, 1, 2, 3};
static const int64_t big_blanks[] = {2, 3};

static nc_rnnt_joint_loss_params params_for(nc_transducer_kind k, int64_t *C, int64_t *nb) {
    nc_rnnt_joint_loss_params p = {.kind = k, .loss = nc_rnnt_default_params(), .fused_batch_size = 1};
    *C = V + 1, *nb = 0;
    if (k == NC_TRANSDUCER_TDT) {
        p.loss.durations = durations, p.loss.n_durations = 4, p.loss.sigma = 0.05;
        *C = V + 1 + 4;
    } else if (k == NC_TRANSDUCER_MULTIBLANK) {
        p.loss.big_blank_durations = big_blanks, p.loss.n_big_blanks = 2, p.loss.sigma = 0.05;
        *C = V + 1 + 2, *nb = 2;
    }
    return p;
}

static void case_equal(nc_ctx *ctx, nc_transducer_kind k, nc_rnnt_activation act, nc_loss_reduction red,
                       double lambda, double clamp) {
    int64_t C, nb;
    nc_rnnt_joint_loss_params p = params_for(k, &C, &nb);
    p.activation = act, p.loss.reduction = red, p.loss.fastemit_lambda = lambda, p.loss.clamp = clamp;
    inputs in;
    make_inputs(&in, C, false);
    result want = {0};
    if (run(ctx, &in, &p, 0, true, &want)) {
        static const int64_t fbs[] = {1, 2, 3, B};
        for (int i = 0; i < 4; i++) {
            result got = {0};
            char what[128];
            snprintf(what, sizeof what, "kind %d act %d red %d lambda %g clamp %g fbs %lld", (int)k, (int)act,
                     (int)red, lambda, clamp, (long long)fbs[i]);
            if (run(ctx, &in, &p, fbs[i], true, &got)) compare(what, &in, &got, &want);
            result_free(&got);
        }
    }
    result_free(&want);
    free_inputs(&in);
}

/* With one sub-batch spanning the full (T, U + 1), the fused op draws the
 * dropout mask over the same elements in the same order as nc_dropout. */
static void case_dropout(nc_ctx *ctx) {
    int64_t C, nb;
    nc_rnnt_joint_loss_params p = params_for(NC_TRANSDUCER_TDT, &C, &nb);
    p.dropout = 0.3f;
    inputs in;
    make_inputs(&in, C, true);
    result want = {0}, got = {0}, eval = {0};
    if (run(ctx, &in, &p, 0, true, &want) && run(ctx, &in, &p, B, true, &got)) compare("dropout", &in, &got, &want);
    /* evaluation mode: no dropout, and no tape without grad mode */
    if (run(ctx, &in, &p, 2, false, &eval)) CHECK(fabs(eval.loss - want.loss) > 1e-3);
    nc_ctx_reset(ctx);
    bool prev = nc_set_grad_enabled(ctx, false);
    nc_tensor *f = nc_from_data(ctx, NC_F32, NC_DIMS(B, T, J), in.f);
    nc_tensor *g = nc_from_data(ctx, NC_F32, NC_DIMS(B, U + 1, J), in.g);
    nc_tensor *w = nc_from_data(ctx, NC_F32, NC_DIMS(C, J), in.w);
    nc_tensor *bias = nc_from_data(ctx, NC_F32, NC_DIMS(C), in.bias);
    nc_requires_grad(w, true);
    nc_tensor *loss = nc_rnnt_joint_loss(ctx, f, g, w, bias, nc_from_data(ctx, NC_I64, NC_DIMS(B, U), in.tg),
                                         nc_from_data(ctx, NC_I64, NC_DIMS(B), in.il),
                                         nc_from_data(ctx, NC_I64, NC_DIMS(B), in.tl), &p);
    CHECK(loss != NULL);
    CHECK(nc_tape_size(ctx) == 0);
    if (loss) CHECK_NEAR(((float *)loss->data)[0], eval.loss, 1e-5 * fabs(eval.loss));
    nc_set_grad_enabled(ctx, prev);
    result_free(&want), result_free(&got), result_free(&eval);
    free_inputs(&in);
}

static void case_errors(nc_ctx *ctx) {
    int64_t C, nb;
    nc_rnnt_joint_loss_params p = params_for(NC_TRANSDUCER_RNNT, &C, &nb);
    inputs in;
    make_inputs(&in, C, false);
    nc_ctx_reset(ctx);
    nc_tensor *f = nc_from_data(ctx, NC_F32, NC_DIMS(B, T, J), in.f);
    nc_tensor *g = nc_from_data(ctx, NC_F32, NC_DIMS(B, U + 1, J), in.g);
    nc_tensor *w = nc_from_data(ctx, NC_F32, NC_DIMS(C, J), in.w);
    nc_tensor *bias = nc_from_data(ctx, NC_F32, NC_DIMS(C), in.bias);
    nc_tensor *tg = nc_from_data(ctx, NC_I64, NC_DIMS(B, U), in.tg);
    nc_tensor *il = nc_from_data(ctx, NC_I64, NC_DIMS(B), in.il);
    nc_tensor *tl = nc_from_data(ctx, NC_I64, NC_DIMS(B), in.tl);
    p.fused_batch_size = 0;
    CHECK(nc_rnnt_joint_loss(ctx, f, g, w, bias, tg, il, tl, &p) == NULL);
    CHECK(strstr(nc_last_error(), "fused_batch_size") != NULL);
    nc_ctx_clear_status(ctx);
    p.fused_batch_size = 2;
    ((int64_t *)tg->data)[0] = V; /* the blank as a label */
    CHECK(nc_rnnt_joint_loss(ctx, f, g, w, bias, tg, il, tl, &p) == NULL);
    CHECK(strstr(nc_last_error(), "blank") != NULL);
    nc_ctx_clear_status(ctx);
    nc_tensor *g_bad = nc_from_data(ctx, NC_F32, NC_DIMS(B, U, J), in.g);
    ((int64_t *)tg->data)[0] = 0;
    CHECK(nc_rnnt_joint_loss(ctx, f, g_bad, w, bias, tg, il, tl, &p) == NULL);
    CHECK(nc_ctx_status(ctx) == NC_ERR_SHAPE);
    nc_ctx_clear_status(ctx);
    free_inputs(&in);
}

int main(void) {
    nc_ctx *ctx = NULL;
    nc_ctx_params cp = nc_ctx_default_params();
    CHECK_OK(nc_ctx_create(&cp, &ctx));
    if (!ctx) return nc_test_finish("rnnt_joint_fused");
    case_equal(ctx, NC_TRANSDUCER_RNNT, NC_RNNT_ACT_RELU, NC_LOSS_MEAN_BATCH, 0, -1);
    case_equal(ctx, NC_TRANSDUCER_RNNT, NC_RNNT_ACT_TANH, NC_LOSS_MEAN_VOLUME, 0.01, -1);
    case_equal(ctx, NC_TRANSDUCER_RNNT, NC_RNNT_ACT_SIGMOID, NC_LOSS_SUM, 0, 0.05);
    case_equal(ctx, NC_TRANSDUCER_TDT, NC_RNNT_ACT_RELU, NC_LOSS_MEAN_BATCH, 0, -1);
    case_equal(ctx, NC_TRANSDUCER_TDT, NC_RNNT_ACT_TANH, NC_LOSS_SUM, 0, -1); /* mean would divide by the empty target */
    case_equal(ctx, NC_TRANSDUCER_MULTIBLANK, NC_RNNT_ACT_RELU, NC_LOSS_MEAN_BATCH, 0, -1);
    case_dropout(ctx);
    case_errors(ctx);
    nc_ctx_free(ctx);
    return nc_test_finish("rnnt_joint_fused");
}
