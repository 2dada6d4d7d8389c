/* Fused transducer joint + loss (include/nemoc/rnnt.h, nc_rnnt_joint_loss):
 * NeMo's RNNTJoint.forward with fuse_loss_wer (nemo/collections/asr/modules/
 * rnnt.py): sub-batches of fused_batch_size utterances, each narrowed to its
 * longest encoder output and transcript, joint -> loss per sub-batch, losses
 * reduced over the whole batch (RNNTLoss.reduce).
 *
 * NeMo keeps every sub-batch's autograd graph (its joint activations and
 * logits) until backward, so it saves compute on padding but little memory.
 * Here the loss gradient is known in the forward pass (the lattice
 * recursions give it directly), so each sub-batch is pushed back through
 * the joint at once into gradients the size of the op's inputs, and its
 * (Bs, T, U + 1, C) logits and (Bs, T, U + 1, J) activations are dropped
 * (arena rewind) before the next one. backward then only scales those
 * gradients by the incoming one (the loss is linear in it).
 *
 * Per sub-batch (rows = Bs * T * U1):
 *   h = act(f[b, t] + g[b, u])                 rnnt_joint_act
 *   hd = dropout(h)                            training only
 *   logits = hd W^T + bias                     gemm
 *   ll, dlogits (scaled by d reduced / d cost_b,
 *                over the logits)               rnnt_forward, rnnt_grad
 *   dW += dlogits^T hd, dbias += colsum        gemm, acc_col_sums
 *   dhd = dlogits W                            gemm
 *   df[b, t] += sum_u dz, dg[b, u] += sum_t dz rnnt_joint_act_grad */
#include <string.h>

#include "nemoc/arena.h"
#include "ops/ops_internal.h"
#include "ops/ops_rnnt_internal.h"

static const char *const op_name = "rnnt_joint_loss";

/* The input gradients for an incoming gradient of 1, in the arena. */
typedef struct joint_saved {
    float *df, *dg, *dw, *db;
} joint_saved;

static void add_scaled(nc_ctx *ctx, nc_tensor *t, const float *src, float s) {
    bool fresh = false;
    float *dx = nc_grad_buf_fresh(ctx, t, &fresh);
    if (!dx) return;
    const int64_t n = nc_numel(t);
    const nc_backend *be = nc_ctx_backend(ctx);
    if (fresh) {
        be->scale(nc_par(ctx, n), dx, src, s, n);
        return;
    }
    float *tmp = nc_scratch(ctx, (size_t)n * sizeof(float));
    if (!tmp) return;
    be->scale(nc_par(ctx, n), tmp, src, s, n);
    nc_acc(ctx, dx, tmp, n);
}

static void joint_backward(nc_ctx *ctx, nc_node *nd) {
    const joint_saved *s = nd->saved;
    const float g = nc_out_grad(nd)[0];
    add_scaled(ctx, nd->in[0], s->df, g);
    add_scaled(ctx, nd->in[1], s->dg, g);
    add_scaled(ctx, nd->in[2], s->dw, g);
    add_scaled(ctx, nd->in[3], s->db, g);
}

static nc_gemm_args gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                         int64_t lda, const float *Bm, int64_t ldb, float *C, float beta,
                         const float *bias) {
    return (nc_gemm_args){.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .alpha = 1.0f,
                          .beta = beta, .A = A, .lda = lda, .B = Bm, .ldb = ldb, .C = C,
                          .ldc = N, .batch = 1, .bias = bias};
}

/* The sub-batch [b0, b0 + Bs): joint, loss, and (when want_grad) the
 * gradients added into sv. Lengths in ll[b0..]. All scratch is rewound by
 * the caller. */
typedef struct fused_job {
    const nc_tensor *f, *g, *w, *bias;
    const int64_t *tg, *il, *tl;
    int64_t T, U1, J, C, Vt;
    const nc_rnnt_arc *arcs;
    int64_t n_arcs;
    nc_transducer_kind lattice;
    const nc_rnnt_joint_loss_params *p;
    const double *gscale; /* (B) d reduced / d cost_b */
    nc_un_kind act;
    bool want_grad;
    joint_saved *sv;
    double *ll;           /* (B) */
} fused_job;

