/* Transducer losses (nc_rnnt_loss, nc_tdt_loss, nc_multiblank_rnnt_loss)
 * against tests/ref/gen_rnnt.py: torchaudio's rnnt_loss, NeMo's
 * TDTLossPytorch / MultiblankRNNTLossPytorch and NeMo's CUDA kernels (run by
 * numba's simulator) for FastEmit and clamp. Per-utterance losses and the
 * logits gradient, then every NeMo reduction (values from RNNTLoss.reduce).
 * Tolerance everywhere: |got - want| <= 1e-5 + 1e-5 |want|.
 * Also: bad input -> named errors, NaN logits -> NaN loss (as nc_ctc_loss),
 * TDT's omega = 1 is plain RNN-T on the token logits, blank 0, the no-grad
 * forward, and accumulation into an existing gradient. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/ctx.h"
#include "nemoc/npy.h"
#include "nemoc/ops.h"
#include "nemoc/rnnt.h"

#define TOL 1e-5

static nc_tensor *load(const char *cs, const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/ref/rnnt/%s_%s.npy", cs, name);
    nc_tensor *t = NULL;
    CHECK_OK(nc_npy_load(nc_test_src(rel), &t));
    return t;
}

/* allclose where inf must meet the same inf and NaN must meet NaN. */
static void check_close(const char *what, const float *got, const float *want, int64_t n,
                        double scale) {
    nc_test_checks++;
    int64_t bad = 0, worst = -1;
    double worst_d = -1;
    for (int64_t i = 0; i < n; i++) {
        double w = want[i] * scale, g = got[i];
        bool ok = isnan(w) ? isnan(g) : isinf(w) ? g == w : fabs(g - w) <= TOL + TOL * fabs(w);
        if (!ok) {
            bad++;
            double d = isfinite(g) ? fabs(g - w) : INFINITY;
            if (d > worst_d) worst = i, worst_d = d;
        }
    }
    if (bad) {
        nc_test_failures++;
        fprintf(stderr, "FAIL %s: %lld of %lld differ (tol %g); worst [%lld] got %.9g want %.9g\n",
                what, (long long)bad, (long long)n, TOL, (long long)worst, got[worst],
                want[worst] * scale);
    }
}

typedef struct fixture {
    nc_tensor *logits, *targets, *il, *tl, *losses, *grad, *reduced, *params;
    int kind; /* 0 rnnt, 1 tdt, 2 multiblank */
    int64_t durs[16];
    nc_rnnt_params p;
} fixture;

static bool fixture_load(const char *cs, fixture *f) {
    memset(f, 0, sizeof *f);
    f->logits = load(cs, "logits"), f->targets = load(cs, "targets");
    f->il = load(cs, "input_lengths"), f->tl = load(cs, "target_lengths");
    f->losses = load(cs, "losses"), f->grad = load(cs, "grad");
    f->reduced = load(cs, "reduced"), f->params = load(cs, "params");
    if (!f->logits || !f->targets || !f->il || !f->tl || !f->losses || !f->grad || !f->reduced ||
        !f->params)
        return false;
    /* kind, lambda, clamp, sigma, n, durations... as float32, on a 1e-6 grid */
    double pr[24] = {0};
    for (int64_t i = 0; i < nc_numel(f->params) && i < 24; i++)
        pr[i] = round((double)nc_f32(f->params)[i] * 1e6) / 1e6;
    f->kind = (int)pr[0];
    f->p = nc_rnnt_default_params();
    f->p.fastemit_lambda = pr[1], f->p.clamp = pr[2], f->p.sigma = pr[3];
    int64_t n = (int64_t)pr[4];
    for (int64_t i = 0; i < n && i < 16; i++) f->durs[i] = (int64_t)pr[5 + i];
    if (f->kind == 1) f->p.durations = f->durs, f->p.n_durations = n;
    if (f->kind == 2) f->p.big_blank_durations = f->durs, f->p.n_big_blanks = n;
    return true;
}

static void fixture_free(fixture *f) {
    nc_tensor *all[] = {f->logits, f->targets, f->il, f->tl,
                        f->losses, f->grad,    f->reduced, f->params};
    for (int i = 0; i < 8; i++) nc_tensor_free(all[i]);
}

