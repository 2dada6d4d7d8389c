/* Waveform perturbations of nemo/collections/asr/parts/preprocessing/
 * perturb.py: SpeedPerturbation, GainPerturbation, WhiteNoisePerturbation,
 * white noise at an SNR, ShiftPerturbation, band-limiting through a lower
 * rate, and the AudioAugmentor pipeline. Noise mixing from
 * a manifest is in augment_noise.c. */
#include <math.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/augment.h"

/* random.uniform(a, b) = a + (b - a) * random() */
static double uniform(nc_rng *rng, double a, double b) { return a + (b - a) * nc_rng_double(rng); }

double nc_audio_rms_db(const float *x, int64_t n) {
    if (n <= 0) return -INFINITY;
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    return 10.0 * log10(ss / (double)n);
}

static nc_status check_audio(const nc_audio *a, nc_rng *rng, const char *what) {
    if (!a || !rng || (a->n_samples > 0 && !a->samples) || a->n_samples < 0 || a->sample_rate <= 0)
        return nc_error(NC_ERR_INVALID_ARG, "%s: bad audio or rng", what);
    return NC_OK;
}

nc_status nc_perturb_speed(const nc_speed_perturb *p, nc_audio *a, nc_rng *rng, double *drawn) {
    nc_status s = check_audio(a, rng, "speed perturbation");
    if (s) return s;
    const double lo = p->min_speed_rate, hi = p->max_speed_rate;
    if (!(lo > 0.0 && hi > 0.0 && isfinite(lo) && isfinite(hi))) /* NaN fails too */
        return nc_error(NC_ERR_CONFIG, "speed perturbation: rates [%g, %g] must be finite and > 0", lo, hi);
    double rate;
    if (p->num_rates <= 0) {
        rate = uniform(rng, lo, hi);
    } else {
        /* random.choice(np.linspace(min, max, num_rates)) */
        const int64_t k = (int64_t)floor(nc_rng_double(rng) * p->num_rates);
        rate = p->num_rates == 1 ? lo
               : k == p->num_rates - 1 ? hi
                                       : lo + (double)k * ((hi - lo) / (double)(p->num_rates - 1));
    }
    if (drawn) *drawn = rate;
    if (rate == 1.0) return NC_OK; /* NeMo skips the identity rate */
    const int sr = a->sample_rate;
    const int new_sr = (int)((double)sr * rate);
    float *y;
    int64_t ny;
    s = nc_audio_resample(a->samples, a->n_samples, sr, new_sr, &y, &ny);
    if (s) return nc_error_prefix(s, "speed perturbation (rate %g)", rate);
    nc_free(a->samples);
    a->samples = y;
    a->n_samples = ny; /* still played at sr: rate times longer */
    return NC_OK;
}

nc_status nc_perturb_gain(const nc_gain_perturb *p, nc_audio *a, nc_rng *rng, double *drawn) {
    nc_status s = check_audio(a, rng, "gain perturbation");
    if (s) return s;
    if (!(isfinite(p->min_gain_dbfs) && isfinite(p->max_gain_dbfs)))
        return nc_error(NC_ERR_CONFIG, "gain perturbation: gains [%g, %g] dBFS must be finite", p->min_gain_dbfs,
                        p->max_gain_dbfs);
    const double gain = uniform(rng, p->min_gain_dbfs, p->max_gain_dbfs);
    if (drawn) *drawn = gain;
    const float k = (float)pow(10.0, gain / 20.0);
    for (int64_t i = 0; i < a->n_samples; i++) a->samples[i] *= k;
    return NC_OK;
}

/* Adds std * N(0, 1) noise, drawn in blocks so no buffer the size of the audio is needed. */
static void add_noise(float *x, int64_t n, double std, nc_rng *rng) {
    float block[1024];
    for (int64_t i = 0; i < n; i += 1024) {
        const int64_t m = n - i < 1024 ? n - i : 1024;
        nc_rng_normal(rng, block, m, 0.0f, 1.0f);
        for (int64_t j = 0; j < m; j++) x[i + j] += (float)((double)block[j] * std);
    }
}

nc_status nc_perturb_white_noise(const nc_white_noise_perturb *p, nc_audio *a, nc_rng *rng, double *drawn) {
    nc_status s = check_audio(a, rng, "white noise perturbation");
    if (s) return s;
    if (p->max_level <= p->min_level)
        return nc_error(NC_ERR_CONFIG, "white noise perturbation: min_level %d must be < max_level %d", p->min_level,
                        p->max_level);
    /* np.random.randint(min_level, max_level): upper bound exclusive */
    const int level = p->min_level + (int)floor(nc_rng_double(rng) * (double)(p->max_level - p->min_level));
    if (drawn) *drawn = level;
    add_noise(a->samples, a->n_samples, pow(10.0, level / 20.0), rng);
    return NC_OK;
}

nc_status nc_perturb_white_noise_snr(const nc_white_noise_snr_perturb *p, nc_audio *a, nc_rng *rng,
                                     double *drawn) {
    nc_status s = check_audio(a, rng, "white noise (SNR) perturbation");
    if (s) return s;
    if (!(isfinite(p->min_snr_db) && isfinite(p->max_snr_db) && p->min_snr_db <= p->max_snr_db))
        return nc_error(NC_ERR_CONFIG, "white noise: need finite min_snr_db <= max_snr_db, found %g and %g",
                        p->min_snr_db, p->max_snr_db);
    const double snr = uniform(rng, p->min_snr_db, p->max_snr_db);
    if (drawn) *drawn = snr;
    const double sig_db = nc_audio_rms_db(a->samples, a->n_samples);
    if (!isfinite(sig_db)) return NC_OK; /* silence: no level to be relative to */
    add_noise(a->samples, a->n_samples, pow(10.0, (sig_db - snr) / 20.0), rng);
    return NC_OK;
}

