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

static inline v8f ld8(const float *p) {
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void st8(float *p, v8f v) { memcpy(p, &v, sizeof v); }

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
        v8f a0 = ld8(o), a1 = ld8(o + 8), a2 = ld8(o + 16), a3 = ld8(o + 24);
        v8f a4 = ld8(o + 32), a5 = ld8(o + 40), a6 = ld8(o + 48), a7 = ld8(o + 56);
        const float *ip = in + j + e0;
        for (int64_t k = 0; k < K; k++, ip += es) {
            v8f wv = (v8f){0} + w[k];
            a0 += wv * ld8(ip), a1 += wv * ld8(ip + 8), a2 += wv * ld8(ip + 16);
            a3 += wv * ld8(ip + 24), a4 += wv * ld8(ip + 32), a5 += wv * ld8(ip + 40);
            a6 += wv * ld8(ip + 48), a7 += wv * ld8(ip + 56);
        }
        st8(o, a0), st8(o + 8, a1), st8(o + 16, a2), st8(o + 24, a3);
        st8(o + 32, a4), st8(o + 40, a5), st8(o + 48, a6), st8(o + 56, a7);
    }
    for (; j + 8 <= b; j += 8) { /* the interior's tail, one vector at a time */
        v8f a0 = ld8(out + j);
        const float *ip = in + j + e0;
        for (int64_t k = 0; k < K; k++, ip += es) a0 += ((v8f){0} + w[k]) * ld8(ip);
        st8(out + j, a0);
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
#pragma omp simd reduction(+ : acc)
            for (int64_t i = lo; i < hi; i++) acc += dy[i] * x[i + off];
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
