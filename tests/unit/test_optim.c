/* Optimizers against PyTorch (tests/ref/optim, gen_optim.py): 20 steps of
 * SGD / Adam / AdamW (torch.optim) and Novograd (NeMo's formulas) on four
 * small tensors with fixed gradients and a per-step lr; parameters must match
 * after every step within 1e-6 relative to the array's scale (1e-5 for
 * Novograd, whose per-tensor norm torch accumulates in float). Also: frozen
 * tensors, thread-count independence on tensors spanning several chunks,
 * state export/import, hyper-parameter checks and out-of-memory paths. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/npy.h"
#include "nemoc/optim.h"
#include "nemoc/rng.h"

#define STEPS 20
#define FROZEN "l0.bias" /* tensor 1, frozen before step 10 in the *_frozen cases */
#define UNFREEZE_AT 10

static const int64_t shapes[4][3] = {{4, 3, 0}, {5, 0, 0}, {2, 3, 2}, {1, 0, 0}};
static const int ndims[4] = {2, 1, 3, 1};
static const char *names[4] = {"l0.weight", FROZEN, "l1.weight", "scale"};

/* Mirrors CASES in tests/ref/gen_optim.py. */
typedef struct optim_case {
    const char *file;
    nc_optim_params p;
    bool frozen;
} optim_case;

static optim_case make_case(const char *file, nc_optim_kind kind, bool frozen) {
    return (optim_case){.file = file, .p = nc_optim_default_params(kind), .frozen = frozen};
}

static int build_cases(optim_case *c) {
    int n = 0;
    c[n] = make_case("sgd", NC_OPTIM_SGD, false);
    c[n++].p.lr = 0.1;
    c[n] = make_case("sgd_momentum", NC_OPTIM_SGD, false);
    c[n].p.lr = 0.05, c[n].p.momentum = 0.9, c[n].p.dampening = 0.1, c[n++].p.weight_decay = 1e-2;
    c[n] = make_case("sgd_nesterov", NC_OPTIM_SGD, false);
    c[n].p.lr = 0.05, c[n].p.momentum = 0.9, c[n].p.nesterov = true, c[n++].p.weight_decay = 1e-2;
    c[n] = make_case("adam", NC_OPTIM_ADAM, false);
    c[n++].p.lr = 1e-2;
    c[n] = make_case("adam_wd_amsgrad", NC_OPTIM_ADAM, false);
    c[n].p.lr = 1e-2, c[n].p.betas[0] = 0.8, c[n].p.betas[1] = 0.99, c[n].p.eps = 1e-6;
    c[n].p.weight_decay = 0.1, c[n++].p.amsgrad = true;
    c[n] = make_case("adamw", NC_OPTIM_ADAMW, false);
    c[n].p.lr = 1e-2, c[n].p.betas[1] = 0.98, c[n++].p.weight_decay = 0.05;
    c[n] = make_case("adamw_amsgrad", NC_OPTIM_ADAMW, false);
    c[n].p.lr = 2e-2, c[n].p.weight_decay = 1e-2, c[n++].p.amsgrad = true;
    c[n] = make_case("novograd", NC_OPTIM_NOVOGRAD, false);
    c[n].p.lr = 1e-2, c[n++].p.weight_decay = 1e-3;
    c[n] = make_case("novograd_ga_amsgrad", NC_OPTIM_NOVOGRAD, false);
    c[n].p.lr = 1e-2, c[n].p.betas[0] = 0.9, c[n].p.betas[1] = 0.5, c[n].p.weight_decay = 1e-3;
    c[n].p.grad_averaging = true, c[n++].p.amsgrad = true;
    c[n] = make_case("novograd_luc", NC_OPTIM_NOVOGRAD, false);
    c[n].p.lr = 1e-2, c[n].p.luc = true, c[n++].p.luc_trust = 1e-2;
    c[n] = make_case("sgd_frozen", NC_OPTIM_SGD, true);
    c[n].p.lr = 0.05, c[n].p.momentum = 0.9, c[n++].p.weight_decay = 1e-2;
    c[n] = make_case("adam_frozen", NC_OPTIM_ADAM, true);
    c[n].p.lr = 1e-2, c[n++].p.weight_decay = 1e-2;
    c[n] = make_case("novograd_frozen", NC_OPTIM_NOVOGRAD, true);
    c[n].p.lr = 1e-2, c[n++].p.weight_decay = 1e-3;
    return n;
}

