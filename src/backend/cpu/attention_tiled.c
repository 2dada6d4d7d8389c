/* Tiled (flash-style) attention kernels (see attention_tiled.h for the maths).
 *
 * Tiles: TILE_Q query rows x TILE_KF keys of scores in the forward (128 KB),
 * TILE_K keys in the backward (two 32 KB tiles, P and dS) stay in L2
 * between the products that use them, where the materialised kernel writes
 * and re-reads T floats per row (16 MB per head at T = 2048). The sizes
 * are the fastest of 64/128 x 128/256/512/1024 in bench_attention (larger
 * forward tiles mean fewer rescales and wider gemms; bench/README.md).
 * Products are single-threaded gemms (nc_attn_sgemm), one parallel region
 * per pass, as in attention.c. */
#include "backend/cpu/attention_tiled.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "backend/cpu/attention.h"
#include "backend/cpu/vmath.h"

enum { TILE_Q = 64, TILE_K = 128, TILE_KF = 512 };

static int64_t valid_len(const nc_attn_geom *g, int64_t b) {
    if (!g->len) return g->T;
    int64_t L = g->len[b];
    return L < 0 ? 0 : (L > g->T ? g->T : L);
}

/* query rows that give an output: none without a valid key, L with
 * mask_queries (Conformer's att_mask), else all T */
static int64_t out_rows(const nc_attn_geom *g, int64_t L) {
    return L == 0 ? 0 : (g->mask_queries ? L : g->T);
}

/* valid keys of query row i: [0, n) */
static inline int64_t row_keys(const nc_attn_geom *g, int64_t L, int64_t i) {
    return g->causal && i + 1 < L ? i + 1 : L;
}

int64_t nc_attn_tiled_work_floats(const nc_attn_geom *g, bool backward) {
    return backward ? 2 * TILE_Q * TILE_K + g->T : TILE_Q * TILE_KF + TILE_Q * g->dk + 2 * TILE_Q;
}

/* max of x[0, n), n > 0 (NaN skipped, as attention.c's softmax_row) */
static float row_max(const float *x, int64_t n) {
    nc_v16f mv = NC_V16(-INFINITY), v;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        nc_v16_load(&v, x + j);
        const nc_v16i gt = v > mv;
        nc_v16_select(&mv, &gt, &v, &mv);
    }
    float lanes[16], m = -INFINITY;
    memcpy(lanes, &mv, sizeof lanes);
    for (int l = 0; l < 16; l++) m = lanes[l] > m ? lanes[l] : m;
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

/* x[j] = e^(x[j] * scale - sub) for j < n, 0 for n <= j < nz; returns the sum */
static float exp_shift(float *x, int64_t n, int64_t nz, float scale, float sub) {
    nc_v16f acc = NC_V16(0.0f), v;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        nc_v16_load(&v, x + j);
        v = v * scale - sub;
        nc_v16_exp(&v);
        acc += v;
        nc_v16_store(x + j, &v);
    }
    if (j < n) { /* padding -inf gives e^-88 = 0 in the sum (scale > 0) */
        nc_v16_load_tail(&v, x + j, n - j, -INFINITY);
        v = v * scale - sub;
        nc_v16_exp(&v);
        acc += v;
        nc_v16_store_tail(x + j, &v, n - j);
    }
    for (j = n < 0 ? 0 : n; j < nz; j++) x[j] = 0.0f;
    return nc_v16_hsum(&acc);
}

/* Query rows [i0, i0 + TILE_Q) of head h in batch b (FlashAttention alg. 1,
 * one row block, the key loop inside). */
