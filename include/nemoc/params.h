/* Named parameters and buffers in flat storage.
 *
 * A model declares its tensors by NeMo state_dict name and shape, then
 * nc_params_finalize() carves all trainable parameters out of one fp32
 * buffer, their gradients out of a second buffer with the same layout, and
 * non-trainable buffers (BatchNorm running statistics, num_batches_tracked)
 * out of a third. Zeroing gradients is one memset, data-parallel sync is one
 * all-reduce, and the optimizer is one loop over the flat buffer. */
#ifndef NEMOC_PARAMS_H
#define NEMOC_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"
#include "nemoc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_params nc_params;

typedef enum nc_param_kind {
    NC_PARAM_TRAINABLE = 0, /* fp32, gets a gradient */
    NC_PARAM_BUFFER = 1,    /* in the state_dict, no gradient (any dtype) */
} nc_param_kind;

nc_status nc_params_create(nc_params **out);
void nc_params_free(nc_params *p);

/* Declares a tensor; its data pointer is valid after finalize. Returns NULL
 * (with an error message) on a duplicate name or after finalize. */
nc_tensor *nc_params_add(nc_params *p, const char *name, nc_param_kind kind, nc_dtype dt,
                         int ndim, const int64_t *shape);
/* Allocates the flat buffers (zeroed) and points every tensor into them. */
nc_status nc_params_finalize(nc_params *p);
/* NC_ERR_OOM naming the size when n_params fp32 parameters with their
 * gradients would not fit in physical memory (nc_params_finalize checks the
 * same; a model builder can call it with an estimate before it builds a table
 * of a million entries). */
nc_status nc_params_check_fits(int64_t n_params);
bool nc_params_finalized(const nc_params *p);

int64_t nc_params_count(const nc_params *p);             /* tensors, both kinds */
nc_tensor *nc_params_at(const nc_params *p, int64_t i);  /* in declaration order */
nc_param_kind nc_params_kind_at(const nc_params *p, int64_t i);
nc_tensor *nc_params_find(const nc_params *p, const char *name);
/* Offset of trainable tensor i inside the flat buffer (elements), -1 for buffers. */
int64_t nc_params_offset_at(const nc_params *p, int64_t i);

/* Flat trainable storage: data and grad have nc_params_flat_size() floats. */
float *nc_params_flat_data(const nc_params *p);
float *nc_params_flat_grad(const nc_params *p);
int64_t nc_params_flat_size(const nc_params *p);
int64_t nc_params_num_trainable(const nc_params *p); /* elements actually used */
void nc_params_zero_grad(nc_params *p);

/* Initialisers recorded per tensor at declaration and applied in
 * declaration order by nc_params_initialize (torch's distributions through
 * the torch-compatible RNG). Tensors without one stay zero. */
typedef enum nc_init_kind {
    NC_INIT_NONE = 0,
    NC_INIT_ZEROS,
    NC_INIT_CONST,   /* a */
    NC_INIT_UNIFORM, /* U(a, b) */
    NC_INIT_NORMAL,  /* N(a, b^2) */
} nc_init_kind;

typedef struct nc_init {
    nc_init_kind kind;
    float a, b;
} nc_init;

void nc_params_set_init(nc_params *p, const nc_tensor *t, nc_init init);
struct nc_rng;
nc_status nc_params_initialize(nc_params *p, struct nc_rng *rng);

/* Weight-decay exclusion (Megatron's no_wd group: biases and norm weights):
 * the optimizer applies no weight decay to a tensor marked so. */
void nc_params_set_no_decay(nc_params *p, const nc_tensor *t, bool on);
bool nc_params_no_decay_at(const nc_params *p, int64_t i);
/* Freezing: a frozen trainable tensor gets no gradient and no update. */
void nc_params_set_frozen(nc_params *p, const char *prefix, bool frozen);

#ifdef __cplusplus
}
#endif
#endif