static nc_tensor *run_loss(nc_ctx *ctx, const fixture *f, nc_tensor *x, const nc_rnnt_params *p) {
    nc_tensor *(*fn[])(nc_ctx *, nc_tensor *, nc_tensor *, nc_tensor *, nc_tensor *,
                       const nc_rnnt_params *) = {nc_rnnt_loss, nc_tdt_loss,
                                                  nc_multiblank_rnnt_loss};
    return fn[f->kind](ctx, x, f->targets, f->il, f->tl, p);
}

/* One reduction: loss vs fixture, gradient vs the fixture's per-utterance
 * gradient times d reduction / d loss_b. */
static void check_reduction(const char *cs, const fixture *f, nc_loss_reduction red, int ri) {
    nc_ctx *ctx;
    nc_ctx_params cp = nc_ctx_default_params();
    CHECK_OK(nc_ctx_create(&cp, &ctx));
    nc_tensor *x = nc_from_data(ctx, NC_F32, f->logits->ndim, f->logits->shape, f->logits->data);
    nc_requires_grad(x, true);
    nc_rnnt_params p = f->p;
    p.reduction = red;
    nc_tensor *loss = run_loss(ctx, f, x, &p);
    char what[128];
    snprintf(what, sizeof what, "%s %s", cs, nc_loss_reduction_name(red));
    CHECK(loss != NULL);
    if (!loss) {
        fprintf(stderr, "  %s: %s\n", what, nc_last_error());
        nc_ctx_free(ctx);
        return;
    }
    const int64_t B = f->logits->shape[0], *tl = f->tl->data;
    if (red == NC_LOSS_NONE) {
        check_close(what, loss->data, f->losses->data, B, 1.0);
        float ones[64];
        for (int64_t b = 0; b < B; b++) ones[b] = 1.0f;
        CHECK_OK(nc_backward_with(ctx, loss, nc_from_data(ctx, NC_F32, NC_DIMS(B), ones)));
        if (x->grad) check_close(what, x->grad->data, f->grad->data, nc_numel(x), 1.0);
    } else {
        check_close(what, loss->data, (const float *)f->reduced->data + ri, 1, 1.0);
        CHECK_OK(nc_backward(ctx, loss));
        /* per utterance: the gradient row block of b scales by d out / d loss_b */
        int64_t per = nc_numel(x) / B, sum_tl = 0;
        for (int64_t b = 0; b < B; b++) sum_tl += tl[b];
        for (int64_t b = 0; b < B && x->grad; b++) {
            double s = red == NC_LOSS_SUM          ? 1.0
                       : red == NC_LOSS_MEAN_BATCH ? 1.0 / (double)B
                       : red == NC_LOSS_MEAN       ? 1.0 / ((double)tl[b] * (double)B)
                                                   : 1.0 / (double)sum_tl;
            if (isinf(s)) continue; /* 'mean' with an empty target: inf * 0 -> NaN, as torch */
            check_close(what, (const float *)x->grad->data + b * per,
                        (const float *)f->grad->data + b * per, per, s);
        }
    }
    nc_ctx_free(ctx);
}

static void check_case(const char *cs) {
    fixture f;
    if (!fixture_load(cs, &f)) {
        fixture_free(&f);
        return;
    }
    check_reduction(cs, &f, NC_LOSS_NONE, -1);
    static const nc_loss_reduction reds[] = {NC_LOSS_MEAN_BATCH, NC_LOSS_MEAN_VOLUME,
                                             NC_LOSS_MEAN, NC_LOSS_SUM};
    for (int i = 0; i < 4; i++) check_reduction(cs, &f, reds[i], i);
    fixture_free(&f);
}