static nc_tensor *load(const char *file) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/ref/optim/%s.npy", file);
    nc_tensor *t = NULL;
    if (nc_npy_load(nc_test_src(rel), &t) != NC_OK || t->dtype != NC_F32) {
        nc_test_fail(__FILE__, __LINE__, "cannot load %s: %s", rel, nc_last_error());
        nc_tensor_free(t);
        return NULL;
    }
    return t;
}

static nc_params *small_params(void) {
    nc_params *p = NULL;
    if (nc_params_create(&p)) return NULL;
    for (int i = 0; i < 4; i++) nc_params_add(p, names[i], NC_PARAM_TRAINABLE, NC_F32, ndims[i], shapes[i]);
    if (nc_params_finalize(p)) {
        nc_params_free(p);
        return NULL;
    }
    return p;
}

/* Copies a concatenated (packed) vector into / out of the flat layout. */
static void unpack(nc_params *p, float *flat, const float *packed) {
    int64_t at = 0;
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        int64_t n = nc_numel(nc_params_at(p, i));
        memcpy(flat + nc_params_offset_at(p, i), packed + at, (size_t)n * sizeof(float));
        at += n;
    }
}
static void pack(nc_params *p, float *packed, const float *flat) {
    int64_t at = 0;
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        int64_t n = nc_numel(nc_params_at(p, i));
        memcpy(packed + at, flat + nc_params_offset_at(p, i), (size_t)n * sizeof(float));
        at += n;
    }
}

static double lr_at(double base, int k) { return base * (0.5 + 0.05 * k); }

/* Sets the step-k gradients; a frozen tensor gets garbage that must be ignored. */
static void set_grads(nc_params *p, const float *packed, bool frozen_now) {
    unpack(p, nc_params_flat_grad(p), packed);
    nc_params_set_frozen(p, FROZEN, frozen_now);
    if (frozen_now) {
        nc_tensor *t = nc_params_find(p, FROZEN);
        for (int64_t j = 0; j < nc_numel(t); j++) nc_f32(t->grad)[j] = 1e30f;
    }
}

static void test_against_torch(void) {
    nc_tensor *p0 = load("params0"), *grads = load("grads");
    if (!p0 || !grads) return;
    const int64_t N = p0->shape[0];
    optim_case cases[16];
    int nc = build_cases(cases);
    float *got = malloc((size_t)N * sizeof(float));
    for (int c = 0; c < nc; c++) {
        const optim_case *oc = &cases[c];
        nc_tensor *want = load(oc->file);
        nc_params *p = small_params();
        nc_optim *o = NULL;
        if (!want || !p) goto next;
        CHECK(want->shape[0] == STEPS && want->shape[1] == N);
        unpack(p, nc_params_flat_data(p), nc_f32(p0));
        CHECK_OK(nc_optim_create(p, &oc->p, &o));
        if (!o) goto next;
        const double tol = oc->p.kind == NC_OPTIM_NOVOGRAD ? 1e-5 : 1e-6;
        double worst = 0;
        for (int k = 0; k < STEPS; k++) {
            bool frozen_now = oc->frozen && k < UNFREEZE_AT;
            set_grads(p, nc_f32(grads) + (int64_t)k * N, frozen_now);
            nc_optim_set_lr(o, lr_at(oc->p.lr, k));
            CHECK_OK(nc_optim_step(o));
            pack(p, got, nc_params_flat_data(p));
            const float *w = nc_f32(want) + (int64_t)k * N;
            double err = nc_test_rel_err(got, w, N);
            if (err > worst) worst = err;
            nc_test_checks++;
            if (!(err <= tol))
                nc_test_fail(__FILE__, __LINE__, "%s step %d: relative error %.3g > %g", oc->file, k, err,
                             tol);
            if (frozen_now) { /* torch skips a parameter whose grad is None */
                CHECK(memcmp(got + 12, nc_f32(p0) + 12, 5 * sizeof(float)) == 0);
            }
        }
        printf("optim %-20s worst relative error %.3g (tol %g)\n", oc->file, worst, tol);
    next:
        nc_optim_free(o);
        nc_params_free(p);
        nc_tensor_free(want);
    }
    free(got);
    nc_tensor_free(p0);
    nc_tensor_free(grads);
}