static void fwd_block(const nc_attn_geom *g, bool ref, int64_t b, int64_t h, int64_t i0,
                      const float *q, const float *k, const float *v, float *out, float *lse,
                      float *w) {
    const int64_t T = g->T, dk = g->dk, ld = g->ld, L = valid_len(g, b);
    const int64_t off = b * T * ld + h * dk, R = out_rows(g, L);
    const int64_t i1 = i0 + TILE_Q < T ? i0 + TILE_Q : T;
    const int64_t nr = R > i0 ? (R < i1 ? R : i1) - i0 : 0; /* rows with an output */
    float *ob = out + off, *lb = lse ? lse + (b * g->H + h) * T : NULL;
    for (int64_t i = i0 + nr; i < i1; i++) {
        memset(ob + i * ld, 0, (size_t)dk * sizeof(float));
        if (lb) lb[i] = INFINITY; /* P = e^(s - inf) = 0: no key */
    }
    if (nr == 0) return;
    float *S = w, *acc = S + TILE_Q * TILE_KF, *m = acc + TILE_Q * dk, *l = m + TILE_Q;
    for (int64_t r = 0; r < nr; r++) m[r] = -INFINITY, l[r] = 0.0f;
    memset(acc, 0, (size_t)(nr * dk) * sizeof(float));
    const float *qb = q + off + i0 * ld, *kb = k + off, *vb = v + off;
    const int64_t nk = row_keys(g, L, i0 + nr - 1); /* keys the block's last row sees */
    for (int64_t j0 = 0; j0 < nk; j0 += TILE_KF) {
        const int64_t bc = j0 + TILE_KF < nk ? TILE_KF : nk - j0;
        nc_attn_sgemm(ref, false, true, nr, bc, dk, qb, ld, kb + j0 * ld, ld, 0.0f, S, TILE_KF);
        for (int64_t r = 0; r < nr; r++) {
            float *s = S + r * TILE_KF;
            int64_t n = row_keys(g, L, i0 + r) - j0;
            n = n < 0 ? 0 : (n > bc ? bc : n);
            if (n == 0) { /* keys of this tile are all in the row's future */
                memset(s, 0, (size_t)bc * sizeof(float));
                continue;
            }
            const float mx = row_max(s, n) * g->scale, mn = mx > m[r] ? mx : m[r];
            /* FlashAttention's rescale of what the earlier tiles summed */
            const float c = nc_expf1(m[r] - mn);
            l[r] = l[r] * c + exp_shift(s, n, bc, g->scale, mn);
            m[r] = mn;
            if (c != 1.0f)
                for (int64_t d = 0; d < dk; d++) acc[r * dk + d] *= c;
        }
        nc_attn_sgemm(ref, false, false, nr, dk, bc, S, TILE_KF, vb + j0 * ld, ld, 1.0f, acc, dk);
    }
    for (int64_t r = 0; r < nr; r++) {
        const float inv = 1.0f / l[r];
        float *o = ob + (i0 + r) * ld;
        for (int64_t d = 0; d < dk; d++) o[d] = acc[r * dk + d] * inv;
        if (lb) lb[i0 + r] = m[r] + logf(l[r]);
    }
}

void nc_attn_tiled_forward(const nc_attn_geom *g, const nc_attn_exec *e, const float *q,
                           const float *k, const float *v, float *out, float *lse, float *work) {
    const int64_t nqb = (g->T + TILE_Q - 1) / TILE_Q, tasks = g->B * g->H * nqb;
    const int64_t wf = nc_attn_tiled_work_floats(g, false);
    const bool par = e->threads && !e->reference;
    /* a head's row blocks one after another, so its k and v stay in cache;
     * inside a head the late blocks (the most keys when causal) first */
#pragma omp parallel for if (par) schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; t++) {
        float *w = work + (par ? (int64_t)omp_get_thread_num() : 0) * wf;
        const int64_t qi = nqb - 1 - t % nqb, bh = t / nqb;
        fwd_block(g, e->reference, bh / g->H, bh % g->H, qi * TILE_Q, q, k, v, out, lse, w);
    }
}

/* One (b, h): key blocks outer (FlashAttention-2's backward), so the
 * block's dK and dV rows are summed in cache over the query blocks. */
