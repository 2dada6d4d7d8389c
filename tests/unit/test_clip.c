/* Gradient clipping and the finite check: against torch.nn.utils.
 * clip_grad_norm_ (tests/ref/optim/clip_*.npy, gen_optim.py), norm within
 * 1e-6 relative and gradients within 1e-6 relative, a frozen tensor left out;
 * plus exact small cases, clip by value and NaN/Inf detection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/npy.h"
#include "nemoc/optim.h"

static const int64_t shapes[4][3] = {{4, 3, 0}, {5, 0, 0}, {2, 3, 2}, {1, 0, 0}};
static const int ndims[4] = {2, 1, 3, 1};
static const char *names[4] = {"l0.weight", "l0.bias", "l1.weight", "scale"};

static nc_params *make_params(void) {
    nc_params *p = NULL;
    if (nc_params_create(&p)) return NULL;
    for (int i = 0; i < 4; i++) nc_params_add(p, names[i], NC_PARAM_TRAINABLE, NC_F32, ndims[i], shapes[i]);
    nc_params_add(p, "bn.num_batches_tracked", NC_PARAM_BUFFER, NC_I64, 0, NULL);
    if (nc_params_finalize(p)) {
        nc_params_free(p);
        return NULL;
    }
    return p;
}

/* packed (concatenated) <-> the flat grad layout */
static void copy_grads(nc_params *p, float *packed, bool to_flat) {
    int64_t at = 0;
    for (int i = 0; i < 4; i++) {
        nc_tensor *t = nc_params_find(p, names[i]);
        int64_t n = nc_numel(t);
        if (to_flat)
            memcpy(nc_f32(t->grad), packed + at, (size_t)n * sizeof(float));
        else
            memcpy(packed + at, nc_f32(t->grad), (size_t)n * sizeof(float));
        at += n;
    }
}

/* Mirrors CLIP in gen_optim.py: (grads step, max_norm, frozen tensor). */
static void test_against_torch(void) {
    static const struct {
        int step;
        double max_norm;
        const char *frozen;
    } cases[3] = {{0, 1.0, NULL}, {1, 100.0, NULL}, {2, 0.5, "l0.bias"}};
    nc_tensor *grads = NULL, *norms = NULL, *want = NULL;
    CHECK_OK(nc_npy_load(nc_test_src("tests/ref/optim/grads.npy"), &grads));
    CHECK_OK(nc_npy_load(nc_test_src("tests/ref/optim/clip_norms.npy"), &norms));
    CHECK_OK(nc_npy_load(nc_test_src("tests/ref/optim/clip_grads.npy"), &want));
    nc_params *p = make_params();
    if (!grads || !norms || !want || !p) goto done;
    const int64_t N = grads->shape[1];
    float *got = malloc((size_t)N * sizeof(float));
    for (int c = 0; c < 3; c++) {
        copy_grads(p, nc_f32(grads) + cases[c].step * N, true);
        nc_params_set_frozen(p, "l0.bias", cases[c].frozen != NULL);
        double norm = -1;
        CHECK_OK(nc_clip_grad_norm(p, cases[c].max_norm, &norm));
        double wn = nc_f32(norms)[c];
        CHECK(fabs(norm - wn) <= 1e-6 * wn);
        copy_grads(p, got, false);
        char what[64];
        snprintf(what, sizeof what, "clip case %d", c);
        nc_test_allclose(what, got, nc_f32(want) + c * N, N, 1e-6, 1e-7);
        if (c == 1) /* below max_norm: untouched, bit for bit */
            CHECK(memcmp(got, nc_f32(grads) + N, (size_t)N * sizeof(float)) == 0);
        if (c == 2) /* the frozen tensor is neither counted nor scaled */
            CHECK(memcmp(got + 12, nc_f32(grads) + 2 * N + 12, 5 * sizeof(float)) == 0);
        printf("clip case %d: norm %.9g (torch %.9g)\n", c, norm, wn);
    }
    free(got);
done:
    nc_params_free(p);
    nc_tensor_free(grads);
    nc_tensor_free(norms);
    nc_tensor_free(want);
}

static void test_exact(void) {
    nc_params *p = make_params();
    if (!p) return;
    nc_params_zero_grad(p);
    nc_tensor *w = nc_params_find(p, "l0.weight"), *s = nc_params_find(p, "scale");
    nc_f32(w->grad)[0] = 3.0f;
    nc_f32(s->grad)[0] = -4.0f; /* norm 5 */
    CHECK(nc_grad_norm(p) == 5.0);
    double norm = 0;
    CHECK_OK(nc_clip_grad_norm(p, 10.0, &norm));
    CHECK(norm == 5.0 && nc_f32(w->grad)[0] == 3.0f);
    CHECK_OK(nc_clip_grad_norm(p, 1.0, &norm));
    CHECK(norm == 5.0);
    CHECK_NEAR(nc_f32(w->grad)[0], 3.0 / (5.0 + 1e-6), 1e-7);
    CHECK_NEAR(nc_f32(s->grad)[0], -4.0 / (5.0 + 1e-6), 1e-7);
    CHECK_NEAR(nc_grad_norm(p), 1.0, 1e-6);
    CHECK_OK(nc_clip_grad_norm(p, 1.0, NULL)); /* norm not wanted */
    CHECK(nc_clip_grad_norm(p, -1.0, &norm) == NC_ERR_INVALID_ARG);

    /* clip by value: clamp into [-0.5, 0.5]; zeros stay */
    nc_f32(w->grad)[1] = 0.25f;
    CHECK_OK(nc_clip_grad_value(p, 0.5));
    CHECK(nc_f32(w->grad)[0] == 0.5f && nc_f32(s->grad)[0] == -0.5f && nc_f32(w->grad)[1] == 0.25f);
    CHECK(nc_f32(w->grad)[2] == 0.0f);
    nc_params_free(p);
}

static void test_finite(void) {
    nc_params *p = make_params();
    if (!p) return;
    nc_params_zero_grad(p);
    CHECK(nc_grads_finite(p));
    nc_tensor *b = nc_params_find(p, "l0.bias"), *w2 = nc_params_find(p, "l1.weight");
    nc_f32(b->grad)[3] = NAN;
    CHECK(!nc_grads_finite(p));
    CHECK(isnan(nc_grad_norm(p)));
    double norm = 0;
    CHECK_OK(nc_clip_grad_norm(p, 1.0, &norm)); /* reports, leaves grads as they are */
    CHECK(isnan(norm) && isnan(nc_f32(b->grad)[3]));
    nc_params_set_frozen(p, "l0.bias", true); /* a frozen tensor's gradient does not count */
    CHECK(nc_grads_finite(p));
    nc_f32(w2->grad)[11] = -INFINITY;
    CHECK(!nc_grads_finite(p));
    CHECK(isinf(nc_grad_norm(p)));
    nc_params_free(p);
}

int main(void) {
    test_against_torch();
    test_exact();
    test_finite();
    return nc_test_finish("test_clip");
}