/* Tensors of 70001, 33 and 40000 elements: several chunks each. */
static nc_params *big_params(uint64_t seed) {
    nc_params *p = NULL;
    if (nc_params_create(&p)) return NULL;
    nc_params_add(p, "a", NC_PARAM_TRAINABLE, NC_F32, NC_DIMS(70001));
    nc_params_add(p, "bn.running_mean", NC_PARAM_BUFFER, NC_F32, NC_DIMS(7));
    nc_params_add(p, "b", NC_PARAM_TRAINABLE, NC_F32, NC_DIMS(3, 11));
    nc_params_add(p, "c", NC_PARAM_TRAINABLE, NC_F32, NC_DIMS(200, 200));
    if (nc_params_finalize(p)) {
        nc_params_free(p);
        return NULL;
    }
    nc_rng r;
    nc_rng_seed(&r, seed);
    nc_rng_normal(&r, nc_params_flat_data(p), nc_params_flat_size(p), 0.0f, 1.0f);
    return p;
}

static void fill_grads(nc_params *p, uint64_t seed) {
    nc_rng r;
    nc_rng_seed(&r, seed);
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        if (nc_params_kind_at(p, i) != NC_PARAM_TRAINABLE) continue;
        nc_tensor *t = nc_params_at(p, i);
        nc_rng_normal(&r, nc_f32(t->grad), nc_numel(t), 0.0f, (float)(i + 1));
    }
}

/* Runs `steps` steps and returns a copy of the flat parameters. */
static float *run_big(const nc_optim_params *op, int threads, int steps) {
    nc_params *p = big_params(7);
    nc_optim *o = NULL;
    float *out = NULL;
    if (!p || nc_optim_create(p, op, &o)) goto done;
    omp_set_num_threads(threads);
    for (int k = 0; k < steps; k++) {
        fill_grads(p, 100 + (uint64_t)k);
        nc_optim_set_lr(o, 1e-2 * (1 + k));
        nc_optim_step(o);
    }
    omp_set_num_threads(2);
    out = malloc((size_t)nc_params_flat_size(p) * sizeof(float));
    memcpy(out, nc_params_flat_data(p), (size_t)nc_params_flat_size(p) * sizeof(float));
done:
    nc_optim_free(o);
    nc_params_free(p);
    return out;
}

