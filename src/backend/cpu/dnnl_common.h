/* What the oneDNN-backed kernels (matmul in gemm_dnnl.c, convolution in
 * conv_dnnl.c) share: one engine and stream per process, and the error
 * message for a failed oneDNN call. */
#ifndef NC_BACKEND_CPU_DNNL_COMMON_H
#define NC_BACKEND_CPU_DNNL_COMMON_H

#include <oneapi/dnnl/dnnl.h>

#include "nemoc/status.h"

/* The process's CPU engine and its stream, created on first use. */
nc_status nc_cpu_dnnl_engine(dnnl_engine_t *engine, dnnl_stream_t *stream);
/* Sets the thread's error message ("oneDNN <what> failed (status N)") and
 * returns NC_ERR_INTERNAL. */
nc_status nc_cpu_dnnl_fail(dnnl_status_t st, const char *what);

/* Drops the cached convolution primitives (nc_cpu_dnnl_cache_clear drops
 * these and the matmul's). */
void nc_cpu_dnnl_conv_cache_clear(void);

#endif
