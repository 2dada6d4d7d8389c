/* Convolution kernels (NCHW, row-major, fp32 storage).
 *
 * One geometry describes 1-D and 2-D convolution alike (1-D is H = KH = OH = 1).
 * Every kernel ACCUMULATES into its output (y += conv(x, w)), so the caller
 * pre-fills y with the bias or zeros, and backward adds into gradient buffers.
 * Transposed convolution is the same three kernels with the roles swapped
 * (its forward is this backward-data), see ops_conv.c.
 *
 * Three implementations, picked by nc_conv_exec:
 *   - reference: direct loops with double accumulators (conv_ref.c);
 *   - depthwise (groups == Cin == Cout): direct row kernels threaded over
 *     batch x channel (conv_dw.c), the Conformer conv module's hot path;
 *   - everything else: im2col + the gemm engines (conv.c); a 1x1 stride-1
 *     unpadded conv skips im2col and is a plain (batched) gemm. */
#ifndef NC_BACKEND_CPU_CONV_H
#define NC_BACKEND_CPU_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/cpu/gemm.h"

#include "backend/kernel_args.h"

/* Scratch floats a pass needs (0 for reference, depthwise and 1x1 paths). */
int64_t nc_conv_work_floats(const nc_conv_geom *g, nc_conv_pass pass, const nc_conv_exec *e);

/* x (N, Cin, H, W), w (Cout, Cin/groups, KH, KW): y (N, Cout, OH, OW) += conv(x, w). */
nc_status nc_conv_forward(const nc_conv_geom *g, const nc_conv_exec *e, const float *x,
                          const float *w, float *y);
/* dx (N, Cin, H, W) += conv^T(dy, w). */
nc_status nc_conv_backward_data(const nc_conv_geom *g, const nc_conv_exec *e, const float *dy,
                                const float *w, float *dx);
/* dw (Cout, Cin/groups, KH, KW) += sum_n dy[n] (x) x[n]. */
nc_status nc_conv_backward_weight(const nc_conv_geom *g, const nc_conv_exec *e, const float *dy,
                                  const float *x, float *dw);
/* db (C) += sum over n and p of dy (N, C, P). */
void nc_conv_backward_bias(int64_t N, int64_t C, int64_t P, bool threads, const float *dy,
                           float *db);
/* y (N, C, P) = bias[c] (or 0 when bias is NULL). */
void nc_conv_fill_bias(int64_t N, int64_t C, int64_t P, bool threads, const float *bias,
                       float *y);

/* The implementations, exposed for tests and benchmarks. */
void nc_conv_ref_forward(const nc_conv_geom *g, const float *x, const float *w, float *y);
void nc_conv_ref_backward_data(const nc_conv_geom *g, const float *dy, const float *w, float *dx);
void nc_conv_ref_backward_weight(const nc_conv_geom *g, const float *dy, const float *x, float *dw);

bool nc_conv_is_depthwise(const nc_conv_geom *g);
void nc_conv_dw_forward(const nc_conv_geom *g, bool threads, const float *x, const float *w,
                        float *y);
void nc_conv_dw_backward_data(const nc_conv_geom *g, bool threads, const float *dy,
                              const float *w, float *dx);
void nc_conv_dw_backward_weight(const nc_conv_geom *g, bool threads, const float *dy,
                                const float *x, float *dw);

/* Channels-last 2-D convolution on oneDNN's convolution primitives
 * (conv_dnnl.c): x (N, H, W, Cin), y (N, OH, OW, Cout), weights in torch's
 * (Cout, Cin/groups, KH, KW) layout (reordered for the kernel on each call,
 * into `work`; they are small). `bf16`: x and dy are bf16 (uint16_t) and w is converted
 * by the reorder; outputs and accumulation stay fp32. Unlike the kernels
 * above these OVERWRITE their outputs. nc_conv_cl_available() builds and
 * caches the three passes' primitives for a geometry and says whether
 * oneDNN has an optimised (non-reference) kernel for every one of them; the
 * passes may only be called for geometries it accepted. */
bool nc_conv_cl_available(const nc_conv_geom *g, bool bf16, bool relu, bool bias);
/* Scratch bytes a pass needs in `work` (weights, and for the weight
 * gradient x and dy in its layouts); 0 when not available. */
size_t nc_conv_cl_work_bytes(const nc_conv_geom *g, bool bf16, bool relu, bool bias,
                             nc_conv_pass pass);
/* y = [relu](conv(x, w) + bias); bias may be NULL when built without. */
nc_status nc_conv_cl_forward(const nc_conv_geom *g, bool bf16, bool relu, const void *x,
                             const float *w, const float *bias, float *y, void *work);
/* dx = conv^T(dy, w). */
nc_status nc_conv_cl_backward_data(const nc_conv_geom *g, bool bf16, bool relu, bool bias,
                                   const void *dy, const float *w, float *dx, void *work);
/* dw = sum_n dy (x) x, and db = sum of dy over n, h, w when built with a bias. */
nc_status nc_conv_cl_backward_weights(const nc_conv_geom *g, bool bf16, bool relu, bool bias,
                                      const void *x, const void *dy, float *dw, float *db,
                                      void *work);

/* Range [lo, hi) of output positions o whose input index o*s - p + k*d lies
 * in [0, n): the unpadded part of a row for one kernel tap. */
static inline void nc_conv_valid_range(int64_t n, int64_t out, int64_t s, int64_t off,
                                       int64_t *lo, int64_t *hi) {
    /* off = k*d - p; need 0 <= o*s + off < n */
    int64_t a = -off, b = n - off; /* o*s >= a, o*s < b */
    int64_t l = a <= 0 ? 0 : (a + s - 1) / s;
    int64_t h = b <= 0 ? 0 : (b + s - 1) / s;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

#endif
