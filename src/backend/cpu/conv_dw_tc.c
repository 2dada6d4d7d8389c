/* Depthwise conv over time in (B, T, C) (see conv_dw_tc.h).
 *
 * Forward and backward-data are the same correlation,
 *     out[i, c] = sum_k w[k, c] * in[i + k + off, c]   (in rows outside [0, n_in) are 0),
 * forward with off = -pad_left, backward-data with the taps mirrored and
 * off = pad_left - (K - 1). Each output row is built in registers, 64
 * channels (four 16-float vectors) at a time, while the K input rows (a few
 * KiB, in L1) stream past. */
#include "backend/cpu/conv_dw_tc.h"

#include <string.h>

#include "backend/cpu/vmath.h"

enum { ROW_BLOCK = 64 };

/* out row (C) = base + sum over valid taps; base NULL means 0, and with acc
 * the existing out row is the base. */
static void corr_row(float *out, const float *in, int64_t n_in, int64_t i, int64_t off,
                     const float *w, int64_t K, int64_t C, const float *base, bool acc) {
    int64_t k0 = -(i + off), k1 = n_in - (i + off); /* valid taps: 0 <= i + k + off < n_in */
    if (k0 < 0) k0 = 0;
    if (k1 > K) k1 = K;
    const int64_t r0 = i + off; /* input row of tap 0 (may lie outside; only valid taps are read) */
    int64_t c = 0;
    for (; c + 64 <= C; c += 64) {
        nc_v16f a0, a1, a2, a3, x, wv;
        if (acc) {
            nc_v16_load(&a0, out + c), nc_v16_load(&a1, out + c + 16);
            nc_v16_load(&a2, out + c + 32), nc_v16_load(&a3, out + c + 48);
        } else if (base) {
            nc_v16_load(&a0, base + c), nc_v16_load(&a1, base + c + 16);
            nc_v16_load(&a2, base + c + 32), nc_v16_load(&a3, base + c + 48);
        } else {
            a0 = a1 = a2 = a3 = NC_V16(0.0f);
        }
        for (int64_t k = k0; k < k1; k++) {
            const float *xr = in + (r0 + k) * C + c, *wr = w + k * C + c;
            nc_v16_load(&wv, wr), nc_v16_load(&x, xr), a0 += wv * x;
            nc_v16_load(&wv, wr + 16), nc_v16_load(&x, xr + 16), a1 += wv * x;
            nc_v16_load(&wv, wr + 32), nc_v16_load(&x, xr + 32), a2 += wv * x;
            nc_v16_load(&wv, wr + 48), nc_v16_load(&x, xr + 48), a3 += wv * x;
        }
        nc_v16_store(out + c, &a0), nc_v16_store(out + c + 16, &a1);
        nc_v16_store(out + c + 32, &a2), nc_v16_store(out + c + 48, &a3);
    }
    for (; c + 16 <= C; c += 16) {
        nc_v16f a, x, wv;
        if (acc) nc_v16_load(&a, out + c);
        else if (base) nc_v16_load(&a, base + c);
        else a = NC_V16(0.0f);
        for (int64_t k = k0; k < k1; k++) {
            nc_v16_load(&wv, w + k * C + c), nc_v16_load(&x, in + (r0 + k) * C + c);
            a += wv * x;
        }
        nc_v16_store(out + c, &a);
    }
    for (; c < C; c++) {
        float a = acc ? out[c] : (base ? base[c] : 0.0f);
        for (int64_t k = k0; k < k1; k++) a += w[k * C + c] * in[(r0 + k) * C + c];
        out[c] = a;
    }
}

void nc_dwtc_forward(const nc_dwtc_geom *g, bool threads, const float *x, const float *wt,
                     const float *bias, float *y) {
    const int64_t T = g->T, To = g->To, C = g->C;
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t r = 0; r < g->B * To; r++) {
        int64_t b = r / To, t = r % To;
        corr_row(y + r * C, x + b * T * C, T, t, -g->pad_left, wt, g->K, C, bias, false);
    }
}

void nc_dwtc_backward_data(const nc_dwtc_geom *g, bool threads, const float *dy,
                           const float *wt, float *wflip, float *dx, bool accumulate) {
    const int64_t T = g->T, To = g->To, C = g->C, K = g->K;
    for (int64_t k = 0; k < K; k++)
        memcpy(wflip + k * C, wt + (K - 1 - k) * C, (size_t)C * sizeof(float));
    /* dx[s] = sum_k w[k] dy[s - k + pl] = sum_k' wflip[k'] dy[s + k' + pl - (K-1)] */
    const int64_t off = g->pad_left - (K - 1);
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t r = 0; r < g->B * T; r++) {
        int64_t b = r / T, s = r % T;
        corr_row(dx + r * C, dy + b * To * C, To, s, off, wflip, K, C, NULL, accumulate);
    }
}

int64_t nc_dwtc_weight_blocks(const nc_dwtc_geom *g) {
    return g->B * ((g->To + ROW_BLOCK - 1) / ROW_BLOCK);
}

void nc_dwtc_backward_weight(const nc_dwtc_geom *g, bool threads, const float *dy,
                             const float *x, float *part, float *dw, float *db) {
    const int64_t T = g->T, To = g->To, C = g->C, K = g->K, pl = g->pad_left;
    const int64_t per_b = (To + ROW_BLOCK - 1) / ROW_BLOCK, nblk = g->B * per_b;
#pragma omp parallel if (threads)
    {
#pragma omp for schedule(static)
        for (int64_t bi = 0; bi < nblk; bi++) {
            const int64_t b = bi / per_b, t0 = (bi % per_b) * ROW_BLOCK;
            const int64_t t1 = t0 + ROW_BLOCK < To ? t0 + ROW_BLOCK : To;
            float *pw = part + bi * (K + 1) * C, *pb = pw + K * C;
            memset(pw, 0, (size_t)((K + 1) * C) * sizeof(float));
            for (int64_t t = t0; t < t1; t++) {
                const float *gr = dy + (b * To + t) * C;
#pragma omp simd
                for (int64_t c = 0; c < C; c++) pb[c] += gr[c];
                for (int64_t k = 0; k < K; k++) {
                    const int64_t s = t + k - pl;
                    if (s < 0 || s >= T) continue;
                    const float *xr = x + (b * T + s) * C;
                    float *p = pw + k * C;
#pragma omp simd
                    for (int64_t c = 0; c < C; c++) p[c] += gr[c] * xr[c];
                }
            }
        }
        /* block sums in block order, in double */
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            for (int64_t k = 0; k < K && dw; k++) {
                double s = 0;
                for (int64_t bi = 0; bi < nblk; bi++) s += part[(bi * (K + 1) + k) * C + c];
                dw[c * K + k] += (float)s;
            }
            if (db) {
                double s = 0;
                for (int64_t bi = 0; bi < nblk; bi++) s += part[(bi * (K + 1) + K) * C + c];
                db[c] += (float)s;
            }
        }
    }
}
