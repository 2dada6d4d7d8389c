/* Transducer losses (include/nemoc/rnnt.h): RNN-T (Graves 2012, "Sequence
 * Transduction with Recurrent Neural Networks", section 2), TDT (Xu et al.
 * 2023, arXiv:2304.06795, eq. 7) and multi-blank RNN-T (Xu et al. 2022,
 * arXiv:2211.03541), front ends over the lattice kernels of
 * src/backend/cpu/cpu_rnnt.c.
 *
 * NeMo conventions mirrored (NVIDIA/NeMo, nemo/collections/asr/):
 *  - losses/rnnt.py RNNTLoss: blank_idx = num_classes, the last token logit
 *    (for multi-blank num_classes counts the big blanks, for TDT it excludes
 *    the duration logits); reductions in RNNTLoss.reduce.
 *  - parts/numba/rnnt_loss/rnnt_pytorch.py: the loss takes logits and
 *    applies log_softmax itself (token logits; TDT's duration logits get
 *    their own log_softmax in TDTLossNumba.forward).
 *  - parts/numba/rnnt_loss/utils/cuda_utils/gpu_rnnt_kernel.py: the
 *    gradients with FastEmit and clamping (compute_grad_kernel,
 *    compute_multiblank_grad_kernel, compute_tdt_grad_kernel);
 *    rnnt_helper.compute_costs_data: cost = -(1 + fastemit_lambda) * ll.
 *  - utils/cuda_utils/gpu_rnnt.py GPUTDT.compute_cost_and_score: with
 *    probability omega the plain RNN-T loss on the token logits (no sigma,
 *    duration gradients zero) replaces TDT for the batch.
 *  - losses/rnnt_pytorch.py TDTLossPytorch / MultiblankRNNTLossPytorch: sigma
 *    is subtracted from every token log-prob (blank and big blanks too);
 *    big blank i is token blank - 1 - i and skips big_blank_durations[i]
 *    frames; a TDT blank needs duration >= 1, a TDT label may take 0.
 *
 * Memory: the forward keeps, per utterance, il * (tl + 1) doubles each of
 * token log-normalisers, (TDT) duration log-normalisers and alphas;
 * backward adds as many betas and writes the logits gradient (B, T, U + 1, C)
 * floats, the one large buffer (a scratch copy of it only when the logits
 * already hold a gradient). NeMo's numba loss holds the same gradient plus a
 * (B, T, U + 1) float workspace for denominators, alphas and betas. */
#include <math.h>
#include <string.h>

#include "nemoc/rnnt.h"
#include "ops/ops_internal.h"
#include "ops/ops_rnnt_internal.h"

nc_rnnt_params nc_rnnt_default_params(void) {
    return (nc_rnnt_params){.blank = -1, .reduction = NC_LOSS_MEAN_BATCH, .clamp = -1.0};
}

typedef nc_transducer_kind kind;
#define K_RNNT NC_TRANSDUCER_RNNT
#define K_TDT NC_TRANSDUCER_TDT
#define K_MULTIBLANK NC_TRANSDUCER_MULTIBLANK
static const char *const op_names[] = {"rnnt_loss", "tdt_loss", "multiblank_rnnt_loss"};

typedef struct rnnt_saved {
    nc_rnnt_args a; /* pointers into the ctx arena */
    nc_loss_reduction red;
    double lambda, clamp;
} rnnt_saved;

/* d out / d loss_b for the reduction (RNNTLoss.reduce), given the incoming gradient. */
double nc_rnnt_loss_scale(nc_loss_reduction red, const float *g, int64_t b, int64_t B,
                         const int64_t *tl, int64_t sum_tl) {
    switch (red) {
    case NC_LOSS_NONE: return g[b];
    case NC_LOSS_SUM: return g[0];
    case NC_LOSS_MEAN_BATCH: return g[0] / (double)B;
    case NC_LOSS_MEAN: return g[0] / ((double)tl[b] * (double)B);
    case NC_LOSS_MEAN_VOLUME: return g[0] / (double)sum_tl;
    }
    return 0;
}