static bool run_sub_batch(nc_ctx *ctx, const fused_job *j, int64_t b0, int64_t Bs) {
    const nc_backend *be = nc_ctx_backend(ctx);
    const int64_t J = j->J, C = j->C, Uf = j->U1 - 1;
    int64_t Ts = 1, Us = 0;
    for (int64_t b = b0; b < b0 + Bs; b++) {
        if (j->il[b] > Ts) Ts = j->il[b];
        if (j->tl[b] > Us) Us = j->tl[b];
    }
    const int64_t U1s = Us + 1, rows = Bs * Ts * U1s;
    /* the sub-batch's targets, narrowed to Us columns */
    int64_t *tg = nc_scratch(ctx, (size_t)(Bs * (Us ? Us : 1)) * sizeof(int64_t));
    int64_t *off = nc_scratch(ctx, (size_t)(Bs + 1) * sizeof(int64_t));
    float *h = nc_scratch(ctx, (size_t)(rows * J) * sizeof(float));
    float *logits = nc_scratch(ctx, (size_t)(rows * C) * sizeof(float));
    if (!tg || !off || !h || !logits) return false;
    for (int64_t b = 0; b < Bs; b++)
        memcpy(tg + b * Us, j->tg + (b0 + b) * Uf, (size_t)Us * sizeof(int64_t));
    off[0] = 0;
    for (int64_t b = 0; b < Bs; b++) off[b + 1] = off[b] + j->il[b0 + b] * (j->tl[b0 + b] + 1);

    const nc_joint_args ja = {.f = (const float *)j->f->data + b0 * j->T * J,
                              .g = (const float *)j->g->data + b0 * j->U1 * J,
                              .f_stride = j->T * J, .g_stride = j->U1 * J, .B = Bs, .T = Ts,
                              .U1 = U1s, .J = J, .act = j->act};
    be->rnnt_joint_act(nc_par(ctx, rows * J), &ja, h);
    /* dropout after the activation, as joint_net = Sequential(act, Dropout, Linear) */
    const float *hd = h;
    uint8_t *mask = NULL;
    float scale = 1.0f;
    if (j->p->dropout > 0.0f && ctx->training) {
        float *d = nc_scratch(ctx, (size_t)(rows * J) * sizeof(float));
        if (!d) return false;
        if (j->p->dropout < 1.0f && !(mask = nc_dropout_mask(ctx, rows * J, j->p->dropout, &scale)))
            return false;
        if (!mask) scale = 0.0f; /* p == 1: everything dropped */
        be->dropout(nc_par(ctx, rows * J), h, mask, scale, d, rows * J);
        hd = d;
    }
    nc_gemm_args ga = gemm(false, true, rows, C, J, hd, J, j->w->data, J, logits, 0.0f,
                           j->bias->data);
    if (!nc_ctx_gemm_run(ctx, &ga)) return false;

    const size_t nodes = (size_t)(off[Bs] ? off[Bs] : 1) * sizeof(double);
    double *den = nc_scratch(ctx, nodes), *alpha = nc_scratch(ctx, nodes);
    double *dden = j->lattice == NC_TRANSDUCER_TDT ? nc_scratch(ctx, nodes) : NULL;
    if (!den || !alpha || (j->lattice == NC_TRANSDUCER_TDT && !dden)) return false;
    nc_rnnt_args a = {.x = logits, .tg = tg, .il = j->il + b0, .tl = j->tl + b0, .B = Bs,
                      .T = Ts, .U1 = U1s, .C = C, .Vt = j->Vt, .arcs = j->arcs,
                      .n_arcs = j->n_arcs,
                      .sigma = j->lattice == NC_TRANSDUCER_RNNT ? 0.0 : j->p->loss.sigma,
                      .off = off, .den = den, .dden = dden, .alpha = alpha, .ll = j->ll + b0};
    be->rnnt_forward(nc_par(ctx, off[Bs] * C), &a);
    if (!j->want_grad) return true;

    /* the logits' gradient, then back through the output Linear */
    float *dlogits = logits; /* in place: the logits are not needed after this */
    float *dh = nc_scratch(ctx, (size_t)(rows * J) * sizeof(float));
    if (!dh || !(a.beta = nc_scratch(ctx, nodes))) return false;
    be->rnnt_grad(nc_par(ctx, off[Bs] * C), &a, j->gscale + b0, j->p->loss.fastemit_lambda,
                  j->p->loss.clamp, dlogits);
    ga = gemm(true, false, C, J, rows, dlogits, C, hd, J, j->sv->dw, 1.0f, NULL);
    if (!nc_ctx_gemm_run(ctx, &ga)) return false;
    be->acc_col_sums(nc_par(ctx, rows * C), j->sv->db, dlogits, rows, C);
    ga = gemm(false, false, rows, J, C, dlogits, C, j->w->data, J, dh, 0.0f, NULL);
    if (!nc_ctx_gemm_run(ctx, &ga)) return false;
    be->rnnt_joint_act_grad(nc_par(ctx, rows * J), &ja, h, mask, scale, dh,
                            j->sv->df + b0 * j->T * J, j->sv->dg + b0 * j->U1 * J);
    return true;
}

