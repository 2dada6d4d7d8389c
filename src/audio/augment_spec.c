/* SpecCutout and SpecAugment (nemo/collections/asr/parts/submodules/
 * spectr_augment.py) as SpectrogramAugmentation applies them: cutout first,
 * then SpecAugment (time masks, then frequency masks, in the vectorised form). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nemoc/alloc.h"
#include "nemoc/augment.h"

nc_spec_augment_config nc_spec_augment_default_config(void) {
    return (nc_spec_augment_config){
        .freq_masks = 0,
        .time_masks = 0,
        .freq_width = 10,
        .time_width = 10,
        .time_width_is_fraction = false,
        .rect_masks = 0,
        .rect_time = 5,
        .rect_freq = 20,
        .mask_value = 0.0f,
        .use_vectorized_spec_augment = true,
    };
}

#define SPEC_MAX_MASKS 1000
#define SPEC_MAX_WIDTH (INT64_C(1) << 20)

static nc_status bad(const char *key, const char *v, const char *want) {
    return nc_error(NC_ERR_CONFIG, "spec_augment: %s=%s: expected %s", key, v, want);
}

static bool parse_i64(const char *v, int64_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno) return false;
    *out = x;
    return true;
}

nc_status nc_spec_augment_config_set(nc_spec_augment_config *c, const char *key, const char *v) {
    if (!c || !key || !v) return nc_error(NC_ERR_INVALID_ARG, "nc_spec_augment_config_set: NULL argument");
    int64_t *ip = !strcmp(key, "freq_masks")   ? &c->freq_masks
                  : !strcmp(key, "time_masks") ? &c->time_masks
                  : !strcmp(key, "freq_width") ? &c->freq_width
                  : !strcmp(key, "rect_masks") ? &c->rect_masks
                  : !strcmp(key, "rect_time")  ? &c->rect_time
                  : !strcmp(key, "rect_freq")  ? &c->rect_freq
                                               : NULL;
    if (ip) {
        /* Counts of masks size a draw buffer (2 x batch x masks) and a loop
         * per utterance; widths are frames or bins. NeMo's presets use up to
         * 10 masks and widths of tens. */
        const int64_t max = strstr(key, "_masks") ? SPEC_MAX_MASKS : SPEC_MAX_WIDTH;
        int64_t x;
        if (!parse_i64(v, &x) || x < 0) return bad(key, v, "an integer >= 0");
        if (x > max)
            return nc_error(NC_ERR_CONFIG, "spec_augment: %s=%s is out of range [0, %lld]", key, v, (long long)max);
        *ip = x;
        return NC_OK;
    }
    if (!strcmp(key, "time_width")) {
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end || !(d >= 0)) return bad(key, v, "an integer (frames) or a fraction in [0, 1]");
        /* YAML/Python typing: 10 is an int, 0.05 or 1.0 a float. */
        const bool frac = strpbrk(v, ".eE") != NULL;
        if (frac && d > 1.0) return bad(key, v, "a fraction in [0, 1] (a float time_width is relative)");
        if (d > (double)SPEC_MAX_WIDTH)
            return nc_error(NC_ERR_CONFIG, "spec_augment: time_width=%s is out of range [0, %lld] frames", v,
                            (long long)SPEC_MAX_WIDTH);
        c->time_width = d;
        c->time_width_is_fraction = frac;
        return NC_OK;
    }
    if (!strcmp(key, "mask_value")) {
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end || !isfinite(d)) return bad(key, v, "a number");
        c->mask_value = (float)d;
        return NC_OK;
    }
    if (!strcmp(key, "use_vectorized_spec_augment")) {
        if (!strcasecmp(v, "true")) c->use_vectorized_spec_augment = true;
        else if (!strcasecmp(v, "false")) c->use_vectorized_spec_augment = false;
        else return bad(key, v, "true or false");
        return NC_OK;
    }
    return nc_error(NC_ERR_CONFIG, "spec_augment: unknown key '%s'", key);
}

/* Python's random.randint(lo, hi): inclusive at both ends. */
static int64_t randint_incl(nc_rng *rng, int64_t lo, int64_t hi) {
    return lo + (int64_t)floor(nc_rng_double(rng) * (double)(hi - lo + 1));
}

/* SpecCutout.forward: rectangles of up to rect_freq x rect_time set to 0.0
 * (not mask_value), drawn over the whole padded (F, T). */
static nc_status spec_cutout(const nc_spec_augment_config *c, float *spec, int64_t B, int64_t F, int64_t T,
                             nc_rng *rng) {
    if (F < c->rect_freq || T < c->rect_time)
        return nc_error(NC_ERR_INVALID_ARG, "SpecCutout: spectrogram (%lld bins, %lld frames) is smaller than "
                        "rect_freq=%lld x rect_time=%lld", (long long)F, (long long)T, (long long)c->rect_freq,
                        (long long)c->rect_time);
    for (int64_t b = 0; b < B; b++) {
        for (int64_t i = 0; i < c->rect_masks; i++) {
            const int64_t x0 = randint_incl(rng, 0, F - c->rect_freq);
            const int64_t y0 = randint_incl(rng, 0, T - c->rect_time);
            const int64_t wx = randint_incl(rng, 0, c->rect_freq);
            const int64_t wy = randint_incl(rng, 0, c->rect_time);
            for (int64_t f = x0; f < x0 + wx && f < F; f++)
                for (int64_t t = y0; t < y0 + wy && t < T; t++) spec[(b * F + f) * T + t] = 0.0f;
        }
    }
    return NC_OK;
}

