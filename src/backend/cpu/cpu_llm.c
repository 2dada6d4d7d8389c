/* Kernels of the language-model ops: RMSNorm and rotary position embedding.
 *
 * RMSNorm (Zhang & Sennrich 2019; Megatron-core's RMSNorm / torch.nn.RMSNorm):
 *     r = 1 / sqrt(mean(x^2) + eps),  y = x * r * w
 * with dy = dL/dy * w the gradient is
 *     dx = r * (dy - x * r^2 * mean(dy * x)),  dw += sum dL/dy * x * r.
 * Sums in double, weight gradients reduced over fixed row blocks then in
 * order, so results do not depend on the thread count (as cpu_norm.c).
 *
 * RoPE (Su et al. 2021) in Megatron-core's non-interleaved ("rotate half")
 * layout, megatron/core/models/common/embeddings/rotary_pos_embedding.py:
 * within the first `rot` dims of a head, x1 = x[:rot/2], x2 = x[rot/2:rot],
 *     y1 = x1 cos - x2 sin,  y2 = x2 cos + x1 sin
 * with angle(p, i) = p * inv_freq[i]; the remaining dims pass through. The
 * backward is the inverse rotation (sin negated). */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/vmath.h"

enum { RMS_ROWS_PER_BLOCK = 32 };

void nc_cpu_rms_norm(bool th, const float *X, const float *W, float eps, float *Y, float *rstd,
                     int64_t rows, int64_t C) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *x = X + r * C;
        float *y = Y + r * C;
        double ss = 0;
        for (int64_t j = 0; j < C; j++) ss += (double)x[j] * x[j];
        const float rs = (float)(1.0 / sqrt(ss / (double)C + (double)eps));
        rstd[r] = rs;
        if (W)
            for (int64_t j = 0; j < C; j++) y[j] = x[j] * rs * W[j];
        else
            for (int64_t j = 0; j < C; j++) y[j] = x[j] * rs;
    }
}

void nc_cpu_rms_norm_grad(bool th, const float *X, const float *G, const float *W, const float *rstd,
                          float *dx, float *dw, double *part, int64_t rows, int64_t C) {
    const int64_t nblk = (rows + RMS_ROWS_PER_BLOCK - 1) / RMS_ROWS_PER_BLOCK;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t bi = 0; bi < nblk; bi++) {
        const int64_t r0 = bi * RMS_ROWS_PER_BLOCK;
        const int64_t r1 = r0 + RMS_ROWS_PER_BLOCK < rows ? r0 + RMS_ROWS_PER_BLOCK : rows;
        double *pw = part ? part + bi * C : NULL;
        if (pw) memset(pw, 0, (size_t)C * sizeof(double));
        for (int64_t r = r0; r < r1; r++) {
            const float *x = X + r * C, *g = G + r * C;
            const float rs = rstd[r];
            if (pw)
                for (int64_t j = 0; j < C; j++) pw[j] += (double)g[j] * (x[j] * rs);
            if (!dx) continue;
            double s = 0;
            if (W)
                for (int64_t j = 0; j < C; j++) s += (double)g[j] * W[j] * x[j];
            else
                for (int64_t j = 0; j < C; j++) s += (double)g[j] * x[j];
            const float k = (float)(s / (double)C) * rs * rs;
            float *d = dx + r * C;
            if (W)
                for (int64_t j = 0; j < C; j++) d[j] += rs * (g[j] * W[j] - x[j] * k);
            else
                for (int64_t j = 0; j < C; j++) d[j] += rs * (g[j] - x[j] * k);
        }
    }
    if (!part || !dw) return;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t j = 0; j < C; j++) {
        double sw = 0;
        for (int64_t bi = 0; bi < nblk; bi++) sw += part[bi * C + j];
        dw[j] += (float)sw;
    }
}

void nc_cpu_rope(bool th, const nc_rope_geom *g, const float *x, float *y, bool inverse, bool accumulate) {
    const int64_t half = g->rot / 2, hd = g->hd, H = g->H, T = g->T;
    const float sgn = inverse ? -1.0f : 1.0f;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t bt = 0; bt < g->B * T; bt++) {
        const int64_t p = g->pos ? g->pos[bt] : g->pos0 + bt % T;
        const float *cs = g->cos + (p - g->table_lo) * half, *sn = g->sin + (p - g->table_lo) * half;
        for (int64_t h = 0; h < H; h++) {
            const float *xi = x + bt * g->ld + h * hd;
            float *yo = y + bt * g->ld + h * hd;
            for (int64_t i = 0; i < half; i++) {
                const float x1 = xi[i], x2 = xi[i + half], c = cs[i], s = sgn * sn[i];
                const float y1 = x1 * c - x2 * s, y2 = x2 * c + x1 * s;
                if (accumulate) {
                    yo[i] += y1;
                    yo[i + half] += y2;
                } else {
                    yo[i] = y1;
                    yo[i + half] = y2;
                }
            }
            for (int64_t i = g->rot; i < hd; i++) yo[i] = accumulate ? yo[i] + xi[i] : xi[i];
        }
    }
}

