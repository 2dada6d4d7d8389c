/* 1-D pooling kernels over rows of length L (x viewed as (rows, L)).
 *
 * Window o covers input positions [o*s - p, o*s - p + k); positions outside
 * [0, L) are padding (-inf for max, zero for average). The front end
 * (src/ops/ops_pool.c) checks p <= k/2, so every window holds a real element. */
#ifndef NC_BACKEND_CPU_POOL_H
#define NC_BACKEND_CPU_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/kernel_args.h"

/* y (rows, Lout) = max over each window; arg (rows, Lout) = the row offset
 * of the first maximal element (torch picks the first, NaN wins); arg may be
 * NULL when no gradient is needed. */
void nc_max_pool1d_forward(const nc_pool1d_geom *g, bool threads, const float *x, float *y,
                           int64_t *arg);
/* dx (rows, L) += dy routed to arg. */
void nc_max_pool1d_backward(const nc_pool1d_geom *g, bool threads, const float *dy,
                            const int64_t *arg, float *dx);
/* y = window sum / divisor: k when count_include_pad, else the count of real elements. */
void nc_avg_pool1d_forward(const nc_pool1d_geom *g, bool count_include_pad, bool threads,
                           const float *x, float *y);
void nc_avg_pool1d_backward(const nc_pool1d_geom *g, bool count_include_pad, bool threads,
                            const float *dy, float *dx);

#endif
