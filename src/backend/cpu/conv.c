/* Convolution dispatch and the im2col + gemm path.
 *
 * For sample n and group g, unfolding the input into columns
 *   col[(ci*KH + kh)*KW + kw, oh*OW + ow] = x[n, g*Cg + ci, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
 * (zero in the padding) turns the convolution into
 *   y[n, g] (Og, P) += w[g] (Og, Cg*KH*KW) @ col (Cg*KH*KW, P),          P = OH*OW
 * and its gradients into
 *   dcol = w[g]^T @ dy[n, g]  (folded back into dx by col2im),
 *   dw[g] += dy[n, g] @ col^T,
 * as PyTorch's slow_conv2d does (aten/src/ATen/native/ConvolutionMM2d.cpp).
 * Samples are unfolded a chunk at a time so the scratch stays bounded, and a
 * chunk's products run as one batched gemm. A sample whose columns alone
 * exceed the budget (the Conformer's subsampling convs: 50 MB per utterance)
 * is unfolded a block of output rows at a time instead, each block's
 * product taken while its columns are still in cache. A 1x1 stride-1
 * unpadded conv needs no unfolding: x[n, g] already is its column matrix. */
#include "backend/cpu/conv.h"

#include <string.h>

/* Column scratch per pass is capped near this many floats (8 MiB, about what
 * stays in the last-level cache between unfolding and the product) unless
 * the exec says otherwise; a block always holds at least one output row. */
#define COL_BUDGET ((int64_t)2 << 20)

static bool is_pointwise(const nc_conv_geom *g) {
    return g->KH == 1 && g->KW == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
           g->OH == g->H && g->OW == g->W;
}

static int64_t col_per_sample(const nc_conv_geom *g) {
    return g->Cin * g->KH * g->KW * g->OH * g->OW;
}

static int64_t chunk_samples(const nc_conv_geom *g, const nc_conv_exec *e) {
    int64_t per = col_per_sample(g), budget = e->col_budget > 0 ? e->col_budget : COL_BUDGET;
    int64_t nb = per > 0 ? budget / per : g->N;
    if (nb < 1) nb = 1;
    if (nb > g->N) nb = g->N;
    return nb;
}

/* Output rows per block when one sample's columns exceed the budget (0: no
 * row blocking, whole samples are chunked). */
static int64_t block_rows(const nc_conv_geom *g, const nc_conv_exec *e) {
    int64_t budget = e->col_budget > 0 ? e->col_budget : COL_BUDGET;
    if (col_per_sample(g) <= budget || g->OH <= 1) return 0;
    int64_t per_row = g->Cin * g->KH * g->KW * g->OW;
    int64_t rb = budget / (per_row ? per_row : 1);
    return rb < 1 ? 1 : rb;
}

int64_t nc_conv_work_floats(const nc_conv_geom *g, nc_conv_pass pass, const nc_conv_exec *e) {
    (void)pass;
    if (e->reference || nc_conv_is_depthwise(g) || is_pointwise(g)) return 0;
    int64_t rb = block_rows(g, e);
    if (rb) return g->Cin * g->KH * g->KW * g->OW * rb;
    return chunk_samples(g, e) * col_per_sample(g);
}

/* Unfolds output rows [oh0, oh1) of one kernel tap (kh, kw) of one input
 * plane xp (H, W) into cp ((oh1 - oh0) * OW). */
static void unfold_tap(const nc_conv_geom *g, const float *xp, int64_t kh, int64_t kw, int64_t oh0,
                       int64_t oh1, float *cp) {
    int64_t off = kw * g->dw - g->pw, lo, hi;
    nc_conv_valid_range(g->W, g->OW, g->sw, off, &lo, &hi);
    for (int64_t oh = oh0; oh < oh1; oh++) {
        float *row = cp + (oh - oh0) * g->OW;
        int64_t ih = oh * g->sh - g->ph + kh * g->dh;
        if (ih < 0 || ih >= g->H) {
            memset(row, 0, (size_t)g->OW * sizeof(float));
            continue;
        }
        const float *xr = xp + ih * g->W;
        for (int64_t o = 0; o < lo; o++) row[o] = 0.0f;
        if (g->sw == 1)
            memcpy(row + lo, xr + lo + off, (size_t)(hi - lo) * sizeof(float));
        else
            for (int64_t o = lo; o < hi; o++) row[o] = xr[o * g->sw + off];
        for (int64_t o = hi; o < g->OW; o++) row[o] = 0.0f;
    }
}

