/* FilterbankFeatures.forward (nemo/collections/asr/parts/preprocessing/
 * features.py) on a padded batch, in four passes:
 *   1. signal: exact-pad, dither (serial torch.randn_like draws), pre-emphasis
 *      and its time mask, one row per utterance;
 *   2. frames: window -> FFTW r2c -> |X|^p -> sparse mel matmul -> log, for
 *      the valid frames only (frames >= seq_len are overwritten by pad_value
 *      in NeMo, so computing them would be wasted), threaded over
 *      utterances x frames with per-thread FFT buffers allocated once per call;
 *   3. frame splicing copies;
 *   4. normalisation, masking with pad_value, pad_to padding. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "audio/features_internal.h"
#include "nemoc/alloc.h"

/* Fewer frames than this run on one thread: a fork/join costs more. */
#define PAR_MIN_FRAMES 64

/* torch.std's epsilon added by normalize_batch (CONSTANT). */
static const float NORM_EPS = 1e-5f;

static size_t round_up64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Pass 1: sig (B, Tp) from x (B, T). */
static void prepare_signal(const nc_featurizer *f, const float *x, const int64_t *lengths, int64_t B, int64_t T,
                           int64_t Tp, int64_t ep, bool dither_on, float *sig) {
    const float dither = (float)f->cfg.dither;
    const bool pre = !isnan(f->cfg.preemph);
    const float a = (float)f->cfg.preemph;
#pragma omp parallel for if (B * Tp >= 65536) schedule(static)
    for (int64_t b = 0; b < B; b++) {
        float *s = sig + b * Tp;
        const float *xb = x + b * T;
        if (dither_on) {
            /* s holds randn draws: x += dither * randn_like(x) */
            for (int64_t t = 0; t < ep; t++) s[t] = 0.0f + dither * s[t];
            for (int64_t t = 0; t < T; t++) s[ep + t] = xb[t] + dither * s[ep + t];
            for (int64_t t = ep + T; t < Tp; t++) s[t] = 0.0f + dither * s[t];
        } else {
            memset(s, 0, (size_t)ep * sizeof(float));
            memcpy(s + ep, xb, (size_t)T * sizeof(float));
            memset(s + ep + T, 0, (size_t)(Tp - ep - T) * sizeof(float));
        }
        if (pre) {
            /* y[0] = x[0]; y[t] = x[t] - preemph * x[t-1]; then masked_fill(t >= len, 0)
             * where t indexes the (exact-padded) signal but len is the unpadded length. */
            const int64_t len = lengths[b];
            for (int64_t t = Tp - 1; t >= 1; t--) s[t] = t < len ? s[t] - a * s[t - 1] : 0.0f;
            if (len <= 0 && Tp > 0) s[0] = 0.0f;
        }
    }
}

/* Pass 2 for one frame: writes n_mels values (stride Tout) of utterance b, frame t. */
static void frame_features(const nc_featurizer *f, const float *sig, int64_t Tp, int64_t t, float *buf,
                           fftwf_complex *spec, float *pw, float *out, int64_t Tout) {
    const int64_t win = f->win, nb = f->n_bins;
    const float *w = f->window;
    /* First windowed sample of frame t in signal coordinates. */
    const int64_t s0 = t * f->hop - f->center_pad + f->win_left;
    float *dst = buf + f->win_left;
    if (s0 >= 0 && s0 + win <= Tp) {
        const float *src = sig + s0;
        for (int64_t j = 0; j < win; j++) dst[j] = w[j] * src[j];
    } else {
        for (int64_t j = 0; j < win; j++) {
            const int64_t k = s0 + j;
            dst[j] = (k >= 0 && k < Tp) ? w[j] * sig[k] : 0.0f;
        }
    }
    fftwf_execute_dft_r2c(f->plan, buf, spec);
    const double mp = f->cfg.mag_power;
    if (mp == 2.0) {
        for (int64_t k = 0; k < nb; k++) pw[k] = spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1];
    } else if (mp == 1.0) {
        for (int64_t k = 0; k < nb; k++) pw[k] = sqrtf(spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1]);
    } else {
        const float p = (float)mp;
        for (int64_t k = 0; k < nb; k++) pw[k] = powf(sqrtf(spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1]), p);
    }
    const bool do_log = f->cfg.log, clamp = f->cfg.log_zero_guard_type == NC_LOG_GUARD_CLAMP;
    const float g = f->guard;
    for (int64_t m = 0; m < f->n_mels; m++) {
        const float *row = f->fb + m * nb;
        float acc = 0.0f;
        for (int64_t k = f->spans[m].start; k < f->spans[m].end; k++) acc += row[k] * pw[k];
        if (do_log) acc = clamp ? logf(acc < g ? g : acc) : logf(acc + g);
        out[m * Tout] = acc;
    }
}

