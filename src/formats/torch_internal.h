/* Shared pieces of the PyTorch checkpoint reader and writer. Not public. */
#ifndef NC_IO_TORCH_INTERNAL_H
#define NC_IO_TORCH_INTERNAL_H

#include <stddef.h>

#include "io/rsrc.h"
#include "nemoc/torch_ckpt.h"

typedef struct nc_torch_dtype_info {
    const char *name;    /* torch dtype name: "float32" */
    const char *storage; /* storage class in torch's module: "FloatStorage" */
    size_t size;         /* bytes per element */
    nc_dtype nc;         /* nemoc dtype it is read into */
} nc_torch_dtype_info;

/* Table entry for t (t in 1..NC_TORCH_DTYPE_COUNT-1). */
const nc_torch_dtype_info *nc_torch_info(nc_torch_dtype t);
/* "FloatStorage" -> NC_TORCH_FLOAT; NC_TORCH_AUTO when unknown. */
nc_torch_dtype nc_torch_dtype_from_storage(const char *cls);
/* The torch dtype a nemoc dtype is written as. */
nc_torch_dtype nc_torch_dtype_of(nc_dtype d);

/* Reads a checkpoint from any random-access source (file, tar window, memory). */
nc_status nc_torch_ckpt_load_src(const nc_rsrc *src, const nc_torch_read_params *params,
                                 nc_tensor_list *out);

/* A checkpoint laid out ahead of writing (pickle built, CRCs computed), so
 * its size is known before its bytes are emitted (a tar header needs it). */
typedef struct nc_torch_plan nc_torch_plan;
nc_status nc_torch_plan_new(const nc_named_tensor *items, int64_t n, const nc_torch_write_params *params,
                            nc_torch_plan **out);
uint64_t nc_torch_plan_size(const nc_torch_plan *p);
nc_status nc_torch_plan_emit(const nc_torch_plan *p, nc_byte_sink sink, void *user);
void nc_torch_plan_free(nc_torch_plan *p);

#endif
