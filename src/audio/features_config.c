/* Feature config: NeMo's defaults, key=value parsing with YAML spellings,
 * and the checks NeMo's constructors make
 * (AudioToMelSpectrogramPreprocessor.__init__, FilterbankFeatures.__init__). */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audio/features_internal.h"

nc_feature_config nc_feature_default_config(void) {
    return (nc_feature_config){
        .sample_rate = 16000,
        .window_size = 0.02,
        .window_stride = 0.01,
        .n_window_size = 0,
        .n_window_stride = 0,
        .window = NC_WINDOW_HANN,
        .normalize = NC_NORMALIZE_PER_FEATURE,
        .n_fft = 0,
        .preemph = 0.97,
        .features = 64,
        .lowfreq = 0.0,
        .highfreq = 0.0,
        .log = true,
        .log_zero_guard_type = NC_LOG_GUARD_ADD,
        .log_zero_guard_value = 0x1p-24,
        .dither = 1e-5,
        .pad_to = 16,
        .max_duration = 16.7,
        .pad_value = 0.0,
        .frame_splicing = 1,
        .exact_pad = false,
        .mag_power = 2.0,
        .mel_norm = NC_MEL_NORM_SLANEY,
    };
}

static const nc_feature_key_doc KEYS[] = {
    {"sample_rate", "16000", "input sample rate (Hz)"},
    {"window_size", "0.02", "window length in seconds (null to use n_window_size)"},
    {"window_stride", "0.01", "hop in seconds (null to use n_window_stride)"},
    {"n_window_size", "null", "window length in samples (needs window_size=null)"},
    {"n_window_stride", "null", "hop in samples (needs window_stride=null)"},
    {"window", "hann", "hann | hamming | blackman | bartlett | ones (symmetric, periodic=False)"},
    {"normalize", "per_feature", "per_feature | all_features | NA | null"},
    {"n_fft", "null", "FFT size (null: next power of 2 >= window)"},
    {"preemph", "0.97", "pre-emphasis coefficient, or null for none"},
    {"features", "64", "number of mel bins (alias: nfilt)"},
    {"lowfreq", "0", "lowest mel frequency (Hz)"},
    {"highfreq", "null", "highest mel frequency (Hz; null: sample_rate/2)"},
    {"log", "true", "take the log of the mel energies"},
    {"log_zero_guard_type", "add", "add | clamp"},
    {"log_zero_guard_value", "2**-24", "number, tiny or eps"},
    {"dither", "1e-05", "white-noise dither amplitude (training only)"},
    {"pad_to", "16", "pad frames to a multiple of this (0: none; max: max_duration)"},
    {"max_duration", "16.7", "seconds that pad_to=max pads to"},
    {"pad_value", "0", "value of frames past the length"},
    {"frame_splicing", "1", "stack this many copies of the features (NeMo's splice_frames)"},
    {"exact_pad", "false", "pad (n_fft-hop)/2 and use center=False: frames = len // hop"},
    {"mag_power", "2.0", "power of the magnitude spectrum (1: magnitude, 2: power)"},
    {"mel_norm", "slaney", "slaney | null"},
    {NULL, NULL, NULL},
};

const nc_feature_key_doc *nc_feature_config_keys(void) { return KEYS; }

static bool is_null(const char *v) {
    return !strcmp(v, "null") || !strcmp(v, "None") || !strcmp(v, "~") || !strcmp(v, "");
}

static nc_status bad(const char *key, const char *value, const char *want) {
    return nc_error(NC_ERR_CONFIG, "feature config: %s=%s: expected %s", key, value, want);
}

static bool parse_double(const char *v, double *out) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    while (isspace((unsigned char)*end)) end++;
    if (end == v || *end || errno == ERANGE || !isfinite(d)) return false;
    *out = d;
    return true;
}

static bool parse_int(const char *v, int64_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (end == v || *end || errno == ERANGE) return false;
    *out = (int64_t)x;
    return true;
}

static bool parse_bool(const char *v, bool *out) {
    if (!strcasecmp(v, "true") || !strcmp(v, "1")) *out = true;
    else if (!strcasecmp(v, "false") || !strcmp(v, "0")) *out = false;
    else return false;
    return true;
}

/* int key where null (and for window keys false) means "unset" = 0. */
static nc_status set_opt_int(const char *key, const char *v, int64_t *dst, int64_t min) {
    if (is_null(v)) {
        *dst = 0;
        return NC_OK;
    }
    int64_t x;
    if (!parse_int(v, &x) || x < min) return bad(key, v, min > 0 ? "a positive integer or null" : "an integer or null");
    *dst = x;
    return NC_OK;
}