/* Pass 4a: per_feature / all_features normalisation of utterance b's valid frames. */
static void normalize_rows(float *o, int64_t F, int64_t Tout, int64_t n, nc_feature_normalize mode) {
    if (n <= 0) return; /* every frame becomes pad_value */
    if (mode == NC_NORMALIZE_PER_FEATURE) {
        for (int64_t r = 0; r < F; r++) {
            float *x = o + r * Tout;
            double sum = 0;
            for (int64_t t = 0; t < n; t++) sum += x[t];
            const float mean = (float)(sum / (double)n);
            double ss = 0;
            for (int64_t t = 0; t < n; t++) {
                const double d = (double)x[t] - mean;
                ss += d * d;
            }
            /* (N-1) divisor; N == 1 gives NaN in torch, which NeMo masks to 0. */
            float std = n > 1 ? (float)sqrt(ss / (double)(n - 1)) : 0.0f;
            std += NORM_EPS;
            for (int64_t t = 0; t < n; t++) x[t] = (x[t] - mean) / std;
        }
    } else if (mode == NC_NORMALIZE_ALL_FEATURES) {
        double sum = 0;
        for (int64_t r = 0; r < F; r++)
            for (int64_t t = 0; t < n; t++) sum += o[r * Tout + t];
        const int64_t N = F * n;
        const float mean = (float)(sum / (double)N);
        double ss = 0;
        for (int64_t r = 0; r < F; r++)
            for (int64_t t = 0; t < n; t++) {
                const double d = (double)o[r * Tout + t] - mean;
                ss += d * d;
            }
        float std = N > 1 ? (float)sqrt(ss / (double)(N - 1)) : 0.0f;
        std += NORM_EPS;
        for (int64_t r = 0; r < F; r++)
            for (int64_t t = 0; t < n; t++) o[r * Tout + t] = (o[r * Tout + t] - mean) / std;
    }
}

