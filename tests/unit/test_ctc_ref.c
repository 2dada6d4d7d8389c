/* nc_ctc_loss against PyTorch (tests/ref/gen_ctc.py): losses for every NeMo
 * reduction with zero_infinity on and off, gradients at the logits (through
 * nc_log_softmax) and at the log-probabilities, NaN where torch gives NaN.
 * Also: the no-grad forward path, input validation, and a timing line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nc_test.h"
#include "nemoc/ctc.h"
#include "nemoc/ctx.h"
#include "nemoc/npy.h"
#include "nemoc/ops.h"
#include "nemoc/rng.h"

static nc_tensor *load(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/ref/ctc/%s.npy", name);
    nc_tensor *t = NULL;
    CHECK_OK(nc_npy_load(nc_test_src(rel), &t));
    return t;
}

/* allclose where NaN must meet NaN and inf must meet the same inf. */
static void check_close(const char *what, const float *got, const float *want, int64_t n,
                        double rtol, double atol) {
    nc_test_checks++;
    int64_t bad = 0, worst = -1;
    double worst_d = 0;
    for (int64_t i = 0; i < n; i++) {
        bool ok;
        if (isnan(want[i]) || isinf(want[i]))
            ok = isnan(want[i]) ? isnan(got[i]) : got[i] == want[i];
        else
            ok = fabs((double)got[i] - want[i]) <= atol + rtol * fabs((double)want[i]);
        if (!ok) {
            bad++;
            double d = isnan(got[i]) || isinf(got[i]) ? INFINITY : fabs((double)got[i] - want[i]);
            if (worst < 0 || d > worst_d) worst = i, worst_d = d;
        }
    }
    if (bad) {
        nc_test_failures++;
        fprintf(stderr, "FAIL %s: %lld of %lld differ (rtol %g atol %g); worst [%lld] got %.9g want %.9g\n",
                what, (long long)bad, (long long)n, rtol, atol, (long long)worst, got[worst],
                want[worst]);
    }
}

typedef struct fixture {
    nc_tensor *logits, *targets, *il, *tl;
} fixture;

/* Runs log_softmax -> ctc_loss -> backward and compares with the fixtures
 * loss_<tag>, grad_logits_<tag> and (when present) grad_logp_<tag>. */
static void check_case(const fixture *f, nc_tensor *targets, int64_t blank, nc_loss_reduction red,
                       bool zinf, const char *tag, bool has_logp_grad) {
    nc_ctx_params p = nc_ctx_default_params();
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(&p, &ctx));
    nc_tensor *x = nc_from_data(ctx, NC_F32, f->logits->ndim, f->logits->shape, f->logits->data);
    nc_requires_grad(x, true);
    nc_tensor *lp = nc_log_softmax(ctx, x, -1);
    nc_tensor *loss = nc_ctc_loss(ctx, lp, targets, f->il, f->tl, blank, red, zinf);
    CHECK(loss != NULL);
    if (!loss) {
        fprintf(stderr, "  %s: %s\n", tag, nc_last_error());
        nc_ctx_free(ctx);
        return;
    }
    char name[128], what[160];
    snprintf(name, sizeof name, "loss_%s", tag);
    nc_tensor *want = load(name);
    snprintf(what, sizeof what, "ctc %s loss", tag);
    CHECK(nc_numel(want) == nc_numel(loss));
    if (nc_numel(want) == nc_numel(loss)) check_close(what, loss->data, want->data, nc_numel(loss), 1e-5, 0);
    nc_tensor_free(want);

    int64_t B = f->logits->shape[0];
    if (red == NC_LOSS_NONE) { /* the generator weights utterance b by (b + 1) / B */
        float w[64];
        for (int64_t b = 0; b < B; b++) w[b] = (float)(b + 1) / (float)B;
        CHECK_OK(nc_backward_with(ctx, loss, nc_from_data(ctx, NC_F32, NC_DIMS(B), w)));
    } else {
        CHECK_OK(nc_backward(ctx, loss));
    }
    snprintf(name, sizeof name, "grad_logits_%s", tag);
    want = load(name);
    snprintf(what, sizeof what, "ctc %s d/dlogits", tag);
    CHECK(x->grad != NULL);
    if (x->grad) check_close(what, x->grad->data, want->data, nc_numel(want), 1e-4, 1e-4);
    nc_tensor_free(want);
    if (has_logp_grad) {
        snprintf(name, sizeof name, "grad_logp_%s", tag);
        want = load(name);
        snprintf(what, sizeof what, "ctc %s d/dlog_probs", tag);
        CHECK(lp->grad != NULL);
        if (lp->grad) check_close(what, lp->grad->data, want->data, nc_numel(want), 1e-4, 1e-4);
        nc_tensor_free(want);
    }
    nc_ctx_free(ctx);
}

/* Without grad the forward keeps two alpha rows instead of the full table. */
static void check_nograd_forward(const fixture *f) {
    nc_ctx *ctx;
    nc_ctx_params p = nc_ctx_default_params();
    CHECK_OK(nc_ctx_create(&p, &ctx));
    nc_set_grad_enabled(ctx, false);
    nc_tensor *lp = nc_log_softmax(ctx, f->logits, -1);
    nc_tensor *loss = nc_ctc_loss(ctx, lp, f->targets, f->il, f->tl, 5, NC_LOSS_NONE, false);
    nc_tensor *want = load("loss_none_z0");
    CHECK(loss && nc_tape_size(ctx) == 0);
    if (loss) check_close("ctc no-grad forward", loss->data, want->data, 6, 1e-5, 0);
    nc_tensor_free(want);
    nc_ctx_free(ctx);
}

