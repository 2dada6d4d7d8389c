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

/* Output columns per register tile in the stride-1 interior. */
#define DW_TILE 16

/* y[o] += sum_k w[k] * x[o*s + k*d - p] for one row, o in [0, OW). */
static void row_forward(float *restrict y, const float *restrict x, const float *restrict w,
                        const nc_conv_geom *g) {
    int64_t W = g->W, OW = g->OW, KW = g->KW, s = g->sw, p = g->pw, d = g->dw;
    if (s == 1) {
        /* Interior [a, b): every tap lands inside the row, so a tile of
         * outputs stays in registers while the taps stream past. */
        int64_t a = p, b = W + p - (KW - 1) * d;
        if (a > OW) a = OW;
        if (b > OW) b = OW;
        if (b < a) b = a;
        int64_t o = a;
        for (; o + DW_TILE <= b; o += DW_TILE) {
            float acc[DW_TILE];
            for (int j = 0; j < DW_TILE; j++) acc[j] = y[o + j];
            for (int64_t k = 0; k < KW; k++) {
                const float *xp = x + o + k * d - p;
                float wv = w[k];
                for (int j = 0; j < DW_TILE; j++) acc[j] += wv * xp[j];
            }
            for (int j = 0; j < DW_TILE; j++) y[o + j] = acc[j];
        }
        /* Edges (and the interior's tail): one tap at a time over its valid range. */
        for (int64_t k = 0; k < KW; k++) {
            int64_t off = k * d - p, lo, hi;
            nc_conv_valid_range(W, OW, 1, off, &lo, &hi);
            float wv = w[k];
            int64_t e0 = lo < a ? lo : a, e1 = hi < a ? hi : a;
            for (int64_t i = e0; i < e1; i++) y[i] += wv * x[i + off];
            e0 = lo > o ? lo : o;
            for (int64_t i = e0; i < hi; i++) y[i] += wv * x[i + off];
        }
        return;
    }
    for (int64_t k = 0; k < KW; k++) {
        int64_t off = k * d - p, lo, hi;
        nc_conv_valid_range(W, OW, s, off, &lo, &hi);
        float wv = w[k];
        for (int64_t i = lo; i < hi; i++) y[i] += wv * x[i * s + off];
    }
}

/* dx[o*s + k*d - p] += w[k] * dy[o] for one row. */
static void row_backward_data(float *restrict dx, const float *restrict dy,
                              const float *restrict w, const nc_conv_geom *g) {
    int64_t s = g->sw;
    for (int64_t k = 0; k < g->KW; k++) {
        int64_t off = k * g->dw - g->pw, lo, hi;
        nc_conv_valid_range(g->W, g->OW, s, off, &lo, &hi);
        float wv = w[k];
        if (s == 1)
            for (int64_t i = lo; i < hi; i++) dx[i + off] += wv * dy[i];
        else
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
