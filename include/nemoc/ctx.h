/* Execution context and define-by-run autograd.
 *
 * An nc_ctx owns what one training or inference step needs: the activation
 * arena, the tape of recorded ops, the RNG for dropout and augmentation, and
 * the kernel settings. Ops take the ctx first and return a new tensor.
 *
 * Errors are sticky: an op that fails returns NULL and records the status in
 * the ctx; every later op given a NULL input or a failed ctx returns NULL at
 * once. Model code can chain ops and check nc_ctx_status() once at the end. */
#ifndef NEMOC_CTX_H
#define NEMOC_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nemoc/arena.h"
#include "nemoc/rng.h"
#include "nemoc/status.h"
#include "nemoc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_ctx nc_ctx;

typedef enum nc_precision {
    NC_PREC_F32 = 0,  /* everything in fp32 (bit-reproducible for a seed and thread count) */
    NC_PREC_BF16 = 1, /* matmul/conv inputs in bf16, fp32 accumulation and master weights;
                       * bf16 copies of the weights are kept until nc_ctx_reset, so
                       * reset the ctx after changing weights (the trainer does) */
} nc_precision;

typedef enum nc_gemm_engine {
    NC_GEMM_AUTO = 0, /* oneDNN (fp32 and bf16) */
    NC_GEMM_REF,      /* plain loops, the reference every engine is tested against */
    NC_GEMM_BLAS,     /* OpenBLAS cblas_sgemm */
    NC_GEMM_DNNL,     /* oneDNN matmul (fp32 or bf16) */
} nc_gemm_engine;

typedef struct nc_ctx_params {
    size_t arena_reserve;     /* bytes to reserve up front; 0 = grow on demand */
    size_t arena_limit;       /* 0 = unlimited */
    uint64_t seed;            /* dropout/augmentation RNG */
    nc_precision precision;
    nc_gemm_engine gemm;
    int reference_kernels;    /* -1: from env NC_REFERENCE_KERNELS; 0/1 forced */
} nc_ctx_params;

nc_ctx_params nc_ctx_default_params(void);
nc_status nc_ctx_create(const nc_ctx_params *p, nc_ctx **out);
void nc_ctx_free(nc_ctx *ctx);

/* Ends a step: drops the tape and every arena tensor (their pointers die). */
void nc_ctx_reset(nc_ctx *ctx);