/* The adjoint of unfold_tap: adds cp ((oh1 - oh0) * OW) back into the
 * input plane dp (H, W). */
static void fold_tap(const nc_conv_geom *g, const float *cp, int64_t kh, int64_t kw, int64_t oh0,
                     int64_t oh1, float *dp) {
    int64_t off = kw * g->dw - g->pw, lo, hi;
    nc_conv_valid_range(g->W, g->OW, g->sw, off, &lo, &hi);
    for (int64_t oh = oh0; oh < oh1; oh++) {
        int64_t ih = oh * g->sh - g->ph + kh * g->dh;
        if (ih < 0 || ih >= g->H) continue;
        float *dr = dp + ih * g->W;
        const float *cr = cp + (oh - oh0) * g->OW;
        if (g->sw == 1)
            for (int64_t o = lo; o < hi; o++) dr[o + off] += cr[o];
        else
            for (int64_t o = lo; o < hi; o++) dr[o * g->sw + off] += cr[o];
    }
}

/* Unfolds output rows [oh0, oh1) of planes [0, planes) of x (planes, H, W)
 * into col (planes*KH*KW, (oh1 - oh0) * OW): one sample's row block, or
 * (oh0, oh1) = (0, OH) over nb samples' planes at once. */
static void im2col_rows(const nc_conv_geom *g, bool threads, int64_t planes, const float *x,
                        int64_t oh0, int64_t oh1, float *col) {
    int64_t KK = g->KH * g->KW, rows = planes * KK, P = (oh1 - oh0) * g->OW;
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t k = r % KK;
        unfold_tap(g, x + (r / KK) * g->H * g->W, k / g->KW, k % g->KW, oh0, oh1, col + r * P);
    }
}

/* Folds col (planes*KH*KW, (oh1 - oh0) * OW) back, adding into dx (planes,
 * H, W). One thread owns each input plane, so overlapping windows never race. */
static void col2im_rows(const nc_conv_geom *g, bool threads, int64_t planes, const float *col,
                        int64_t oh0, int64_t oh1, float *dx) {
    int64_t KK = g->KH * g->KW, P = (oh1 - oh0) * g->OW;
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t k = 0; k < KK; k++)
            fold_tap(g, col + (pl * KK + k) * P, k / g->KW, k % g->KW, oh0, oh1,
                     dx + pl * g->H * g->W);
}

static nc_status gemm(const nc_conv_exec *e, const nc_gemm_args *a) {
    return nc_cpu_gemm(e->engine, e->prec, false, a);
}

nc_status nc_conv_forward(const nc_conv_geom *g, const nc_conv_exec *e, const float *x,
                          const float *w, float *y) {
    if (e->reference) {
        nc_conv_ref_forward(g, x, w, y);
        return NC_OK;
    }
    if (nc_conv_is_depthwise(g)) {
        nc_conv_dw_forward(g, e->threads, x, w, y);
        return NC_OK;
    }
    int64_t Cg = g->Cin / g->groups, Og = g->Cout / g->groups, KK = g->KH * g->KW;
    int64_t CK = Cg * KK, P = g->OH * g->OW, HW = g->H * g->W;
    bool pw = is_pointwise(g);
    int64_t rb = pw ? 0 : block_rows(g, e);
    for (int64_t n = 0; rb && n < g->N; n++)
        for (int64_t oh0 = 0; oh0 < g->OH; oh0 += rb) {
            int64_t oh1 = oh0 + rb < g->OH ? oh0 + rb : g->OH, nc = (oh1 - oh0) * g->OW;
            im2col_rows(g, e->threads, g->Cin, x + n * g->Cin * HW, oh0, oh1, e->work);
            for (int64_t gr = 0; gr < g->groups; gr++) {
                nc_gemm_args a = {
                    .M = Og, .N = nc, .K = CK, .alpha = 1.0f, .beta = 1.0f,
                    .A = w + gr * Og * CK, .lda = CK, .B = e->work + gr * CK * nc, .ldb = nc,
                    .C = y + (n * g->Cout + gr * Og) * P + oh0 * g->OW, .ldc = P, .batch = 1,
                };
                nc_status s = gemm(e, &a);
                if (s) return s;
            }
        }
    if (rb) return NC_OK;
    int64_t nb = pw ? g->N : chunk_samples(g, e);
    for (int64_t n0 = 0; n0 < g->N; n0 += nb) {
        int64_t cnt = g->N - n0 < nb ? g->N - n0 : nb;
        const float *cols = x + n0 * g->Cin * HW;
        int64_t cstride = g->Cin * HW;
        if (!pw) {
            im2col_rows(g, e->threads, cnt * g->Cin, cols, 0, g->OH, e->work);
            cols = e->work;
            cstride = g->Cin * KK * P;
        }
        for (int64_t gr = 0; gr < g->groups; gr++) {
            nc_gemm_args a = {
                .M = Og, .N = P, .K = CK, .alpha = 1.0f, .beta = 1.0f,
                .A = w + gr * Og * CK, .lda = CK, .stride_a = 0,
                .B = cols + gr * CK * P, .ldb = P, .stride_b = cstride,
                .C = y + (n0 * g->Cout + gr * Og) * P, .ldc = P, .stride_c = g->Cout * P,
                .batch = cnt,
            };
            nc_status s = gemm(e, &a);
            if (s) return s;
        }
    }
    return NC_OK;
}

