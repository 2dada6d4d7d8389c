/* Tensors: dtype, up to 8 dims, int64 sizes, row-major and contiguous.
 *
 * A tensor is a small header pointing at data it does not necessarily own:
 * activations live in the per-step arena of an nc_ctx, parameters in the
 * flat buffers of an nc_params, and standalone tensors (nc_tensor_new) on the
 * heap. Views (reshape, leading-dim slices) share data with their source. */
#ifndef NEMOC_TENSOR_H
#define NEMOC_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nc_dtype {
    NC_F32 = 0,
    NC_BF16,
    NC_F16,
    NC_I32,
    NC_I64,
    NC_U8,
    NC_DTYPE_COUNT
} nc_dtype;

#define NC_MAX_DIMS 8

enum {
    NC_TF_REQUIRES_GRAD = 1u << 0, /* gradients flow into this tensor */
    NC_TF_PARAM = 1u << 1,         /* lives in an nc_params flat buffer (or views one) */
    NC_TF_OWNS_DATA = 1u << 2,     /* nc_tensor_free releases data */
};

typedef struct nc_tensor {
    void *data;
    int64_t shape[NC_MAX_DIMS];
    int ndim;
    nc_dtype dtype;
    uint32_t flags;
    struct nc_tensor *grad; /* same shape, f32; NULL until backward needs it */
    const char *name;       /* parameter name (NeMo state_dict key) or NULL */
} nc_tensor;

/* Two arguments for shape-taking functions: nc_empty(ctx, NC_F32, NC_DIMS(B, T, C)). */
#define NC_DIMS(...) \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}

size_t nc_dtype_size(nc_dtype dt);
const char *nc_dtype_name(nc_dtype dt); /* "float32", "bfloat16", ... (torch names) */

int64_t nc_numel(const nc_tensor *t);
size_t nc_nbytes(const nc_tensor *t);
bool nc_same_shape(const nc_tensor *a, const nc_tensor *b);
/* Size of dimension d, negative d counting from the end. */
int64_t nc_dim(const nc_tensor *t, int d);
/* "(2, 3, 4)" into buf; returns buf. */
char *nc_shape_str(const nc_tensor *t, char *buf, size_t len);
char *nc_dims_str(int ndim, const int64_t *shape, char *buf, size_t len);
int64_t nc_dims_numel(int ndim, const int64_t *shape);

static inline float *nc_f32(const nc_tensor *t) { return (float *)t->data; }
static inline int64_t *nc_i64(const nc_tensor *t) { return (int64_t *)t->data; }
static inline int32_t *nc_i32(const nc_tensor *t) { return (int32_t *)t->data; }

/* Fills a header for caller-owned data (no allocation). */
nc_status nc_tensor_init(nc_tensor *t, nc_dtype dt, int ndim, const int64_t *shape, void *data);

/* Heap tensors, owning their (zeroed) data; free with nc_tensor_free. */
nc_status nc_tensor_new(nc_dtype dt, int ndim, const int64_t *shape, nc_tensor **out);
nc_status nc_tensor_clone(const nc_tensor *src, nc_tensor **out);
void nc_tensor_free(nc_tensor *t);

/* bfloat16 <-> float32, rounding to nearest even as torch does (NaN kept quiet). */
uint16_t nc_f32_to_bf16(float f);
float nc_bf16_to_f32(uint16_t h);
uint16_t nc_f32_to_f16(float f);
float nc_f16_to_f32(uint16_t h);
void nc_convert_f32_to_bf16(const float *src, uint16_t *dst, int64_t n);
void nc_convert_bf16_to_f32(const uint16_t *src, float *dst, int64_t n);

/* Element-wise dtype conversion between any two dtypes (same numel). */
nc_status nc_tensor_convert(const nc_tensor *src, nc_tensor *dst);

/* True when every element of an f32 tensor is finite. */
bool nc_all_finite(const float *x, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
