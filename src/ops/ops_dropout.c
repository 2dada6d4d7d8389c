/* Inverted dropout, drawing its mask exactly as torch 1.13 does on CPU.
 *
 * torch.nn.functional.dropout on a CPU tensor takes the unfused path of
 * aten/src/ATen/native/Dropout.cpp (_dropout_impl; the fused native_dropout
 * is only used for CUDA/XPU/lazy tensors):
 *     if p == 0 or not train: return input
 *     if p == 1: return input * zeros({})
 *     noise = empty_like(input).bernoulli_(1 - p)   # one double uniform per element
 *     noise.div_(1 - p)                             # float / float(1 - p)
 *     return input * noise
 * With the same seed (nc_rng_seed == torch.manual_seed) the mask and the
 * output are bit-identical to torch's. */
#include <stdio.h>
#include <stdlib.h>

#include "ops/ops_internal.h"

typedef struct do_saved {
    const uint8_t *mask; /* (numel) kept elements; NULL when p == 1 (all zero) */
    float scale;         /* 1/(1-p) */
} do_saved;

/* The double a Python user means by the float p: the shortest decimal that
 * round-trips to p ("0.1" for 0.1f), read back as a double. torch computes
 * 1 - p from the Python double, so bernoulli's threshold must too. */
static double decimal_double(float p) {
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)p);
        if (strtof(buf, NULL) == p) return strtod(buf, NULL);
    }
    return (double)p;
}

uint8_t *nc_dropout_mask(nc_ctx *ctx, int64_t n, float p, float *scale) {
    const double keep = 1.0 - decimal_double(p);
    uint8_t *mask = nc_scratch(ctx, (size_t)(n ? n : 1));
    if (!mask) return NULL;
    /* The draws are sequential by nature (one generator stream, as in torch). */
    nc_rng_bernoulli_u8(&ctx->rng, mask, n, keep);
    *scale = 1.0f / (float)keep; /* noise.div_(1 - p): 0 or 1/(1-p) */
    return mask;
}

static void do_backward(nc_ctx *ctx, nc_node *nd) {
    const do_saved *s = nd->saved;
    float *dx = nc_grad_buf(ctx, nd->in[0]);
    if (!dx) return;
    int64_t n = nc_numel(nd->out);
    nc_ctx_backend(ctx)->dropout_grad(nc_par(ctx, n), nc_out_grad(nd), s->mask, s->scale, dx, n);
}

nc_tensor *nc_dropout(nc_ctx *ctx, nc_tensor *x, float p) {
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, "dropout", x, NC_F32)) return NULL;
    if (!(p >= 0.0f && p <= 1.0f))
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                           "dropout: probability has to be between 0 and 1, got %g", (double)p);
    int64_t n = nc_numel(x);
    if (p == 0.0f || !ctx->training || n == 0) return x;
    nc_tensor *y = nc_empty_like(ctx, x);
    if (!y) return NULL;
    float scale = 0.0f;
    uint8_t *mask = NULL; /* none when p == 1: torch multiplies by a zero scalar */
    if (p != 1.0f) {
        mask = nc_dropout_mask(ctx, n, p, &scale);
        if (!mask) return NULL;
    }
    nc_ctx_backend(ctx)->dropout(nc_par(ctx, n), x->data, mask, scale, y->data, n);
    nc_node *nd = nc_record(ctx, "dropout", do_backward, y, 1, &x, sizeof(do_saved));
    if (nd) *(do_saved *)nd->saved = (do_saved){.mask = mask, .scale = scale};
    return ctx->status ? NULL : y;
}