static bool check_shapes(nc_ctx *ctx, const nc_tensor *f, const nc_tensor *g, const nc_tensor *w,
                         const nc_tensor *bias, const nc_tensor *tg) {
    if (f->ndim != 3 || g->ndim != 3 || f->shape[0] < 1 || f->shape[1] < 1 ||
        g->shape[0] != f->shape[0] || g->shape[2] != f->shape[2] || tg->ndim != 2 ||
        g->shape[1] != tg->shape[1] + 1)
        return nc_shape_fail(ctx, op_name, "f must be (B, T, J) and g (B, U + 1, J) for targets (B, U)", f,
                             g) != NULL;
    if (w->ndim != 2 || w->shape[1] != f->shape[2] || w->shape[0] < 2 || bias->ndim != 1 ||
        bias->shape[0] != w->shape[0])
        return nc_shape_fail(ctx, op_name, "weight must be (C, J) and bias (C)", w, bias) != NULL;
    return true;
}

nc_tensor *nc_rnnt_joint_loss(nc_ctx *ctx, nc_tensor *f, nc_tensor *g, nc_tensor *w,
                              nc_tensor *bias, nc_tensor *tgt, nc_tensor *ilt, nc_tensor *tlt,
                              const nc_rnnt_joint_loss_params *p) {
    if (!nc_ok3(ctx, f, g, w) || !nc_ok3(ctx, bias, tgt, ilt) || !nc_ok1(ctx, tlt)) return NULL;
    if (!p) return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "%s: params is NULL", op_name);
    nc_tensor *fl[] = {f, g, w, bias};
    for (int i = 0; i < 4; i++)
        if (!nc_check_dtype(ctx, op_name, fl[i], NC_F32)) return NULL;
    if (!nc_check_dtype(ctx, op_name, tgt, NC_I64) || !nc_check_dtype(ctx, op_name, ilt, NC_I64) ||
        !nc_check_dtype(ctx, op_name, tlt, NC_I64))
        return NULL;
    if (!check_shapes(ctx, f, g, w, bias, tgt)) return NULL;
    if ((unsigned)p->kind > NC_TRANSDUCER_MULTIBLANK || (unsigned)p->activation > NC_RNNT_ACT_SIGMOID ||
        p->fused_batch_size < 1 || !(p->dropout >= 0.0f && p->dropout <= 1.0f) ||
        p->loss.reduction == NC_LOSS_NONE)
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                           "%s: needs a loss kind, an activation, fused_batch_size >= 1 (got %lld), "
                           "dropout in [0, 1] and a reducing reduction",
                           op_name, (long long)p->fused_batch_size);
    const int64_t B = f->shape[0], T = f->shape[1], J = f->shape[2], U1 = g->shape[1];
    const int64_t C = w->shape[0];
    int64_t Vt = 0, blank = 0;
    const nc_transducer_kind k = p->kind;
    if (!nc_rnnt_check_params(ctx, k, &p->loss, C, &Vt, &blank) ||
        !nc_rnnt_check_inputs(ctx, k, f, tgt, ilt, tlt, Vt, blank,
                              k == NC_TRANSDUCER_MULTIBLANK ? p->loss.n_big_blanks : 0))
        return NULL;
    const int64_t *il = ilt->data, *tl = tlt->data;
    nc_transducer_kind lattice = k;
    if (k == NC_TRANSDUCER_TDT && p->loss.omega > 0 && nc_rng_double(nc_ctx_rng(ctx)) < p->loss.omega)
        lattice = NC_TRANSDUCER_RNNT;
    nc_rnnt_arc *arcs = NULL;
    const int64_t n_arcs = nc_rnnt_make_arcs(ctx, lattice, &p->loss, blank, &arcs);
    double *ll = nc_scratch(ctx, (size_t)B * sizeof(double));
    double *gscale = nc_scratch(ctx, (size_t)B * sizeof(double));
    if (n_arcs < 0 || !ll || !gscale) return NULL;
    const bool want_grad = ctx->grad_enabled && ((f->flags | g->flags | w->flags | bias->flags) &
                                                 NC_TF_REQUIRES_GRAD);
    joint_saved sv = {0};
    if (want_grad) {
        int64_t sum_tl = 0;
        for (int64_t b = 0; b < B; b++) sum_tl += tl[b];
        const float one = 1.0f;
        for (int64_t b = 0; b < B; b++)
            gscale[b] = nc_rnnt_loss_scale(p->loss.reduction, &one, b, B, tl, sum_tl);
        /* zeroed: rows past an utterance's lengths get no gradient */
        sv.df = nc_scratch(ctx, (size_t)(B * T * J) * sizeof(float));
        sv.dg = nc_scratch(ctx, (size_t)(B * U1 * J) * sizeof(float));
        sv.dw = nc_scratch(ctx, (size_t)(C * J) * sizeof(float));
        sv.db = nc_scratch(ctx, (size_t)C * sizeof(float));
        if (!sv.df || !sv.dg || !sv.dw || !sv.db) return NULL;
        memset(sv.df, 0, (size_t)(B * T * J) * sizeof(float));
        memset(sv.dg, 0, (size_t)(B * U1 * J) * sizeof(float));
        memset(sv.dw, 0, (size_t)(C * J) * sizeof(float));
        memset(sv.db, 0, (size_t)C * sizeof(float));
    }
    static const nc_un_kind acts[] = {NC_UN_RELU, NC_UN_TANH, NC_UN_SIGMOID};
    const fused_job job = {.f = f, .g = g, .w = w, .bias = bias, .tg = tgt->data, .il = il,
                           .tl = tl, .T = T, .U1 = U1, .J = J, .C = C, .Vt = Vt, .arcs = arcs,
                           .n_arcs = n_arcs, .lattice = lattice, .p = p, .gscale = gscale,
                           .act = acts[p->activation], .want_grad = want_grad, .sv = &sv,
                           .ll = ll};
    nc_arena *arena = nc_ctx_arena(ctx);
    for (int64_t b0 = 0; b0 < B; b0 += p->fused_batch_size) {
        const int64_t Bs = B - b0 < p->fused_batch_size ? B - b0 : p->fused_batch_size;
        nc_arena_mark m = nc_arena_mark_get(arena);
        bool ok = run_sub_batch(ctx, &job, b0, Bs);
        nc_arena_rewind(arena, m);
        if (!ok || ctx->status) return NULL;
    }
    nc_tensor *out = nc_rnnt_reduced_loss(ctx, p->loss.reduction, ll, p->loss.fastemit_lambda, tl, B);
    if (!out) return NULL;
    nc_node *nd = want_grad ? nc_record(ctx, op_name, joint_backward, out, 4,
                                        (nc_tensor *[]){f, g, w, bias}, sizeof(joint_saved))
                            : NULL;
    if (nd) *(joint_saved *)nd->saved = sv;
    return ctx->status ? NULL : out;
}
