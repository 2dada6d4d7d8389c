/* Featurizer lifetime: build the window, filterbank and FFT plan once from a
 * resolved config (FilterbankFeatures.__init__), plus the length arithmetic
 * (get_seq_len) and the tensor front end. The numeric pipeline is in
 * features_compute.c. */
#include <math.h>
#include <string.h>

#include "audio/features_internal.h"
#include "audio/fft_plan.h"
#include "nemoc/alloc.h"

void nc_featurizer_free(nc_featurizer *f) {
    if (!f) return;
    nc_fft_plan_destroy(f->plan);
    nc_free(f->window);
    nc_free(f->fb);
    nc_free(f->spans);
    nc_free(f);
}

/* get_seq_len on a float length as FilterbankFeatures does, clamped at 0:
 * floor_divide(len + pad_amount - n_fft, hop). */
static int64_t seq_len_of(const nc_featurizer *f, double len) {
    const double pad_amount = (double)(2 * f->stft_pad);
    const double v = floor((len + pad_amount - (double)f->n_fft) / (double)f->hop);
    return v > 0 ? (int64_t)v : 0;
}

nc_status nc_featurizer_create(const nc_feature_config *cfg, nc_featurizer **out) {
    if (!cfg || !out) return nc_error(NC_ERR_INVALID_ARG, "nc_featurizer_create: NULL argument");
    *out = NULL;
    nc_feature_config c;
    nc_status s = nc_feature_config_resolve(cfg, &c);
    if (s) return s;
    nc_featurizer *f = nc_calloc(1, sizeof *f);
    if (!f) return nc_error(NC_ERR_OOM, "featurizer");
    f->cfg = c;
    f->win = c.n_window_size;
    f->hop = c.n_window_stride;
    f->n_fft = c.n_fft;
    f->n_bins = c.n_fft / 2 + 1;
    f->n_mels = c.features;
    /* torch.stft centres a shorter window inside the n_fft frame. */
    f->win_left = (c.n_fft - c.n_window_size) / 2;
    f->stft_pad = c.exact_pad ? (c.n_fft - c.n_window_stride) / 2 : c.n_fft / 2;
    f->exact_pad = c.exact_pad ? f->stft_pad : 0;
    f->center_pad = c.exact_pad ? 0 : c.n_fft / 2;
    f->guard = (float)c.log_zero_guard_value;
    f->window = nc_malloc((size_t)f->win * sizeof(float));
    f->fb = nc_malloc((size_t)(f->n_mels * f->n_bins) * sizeof(float));
    f->spans = nc_malloc((size_t)f->n_mels * sizeof(nc_mel_span));
    if (!f->window || !f->fb || !f->spans) {
        nc_featurizer_free(f);
        return nc_error(NC_ERR_OOM, "featurizer buffers (%lld mels x %lld bins)", (long long)c.features,
                        (long long)(c.n_fft / 2 + 1));
    }
    nc_feature_window(c.window, f->win, f->window);
    s = nc_feature_mel_filterbank((double)c.sample_rate, f->n_fft, f->n_mels, c.lowfreq, c.highfreq, c.mel_norm,
                                  f->fb);
    if (s) {
        nc_featurizer_free(f);
        return s;
    }
    /* Each mel row is a triangle: nonzero on one contiguous run of bins. The
     * matmul only visits that run (empty rows, possible for many mels at a low
     * n_fft, get start == end). */
    for (int64_t m = 0; m < f->n_mels; m++) {
        const float *row = f->fb + m * f->n_bins;
        int64_t a = 0, b = f->n_bins;
        while (a < b && row[a] == 0.0f) a++;
        while (b > a && row[b - 1] == 0.0f) b--;
        f->spans[m] = (nc_mel_span){.start = a, .end = b};
    }
    /* torch.tensor(max_duration * sample_rate, dtype=torch.float) then get_seq_len. */
    f->max_length = seq_len_of(f, (double)(float)(c.max_duration * (double)c.sample_rate));
    s = nc_fft_plan_r2c(f->n_fft, &f->plan);
    if (s) {
        nc_featurizer_free(f);
        return s;
    }
    *out = f;
    return NC_OK;
}