nc_status nc_conv_backward_data(const nc_conv_geom *g, const nc_conv_exec *e, const float *dy,
                                const float *w, float *dx) {
    if (e->reference) {
        nc_conv_ref_backward_data(g, dy, w, dx);
        return NC_OK;
    }
    if (nc_conv_is_depthwise(g)) {
        nc_conv_dw_backward_data(g, e->threads, dy, w, dx);
        return NC_OK;
    }
    int64_t Cg = g->Cin / g->groups, Og = g->Cout / g->groups, KK = g->KH * g->KW;
    int64_t CK = Cg * KK, P = g->OH * g->OW, HW = g->H * g->W;
    bool pw = is_pointwise(g);
    int64_t rb = pw ? 0 : block_rows(g, e);
    for (int64_t n = 0; rb && n < g->N; n++)
        for (int64_t oh0 = 0; oh0 < g->OH; oh0 += rb) {
            int64_t oh1 = oh0 + rb < g->OH ? oh0 + rb : g->OH, nc = (oh1 - oh0) * g->OW;
            for (int64_t gr = 0; gr < g->groups; gr++) {
                nc_gemm_args a = {
                    .ta = true, .M = CK, .N = nc, .K = Og, .alpha = 1.0f, .beta = 0.0f,
                    .A = w + gr * Og * CK, .lda = CK,
                    .B = dy + (n * g->Cout + gr * Og) * P + oh0 * g->OW, .ldb = P,
                    .C = e->work + gr * CK * nc, .ldc = nc, .batch = 1,
                };
                nc_status s = gemm(e, &a);
                if (s) return s;
            }
            col2im_rows(g, e->threads, g->Cin, e->work, oh0, oh1, dx + n * g->Cin * HW);
        }
    if (rb) return NC_OK;
    int64_t nb = pw ? g->N : chunk_samples(g, e);
    for (int64_t n0 = 0; n0 < g->N; n0 += nb) {
        int64_t cnt = g->N - n0 < nb ? g->N - n0 : nb;
        /* 1x1: dx[n, g] (Cg, P) += w[g]^T @ dy[n, g] directly; else into dcol. */
        float *dst = pw ? dx + n0 * g->Cin * HW : e->work;
        int64_t dstride = pw ? g->Cin * HW : g->Cin * KK * P;
        for (int64_t gr = 0; gr < g->groups; gr++) {
            nc_gemm_args a = {
                .ta = true, .M = CK, .N = P, .K = Og, .alpha = 1.0f, .beta = pw ? 1.0f : 0.0f,
                .A = w + gr * Og * CK, .lda = CK, .stride_a = 0,
                .B = dy + (n0 * g->Cout + gr * Og) * P, .ldb = P, .stride_b = g->Cout * P,
                .C = dst + gr * CK * P, .ldc = P, .stride_c = dstride,
                .batch = cnt,
            };
            nc_status s = gemm(e, &a);
            if (s) return s;
        }
        if (!pw) col2im_rows(g, e->threads, cnt * g->Cin, e->work, 0, g->OH, dx + n0 * g->Cin * HW);
    }
    return NC_OK;
}

