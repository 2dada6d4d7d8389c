/* Fused multi-head attention with relative positions (see attention.h).
 *
 * Per (b, h) task, with L = len[b] valid keys and R query rows (L with
 * mask_queries, else T), only the R x L block of scores exists:
 *   forward:  S = qu k^T; S += shift(qv p^T); P = softmax(S * scale); out = P v
 *   backward (Vaswani et al. 2017 / the softmax Jacobian, as torch's autograd
 *   of matmul and softmax computes it):
 *     dP = dout v^T,  dv += P^T dout,
 *     dS = P * (dP - rowsum(dP * P)) * scale,
 *     dqu = dS k,  dk += dS^T qu,
 *     dBD = unshift(dS) (zero elsewhere),  dqv = dBD p,  dp += dBD^T qv,
 *     dq += dqu + dqv,  du += sum_t dqu,  dv_bias += sum_t dqv.
 * qu = q + u, qv = q + v_bias. The shifted product only needs positions
 * [T-R, T-1+L) of p for rows i < R (row i reads p rows T-1-i .. T-2-i+L);
 * blocks of rows take only their band of it. */
#include "backend/cpu/attention.h"

#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <string.h>

#include "backend/cpu/vmath.h"

/* Query rows per block of the positional product: a block of n rows needs
 * L + n - 1 positions instead of the L + R - 1 all rows together span, so
 * blocking halves that product's work (Transformer-XL's shift makes each row
 * read a different window of the same position matrix). */
enum { POS_ROWS = 64 };

/* Causal attention runs in blocks of query rows, each against the keys up
 * to its last row only: the products skip the masked upper triangle. */
enum { CAUSAL_ROWS = 64 };

/* keys a block of query rows ending at i1 (exclusive) can see */
static inline int64_t block_keys(const nc_attn_geom *g, int64_t L, int64_t i1) {
    return g->causal && i1 < L ? i1 : L;
}

void nc_attn_sgemm(bool ref, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                   int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || ref) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double acc = 0;
                for (int64_t kk = 0; kk < K; kk++)
                    acc += (double)(ta ? A[kk * lda + i] : A[i * lda + kk]) *
                           (tb ? B[j * ldb + kk] : B[kk * ldb + j]);
                float prev = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
                C[i * ldc + j] = (float)acc + prev;
            }
        return;
    }
    /* Arguments are valid by construction; oneDNN only fails on bad ones. */
    (void)dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

