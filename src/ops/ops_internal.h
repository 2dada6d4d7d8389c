/* Helpers shared by the op front ends. Not public. */
#ifndef NC_OPS_INTERNAL_H
#define NC_OPS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h" /* the seam: kernels only through nc_ctx_backend(ctx) */
#include "core/ctx_impl.h"
#include "core/tape.h"
#include "nemoc/ops.h"

/* Work below this many elements runs on one thread (fork/join costs more). */
#define NC_PAR_MIN 32768

/* True when a loop of n elements should be threaded in this ctx. */
static inline bool nc_par(const nc_ctx *ctx, int64_t n) { return !ctx->reference && n >= NC_PAR_MIN; }

/* Resolves a possibly negative dim against ndim; fails the ctx when out of range. */
bool nc_resolve_dim(nc_ctx *ctx, const char *op, int *dim, int ndim);

/* Splits a shape around dim: outer = prod(shape[:dim]), n = shape[dim], inner = prod(shape[dim+1:]). */
void nc_split_dim(const nc_tensor *t, int dim, int64_t *outer, int64_t *n, int64_t *inner);

/* Fails the ctx with both shapes in the message. */
void *nc_shape_fail(nc_ctx *ctx, const char *op, const char *what, const nc_tensor *a,
                    const nc_tensor *b);

/* Adds n floats of src into dst (dst += src), threaded when large. */
void nc_acc(nc_ctx *ctx, float *dst, const float *src, int64_t n);

/* Adds g (shape out) into the gradient of `in`, summing over the dims along
 * which `in` was broadcast to `out` (NumPy rules). */
void nc_acc_unbroadcast(nc_ctx *ctx, nc_tensor *in, const nc_tensor *out, const float *g);

/* Broadcast result shape of a and b; false (ctx failed) when incompatible. */
bool nc_broadcast_shape(nc_ctx *ctx, const char *op, const nc_tensor *a, const nc_tensor *b,
                        int *ndim, int64_t *shape);

/* Element strides of `t` viewed in an ndim-dim broadcast shape (0 on broadcast dims). */
void nc_broadcast_strides(const nc_tensor *t, int ndim, const int64_t *shape, int64_t *strides);

/* torch's dropout noise for n elements with 0 < p < 1: bernoulli(1 - p)
 * drawn from the ctx RNG in torch's order, as bytes (1 = kept); the kept
 * value is x * *scale, *scale = 1 / (1 - p) in float as torch divides
 * (ops_dropout.c). In the arena; NULL (ctx failed) on OOM. */
uint8_t *nc_dropout_mask(nc_ctx *ctx, int64_t n, float p, float *scale);

/* gemm through the ctx's engine and precision; fails the ctx on error. */
bool nc_ctx_gemm_run(nc_ctx *ctx, const nc_gemm_args *g);

#endif
