/* Tape internals shared by the op front ends (src/ops). Not public. */
#ifndef NC_CORE_TAPE_H
#define NC_CORE_TAPE_H

#include "nemoc/ctx.h"

typedef struct nc_node nc_node;
/* Adds the gradient of node->out (node->out->grad) into its inputs' grads. */
typedef void (*nc_backward_fn)(nc_ctx *ctx, nc_node *node);

struct nc_node {
    const char *op;          /* op name for error messages and profiles */
    nc_backward_fn backward; /* NULL: the op has no backward (loud error if reached) */
    nc_tensor *out;
    nc_tensor **in;
    int n_in;
    void *saved;             /* op-specific saved state, in the arena */
};

/* Records `op` when grad mode is on and some input needs a gradient; marks
 * `out` as requiring grad. Returns the node (with `saved_size` zeroed bytes
 * at node->saved), or NULL when nothing needs recording or on failure (then
 * nc_ctx_status(ctx) is set). */
nc_node *nc_record(nc_ctx *ctx, const char *op, nc_backward_fn backward, nc_tensor *out, int n_in,
                   nc_tensor *const *in, size_t saved_size);

/* The gradient buffer of `t` (f32, t's numel), allocated zeroed in the arena
 * on first use; NULL when t needs no gradient (or on OOM, status set). */
float *nc_grad_buf(nc_ctx *ctx, nc_tensor *t);

/* Like nc_grad_buf, but a buffer allocated by this call is NOT zeroed and
 * *fresh is set: the caller must then write (=) every element instead of
 * adding (+=). Saves a memset and a read of the whole gradient for the
 * first op that produces it (usually the only one). */
float *nc_grad_buf_fresh(nc_ctx *ctx, nc_tensor *t, bool *fresh);

/* Gives t, when it needs a gradient and has none yet, the node's incoming
 * gradient itself as its gradient (a view in t's shape; t and the node's
 * output have the same number of elements). True when done: the caller
 * then adds nothing. Valid because nothing reads a node's incoming gradient
 * after its backward; later gradients of t add into that memory. Saves a
 * zero-fill and a copy for pass-through gradients (residual adds, reshape). */
bool nc_grad_pass_through(nc_ctx *ctx, nc_tensor *t, nc_node *n);

/* The incoming gradient d(out) of a node (never NULL inside backward). */
static inline float *nc_out_grad(nc_node *n) { return (float *)n->out->grad->data; }

/* A bf16 copy of the f32 weight t. A parameter (NC_TF_PARAM, or a reshape
 * of one) is converted on first use in a step and the copy kept until
 * nc_ctx_reset: parameters change only between steps. Any other tensor is
 * converted on every call into the arena. NULL (status set) on OOM. */
const uint16_t *nc_ctx_bf16_param(nc_ctx *ctx, const nc_tensor *t);

/* Header-only tensor in the arena viewing `data` (views share storage). */
nc_tensor *nc_tensor_view_of(nc_ctx *ctx, nc_dtype dt, int ndim, const int64_t *shape, void *data);

/* Fails the ctx unless every tensor is non-NULL and the ctx is healthy. */
bool nc_ok1(nc_ctx *ctx, const nc_tensor *a);
bool nc_ok2(nc_ctx *ctx, const nc_tensor *a, const nc_tensor *b);
bool nc_ok3(nc_ctx *ctx, const nc_tensor *a, const nc_tensor *b, const nc_tensor *c);
/* Fails the ctx (NC_ERR_DTYPE) unless t has dtype dt. */
bool nc_check_dtype(nc_ctx *ctx, const char *op, const nc_tensor *t, nc_dtype dt);

#endif