/* Naive double-precision Novograd on the big tensors, for the chunked norms. */
static void test_big(void) {
    nc_optim_params ops[3] = {nc_optim_default_params(NC_OPTIM_NOVOGRAD),
                              nc_optim_default_params(NC_OPTIM_ADAMW),
                              nc_optim_default_params(NC_OPTIM_SGD)};
    ops[0].weight_decay = 1e-3, ops[0].luc = true, ops[0].luc_trust = 0.1;
    ops[2].momentum = 0.9, ops[2].nesterov = true;
    nc_params *shape = big_params(7);
    const int64_t flat = nc_params_flat_size(shape);
    for (int i = 0; i < 3; i++) {
        float *one = run_big(&ops[i], 1, 3), *two = run_big(&ops[i], 2, 3);
        CHECK(one && two);
        if (one && two)
            CHECK(memcmp(one, two, (size_t)flat * sizeof(float)) == 0); /* same bits for any threads */
        free(one);
        free(two);
    }
    /* novograd (luc) against a per-tensor reference in double */
    float *got = run_big(&ops[0], 2, 3);
    nc_params *p = big_params(7);
    float *x = nc_params_flat_data(p);
    double *m = calloc((size_t)flat, sizeof(double));
    double v[4] = {0};
    for (int k = 0; k < 3; k++) {
        fill_grads(p, 100 + (uint64_t)k);
        double lr = 1e-2 * (1 + k);
        for (int64_t i = 0; i < nc_params_count(p); i++) {
            if (nc_params_kind_at(p, i) != NC_PARAM_TRAINABLE) continue;
            nc_tensor *t = nc_params_at(p, i);
            const float *g = nc_f32(t->grad);
            float *xi = nc_f32(t);
            double *mi = m + nc_params_offset_at(p, i);
            int64_t n = nc_numel(t);
            double n2 = 0, dn = 0, mn = 0;
            for (int64_t j = 0; j < n; j++) n2 += (double)g[j] * g[j], dn += (double)xi[j] * xi[j];
            v[i] = v[i] == 0 ? n2 : v[i] * 0.98 + 0.02 * n2;
            double denom = sqrt(v[i]) + 1e-8;
            for (int64_t j = 0; j < n; j++) {
                mi[j] = 0.95 * mi[j] + g[j] / denom + 1e-3 * xi[j];
                mn += mi[j] * mi[j];
            }
            double f = fmin(0.1 * sqrt(dn) / (sqrt(mn) + 1e-8), lr);
            for (int64_t j = 0; j < n; j++) xi[j] = (float)(xi[j] - f * mi[j]);
        }
    }
    if (got) {
        double err = nc_test_rel_err(got, x, flat);
        nc_test_checks++;
        if (!(err <= 1e-5)) nc_test_fail(__FILE__, __LINE__, "big novograd: rel err %.3g > 1e-5", err);
        printf("optim novograd (chunked, luc) vs double reference: rel err %.3g\n", err);
    }
    free(got);
    free(m);
    nc_params_free(p);
    nc_params_free(shape);
}

/* 10 steps, export, import into a fresh optimizer, 10 more == 20 straight. */
static void test_state_roundtrip(void) {
    nc_optim_params ops[3] = {nc_optim_default_params(NC_OPTIM_ADAM),
                              nc_optim_default_params(NC_OPTIM_NOVOGRAD),
                              nc_optim_default_params(NC_OPTIM_SGD)};
    ops[0].amsgrad = true, ops[0].weight_decay = 0.01;
    ops[1].amsgrad = true;
    ops[2].momentum = 0.9;
    for (int c = 0; c < 3; c++) {
        float *straight = run_big(&ops[c], 2, 20);
        nc_params *p = big_params(7);
        nc_optim *a = NULL, *b = NULL;
        CHECK_OK(nc_optim_create(p, &ops[c], &a));
        CHECK_OK(nc_optim_create(p, &ops[c], &b));
        if (!a || !b || !straight) goto next;
        for (int k = 0; k < 20; k++) {
            if (k == 10) { /* a checkpoint: copies of a's state go into b */
                size_t bytes = 0;
                for (int64_t i = 0; i < nc_optim_state_count(a); i++) {
                    nc_tensor view, *copy = NULL;
                    const char *nm = nc_optim_state_at(a, i, &view);
                    CHECK(nm && view.name == nm);
                    bytes += nc_nbytes(&view);
                    CHECK_OK(nc_tensor_clone(&view, &copy));
                    if (copy) CHECK_OK(nc_optim_state_load(b, nm, copy));
                    nc_tensor_free(copy);
                }
                CHECK(bytes == nc_optim_state_bytes(a));
                nc_optim_free(a);
                a = b;
                b = NULL;
            }
            fill_grads(p, 100 + (uint64_t)k);
            nc_optim_set_lr(a, 1e-2 * (1 + k));
            CHECK_OK(nc_optim_step(a));
        }
        CHECK(memcmp(straight, nc_params_flat_data(p), (size_t)nc_params_flat_size(p) * sizeof(float)) == 0);
    next:
        free(straight);
        nc_optim_free(a);
        nc_optim_free(b);
        nc_params_free(p);
    }
}

