/* TimeStretchPerturbation (nemo/collections/asr/parts/preprocessing/perturb.py):
 * tempo change at constant pitch by a phase vocoder. NeMo's path, mirrored
 * step by step:
 *   stft = librosa.stft(x, n_fft, hop = n_fft / 2)    (hann, center, zero pad:
 *          librosa >= 0.10; n_fft and hop doubled when slowing down)
 *   numba_utils.phase_vocoder(stft, rate, phi_advance, scale_buffer)
 *          (nemo/collections/asr/parts/utils/numba_utils.py, librosa's
 *          algorithm; phase accumulated in float32 as there)
 *   librosa.istft(..., length = round(len(x) / rate))
 * FFTs through FFTW (fft_plan.c), single precision; numpy's are double, so
 * the result matches NeMo's to a tolerance, not bit for bit. */
#include <math.h>
#include <string.h>

#include "audio/fft_plan.h"
#include "nemoc/alloc.h"
#include "nemoc/augment.h"

typedef struct stretch_buf {
    fftwf_plan fwd, inv;
    float *win, *frame;
    fftwf_complex *col;   /* one aligned column: FFTW's new-array execute needs the plan's alignment */
    fftwf_complex *spec;  /* (T + 2, bins) frame-major, two zero frames appended (np.pad) */
    fftwf_complex *out;   /* (T', bins) */
    float *y, *wss;
} stretch_buf;

static void buf_free(stretch_buf *b) {
    nc_fft_plan_destroy(b->fwd);
    nc_fft_plan_destroy(b->inv);
    nc_free(b->win);
    nc_free(b->frame);
    nc_free(b->col);
    nc_free(b->spec);
    nc_free(b->out);
    nc_free(b->y);
    nc_free(b->wss);
}

/* The speed rate, drawn as NeMo: uniform for num_rates < 0, else random.choice(linspace). */
static double draw_rate(const nc_time_stretch_perturb *p, nc_rng *rng) {
    const double lo = p->min_speed_rate, hi = p->max_speed_rate;
    if (p->num_rates < 0) return lo + (hi - lo) * nc_rng_double(rng);
    int64_t k = (int64_t)floor(nc_rng_double(rng) * p->num_rates);
    if (k >= p->num_rates) k = p->num_rates - 1;
    return p->num_rates == 1 ? lo : k == p->num_rates - 1 ? hi : lo + (double)k * ((hi - lo) / (p->num_rates - 1));
}

/* y (length ny, zeroed) = istft of `out` (nt frames) cut to the centred window [nfft/2, nfft/2 + ny). */
static void istft(stretch_buf *b, int64_t nt, int64_t nfft, int64_t hop, int64_t ny) {
    const int64_t bins = nfft / 2 + 1, half = nfft / 2;
    /* librosa: n_frames = min(frames, ceil((length + 2 * (n_fft // 2)) / hop)) */
    int64_t nf = (ny + 2 * half + hop - 1) / hop;
    if (nf > nt) nf = nt;
    memset(b->y, 0, (size_t)ny * sizeof *b->y);
    memset(b->wss, 0, (size_t)ny * sizeof *b->wss);
    for (int64_t t = 0; t < nf; t++) {
        fftwf_complex *col = b->col; /* c2r overwrites its input */
        memcpy(col, b->out + t * bins, (size_t)bins * sizeof *col);
        col[0][1] = 0; /* numpy's irfft ignores the imaginary parts of DC and Nyquist */
        col[bins - 1][1] = 0;
        fftwf_execute_dft_c2r(b->inv, col, b->frame);
        for (int64_t i = 0; i < nfft; i++) {
            const int64_t at = t * hop + i - half;
            if (at < 0 || at >= ny) continue;
            b->y[at] += b->win[i] * (b->frame[i] / (float)nfft);
            b->wss[at] += b->win[i] * b->win[i];
        }
    }
    for (int64_t i = 0; i < ny; i++)
        if (b->wss[i] > 1.17549435e-38f) b->y[i] /= b->wss[i]; /* > util.tiny(float32) */
}

