/* Depthwise 1-D convolution over time in the (B, T, C) layout the
 * Conformer keeps its activations in.
 *
 * NeMo's ConformerConvolution transposes (B, T, C) to (B, C, T) around its
 * depthwise conv (conformer_modules.py); in (B, T, C) the same conv is, for
 * every output frame, a weighted sum of K input frames, each a contiguous
 * row of C channels, so the inner loop is unit-stride over channels and the
 * transposes disappear:
 *     y[b, t, c] = bias[c] + sum_k w[c, k] * x[b, t + k - pad_left, c]
 * (stride 1, dilation 1; frames outside [0, T) are zero padding). Taps are
 * passed transposed, wt[k * C + c] = w[c, k]. */
#ifndef NC_BACKEND_CPU_CONV_DW_TC_H
#define NC_BACKEND_CPU_CONV_DW_TC_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/kernel_args.h"

/* y (B, To, C) = bias + conv(x): written, not accumulated. bias may be NULL. */
void nc_dwtc_forward(const nc_dwtc_geom *g, bool threads, const float *x, const float *wt,
                     const float *bias, float *y);

/* dx (B, T, C) (+)= conv^T(dy); accumulate false overwrites dx.
 * wflip: K * C floats of scratch. */
void nc_dwtc_backward_data(const nc_dwtc_geom *g, bool threads, const float *dy,
                           const float *wt, float *wflip, float *dx, bool accumulate);

/* Number of row blocks the weight gradient is split into (fixed, so the sums
 * do not depend on the thread count). */
int64_t nc_dwtc_weight_blocks(const nc_dwtc_geom *g);
/* dw (C, K) += sum over b, t of dy[b, t, c] x[b, t + k - pad_left, c] and
 * db (C) += sum of dy (either may be NULL). part: blocks * (K + 1) * C floats. */
void nc_dwtc_backward_weight(const nc_dwtc_geom *g, bool threads, const float *dy,
                             const float *x, float *part, float *dw, float *db);

#endif