static nc_status set_opt_double(const char *key, const char *v, double *dst, bool false_is_null) {
    if (is_null(v) || (false_is_null && !strcasecmp(v, "false"))) {
        *dst = 0.0;
        return NC_OK;
    }
    double d;
    if (!parse_double(v, &d) || d < 0) return bad(key, v, "a number >= 0 or null");
    *dst = d;
    return NC_OK;
}

static nc_status set_pos_int(const char *key, const char *v, int64_t *dst) {
    int64_t x;
    if (!parse_int(v, &x) || x <= 0) return bad(key, v, "a positive integer");
    *dst = x;
    return NC_OK;
}

static nc_status set_double(const char *key, const char *v, double *dst, double min) {
    double d;
    if (!parse_double(v, &d) || d < min) return bad(key, v, min > -INFINITY ? "a number >= 0" : "a number");
    *dst = d;
    return NC_OK;
}

static nc_status set_bool(const char *key, const char *v, bool *dst) {
    if (!parse_bool(v, dst)) return bad(key, v, "true or false");
    return NC_OK;
}

nc_status nc_feature_config_set(nc_feature_config *c, const char *key, const char *v) {
    if (!c || !key || !v) return nc_error(NC_ERR_INVALID_ARG, "nc_feature_config_set: NULL argument");
    if (!strcmp(key, "sample_rate")) return set_pos_int(key, v, &c->sample_rate);
    if (!strcmp(key, "window_size")) return set_opt_double(key, v, &c->window_size, true);
    if (!strcmp(key, "window_stride")) return set_opt_double(key, v, &c->window_stride, true);
    if (!strcmp(key, "n_window_size")) return set_opt_int(key, v, &c->n_window_size, 1);
    if (!strcmp(key, "n_window_stride")) return set_opt_int(key, v, &c->n_window_stride, 1);
    if (!strcmp(key, "n_fft")) return set_opt_int(key, v, &c->n_fft, 1);
    if (!strcmp(key, "features") || !strcmp(key, "nfilt")) return set_pos_int(key, v, &c->features);
    if (!strcmp(key, "lowfreq")) return set_double(key, v, &c->lowfreq, 0.0);
    if (!strcmp(key, "highfreq")) return set_opt_double(key, v, &c->highfreq, false);
    if (!strcmp(key, "log")) return set_bool(key, v, &c->log);
    if (!strcmp(key, "dither")) return set_double(key, v, &c->dither, 0.0);
    if (!strcmp(key, "max_duration")) return set_double(key, v, &c->max_duration, 0.0);
    if (!strcmp(key, "pad_value")) return set_double(key, v, &c->pad_value, -INFINITY);
    if (!strcmp(key, "frame_splicing")) return set_pos_int(key, v, &c->frame_splicing);
    if (!strcmp(key, "exact_pad")) return set_bool(key, v, &c->exact_pad);
    if (!strcmp(key, "mag_power")) return set_double(key, v, &c->mag_power, 0.0);
    if (!strcmp(key, "window")) {
        if (!strcmp(v, "hann")) c->window = NC_WINDOW_HANN;
        else if (!strcmp(v, "hamming")) c->window = NC_WINDOW_HAMMING;
        else if (!strcmp(v, "blackman")) c->window = NC_WINDOW_BLACKMAN;
        else if (!strcmp(v, "bartlett")) c->window = NC_WINDOW_BARTLETT;
        else if (!strcmp(v, "ones") || !strcmp(v, "none") || is_null(v)) c->window = NC_WINDOW_ONES;
        else return bad(key, v, "hann, hamming, blackman, bartlett or ones");
        return NC_OK;
    }
    if (!strcmp(key, "normalize")) {
        if (!strcmp(v, "per_feature")) c->normalize = NC_NORMALIZE_PER_FEATURE;
        else if (!strcmp(v, "all_features")) c->normalize = NC_NORMALIZE_ALL_FEATURES;
        else if (!strcmp(v, "NA") || is_null(v) || !strcasecmp(v, "false")) c->normalize = NC_NORMALIZE_NONE;
        else return bad(key, v, "per_feature, all_features, NA or null");
        return NC_OK;
    }
    if (!strcmp(key, "preemph")) {
        if (is_null(v)) {
            c->preemph = NAN;
            return NC_OK;
        }
        return set_double(key, v, &c->preemph, -INFINITY);
    }
    if (!strcmp(key, "log_zero_guard_type")) {
        if (!strcmp(v, "add")) c->log_zero_guard_type = NC_LOG_GUARD_ADD;
        else if (!strcmp(v, "clamp")) c->log_zero_guard_type = NC_LOG_GUARD_CLAMP;
        else return bad(key, v, "add or clamp");
        return NC_OK;
    }
    if (!strcmp(key, "log_zero_guard_value")) {
        /* torch.finfo(torch.float32).tiny / .eps */
        if (!strcmp(v, "tiny")) c->log_zero_guard_value = FLT_MIN;
        else if (!strcmp(v, "eps")) c->log_zero_guard_value = FLT_EPSILON;
        else if (!strcmp(v, "2**-24")) c->log_zero_guard_value = 0x1p-24;
        else return set_double(key, v, &c->log_zero_guard_value, 0.0);
        return NC_OK;
    }
    if (!strcmp(key, "pad_to")) {
        if (!strcmp(v, "max")) {
            c->pad_to = NC_PAD_TO_MAX;
            return NC_OK;
        }
        int64_t x;
        if (!parse_int(v, &x) || x < 0) return bad(key, v, "an integer >= 0 or max");
        c->pad_to = x;
        return NC_OK;
    }
    if (!strcmp(key, "mel_norm")) {
        if (!strcmp(v, "slaney")) c->mel_norm = NC_MEL_NORM_SLANEY;
        else if (is_null(v)) c->mel_norm = NC_MEL_NORM_NONE;
        else return bad(key, v, "slaney or null");
        return NC_OK;
    }
    return nc_error(NC_ERR_CONFIG, "feature config: unknown key '%s' (see 'nemoc audio features --help')", key);
}

