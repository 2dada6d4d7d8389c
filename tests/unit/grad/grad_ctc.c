/* Gradient cases: CTC loss.
 *
 * nc_ctc_loss returns torch's gradient at log_probs (exp(lp) - posterior),
 * which is the gradient of the composite log_softmax -> ctc_loss at the
 * logits rather than the partial derivative at log_probs. So every case here
 * differentiates with respect to logits through nc_log_softmax, the way NeMo
 * uses the loss, and finite differences perturb the logits. Targets and
 * lengths are fixed inside each case (not drawn), so that repeats, empty
 * targets, short inputs and impossible alignments are hit on purpose. */
#include "gradcheck.h"
#include "nemoc/ctc.h"

/* (B, T, V) logits -> log_softmax -> ctc_loss with fixed labels. */
static nc_tensor *ctc_case(nc_ctx *c, nc_tensor *logits, int64_t B, int64_t S,
                           const int64_t *targets, const int64_t *il, const int64_t *tl,
                           int64_t blank, nc_loss_reduction red, bool zinf) {
    nc_tensor *tg = nc_from_data(c, NC_I64, NC_DIMS(B, S), targets);
    nc_tensor *ilt = nc_from_data(c, NC_I64, NC_DIMS(B), il);
    nc_tensor *tlt = nc_from_data(c, NC_I64, NC_DIMS(B), tl);
    return nc_ctc_loss(c, nc_log_softmax(c, logits, -1), tg, ilt, tlt, blank, red, zinf);
}

/* Repeated labels (b1), a shorter input whose padded frames get no gradient. */
static nc_tensor *f_ctc_mean_batch(nc_ctx *c, nc_tensor **x) {
    static const int64_t tg[] = {0, 1, 2, 1, 1, -1, 2, 0, 0}, il[] = {6, 5, 6}, tl[] = {3, 2, 3};
    return ctc_case(c, x[0], 3, 3, tg, il, tl, 3, NC_LOSS_MEAN_BATCH, true);
}

/* Per-utterance losses: an empty target (b1) and a 3-frame input (b2). */
static nc_tensor *f_ctc_none(nc_ctx *c, nc_tensor **x) {
    static const int64_t tg[] = {0, 0, 1, 2, 1, 2}, il[] = {4, 6, 3}, tl[] = {2, 0, 2};
    return ctc_case(c, x[0], 3, 2, tg, il, tl, 3, NC_LOSS_NONE, false);
}

/* zero_infinity: b1 needs 5 frames for "1 1 1" but has 4, so its loss and
 * gradient are zero; mean_volume divides by the total target length. */
static nc_tensor *f_ctc_volume_zinf(nc_ctx *c, nc_tensor **x) {
    static const int64_t tg[] = {0, 2, 0, 1, 1, 1, 2, 2, 0}, il[] = {6, 4, 6}, tl[] = {3, 3, 2};
    return ctc_case(c, x[0], 3, 3, tg, il, tl, 3, NC_LOSS_MEAN_VOLUME, true);
}

/* torch's 'mean' (loss / target length, then batch mean), blank at index 0. */
static nc_tensor *f_ctc_mean_blank0(nc_ctx *c, nc_tensor **x) {
    static const int64_t tg[] = {1, 2, 3, 3, 3, 0, 0, 0}, il[] = {6, 5}, tl[] = {4, 1};
    return ctc_case(c, x[0], 2, 4, tg, il, tl, 0, NC_LOSS_MEAN, false);
}

/* Exactly enough frames: "0 0 1 1" needs 6 = 4 labels + 2 blanks. */
static nc_tensor *f_ctc_sum_tight(nc_ctx *c, nc_tensor **x) {
    static const int64_t tg[] = {0, 0, 1, 1, 2, 1, 0, 2}, il[] = {6, 6}, tl[] = {4, 4};
    return ctc_case(c, x[0], 2, 4, tg, il, tl, 3, NC_LOSS_SUM, false);
}

static const gc_case cases[] = {
    GC_CASE("ctc_loss", "mean_batch repeats short input", f_ctc_mean_batch, 1, IN(GC_GRAD, 3, 6, 4)),
    GC_CASE("ctc_loss", "none empty target", f_ctc_none, 1, IN(GC_GRAD, 3, 6, 4)),
    GC_CASE("ctc_loss", "mean_volume zero_infinity", f_ctc_volume_zinf, 1, IN(GC_GRAD, 3, 6, 4)),
    GC_CASE("ctc_loss", "torch mean blank 0", f_ctc_mean_blank0, 1, IN(GC_GRAD, 2, 6, 5)),
    GC_CASE("ctc_loss", "sum tight alignment", f_ctc_sum_tight, 1, IN(GC_GRAD, 2, 6, 4)),
};

__attribute__((constructor)) static void reg(void) {
    gc_register(cases, (int)(sizeof cases / sizeof cases[0]));
}
