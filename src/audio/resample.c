/* Sample-rate conversion with libsoxr (the resampler inside `sox rate`). */
#include <math.h>
#include <soxr.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/audio_io.h"

nc_status nc_audio_resample(const float *in, int64_t n_in, double in_rate, double out_rate,
                            float **out, int64_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (!(in_rate > 0) || !(out_rate > 0) || n_in < 0)
        return nc_error(NC_ERR_INVALID_ARG, "resample: %lld samples from %g Hz to %g Hz",
                        (long long)n_in, in_rate, out_rate);
    if (n_in == 0) return NC_OK;
    if (in_rate == out_rate) {
        float *y = nc_malloc((size_t)n_in * sizeof(float));
        if (!y) return nc_error(NC_ERR_OOM, "resample: copy of %lld samples", (long long)n_in);
        memcpy(y, in, (size_t)n_in * sizeof(float));
        *out = y;
        *n_out = n_in;
        return NC_OK;
    }
    double ratio = out_rate / in_rate;
    /* soxr_oneshot flushes the filter and stops at the scaled length; leave
     * headroom for its rounding. */
    size_t cap = (size_t)ceil((double)n_in * ratio) + 16;
    float *y = nc_malloc(cap * sizeof(float));
    if (!y) return nc_error(NC_ERR_OOM, "resample: %zu output samples", cap);
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    size_t done = 0;
    soxr_error_t err = soxr_oneshot(in_rate, out_rate, 1, in, (size_t)n_in, NULL, y, cap, &done, &io,
                                    &q, NULL);
    if (err) {
        nc_free(y);
        return nc_error(NC_ERR_INTERNAL, "resample %g Hz -> %g Hz: libsoxr: %s", in_rate, out_rate,
                        err);
    }
    *out = y;
    *n_out = (int64_t)done;
    return NC_OK;
}
