/* Runs every registered gradient case and the op-registry completeness check. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "nc_test.h"

#define MAX_CASES 512
static const gc_case *all_cases[MAX_CASES];
static int n_cases;

void gc_register(const gc_case *cases, int n) {
    for (int i = 0; i < n && n_cases < MAX_CASES; i++) all_cases[n_cases++] = &cases[i];
}

/* Builds the inputs deterministically from a seed. */
static bool make_inputs(nc_ctx *ctx, const gc_case *c, nc_tensor **in, uint64_t seed) {
    nc_rng r;
    nc_rng_seed(&r, seed);
    for (int i = 0; i < c->n_in; i++) {
        const gc_input *s = &c->in[i];
        nc_dtype dt = s->kind == GC_INDEX ? NC_I64 : s->kind == GC_MASK ? NC_U8 : NC_F32;
        nc_tensor *t = nc_empty(ctx, dt, s->ndim, s->shape);
        if (!t) return false;
        int64_t n = nc_numel(t);
        if (dt == NC_F32) {
            float *d = t->data;
            if (s->kind == GC_POS || s->kind == GC_POS_CONST) {
                nc_rng_uniform(&r, d, n, 0.5f, 2.0f);
            } else if (s->kind == GC_DISTINCT) {
                /* a shuffled grid with spacing 0.1 around zero, never on zero */
                int64_t *perm = nc_scratch(ctx, (size_t)n * sizeof(int64_t));
                nc_rng_randperm(&r, perm, n);
                for (int64_t k = 0; k < n; k++) d[k] = 0.1f * (float)(perm[k] - n / 2) + 0.05f;
            } else {
                nc_rng_normal(&r, d, n, 0.0f, 1.0f);
            }
        } else if (dt == NC_I64) {
            nc_rng_randint(&r, t->data, n, 0, s->hi);
        } else {
            for (int64_t k = 0; k < n; k++) ((uint8_t *)t->data)[k] = (uint8_t)(nc_rng_u32(&r) & 1);
        }
        bool grad = s->kind == GC_GRAD || s->kind == GC_POS || s->kind == GC_DISTINCT;
        nc_requires_grad(t, grad);
        in[i] = t;
    }
    return true;
}

/* L = sum(w * out) in double, w fixed per case. */
static double weighted(const nc_tensor *out, const float *w) {
    double s = 0;
    const float *o = out->data;
    for (int64_t i = 0; i < nc_numel(out); i++) s += (double)o[i] * w[i];
    return s;
}

typedef struct run_result {
    float *out;
    int64_t n_out;
    float *grads[GC_MAX_IN];
} run_result;

/* Forward + backward on fresh inputs; copies results out of the arena. */
static bool run_case(const gc_case *c, bool reference, run_result *res, const float **wout) {
    nc_ctx_params p = nc_ctx_default_params();
    p.reference_kernels = reference;
    p.seed = 7;
    nc_ctx *ctx;
    if (nc_ctx_create(&p, &ctx)) return false;
    nc_set_training(ctx, c->train);
    nc_tensor *in[GC_MAX_IN];
    bool ok = make_inputs(ctx, c, in, 42);
    nc_tensor *out = ok ? c->fn(ctx, in) : NULL;
    if (!out) {
        fprintf(stderr, "FAIL %s [%s]: forward failed: %s\n", c->op, c->label, nc_last_error());
        nc_test_failures++;
        nc_ctx_free(ctx);
        return false;
    }
    res->n_out = nc_numel(out);
    res->out = malloc((size_t)(res->n_out ? res->n_out : 1) * sizeof(float));
    memcpy(res->out, out->data, (size_t)res->n_out * sizeof(float));
    static float *w;
    static int64_t wn;
    if (!*wout || wn < res->n_out) {
        free(w);
        w = malloc((size_t)(res->n_out ? res->n_out : 1) * sizeof(float));
        nc_rng r;
        nc_rng_seed(&r, 99);
        nc_rng_normal(&r, w, res->n_out, 0, 1);
        wn = res->n_out;
        *wout = w;
    }
    nc_tensor *wt = nc_from_data(ctx, NC_F32, out->ndim, out->shape, *wout);
    nc_status s = wt && nc_needs_grad(out) ? nc_backward_with(ctx, out, wt) : NC_OK;
    if (s) {
        fprintf(stderr, "FAIL %s [%s]: backward failed: %s\n", c->op, c->label, nc_last_error());
        nc_test_failures++;
    }
    for (int i = 0; i < c->n_in; i++) {
        res->grads[i] = NULL;
        if (!nc_needs_grad(in[i])) continue;
        int64_t n = nc_numel(in[i]);
        res->grads[i] = calloc((size_t)(n ? n : 1), sizeof(float));
        if (in[i]->grad) memcpy(res->grads[i], in[i]->grad->data, (size_t)n * sizeof(float));
    }
    nc_ctx_free(ctx);
    return s == NC_OK;
}

