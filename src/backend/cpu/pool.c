/* 1-D max and average pooling (PyTorch aten/src/ATen/native/MaxPooling.cpp,
 * AveragePool2d.cpp with ceil_mode=False: the window end is clipped to
 * L + p for the divisor, which without ceil_mode always leaves k). */
#include "backend/cpu/pool.h"

#include <math.h>

static void window(const nc_pool1d_geom *g, int64_t o, int64_t *lo, int64_t *hi) {
    int64_t a = o * g->s - g->p, b = a + g->k;
    *lo = a < 0 ? 0 : a;
    *hi = b > g->L ? g->L : b;
}

void nc_max_pool1d_forward(const nc_pool1d_geom *g, bool threads, const float *x, float *y,
                           int64_t *arg) {
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t r = 0; r < g->rows; r++) {
        const float *xr = x + r * g->L;
        for (int64_t o = 0; o < g->Lout; o++) {
            int64_t lo, hi;
            window(g, o, &lo, &hi);
            int64_t best = lo;
            float m = xr[lo];
            for (int64_t i = lo + 1; i < hi && !isnan(m); i++)
                if (xr[i] > m || isnan(xr[i])) m = xr[i], best = i;
            y[r * g->Lout + o] = m;
            if (arg) arg[r * g->Lout + o] = best;
        }
    }
}

void nc_max_pool1d_backward(const nc_pool1d_geom *g, bool threads, const float *dy,
                            const int64_t *arg, float *dx) {
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t r = 0; r < g->rows; r++)
        for (int64_t o = 0; o < g->Lout; o++) dx[r * g->L + arg[r * g->Lout + o]] += dy[r * g->Lout + o];
}

void nc_avg_pool1d_forward(const nc_pool1d_geom *g, bool count_include_pad, bool threads,
                           const float *x, float *y) {
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t r = 0; r < g->rows; r++) {
        const float *xr = x + r * g->L;
        for (int64_t o = 0; o < g->Lout; o++) {
            int64_t lo, hi;
            window(g, o, &lo, &hi);
            float s = 0;
            for (int64_t i = lo; i < hi; i++) s += xr[i];
            int64_t div = count_include_pad ? g->k : hi - lo;
            y[r * g->Lout + o] = s / (float)div;
        }
    }
}

void nc_avg_pool1d_backward(const nc_pool1d_geom *g, bool count_include_pad, bool threads,
                            const float *dy, float *dx) {
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t r = 0; r < g->rows; r++) {
        float *dr = dx + r * g->L;
        for (int64_t o = 0; o < g->Lout; o++) {
            int64_t lo, hi;
            window(g, o, &lo, &hi);
            int64_t div = count_include_pad ? g->k : hi - lo;
            float v = dy[r * g->Lout + o] / (float)div;
            for (int64_t i = lo; i < hi; i++) dr[i] += v;
        }
    }
}
