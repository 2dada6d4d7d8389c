/* ImpulsePerturbation (nemo/collections/asr/parts/preprocessing/perturb.py):
 * reverberation by convolving with a room impulse response from a manifest.
 * NeMo calls scipy.signal.fftconvolve(x, h, "full"); here the same linear
 * convolution goes through FFTW (real FFTs of a size >= len(x) + len(h) - 1
 * whose factors are 2, 3 and 5, so FFTW's fast codelets cover it). */
#include <math.h>
#include <string.h>

#include "audio/augment_internal.h"
#include "audio/fft_plan.h"
#include "nemoc/alloc.h"
#include "nemoc/augment.h"

/* The smallest 2^a 3^b 5^c >= n (scipy.fft.next_fast_len for real input does the same with 7s and 11s too). */
static int64_t fast_len(int64_t n) {
    int64_t best = INT64_MAX;
    for (int64_t p5 = 1; p5 < best && p5 / 2 < n; p5 *= 5)
        for (int64_t p35 = p5; p35 < best && p35 / 2 < n; p35 *= 3) {
            int64_t v = p35;
            while (v < n) v *= 2;
            if (v < best) best = v;
        }
    return best;
}

/* y[0 .. n + m - 1) = x * h (full linear convolution), in float through FFTW. */
static nc_status fft_convolve(const float *x, int64_t n, const float *h, int64_t m, float *y) {
    const int64_t nf = fast_len(n + m - 1), nc = nf / 2 + 1;
    fftwf_plan fwd = NULL, inv = NULL;
    float *buf = nc_malloc((size_t)nf * sizeof *buf);
    fftwf_complex *X = nc_malloc((size_t)nc * sizeof *X), *H = nc_malloc((size_t)nc * sizeof *H);
    nc_status s = (!buf || !X || !H) ? nc_error(NC_ERR_OOM, "impulse perturbation: FFT buffers (%lld)", (long long)nf)
                                     : NC_OK;
    if (!s) s = nc_fft_plan_r2c(nf, &fwd);
    if (!s) s = nc_fft_plan_c2r(nf, &inv);
    if (!s) {
        memcpy(buf, x, (size_t)n * sizeof *buf);
        memset(buf + n, 0, (size_t)(nf - n) * sizeof *buf);
        fftwf_execute_dft_r2c(fwd, buf, X);
        memcpy(buf, h, (size_t)m * sizeof *buf);
        memset(buf + m, 0, (size_t)(nf - m) * sizeof *buf);
        fftwf_execute_dft_r2c(fwd, buf, H);
        for (int64_t k = 0; k < nc; k++) {
            const float re = X[k][0] * H[k][0] - X[k][1] * H[k][1];
            const float im = X[k][0] * H[k][1] + X[k][1] * H[k][0];
            X[k][0] = re, X[k][1] = im;
        }
        fftwf_execute_dft_c2r(inv, X, buf); /* unnormalised: n * x */
        const float scale = 1.0f / (float)nf;
        for (int64_t i = 0; i < n + m - 1; i++) y[i] = buf[i] * scale;
    }
    nc_fft_plan_destroy(fwd);
    nc_fft_plan_destroy(inv);
    nc_free(buf);
    nc_free(X);
    nc_free(H);
    return s;
}

static float max_abs(const float *x, int64_t n) {
    float m = 0;
    for (int64_t i = 0; i < n; i++) m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}

nc_status nc_perturb_impulse(const nc_impulse_perturb *p, nc_audio *a, nc_rng *rng, double *drawn) {
    if (!p || !p->rirs || nc_noise_set_size(p->rirs) == 0 || !a || !rng || a->sample_rate <= 0 ||
        a->n_samples < 0 || (a->n_samples && !a->samples))
        return nc_error(NC_ERR_INVALID_ARG, "impulse perturbation: bad arguments (no RIR set?)");
    nc_audio rir;
    int64_t k = 0;
    nc_status s = nc_noise_set_pick(p->rirs, rng, a->sample_rate, &rir, &k);
    if (drawn) *drawn = (double)k;
    if (s) return nc_error_prefix(s, "impulse perturbation");
    const int64_t n = a->n_samples, m = rir.n_samples;
    float *h = rir.samples;
    if (m == 0) {
        nc_audio_free(&rir);
        return nc_error(NC_ERR_FORMAT, "impulse perturbation: RIR %lld of the manifest is empty", (long long)k);
    }
    if (p->normalize_impulse) {
        double mean = 0;
        for (int64_t i = 0; i < m; i++) mean += h[i];
        mean /= (double)m;
        for (int64_t i = 0; i < m; i++) h[i] = (float)(h[i] - mean);
        const float mx = max_abs(h, m);
        if (!(mx > 0)) {
            nc_audio_free(&rir);
            return nc_error(NC_ERR_FORMAT, "impulse perturbation: RIR %lld is constant, cannot normalize_impulse",
                            (long long)k);
        }
        for (int64_t i = 0; i < m; i++) h[i] /= mx;
    }
    if (n == 0 || max_abs(a->samples, n) == 0) { /* NeMo: "Zero audio input found, skipping" */
        nc_audio_free(&rir);
        return NC_OK;
    }
    float *y = nc_malloc((size_t)(n + m - 1) * sizeof *y);
    s = y ? fft_convolve(a->samples, n, h, m, y) : nc_error(NC_ERR_OOM, "impulse perturbation (%lld)", (long long)n);
    if (!s) {
        /* shift_impulse: drop the direct-path delay, argmax |h| (first maximum, as np.argmax) */
        int64_t start = 0;
        if (p->shift_impulse)
            for (int64_t i = 1; i < m; i++)
                if (fabsf(h[i]) > fabsf(h[start])) start = i;
        /* full length n + m - 1 minus start >= n: the trim keeps the input's length */
        memcpy(a->samples, y + start, (size_t)n * sizeof *y);
        const float mx = max_abs(a->samples, n);
        if (mx > 0) /* scaled into [-1, 1] as NeMo (against fp16 overflow) */
            for (int64_t i = 0; i < n; i++) a->samples[i] /= mx;
    }
    nc_free(y);
    nc_audio_free(&rir);
    return s;
}