/* Size caps, far above NeMo's presets (16 kHz, 512-point FFT, 80 mels) and
 * small enough that the buffers they size (filterbank features x bins, the
 * frames of a window) stay in the megabytes and every product fits an int64. */
#define MAX_SAMPLE_RATE 1000000
#define MAX_WINDOW 65536 /* samples of a window or hop; n_fft */
#define MAX_FEATURES 4096
#define MAX_FILTERBANK (INT64_C(1) << 25) /* features x (n_fft/2 + 1) floats: 128 MiB */

static nc_status out_of_range(const char *key, int64_t v, int64_t lo, int64_t hi) {
    return nc_error(NC_ERR_CONFIG, "feature config: %s=%lld is out of range [%lld, %lld]", key, (long long)v,
                    (long long)lo, (long long)hi);
}

/* Seconds * rate as samples, refused before the cast when it cannot fit. */
static nc_status seconds_to_samples(const char *key, double sec, int64_t rate, int64_t *out) {
    double n = sec * (double)rate;
    if (!(n <= (double)MAX_WINDOW))
        return nc_error(NC_ERR_CONFIG, "feature config: %s=%g s at sample_rate %lld is more than %d samples", key,
                        sec, (long long)rate, MAX_WINDOW);
    *out = (int64_t)n;
    return NC_OK;
}

static nc_status check_ranges(const nc_feature_config *c) {
    if (c->sample_rate < 1 || c->sample_rate > MAX_SAMPLE_RATE)
        return out_of_range("sample_rate", c->sample_rate, 1, MAX_SAMPLE_RATE);
    if (c->n_window_size > MAX_WINDOW) return out_of_range("n_window_size", c->n_window_size, 1, MAX_WINDOW);
    if (c->n_window_stride > MAX_WINDOW) return out_of_range("n_window_stride", c->n_window_stride, 1, MAX_WINDOW);
    if (c->n_fft > MAX_WINDOW) return out_of_range("n_fft", c->n_fft, 1, MAX_WINDOW);
    if (c->features > MAX_FEATURES) return out_of_range("features", c->features, 1, MAX_FEATURES);
    if (c->frame_splicing > 64) return out_of_range("frame_splicing", c->frame_splicing, 1, 64);
    if (c->pad_to > MAX_WINDOW) return out_of_range("pad_to", c->pad_to, 0, MAX_WINDOW);
    /* pad_to=max pads every batch to max_duration's frames. */
    if (!(c->max_duration <= 86400.0))
        return nc_error(NC_ERR_CONFIG, "feature config: max_duration=%g is out of range [0, 86400] s",
                        c->max_duration);
    return NC_OK;
}