static void free_result(const gc_case *c, run_result *r) {
    free(r->out);
    for (int i = 0; i < c->n_in; i++) free(r->grads[i]);
}

/* Loss at the inputs with element k of input i moved by delta (no grad, reference kernels). */
static double loss_at(const gc_case *c, int i, int64_t k, float delta, const float *w) {
    nc_ctx_params p = nc_ctx_default_params();
    p.reference_kernels = 1;
    p.seed = 7;
    nc_ctx *ctx;
    if (nc_ctx_create(&p, &ctx)) return NAN;
    nc_set_training(ctx, c->train);
    nc_set_grad_enabled(ctx, false);
    nc_tensor *in[GC_MAX_IN];
    double L = NAN;
    if (make_inputs(ctx, c, in, 42)) {
        ((float *)in[i]->data)[k] += delta;
        nc_tensor *out = c->fn(ctx, in);
        if (out) L = weighted(out, w);
    }
    nc_ctx_free(ctx);
    return L;
}

static void check_case(const gc_case *c) {
    const float *w = NULL;
    run_result fast = {0}, ref = {0};
    if (!run_case(c, true, &ref, &w)) return;
    if (!run_case(c, false, &fast, &w)) {
        free_result(c, &ref);
        return;
    }
    char what[256];
    snprintf(what, sizeof what, "%s [%s] fast vs reference forward", c->op, c->label);
    nc_test_allclose(what, fast.out, ref.out, ref.n_out, 1e-4, 1e-5);
    double atol = c->atol > 0 ? c->atol : 2e-3, rtol = c->rtol > 0 ? c->rtol : 2e-2;
    float eps = c->eps > 0 ? c->eps : 1e-2f;
    for (int i = 0; i < c->n_in; i++) {
        if (!ref.grads[i]) continue;
        int64_t n = nc_dims_numel(c->in[i].ndim, c->in[i].shape);
        snprintf(what, sizeof what, "%s [%s] fast vs reference grad of input %d", c->op, c->label, i);
        nc_test_allclose(what, fast.grads[i], ref.grads[i], n, 1e-4, 1e-5);
        /* At most 48 elements per input, spread evenly, keep the test fast. */
        int64_t step = n > 48 ? n / 48 : 1;
        int64_t bad = 0, worst = -1;
        double worst_ex = 0, worst_num = 0;
        for (int64_t k = 0; k < n; k += step) {
            double lp = loss_at(c, i, k, eps, w), lm = loss_at(c, i, k, -eps, w);
            double num = (lp - lm) / (2.0 * eps);
            double an = ref.grads[i][k];
            double lim = atol + rtol * fabs(num);
            double d = fabs(an - num);
            if (!(d <= lim)) {
                bad++;
                if (worst < 0 || d - lim > worst_ex) worst = k, worst_ex = d - lim, worst_num = num;
            }
        }
        nc_test_checks++;
        if (bad) {
            nc_test_failures++;
            fprintf(stderr,
                    "FAIL %s [%s] input %d: %lld elements disagree with finite differences; "
                    "worst [%lld] analytic %.6g numeric %.6g (atol %g rtol %g eps %g)\n",
                    c->op, c->label, i, (long long)bad, (long long)worst, ref.grads[i][worst],
                    worst_num, atol, rtol, eps);
        }
    }
    free_result(c, &ref);
    free_result(c, &fast);
}

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    for (int i = 0; i < n_cases; i++) {
        if (only && strcmp(only, all_cases[i]->op) != 0) continue;
        int before = nc_test_failures;
        check_case(all_cases[i]);
        printf("%-16s %-36s %s\n", all_cases[i]->op, all_cases[i]->label,
               nc_test_failures == before ? "ok" : "FAILED");
    }
    /* Registry completeness: every op with a backward has at least one case. */
    int n_ops;
    const char *const *ops = nc_op_names(&n_ops);
    for (int k = 0; k < n_ops && !only; k++) {
        bool found = false;
        for (int i = 0; i < n_cases && !found; i++) found = strcmp(all_cases[i]->op, ops[k]) == 0;
        nc_test_checks++;
        if (!found) {
            nc_test_failures++;
            fprintf(stderr, "FAIL registry: op '%s' has no gradient test case\n", ops[k]);
        }
    }
    return nc_test_finish("gradcheck");
}