/* SpecAugment._apply_masks along time (axis 2) or frequency (axis 1):
 *   width = rand(B, n) * W            -> long     (W = time_width * length,
 *                                                   clamped to T, when fractional)
 *   start = rand(B, n) * (L - width)  -> long     (L = length, or F for frequency)
 *   mask [start, start + width) on the axis.
 * rand is float32 and products are float32, as in torch; .long() truncates. */
static void apply_masks(const nc_spec_augment_config *c, float *spec, int64_t B, int64_t F, int64_t T,
                        const int64_t *lengths, nc_rng *rng, bool time_axis, float *draws) {
    const int64_t n = time_axis ? c->time_masks : c->freq_masks;
    if (n <= 0) return;
    nc_rng_uniform(rng, draws, B * n, 0.0f, 1.0f);          /* widths */
    nc_rng_uniform(rng, draws + B * n, B * n, 0.0f, 1.0f);  /* starts */
    for (int64_t b = 0; b < B; b++) {
        float wmax;
        if (!time_axis) wmax = (float)c->freq_width;
        else if (c->time_width_is_fraction) {
            wmax = (float)c->time_width * (float)lengths[b];
            if (wmax > (float)T) wmax = (float)T;
        } else wmax = (float)c->time_width;
        const int64_t axis_len = time_axis ? lengths[b] : F;
        for (int64_t i = 0; i < n; i++) {
            const int64_t w = (int64_t)(draws[b * n + i] * wmax);
            const int64_t s = (int64_t)(draws[B * n + b * n + i] * (float)(axis_len - w));
            const int64_t lim = time_axis ? T : F;
            const int64_t a0 = s < 0 ? 0 : s, a1 = s + w > lim ? lim : s + w;
            for (int64_t a = a0; a < a1; a++) {
                if (time_axis)
                    for (int64_t f = 0; f < F; f++) spec[(b * F + f) * T + a] = c->mask_value;
                else
                    for (int64_t t = 0; t < T; t++) spec[(b * F + a) * T + t] = c->mask_value;
            }
        }
    }
}

/* SpecAugment._forward_legacy: Python random per mask, widths inclusive. */
static nc_status legacy_masks(const nc_spec_augment_config *c, float *spec, int64_t B, int64_t F, int64_t T,
                              const int64_t *lengths, nc_rng *rng) {
    if (c->freq_masks > 0 && F < c->freq_width)
        return nc_error(NC_ERR_INVALID_ARG, "SpecAugment: %lld bins < freq_width=%lld", (long long)F,
                        (long long)c->freq_width);
    for (int64_t b = 0; b < B; b++) {
        for (int64_t i = 0; i < c->freq_masks; i++) {
            const int64_t s = randint_incl(rng, 0, F - c->freq_width);
            const int64_t w = randint_incl(rng, 0, c->freq_width);
            for (int64_t f = s; f < s + w && f < F; f++)
                for (int64_t t = 0; t < T; t++) spec[(b * F + f) * T + t] = c->mask_value;
        }
        int64_t tmax = (int64_t)c->time_width;
        if (c->time_width_is_fraction) {
            tmax = (int64_t)((double)lengths[b] * c->time_width);
            if (tmax < 1) tmax = 1;
        }
        int64_t upper = lengths[b] - tmax;
        if (upper < 1) upper = 1;
        for (int64_t i = 0; i < c->time_masks; i++) {
            const int64_t s = randint_incl(rng, 0, upper);
            const int64_t w = randint_incl(rng, 0, tmax);
            for (int64_t t = s; t < s + w && t < T; t++)
                for (int64_t f = 0; f < F; f++) spec[(b * F + f) * T + t] = c->mask_value;
        }
    }
    return NC_OK;
}

nc_status nc_spec_augment(const nc_spec_augment_config *c, float *spec, int64_t B, int64_t F, int64_t T,
                          const int64_t *lengths, nc_rng *rng) {
    if (!c || !rng || B < 0 || F < 0 || T < 0 || (B > 0 && (!spec || !lengths)))
        return nc_error(NC_ERR_INVALID_ARG, "nc_spec_augment: bad arguments");
    if (c->freq_masks > SPEC_MAX_MASKS || c->time_masks > SPEC_MAX_MASKS || c->rect_masks > SPEC_MAX_MASKS)
        return nc_error(NC_ERR_CONFIG, "spec_augment: freq_masks=%lld, time_masks=%lld, rect_masks=%lld: at most %d",
                        (long long)c->freq_masks, (long long)c->time_masks, (long long)c->rect_masks, SPEC_MAX_MASKS);
    if (c->time_width_is_fraction && !(c->time_width >= 0.0 && c->time_width <= 1.0))
        return nc_error(NC_ERR_CONFIG, "spec_augment: fractional time_width=%g must be in [0, 1]", c->time_width);
    for (int64_t b = 0; b < B; b++)
        if (lengths[b] < 0 || lengths[b] > T)
            return nc_error(NC_ERR_INVALID_ARG, "spec_augment: lengths[%lld] = %lld outside [0, %lld]", (long long)b,
                            (long long)lengths[b], (long long)T);
    if (c->rect_masks > 0) {
        nc_status s = spec_cutout(c, spec, B, F, T, rng);
        if (s) return s;
    }
    if (c->freq_masks + c->time_masks <= 0) return NC_OK;
    if (!c->use_vectorized_spec_augment) return legacy_masks(c, spec, B, F, T, lengths, rng);
    const int64_t nmax = c->time_masks > c->freq_masks ? c->time_masks : c->freq_masks;
    float *draws = nc_malloc((size_t)(2 * B * nmax) * sizeof(float) + 1);
    if (!draws) return nc_error(NC_ERR_OOM, "spec_augment draws");
    apply_masks(c, spec, B, F, T, lengths, rng, true, draws);
    apply_masks(c, spec, B, F, T, lengths, rng, false, draws);
    nc_free(draws);
    return NC_OK;
}