static void test_state_layout(void) {
    nc_params *p = big_params(1);
    const int64_t flat = nc_params_flat_size(p), nt = 3;
    nc_optim_params op = nc_optim_default_params(NC_OPTIM_ADAMW);
    op.amsgrad = true;
    nc_optim *o = NULL;
    CHECK_OK(nc_optim_create(p, &op, &o));
    if (o) {
        CHECK(nc_optim_state_count(o) == 4);
        CHECK(nc_optim_state_bytes(o) == (size_t)(3 * flat * 4 + nt * 8));
        nc_tensor v;
        CHECK(strcmp(nc_optim_state_at(o, 0, &v), "exp_avg") == 0 && v.shape[0] == flat);
        CHECK(strcmp(nc_optim_state_at(o, 3, &v), "step") == 0 && v.dtype == NC_I64 && v.shape[0] == nt);
        CHECK(nc_optim_state_at(o, 4, &v) == NULL);
        nc_tensor *bad = NULL;
        CHECK_OK(nc_tensor_new(NC_F32, NC_DIMS(flat - 1), &bad));
        CHECK(nc_optim_state_load(o, "exp_avg", bad) == NC_ERR_SHAPE);
        CHECK(nc_optim_state_load(o, "step", bad) == NC_ERR_DTYPE);
        CHECK(nc_optim_state_load(o, "momentum_buffer", bad) == NC_ERR_NOT_FOUND);
        nc_tensor_free(bad);
    }
    nc_optim_free(o);
    /* Novograd keeps one second moment per tensor; plain SGD keeps only steps */
    op = nc_optim_default_params(NC_OPTIM_NOVOGRAD);
    CHECK_OK(nc_optim_create(p, &op, &o));
    if (o) CHECK(nc_optim_state_bytes(o) == (size_t)(flat * 4 + nt * 4 + nt * 8));
    nc_optim_free(o);
    op = nc_optim_default_params(NC_OPTIM_SGD);
    CHECK_OK(nc_optim_create(p, &op, &o));
    if (o) CHECK(nc_optim_state_count(o) == 1 && nc_optim_state_bytes(o) == (size_t)(nt * 8));
    nc_optim_free(o);
    nc_params_free(p);
}

static void test_names_and_checks(void) {
    nc_optim_kind k = NC_OPTIM_SGD;
    CHECK_OK(nc_optim_kind_from_name("adamw", &k));
    CHECK(k == NC_OPTIM_ADAMW);
    CHECK_OK(nc_optim_kind_from_name("novograd", &k));
    CHECK(k == NC_OPTIM_NOVOGRAD && strcmp(nc_optim_kind_name(k), "novograd") == 0);
    CHECK(nc_optim_kind_from_name("lamb", &k) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "lamb") != NULL);
    nc_optim_params d = nc_optim_default_params(NC_OPTIM_ADAMW);
    CHECK(d.weight_decay == 1e-2 && d.betas[0] == 0.9 && d.betas[1] == 0.999 && d.eps == 1e-8);
    d = nc_optim_default_params(NC_OPTIM_NOVOGRAD);
    CHECK(d.betas[0] == 0.95 && d.betas[1] == 0.98 && d.weight_decay == 0 && !d.grad_averaging);

    nc_params *p = small_params();
    nc_optim *o = NULL;
    nc_optim_params bad = nc_optim_default_params(NC_OPTIM_SGD);
    bad.nesterov = true; /* without momentum */
    CHECK(nc_optim_create(p, &bad, &o) == NC_ERR_CONFIG && !o);
    bad = nc_optim_default_params(NC_OPTIM_ADAM);
    bad.betas[1] = 1.0;
    CHECK(nc_optim_create(p, &bad, &o) == NC_ERR_CONFIG && strstr(nc_last_error(), "betas[1]"));
    bad = nc_optim_default_params(NC_OPTIM_NOVOGRAD);
    bad.lr = -1;
    CHECK(nc_optim_create(p, &bad, &o) == NC_ERR_CONFIG);
    bad = nc_optim_default_params(NC_OPTIM_ADAMW);
    bad.eps = NAN;
    CHECK(nc_optim_create(p, &bad, &o) == NC_ERR_CONFIG);
    nc_params_free(p);
    nc_params *unfinished = NULL;
    CHECK_OK(nc_params_create(&unfinished));
    d = nc_optim_default_params(NC_OPTIM_ADAM);
    CHECK(nc_optim_create(unfinished, &d, &o) == NC_ERR_INVALID_ARG);
    nc_params_free(unfinished);
}

