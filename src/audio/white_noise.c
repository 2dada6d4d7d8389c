/* Additive white Gaussian noise at a target signal-to-noise ratio, for
 * training-set augmentation. NeMo's WhiteNoisePerturbation
 * (nemo/collections/asr/parts/preprocessing/perturb.py) draws an absolute
 * level in dB; here the level is relative to the clip (an SNR), which keeps
 * loud and quiet engine voices equally hard. */
#include <math.h>

#include "nemoc/alloc.h"
#include "nemoc/audio_io.h"
#include "nemoc/rng.h"

nc_status nc_audio_add_white_noise(float *x, int64_t n, double snr_db, uint64_t seed) {
    if (!isfinite(snr_db)) return nc_error(NC_ERR_INVALID_ARG, "white noise: SNR %g dB", snr_db);
    if (n <= 0) return NC_OK;
    double ps = 0;
    for (int64_t i = 0; i < n; i++) ps += (double)x[i] * x[i];
    ps /= (double)n;
    if (ps == 0) return NC_OK; /* nothing to be relative to */
    float *w = nc_malloc((size_t)n * sizeof(float));
    if (!w) return nc_error(NC_ERR_OOM, "white noise: %lld samples", (long long)n);
    /* The rng struct is 2.5 KB; keep it off small worker stacks. */
    nc_rng *r = nc_malloc(sizeof *r);
    if (!r) {
        nc_free(w);
        return nc_error(NC_ERR_OOM, "white noise: rng");
    }
    nc_rng_seed(r, seed);
    nc_rng_normal(r, w, n, 0.0f, 1.0f);
    nc_free(r);
    double pw = 0;
    for (int64_t i = 0; i < n; i++) pw += (double)w[i] * w[i];
    pw /= (double)n;
    /* Scale so that P_noise = P_signal / 10^(snr/10) exactly. */
    double target = ps / pow(10.0, snr_db / 10.0);
    float g = pw > 0 ? (float)sqrt(target / pw) : 0.0f;
    for (int64_t i = 0; i < n; i++) x[i] += g * w[i];
    nc_free(w);
    return NC_OK;
}
