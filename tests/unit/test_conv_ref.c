/* conv1d, conv2d, conv_transpose1d, max/avg_pool1d and lstm against PyTorch.
 *
 * Fixtures come from tests/ref/gen_conv.py (torch 1.13): inputs, weights,
 * outputs and the gradients of L = sum(out * G) for a fixed random G.
 * Tolerances (max |got - want| over the array, divided by the array's scale):
 *   fp32, fast and reference kernels: forward 1e-5 of max(1, max|want|),
 *                                      gradients 1e-4 of max|want|;
 *   bf16 gemms (NC_PREC_BF16), the conv ops: 2e-2 for both, since bf16 keeps
 *   8 mantissa bits (relative rounding 2^-9 per operand) and the products
 *   accumulate many such terms. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nc_test.h"
#include "nemoc/ctx.h"
#include "nemoc/npy.h"
#include "nemoc/ops.h"

typedef struct mode {
    const char *name;
    nc_precision prec;
    bool reference;
    double fwd_tol, grad_tol;
} mode;

static const mode MODES[] = {
    {.name = "fp32", .prec = NC_PREC_F32, .reference = false, .fwd_tol = 1e-5, .grad_tol = 1e-4},
    {.name = "fp32-reference", .prec = NC_PREC_F32, .reference = true, .fwd_tol = 1e-5, .grad_tol = 1e-4},
    {.name = "bf16", .prec = NC_PREC_BF16, .reference = false, .fwd_tol = 2e-2, .grad_tol = 2e-2},
};

typedef struct ref_case {
    const char *op, *name;
} ref_case;

/* Names written by gen_conv.py; a missing fixture fails the test. */
static const ref_case CASES[] = {
    {"conv1d", "c1_basic"},          {"conv1d", "c1_stride2"},
    {"conv1d", "c1_causal_dil2"},    {"conv1d", "c1_groups2"},
    {"conv1d", "c1_depthwise_k31"},  {"conv1d", "c1_depthwise_causal_k9"},
    {"conv1d", "c1_pointwise"},      {"conv2d", "c2_subsample"},
    {"conv2d", "c2_subsample2"},     {"conv2d", "c2_depthwise_s2"},
    {"conv2d", "c2_groups_dil"},     {"conv_transpose1d", "ct_s4_outpad3"},
    {"conv_transpose1d", "ct_groups_dil"}, {"conv_transpose1d", "ct_basic"},
    {"max_pool1d", "mp_k3s2p1"},     {"max_pool1d", "mp_k2"},
    {"avg_pool1d", "ap_k3s2p1_incl"}, {"avg_pool1d", "ap_k3s2p1_excl"},
    {"avg_pool1d", "ap_k4s3p2_excl"}, {"lstm", "lstm2_state"},
    {"lstm", "lstm1_plain"},
};

static const char *fixture(const char *cs, const char *file) {
    static char rel[512];
    snprintf(rel, sizeof rel, "tests/ref/conv/%s/%s.npy", cs, file);
    return nc_test_src(rel);
}

static bool has(const char *cs, const char *file) { return access(fixture(cs, file), R_OK) == 0; }

/* Loads a fixture into the ctx arena; a missing file is a failure. */
static nc_tensor *load(nc_ctx *ctx, const char *cs, const char *file, bool grad) {
    nc_tensor *h = NULL;
    nc_status s = nc_npy_load(fixture(cs, file), &h);
    if (s) {
        nc_test_fail(__FILE__, __LINE__, "%s/%s: %s", cs, file, nc_last_error());
        return NULL;
    }
    nc_tensor *t = nc_from_data(ctx, h->dtype, h->ndim, h->shape, h->data);
    nc_tensor_free(h);
    if (t) nc_requires_grad(t, grad);
    return t;
}

/* Worst scaled error seen in the current case, printed beside its verdict. */
static double case_worst;

/* max|got - want| / scale, scale = max|want| (floored at `floor`). */
static void compare(const char *what, const nc_tensor *got_t, const float *got, nc_tensor *want,
                    double tol, double floor) {
    nc_test_checks++;
    int64_t n = nc_numel(want);
    if (!got || !got_t || nc_numel(got_t) != n) {
        nc_test_fail(__FILE__, __LINE__, "%s: missing or wrong size (want %lld elements)", what,
                     (long long)n);
        return;
    }
    const float *w = want->data;
    double md = 0, mw = floor;
    int64_t worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - w[i]);
        if (!(d <= md)) md = d, worst = i; /* NaN lands here too */
        if (fabs(w[i]) > mw) mw = fabs(w[i]);
    }
    double err = mw > 0 ? md / mw : md;
    if (!(err <= case_worst)) case_worst = err;
    if (!(err <= tol))
        nc_test_fail(__FILE__, __LINE__, "%s: error %.3g > %.1g (worst [%lld] got %.8g want %.8g)",
                     what, err, tol, (long long)worst, got[worst], w[worst]);
}

