/* layer_norm, batch_norm and group_norm against torch 1.13 (fixtures:
 * tests/ref/gen_norm.py). Forward outputs must agree to 1e-5 absolute;
 * gradients (of sum(y * g)) to 1e-4 relative to the largest reference
 * magnitude of each gradient; batch_norm's updated running statistics to
 * 1e-6 (+1e-6 relative) and num_batches_tracked exactly. Each case runs with
 * the fast and the reference kernels. */
#include <math.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/ctx.h"
#include "nemoc/npy.h"
#include "nemoc/ops.h"

typedef enum kind { LN, BN, GN } kind;

typedef struct ref_case {
    const char *name;
    kind kind;
    bool affine;
    float eps, momentum;
    bool train;
    int64_t groups;
} ref_case;

/* Mirrors CASES in tests/ref/gen_norm.py. */
static const ref_case cases[] = {
    {.name = "ln_affine", .kind = LN, .affine = true, .eps = 1e-5f},
    {.name = "ln_plain", .kind = LN, .affine = false, .eps = 1e-5f},
    {.name = "ln_wide", .kind = LN, .affine = true, .eps = 1e-6f},
    {.name = "bn_train_nct", .kind = BN, .affine = true, .eps = 1e-5f, .momentum = 0.1f, .train = true},
    {.name = "bn_train_nc", .kind = BN, .affine = true, .eps = 1e-5f, .momentum = 0.3f, .train = true},
    {.name = "bn_train_plain", .kind = BN, .affine = false, .eps = 1e-3f, .momentum = 0.1f, .train = true},
    {.name = "bn_train_nchw", .kind = BN, .affine = true, .eps = 1e-5f, .momentum = 0.1f, .train = true},
    {.name = "bn_eval_nct", .kind = BN, .affine = true, .eps = 1e-5f, .momentum = 0.1f, .train = false},
    {.name = "bn_eval_nc", .kind = BN, .affine = true, .eps = 1e-5f, .momentum = 0.1f, .train = false},
    {.name = "gn_nct", .kind = GN, .affine = true, .eps = 1e-5f, .groups = 4},
    {.name = "gn_nchw", .kind = GN, .affine = true, .eps = 1e-5f, .groups = 3},
    {.name = "gn_plain", .kind = GN, .affine = false, .eps = 1e-5f, .groups = 2},
};

static double worst_y, worst_grad, worst_stat;

static nc_tensor *load(const char *name, const char *key) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/ref/norm/%s.%s.npy", name, key);
    nc_tensor *t = NULL;
    nc_status s = nc_npy_load(nc_test_src(rel), &t);
    if (s) nc_test_fail(__FILE__, __LINE__, "loading %s: %s", rel, nc_last_error());
    return t;
}