/* Index of the utterance holding flat frame i, given prefix sums start[b]. */
static int64_t find_utt(const int64_t *start, int64_t B, int64_t i) {
    int64_t lo = 0, hi = B - 1;
    while (lo < hi) {
        const int64_t mid = (lo + hi + 1) / 2;
        if (start[mid] <= i) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

nc_status nc_featurizer_compute(const nc_featurizer *f, const float *x, const int64_t *lengths, int64_t B,
                                int64_t T, bool training, nc_rng *rng, float *out, int64_t *out_lengths) {
    if (!f || (B > 0 && (!x || !lengths || !out || !out_lengths)) || B < 0 || T < 0)
        return nc_error(NC_ERR_INVALID_ARG, "features: bad arguments (B=%lld, T=%lld)", (long long)B, (long long)T);
    const nc_feature_config *c = &f->cfg;
    const int64_t ep = f->exact_pad, cp = f->center_pad;
    const int64_t Tp = T + 2 * ep;
    if (Tp + 2 * cp < f->n_fft)
        return nc_error(NC_ERR_SHAPE, "features: batch of %lld samples is shorter than one FFT frame (%lld)",
                        (long long)T, (long long)f->n_fft);
    const int64_t n_frames = 1 + (Tp + 2 * cp - f->n_fft) / f->hop;
    const int64_t Tout = nc_featurizer_out_frames(f, T);
    const int64_t F = nc_featurizer_n_features(f), M = f->n_mels;
    const bool dither_on = training && c->dither > 0;
    if (dither_on && !rng) return nc_error(NC_ERR_INVALID_ARG, "features: dither in training needs an nc_rng");
    for (int64_t b = 0; b < B; b++) {
        if (lengths[b] < 0 || lengths[b] > T)
            return nc_error(NC_ERR_INVALID_ARG, "features: lengths[%lld] = %lld outside [0, %lld]", (long long)b,
                            (long long)lengths[b], (long long)T);
        out_lengths[b] = nc_featurizer_seq_len(f, lengths[b]);
        if (out_lengths[b] > Tout)
            return nc_error(NC_ERR_INVALID_ARG,
                            "features: utterance %lld has %lld frames, more than pad_to=max allows (%lld frames "
                            "for max_duration=%g s)",
                            (long long)b, (long long)out_lengths[b], (long long)Tout, c->max_duration);
    }
    if (B == 0) return NC_OK;

    /* Scratch: the prepared signal and per-thread FFT buffers, once per call. */
    const int nt = omp_get_max_threads();
    const size_t buf_bytes = round_up64((size_t)f->n_fft * sizeof(float));
    const size_t spec_bytes = round_up64((size_t)f->n_bins * sizeof(fftwf_complex));
    const size_t pw_bytes = round_up64((size_t)f->n_bins * sizeof(float));
    const size_t per_thread = buf_bytes + spec_bytes + pw_bytes;
    float *sig = nc_malloc((size_t)(B * Tp) * sizeof(float) + 1);
    unsigned char *tbuf = nc_malloc(per_thread * (size_t)nt);
    int64_t *start = nc_malloc((size_t)(B + 1) * sizeof(int64_t));
    if (!sig || !tbuf || !start) {
        nc_free(sig);
        nc_free(tbuf);
        nc_free(start);
        return nc_error(NC_ERR_OOM, "features scratch for a (%lld, %lld) batch", (long long)B, (long long)T);
    }
    if (dither_on) nc_rng_normal(rng, sig, B * Tp, 0.0f, 1.0f);
    prepare_signal(f, x, lengths, B, T, Tp, ep, dither_on, sig);

    /* Valid frames per utterance, never more than the STFT produced or the output holds. */
    start[0] = 0;
    for (int64_t b = 0; b < B; b++) {
        int64_t n = out_lengths[b];
        if (n > n_frames) n = n_frames;
        start[b + 1] = start[b] + n;
    }
    const int64_t total = start[B];

#pragma omp parallel num_threads(nt) if (total >= PAR_MIN_FRAMES)
    {
        unsigned char *mine = tbuf + per_thread * (size_t)omp_get_thread_num();
        float *buf = (float *)mine;
        fftwf_complex *spec = (fftwf_complex *)(mine + buf_bytes);
        float *pw = (float *)(mine + buf_bytes + spec_bytes);
        /* Outside the window the frame stays zero (window zero-padded to n_fft). */
        memset(buf, 0, (size_t)f->n_fft * sizeof(float));
#pragma omp for schedule(static)
        for (int64_t i = 0; i < total; i++) {
            const int64_t b = find_utt(start, B, i), t = i - start[b];
            frame_features(f, sig + b * Tp, Tp, t, buf, spec, pw, out + b * F * Tout + t, Tout);
        }
    }
    nc_free(tbuf);
    nc_free(sig);

    const float pad_value = (float)c->pad_value;
#pragma omp parallel for if (total >= PAR_MIN_FRAMES) schedule(static)
    for (int64_t b = 0; b < B; b++) {
        float *o = out + b * F * Tout;
        const int64_t n = start[b + 1] - start[b];
        /* splice_frames: torch.cat([x[:, :, :k], x[:, :, k:]], 2) is x itself, so
         * NeMo stacks frame_splicing identical copies along the feature axis. */
        for (int64_t k = 1; k < c->frame_splicing; k++)
            for (int64_t m = 0; m < M; m++) memcpy(o + (k * M + m) * Tout, o + m * Tout, (size_t)n * sizeof(float));
        normalize_rows(o, F, Tout, n, c->normalize);
        for (int64_t r = 0; r < F; r++)
            for (int64_t t = n; t < Tout; t++) o[r * Tout + t] = pad_value;
    }
    nc_free(start);
    return NC_OK;
}
