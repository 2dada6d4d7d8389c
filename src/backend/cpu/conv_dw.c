/* Depthwise convolution (groups == Cin == Cout, weight (C, 1, KH, KW)).
 *
 * The Conformer convolution module runs a depthwise conv1d with k = 31 (or 9)
 * over (B, C, T) in every layer (NeMo nemo/collections/asr/parts/submodules/
 * conformer_modules.py, ConformerConvolution.depthwise_conv). As a gemm it
 * would be C products with M = 1, so it gets direct row kernels instead:
 * each plane (n, c) is independent, the loops over one tap are unit-stride
 * and vectorise, and the threads split batch x channel (channels alone for
 * the weight gradient, so no two threads write the same weight). */
#include "backend/cpu/conv.h"

#include <string.h>

/* Eight 8-float vectors (AVX2 registers; GCC/Clang vector extensions, which
 * lower to whatever the target has) accumulate a tile of 64 outputs: enough
 * independent FMA chains to hide their latency, and the tile stays in
 * registers while the taps stream past. A plain float[64] accumulator is
 * kept on the stack by the compilers, which costs a load and a store per FMA. */
typedef float v8f __attribute__((vector_size(32)));
#define DW_TILE 64

/* Vectors go through pointers, never by value: passing a 32-byte vector in
 * registers changes the ABI when the target lacks AVX (-Wpsabi). */
static inline void ld8(v8f *v, const float *p) { memcpy(v, p, sizeof *v); }
static inline void st8(float *p, const v8f *v) { memcpy(p, v, sizeof *v); }
/* *acc += *w * p[0:8] */
static inline void fma8(v8f *acc, const v8f *w, const float *p) {
    v8f x;
    memcpy(&x, p, sizeof x);
    *acc += *w * x;
}

/* sum_i a[i] * b[i] with four vector accumulators (one would wait on the
 * latency of each add). */
static float dot_row(const float *restrict a, const float *restrict b, int64_t n) {
    v8f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, x;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        ld8(&x, a + i), fma8(&s0, &x, b + i);
        ld8(&x, a + i + 8), fma8(&s1, &x, b + i + 8);
        ld8(&x, a + i + 16), fma8(&s2, &x, b + i + 16);
        ld8(&x, a + i + 24), fma8(&s3, &x, b + i + 24);
    }
    for (; i + 8 <= n; i += 8) ld8(&x, a + i), fma8(&s0, &x, b + i);
    v8f t = (s0 + s1) + (s2 + s3);
    float r = 0;
    for (int k = 0; k < 8; k++) r += t[k];
    for (; i < n; i++) r += a[i] * b[i];
    return r;
}

/* out[j] += sum_k w[k] * in[j + e0 + k*es] for j in [0, n_out), reading only
 * in[0, n_in) (the rest is padding). Forward is e0 = -p, es = d; backward-data
 * is the same correlation with the taps mirrored, e0 = p, es = -d. The
 * interior, where every tap is in range, runs in register tiles; the edges go
 * tap by tap over their valid range. */
static void corr_row(float *restrict out, int64_t n_out, const float *restrict in, int64_t n_in,
                     const float *restrict w, int64_t K, int64_t e0, int64_t es) {
    int64_t elo = es >= 0 ? e0 : e0 + (K - 1) * es, ehi = es >= 0 ? e0 + (K - 1) * es : e0;
    int64_t a = -elo < 0 ? 0 : -elo, b = n_in - ehi;
    if (a > n_out) a = n_out;
    if (b > n_out) b = n_out;
    if (b < a) b = a;
    int64_t j = a;
    for (; j + DW_TILE <= b; j += DW_TILE) {
        float *o = out + j;
        v8f a0, a1, a2, a3, a4, a5, a6, a7;
        ld8(&a0, o), ld8(&a1, o + 8), ld8(&a2, o + 16), ld8(&a3, o + 24);
        ld8(&a4, o + 32), ld8(&a5, o + 40), ld8(&a6, o + 48), ld8(&a7, o + 56);
        const float *ip = in + j + e0;
        for (int64_t k = 0; k < K; k++, ip += es) {
            v8f wv = (v8f){0} + w[k];
            fma8(&a0, &wv, ip), fma8(&a1, &wv, ip + 8), fma8(&a2, &wv, ip + 16);
            fma8(&a3, &wv, ip + 24), fma8(&a4, &wv, ip + 32), fma8(&a5, &wv, ip + 40);
            fma8(&a6, &wv, ip + 48), fma8(&a7, &wv, ip + 56);
        }
        st8(o, &a0), st8(o + 8, &a1), st8(o + 16, &a2), st8(o + 24, &a3);
        st8(o + 32, &a4), st8(o + 40, &a5), st8(o + 48, &a6), st8(o + 56, &a7);
    }
    for (; j + 8 <= b; j += 8) { /* the interior's tail, one vector at a time */
        v8f a0;
        ld8(&a0, out + j);
        const float *ip = in + j + e0;
        for (int64_t k = 0; k < K; k++, ip += es) {
            v8f wv = (v8f){0} + w[k];
            fma8(&a0, &wv, ip);
        }
        st8(out + j, &a0);
    }
    for (int64_t k = 0; k < K; k++) {
        int64_t e = e0 + k * es;
        int64_t lo = -e < 0 ? 0 : -e, hi = n_in - e < n_out ? n_in - e : n_out;
        float wv = w[k];
        int64_t end = hi < a ? hi : a;
#pragma omp simd
        for (int64_t i = lo; i < end; i++) out[i] += wv * in[i + e];
        int64_t beg = lo > j ? lo : j;
#pragma omp simd
        for (int64_t i = beg; i < hi; i++) out[i] += wv * in[i + e];
    }
}

