/* Vectorised exp and the activations built on it.
 *
 * glibc's expf is a function call the compilers do not vectorise without
 * -ffast-math (which the build refuses, see CMakeLists.txt), so softmax,
 * SiLU, sigmoid and GLU loops calling it run one element at a time (about
 * 15 ns each). A scalar inline exp does not help either: GCC 12 threads the
 * jumps of its range clamps into control flow it then cannot if-convert. So
 * the kernels here are written on 16-float vectors (GCC/Clang vector
 * extensions, one AVX-512 register, lowered to narrower registers on other
 * targets), array in, array out, with the tail padded through a buffer.
 *
 * exp follows Cephes expf (Moshier, cephes/single/expf.c): x = n ln2 + r with
 * |r| <= ln2/2 (ln2 split in two parts so r is exact), e^r by a degree-6
 * polynomial, scaled by 2^n built in the exponent bits; inputs clamped to
 * [-88.38, 88.38], and 0 below about -87.3. Measured over [-87, 88]: at most
 * 1.4 ulp from the exact value (torch's CPU kernels use Sleef's 1-ulp exp;
 * results agree to a few ulp, far inside every reference tolerance).
 *
 * Vectors are passed by pointer: by value they change the ABI on targets
 * without 64-byte registers (-Wpsabi). */
#ifndef NC_BACKEND_CPU_VMATH_H
#define NC_BACKEND_CPU_VMATH_H

#include <stdint.h>
#include <string.h>

typedef float nc_v16f __attribute__((vector_size(64)));
typedef int32_t nc_v16i __attribute__((vector_size(64)));

#define NC_V16(c) ((nc_v16f){0} + (float)(c))

/* where m: a, else b (m from a vector comparison: all ones or zero per lane) */
static inline void nc_v16_select(nc_v16f *out, const nc_v16i *m, const nc_v16f *a,
                                 const nc_v16f *b) {
    *out = (nc_v16f)(((nc_v16i)*a & *m) | ((nc_v16i)*b & ~*m));
}

/* *x = e^*x lane-wise */
static inline void nc_v16_exp(nc_v16f *x) {
    const nc_v16f hi = NC_V16(88.3762626647949f), lo = NC_V16(-88.3762626647949f);
    nc_v16f v = *x;
    nc_v16i m = v > hi;
    nc_v16_select(&v, &m, &hi, &v);
    m = v < lo;
    nc_v16_select(&v, &m, &lo, &v);
    nc_v16f fx = v * 1.44269504088896341f + 0.5f;
    nc_v16f t = __builtin_convertvector(__builtin_convertvector(fx, nc_v16i), nc_v16f);
    m = t > fx; /* truncation rounded a negative value up: floor is one less */
    fx = t - (nc_v16f)((nc_v16i)NC_V16(1.0f) & m);
    v = v - fx * 0.693359375f + fx * 2.12194440e-4f;
    nc_v16f z = v * v;
    nc_v16f y = NC_V16(1.9875691500e-4f);
    y = y * v + 1.3981999507e-3f;
    y = y * v + 8.3334519073e-3f;
    y = y * v + 4.1665795894e-2f;
    y = y * v + 1.6666665459e-1f;
    y = y * v + 5.0000001201e-1f;
    y = y * z + v + 1.0f;
    nc_v16i e = (__builtin_convertvector(fx, nc_v16i) + 127) << 23; /* 2^n; n = -127 gives +0 */
    *x = y * (nc_v16f)e;
}

static inline void nc_v16_load(nc_v16f *v, const float *p) { memcpy(v, p, sizeof *v); }
static inline void nc_v16_store(float *p, const nc_v16f *v) { memcpy(p, v, sizeof *v); }

/* Loads the n < 16 tail elements of p, padding with `pad`. */
static inline void nc_v16_load_tail(nc_v16f *v, const float *p, int64_t n, float pad) {
    float b[16];
    for (int i = 0; i < 16; i++) b[i] = i < n ? p[i] : pad;
    memcpy(v, b, sizeof *v);
}
static inline void nc_v16_store_tail(float *p, const nc_v16f *v, int64_t n) {
    float b[16];
    memcpy(b, v, sizeof b);
    for (int64_t i = 0; i < n; i++) p[i] = b[i];
}

static inline float nc_v16_hsum(const nc_v16f *v) {
    float b[16];
    memcpy(b, v, sizeof b);
    float s = 0;
    for (int i = 0; i < 16; i++) s += b[i];
    return s;
}

/* y[i] = e^x[i] (y may be x) */
static inline void nc_vexp(float *y, const float *x, int64_t n) {
    int64_t i = 0;
    nc_v16f v;
    for (; i + 16 <= n; i += 16) {
        nc_v16_load(&v, x + i);
        nc_v16_exp(&v);
        nc_v16_store(y + i, &v);
    }
    if (i < n) {
        nc_v16_load_tail(&v, x + i, n - i, 0.0f);
        nc_v16_exp(&v);
        nc_v16_store_tail(y + i, &v, n - i);
    }
}

/* Scalar e^x with the same result as nc_vexp (for odd single values). */
static inline float nc_expf1(float x) {
    float y;
    nc_vexp(&y, &x, 1);
    return y;
}

/* y[i] = 1 / (1 + e^-x[i]) */
static inline void nc_vsigmoid(float *y, const float *x, int64_t n) {
    int64_t i = 0;
    nc_v16f v;
    for (; i < n; i += 16) {
        int64_t k = n - i < 16 ? n - i : 16;
        if (k == 16) nc_v16_load(&v, x + i);
        else nc_v16_load_tail(&v, x + i, k, 0.0f);
        v = -v;
        nc_v16_exp(&v);
        v = 1.0f / (1.0f + v);
        if (k == 16) nc_v16_store(y + i, &v);
        else nc_v16_store_tail(y + i, &v, k);
    }
}