static void bwd_task(const nc_attn_geom *g, bool ref, int64_t b, int64_t h, const float *q,
                     const float *k, const float *v, const float *out, const float *lse,
                     const float *dout, float *dq, float *dk_, float *dv, float *w) {
    const int64_t T = g->T, dk = g->dk, ld = g->ld, L = valid_len(g, b), R = out_rows(g, L);
    if (R == 0) return;
    const int64_t off = b * T * ld + h * dk;
    const float *qb = q + off, *kb = k + off, *vb = v + off, *gb = dout + off, *ob = out + off;
    const float *lb = lse + (b * g->H + h) * T;
    float *P = w, *dS = w + TILE_Q * TILE_K, *D = dS + TILE_Q * TILE_K;
    /* D_i = rowsum(dP * P) = dO_i . out_i (FlashAttention-2, eq. for dS) */
    for (int64_t i = 0; i < R; i++) {
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t d = 0; d < dk; d++) s += (double)gb[i * ld + d] * ob[i * ld + d];
        D[i] = (float)s;
    }
    const int64_t nkeys = row_keys(g, L, R - 1); /* keys any output row sees */
    for (int64_t j0 = 0; j0 < nkeys; j0 += TILE_K) {
        const int64_t bcb = j0 + TILE_K < nkeys ? TILE_K : nkeys - j0;
        /* causal: rows before j0 see none of these keys */
        const int64_t first = g->causal ? (j0 / TILE_Q) * TILE_Q : 0;
        for (int64_t i0 = first; i0 < R; i0 += TILE_Q) {
            const int64_t nr = i0 + TILE_Q < R ? TILE_Q : R - i0;
            /* causal: the block's rows see no key past its last row */
            const int64_t kvis = row_keys(g, L, i0 + nr - 1) - j0, bc = kvis < bcb ? kvis : bcb;
            /* in the forward pass this was: S = q k^T, P = softmax(S * scale) */
            nc_attn_sgemm(ref, false, true, nr, bc, dk, qb + i0 * ld, ld, kb + j0 * ld, ld, 0.0f,
                          P, TILE_K);
            for (int64_t r = 0; r < nr; r++) {
                int64_t n = row_keys(g, L, i0 + r) - j0;
                n = n < 0 ? 0 : (n > bc ? bc : n);
                (void)exp_shift(P + r * TILE_K, n, bc, g->scale, lb[i0 + r]);
            }
            /* out = P v: dV += P^T dO */
            if (dv)
                nc_attn_sgemm(ref, true, false, bc, dk, nr, P, TILE_K, gb + i0 * ld, ld, 1.0f,
                              dv + off + j0 * ld, ld);
            if (!dq && !dk_) continue;
            nc_attn_sgemm(ref, false, true, nr, bc, dk, gb + i0 * ld, ld, vb + j0 * ld, ld, 0.0f,
                          dS, TILE_K);
            for (int64_t r = 0; r < nr; r++) {
                const float *p = P + r * TILE_K, Di = D[i0 + r];
                float *d = dS + r * TILE_K;
#pragma omp simd
                for (int64_t j = 0; j < bc; j++) d[j] = p[j] * (d[j] - Di) * g->scale;
            }
            if (dq)
                nc_attn_sgemm(ref, false, false, nr, dk, bc, dS, TILE_K, kb + j0 * ld, ld, 1.0f,
                              dq + off + i0 * ld, ld);
            if (dk_)
                nc_attn_sgemm(ref, true, false, bc, dk, nr, dS, TILE_K, qb + i0 * ld, ld, 1.0f,
                              dk_ + off + j0 * ld, ld);
        }
    }
}

void nc_attn_tiled_backward(const nc_attn_geom *g, const nc_attn_exec *e, const float *q,
                            const float *k, const float *v, const float *out, const float *lse,
                            const float *dout, float *dq, float *dk, float *dv, float *work) {
    const int64_t tasks = g->B * g->H, wf = nc_attn_tiled_work_floats(g, true);
    const bool par = e->threads && !e->reference;
#pragma omp parallel for if (par) schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; t++) {
        float *w = work + (par ? (int64_t)omp_get_thread_num() : 0) * wf;
        bwd_task(g, e->reference, t / g->H, t % g->H, q, k, v, out, lse, dout, dq, dk, dv, w);
    }
}