static void rnnt_backward(nc_ctx *ctx, nc_node *nd) {
    const rnnt_saved *s = nd->saved;
    nc_tensor *x = nd->in[0];
    bool fresh = false;
    float *dx = nc_grad_buf_fresh(ctx, x, &fresh);
    if (!dx) return;
    nc_rnnt_args a = s->a;
    const int64_t B = a.B, n = nc_numel(x);
    int64_t sum_tl = 0;
    for (int64_t b = 0; b < B; b++) sum_tl += a.tl[b];
    double *gs = nc_scratch(ctx, (size_t)B * sizeof(double));
    a.beta = nc_scratch(ctx, (size_t)(a.off[B] ? a.off[B] : 1) * sizeof(double));
    float *dst = fresh ? dx : nc_scratch(ctx, (size_t)n * sizeof(float));
    if (!gs || !a.beta || !dst) return;
    const float *g = nc_out_grad(nd);
    for (int64_t b = 0; b < B; b++) gs[b] = nc_rnnt_loss_scale(s->red, g, b, B, a.tl, sum_tl);
    nc_ctx_backend(ctx)->rnnt_grad(nc_par(ctx, a.off[B] * a.C), &a, gs, s->lambda, s->clamp, dst);
    if (!fresh) nc_acc(ctx, dx, dst, n);
}

/* nc_ctx_fail with NC_ERR_INVALID_ARG and the op's name in front; false. */
#define FAIL(k, fmt, ...) \
    (nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "%s: " fmt, op_names[k], __VA_ARGS__), false)

/* Shapes, dtypes, lengths, labels; fails the ctx naming the offending value. */
bool nc_rnnt_check_inputs(nc_ctx *ctx, kind k, const nc_tensor *x, const nc_tensor *tg,
                          const nc_tensor *il, const nc_tensor *tl, int64_t Vt, int64_t blank,
                          int64_t n_big) {
    const char *op = op_names[k];
    /* x: the logits (B, T, U + 1, C), or the fused op's projected encoder
     * output (B, T, J) with U + 1 from the targets */
    int64_t B = x->shape[0], T = x->shape[1], U1 = x->ndim == 4 ? x->shape[2] : tg->shape[1] + 1;
    if (tg->ndim != 2 || tg->shape[0] != B || tg->shape[1] != U1 - 1) {
        nc_shape_fail(ctx, op, "targets must be (B, U) for logits (B, T, U + 1, C)", tg, x);
        return false;
    }
    if (il->ndim != 1 || il->shape[0] != B || tl->ndim != 1 || tl->shape[0] != B) {
        nc_shape_fail(ctx, op, "input_lengths and target_lengths must be (B)", il, tl);
        return false;
    }
    const int64_t *ilv = il->data, *tlv = tl->data, *tgv = tg->data;
    for (int64_t b = 0; b < B; b++) {
        if (ilv[b] < 1 || ilv[b] > T || tlv[b] < 0 || tlv[b] > U1 - 1)
            return FAIL(k,
                        "utterance %lld has input_length %lld (need 1..T = %lld) and "
                        "target_length %lld (need 0..U = %lld)",
                        (long long)b, (long long)ilv[b], (long long)T, (long long)tlv[b],
                        (long long)(U1 - 1));
        for (int64_t u = 0; u < tlv[b]; u++) {
            int64_t c = tgv[b * (U1 - 1) + u];
            bool is_blank = c == blank || (c < blank && c >= blank - n_big);
            if (c < 0 || c >= Vt || is_blank)
                return FAIL(k, "targets[%lld][%lld] = %lld is %s (token logits %lld, blank %lld)",
                            (long long)b, (long long)u, (long long)c,
                            is_blank ? "a blank" : "out of range", (long long)Vt,
                            (long long)blank);
        }
    }
    return true;
}

/* Validates the kind's options and fills arcs (scratch); returns the count or -1. */
int64_t nc_rnnt_make_arcs(nc_ctx *ctx, kind k, const nc_rnnt_params *p, int64_t blank,
                         nc_rnnt_arc **out) {
    int64_t n = k == K_TDT ? 2 * p->n_durations : 2 + (k == K_MULTIBLANK ? p->n_big_blanks : 0);
    nc_rnnt_arc *arcs = nc_scratch(ctx, (size_t)n * sizeof(nc_rnnt_arc));
    if (!arcs) return -1;
    int64_t m = 0;
    if (k == K_TDT) {
        for (int64_t i = 0; i < p->n_durations; i++) {
            arcs[m++] = (nc_rnnt_arc){.tok = -1, .dur = p->durations[i], .didx = i};
            if (p->durations[i] > 0)
                arcs[m++] = (nc_rnnt_arc){.tok = blank, .dur = p->durations[i], .didx = i};
        }
    } else {
        arcs[m++] = (nc_rnnt_arc){.tok = -1, .dur = 0, .didx = -1};
        arcs[m++] = (nc_rnnt_arc){.tok = blank, .dur = 1, .didx = -1};
        for (int64_t i = 0; k == K_MULTIBLANK && i < p->n_big_blanks; i++)
            arcs[m++] = (nc_rnnt_arc){.tok = blank - 1 - i, .dur = p->big_blank_durations[i],
                                      .didx = -1};
    }
    *out = arcs;
    return m;
}