/* Every allocation of nc_optim_create failing in turn: a clean NC_ERR_OOM
 * and nothing leaked. */
static void test_oom(void) {
    nc_params *p = small_params();
    nc_optim_params op = nc_optim_default_params(NC_OPTIM_ADAM);
    op.amsgrad = true;
    for (int64_t fail = 1; fail < 40; fail++) {
        nc_debug_alloc dbg = {.fail_at = fail};
        nc_allocator da = nc_debug_allocator(&dbg);
        nc_allocator prev = nc_set_allocator(&da);
        nc_optim *o = NULL;
        nc_status st = nc_optim_create(p, &op, &o);
        nc_optim_free(o);
        nc_set_allocator(&prev);
        CHECK(st == NC_OK || st == NC_ERR_OOM);
        CHECK(dbg.live_blocks == 0);
        if (st == NC_OK) {
            CHECK(fail > 1);
            break;
        }
    }
    nc_params_free(p);
}

/* Megatron's no-weight-decay group: with zero gradients a decayed tensor
 * shrinks by exactly the decay factor (AdamW) and an excluded one keeps its
 * values; for Adam's and SGD's L2 term the excluded tensor does not move. */
static void test_no_decay(void) {
    static const nc_optim_kind kinds[] = {NC_OPTIM_ADAMW, NC_OPTIM_ADAM, NC_OPTIM_SGD, NC_OPTIM_NOVOGRAD};
    for (int ki = 0; ki < 4; ki++) {
        nc_params *p = NULL;
        CHECK_OK(nc_params_create(&p));
        nc_tensor *w = nc_params_add(p, "w", NC_PARAM_TRAINABLE, NC_F32, NC_DIMS(4, 3));
        nc_tensor *b = nc_params_add(p, "b", NC_PARAM_TRAINABLE, NC_F32, NC_DIMS(5));
        CHECK_OK(nc_params_finalize(p));
        nc_params_set_no_decay(p, b, true);
        CHECK(nc_params_no_decay_at(p, 1) && !nc_params_no_decay_at(p, 0));
        for (int i = 0; i < 12; i++) nc_f32(w)[i] = 1.0f + 0.1f * (float)i;
        for (int i = 0; i < 5; i++) nc_f32(b)[i] = 2.0f - 0.2f * (float)i;
        nc_optim_params op = nc_optim_default_params(kinds[ki]);
        op.lr = 0.1;
        op.weight_decay = 0.5;
        nc_optim *o = NULL;
        CHECK_OK(nc_optim_create(p, &op, &o));
        nc_params_zero_grad(p);
        CHECK_OK(nc_optim_step(o));
        for (int i = 0; i < 5; i++) CHECK(nc_f32(b)[i] == 2.0f - 0.2f * (float)i);
        if (kinds[ki] == NC_OPTIM_ADAMW)
            for (int i = 0; i < 12; i++) CHECK(nc_f32(w)[i] == (1.0f + 0.1f * (float)i) * (float)(1.0 - 0.1 * 0.5));
        else
            CHECK(nc_f32(w)[11] < 1.0f + 0.1f * 11.0f);
        nc_optim_free(o);
        nc_params_free(p);
    }
}

int main(void) {
    test_no_decay();
    test_against_torch();
    test_big();
    test_state_roundtrip();
    test_state_layout();
    test_names_and_checks();
    test_oom();
    return nc_test_finish("test_optim");
}
