/* CTC loss kernels: the alpha (forward) and beta (backward) recursions of
 * Graves et al. 2006, section 4.1, in log space and double precision, one
 * utterance per OpenMP task (front end, notation and torch references in
 * src/ops/ops_ctc.c). */
#include <math.h>

#include "backend/cpu/cpu_kernels.h"

/* log(exp(a) + exp(b)) without overflow; -inf is the additive identity. */
static inline double lse2(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

/* Class emitted in extended state s. */
static inline int64_t state_label(const int64_t *tg, int64_t s, int64_t blank) {
    return (s & 1) ? tg[s >> 1] : blank;
}

/* Fills alpha rows for one utterance and returns its negative log-likelihood.
 * lp (T, V); with `keep` row t lives at alpha + t * S2 (needed by backward),
 * otherwise two rolling rows are used. */
static double ctc_alpha(const float *lp, int64_t V, const int64_t *tg, int64_t il, int64_t tl,
                        int64_t blank, double *alpha, bool keep) {
    /* torch: an empty input explains only an empty target */
    if (il == 0) return tl == 0 ? 0.0 : INFINITY;
    int64_t S2 = 2 * tl + 1;
    double *row = alpha;
    for (int64_t s = 0; s < S2; s++) row[s] = -INFINITY;
    row[0] = lp[blank];
    if (tl > 0) row[1] = lp[tg[0]];
    for (int64_t t = 1; t < il; t++) {
        const double *prev = alpha + (keep ? t - 1 : (t - 1) & 1) * S2;
        double *cur = alpha + (keep ? t : t & 1) * S2;
        const float *l = lp + t * V;
        for (int64_t s = 0; s < S2; s++) {
            /* alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1) [+ alpha_{t-1}(s-2)]) y_t(l'_s);
             * the skip over a blank is allowed only between different labels */
            double a = prev[s];
            if (s > 0) a = lse2(a, prev[s - 1]);
            if (s > 1 && (s & 1) && tg[s >> 1] != tg[(s >> 1) - 1]) a = lse2(a, prev[s - 2]);
            cur[s] = a == -INFINITY ? -INFINITY : a + l[state_label(tg, s, blank)];
        }
    }
    const double *last = alpha + (keep ? il - 1 : (il - 1) & 1) * S2;
    /* a valid alignment ends in the last label or the trailing blank */
    double ll = tl == 0 ? last[0] : lse2(last[S2 - 1], last[S2 - 2]);
    return -ll;
}

/* Beta recursion and gradient for one utterance, added into dx (T, V):
 * dx[t][c] += g * (exp(lp[t][c]) - exp(lse_{s: l'_s = c}(alpha+beta)[t][s] + nll - lp[t][c])).
 * beta holds two rows of S2, acc V doubles. */
static void ctc_grad(const float *lp, int64_t V, const int64_t *tg, int64_t il, int64_t tl,
                     int64_t blank, const double *alpha, double nll, double g, double *beta,
                     double *acc, float *dx) {
    int64_t S2 = 2 * tl + 1;
    if (nll == INFINITY) {
        /* torch computes exp(-inf + inf) here: every frame of an impossible
         * utterance gets NaN unless zero_infinity skipped it */
        for (int64_t i = 0; i < il * V; i++) dx[i] = NAN;
        return;
    }
    for (int64_t t = il - 1; t >= 0; t--) {
        double *cur = beta + (t & 1) * S2;
        const double *next = beta + ((t + 1) & 1) * S2;
        const float *l = lp + t * V;
        if (t == il - 1) {
            for (int64_t s = 0; s < S2; s++) cur[s] = -INFINITY;
            cur[S2 - 1] = l[blank];
            if (tl > 0) cur[S2 - 2] = l[tg[tl - 1]];
        } else {
            for (int64_t s = 0; s < S2; s++) {
                /* mirror image of the alpha step: s, s+1, and s+2 between different labels */
                double b = next[s];
                if (s < S2 - 1) b = lse2(b, next[s + 1]);
                if (s < S2 - 2 && (s & 1) && tg[(s >> 1) + 1] != tg[s >> 1])
                    b = lse2(b, next[s + 2]);
                cur[s] = b == -INFINITY ? -INFINITY : b + l[state_label(tg, s, blank)];
            }
        }
        for (int64_t c = 0; c < V; c++) acc[c] = -INFINITY;
        const double *a = alpha + t * S2;
        for (int64_t s = 0; s < S2; s++) {
            double v = a[s] + cur[s];
            if (v != -INFINITY) {
                int64_t c = state_label(tg, s, blank);
                acc[c] = lse2(acc[c], v);
            }
        }
        /* alpha*beta counts y_t(c) twice, hence "- lp"; + nll divides by p(z|x).
         * A class on no path (acc = -inf) has posterior 0: spelled out so a
         * -inf log-prob does not turn -inf - (-inf) into NaN. */
        float *d = dx + t * V;
        for (int64_t c = 0; c < V; c++) {
            double post = acc[c] == -INFINITY ? 0.0 : exp(acc[c] + nll - l[c]);
            d[c] += (float)((exp((double)l[c]) - post) * g);
        }
    }
}

void nc_cpu_ctc_alpha(bool th, const nc_ctc_args *a, bool keep) {
    const int64_t B = a->B, T = a->T, V = a->V, S = a->S;
#pragma omp parallel for schedule(dynamic) if (th)
    for (int64_t b = 0; b < B; b++)
        a->nll[b] = ctc_alpha(a->lp + b * T * V, V, a->tg + b * S, a->il[b], a->tl[b], a->blank,
                              a->alpha + a->off[b], keep);
}

void nc_cpu_ctc_grad(bool th, const nc_ctc_args *a, const double *gscale, bool zero_infinity,
                     double *work, float *dx) {
    const int64_t B = a->B, T = a->T, V = a->V, S = a->S, per = 2 * (2 * S + 1) + V;
#pragma omp parallel for schedule(dynamic) if (th)
    for (int64_t b = 0; b < B; b++) {
        if (zero_infinity && a->nll[b] == INFINITY) continue; /* loss was set to 0 */
        double *w = work + b * per;
        ctc_grad(a->lp + b * T * V, V, a->tg + b * S, a->il[b], a->tl[b], a->blank,
                 a->alpha + a->off[b], a->nll[b], gscale[b], w, w + 2 * (2 * S + 1),
                 dx + b * T * V);
    }
}