nc_status nc_ctx_status(const nc_ctx *ctx);
/* Records a failure (if none is recorded yet) and returns NULL, for op code. */
void *nc_ctx_fail(nc_ctx *ctx, nc_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void nc_ctx_clear_status(nc_ctx *ctx);

/* Autograd switches. nc_set_grad_enabled returns the previous value. */
bool nc_set_grad_enabled(nc_ctx *ctx, bool on);
bool nc_grad_enabled(const nc_ctx *ctx);
/* Training mode drives dropout, batch-norm statistics and dither. */
void nc_set_training(nc_ctx *ctx, bool on);
bool nc_training(const nc_ctx *ctx);
/* Inference with fixed parameters: the bf16 copies of parameters
 * (bf16-mixed precision) survive nc_ctx_reset instead of being remade every
 * step, so per-token generation converts each weight once. Turn it on only
 * while no parameter changes. */
void nc_ctx_keep_bf16_params(nc_ctx *ctx, bool on);

nc_rng *nc_ctx_rng(nc_ctx *ctx);
nc_arena *nc_ctx_arena(nc_ctx *ctx);
nc_precision nc_ctx_precision(const nc_ctx *ctx);
void nc_ctx_set_precision(nc_ctx *ctx, nc_precision p);
bool nc_ctx_reference(const nc_ctx *ctx);
void nc_ctx_set_reference(nc_ctx *ctx, bool on);
/* Which kernel nc_attention uses where both apply (no positions, no
 * bias): -1 (default) the measured rule (tiled for causal T >= 1024,
 * bench/README.md), 1 the tiled (flash-style) kernel, 0 the one that keeps
 * the (T, T) probabilities. The environment NC_ATTN_TILED=0/1 sets it at
 * nc_ctx_create. */
int nc_ctx_attn_tiled(const nc_ctx *ctx);
void nc_ctx_set_attn_tiled(nc_ctx *ctx, int mode);
nc_gemm_engine nc_ctx_gemm(const nc_ctx *ctx);
void nc_ctx_set_gemm(nc_ctx *ctx, nc_gemm_engine e);

/* Arena tensors (valid until nc_ctx_reset). */
nc_tensor *nc_empty(nc_ctx *ctx, nc_dtype dt, int ndim, const int64_t *shape);
nc_tensor *nc_zeros(nc_ctx *ctx, nc_dtype dt, int ndim, const int64_t *shape);
nc_tensor *nc_full(nc_ctx *ctx, int ndim, const int64_t *shape, float value);
nc_tensor *nc_empty_like(nc_ctx *ctx, const nc_tensor *t);
nc_tensor *nc_zeros_like(nc_ctx *ctx, const nc_tensor *t);
/* Copies `data` (numel elements of dt) into a new arena tensor. */
nc_tensor *nc_from_data(nc_ctx *ctx, nc_dtype dt, int ndim, const int64_t *shape, const void *data);
nc_tensor *nc_scalar(nc_ctx *ctx, float v);
/* Scratch memory for kernels, from the arena. */
void *nc_scratch(nc_ctx *ctx, size_t bytes);

/* Marks a leaf tensor as needing gradients (e.g. inputs in a gradient test). */
void nc_requires_grad(nc_tensor *t, bool on);
static inline bool nc_needs_grad(const nc_tensor *t) {
    return t && (t->flags & NC_TF_REQUIRES_GRAD);
}

/* Runs the tape backwards from a one-element loss, seeding d(loss) = 1.
 * Gradients are added (+=) into each tensor's grad, so parameter gradients
 * accumulate across micro-batches until zeroed. */
nc_status nc_backward(nc_ctx *ctx, nc_tensor *loss);
/* Same, seeding d(out) with `grad_out` (shape of out). */
nc_status nc_backward_with(nc_ctx *ctx, nc_tensor *out, const nc_tensor *grad_out);

/* Cross-process reduction for synchronized batch statistics (NeMo configs set
 * trainer.sync_batchnorm: true): sums n doubles in place over every rank of
 * a data-parallel group. When set, training-mode batch_norm normalizes with
 * the statistics of the global batch, forward and backward. */
typedef nc_status (*nc_sync_sum_fn)(void *user_data, double *buf, int64_t n);
void nc_ctx_set_sync(nc_ctx *ctx, nc_sync_sum_fn fn, void *user_data);

/* Number of nodes on the tape (for tests and profiling). */
int64_t nc_tape_size(const nc_ctx *ctx);

/* ---- per-op profile ----
 * When on (nc_ctx_set_profile, or NC_PROFILE=1 in the environment at
 * nc_ctx_create), every op's forward time is the wall time since the
 * previous op (or reset/backward end) finished, attributed to the op name as
 * it records itself, and every backward function is timed by itself
 * ("<op>.bwd"). Costs two clock reads per op; off by default. */
typedef struct nc_profile_entry {
    const char *op;   /* op name; backward entries have backward set */
    bool backward;
    int64_t calls;
    double seconds;
} nc_profile_entry;
void nc_ctx_set_profile(nc_ctx *ctx, bool on);
bool nc_ctx_profiling(const nc_ctx *ctx);
/* Restarts the forward clock (call after work that is not an op). */
void nc_ctx_profile_mark(nc_ctx *ctx);
/* Copies up to cap entries (most expensive first); returns how many exist. */
int64_t nc_ctx_profile(const nc_ctx *ctx, nc_profile_entry *out, int64_t cap);
void nc_ctx_profile_clear(nc_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