nc_status nc_conv_backward_weight(const nc_conv_geom *g, const nc_conv_exec *e, const float *dy,
                                  const float *x, float *dw) {
    if (e->reference) {
        nc_conv_ref_backward_weight(g, dy, x, dw);
        return NC_OK;
    }
    if (nc_conv_is_depthwise(g)) {
        nc_conv_dw_backward_weight(g, e->threads, dy, x, dw);
        return NC_OK;
    }
    int64_t Cg = g->Cin / g->groups, Og = g->Cout / g->groups, KK = g->KH * g->KW;
    int64_t CK = Cg * KK, P = g->OH * g->OW, HW = g->H * g->W;
    bool pw = is_pointwise(g);
    int64_t rb = pw ? 0 : block_rows(g, e);
    for (int64_t n = 0; rb && n < g->N; n++)
        for (int64_t oh0 = 0; oh0 < g->OH; oh0 += rb) {
            int64_t oh1 = oh0 + rb < g->OH ? oh0 + rb : g->OH, nc = (oh1 - oh0) * g->OW;
            im2col_rows(g, e->threads, g->Cin, x + n * g->Cin * HW, oh0, oh1, e->work);
            for (int64_t gr = 0; gr < g->groups; gr++) {
                nc_gemm_args a = {
                    .tb = true, .M = Og, .N = CK, .K = nc, .alpha = 1.0f, .beta = 1.0f,
                    .A = dy + (n * g->Cout + gr * Og) * P + oh0 * g->OW, .lda = P,
                    .B = e->work + gr * CK * nc, .ldb = nc,
                    .C = dw + gr * Og * CK, .ldc = CK, .batch = 1,
                };
                nc_status s = gemm(e, &a);
                if (s) return s;
            }
        }
    if (rb) return NC_OK;
    int64_t nb = pw ? g->N : chunk_samples(g, e);
    for (int64_t n0 = 0; n0 < g->N; n0 += nb) {
        int64_t cnt = g->N - n0 < nb ? g->N - n0 : nb;
        const float *cols = x + n0 * g->Cin * HW;
        int64_t cstride = g->Cin * HW;
        if (!pw) {
            im2col_rows(g, e->threads, cnt * g->Cin, cols, 0, g->OH, e->work);
            cols = e->work;
            cstride = g->Cin * KK * P;
        }
        /* dw[g] (Og, CK) += dy[n, g] (Og, P) @ col[n, g]^T; the sum over n is
         * a chain of beta = 1 products (a batched gemm cannot reduce). */
        for (int64_t i = 0; i < cnt; i++)
            for (int64_t gr = 0; gr < g->groups; gr++) {
                nc_gemm_args a = {
                    .tb = true, .M = Og, .N = CK, .K = P, .alpha = 1.0f, .beta = 1.0f,
                    .A = dy + ((n0 + i) * g->Cout + gr * Og) * P, .lda = P,
                    .B = cols + i * cstride + gr * CK * P, .ldb = P,
                    .C = dw + gr * Og * CK, .ldc = CK,
                    .batch = 1,
                };
                nc_status s = gemm(e, &a);
                if (s) return s;
            }
    }
    return NC_OK;
}

void nc_conv_backward_bias(int64_t N, int64_t C, int64_t P, bool threads, const float *dy,
                           float *db) {
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double acc = 0;
        for (int64_t n = 0; n < N; n++) {
            const float *r = dy + (n * C + c) * P;
            float s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t p = 0; p < P; p++) s += r[p];
            acc += s;
        }
        db[c] += (float)acc;
    }
}

void nc_conv_fill_bias(int64_t N, int64_t C, int64_t P, bool threads, const float *bias,
                       float *y) {
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t r = 0; r < N * C; r++) {
        float v = bias ? bias[r % C] : 0.0f;
        float *yr = y + r * P;
        for (int64_t p = 0; p < P; p++) yr[p] = v;
    }
}