/* the short name this file's many products use */
static inline void sg(bool ref, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                      int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                      int64_t ldc) {
    nc_attn_sgemm(ref, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

static int64_t valid_len(const nc_attn_geom *g, int64_t b) {
    if (!g->len) return g->T;
    int64_t L = g->len[b];
    return L < 0 ? 0 : (L > g->T ? g->T : L);
}

int64_t nc_attn_work_floats(const nc_attn_geom *g, bool backward) {
    int64_t T = g->T, dk = g->dk;
    int64_t pos = g->has_pos ? T * (2 * T - 1) : 0;
    return backward ? 3 * T * dk + T * T + pos : 2 * T * dk + T * T + pos;
}

/* rows [0, R) of x (row stride ld) plus a bias row -> dst (R, dk) */
static void add_bias_rows(float *dst, const float *x, int64_t ld, const float *bias, int64_t R,
                          int64_t dk) {
    for (int64_t i = 0; i < R; i++)
        for (int64_t c = 0; c < dk; c++) dst[i * dk + c] = x[i * ld + c] + bias[c];
}

/* One row of scores -> probabilities in place: n valid entries of x scaled,
 * softmax over them, zeros in [n, n_zero). */
static void softmax_row(float *x, int64_t n, int64_t n_zero, float scale) {
    if (n <= 0) {
        memset(x, 0, (size_t)n_zero * sizeof(float));
        return;
    }
    /* scale and running max 16 lanes at a time (max is exact in any order;
     * NaN compares false and is skipped, as in the scalar tail) */
    nc_v16f mv = NC_V16(-INFINITY), v;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        nc_v16_load(&v, x + j);
        v *= scale;
        nc_v16_store(x + j, &v);
        const nc_v16i gt = v > mv;
        nc_v16_select(&mv, &gt, &v, &mv);
    }
    float lanes[16], m = -INFINITY;
    memcpy(lanes, &mv, sizeof lanes);
    for (int l = 0; l < 16; l++) m = lanes[l] > m ? lanes[l] : m;
    for (; j < n; j++) {
        x[j] *= scale;
        m = x[j] > m ? x[j] : m;
    }
    j = 0;
    nc_v16f acc = NC_V16(0.0f);
    for (; j + 16 <= n; j += 16) {
        nc_v16_load(&v, x + j);
        v -= m;
        nc_v16_exp(&v);
        acc += v;
        nc_v16_store(x + j, &v);
    }
    if (j < n) { /* padding -inf - m gives e^-88 = 0 in the sum */
        nc_v16_load_tail(&v, x + j, n - j, -INFINITY);
        v -= m;
        nc_v16_exp(&v);
        acc += v;
        nc_v16_store_tail(x + j, &v, n - j);
    }
    const float inv = 1.0f / nc_v16_hsum(&acc);
    for (j = 0; j < n; j++) x[j] *= inv;
    for (; j < n_zero; j++) x[j] = 0.0f;
}

static void fwd_task(const nc_attn_geom *g, bool ref, int64_t b, int64_t h, const float *q,
                     const float *k, const float *v, const float *p, const float *bu,
                     const float *bv, float *probs, float *out, float *w) {
    const int64_t T = g->T, dk = g->dk, ld = g->ld, L = valid_len(g, b);
    const int64_t R = g->mask_queries ? L : T;
    const float *qb = q + b * T * ld + h * dk, *kb = k + b * T * ld + h * dk;
    const float *vb = v + b * T * ld + h * dk;
    float *ob = out + b * T * ld + h * dk;
    float *qu = w, *qv = w + T * dk, *P = w + 2 * T * dk, *bd = P + T * T;
    if (probs) P = probs + (b * g->H + h) * T * T;
    int64_t r0 = (L == 0) ? 0 : R; /* rows given by the products */
    for (int64_t i = r0; i < T; i++) memset(ob + i * ld, 0, (size_t)dk * sizeof(float));
    if (r0 == 0) return;
    const float *a1 = qb, *a2 = qb;
    int64_t l1 = ld, l2 = ld;
    if (bu) add_bias_rows(qu, qb, ld, bu + h * dk, R, dk), a1 = qu, l1 = dk;
    if (g->has_pos && bv) add_bias_rows(qv, qb, ld, bv + h * dk, R, dk), a2 = qv, l2 = dk;
    const int64_t rb = g->causal ? CAUSAL_ROWS : R;
    for (int64_t i0 = 0; i0 < R; i0 += rb) { /* ac */
        const int64_t i1 = i0 + rb < R ? i0 + rb : R;
        sg(ref, false, true, i1 - i0, block_keys(g, L, i1), dk, a1 + i0 * l1, l1, kb, ld, 0.0f,
           P + i0 * T, T);
    }
    if (g->has_pos) {
        /* rows [i0, i1) read positions T-i1 .. T-i1+w, w = L + (i1-i0) - 1 */
        for (int64_t i0 = 0; i0 < R; i0 += POS_ROWS) {
            const int64_t i1 = i0 + POS_ROWS < R ? i0 + POS_ROWS : R, w = L + (i1 - i0) - 1;
            sg(ref, false, true, i1 - i0, w, dk, a2 + i0 * l2, l2, p + (T - i1) * ld + h * dk, ld,
               0.0f, bd, w);
            for (int64_t i = i0; i < i1; i++) {
                const float *src = bd + (i - i0) * w + (i1 - 1 - i);
                float *dst = P + i * T;
#pragma omp simd
                for (int64_t j = 0; j < L; j++) dst[j] += src[j];
            }
        }
    }
    for (int64_t i = 0; i < R; i++) {
        int64_t n = g->causal ? (i + 1 < L ? i + 1 : L) : L;
        softmax_row(P + i * T, n, L, g->scale);
    }
    for (int64_t i0 = 0; i0 < R; i0 += rb) {
        const int64_t i1 = i0 + rb < R ? i0 + rb : R;
        sg(ref, false, false, i1 - i0, dk, block_keys(g, L, i1), P + i0 * T, T, vb, ld, 0.0f,
           ob + i0 * ld, ld);
    }
}

void nc_attn_forward(const nc_attn_geom *g, const nc_attn_exec *e, const float *q,
                     const float *k, const float *v, const float *p, const float *bu,
                     const float *bv, float *probs, float *out, float *work) {
    const int64_t tasks = g->B * g->H, wf = nc_attn_work_floats(g, false);
    const bool par = e->threads && !e->reference;
#pragma omp parallel for if (par) schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; t++) {
        float *w = work + (par ? (int64_t)omp_get_thread_num() : 0) * wf;
        fwd_task(g, e->reference, t / g->H, t % g->H, q, k, v, p, bu, bv, probs, out, w);
    }
}

