/* Vocal tract length perturbation (Jaitly & Hinton, ICML 2013 workshop on
 * deep learning for audio, speech and language): the spectrum's frequency
 * axis is warped by a factor alpha drawn per utterance, with the paper's
 * piecewise-linear warp
 *     f' = alpha f                                   for f <= F_hi min(alpha, 1) / alpha
 *     f' = S/2 - (S/2 - F_hi min(alpha, 1)) / (S/2 - F_hi min(alpha, 1) / alpha) (S/2 - f)   above,
 * S/2 the Nyquist frequency. The paper warps the mel filterbank's centres;
 * here the warp is applied to the waveform, so it composes with the other
 * waveform steps: a centred STFT (periodic Hann, hop n_fft / 4), each output
 * bin g taking the magnitude at the source frequency warp^-1(g) (linear
 * interpolation between bins) and the nearest source bin's phase plus the
 * phase that the shift from the source's instantaneous frequency f to
 * warp(f) has accumulated frame by frame (a phase vocoder along frequency, so
 * a tone at f comes out at f', not smeared, and the bins of one partial keep
 * their relative phases), then weighted overlap-add with the same window
 * divided by its summed square. With alpha = 1 every bin takes its own
 * magnitude and phase: the input back. */
#include <math.h>
#include <string.h>

#include "audio/fft_plan.h"
#include "nemoc/alloc.h"
#include "nemoc/augment.h"

#define VTLP_OS 4 /* FFT length / window length */

typedef struct vtlp_buf {
    fftwf_plan fwd, inv;
    float *win, *frame;
    fftwf_complex *col;
    double *mag, *ifreq, *phi_prev, *src_bin;
    double *psi; /* per output bin: phase the frequency shift has added so far */
    float *y, *wss;
} vtlp_buf;

static void buf_free(vtlp_buf *b) {
    nc_fft_plan_destroy(b->fwd);
    nc_fft_plan_destroy(b->inv);
    nc_free(b->win), nc_free(b->frame), nc_free(b->col);
    nc_free(b->mag), nc_free(b->ifreq), nc_free(b->phi_prev), nc_free(b->psi), nc_free(b->src_bin);
    nc_free(b->y), nc_free(b->wss);
}

/* The paper's warp and its inverse, frequencies in Hz. */
static double warp(double f, double alpha, double f_hi, double nyq) {
    const double b = f_hi * fmin(alpha, 1.0) / alpha;
    if (f <= b) return alpha * f;
    return nyq - (nyq - f_hi * fmin(alpha, 1.0)) / (nyq - b) * (nyq - f);
}

static double unwarp(double g, double alpha, double f_hi, double nyq) {
    const double b = f_hi * fmin(alpha, 1.0) / alpha, ab = f_hi * fmin(alpha, 1.0);
    if (g <= ab) return g / alpha;
    return nyq - (nyq - g) * (nyq - b) / (nyq - ab);
}

static double princarg(double p) { return p - 2 * M_PI * nearbyint(p / (2 * M_PI)); }