static void compare_out(const char *tag, const nc_tensor *out, nc_tensor *want, const mode *m) {
    compare(tag, out, out ? out->data : NULL, want, m->fwd_tol, 1.0);
}

static void compare_grad(const char *tag, const nc_tensor *t, nc_tensor *want, const mode *m) {
    compare(tag, t ? t->grad : NULL, t && t->grad ? t->grad->data : NULL, want, m->grad_tol, 0.0);
}

static nc_conv_params conv_params(const nc_tensor *cfg) {
    const int64_t *c = cfg->data;
    nc_conv_params p = nc_conv_default_params();
    for (int i = 0; i < 2; i++) {
        p.stride[i] = c[0 + i], p.pad_left[i] = c[2 + i], p.pad_right[i] = c[4 + i];
        p.dilation[i] = c[6 + i];
    }
    p.groups = c[8];
    p.output_padding = c[9];
    return p;
}

static void run_conv(nc_ctx *ctx, const ref_case *rc, const mode *m, const char *tag) {
    const char *cs = rc->name;
    nc_tensor *cfg = load(ctx, cs, "cfg", false);
    nc_tensor *x = load(ctx, cs, "x", true), *w = load(ctx, cs, "w", true);
    nc_tensor *b = has(cs, "b") ? load(ctx, cs, "b", true) : NULL;
    nc_tensor *want = load(ctx, cs, "out", false), *g = load(ctx, cs, "gout", false);
    if (!cfg || !x || !w || !want || !g) return;
    nc_conv_params p = conv_params(cfg);
    nc_tensor *y = !strcmp(rc->op, "conv1d")   ? nc_conv1d(ctx, x, w, b, &p)
                   : !strcmp(rc->op, "conv2d") ? nc_conv2d(ctx, x, w, b, &p)
                                               : nc_conv_transpose1d(ctx, x, w, b, &p);
    char what[256];
    snprintf(what, sizeof what, "%s forward", tag);
    compare_out(what, y, want, m);
    if (!y) return;
    CHECK_OK(nc_backward_with(ctx, y, g));
    snprintf(what, sizeof what, "%s dx", tag);
    compare_grad(what, x, load(ctx, cs, "dx", false), m);
    snprintf(what, sizeof what, "%s dw", tag);
    compare_grad(what, w, load(ctx, cs, "dw", false), m);
    if (b) {
        snprintf(what, sizeof what, "%s db", tag);
        compare_grad(what, b, load(ctx, cs, "db", false), m);
    }
}

static void run_pool(nc_ctx *ctx, const ref_case *rc, const mode *m, const char *tag) {
    const char *cs = rc->name;
    nc_tensor *cfg = load(ctx, cs, "cfg", false), *x = load(ctx, cs, "x", true);
    nc_tensor *want = load(ctx, cs, "out", false), *g = load(ctx, cs, "gout", false);
    if (!cfg || !x || !want || !g) return;
    const int64_t *c = cfg->data;
    nc_tensor *y = !strcmp(rc->op, "max_pool1d") ? nc_max_pool1d(ctx, x, c[0], c[1], c[2])
                                                 : nc_avg_pool1d(ctx, x, c[0], c[1], c[2], c[3] != 0);
    char what[256];
    snprintf(what, sizeof what, "%s forward", tag);
    compare_out(what, y, want, m);
    if (!y) return;
    CHECK_OK(nc_backward_with(ctx, y, g));
    snprintf(what, sizeof what, "%s dx", tag);
    compare_grad(what, x, load(ctx, cs, "dx", false), m);
}

/* sum(a * b) as a scalar on the tape. */
static nc_tensor *dot(nc_ctx *ctx, nc_tensor *a, nc_tensor *b) {
    return nc_sum(ctx, nc_mul(ctx, a, b), NC_ALL_DIMS, false);
}