static void bwd_task(const nc_attn_geom *g, bool ref, int64_t b, int64_t h, const float *q,
                     const float *k, const float *v, const float *p, const float *bu,
                     const float *bv, const float *probs, const float *dout, float *dq,
                     float *dk_, float *dv, float *dp_part, float *bias_part, float *w) {
    const int64_t T = g->T, dk = g->dk, ld = g->ld, L = valid_len(g, b), H = g->H;
    const int64_t R = g->mask_queries ? L : T;
    float *pu = bias_part ? bias_part + (b * H + h) * dk : NULL;
    float *pv = bias_part ? bias_part + (g->B * H + b * H + h) * dk : NULL;
    if (pu) memset(pu, 0, (size_t)dk * sizeof(float)), memset(pv, 0, (size_t)dk * sizeof(float));
    if (L == 0 || R == 0) return;
    const int64_t off = b * T * ld + h * dk;
    const float *qb = q + off, *kb = k + off, *vb = v + off, *gb = dout + off;
    const float *P = probs + (b * H + h) * T * T;
    float *qu = w, *qv = w + T * dk, *dx = w + 2 * T * dk, *ds = w + 3 * T * dk, *dbd = ds + T * T;
    /* dP = dout v^T (R, L); dv += P^T dout (causal: by row blocks, keys up
     * to the block's last row) */
    const int64_t rb = g->causal ? CAUSAL_ROWS : R;
    for (int64_t i0 = 0; i0 < R; i0 += rb) {
        const int64_t i1 = i0 + rb < R ? i0 + rb : R, kc = block_keys(g, L, i1);
        sg(ref, false, true, i1 - i0, kc, dk, gb + i0 * ld, ld, vb, ld, 0.0f, ds + i0 * L, L);
        if (dv) sg(ref, true, false, kc, dk, i1 - i0, P + i0 * T, T, gb + i0 * ld, ld, 1.0f, dv + off, ld);
        for (int64_t i = i0; i < i1; i++) {
            const float *pr = P + i * T;
            float *d = ds + i * L;
            /* rowsum(dP * P) in double: 8 lanes change the order only far
             * below float resolution (this loop was scalar: ~40 ms of a
             * Conformer step) */
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t j = 0; j < kc; j++) s += (double)d[j] * pr[j];
            const float sf = (float)s;
#pragma omp simd
            for (int64_t j = 0; j < kc; j++) d[j] = pr[j] * (d[j] - sf) * g->scale;
        }
    }
    const float *a1 = qb, *a2 = qb;
    int64_t l1 = ld, l2 = ld;
    if (bu) add_bias_rows(qu, qb, ld, bu + h * dk, R, dk), a1 = qu, l1 = dk;
    if (g->has_pos && bv) add_bias_rows(qv, qb, ld, bv + h * dk, R, dk), a2 = qv, l2 = dk;
    /* d(q + u) = dS k: into dq directly, or through dx when u needs its sum */
    for (int64_t i0 = 0; i0 < R; i0 += rb) {
        const int64_t i1 = i0 + rb < R ? i0 + rb : R, nr = i1 - i0, kc = block_keys(g, L, i1);
        const float *dsb = ds + i0 * L;
        if (pu) {
            sg(ref, false, false, nr, dk, kc, dsb, L, kb, ld, 0.0f, dx, dk);
            for (int64_t i = 0; i < nr; i++)
                for (int64_t c = 0; c < dk; c++) {
                    pu[c] += dx[i * dk + c];
                    if (dq) dq[off + (i0 + i) * ld + c] += dx[i * dk + c];
                }
        } else if (dq) {
            sg(ref, false, false, nr, dk, kc, dsb, L, kb, ld, 1.0f, dq + off + i0 * ld, ld);
        }
        if (dk_) sg(ref, true, false, kc, dk, nr, dsb, L, a1 + i0 * l1, l1, 1.0f, dk_ + off, ld);
    }
    if (!g->has_pos) return;
    /* the band of positions per block of rows, as in forward */
    for (int64_t i0 = 0; i0 < R; i0 += POS_ROWS) {
        const int64_t i1 = i0 + POS_ROWS < R ? i0 + POS_ROWS : R, nr = i1 - i0, w = L + nr - 1;
        memset(dbd, 0, (size_t)(nr * w) * sizeof(float));
        for (int64_t i = i0; i < i1; i++)
            memcpy(dbd + (i - i0) * w + (i1 - 1 - i), ds + i * L, (size_t)L * sizeof(float));
        const float *pb = p + (T - i1) * ld + h * dk;
        if (pv) {
            sg(ref, false, false, nr, dk, w, dbd, w, pb, ld, 0.0f, dx, dk);
            for (int64_t i = 0; i < nr; i++)
                for (int64_t c = 0; c < dk; c++) {
                    pv[c] += dx[i * dk + c];
                    if (dq) dq[off + (i0 + i) * ld + c] += dx[i * dk + c];
                }
        } else if (dq) {
            sg(ref, false, false, nr, dk, w, dbd, w, pb, ld, 1.0f, dq + off + i0 * ld, ld);
        }
        if (dp_part)
            sg(ref, true, false, w, dk, nr, dbd, w, a2 + i0 * l2, l2, 1.0f,
               dp_part + b * (2 * T - 1) * ld + (T - i1) * ld + h * dk, ld);
    }
}

