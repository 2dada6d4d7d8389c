/* Activation checkpointing (Chen et al. 2016, "Training Deep Nets with
 * Sublinear Memory Cost"; Megatron's activations_checkpoint_granularity):
 * a segment fn(inputs) -> output runs without keeping its activations, and
 * runs again in backward to get them.
 *
 * Both runs happen in a child context that is reset afterwards, so the
 * segment's activations (and its bf16 weight copies) never stay in the
 * parent's arena: the parent keeps only the inputs and the output. The
 * child starts from the parent's RNG state of the first run, so dropout
 * draws the same masks again; the parent's RNG then advances as if the
 * segment had run in it. Parameter gradients go straight into the model's
 * flat gradient buffer (parameters are not context-bound); the inputs'
 * gradients are added into the parent's. */
#include <string.h>

#include "ops/ops_internal.h"

typedef struct ckpt_saved {
    nc_checkpoint_fn fn;
    void *user;
    nc_rng rng; /* the parent's RNG when the segment first ran */
} ckpt_saved;

static nc_ctx *child_of(nc_ctx *ctx) {
    if (!ctx->ckpt_child) {
        nc_ctx_params p = nc_ctx_default_params();
        p.precision = ctx->precision;
        p.gemm = ctx->gemm;
        p.reference_kernels = ctx->reference;
        if (nc_ctx_create(&p, &ctx->ckpt_child)) {
            nc_ctx_fail(ctx, NC_ERR_OOM, "checkpoint: %s", nc_last_error());
            return NULL;
        }
    }
    nc_ctx *c = ctx->ckpt_child;
    c->status = NC_OK;
    c->training = ctx->training;
    c->reference = ctx->reference;
    c->attn_tiled = ctx->attn_tiled;
    c->precision = ctx->precision;
    c->gemm = ctx->gemm;
    return c;
}

static void ckpt_backward(nc_ctx *ctx, nc_node *nd) {
    const ckpt_saved *sv = nd->saved;
    nc_ctx *c = child_of(ctx);
    if (!c) return;
    c->rng = sv->rng;
    c->grad_enabled = true;
    nc_tensor *xs[8];
    for (int i = 0; i < nd->n_in; i++) {
        nc_tensor *x = nd->in[i];
        xs[i] = nc_tensor_view_of(c, x->dtype, x->ndim, x->shape, x->data);
        if (xs[i]) nc_requires_grad(xs[i], nc_needs_grad(x));
    }
    nc_tensor *y = nc_ok1(c, xs[0]) ? sv->fn(c, sv->user, xs) : NULL;
    nc_tensor *g = y ? nc_tensor_view_of(c, NC_F32, y->ndim, y->shape, nc_out_grad(nd)) : NULL;
    nc_status s = y && g ? nc_backward_with(c, y, g) : (c->status ? c->status : NC_ERR_INVALID_ARG);
    if (s) {
        nc_ctx_fail(ctx, s, "checkpointed segment (recomputed): %s", nc_last_error());
        nc_ctx_reset(c);
        return;
    }
    for (int i = 0; i < nd->n_in; i++) {
        if (!nc_needs_grad(nd->in[i]) || !xs[i]->grad) continue;
        float *dst = nc_grad_buf(ctx, nd->in[i]);
        if (!dst) break;
        nc_acc(ctx, dst, xs[i]->grad->data, nc_numel(nd->in[i]));
    }
    nc_ctx_reset(c);
}

nc_tensor *nc_checkpoint(nc_ctx *ctx, nc_checkpoint_fn fn, void *user, int n_in, nc_tensor *const *in) {
    if (n_in < 1 || n_in > 8) return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "checkpoint: 1 to 8 inputs");
    bool any = false;
    for (int i = 0; i < n_in; i++) {
        if (!nc_ok1(ctx, in[i])) return NULL;
        any |= nc_needs_grad(in[i]);
    }
    if (!ctx->grad_enabled || !any) return fn(ctx, user, in); /* nothing to recompute for */
    nc_ctx *c = child_of(ctx);
    if (!c) return NULL;
    const nc_rng rng0 = ctx->rng;
    c->rng = ctx->rng;
    c->grad_enabled = false;
    nc_tensor *yc = fn(c, user, in);
    if (!yc || c->status) {
        nc_ctx_fail(ctx, c->status ? c->status : NC_ERR_INVALID_ARG, "checkpointed segment: %s", nc_last_error());
        nc_ctx_reset(c);
        return NULL;
    }
    nc_tensor *y = nc_empty(ctx, yc->dtype, yc->ndim, yc->shape);
    if (y) memcpy(y->data, yc->data, (size_t)nc_numel(y) * nc_dtype_size(y->dtype));
    ctx->rng = c->rng;
    nc_ctx_reset(c);
    if (!y) return NULL;
    nc_node *nd = nc_record(ctx, "checkpoint", ckpt_backward, y, n_in, in, sizeof(ckpt_saved));
    if (nd) *(ckpt_saved *)nd->saved = (ckpt_saved){.fn = fn, .user = user, .rng = rng0};
    return ctx->status ? NULL : y;
}