/* An arena copy of a heap tensor, optionally needing a gradient. */
static nc_tensor *to_ctx(nc_ctx *ctx, const nc_tensor *t, bool grad) {
    nc_tensor *c = nc_from_data(ctx, t->dtype, t->ndim, t->shape, t->data);
    if (c) nc_requires_grad(c, grad);
    return c;
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void check_grad(const char *what, const nc_tensor *got, const nc_tensor *want) {
    nc_test_checks++;
    if (!got) {
        nc_test_fail(__FILE__, __LINE__, "%s: no gradient", what);
        return;
    }
    double e = nc_test_rel_err(got->data, want->data, nc_numel(want));
    if (e > worst_grad) worst_grad = e;
    if (!(e <= 1e-4)) nc_test_fail(__FILE__, __LINE__, "%s: relative error %.3g > 1e-4", what, e);
}

static void run(const ref_case *rc, bool reference) {
    const char *mode = reference ? "reference" : "fast";
    nc_tensor *x = load(rc->name, "x"), *g = load(rc->name, "g"), *y_ref = load(rc->name, "y"),
              *dx_ref = load(rc->name, "dx");
    nc_tensor *w = NULL, *b = NULL, *dw_ref = NULL, *db_ref = NULL;
    nc_tensor *rm = NULL, *rv = NULL, *rm_after = NULL, *rv_after = NULL, *nbt_after = NULL;
    if (rc->affine) {
        w = load(rc->name, "weight");
        b = load(rc->name, "bias");
        dw_ref = load(rc->name, "dweight");
        db_ref = load(rc->name, "dbias");
    }
    if (rc->kind == BN) {
        rm = load(rc->name, "running_mean");
        rv = load(rc->name, "running_var");
        rm_after = load(rc->name, "running_mean_after");
        rv_after = load(rc->name, "running_var_after");
        nbt_after = load(rc->name, "num_batches_tracked_after");
    }
    nc_ctx_params p = nc_ctx_default_params();
    p.reference_kernels = reference;
    nc_ctx *ctx = NULL;
    CHECK_OK(nc_ctx_create(&p, &ctx));
    if (!ctx || !x || !g || !y_ref || !dx_ref) goto done;
    nc_set_training(ctx, rc->train);
    nc_tensor *cx = to_ctx(ctx, x, true);
    nc_tensor *cw = w ? to_ctx(ctx, w, true) : NULL, *cb = b ? to_ctx(ctx, b, true) : NULL;
    nc_tensor *crm = rm ? to_ctx(ctx, rm, false) : NULL, *crv = rv ? to_ctx(ctx, rv, false) : NULL;
    int64_t nbt_data = 3;
    nc_tensor nbt;
    CHECK_OK(nc_tensor_init(&nbt, NC_I64, NC_DIMS(1), &nbt_data));
    nc_tensor *y = NULL;
    if (rc->kind == LN)
        y = nc_layer_norm(ctx, cx, cw, cb, rc->eps);
    else if (rc->kind == GN)
        y = nc_group_norm(ctx, cx, rc->groups, cw, cb, rc->eps);
    else
        y = nc_batch_norm(ctx, cx, cw, cb, crm, crv, &nbt, rc->momentum, rc->eps);
    char what[160];
    snprintf(what, sizeof what, "%s (%s) y", rc->name, mode);
    CHECK(y != NULL);
    if (!y) {
        nc_test_fail(__FILE__, __LINE__, "%s: %s", what, nc_last_error());
        goto done;
    }
    nc_test_allclose(what, y->data, y_ref->data, nc_numel(y_ref), 0.0, 1e-5);
    worst_y = fmax(worst_y, max_abs_diff(y->data, y_ref->data, nc_numel(y_ref)));
    nc_tensor *cg = to_ctx(ctx, g, false);
    CHECK_OK(nc_backward_with(ctx, y, cg));
    snprintf(what, sizeof what, "%s (%s) dx", rc->name, mode);
    check_grad(what, cx->grad, dx_ref);
    if (rc->affine) {
        snprintf(what, sizeof what, "%s (%s) dweight", rc->name, mode);
        check_grad(what, cw->grad, dw_ref);
        snprintf(what, sizeof what, "%s (%s) dbias", rc->name, mode);
        check_grad(what, cb->grad, db_ref);
    }
    if (rc->kind == BN) {
        snprintf(what, sizeof what, "%s (%s) running_mean after", rc->name, mode);
        nc_test_allclose(what, crm->data, rm_after->data, nc_numel(rm_after), 1e-6, 1e-6);
        snprintf(what, sizeof what, "%s (%s) running_var after", rc->name, mode);
        nc_test_allclose(what, crv->data, rv_after->data, nc_numel(rv_after), 1e-6, 1e-6);
        CHECK(nbt_data == nc_i64(nbt_after)[0]);
        worst_stat = fmax(worst_stat, max_abs_diff(crm->data, rm_after->data, nc_numel(rm_after)));
        worst_stat = fmax(worst_stat, max_abs_diff(crv->data, rv_after->data, nc_numel(rv_after)));
    }
done:
    nc_ctx_free(ctx);
    nc_tensor *all[] = {x, g, y_ref, dx_ref, w, b, dw_ref, db_ref, rm, rv, rm_after, rv_after, nbt_after};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nc_tensor_free(all[i]);
}

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run(&cases[i], false);
        run(&cases[i], true);
    }
    printf("norm_ref: max |y - torch| %.3g, max gradient relative error %.3g, "
           "max running-stat diff %.3g\n", worst_y, worst_grad, worst_stat);
    return nc_test_finish("norm_ref");
}