/* The options of `p` that do not depend on the data. Sets *Vt and *blank. */
bool nc_rnnt_check_params(nc_ctx *ctx, kind k, const nc_rnnt_params *p, int64_t C, int64_t *Vt,
                         int64_t *blank) {
    if ((unsigned)p->reduction > NC_LOSS_NONE)
        return FAIL(k, "bad reduction %d", (int)p->reduction);
    if (!(p->fastemit_lambda >= 0) || !isfinite(p->fastemit_lambda) || !isfinite(p->sigma) ||
        isnan(p->clamp) || !(p->omega >= 0 && p->omega <= 1))
        return FAIL(k, "fastemit_lambda %g must be >= 0, sigma %g finite, omega %g in [0, 1], "
                       "clamp %g a number",
                    p->fastemit_lambda, p->sigma, p->omega, p->clamp);
    if (p->n_durations > NC_RNNT_MAX_ARCS / 2 || p->n_big_blanks > NC_RNNT_MAX_ARCS - 2)
        return FAIL(k, "at most %d durations and %d big blanks (got %lld, %lld)", NC_RNNT_MAX_ARCS / 2,
                    NC_RNNT_MAX_ARCS - 2, (long long)p->n_durations, (long long)p->n_big_blanks);
    *Vt = C;
    if (k == K_TDT) {
        const int64_t D = p->n_durations, *d = p->durations;
        if (!d || D < 2 || d[0] != 0 || d[1] != 1)
            return FAIL(k, "durations must start with 0, 1 (NeMo: include 0 and 1); got %lld "
                           "values, first %lld, %lld",
                        (long long)D, (long long)(d && D > 0 ? d[0] : -1),
                        (long long)(d && D > 1 ? d[1] : -1));
        for (int64_t i = 2; i < D; i++)
            if (d[i] <= d[i - 1])
                return FAIL(k, "durations must increase: durations[%lld] = %lld after %lld",
                            (long long)i, (long long)d[i], (long long)d[i - 1]);
        if (D >= C)
            return FAIL(k, "%lld durations leave no token logits in C = %lld", (long long)D,
                        (long long)C);
        *Vt = C - D;
    } else if (p->n_durations || p->omega > 0) {
        return FAIL(k, "durations (%lld given) and omega are TDT options",
                    (long long)p->n_durations);
    }
    *blank = p->blank < 0 ? *Vt - 1 : p->blank;
    if (*blank >= *Vt)
        return FAIL(k, "blank %lld outside the %lld token logits", (long long)*blank,
                    (long long)*Vt);
    if (k == K_MULTIBLANK) {
        const int64_t n = p->n_big_blanks;
        if (n < 0 || (n > 0 && !p->big_blank_durations) || *blank - n < 0)
            return FAIL(k, "%lld big blanks need as many durations and token ids below blank %lld",
                        (long long)n, (long long)*blank);
        for (int64_t i = 0; i < n; i++)
            if (p->big_blank_durations[i] < 1)
                return FAIL(k, "big_blank_durations[%lld] = %lld (need >= 1)", (long long)i,
                            (long long)p->big_blank_durations[i]);
    } else if (p->n_big_blanks) {
        return FAIL(k, "big_blank_durations (%lld given) are a multiblank option",
                    (long long)p->n_big_blanks);
    }
    return true;
}

nc_tensor *nc_rnnt_reduced_loss(nc_ctx *ctx, nc_loss_reduction red, const double *ll,
                                double lambda, const int64_t *tl, int64_t B) {
    nc_tensor *out = red == NC_LOSS_NONE ? nc_empty(ctx, NC_F32, NC_DIMS(B))
                                         : nc_empty(ctx, NC_F32, 0, NULL);
    if (!out) return NULL;
    float *o = out->data;
    double total = 0;
    int64_t sum_tl = 0;
    for (int64_t b = 0; b < B; b++) {
        /* compute_costs_data: cost = -ll * (1 + fastemit_lambda) */
        double lb = -ll[b] * (1.0 + lambda);
        sum_tl += tl[b];
        if (red == NC_LOSS_NONE) o[b] = (float)lb;
        else if (red == NC_LOSS_MEAN) total += lb / (double)tl[b];
        else total += lb;
    }
    if (red == NC_LOSS_SUM) o[0] = (float)total;
    if (red == NC_LOSS_MEAN || red == NC_LOSS_MEAN_BATCH) o[0] = (float)(total / (double)B);
    if (red == NC_LOSS_MEAN_VOLUME) o[0] = (float)(total / (double)sum_tl);
    return out;
}

