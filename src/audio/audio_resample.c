/* Resampling with libsoxr.
 *
 * NeMo resamples through librosa.resample, whose default res_type is
 * 'soxr_hq' (python-soxr quality 'HQ' = SOXR_HQ: 20-bit precision, linear
 * phase). librosa then fixes the length to ceil(n * target_sr / orig_sr)
 * (fix=True), trimming or zero-padding soxr's output; we do the same. */
#include "nemoc/audio.h"

#include <math.h>
#include <soxr.h>
#include <string.h>

#include "nemoc/alloc.h"

nc_status nc_audio_resample(const float *in, int64_t n, double in_sr, double out_sr, float **out,
                            int64_t *out_n) {
    if (!out || !out_n) return nc_error(NC_ERR_INVALID_ARG, "nc_audio_resample: NULL output");
    *out = NULL;
    *out_n = 0;
    if (!(in_sr > 0) || !(out_sr > 0))
        return nc_error(NC_ERR_INVALID_ARG, "resample: sample rates must be > 0 (got %g -> %g)", in_sr, out_sr);
    if (n < 0 || (n > 0 && !in)) return nc_error(NC_ERR_INVALID_ARG, "resample: bad input (%lld samples)", (long long)n);

    /* librosa: n_samples = int(np.ceil(y.shape[-1] * (target_sr / orig_sr))). */
    const double ratio = out_sr / in_sr;
    const int64_t m = in_sr == out_sr ? n : (int64_t)ceil((double)n * ratio);
    float *y = nc_malloc((size_t)(m > 0 ? m : 1) * sizeof(float));
    if (!y) return nc_error(NC_ERR_OOM, "resample: %lld output samples", (long long)m);
    if (in_sr == out_sr || n == 0) {
        if (n) memcpy(y, in, (size_t)n * sizeof(float));
        *out = y;
        *out_n = m;
        return NC_OK;
    }
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, SOXR_LINEAR_PHASE);
    /* One thread: callers parallelise across utterances. */
    const soxr_runtime_spec_t rt = soxr_runtime_spec(1);
    size_t idone = 0, odone = 0;
    soxr_error_t err = soxr_oneshot(in_sr, out_sr, 1, in, (size_t)n, &idone, y, (size_t)m, &odone,
                                    &io, &q, &rt);
    if (err) {
        nc_free(y);
        return nc_error(NC_ERR_INTERNAL, "soxr resampling %g -> %g Hz failed: %s", in_sr, out_sr, err);
    }
    if ((int64_t)odone < m) memset(y + odone, 0, (size_t)(m - (int64_t)odone) * sizeof(float));
    *out = y;
    *out_n = m;
    return NC_OK;
}