static void check_errors(const fixture *f) {
    nc_ctx *ctx;
    nc_ctx_params p = nc_ctx_default_params();
    CHECK_OK(nc_ctx_create(&p, &ctx));
    nc_tensor *lp = nc_log_softmax(ctx, f->logits, -1);
    /* a label equal to the blank */
    CHECK(nc_ctc_loss(ctx, lp, f->targets, f->il, f->tl, 1, NC_LOSS_SUM, true) == NULL);
    CHECK(nc_ctx_status(ctx) == NC_ERR_INVALID_ARG && strstr(nc_last_error(), "blank"));
    nc_ctx_clear_status(ctx);
    /* input length past T */
    int64_t il_bad[6] = {12, 10, 8, 13, 6, 12};
    nc_tensor *il = nc_from_data(ctx, NC_I64, NC_DIMS(6), il_bad);
    CHECK(nc_ctc_loss(ctx, lp, f->targets, il, f->tl, 5, NC_LOSS_SUM, true) == NULL);
    CHECK(strstr(nc_last_error(), "utterance 3") != NULL);
    nc_ctx_clear_status(ctx);
    /* blank out of range, wrong target rank */
    CHECK(nc_ctc_loss(ctx, lp, f->targets, f->il, f->tl, 6, NC_LOSS_SUM, true) == NULL);
    nc_ctx_clear_status(ctx);
    CHECK(nc_ctc_loss(ctx, lp, f->tl, f->il, f->tl, 5, NC_LOSS_SUM, true) == NULL);
    CHECK(nc_ctx_status(ctx) == NC_ERR_SHAPE);
    nc_ctx_clear_status(ctx);
    nc_ctx_free(ctx);

    nc_loss_reduction r;
    CHECK_OK(nc_loss_reduction_parse("mean_volume", &r));
    CHECK(r == NC_LOSS_MEAN_VOLUME);
    CHECK(nc_loss_reduction_parse("average", &r) == NC_ERR_CONFIG);
    CHECK(strcmp(nc_loss_reduction_name(NC_LOSS_MEAN_BATCH), "mean_batch") == 0);
}

/* A FastConformer-sized batch: B 32, T 250 (8x subsampling of 20 s), V 1025, S 100. */
static void time_large(void) {
    enum { B = 32, T = 250, V = 1025, S = 100 };
    nc_ctx *ctx;
    nc_ctx_params p = nc_ctx_default_params();
    CHECK_OK(nc_ctx_create(&p, &ctx));
    nc_tensor *x = nc_empty(ctx, NC_F32, NC_DIMS(B, T, V));
    nc_tensor *tg = nc_empty(ctx, NC_I64, NC_DIMS(B, S));
    int64_t il[B], tl[B];
    nc_rng r;
    nc_rng_seed(&r, 5);
    nc_rng_normal(&r, x->data, B * T * V, 0, 1);
    nc_rng_randint(&r, tg->data, B * S, 0, V - 1);
    for (int b = 0; b < B; b++) il[b] = T - 3 * b, tl[b] = S - 2 * b;
    nc_requires_grad(x, true);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nc_tensor *lp = nc_log_softmax(ctx, x, -1);
    nc_tensor *loss = nc_ctc_loss(ctx, lp, tg, nc_from_data(ctx, NC_I64, NC_DIMS(B), il),
                                  nc_from_data(ctx, NC_I64, NC_DIMS(B), tl), V - 1,
                                  NC_LOSS_MEAN_VOLUME, true);
    CHECK(loss != NULL);
    if (loss) CHECK_OK(nc_backward(ctx, loss));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
    CHECK(loss && isfinite(nc_f32(loss)[0]) && x->grad && nc_all_finite(x->grad->data, B * T * V));
    printf("ctc B=%d T=%d V=%d S=%d: log_softmax + loss + backward %.1f ms\n", B, T, V, S, ms);
    nc_ctx_free(ctx);
}

int main(void) {
    fixture f = {.logits = load("logits"), .targets = load("targets"), .il = load("input_lengths"),
                 .tl = load("target_lengths")};
    if (!f.logits || !f.targets || !f.il || !f.tl) return nc_test_finish("ctc_ref");
    static const struct {
        nc_loss_reduction red;
        const char *name;
    } reds[] = {{NC_LOSS_NONE, "none"},
                {NC_LOSS_SUM, "sum"},
                {NC_LOSS_MEAN, "mean"},
                {NC_LOSS_MEAN_BATCH, "mean_batch"},
                {NC_LOSS_MEAN_VOLUME, "mean_volume"}};
    for (int i = 0; i < 5; i++) {
        for (int z = 0; z < 2; z++) {
            char tag[64];
            snprintf(tag, sizeof tag, "%s_z%d", reds[i].name, z);
            check_case(&f, f.targets, 5, reds[i].red, z, tag, true);
        }
    }
    nc_tensor *tg0 = load("targets_blank0");
    if (tg0) check_case(&f, tg0, 0, NC_LOSS_NONE, true, "blank0", false);
    nc_tensor_free(tg0);
    check_nograd_forward(&f);
    check_errors(&f);
    time_large();
    nc_tensor_free(f.logits);
    nc_tensor_free(f.targets);
    nc_tensor_free(f.il);
    nc_tensor_free(f.tl);
    return nc_test_finish("ctc_ref");
}