static nc_tensor *transducer(nc_ctx *ctx, kind k, nc_tensor *x, nc_tensor *tg, nc_tensor *ilt,
                             nc_tensor *tlt, const nc_rnnt_params *p) {
    const char *op = op_names[k];
    if (!nc_ok2(ctx, x, tg) || !nc_ok2(ctx, ilt, tlt)) return NULL;
    if (!p) return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "%s: params is NULL", op);
    if (!nc_check_dtype(ctx, op, x, NC_F32) || !nc_check_dtype(ctx, op, tg, NC_I64) ||
        !nc_check_dtype(ctx, op, ilt, NC_I64) || !nc_check_dtype(ctx, op, tlt, NC_I64))
        return NULL;
    if (x->ndim != 4 || x->shape[0] < 1 || x->shape[1] < 1 || x->shape[2] < 1 || x->shape[3] < 2)
        return nc_shape_fail(ctx, op, "logits must be (B, T, U + 1, C) with B, T >= 1, C >= 2", x,
                             NULL);
    int64_t Vt = 0, blank = 0;
    if (!nc_rnnt_check_params(ctx, k, p, x->shape[3], &Vt, &blank)) return NULL;
    if (!nc_rnnt_check_inputs(ctx, k, x, tg, ilt, tlt, Vt, blank, k == K_MULTIBLANK ? p->n_big_blanks : 0))
        return NULL;
    const int64_t B = x->shape[0];
    const int64_t *il = ilt->data, *tl = tlt->data;

    /* TDT's omega: this call trains the plain RNN-T lattice on the token logits */
    kind lattice = k;
    if (k == K_TDT && p->omega > 0 && nc_rng_double(nc_ctx_rng(ctx)) < p->omega)
        lattice = K_RNNT;
    nc_rnnt_arc *arcs = NULL;
    int64_t n_arcs = nc_rnnt_make_arcs(ctx, lattice, p, blank, &arcs);
    int64_t *off = nc_scratch(ctx, (size_t)(B + 1) * sizeof(int64_t));
    double *ll = nc_scratch(ctx, (size_t)B * sizeof(double));
    if (n_arcs < 0 || !off || !ll) return NULL;
    off[0] = 0;
    for (int64_t b = 0; b < B; b++) off[b + 1] = off[b] + il[b] * (tl[b] + 1);
    size_t nodes = (size_t)off[B] * sizeof(double);
    double *den = nc_scratch(ctx, nodes), *alpha = nc_scratch(ctx, nodes);
    double *dden = lattice == K_TDT ? nc_scratch(ctx, nodes) : NULL;
    if (!den || !alpha || (lattice == K_TDT && !dden)) return NULL;
    const nc_rnnt_args a = {.x = x->data, .tg = tg->data, .il = il, .tl = tl, .B = B,
                            .T = x->shape[1], .U1 = x->shape[2], .C = x->shape[3], .Vt = Vt,
                            .arcs = arcs, .n_arcs = n_arcs,
                            .sigma = lattice == K_RNNT ? 0.0 : p->sigma, .off = off, .den = den,
                            .dden = dden, .alpha = alpha, .ll = ll};
    nc_ctx_backend(ctx)->rnnt_forward(nc_par(ctx, off[B] * a.C), &a);

    const nc_loss_reduction red = p->reduction;
    nc_tensor *out = nc_rnnt_reduced_loss(ctx, red, ll, p->fastemit_lambda, tl, B);
    if (!out) return NULL;

    nc_node *nd = nc_record(ctx, op, rnnt_backward, out, 4, (nc_tensor *[]){x, tg, ilt, tlt},
                            sizeof(rnnt_saved));
    if (nd)
        *(rnnt_saved *)nd->saved = (rnnt_saved){.a = a, .red = red,
                                                .lambda = p->fastemit_lambda, .clamp = p->clamp};
    return ctx->status ? NULL : out;
}

nc_tensor *nc_rnnt_loss(nc_ctx *ctx, nc_tensor *logits, nc_tensor *targets,
                        nc_tensor *input_lengths, nc_tensor *target_lengths,
                        const nc_rnnt_params *p) {
    return transducer(ctx, K_RNNT, logits, targets, input_lengths, target_lengths, p);
}

nc_tensor *nc_tdt_loss(nc_ctx *ctx, nc_tensor *logits, nc_tensor *targets,
                       nc_tensor *input_lengths, nc_tensor *target_lengths,
                       const nc_rnnt_params *p) {
    return transducer(ctx, K_TDT, logits, targets, input_lengths, target_lengths, p);
}

nc_tensor *nc_multiblank_rnnt_loss(nc_ctx *ctx, nc_tensor *logits, nc_tensor *targets,
                                   nc_tensor *input_lengths, nc_tensor *target_lengths,
                                   const nc_rnnt_params *p) {
    return transducer(ctx, K_MULTIBLANK, logits, targets, input_lengths, target_lengths, p);
}
