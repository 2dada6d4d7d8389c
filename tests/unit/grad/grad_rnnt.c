/* Gradient cases: transducer losses (RNN-T, TDT, multi-blank) at the logits.
 *
 * Targets and lengths are fixed in each case: uneven lengths, an empty
 * transcript, T = 1 with more labels than frames. FastEmit and clamping are
 * left out on purpose: with them NeMo's gradient is not the derivative of
 * the loss (include/nemoc/rnnt.h); tests/unit/test_rnnt_ref.c checks them
 * against NeMo's kernels instead. */
#include "gradcheck.h"
#include "nemoc/rnnt.h"

typedef nc_tensor *(*loss_fn)(nc_ctx *, nc_tensor *, nc_tensor *, nc_tensor *, nc_tensor *,
                              const nc_rnnt_params *);

static nc_tensor *run(nc_ctx *c, loss_fn fn, nc_tensor *logits, const int64_t *targets,
                      const int64_t *il, const int64_t *tl, const nc_rnnt_params *p) {
    int64_t B = logits->shape[0], U = logits->shape[2] - 1;
    nc_tensor *tg = nc_from_data(c, NC_I64, NC_DIMS(B, U), targets);
    nc_tensor *ilt = nc_from_data(c, NC_I64, NC_DIMS(B), il);
    nc_tensor *tlt = nc_from_data(c, NC_I64, NC_DIMS(B), tl);
    return fn(c, logits, tg, ilt, tlt, p);
}

/* (3, 4, 3, 5): blank 4; b1 has an empty transcript, b2 a shorter input. */
static nc_tensor *f_rnnt_mean_batch(nc_ctx *c, nc_tensor **x) {
    static const int64_t tg[] = {0, 3, 0, 0, 2, 0}, il[] = {4, 2, 3}, tl[] = {2, 0, 1};
    nc_rnnt_params p = nc_rnnt_default_params();
    return run(c, nc_rnnt_loss, x[0], tg, il, tl, &p);
}

/* T = 1: all labels at the one frame; per-utterance losses. */
static nc_tensor *f_rnnt_t1_none(nc_ctx *c, nc_tensor **x) {
    static const int64_t tg[] = {1, 2, 0, 3, 3, 1}, il[] = {1, 1}, tl[] = {3, 2};
    nc_rnnt_params p = nc_rnnt_default_params();
    p.reduction = NC_LOSS_NONE;
    return run(c, nc_rnnt_loss, x[0], tg, il, tl, &p);
}

/* TDT durations {0, 1, 2}, sigma; b0 has more labels (3) than frames (2). */
static nc_tensor *f_tdt_volume(nc_ctx *c, nc_tensor **x) {
    static const int64_t tg[] = {1, 0, 2, 2, 1, 0}, il[] = {2, 5}, tl[] = {3, 2};
    static const int64_t durs[] = {0, 1, 2};
    nc_rnnt_params p = nc_rnnt_default_params();
    p.reduction = NC_LOSS_MEAN_VOLUME, p.sigma = 0.05, p.durations = durs, p.n_durations = 3;
    return run(c, nc_tdt_loss, x[0], tg, il, tl, &p);
}

/* Multi-blank: big blanks of 2 and 3 frames (tokens 3, 2), blank 4; sum. */
static nc_tensor *f_multiblank_sum(nc_ctx *c, nc_tensor **x) {
    static const int64_t tg[] = {0, 1, 1, 0, 0, 0}, il[] = {6, 4}, tl[] = {2, 0};
    static const int64_t big[] = {2, 3};
    nc_rnnt_params p = nc_rnnt_default_params();
    p.reduction = NC_LOSS_SUM, p.sigma = 0.05, p.big_blank_durations = big, p.n_big_blanks = 2;
    return run(c, nc_multiblank_rnnt_loss, x[0], tg, il, tl, &p);
}

static const gc_case cases[] = {
    GC_CASE("rnnt_loss", "mean_batch empty target short input", f_rnnt_mean_batch, 1,
            IN(GC_GRAD, 3, 4, 3, 5)),
    GC_CASE("rnnt_loss", "none T=1 more labels than frames", f_rnnt_t1_none, 1,
            IN(GC_GRAD, 2, 1, 4, 5)),
    GC_CASE("tdt_loss", "mean_volume durations 0 1 2 sigma", f_tdt_volume, 1,
            IN(GC_GRAD, 2, 5, 4, 7)),
    GC_CASE("multiblank_rnnt_loss", "sum big blanks 2 3 sigma", f_multiblank_sum, 1,
            IN(GC_GRAD, 2, 6, 3, 5)),
};

__attribute__((constructor)) static void reg(void) {
    gc_register(cases, (int)(sizeof cases / sizeof cases[0]));
}