void nc_attn_backward(const nc_attn_geom *g, const nc_attn_exec *e, const float *q,
                      const float *k, const float *v, const float *p, const float *bu,
                      const float *bv, const float *probs, const float *dout, float *dq,
                      float *dk, float *dv, float *dp, float *dbu, float *dbv, float *dp_part,
                      float *bias_part, float *work) {
    const int64_t B = g->B, H = g->H, T = g->T, ld = g->ld, dkh = g->dk;
    const int64_t tasks = B * H, wf = nc_attn_work_floats(g, true), P2 = 2 * T - 1;
    const bool par = e->threads && !e->reference;
    float *dpp = g->has_pos && dp ? dp_part : NULL;
    float *bp = (dbu && bu) || (dbv && bv && g->has_pos) ? bias_part : NULL;
    if (dpp) memset(dpp, 0, (size_t)(B * P2 * ld) * sizeof(float));
#pragma omp parallel if (par)
    {
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < tasks; t++) {
            float *w = work + (par ? (int64_t)omp_get_thread_num() : 0) * wf;
            bwd_task(g, e->reference, t / H, t % H, q, k, v, p, bu, bv, probs, dout, dq, dk, dv,
                     dpp, bp, w);
        }
        /* reductions over the batch, in batch order (thread-count independent) */
        if (dpp) {
#pragma omp for schedule(static)
            for (int64_t r = 0; r < P2; r++)
                for (int64_t b = 0; b < B; b++) {
                    const float *src = dpp + (b * P2 + r) * ld;
                    float *dst = dp + r * ld;
#pragma omp simd
                    for (int64_t c = 0; c < H * dkh; c++) dst[c] += src[c];
                }
        }
    }
    if (!bp) return;
    for (int64_t h = 0; h < H; h++)
        for (int64_t c = 0; c < dkh; c++) {
            float su = 0, sv = 0;
            for (int64_t b = 0; b < B; b++) {
                su += bp[(b * H + h) * dkh + c];
                sv += bp[(B * H + b * H + h) * dkh + c];
            }
            if (dbu && bu) dbu[h * dkh + c] += su;
            if (dbv && bv && g->has_pos) dbv[h * dkh + c] += sv;
        }
}
