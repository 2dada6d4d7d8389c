/* Analysis windows (torch.*_window with periodic=False) and the Slaney mel
 * filterbank of librosa.filters.mel(htk=False), step by step as librosa 0.10
 * computes it (librosa/filters.py, librosa/core/convert.py) so that the
 * float32 result matches the `fb` buffer in NeMo checkpoints. */
#include <math.h>

#include "audio/features_internal.h"
#include "nemoc/alloc.h"

static const double PI = 3.14159265358979323846;

/* torch/functional window_functions (aten/src/ATen/native/TensorFactories.cpp):
 * symmetric windows divide by N-1; a window of length 1 is [1]. Computed in
 * double and rounded once, which agrees with torch's float32 to ~1 ulp. */
void nc_feature_window(nc_window_type type, int64_t n, float *w) {
    if (n == 1) {
        w[0] = 1.0f;
        return;
    }
    const double d = (double)(n - 1);
    for (int64_t i = 0; i < n; i++) {
        const double x = (double)i;
        double v;
        switch (type) {
        case NC_WINDOW_HANN: v = 0.5 - 0.5 * cos(2.0 * PI * x / d); break;
        case NC_WINDOW_HAMMING: v = 0.54 - 0.46 * cos(2.0 * PI * x / d); break;
        case NC_WINDOW_BLACKMAN: v = 0.42 - 0.5 * cos(2.0 * PI * x / d) + 0.08 * cos(4.0 * PI * x / d); break;
        case NC_WINDOW_BARTLETT: {
            /* torch: w = i*2/(N-1); the second half (i >= (N-1)/2 + 1) becomes 2 - w. */
            v = x * 2.0 / d;
            if (i >= ((n - 1) >> 1) + 1) v = 2.0 - v;
            break;
        }
        case NC_WINDOW_ONES:
        default: v = 1.0; break;
        }
        w[i] = (float)v;
    }
}

/* librosa hz_to_mel / mel_to_hz, Slaney's auditory toolbox scale: linear
 * below 1 kHz (200/3 Hz per mel), logarithmic above (log(6.4)/27 per mel). */
#define F_SP (200.0 / 3.0)
#define MIN_LOG_HZ 1000.0
#define MIN_LOG_MEL (MIN_LOG_HZ / F_SP)

static double hz_to_mel(double f) {
    const double logstep = log(6.4) / 27.0;
    if (f >= MIN_LOG_HZ) return MIN_LOG_MEL + log(f / MIN_LOG_HZ) / logstep;
    return f / F_SP;
}

static double mel_to_hz(double m) {
    const double logstep = log(6.4) / 27.0;
    if (m >= MIN_LOG_MEL) return MIN_LOG_HZ * exp(logstep * (m - MIN_LOG_MEL));
    return F_SP * m;
}

nc_status nc_feature_mel_filterbank(double sr, int64_t n_fft, int64_t n_mels, double fmin, double fmax,
                                    nc_mel_norm norm, float *fb) {
    const int64_t n_bins = n_fft / 2 + 1;
    const int64_t n_pts = n_mels + 2;
    double *mel_f = nc_malloc((size_t)n_pts * sizeof(double));
    double *fftfreqs = nc_malloc((size_t)n_bins * sizeof(double));
    if (!mel_f || !fftfreqs) {
        nc_free(mel_f);
        nc_free(fftfreqs);
        return nc_error(NC_ERR_OOM, "mel filterbank tables (%lld mels, n_fft %lld)", (long long)n_mels, (long long)n_fft);
    }
    /* np.fft.rfftfreq(n_fft, d=1/sr): k * (1 / (n_fft * (1/sr))) */
    const double val = 1.0 / ((double)n_fft * (1.0 / sr));
    for (int64_t k = 0; k < n_bins; k++) fftfreqs[k] = (double)k * val;
    /* mel_frequencies: np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2) then mel_to_hz;
     * linspace is start + i*step with the last point set to stop exactly. */
    const double min_mel = hz_to_mel(fmin), max_mel = hz_to_mel(fmax);
    const double step = (max_mel - min_mel) / (double)(n_pts - 1);
    for (int64_t i = 0; i < n_pts; i++) {
        const double m = i == n_pts - 1 ? max_mel : (double)i * step + min_mel;
        mel_f[i] = mel_to_hz(m);
    }
    for (int64_t i = 0; i < n_mels; i++) {
        const double fd0 = mel_f[i + 1] - mel_f[i], fd1 = mel_f[i + 2] - mel_f[i + 1];
        /* enorm = 2 / (mel_f[i+2] - mel_f[i]); applied as float32 *= float64. */
        const double enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (int64_t k = 0; k < n_bins; k++) {
            /* lower = -ramps[i] / fdiff[i]; upper = ramps[i+2] / fdiff[i+1] */
            const double lower = -(mel_f[i] - fftfreqs[k]) / fd0;
            const double upper = (mel_f[i + 2] - fftfreqs[k]) / fd1;
            double v = lower < upper ? lower : upper;
            if (!(v > 0.0)) v = 0.0;
            float w = (float)v; /* weights is a float32 array */
            if (norm == NC_MEL_NORM_SLANEY) w = (float)((double)w * enorm);
            fb[i * n_bins + k] = w;
        }
    }
    nc_free(mel_f);
    nc_free(fftfreqs);
    return NC_OK;
}
