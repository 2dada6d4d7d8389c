/* CTC loss: the alpha (forward) and beta (backward) recursions of Graves et
 * al. 2006, section 4.1, in log space and double precision, one utterance per
 * task (kernels in src/backend/cpu/cpu_ctc.c). Mirrors
 * aten/src/ATen/native/LossCTC.cpp (ctc_loss_cpu_template
 * and ctc_loss_backward_cpu_template) so that losses and gradients match
 * torch.nn.functional.ctc_loss; NeMo's extra reductions follow
 * nemo/collections/asr/losses/ctc.py (CTCLoss.reduce).
 *
 * Notation: the extended label sequence l' has length S2 = 2 * L + 1 with
 * blanks at even positions and the L labels at odd positions. alpha[t][s] is
 * the log-probability of all prefixes of alignments that are in state s at
 * frame t (frame t's emission included); beta[t][s] the same for suffixes
 * from frame t on (frame t's emission included too, as in torch). */
#include <math.h>
#include <string.h>

#include "nemoc/ctc.h"
#include "ops/ops_internal.h"

typedef struct ctc_saved {
    double *alpha;  /* per utterance il * S2, at alpha + off[b] */
    int64_t *off;   /* (B + 1) offsets into alpha */
    double *nll;    /* (B) */
    int64_t blank;
    nc_loss_reduction red;
    bool zero_infinity;
} ctc_saved;

/* d out / d loss_b for the chosen reduction, given the incoming gradient. */
static double loss_scale(const ctc_saved *s, const float *g, int64_t b, int64_t B,
                         const int64_t *tl, int64_t sum_tl) {
    switch (s->red) {
    case NC_LOSS_NONE: return g[b];
    case NC_LOSS_SUM: return g[0];
    case NC_LOSS_MEAN_BATCH: return g[0] / (double)B;
    case NC_LOSS_MEAN: return g[0] / ((double)(tl[b] > 1 ? tl[b] : 1) * (double)B);
    case NC_LOSS_MEAN_VOLUME: return sum_tl ? g[0] / (double)sum_tl : g[0] * INFINITY;
    }
    return 0;
}

static void ctc_backward(nc_ctx *ctx, nc_node *nd) {
    const ctc_saved *s = nd->saved;
    nc_tensor *lpt = nd->in[0], *tgt = nd->in[1], *ilt = nd->in[2], *tlt = nd->in[3];
    float *dx = nc_grad_buf(ctx, lpt);
    if (!dx) return;
    int64_t B = lpt->shape[0], T = lpt->shape[1], V = lpt->shape[2], S = tgt->shape[1];
    const int64_t *il = ilt->data, *tl = tlt->data;
    int64_t sum_tl = 0, per = 2 * (2 * S + 1) + V;
    for (int64_t b = 0; b < B; b++) sum_tl += tl[b];
    double *work = nc_scratch(ctx, (size_t)(B * per) * sizeof(double));
    double *gs = nc_scratch(ctx, (size_t)B * sizeof(double));
    if (!work || !gs) return;
    const float *g = nc_out_grad(nd);
    for (int64_t b = 0; b < B; b++) gs[b] = loss_scale(s, g, b, B, tl, sum_tl);
    const nc_ctc_args a = {.lp = lpt->data, .tg = tgt->data, .il = il, .tl = tl, .B = B, .T = T,
                           .V = V, .S = S, .blank = s->blank, .alpha = s->alpha, .off = s->off,
                           .nll = s->nll};
    nc_ctx_backend(ctx)->ctc_grad(nc_par(ctx, s->off[B] * 4), &a, gs, s->zero_infinity, work, dx);
}