/* Input validation, NaN, omega, blank 0, no grad, accumulation. */
static void check_behaviour(void) {
    fixture f;
    if (!fixture_load("tdt_a", &f)) {
        fixture_free(&f);
        return;
    }
    nc_ctx *ctx;
    nc_ctx_params cp = nc_ctx_default_params();
    CHECK_OK(nc_ctx_create(&cp, &ctx));
    const int64_t B = 3, T = 6, U1 = 4, C = 10, D = 4, Vt = 6;
    nc_tensor *x = f.logits;
    nc_rnnt_params p = f.p;
    p.reduction = NC_LOSS_NONE;
    /* durations not starting 0, 1 / not increasing */
    static const int64_t d_bad1[] = {1, 2, 3, 4}, d_bad2[] = {0, 1, 3, 2};
    nc_rnnt_params q = p;
    q.durations = d_bad1;
    CHECK(nc_tdt_loss(ctx, x, f.targets, f.il, f.tl, &q) == NULL);
    CHECK(nc_ctx_status(ctx) == NC_ERR_INVALID_ARG && strstr(nc_last_error(), "durations"));
    nc_ctx_clear_status(ctx);
    q.durations = d_bad2;
    CHECK(nc_tdt_loss(ctx, x, f.targets, f.il, f.tl, &q) == NULL);
    CHECK(strstr(nc_last_error(), "increase") != NULL);
    nc_ctx_clear_status(ctx);
    /* negative, blank and out-of-range target ids; lengths */
    int64_t tg[9];
    const int64_t bad_ids[] = {-1, Vt - 1, Vt};
    for (int i = 0; i < 3; i++) {
        memcpy(tg, f.targets->data, sizeof tg);
        tg[1] = bad_ids[i]; /* utterance 0, u = 1 */
        nc_tensor *t = nc_from_data(ctx, NC_I64, NC_DIMS(B, U1 - 1), tg);
        CHECK(nc_tdt_loss(ctx, x, t, f.il, f.tl, &p) == NULL);
        CHECK(nc_ctx_status(ctx) == NC_ERR_INVALID_ARG && strstr(nc_last_error(), "targets[0][1]"));
        nc_ctx_clear_status(ctx);
    }
    const int64_t il0[] = {6, 0, 2}, tl4[] = {3, 4, 3};
    CHECK(nc_tdt_loss(ctx, x, f.targets, nc_from_data(ctx, NC_I64, NC_DIMS(B), il0), f.tl, &p) ==
          NULL);
    CHECK(strstr(nc_last_error(), "utterance 1") != NULL);
    nc_ctx_clear_status(ctx);
    CHECK(nc_tdt_loss(ctx, x, f.targets, f.il, nc_from_data(ctx, NC_I64, NC_DIMS(B), tl4), &p) ==
          NULL);
    nc_ctx_clear_status(ctx);
    CHECK(nc_tdt_loss(ctx, x, f.il, f.il, f.tl, &p) == NULL);
    CHECK(nc_ctx_status(ctx) == NC_ERR_SHAPE);
    nc_ctx_clear_status(ctx);
    /* options of another loss */
    CHECK(nc_rnnt_loss(ctx, x, f.targets, f.il, f.tl, &p) == NULL);
    nc_ctx_clear_status(ctx);
    q = p, q.fastemit_lambda = -0.1;
    CHECK(nc_tdt_loss(ctx, x, f.targets, f.il, f.tl, &q) == NULL);
    nc_ctx_clear_status(ctx);

    /* NaN logits: NaN loss for that utterance, no error (the trainer skips the step) */
    nc_tensor *xn = nc_from_data(ctx, NC_F32, 4, x->shape, x->data);
    ((float *)xn->data)[(1 * T * U1 + 0) * C + 2] = NAN;
    nc_requires_grad(xn, true);
    q = p, q.clamp = 0.1; /* and the clamp keeps the NaN gradient NaN */
    nc_tensor *ln = nc_tdt_loss(ctx, xn, f.targets, f.il, f.tl, &q);
    CHECK(ln && !isnan(nc_f32(ln)[0]) && isnan(nc_f32(ln)[1]) && !isnan(nc_f32(ln)[2]));
    if (ln) {
        const float ones[] = {1, 1, 1};
        CHECK_OK(nc_backward_with(ctx, ln, nc_from_data(ctx, NC_F32, NC_DIMS(B), ones)));
        const int64_t per = T * U1 * C;
        CHECK(xn->grad && nc_all_finite(nc_f32(xn->grad), per) &&
              isnan(nc_f32(xn->grad)[per]) && nc_all_finite(nc_f32(xn->grad) + 2 * per, per));
    }

    /* omega = 1: plain RNN-T on the token logits, durations get no gradient */
    nc_tensor *xt = nc_from_data(ctx, NC_F32, 4, x->shape, x->data);
    nc_requires_grad(xt, true);
    q = p, q.omega = 1.0, q.sigma = 0.5, q.reduction = NC_LOSS_SUM;
    nc_tensor *lt = nc_tdt_loss(ctx, xt, f.targets, f.il, f.tl, &q);
    nc_tensor *tok = nc_slice(ctx, x, 3, 0, Vt, 1);
    nc_rnnt_params r = nc_rnnt_default_params();
    r.reduction = NC_LOSS_SUM;
    nc_tensor *lr = nc_rnnt_loss(ctx, tok, f.targets, f.il, f.tl, &r);
    CHECK(lt && lr);
    if (lt && lr) {
        CHECK_NEAR(nc_f32(lt)[0], nc_f32(lr)[0], 1e-4);
        CHECK_OK(nc_backward(ctx, lt));
        double dsum = 0;
        for (int64_t i = 0; i < B * T * U1; i++)
            for (int64_t j = 0; j < D; j++) dsum += fabs(nc_f32(xt->grad)[i * C + Vt + j]);
        CHECK(dsum == 0);
    }
    nc_ctx_free(ctx);
    fixture_free(&f);

    /* blank 0 (torchaudio's convention) = blank last with the columns rotated, labels + 1 */
    if (!fixture_load("rnnt_a", &f)) {
        fixture_free(&f);
        return;
    }
    CHECK_OK(nc_ctx_create(&cp, &ctx));
    const int64_t n = nc_numel(f.logits), V1 = f.logits->shape[3];
    nc_tensor *xr = nc_from_data(ctx, NC_F32, 4, f.logits->shape, f.logits->data);
    for (int64_t i = 0; i < n; i += V1) {
        const float *s = (const float *)f.logits->data + i;
        float *d = (float *)xr->data + i;
        d[0] = s[V1 - 1];
        for (int64_t v = 0; v < V1 - 1; v++) d[v + 1] = s[v];
    }
    nc_tensor *tgr = nc_from_data(ctx, NC_I64, 2, f.targets->shape, f.targets->data);
    for (int64_t i = 0; i < nc_numel(tgr); i++) ((int64_t *)tgr->data)[i] += 1;
    nc_set_grad_enabled(ctx, false); /* also the no-grad forward */
    r = nc_rnnt_default_params();
    r.reduction = NC_LOSS_NONE, r.blank = 0;
    nc_tensor *l0 = nc_rnnt_loss(ctx, xr, tgr, f.il, f.tl, &r);
    CHECK(l0 && nc_tape_size(ctx) == 0);
    if (l0) check_close("rnnt blank 0", l0->data, f.losses->data, 3, 1.0);
    nc_set_grad_enabled(ctx, true);
    /* a second loss on the same logits adds into the gradient */
    nc_tensor *xa = nc_from_data(ctx, NC_F32, 4, f.logits->shape, f.logits->data);
    nc_requires_grad(xa, true);
    r.blank = -1, r.reduction = NC_LOSS_SUM;
    nc_tensor *s2 = nc_add(ctx, nc_rnnt_loss(ctx, xa, f.targets, f.il, f.tl, &r),
                           nc_rnnt_loss(ctx, xa, f.targets, f.il, f.tl, &r));
    CHECK(s2 != NULL);
    if (s2) {
        CHECK_OK(nc_backward(ctx, s2));
        if (xa->grad) check_close("rnnt accumulated", xa->grad->data, f.grad->data, n, 2.0);
    }
    nc_ctx_free(ctx);
    fixture_free(&f);

    nc_loss_reduction rr;
    CHECK_OK(nc_loss_reduction_parse("mean_volume", &rr));
    CHECK(rr == NC_LOSS_MEAN_VOLUME);
    CHECK(nc_loss_reduction_parse("average", &rr) == NC_ERR_CONFIG);
}

int main(void) {
    static const char *const cases[] = {"rnnt_a", "rnnt_t1", "rnnt_b", "rnnt_clamp", "rnnt_fe",
                                        "rnnt_fec", "tdt_a",  "tdt_t1", "tdt_b",      "tdt_fec",
                                        "mb_a",    "mb_t1",   "mb_b",   "mb_fec"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(cases[i]);
    check_behaviour();
    return nc_test_finish("rnnt_ref");
}