/* y[o] += sum_k w[k] * x[o*s + k*d - p] for one row, o in [0, OW). */
static void row_forward(float *restrict y, const float *restrict x, const float *restrict w,
                        const nc_conv_geom *g) {
    int64_t s = g->sw;
    if (s == 1) {
        corr_row(y, g->OW, x, g->W, w, g->KW, -g->pw, g->dw);
        return;
    }
    for (int64_t k = 0; k < g->KW; k++) {
        int64_t off = k * g->dw - g->pw, lo, hi;
        nc_conv_valid_range(g->W, g->OW, s, off, &lo, &hi);
        float wv = w[k];
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) y[i] += wv * x[i * s + off];
    }
}

/* dx[o*s + k*d - p] += w[k] * dy[o] for one row. */
static void row_backward_data(float *restrict dx, const float *restrict dy,
                              const float *restrict w, const nc_conv_geom *g) {
    int64_t s = g->sw;
    if (s == 1) { /* dx[i] += sum_k w[k] * dy[i + p - k*d] */
        corr_row(dx, g->W, dy, g->OW, w, g->KW, g->pw, -g->dw);
        return;
    }
    for (int64_t k = 0; k < g->KW; k++) {
        int64_t off = k * g->dw - g->pw, lo, hi;
        nc_conv_valid_range(g->W, g->OW, s, off, &lo, &hi);
        float wv = w[k];
        for (int64_t i = lo; i < hi; i++) dx[i * s + off] += wv * dy[i];
    }
}

/* dw[k] += sum_o dy[o] * x[o*s + k*d - p] for one row. */
static void row_backward_weight(float *restrict dw, const float *restrict dy,
                                const float *restrict x, const nc_conv_geom *g) {
    int64_t s = g->sw;
    for (int64_t k = 0; k < g->KW; k++) {
        int64_t off = k * g->dw - g->pw, lo, hi;
        nc_conv_valid_range(g->W, g->OW, s, off, &lo, &hi);
        float acc = 0;
        if (s == 1) {
            acc = dot_row(dy + lo, x + lo + off, hi - lo);
        } else {
            for (int64_t i = lo; i < hi; i++) acc += dy[i] * x[i * s + off];
        }
        dw[k] += acc;
    }
}

bool nc_conv_is_depthwise(const nc_conv_geom *g) {
    return g->groups == g->Cin && g->Cout == g->Cin;
}

void nc_conv_dw_forward(const nc_conv_geom *g, bool threads, const float *x, const float *w,
                        float *y) {
    int64_t planes = g->N * g->Cin, HW = g->H * g->W, OHW = g->OH * g->OW, KK = g->KH * g->KW;
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t c = pl % g->Cin;
        const float *xp = x + pl * HW, *wp = w + c * KK;
        float *yp = y + pl * OHW;
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t kh = 0; kh < g->KH; kh++) {
                int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                row_forward(yp + oh * g->OW, xp + ih * g->W, wp + kh * g->KW, g);
            }
    }
}

void nc_conv_dw_backward_data(const nc_conv_geom *g, bool threads, const float *dy,
                              const float *w, float *dx) {
    int64_t planes = g->N * g->Cin, HW = g->H * g->W, OHW = g->OH * g->OW, KK = g->KH * g->KW;
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t c = pl % g->Cin;
        const float *gp = dy + pl * OHW, *wp = w + c * KK;
        float *dp = dx + pl * HW;
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t kh = 0; kh < g->KH; kh++) {
                int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                row_backward_data(dp + ih * g->W, gp + oh * g->OW, wp + kh * g->KW, g);
            }
    }
}

void nc_conv_dw_backward_weight(const nc_conv_geom *g, bool threads, const float *dy,
                                const float *x, float *dw) {
    int64_t C = g->Cin, HW = g->H * g->W, OHW = g->OH * g->OW, KK = g->KH * g->KW;
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        float *wp = dw + c * KK;
        for (int64_t n = 0; n < g->N; n++) {
            const float *gp = dy + (n * C + c) * OHW, *xp = x + (n * C + c) * HW;
            for (int64_t oh = 0; oh < g->OH; oh++)
                for (int64_t kh = 0; kh < g->KH; kh++) {
                    int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                    if (ih < 0 || ih >= g->H) continue;
                    row_backward_weight(wp + kh * g->KW, gp + oh * g->OW, xp + ih * g->W, g);
                }
        }
    }
}