/* SwiGLU (Shazeer 2020) as Megatron-core's fast-swiglu / swiglu,
 * megatron/core/transformer/mlp.py glu(): x (rows, 2F) chunked into [a; b]
 * along the last dim, y = silu(a) * b. Sigmoids come 256 at a time from the
 * vectorised exp (vmath.h). */
enum { SWIGLU_BLK = 256 };

void nc_cpu_swiglu(bool th, const float *X, float *Y, int64_t rows, int64_t F) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *a = X + r * 2 * F, *b = a + F;
        float *y = Y + r * F;
        float sg[SWIGLU_BLK];
        for (int64_t j0 = 0; j0 < F; j0 += SWIGLU_BLK) {
            const int64_t m = F - j0 < SWIGLU_BLK ? F - j0 : SWIGLU_BLK;
            nc_vsigmoid(sg, a + j0, m);
            for (int64_t j = 0; j < m; j++) y[j0 + j] = a[j0 + j] * sg[j] * b[j0 + j];
        }
    }
}

/* d silu(a)/da = s (1 + a (1 - s)), s = sigmoid(a) */
void nc_cpu_swiglu_grad(bool th, const float *X, const float *G, float *dX, int64_t rows, int64_t F, bool acc) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *a = X + r * 2 * F, *b = a + F, *g = G + r * F;
        float *da = dX + r * 2 * F, *db = da + F;
        float sg[SWIGLU_BLK];
        for (int64_t j0 = 0; j0 < F; j0 += SWIGLU_BLK) {
            const int64_t m = F - j0 < SWIGLU_BLK ? F - j0 : SWIGLU_BLK;
            nc_vsigmoid(sg, a + j0, m);
            for (int64_t j = 0; j < m; j++) {
                const float s = sg[j], av = a[j0 + j], gv = g[j0 + j];
                const float ga = gv * b[j0 + j] * s * (1.0f + av * (1.0f - s)), gb = gv * av * s;
                da[j0 + j] = acc ? da[j0 + j] + ga : ga;
                db[j0 + j] = acc ? db[j0 + j] + gb : gb;
            }
        }
    }
}

/* Attention of new queries over a key/value cache (generation): q (B, Tn,
 * H*hd); caches (B, cap, G*hd) whose positions [0, L0 + Tn) are filled, the
 * new tokens' at L0..; query t attends to keys j <= L0 + t (causal); head h
 * reads group h / (H / G). One task per (b, h, t); work: one row of cap
 * floats per thread. */
#include <omp.h>

int64_t nc_cpu_attn_cached_work(int64_t cap) { return (int64_t)omp_get_max_threads() * (cap > 0 ? cap : 1); }

void nc_cpu_attn_cached(bool th, const nc_attn_cache_geom *g, const float *q, const float *K, const float *V,
                        float *out, float *work) {
    const int64_t H = g->H, G = g->G, hd = g->hd, Tn = g->Tn, cap = g->cap, rep = H / G;
    const int64_t ldq = H * hd, ldk = G * hd;
#pragma omp parallel for if (th) schedule(dynamic, 1)
    for (int64_t task = 0; task < g->B * H * Tn; task++) {
        const int64_t b = task / (H * Tn), h = task / Tn % H, t = task % Tn;
        float *sc = work + (int64_t)omp_get_thread_num() * cap;
        const float *qr = q + (b * Tn + t) * ldq + h * hd;
        const float *kb = K + b * cap * ldk + h / rep * hd, *vb = V + b * cap * ldk + h / rep * hd;
        const int64_t n = g->L0 + t + 1;
        float mx = -INFINITY;
        for (int64_t j = 0; j < n; j++) {
            const float *kr = kb + j * ldk;
            float d = 0;
            /* the reduction may be reordered, so it vectorises (without the
             * pragma a float sum stays scalar) */
#pragma omp simd reduction(+ : d)
            for (int64_t i = 0; i < hd; i++) d += qr[i] * kr[i];
            sc[j] = d * g->scale;
            if (sc[j] > mx) mx = sc[j];
        }
        double z = 0;
        for (int64_t j = 0; j < n; j++) {
            sc[j] = expf(sc[j] - mx);
            z += sc[j];
        }
        const float inv = (float)(1.0 / z);
        float *o = out + (b * Tn + t) * ldq + h * hd;
        for (int64_t i = 0; i < hd; i++) o[i] = 0;
        for (int64_t j = 0; j < n; j++) {
            const float p = sc[j] * inv, *vr = vb + j * ldk;
            for (int64_t i = 0; i < hd; i++) o[i] += p * vr[i];
        }
    }
}