static nc_status vtlp_run(const float *x, int64_t n, int sr, double alpha, double f_hi, int64_t nfft, vtlp_buf *b) {
    /* The FFT is VTLP_OS times the window, zero padded: a partial's lobe then spans
     * 4 VTLP_OS bins, so reading magnitudes between bins (linear interpolation) loses
     * little of its peak (-15% at half a bin without padding, ~1% with 4x) */
    const int64_t nfr = VTLP_OS * nfft, bins = nfr / 2 + 1, half = nfft / 2, hop = nfft / 4;
    const int64_t nt = 1 + (n + hop - 1) / hop; /* centred frames covering every sample */
    const double nyq = sr / 2.0;
    b->win = nc_malloc((size_t)nfft * sizeof *b->win);
    b->frame = nc_malloc((size_t)nfr * sizeof *b->frame);
    b->col = nc_malloc((size_t)bins * sizeof *b->col);
    b->mag = nc_malloc((size_t)bins * sizeof *b->mag);
    b->ifreq = nc_malloc((size_t)bins * sizeof *b->ifreq);
    b->phi_prev = nc_malloc((size_t)bins * sizeof *b->phi_prev);
    b->psi = nc_malloc((size_t)bins * sizeof *b->psi);
    b->src_bin = nc_malloc((size_t)bins * sizeof *b->src_bin);
    b->y = nc_calloc((size_t)n, sizeof *b->y);
    b->wss = nc_calloc((size_t)n, sizeof *b->wss);
    if (!b->win || !b->frame || !b->col || !b->mag || !b->ifreq || !b->phi_prev || !b->psi || !b->src_bin || !b->y ||
        !b->wss)
        return nc_error(NC_ERR_OOM, "vtlp: %lld samples, n_fft %lld", (long long)n, (long long)nfft);
    nc_status s;
    if ((s = nc_fft_plan_r2c(nfr, &b->fwd)) || (s = nc_fft_plan_c2r(nfr, &b->inv))) return s;
    for (int64_t i = 0; i < nfft; i++) b->win[i] = (float)(0.5 - 0.5 * cos(2 * M_PI * (double)i / (double)nfft));
    /* output bin k draws from fractional input bin src_bin[k] = warp^-1(k sr / n) n / sr */
    for (int64_t k = 0; k < bins; k++) {
        double sb = unwarp((double)k * sr / (double)nfr, alpha, f_hi, nyq) * (double)nfr / sr;
        if (fabs(sb - nearbyint(sb)) < 1e-9) sb = nearbyint(sb); /* alpha = 1: exactly bin k */
        b->src_bin[k] = fmin(fmax(sb, 0.0), (double)(bins - 1));
    }
    const double bin_hz = (double)sr / (double)nfr;
    for (int64_t t = 0; t < nt; t++) {
        memset(b->frame, 0, (size_t)nfr * sizeof *b->frame); /* the inverse FFT wrote all of it */
        for (int64_t i = 0; i < nfft; i++) {
            const int64_t at = t * hop + i - half; /* zero padding by n_fft / 2 on both sides */
            /* zero-phase windowing: the frame's centre goes to index 0, so the bins of one
             * partial share a phase instead of alternating by pi, and a bin can take the
             * phase of another source bin without breaking the partial apart */
            b->frame[(i - half + nfr) % nfr] = at >= 0 && at < n ? b->win[i] * x[at] : 0.0f;
        }
        fftwf_execute_dft_r2c(b->fwd, b->frame, b->col);
        for (int64_t j = 0; j < bins; j++) {
            const double phi = atan2((double)b->col[j][1], (double)b->col[j][0]);
            const double expect = 2 * M_PI * (double)j * (double)hop / (double)nfr;
            b->mag[j] = hypot((double)b->col[j][0], (double)b->col[j][1]);
            /* instantaneous frequency (Hz) from the phase advance over one hop */
            b->ifreq[j] = t == 0 ? (double)j * bin_hz
                                 : ((double)j + princarg(phi - b->phi_prev[j] - expect) * (double)nfr /
                                                    (2 * M_PI * (double)hop)) * bin_hz;
            b->phi_prev[j] = phi;
        }
        for (int64_t k = 0; k < bins; k++) {
            const double sb = b->src_bin[k];
            const int64_t j0 = (int64_t)sb, j1 = j0 + 1 < bins ? j0 + 1 : j0;
            const double w = sb - (double)j0;
            const double mag = (1 - w) * b->mag[j0] + w * b->mag[j1];
            /* phase: the source bin's own (so the bins of one partial keep their relative
             * phases, as identity phase locking), advanced by the phase the frequency
             * shift warp(f) - f has accumulated since the first frame */
            if (t > 0) {
                const double f = (1 - w) * b->ifreq[j0] + w * b->ifreq[j1];
                const double d = b->psi[k] + 2 * M_PI * (warp(f, alpha, f_hi, nyq) - f) * (double)hop / sr;
                b->psi[k] = d - 2 * M_PI * floor(d / (2 * M_PI)); /* kept small, so double keeps its precision */
            } else {
                b->psi[k] = 0;
            }
            const double psi = b->phi_prev[w < 0.5 ? j0 : j1] + b->psi[k];
            b->col[k][0] = (float)(mag * cos(psi));
            b->col[k][1] = (float)(mag * sin(psi));
        }
        b->col[0][1] = 0, b->col[bins - 1][1] = 0;
        fftwf_execute_dft_c2r(b->inv, b->col, b->frame);
        for (int64_t i = 0; i < nfft; i++) {
            const int64_t at = t * hop + i - half;
            if (at < 0 || at >= n) continue;
            b->y[at] += b->win[i] * (b->frame[(i - half + nfr) % nfr] / (float)nfr);
            b->wss[at] += b->win[i] * b->win[i];
        }
    }
    for (int64_t i = 0; i < n; i++)
        if (b->wss[i] > 1e-10f) b->y[i] /= b->wss[i];
    return NC_OK;
}

nc_status nc_perturb_vtlp(const nc_vtlp_perturb *p, nc_audio *a, nc_rng *rng, double *drawn) {
    if (!p || !a || !rng || a->sample_rate <= 0 || a->n_samples < 0 || (a->n_samples && !a->samples))
        return nc_error(NC_ERR_INVALID_ARG, "vtlp: bad arguments");
    if (!(p->min_warp > 0 && p->min_warp <= p->max_warp && p->max_warp <= 10))
        return nc_error(NC_ERR_CONFIG, "vtlp: need 0 < min_warp <= max_warp <= 10, found %g and %g", p->min_warp,
                        p->max_warp);
    if (p->n_fft < 16 || p->n_fft > 16384 || p->n_fft % 4)
        return nc_error(NC_ERR_CONFIG, "vtlp: n_fft %d must be a multiple of 4 in [16, 16384]", p->n_fft);
    if (!(p->f_hi > 0 && p->f_hi < a->sample_rate / 2.0))
        return nc_error(NC_ERR_CONFIG, "vtlp: f_hi %g Hz must be in (0, Nyquist frequency %g)",
                        p->f_hi, a->sample_rate / 2.0);
    const double alpha = p->min_warp + (p->max_warp - p->min_warp) * nc_rng_double(rng);
    if (drawn) *drawn = alpha;
    if (a->n_samples == 0) return NC_OK;
    vtlp_buf b = {0};
    nc_status s = vtlp_run(a->samples, a->n_samples, a->sample_rate, alpha, p->f_hi, p->n_fft, &b);
    if (!s) memcpy(a->samples, b.y, (size_t)a->n_samples * sizeof *b.y);
    buf_free(&b);
    if (s) return nc_error_prefix(s, "vtlp (alpha %g)", alpha);
    return NC_OK;
}