nc_status nc_perturb_shift(const nc_shift_perturb *p, nc_audio *a, nc_rng *rng, double *drawn) {
    nc_status s = check_audio(a, rng, "shift perturbation");
    if (s) return s;
    if (!(isfinite(p->min_shift_ms) && isfinite(p->max_shift_ms) && p->min_shift_ms <= p->max_shift_ms))
        return nc_error(NC_ERR_CONFIG, "shift perturbation: need finite min_shift_ms <= max_shift_ms, found %g and %g",
                        p->min_shift_ms, p->max_shift_ms);
    const double ms = uniform(rng, p->min_shift_ms, p->max_shift_ms);
    if (drawn) *drawn = ms;
    const int sr = a->sample_rate;
    if (fabs(ms) / 1000.0 > (double)a->n_samples / sr) return NC_OK; /* NeMo ignores such a shift */
    /* int(shift_ms * sr // 1000): Python's floor division, also for negative shifts */
    const int64_t k = (int64_t)floor(ms * sr / 1000.0), n = a->n_samples;
    float *x = a->samples;
    if (k > 0) {
        memmove(x, x + k, (size_t)(n - k) * sizeof *x);
        memset(x + (n - k), 0, (size_t)k * sizeof *x);
    } else if (k < 0) {
        memmove(x - k, x, (size_t)(n + k) * sizeof *x);
        memset(x, 0, (size_t)(-k) * sizeof *x);
    }
    return NC_OK;
}

nc_status nc_perturb_resample(const nc_resample_perturb *p, nc_audio *a, nc_rng *rng, double *drawn) {
    nc_status s = check_audio(a, rng, "resample perturbation");
    if (s) return s;
    if (p->target_sr <= 0) return nc_error(NC_ERR_CONFIG, "resample perturbation: target_sr %d must be > 0", p->target_sr);
    if (drawn) *drawn = p->target_sr;
    const int sr = a->sample_rate;
    if (p->target_sr == sr || a->n_samples == 0) return NC_OK;
    float *lo = NULL, *back = NULL;
    int64_t nlo = 0, nback = 0;
    s = nc_audio_resample(a->samples, a->n_samples, sr, p->target_sr, &lo, &nlo);
    if (!s) s = nc_audio_resample(lo, nlo, p->target_sr, sr, &back, &nback);
    nc_free(lo);
    if (s) return nc_error_prefix(s, "resample perturbation (%d Hz and back)", p->target_sr);
    /* soxr's lengths round; the transcript is aligned to the original length, so keep it. */
    const int64_t m = nback < a->n_samples ? nback : a->n_samples;
    memcpy(a->samples, back, (size_t)m * sizeof *back);
    memset(a->samples + m, 0, (size_t)(a->n_samples - m) * sizeof *back);
    nc_free(back);
    return NC_OK;
}

nc_status nc_audio_augment(const nc_perturb_step *steps, int n_steps, nc_audio *a, nc_rng *rng) {
    if ((n_steps > 0 && !steps) || n_steps < 0 || !rng)
        return nc_error(NC_ERR_INVALID_ARG, "nc_audio_augment: bad arguments");
    for (int i = 0; i < n_steps; i++) {
        const nc_perturb_step *st = &steps[i];
        /* AudioAugmentor.perturb: if random.random() < prob: p.perturb(segment) */
        if (!(nc_rng_double(rng) < st->prob)) continue;
        nc_status s;
        switch (st->kind) {
        case NC_PERTURB_SPEED: s = nc_perturb_speed(&st->u.speed, a, rng, NULL); break;
        case NC_PERTURB_GAIN: s = nc_perturb_gain(&st->u.gain, a, rng, NULL); break;
        case NC_PERTURB_WHITE_NOISE: s = nc_perturb_white_noise(&st->u.white_noise, a, rng, NULL); break;
        case NC_PERTURB_WHITE_NOISE_SNR: s = nc_perturb_white_noise_snr(&st->u.white_noise_snr, a, rng, NULL); break;
        case NC_PERTURB_NOISE: s = nc_perturb_noise(&st->u.noise, a, rng, NULL); break;
        case NC_PERTURB_SHIFT: s = nc_perturb_shift(&st->u.shift, a, rng, NULL); break;
        case NC_PERTURB_IMPULSE: s = nc_perturb_impulse(&st->u.impulse, a, rng, NULL); break;
        case NC_PERTURB_RESAMPLE: s = nc_perturb_resample(&st->u.resample, a, rng, NULL); break;
        case NC_PERTURB_TIME_STRETCH: s = nc_perturb_time_stretch(&st->u.time_stretch, a, rng, NULL); break;
        case NC_PERTURB_TRANSCODE: s = nc_perturb_transcode(&st->u.transcode, a, rng, NULL); break;
        case NC_PERTURB_RIR_NOISE: s = nc_perturb_rir_noise(&st->u.rir_noise, a, rng, NULL); break;
        case NC_PERTURB_VTLP: s = nc_perturb_vtlp(&st->u.vtlp, a, rng, NULL); break;
        default: return nc_error(NC_ERR_INVALID_ARG, "audio augmentation step %d: unknown kind %d", i, (int)st->kind);
        }
        if (s) return nc_error_prefix(s, "audio augmentation step %d", i);
    }
    return NC_OK;
}
