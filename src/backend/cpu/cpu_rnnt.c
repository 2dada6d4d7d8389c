/* Transducer loss kernels (RNN-T, TDT, multi-blank): log-normalisers, the
 * alpha and beta recursions in log space and double precision, and the
 * gradient at the logits. Front end, conventions and NeMo references in
 * src/ops/ops_rnnt.c.
 *
 * One lattice serves all three losses: node (t, u) of utterance b has the
 * arcs of nc_rnnt_arc (label arcs to (t + d, u + 1), blank arcs to (t + d, u),
 * a blank landing exactly on t = T from u = U - 1 ends the path), and arc a
 * weighs w_a(t, u) = x[tok] - den(t, u) - sigma [+ x[Vt + didx] - dden(t, u)].
 * The recursions are those of NeMo's TDTLossPytorch.compute_forward_prob
 * (TDT paper eq. 7) and of gpu_rnnt_kernel.compute_{,multiblank_,tdt_}
 * {alphas,betas}_kernel, which the plain RNN-T and multi-blank lattices are
 * special cases of.
 *
 * Threads: the normalisers and the gradient run over (b, t) rows, the
 * recursions (sequential in t and u) over utterances. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/vmath.h"

/* log(exp(a) + exp(b)) without overflow; -inf is the additive identity. */
static inline double lse2(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

/* log(sum_j exp(x[j])) over a contiguous row: max, then a vectorised sum of
 * exp(x - max) (256-element blocks in float, the blocks in double). NaN
 * anywhere gives NaN. */
static double row_lse(const float *x, int64_t n) {
    float m = -INFINITY;
    for (int64_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
    if (m == -INFINITY) {
        for (int64_t j = 0; j < n; j++)
            if (isnan(x[j])) return NAN;
        return -INFINITY;
    }
    double total = 0;
    for (int64_t b0 = 0; b0 < n; b0 += 256) {
        const int64_t k = n - b0 < 256 ? n - b0 : 256;
        nc_v16f acc = NC_V16(0.0f), v;
        int64_t j = 0;
        for (; j + 16 <= k; j += 16) {
            nc_v16_load(&v, x + b0 + j);
            v -= m;
            nc_v16_exp(&v);
            acc += v;
        }
        if (j < k) {
            nc_v16_load_tail(&v, x + b0 + j, k - j, -INFINITY);
            v -= m;
            nc_v16_exp(&v);
            acc += v;
        }
        total += (double)nc_v16_hsum(&acc);
    }
    return (double)m + log(total);
}

/* The utterance-local view of the lattice. */
typedef struct utt {
    const float *x;   /* (T, U1, C) of this utterance */
    const int64_t *y; /* (U - 1) labels */
    const double *den, *dden;
    int64_t T, U;     /* frames, nodes per frame (target length + 1) */
} utt;

static utt utt_of(const nc_rnnt_args *a, int64_t b) {
    return (utt){.x = a->x + b * a->T * a->U1 * a->C, .y = a->tg + b * (a->U1 - 1),
                 .den = a->den + a->off[b], .dden = a->dden ? a->dden + a->off[b] : NULL,
                 .T = a->il[b], .U = a->tl[b] + 1};
}

/* log weight of arc `r` out of node (t, u); a label arc needs u < U - 1. */
static inline double arc_w(const nc_rnnt_args *a, const utt *s, const nc_rnnt_arc *r, int64_t t,
                           int64_t u) {
    const float *row = s->x + (t * a->U1 + u) * a->C;
    const int64_t node = t * s->U + u;
    double w = (double)row[r->tok < 0 ? s->y[u] : r->tok] - s->den[node] - a->sigma;
    if (r->didx >= 0) w += (double)row[a->Vt + r->didx] - s->dden[node];
    return w;
}

/* alpha(t, u): all paths from (0, 0) to (t, u), the arc into it included.
 * Returns log P(y|x): a blank arc from (T - d, U - 1) landing on T. */
static double alpha_utt(const nc_rnnt_args *a, const utt *s, double *al) {
    const int64_t T = s->T, U = s->U;
    for (int64_t t = 0; t < T; t++) {
        for (int64_t u = 0; u < U; u++) {
            double acc = t == 0 && u == 0 ? 0.0 : -INFINITY;
            for (int64_t k = 0; k < a->n_arcs; k++) {
                const nc_rnnt_arc *r = &a->arcs[k];
                const int64_t st = t - r->dur, su = r->tok < 0 ? u - 1 : u;
                if (st < 0 || su < 0) continue;
                acc = lse2(acc, al[st * U + su] + arc_w(a, s, r, st, su));
            }
            al[t * U + u] = acc;
        }
    }
    double ll = -INFINITY;
    for (int64_t k = 0; k < a->n_arcs; k++) {
        const nc_rnnt_arc *r = &a->arcs[k];
        const int64_t st = T - r->dur;
        if (r->tok >= 0 && st >= 0) ll = lse2(ll, al[st * U + U - 1] + arc_w(a, s, r, st, U - 1));
    }
    return ll;
}

/* log of (arc weight + beta of its destination) for arc r out of (t, u);
 * -inf when the arc leaves the lattice. be: the utterance's beta table. */
static inline double arc_out(const nc_rnnt_args *a, const utt *s, const double *be,
                             const nc_rnnt_arc *r, int64_t t, int64_t u) {
    const int64_t dt = t + r->dur, T = s->T, U = s->U;
    if (r->tok < 0) { /* label: must stay inside, on a later u */
        if (u == U - 1 || dt >= T) return -INFINITY;
        return arc_w(a, s, r, t, u) + be[dt * U + u + 1];
    }
    if (dt < T) return arc_w(a, s, r, t, u) + be[dt * U + u];
    return dt == T && u == U - 1 ? arc_w(a, s, r, t, u) : -INFINITY; /* the final blank */
}

/* beta(t, u): all paths from (t, u) to the end, node (t, u)'s arcs included. */
static void beta_utt(const nc_rnnt_args *a, const utt *s, double *be) {
    for (int64_t t = s->T - 1; t >= 0; t--) {
        for (int64_t u = s->U - 1; u >= 0; u--) {
            double acc = -INFINITY;
            for (int64_t k = 0; k < a->n_arcs; k++)
                acc = lse2(acc, arc_out(a, s, be, &a->arcs[k], t, u));
            be[t * s->U + u] = acc;
        }
    }
}

void nc_cpu_rnnt_forward(bool th, const nc_rnnt_args *a) {
    const int64_t B = a->B, T = a->T;
#pragma omp parallel for collapse(2) schedule(dynamic, 4) if (th)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            if (t >= a->il[b]) continue;
            const int64_t U = a->tl[b] + 1;
            const float *xr = a->x + (b * T + t) * a->U1 * a->C;
            for (int64_t u = 0; u < U; u++) {
                a->den[a->off[b] + t * U + u] = row_lse(xr + u * a->C, a->Vt);
                if (a->dden)
                    a->dden[a->off[b] + t * U + u] = row_lse(xr + u * a->C + a->Vt, a->C - a->Vt);
            }
        }
    }
#pragma omp parallel for schedule(dynamic) if (th)
    for (int64_t b = 0; b < B; b++) {
        const utt s = utt_of(a, b);
        a->ll[b] = alpha_utt(a, &s, a->alpha + a->off[b]);
    }
}

