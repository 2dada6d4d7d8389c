/* FFTW single-precision plans made under one process-wide lock. Not public.
 *
 * FFTW's planner (and plan destruction) is not thread-safe, while executing
 * a finished plan with new arrays (fftwf_execute_dft_r2c) is. Every plan in
 * nemoc is made and destroyed through these two functions. Plans use
 * FFTW_ESTIMATE: deterministic (no timing-dependent choice), so features are
 * reproducible run to run. */
#ifndef NC_AUDIO_FFT_PLAN_H
#define NC_AUDIO_FFT_PLAN_H

#include <fftw3.h>
#include <stdint.h>

#include "nemoc/status.h"

/* Real-to-complex plan of size n for NC_ALIGN-aligned, out-of-place arrays. */
nc_status nc_fft_plan_r2c(int64_t n, fftwf_plan *out);
/* Complex-to-real (inverse, unnormalised) plan of size n, same arrays; it
 * overwrites its input, as every FFTW c2r transform does. */
nc_status nc_fft_plan_c2r(int64_t n, fftwf_plan *out);
void nc_fft_plan_destroy(fftwf_plan p);

#endif
