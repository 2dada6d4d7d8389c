/* RirAndNoisePerturbation (nemo/collections/asr/parts/preprocessing/perturb.py):
 * an RIR (ImpulsePerturbation with shift_impulse), then foreground noise
 * (NoisePerturbation.perturb_with_foreground_noise: short pieces added at
 * random places) and background noise (perturb_with_input_noise), both
 * levelled against the audio as it was after the RIR. Built from the
 * impulse and noise steps' own code (augment_impulse.c, augment_noise.c). */
#include <math.h>
#include <stdbool.h>

#include "audio/augment_internal.h"
#include "nemoc/alloc.h"
#include "nemoc/augment.h"

void nc_noise_fg_segment(int64_t noise_n, int sr, int64_t n_data, double dur_s, double start_s, int64_t *s0,
                         int64_t *len) {
    /* start_sample = int(round(start_time * sr));
     * end_sample = int(round(min(noise.duration, start_time + noise_dur) * sr)) (round: half to even) */
    const double noise_dur = (double)noise_n / sr;
    int64_t a = (int64_t)nearbyint(start_s * sr), b = (int64_t)nearbyint(fmin(noise_dur, start_s + dur_s) * sr);
    if (a > noise_n) a = noise_n;
    if (b > noise_n) b = noise_n;
    if (b < a) b = a;
    *s0 = a;
    /* noise_samples[0 : len(data)] when longer than the audio */
    *len = b - a < n_data ? b - a : n_data;
}

/* NeMo picks the perturber of the audio's orig_sr, else the one with the largest orig_sr. */
static const nc_noise_source *pick_source(const nc_noise_source *src, int n, int orig_sr) {
    const nc_noise_source *best = &src[0];
    for (int i = 0; i < n; i++) {
        if (src[i].orig_sr == orig_sr) return &src[i];
        if (src[i].orig_sr > best->orig_sr) best = &src[i];
    }
    return best;
}

static int64_t randint_incl(nc_rng *rng, int64_t lo, int64_t hi) { /* random.randint: both ends included */
    int64_t k = lo + (int64_t)floor(nc_rng_double(rng) * (double)(hi - lo + 1));
    return k > hi ? hi : k;
}

/* perturb_with_foreground_noise(data, noise, data_rms, max_noise_dur, max_additions) */
static void add_foreground(const nc_rir_noise_perturb *p, const nc_noise_source *src, nc_audio *a,
                           const nc_audio *noise, double data_db, nc_rng *rng) {
    const double snr = src->min_snr_db + (src->max_snr_db - src->min_snr_db) * nc_rng_double(rng);
    const double noise_db = nc_audio_rms_db(noise->samples, noise->n_samples);
    /* min(data_rms - noise.rms_db - snr, max_gain_db), NoisePerturbation's default max_gain_db 300 */
    const double gain_db = fmin(data_db - noise_db - snr, 300.0);
    const int64_t n_add = randint_incl(rng, 1, p->max_additions);
    const double noise_dur = (double)noise->n_samples / a->sample_rate;
    const bool level_ok = isfinite(gain_db);
    const float g = level_ok ? (float)pow(10.0, gain_db / 20.0) : 0.0f;
    for (int64_t k = 0; k < n_add; k++) {
        const double dur = p->max_duration * nc_rng_double(rng), start = noise_dur * nc_rng_double(rng);
        int64_t s0, len;
        nc_noise_fg_segment(noise->n_samples, a->sample_rate, a->n_samples, dur, start, &s0, &len);
        const int64_t at = randint_incl(rng, 0, a->n_samples - len);
        /* an empty noise or audio gives no level to match (NeMo would add NaNs): the draws are made, nothing added */
        if (level_ok)
            for (int64_t i = 0; i < len; i++) a->samples[at + i] += g * noise->samples[s0 + i];
    }
}

nc_status nc_perturb_rir_noise(const nc_rir_noise_perturb *p, nc_audio *a, nc_rng *rng, double *drawn) {
    if (!p || !p->rirs || !a || !rng || a->sample_rate <= 0 || a->n_samples < 0 || (a->n_samples && !a->samples) ||
        p->n_fg < 0 || p->n_fg > NC_RIR_NOISE_MAX_SETS || p->n_bg < 0 || p->n_bg > NC_RIR_NOISE_MAX_SETS ||
        p->max_additions < 1 || !(p->max_duration >= 0))
        return nc_error(NC_ERR_INVALID_ARG, "rir_noise_aug: bad arguments (no RIR set? max_additions < 1?)");
    const nc_impulse_perturb rir = {.rirs = p->rirs, .normalize_impulse = false, .shift_impulse = true};
    const int orig_sr = a->orig_sample_rate > 0 ? a->orig_sample_rate : a->sample_rate;
    int ran = 0;
    nc_status s = NC_OK;
    if (nc_rng_double(rng) < p->rir_prob) {
        if ((s = nc_perturb_impulse(&rir, a, rng, NULL))) return nc_error_prefix(s, "rir_noise_aug");
        ran |= 1;
    }
    const double data_db = nc_audio_rms_db(a->samples, a->n_samples);
    if (p->n_fg > 0 && nc_rng_double(rng) < p->noise_prob) {
        const nc_noise_source *src = pick_source(p->fg, p->n_fg, orig_sr);
        nc_audio noise = {0};
        s = nc_noise_set_pick(src->set, rng, a->sample_rate, &noise, NULL);
        if (!s && p->apply_noise_rir) s = nc_perturb_impulse(&rir, &noise, rng, NULL);
        if (!s) add_foreground(p, src, a, &noise, data_db, rng);
        nc_audio_free(&noise);
        if (s) return nc_error_prefix(s, "rir_noise_aug: foreground noise");
        ran |= 2;
    }
    if (p->n_bg > 0 && nc_rng_double(rng) < p->bg_noise_prob) {
        const nc_noise_source *src = pick_source(p->bg, p->n_bg, orig_sr);
        nc_audio noise = {0};
        s = nc_noise_set_pick(src->set, rng, a->sample_rate, &noise, NULL);
        if (!s) s = nc_noise_add_input(a, &noise, data_db, src->min_snr_db, src->max_snr_db, 300.0, rng, NULL);
        nc_audio_free(&noise);
        if (s) return nc_error_prefix(s, "rir_noise_aug: background noise");
        ran |= 4;
    }
    if (drawn) *drawn = ran;
    return NC_OK;
}