nc_status nc_feature_config_resolve(const nc_feature_config *in, nc_feature_config *out) {
    nc_feature_config c = *in;
    if (c.sample_rate <= 0) return nc_error(NC_ERR_CONFIG, "feature config: sample_rate=%lld must be > 0", (long long)c.sample_rate);
    nc_status rs = check_ranges(&c);
    if (rs) return rs;
    /* AudioToMelSpectrogramPreprocessor: "Only one should be specified." */
    if (c.window_size > 0 && c.n_window_size > 0)
        return nc_error(NC_ERR_CONFIG, "feature config: both window_size and n_window_size are set; set window_size=null");
    if (c.window_stride > 0 && c.n_window_stride > 0)
        return nc_error(NC_ERR_CONFIG,
                        "feature config: both window_stride and n_window_stride are set; set window_stride=null");
    if (c.window_size > 0 && (rs = seconds_to_samples("window_size", c.window_size, c.sample_rate, &c.n_window_size)))
        return rs;
    if (c.window_stride > 0 &&
        (rs = seconds_to_samples("window_stride", c.window_stride, c.sample_rate, &c.n_window_stride)))
        return rs;
    if (c.n_window_size <= 0 || c.n_window_stride <= 0)
        return nc_error(NC_ERR_CONFIG,
                        "feature config: window length %lld and hop %lld samples must both be positive "
                        "(set window_size/window_stride or n_window_size/n_window_stride)",
                        (long long)c.n_window_size, (long long)c.n_window_stride);
    if (c.exact_pad && c.n_window_stride % 2 == 1)
        return nc_error(NC_ERR_CONFIG, "feature config: exact_pad=true needs an even hop, got %lld",
                        (long long)c.n_window_stride);
    /* self.n_fft = n_fft or 2 ** math.ceil(math.log2(self.win_length)) */
    if (c.n_fft <= 0) c.n_fft = (int64_t)1 << (int)ceil(log2((double)c.n_window_size));
    if (c.n_fft < c.n_window_size)
        return nc_error(NC_ERR_CONFIG, "feature config: n_fft=%lld is shorter than the window (%lld samples)",
                        (long long)c.n_fft, (long long)c.n_window_size);
    if (c.n_fft > MAX_WINDOW) return out_of_range("n_fft", c.n_fft, 1, MAX_WINDOW);
    if (c.features * (c.n_fft / 2 + 1) > MAX_FILTERBANK)
        return nc_error(NC_ERR_CONFIG,
                        "feature config: features=%lld x (n_fft/2 + 1 = %lld) filterbank entries is more than %lld",
                        (long long)c.features, (long long)(c.n_fft / 2 + 1), (long long)MAX_FILTERBANK);
    /* highfreq = highfreq or sample_rate / 2 */
    if (!(c.highfreq > 0)) c.highfreq = (double)c.sample_rate / 2.0;
    if (!(c.lowfreq >= 0) || !(c.highfreq > c.lowfreq))
        return nc_error(NC_ERR_CONFIG, "feature config: need 0 <= lowfreq (%g) < highfreq (%g)", c.lowfreq, c.highfreq);
    if (c.features <= 0 || c.frame_splicing <= 0)
        return nc_error(NC_ERR_CONFIG, "feature config: features=%lld and frame_splicing=%lld must be positive",
                        (long long)c.features, (long long)c.frame_splicing);
    if (c.log && !(c.log_zero_guard_value > 0))
        return nc_error(NC_ERR_CONFIG, "feature config: log_zero_guard_value=%g must be > 0", c.log_zero_guard_value);
    if (!(c.mag_power > 0)) return nc_error(NC_ERR_CONFIG, "feature config: mag_power=%g must be > 0", c.mag_power);
    if (c.pad_to < 0 && c.pad_to != NC_PAD_TO_MAX)
        return nc_error(NC_ERR_CONFIG, "feature config: pad_to=%lld must be >= 0 or max", (long long)c.pad_to);
    if (!(c.dither >= 0)) return nc_error(NC_ERR_CONFIG, "feature config: dither=%g must be >= 0", c.dither);
    if (c.pad_to == NC_PAD_TO_MAX && !(c.max_duration > 0))
        return nc_error(NC_ERR_CONFIG, "feature config: pad_to=max needs max_duration > 0");
    *out = c;
    return NC_OK;
}