/* Gradient row of node (t, u), written into d (C), from the utterance's
 * alpha and beta. As NeMo's compute_{,multiblank_,tdt_}grad_kernel:
 *   d[v] = p_v (occ + lambda L) - (1 + lambda) L [v = y_u] - sum_{blank arcs on v} occ_a
 * with p_v = exp(x_v - den), occ = exp(alpha + beta - ll) the node's
 * occupancy, occ_a = exp(alpha + w_a + beta(dest) - ll) an arc's, and L the
 * label arcs' total; then clamped to [-clamp, clamp] and scaled by g. The
 * first term is log_softmax's backward (each node's arcs sum to occ).
 * Durations (TDT, not clamped, no FastEmit, as NeMo's duration_grads run
 * through torch's log_softmax): d[Vt + i] = q_i occ - sum_{arcs with didx i} occ_a. */
static void grad_node(const nc_rnnt_args *a, const utt *s, const double *al, const double *be,
                      double ll, int64_t t, int64_t u, double g, double lambda, double clamp,
                      float *d) {
    const int64_t node = t * s->U + u, Vt = a->Vt, D = a->C - Vt;
    const float *xr = s->x + (t * a->U1 + u) * a->C;
    const double alpha = al[node];
    const double occ = exp(alpha + be[node] - ll);
    /* Every arc's occupancy first, so that d may be the logits row itself
     * (the fused joint + loss computes the gradient in place): after this
     * only xr[j] -> d[j] at the same index is read. */
    double occ_a[NC_RNNT_MAX_ARCS];
    double L = 0;
    for (int64_t k = 0; k < a->n_arcs; k++) {
        const double o = arc_out(a, s, be, &a->arcs[k], t, u);
        occ_a[k] = o == -INFINITY ? 0.0 : exp(alpha + o - ll);
        if (a->arcs[k].tok < 0) L += occ_a[k];
    }
    const bool clamped = clamp > 0;
    const double c = (occ + lambda * L) * (clamped ? 1.0 : g);
    /* d = exp(x - den) * c, vectorised */
    const float fden = (float)s->den[node], fc = (float)c;
    nc_v16f v;
    int64_t j = 0;
    for (; j + 16 <= Vt; j += 16) {
        nc_v16_load(&v, xr + j);
        v -= fden;
        nc_v16_exp(&v);
        v *= fc;
        nc_v16_store(d + j, &v);
    }
    if (j < Vt) {
        nc_v16_load_tail(&v, xr + j, Vt - j, -INFINITY);
        v -= fden;
        nc_v16_exp(&v);
        v *= fc;
        nc_v16_store_tail(d + j, &v, Vt - j);
    }
    const double gs = clamped ? 1.0 : g;
    if (u < s->U - 1) d[s->y[u]] -= (float)((1.0 + lambda) * L * gs);
    for (int64_t k = 0; k < a->n_arcs; k++)
        if (a->arcs[k].tok >= 0) d[a->arcs[k].tok] -= (float)(occ_a[k] * gs);
    if (clamped) {
        const float cl = (float)clamp, fg = (float)g;
        /* comparisons, not fminf/fmaxf, so that a NaN stays NaN (the trainer skips it) */
        for (int64_t i = 0; i < Vt; i++) d[i] = (d[i] > cl ? cl : d[i] < -cl ? -cl : d[i]) * fg;
    }
    for (int64_t i = 0; i < D; i++) {
        if (!s->dden) {
            d[Vt + i] = 0.0f; /* durations unused (TDT's omega draw took plain RNN-T) */
            continue;
        }
        double Gi = 0;
        for (int64_t k = 0; k < a->n_arcs; k++)
            if (a->arcs[k].didx == i) Gi += occ_a[k];
        d[Vt + i] = (float)((exp((double)xr[Vt + i] - s->dden[node]) * occ - Gi) * g);
    }
}

/* dx may be a->x (in place). */
void nc_cpu_rnnt_grad(bool th, const nc_rnnt_args *a, const double *gscale, double lambda,
                      double clamp, float *dx) {
    const int64_t B = a->B, T = a->T, U1 = a->U1, C = a->C;
#pragma omp parallel for schedule(dynamic) if (th)
    for (int64_t b = 0; b < B; b++) {
        const utt s = utt_of(a, b);
        beta_utt(a, &s, a->beta + a->off[b]);
    }
#pragma omp parallel for collapse(2) schedule(dynamic, 4) if (th)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            float *row = dx + (b * T + t) * U1 * C;
            const utt s = utt_of(a, b);
            int64_t u0 = 0;
            if (t < s.T) {
                for (; u0 < s.U; u0++)
                    grad_node(a, &s, a->alpha + a->off[b], a->beta + a->off[b], a->ll[b], t, u0,
                              gscale[b], lambda, clamp, row + u0 * C);
            }
            memset(row + u0 * C, 0, (size_t)((U1 - u0) * C) * sizeof(float));
        }
    }
}