const nc_feature_config *nc_featurizer_config(const nc_featurizer *f) { return &f->cfg; }
int64_t nc_featurizer_win_length(const nc_featurizer *f) { return f->win; }
int64_t nc_featurizer_hop_length(const nc_featurizer *f) { return f->hop; }
int64_t nc_featurizer_n_fft(const nc_featurizer *f) { return f->n_fft; }
int64_t nc_featurizer_n_features(const nc_featurizer *f) { return f->n_mels * f->cfg.frame_splicing; }

int64_t nc_featurizer_seq_len(const nc_featurizer *f, int64_t n_samples) {
    /* forward(): seq_len = where(seq_len == 0, 0, get_seq_len(seq_len)) */
    if (n_samples <= 0) return 0;
    return seq_len_of(f, (double)n_samples);
}

int64_t nc_featurizer_out_frames(const nc_featurizer *f, int64_t T) {
    if (f->cfg.pad_to == NC_PAD_TO_MAX) return f->max_length;
    /* STFT frames of the padded batch: 1 + (T + 2*pad - n_fft) // hop */
    const int64_t span = T + 2 * (f->exact_pad + f->center_pad) - f->n_fft;
    int64_t frames = span >= 0 ? 1 + span / f->hop : 0;
    const int64_t p = f->cfg.pad_to;
    if (p > 0 && frames % p) frames += p - frames % p;
    return frames;
}

void nc_featurizer_buffers(const nc_featurizer *f, nc_tensor *window, nc_tensor *fb) {
    if (window) {
        nc_tensor_init(window, NC_F32, NC_DIMS(f->win), f->window);
        window->name = "preprocessor.featurizer.window";
    }
    if (fb) {
        nc_tensor_init(fb, NC_F32, NC_DIMS(1, f->n_mels, f->n_bins), f->fb);
        fb->name = "preprocessor.featurizer.fb";
    }
}

nc_status nc_featurizer_forward(const nc_featurizer *f, const nc_tensor *audio, const nc_tensor *lengths,
                                bool training, nc_rng *rng, nc_tensor **feats, nc_tensor **feat_lengths) {
    if (!f || !audio || !lengths || !feats || !feat_lengths)
        return nc_error(NC_ERR_INVALID_ARG, "nc_featurizer_forward: NULL argument");
    *feats = NULL;
    *feat_lengths = NULL;
    if (audio->dtype != NC_F32 || audio->ndim != 2)
        return nc_error(NC_ERR_SHAPE, "features: audio must be (B, T) float32, got %d dims of %s", audio->ndim,
                        nc_dtype_name(audio->dtype));
    const int64_t B = audio->shape[0], T = audio->shape[1];
    if (lengths->dtype != NC_I64 || lengths->ndim != 1 || lengths->shape[0] != B)
        return nc_error(NC_ERR_SHAPE, "features: lengths must be (%lld,) int64", (long long)B);
    const int64_t Tout = nc_featurizer_out_frames(f, T);
    nc_status s = nc_tensor_new(NC_F32, NC_DIMS(B, nc_featurizer_n_features(f), Tout), feats);
    if (s) return s;
    s = nc_tensor_new(NC_I64, NC_DIMS(B), feat_lengths);
    if (!s) s = nc_featurizer_compute(f, nc_f32(audio), nc_i64(lengths), B, T, training, rng, nc_f32(*feats),
                                      nc_i64(*feat_lengths));
    if (s) {
        nc_tensor_free(*feats);
        nc_tensor_free(*feat_lengths);
        *feats = NULL;
        *feat_lengths = NULL;
    }
    return s;
}

nc_status nc_features_check_finite(const float *feats, int64_t F, int64_t T, int64_t len, const float *x, int64_t n) {
    for (int64_t f = 0; f < F; f++)
        for (int64_t t = 0; t < len; t++) {
            if (isfinite(feats[f * T + t])) continue;
            float peak = 0;
            for (int64_t i = 0; i < n; i++) peak = fabsf(x[i]) > peak ? fabsf(x[i]) : peak;
            return nc_error(NC_ERR_NUMERIC,
                            "features are not finite (%s at frame %lld, feature %lld): the largest sample "
                            "magnitude is %g (float audio is expected in [-1, 1])",
                            isnan(feats[f * T + t]) ? "NaN" : "Inf", (long long)t, (long long)f, (double)peak);
        }
    return NC_OK;
}