static void run_lstm(nc_ctx *ctx, const ref_case *rc, const mode *m, const char *tag) {
    const char *cs = rc->name;
    nc_tensor *cfg = load(ctx, cs, "cfg", false);
    if (!cfg) return;
    const int64_t *c = cfg->data;
    int L = (int)c[0];
    bool bias = c[1] != 0, state = c[2] != 0;
    nc_lstm_weights w[4] = {{0}};
    if (L < 1 || L > 4) {
        nc_test_fail(__FILE__, __LINE__, "%s: %d layers in cfg", cs, L);
        return;
    }
    char f[64];
    for (int l = 0; l < L; l++) {
        snprintf(f, sizeof f, "w_ih%d", l), w[l].w_ih = load(ctx, cs, f, true);
        snprintf(f, sizeof f, "w_hh%d", l), w[l].w_hh = load(ctx, cs, f, true);
        if (bias) {
            snprintf(f, sizeof f, "b_ih%d", l), w[l].b_ih = load(ctx, cs, f, true);
            snprintf(f, sizeof f, "b_hh%d", l), w[l].b_hh = load(ctx, cs, f, true);
        }
    }
    nc_tensor *x = load(ctx, cs, "x", true);
    nc_tensor *h0 = state ? load(ctx, cs, "h0", true) : NULL;
    nc_tensor *c0 = state ? load(ctx, cs, "c0", true) : NULL;
    nc_tensor *hn = NULL, *cn = NULL;
    nc_tensor *y = nc_lstm(ctx, x, L, w, h0, c0, &hn, &cn);
    char what[256];
    snprintf(what, sizeof what, "%s y", tag);
    compare_out(what, y, load(ctx, cs, "y", false), m);
    snprintf(what, sizeof what, "%s h_n", tag);
    compare_out(what, hn, load(ctx, cs, "hn", false), m);
    snprintf(what, sizeof what, "%s c_n", tag);
    compare_out(what, cn, load(ctx, cs, "cn", false), m);
    if (!y) return;
    nc_tensor *loss = nc_add(ctx, nc_add(ctx, dot(ctx, y, load(ctx, cs, "gy", false)),
                                         dot(ctx, hn, load(ctx, cs, "ghn", false))),
                             dot(ctx, cn, load(ctx, cs, "gcn", false)));
    CHECK(loss != NULL);
    if (!loss) return;
    CHECK_OK(nc_backward(ctx, loss));
    snprintf(what, sizeof what, "%s dx", tag);
    compare_grad(what, x, load(ctx, cs, "dx", false), m);
    if (state) {
        snprintf(what, sizeof what, "%s dh0", tag);
        compare_grad(what, h0, load(ctx, cs, "dh0", false), m);
        snprintf(what, sizeof what, "%s dc0", tag);
        compare_grad(what, c0, load(ctx, cs, "dc0", false), m);
    }
    const char *names[4] = {"w_ih", "w_hh", "b_ih", "b_hh"};
    for (int l = 0; l < L; l++) {
        nc_tensor *ts[4] = {w[l].w_ih, w[l].w_hh, w[l].b_ih, w[l].b_hh};
        for (int k = 0; k < (bias ? 4 : 2); k++) {
            snprintf(f, sizeof f, "d%s%d", names[k], l);
            snprintf(what, sizeof what, "%s %s", tag, f + 1);
            compare_grad(what, ts[k], load(ctx, cs, f, false), m);
        }
    }
}

int main(void) {
    for (size_t mi = 0; mi < sizeof MODES / sizeof MODES[0]; mi++) {
        const mode *m = &MODES[mi];
        for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
            const ref_case *rc = &CASES[i];
            bool is_conv = !strncmp(rc->op, "conv", 4);
            /* bf16 changes only the gemm-based ops; pooling and the LSTM are covered in fp32 */
            if (m->prec == NC_PREC_BF16 && !is_conv) continue;
            nc_ctx_params p = nc_ctx_default_params();
            p.precision = m->prec;
            p.reference_kernels = m->reference;
            nc_ctx *ctx;
            CHECK_OK(nc_ctx_create(&p, &ctx));
            char tag[160];
            snprintf(tag, sizeof tag, "%s %s [%s]", rc->op, rc->name, m->name);
            int before = nc_test_failures;
            case_worst = 0;
            if (is_conv)
                run_conv(ctx, rc, m, tag);
            else if (!strcmp(rc->op, "lstm"))
                run_lstm(ctx, rc, m, tag);
            else
                run_pool(ctx, rc, m, tag);
            if (nc_ctx_status(ctx)) nc_test_fail(__FILE__, __LINE__, "%s: %s", tag, nc_last_error());
            printf("%-52s worst err %.2e  %s\n", tag, case_worst,
                   nc_test_failures == before ? "ok" : "FAILED");
            nc_ctx_free(ctx);
        }
    }
    return nc_test_finish("conv_ref");
}