static nc_status stretch(const float *x, int64_t n, double rate, int64_t nfft, int64_t hop, int64_t ny,
                         stretch_buf *b) {
    const int64_t bins = nfft / 2 + 1, half = nfft / 2;
    const int64_t nt = 1 + n / hop; /* centred frames */
    /* np.arange(0, nt, rate): ceil(nt / rate) steps */
    const int64_t nout = (int64_t)ceil((double)nt / rate);
    nc_status s = NC_OK;
    b->win = nc_malloc((size_t)nfft * sizeof *b->win);
    b->frame = nc_malloc((size_t)nfft * sizeof *b->frame);
    b->col = nc_malloc((size_t)bins * sizeof *b->col);
    b->spec = nc_calloc((size_t)((nt + 2) * bins), sizeof *b->spec);
    b->out = nc_malloc((size_t)(nout * bins) * sizeof *b->out);
    b->y = nc_malloc((size_t)(ny > 0 ? ny : 1) * sizeof *b->y);
    b->wss = nc_malloc((size_t)(ny > 0 ? ny : 1) * sizeof *b->wss);
    if (!b->win || !b->frame || !b->col || !b->spec || !b->out || !b->y || !b->wss)
        return nc_error(NC_ERR_OOM, "time stretch: %lld frames of %lld bins", (long long)nt, (long long)bins);
    if ((s = nc_fft_plan_r2c(nfft, &b->fwd)) || (s = nc_fft_plan_c2r(nfft, &b->inv))) return s;
    for (int64_t i = 0; i < nfft; i++) /* scipy get_window('hann', n_fft): periodic */
        b->win[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)nfft));
    for (int64_t t = 0; t < nt; t++) {
        for (int64_t i = 0; i < nfft; i++) {
            const int64_t at = t * hop + i - half; /* zero padding by n_fft / 2 on both sides */
            b->frame[i] = at >= 0 && at < n ? b->win[i] * x[at] : 0.0f;
        }
        fftwf_execute_dft_r2c(b->fwd, b->frame, b->col);
        memcpy(b->spec + t * bins, b->col, (size_t)bins * sizeof *b->col);
    }
    /* numba_utils.phase_vocoder */
    for (int64_t f = 0; f < bins; f++) {
        float acc = atan2f(b->spec[f][1], b->spec[f][0]); /* np.angle(D[:, 0]), float32 */
        const double adv = M_PI * (double)hop * (double)f / (double)(bins - 1); /* linspace(0, pi * hop, bins) */
        for (int64_t t = 0; t < nout; t++) {
            const double step = (double)t * rate;
            const int64_t c = (int64_t)step;
            const fftwf_complex *c0 = &b->spec[c * bins + f], *c1 = &b->spec[(c + 1) * bins + f];
            const double alpha = fmod(step, 1.0);
            const double mag = (1.0 - alpha) * hypotf((*c0)[0], (*c0)[1]) + alpha * hypotf((*c1)[0], (*c1)[1]);
            b->out[t * bins + f][0] = (float)(mag * cos((double)acc));
            b->out[t * bins + f][1] = (float)(mag * sin((double)acc));
            double dphase = (double)atan2f((*c1)[1], (*c1)[0]) - (double)atan2f((*c0)[1], (*c0)[0]) - adv;
            dphase -= 2.0 * M_PI * nearbyint(dphase / (2.0 * M_PI)); /* np.round: half to even */
            acc = (float)((double)acc + (adv + dphase)); /* phase_acc is float32 in NeMo */
        }
    }
    istft(b, nout, nfft, hop, ny);
    return NC_OK;
}

nc_status nc_perturb_time_stretch(const nc_time_stretch_perturb *p, nc_audio *a, nc_rng *rng, double *drawn) {
    if (!p || !a || !rng || a->sample_rate <= 0 || a->n_samples < 0 || (a->n_samples && !a->samples))
        return nc_error(NC_ERR_INVALID_ARG, "time stretch perturbation: bad arguments");
    const double lo = p->min_speed_rate, hi = p->max_speed_rate;
    if (!(lo > 0 && lo <= hi && isfinite(hi)) || p->num_rates == 0)
        return nc_error(NC_ERR_CONFIG,
                        "time stretch perturbation: need finite 0 < min_speed_rate <= max_speed_rate (found %g, %g) "
                        "and num_rates != 0",
                        lo, hi);
    if (p->n_fft < 16 || p->n_fft > 16384 || p->n_fft % 2)
        return nc_error(NC_ERR_CONFIG, "time stretch perturbation: n_fft %d must be even, in [16, 16384]", p->n_fft);
    const double rate = draw_rate(p, rng);
    if (drawn) *drawn = rate;
    if (rate == 1.0 || a->n_samples == 0) return NC_OK; /* NeMo skips the identity rate */
    /* slowing down doubles n_fft (and hop) */
    const int64_t nfft = (int64_t)p->n_fft * (rate >= 1.0 ? 1 : 2), hop = nfft / 2;
    /* len_stretch = int(round(len / rate)): Python's round, half to even */
    const int64_t ny = (int64_t)nearbyint((double)a->n_samples / rate);
    stretch_buf b = {0};
    nc_status s = stretch(a->samples, a->n_samples, rate, nfft, hop, ny, &b);
    if (!s) {
        nc_free(a->samples);
        a->samples = b.y;
        a->n_samples = ny;
        b.y = NULL;
    }
    buf_free(&b);
    if (s) return nc_error_prefix(s, "time stretch perturbation (rate %g)", rate);
    return NC_OK;
}
