/* FFTW plans behind a lock (see fft_plan.h). */
#include "audio/fft_plan.h"

#include <pthread.h>
#include <stdbool.h>

#include "nemoc/alloc.h"

/* The one lock the FFTW planner needs; FFTW's own global planner state is
 * what it protects. */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

/* Plans on scratch arrays with the alignment every later execute call will
 * use; inverse = false: r2c, true: c2r. */
static nc_status plan_real(int64_t n, bool inverse, fftwf_plan *out) {
    *out = NULL;
    if (n <= 0 || n > (int64_t)1 << 30) return nc_error(NC_ERR_INVALID_ARG, "FFT size %lld out of range", (long long)n);
    /* Plan on arrays with the alignment every later execute call will use. */
    float *in = nc_malloc((size_t)n * sizeof(float));
    fftwf_complex *spec = nc_malloc((size_t)(n / 2 + 1) * sizeof(fftwf_complex));
    if (!in || !spec) {
        nc_free(in);
        nc_free(spec);
        return nc_error(NC_ERR_OOM, "FFT plan buffers (n=%lld)", (long long)n);
    }
    pthread_mutex_lock(&planner_lock);
    fftwf_plan p = inverse ? fftwf_plan_dft_c2r_1d((int)n, spec, in, FFTW_ESTIMATE)
                           : fftwf_plan_dft_r2c_1d((int)n, in, spec, FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    nc_free(in);
    nc_free(spec);
    if (!p) return nc_error(NC_ERR_INTERNAL, "FFTW could not plan a real FFT of size %lld", (long long)n);
    *out = p;
    return NC_OK;
}

nc_status nc_fft_plan_r2c(int64_t n, fftwf_plan *out) { return plan_real(n, false, out); }
nc_status nc_fft_plan_c2r(int64_t n, fftwf_plan *out) { return plan_real(n, true, out); }

void nc_fft_plan_destroy(fftwf_plan p) {
    if (!p) return;
    pthread_mutex_lock(&planner_lock);
    fftwf_destroy_plan(p);
    pthread_mutex_unlock(&planner_lock);
}