/* y[i] = x[i] / (1 + e^-x[i]) (SiLU, NeMo's Swish) */
static inline void nc_vsilu(float *y, const float *x, int64_t n) {
    int64_t i = 0;
    nc_v16f v, e;
    for (; i < n; i += 16) {
        int64_t k = n - i < 16 ? n - i : 16;
        if (k == 16) nc_v16_load(&v, x + i);
        else nc_v16_load_tail(&v, x + i, k, 0.0f);
        e = -v;
        nc_v16_exp(&e);
        v = v / (1.0f + e);
        if (k == 16) nc_v16_store(y + i, &v);
        else nc_v16_store_tail(y + i, &v, k);
    }
}

/* erf lane-wise by Abramowitz & Stegun 7.1.26: for x >= 0,
 * erf(x) = 1 - (a1 t + a2 t^2 + ... + a5 t^5) e^{-x^2}, t = 1 / (1 + p x),
 * odd-extended; absolute error below 1.5e-7 (so GELU, which multiplies it
 * by x/2, keeps about 7 digits where its value matters). */
static inline void nc_v16_erf(nc_v16f *x) {
    nc_v16f v = *x;
    nc_v16i neg = v < 0.0f;
    nc_v16f a = (nc_v16f)((nc_v16i)v & ((nc_v16i){0} + INT32_MAX)); /* |x| */
    nc_v16f t = 1.0f / (1.0f + 0.3275911f * a);
    nc_v16f y = NC_V16(1.061405429f);
    y = y * t - 1.453152027f;
    y = y * t + 1.421413741f;
    y = y * t - 0.284496736f;
    y = y * t + 0.254829592f;
    y = y * t;
    nc_v16f e = -(a * a);
    nc_v16_exp(&e);
    y = 1.0f - y * e;
    nc_v16f ny = -y;
    nc_v16_select(x, &neg, &ny, &y);
}

/* y = x/2 (1 + erf(x / sqrt 2)) (exact GELU, torch's default) */
static inline void nc_vgelu(float *y, const float *x, int64_t n) {
    nc_v16f v, e;
    for (int64_t i = 0; i < n; i += 16) {
        int64_t k = n - i < 16 ? n - i : 16;
        if (k == 16) nc_v16_load(&v, x + i);
        else nc_v16_load_tail(&v, x + i, k, 0.0f);
        e = v * 0.70710678118654752440f;
        nc_v16_erf(&e);
        v = 0.5f * v * (1.0f + e);
        if (k == 16) nc_v16_store(y + i, &v);
        else nc_v16_store_tail(y + i, &v, k);
    }
}

/* d[i] = GELU'(x[i]) = Phi(x) + x phi(x) */
static inline void nc_vgelu_deriv(float *d, const float *x, int64_t n) {
    nc_v16f v, e, p;
    for (int64_t i = 0; i < n; i += 16) {
        int64_t k = n - i < 16 ? n - i : 16;
        if (k == 16) nc_v16_load(&v, x + i);
        else nc_v16_load_tail(&v, x + i, k, 0.0f);
        e = v * 0.70710678118654752440f;
        nc_v16_erf(&e);
        p = -0.5f * v * v;
        nc_v16_exp(&p);
        v = 0.5f * (1.0f + e) + v * p * 0.39894228040143267794f;
        if (k == 16) nc_v16_store(d + i, &v);
        else nc_v16_store_tail(d + i, &v, k);
    }
}

/* GELU's tanh approximation, 0.5 x (1 + tanh(u)) with u = sqrt(2/pi)(x +
 * 0.044715 x^3), computed as x * sigmoid(2u) (the same function:
 * (1 + tanh u) / 2 = sigmoid(2u)), so one exp per lane and no cancellation. */
static inline void nc_vgelu_tanh(float *y, const float *x, int64_t n) {
    nc_v16f v, e;
    for (int64_t i = 0; i < n; i += 16) {
        int64_t k = n - i < 16 ? n - i : 16;
        if (k == 16) nc_v16_load(&v, x + i);
        else nc_v16_load_tail(&v, x + i, k, 0.0f);
        e = -1.5957691216057308f * (v + 0.044715f * v * v * v); /* -2u */
        nc_v16_exp(&e);
        v = v / (1.0f + e);
        if (k == 16) nc_v16_store(y + i, &v);
        else nc_v16_store_tail(y + i, &v, k);
    }
}

/* d[i] = d/dx x sigmoid(2u) = s + x s (1 - s) 2u', s = sigmoid(2u),
 * 2u' = 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2) */
static inline void nc_vgelu_tanh_deriv(float *d, const float *x, int64_t n) {
    nc_v16f v, e;
    for (int64_t i = 0; i < n; i += 16) {
        int64_t k = n - i < 16 ? n - i : 16;
        if (k == 16) nc_v16_load(&v, x + i);
        else nc_v16_load_tail(&v, x + i, k, 0.0f);
        e = -1.5957691216057308f * (v + 0.044715f * v * v * v);
        nc_v16_exp(&e);
        nc_v16f sg = 1.0f / (1.0f + e);
        v = sg + v * sg * (1.0f - sg) * (1.5957691216057308f * (1.0f + 0.134145f * v * v));
        if (k == 16) nc_v16_store(d + i, &v);
        else nc_v16_store_tail(d + i, &v, k);
    }
}

#endif