/* Shapes, dtypes and value ranges; fails the ctx with the offending index. */
static bool ctc_check(nc_ctx *ctx, const nc_tensor *lp, const nc_tensor *tg, const nc_tensor *il,
                      const nc_tensor *tl, int64_t blank) {
    if (!nc_check_dtype(ctx, "ctc_loss", lp, NC_F32) || !nc_check_dtype(ctx, "ctc_loss", tg, NC_I64) ||
        !nc_check_dtype(ctx, "ctc_loss", il, NC_I64) || !nc_check_dtype(ctx, "ctc_loss", tl, NC_I64))
        return false;
    if (lp->ndim != 3 || lp->shape[0] < 1 || lp->shape[2] < 1) {
        nc_shape_fail(ctx, "ctc_loss", "log_probs must be (B, T, V) with B, V >= 1", lp, NULL);
        return false;
    }
    int64_t B = lp->shape[0], T = lp->shape[1], V = lp->shape[2];
    if (tg->ndim != 2 || tg->shape[0] != B) {
        nc_shape_fail(ctx, "ctc_loss", "targets must be (B, S) padded", tg, lp);
        return false;
    }
    if (il->ndim != 1 || il->shape[0] != B || tl->ndim != 1 || tl->shape[0] != B) {
        nc_shape_fail(ctx, "ctc_loss", "input_lengths and target_lengths must be (B)", il, tl);
        return false;
    }
    if (blank < 0 || blank >= V) {
        nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "ctc_loss: blank %lld outside [0, %lld)",
                    (long long)blank, (long long)V);
        return false;
    }
    int64_t S = tg->shape[1];
    const int64_t *ilv = il->data, *tlv = tl->data, *tgv = tg->data;
    for (int64_t b = 0; b < B; b++) {
        if (ilv[b] < 0 || ilv[b] > T || tlv[b] < 0 || tlv[b] > S) {
            nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                        "ctc_loss: utterance %lld has input_length %lld (T = %lld) and "
                        "target_length %lld (S = %lld)",
                        (long long)b, (long long)ilv[b], (long long)T, (long long)tlv[b],
                        (long long)S);
            return false;
        }
        for (int64_t k = 0; k < tlv[b]; k++) {
            int64_t c = tgv[b * S + k];
            if (c < 0 || c >= V || c == blank) {
                nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                            "ctc_loss: targets[%lld][%lld] = %lld is %s (V = %lld, blank = %lld)",
                            (long long)b, (long long)k, (long long)c,
                            c == blank ? "the blank" : "out of range", (long long)V,
                            (long long)blank);
                return false;
            }
        }
    }
    return true;
}

nc_tensor *nc_ctc_loss(nc_ctx *ctx, nc_tensor *log_probs, nc_tensor *targets,
                       nc_tensor *input_lengths, nc_tensor *target_lengths, int64_t blank,
                       nc_loss_reduction reduction, bool zero_infinity) {
    if (!nc_ok2(ctx, log_probs, targets) || !nc_ok2(ctx, input_lengths, target_lengths)) return NULL;
    if ((unsigned)reduction > NC_LOSS_NONE)
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "ctc_loss: bad reduction %d", (int)reduction);
    if (!ctc_check(ctx, log_probs, targets, input_lengths, target_lengths, blank)) return NULL;
    int64_t B = log_probs->shape[0], T = log_probs->shape[1], V = log_probs->shape[2];
    int64_t S = targets->shape[1];
    const int64_t *il = input_lengths->data, *tl = target_lengths->data;

    /* The full alpha table is kept only when backward will need it. */
    bool keep = nc_grad_enabled(ctx) && nc_needs_grad(log_probs);
    int64_t *off = nc_scratch(ctx, (size_t)(B + 1) * sizeof(int64_t));
    double *nll = nc_scratch(ctx, (size_t)B * sizeof(double));
    if (!off || !nll) return NULL;
    off[0] = 0;
    for (int64_t b = 0; b < B; b++) off[b + 1] = off[b] + (keep ? il[b] : 2) * (2 * tl[b] + 1);
    double *alpha = nc_scratch(ctx, (size_t)(off[B] ? off[B] : 1) * sizeof(double));
    if (!alpha) return NULL;
    const nc_ctc_args a = {.lp = log_probs->data, .tg = targets->data, .il = il, .tl = tl, .B = B,
                           .T = T, .V = V, .S = S, .blank = blank, .alpha = alpha, .off = off,
                           .nll = nll};
    nc_ctx_backend(ctx)->ctc_alpha(nc_par(ctx, off[B] * 4), &a, keep);

    nc_tensor *out = reduction == NC_LOSS_NONE ? nc_empty(ctx, NC_F32, NC_DIMS(B))
                                              : nc_empty(ctx, NC_F32, 0, NULL);
    if (!out) return NULL;
    float *o = out->data;
    double total = 0;
    int64_t sum_tl = 0;
    for (int64_t b = 0; b < B; b++) {
        double lb = zero_infinity && nll[b] == INFINITY ? 0.0 : nll[b];
        sum_tl += tl[b];
        if (reduction == NC_LOSS_NONE) o[b] = (float)lb;
        else if (reduction == NC_LOSS_MEAN) total += lb / (double)(tl[b] > 1 ? tl[b] : 1);
        else total += lb;
    }
    if (reduction == NC_LOSS_SUM) o[0] = (float)total;
    if (reduction == NC_LOSS_MEAN || reduction == NC_LOSS_MEAN_BATCH) o[0] = (float)(total / (double)B);
    if (reduction == NC_LOSS_MEAN_VOLUME)
        o[0] = sum_tl ? (float)(total / (double)sum_tl) : (total == 0 ? NAN : INFINITY);

    nc_node *nd = nc_record(ctx, "ctc_loss", ctc_backward, out, 4,
                            (nc_tensor *[]){log_probs, targets, input_lengths, target_lengths},
                            sizeof(ctc_saved));
    if (nd)
        *(ctc_saved *)nd->saved = (ctc_saved){.alpha = alpha, .off = off, .nll = nll,
                                              .blank = blank, .red = reduction,
                                              .zero_infinity = zero_infinity};
    return ctx->status ? NULL : out;
}
