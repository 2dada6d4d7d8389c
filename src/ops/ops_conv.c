/* conv1d, conv2d and conv_transpose1d: shape checks, tape recording and the
 * backward rules; the arithmetic is in src/backend/cpu/conv*.c.
 *
 * Output size per spatial dim, as torch.nn.Conv1d/Conv2d document it:
 *   out = floor((in + pad_left + pad_right - dilation*(k-1) - 1) / stride) + 1
 * with separate leading and trailing padding, so a causal conv1d (NeMo's
 * CausalConv1D, nemo/collections/asr/parts/submodules/causal_convs.py) is
 * pad_left = k-1, pad_right = 0 with no extra pad op.
 *
 * A transposed conv is the gradient of a conv with respect to its input, so
 * it runs the conv kernels on a geometry whose input is the transposed
 * conv's output: forward = backward-data, backward-data = forward,
 * backward-weight = backward-weight with x and dy swapped. */
#include <string.h>

#include "ops/ops_internal.h"

nc_conv_params nc_conv_default_params(void) {
    return (nc_conv_params){
        .stride = {1, 1},
        .pad_left = {0, 0},
        .pad_right = {0, 0},
        .dilation = {1, 1},
        .groups = 1,
        .output_padding = 0,
    };
}

typedef struct conv_saved {
    nc_conv_geom g;
    bool transpose;
    bool relu; /* y = relu(conv): dy is masked by y > 0 first */
} conv_saved;

static nc_conv_exec exec_for(nc_ctx *ctx, const nc_conv_geom *g) {
    /* multiply-adds of the pass, to decide whether threads pay off */
    int64_t macs = g->N * g->Cout * g->OH * g->OW * (g->Cin / g->groups) * g->KH * g->KW;
    return (nc_conv_exec){
        .engine = ctx->gemm,
        .prec = ctx->precision,
        .reference = ctx->reference,
        .threads = nc_par(ctx, macs),
        .work = NULL,
        .col_budget = 0,
    };
}

/* One kernel pass with arena scratch that is handed back afterwards, so the
 * column buffers of successive convs reuse the same bytes. Callers allocate
 * everything that must outlive the pass (outputs, gradients) before it.
 * Roles: FWD (a = x, b = w, out = y), BWD_DATA (a = dy, b = w, out = dx),
 * BWD_WEIGHT (a = dy, b = x, out = dw). */
static bool run_pass(nc_ctx *ctx, const nc_conv_geom *g, nc_conv_pass pass, const float *a,
                     const float *b, float *out) {
    const nc_backend *be = nc_ctx_backend(ctx);
    nc_conv_exec e = exec_for(ctx, g);
    nc_arena_mark m = nc_arena_mark_get(ctx->arena);
    int64_t nf = be->conv_work_floats(g, pass, &e);
    if (nf > 0) {
        e.work = nc_scratch(ctx, (size_t)nf * sizeof(float));
        if (!e.work) return false;
    }
    nc_status s;
    if (pass == NC_CONV_FWD)
        s = be->conv_forward(g, &e, a, b, out);
    else if (pass == NC_CONV_BWD_DATA)
        s = be->conv_backward_data(g, &e, a, b, out);
    else
        s = be->conv_backward_weight(g, &e, a, b, out);
    nc_arena_rewind(ctx->arena, m);
    if (s) {
        nc_ctx_fail(ctx, s, "%s", nc_last_error());
        return false;
    }
    return true;
}

/* For a conv fused with a ReLU, y = relu(z): dz = dy * (y > 0), masked in
 * place in the node's incoming gradient (nothing reads it after this op's
 * backward). */
static void relu_mask(nc_ctx *ctx, nc_node *n) {
    const int64_t ny = nc_numel(n->out);
    nc_ctx_backend(ctx)->relu_mask(nc_par(ctx, ny), n->out->data, nc_out_grad(n), ny);
}

static void conv_backward(nc_ctx *ctx, nc_node *n) {
    const conv_saved *s = n->saved;
    const nc_conv_geom *g = &s->g;
    nc_tensor *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL;
    float *dy = nc_out_grad(n);
    if (s->relu) relu_mask(ctx, n);
    float *dx = nc_grad_buf(ctx, x);
    float *dw = nc_grad_buf(ctx, w);
    float *db = bias ? nc_grad_buf(ctx, bias) : NULL;
    if (ctx->status) return;
    bool threads = nc_par(ctx, nc_numel(n->out));
    if (!s->transpose) {
        /* in the forward pass this was: y = bias + conv(x, w) */
        if (dx && !run_pass(ctx, g, NC_CONV_BWD_DATA, dy, w->data, dx)) return;
        if (dw && !run_pass(ctx, g, NC_CONV_BWD_WEIGHT, dy, x->data, dw)) return;
        if (db) nc_ctx_backend(ctx)->conv_backward_bias(g->N, g->Cout, g->OH * g->OW, threads, dy, db);
    } else {
        /* in the forward pass this was: y = bias + conv^T(x, w), y being g's input */
        if (dx && !run_pass(ctx, g, NC_CONV_FWD, dy, w->data, dx)) return;
        if (dw && !run_pass(ctx, g, NC_CONV_BWD_WEIGHT, x->data, dy, dw)) return;
        if (db) nc_ctx_backend(ctx)->conv_backward_bias(g->N, g->Cin, g->H * g->W, threads, dy, db);
    }
}

/* dtype, bias and groups checks shared by the three ops. */
static bool check_args(nc_ctx *ctx, const char *op, const nc_tensor *x, const nc_tensor *w,
                       const nc_tensor *bias, int nsp, int64_t groups, int cdim) {
    if (!nc_check_dtype(ctx, op, x, NC_F32) || !nc_check_dtype(ctx, op, w, NC_F32)) return false;
    if (bias && !nc_check_dtype(ctx, op, bias, NC_F32)) return false;
    if (x->ndim != 2 + nsp || w->ndim != 2 + nsp) {
        nc_shape_fail(ctx, op, nsp == 1    ? "expected x (N, C, L) and a 3-D weight"
                               : cdim == 1 ? "expected x (N, C, H, W) and a 4-D weight"
                                           : "expected x (N, H, W, C) and a 4-D weight",
                      x, w);
        return false;
    }
    if (groups < 1 || x->shape[cdim] % groups) {
        nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "%s: groups %lld must be >= 1 and divide Cin %lld",
                    op, (long long)groups, (long long)x->shape[cdim]);
        return false;
    }
    return true;
}

/* Output length of one spatial dim; false (ctx failed) on bad parameters. */
static bool out_len(nc_ctx *ctx, const char *op, int dim, int64_t in, int64_t k, int64_t s,
                    int64_t pl, int64_t pr, int64_t d, int64_t *out) {
    if (s < 1 || d < 1 || pl < 0 || pr < 0 || k < 1) {
        nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                    "%s: spatial dim %d: need stride >= 1, dilation >= 1, padding >= 0 "
                    "(got stride %lld, dilation %lld, padding %lld/%lld, kernel %lld)",
                    op, dim, (long long)s, (long long)d, (long long)pl, (long long)pr,
                    (long long)k);
        return false;
    }
    int64_t span = d * (k - 1) + 1;
    if (in + pl + pr < span) {
        nc_ctx_fail(ctx, NC_ERR_SHAPE,
                    "%s: spatial dim %d: padded input %lld is shorter than the dilated kernel %lld",
                    op, dim, (long long)(in + pl + pr), (long long)span);
        return false;
    }
    *out = (in + pl + pr - span) / s + 1;
    return true;
}

/* The geometry of a conv of x (N, Cin, spatial...) (channels at dim cdim,
 * spatial dims in order after N otherwise) with weight w; false (ctx
 * failed) on bad arguments. */
static bool conv_geom(nc_ctx *ctx, const char *op, const nc_tensor *x, const nc_tensor *w,
                      const nc_tensor *bias, const nc_conv_params *p, int nsp, int cdim,
                      nc_conv_geom *out) {
    if (!check_args(ctx, op, x, w, bias, nsp, p->groups, cdim)) return false;
    int64_t sp[2];
    for (int i = 0, j = 1; i < nsp; j++)
        if (j != cdim) sp[i++] = x->shape[j];
    int64_t N = x->shape[0], Cin = x->shape[cdim], Cout = w->shape[0];
    if (Cout % p->groups || w->shape[1] * p->groups != Cin) {
        nc_shape_fail(ctx, op, "weight must be (Cout, Cin/groups, k...) with groups | Cout", w, x);
        return false;
    }
    if (bias && (bias->ndim != 1 || bias->shape[0] != Cout)) {
        nc_shape_fail(ctx, op, "bias must be (Cout)", bias, w);
        return false;
    }
    nc_conv_geom g = {.N = N, .Cin = Cin, .Cout = Cout, .groups = p->groups,
                      .H = 1, .W = 1, .KH = 1, .KW = 1, .OH = 1, .OW = 1,
                      .sh = 1, .sw = 1, .ph = 0, .pw = 0, .dh = 1, .dw = 1};
    if (nsp == 2) {
        g.H = sp[0], g.KH = w->shape[2], g.sh = p->stride[0], g.ph = p->pad_left[0];
        g.dh = p->dilation[0];
        if (!out_len(ctx, op, 0, g.H, g.KH, g.sh, g.ph, p->pad_right[0], g.dh, &g.OH)) return false;
    }
    int s = nsp - 1; /* params index of the last spatial dim */
    g.W = sp[nsp - 1], g.KW = w->shape[1 + nsp], g.sw = p->stride[s];
    g.pw = p->pad_left[s], g.dw = p->dilation[s];
    if (!out_len(ctx, op, s, g.W, g.KW, g.sw, g.pw, p->pad_right[s], g.dw, &g.OW)) return false;
    *out = g;
    return true;
}

static nc_tensor *conv_nd(nc_ctx *ctx, const char *op, nc_tensor *x, nc_tensor *w,
                          nc_tensor *bias, const nc_conv_params *p, int nsp, bool relu) {
    if (!nc_ok2(ctx, x, w)) return NULL;
    nc_conv_params def = nc_conv_default_params();
    if (!p) p = &def;
    nc_conv_geom g;
    if (!conv_geom(ctx, op, x, w, bias, p, nsp, 1, &g)) return NULL;
    int64_t N = g.N, Cout = g.Cout;
    nc_tensor *y = nsp == 1 ? nc_empty(ctx, NC_F32, NC_DIMS(N, Cout, g.OW))
                            : nc_empty(ctx, NC_F32, NC_DIMS(N, Cout, g.OH, g.OW));
    if (!y) return NULL;
    nc_ctx_backend(ctx)->conv_fill_bias(N, Cout, g.OH * g.OW, nc_par(ctx, nc_numel(y)),
                      bias ? (const float *)bias->data : NULL, y->data);
    if (!run_pass(ctx, &g, NC_CONV_FWD, x->data, w->data, y->data)) return NULL;
    if (relu) nc_ctx_backend(ctx)->relu_inplace(nc_par(ctx, nc_numel(y)), y->data, nc_numel(y));
    nc_tensor *ins[3] = {x, w, bias};
    nc_node *n = nc_record(ctx, op, conv_backward, y, bias ? 3 : 2, ins, sizeof(conv_saved));
    if (n) *(conv_saved *)n->saved = (conv_saved){.g = g, .transpose = false, .relu = relu};
    return ctx->status ? NULL : y;
}

nc_tensor *nc_conv1d(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias,
                     const nc_conv_params *p) {
    return conv_nd(ctx, "conv1d", x, w, bias, p, 1, false);
}

nc_tensor *nc_conv2d(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias,
                     const nc_conv_params *p) {
    return conv_nd(ctx, "conv2d", x, w, bias, p, 2, false);
}

nc_tensor *nc_conv2d_relu(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias,
                          const nc_conv_params *p) {
    return conv_nd(ctx, "conv2d_relu", x, w, bias, p, 2, true);
}

/* ---- channels-last conv2d ----
 * x (N, H, W, Cin) -> y (N, OH, OW, Cout), weights in torch's layout. With
 * oneDNN (the default engines) this runs its NHWC convolution kernels; with
 * the reference kernels, the BLAS engine, or a geometry oneDNN has no fast
 * kernel for, it is the same arithmetic as permute -> conv2d -> permute. */

typedef struct conv_cl_saved {
    nc_conv_geom g;
    bool relu, bf16;
    const uint16_t *x16; /* bf16 copy of x, kept for the weight gradient */
} conv_cl_saved;

static void *conv_cl_fail(nc_ctx *ctx, nc_status s) {
    return nc_ctx_fail(ctx, s, "conv2d_cl: %s", nc_last_error());
}

/* dst (n) = src, or dst += src when the buffer was not fresh */
static void put_grad(nc_ctx *ctx, float *dst, const float *src, int64_t n, bool fresh) {
    if (dst == src) return;
    if (fresh)
        memcpy(dst, src, (size_t)n * sizeof(float));
    else
        nc_acc(ctx, dst, src, n);
}

static void conv_cl_backward(nc_ctx *ctx, nc_node *n) {
    const conv_cl_saved *s = n->saved;
    const nc_conv_geom *g = &s->g;
    nc_tensor *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL;
    float *dy = nc_out_grad(n);
    const int64_t ny = nc_numel(n->out), nx = nc_numel(x), nw = nc_numel(w);
    const float *y = n->out->data;
    const nc_backend *be = nc_ctx_backend(ctx);
    if (s->relu && !s->bf16) relu_mask(ctx, n); /* bf16: masked while converting, below */
    bool fx = false, fw = false, fb = false;
    float *dx = nc_grad_buf_fresh(ctx, x, &fx);
    float *dw = nc_grad_buf_fresh(ctx, w, &fw);
    float *db = bias ? nc_grad_buf_fresh(ctx, bias, &fb) : NULL;
    if (ctx->status) return;
    nc_arena_mark m = nc_arena_mark_get(ctx->arena);
    size_t wd = be->conv_cl_work_bytes(g, s->bf16, s->relu, bias != NULL, NC_CONV_BWD_DATA);
    size_t ww = be->conv_cl_work_bytes(g, s->bf16, s->relu, bias != NULL, NC_CONV_BWD_WEIGHT);
    void *work = nc_scratch(ctx, wd > ww ? wd : ww); /* arena blocks are 64-byte aligned */
    if (!work) return;
    const void *dyp = dy;
    if (s->bf16) {
        uint16_t *d16 = nc_scratch(ctx, (size_t)ny * sizeof(uint16_t));
        if (!d16) return;
        if (!s->relu) {
            nc_convert_f32_to_bf16(dy, d16, ny);
        } else { /* the ReLU mask and the conversion in one pass */
            be->relu_mask_bf16(nc_par(ctx, ny), y, dy, d16, ny);
        }
        dyp = d16;
    }
    nc_status st = NC_OK;
    if (dx) {
        float *o = fx ? dx : nc_scratch(ctx, (size_t)nx * sizeof(float));
        if (!o) return;
        st = be->conv_cl_backward_data(g, s->bf16, s->relu, bias != NULL, dyp, w->data, o, work);
        if (!st) put_grad(ctx, dx, o, nx, fx);
    }
    if (!st && (dw || db)) {
        float *ow = dw && fw ? dw : nc_scratch(ctx, (size_t)nw * sizeof(float));
        float *ob = !bias ? NULL : db && fb ? db : nc_scratch(ctx, (size_t)g->Cout * sizeof(float));
        if (!ow || (bias && !ob)) return;
        const void *xp = s->bf16 ? (const void *)s->x16 : x->data;
        st = be->conv_cl_backward_weights(g, s->bf16, s->relu, bias != NULL, xp, dyp, ow, ob, work);
        if (!st && dw) put_grad(ctx, dw, ow, nw, fw);
        if (!st && db) put_grad(ctx, db, ob, g->Cout, fb);
    }
    nc_arena_rewind(ctx->arena, m);
    if (st) conv_cl_fail(ctx, st);
}

/* oneDNN's fused ReLU turns NaN into 0 where torch.relu keeps it, and a NaN
 * must reach the loss for the trainer to skip the step; a non-finite input
 * (the only way to a NaN output) therefore takes the composite path. With
 * x16, t is also converted to bf16 into it in the same pass. */
static bool finite(nc_ctx *ctx, const nc_tensor *t, uint16_t *x16) {
    const int64_t n = nc_numel(t);
    return nc_ctx_backend(ctx)->all_finite(nc_par(ctx, n), t->data, n, x16);
}

nc_tensor *nc_conv2d_cl(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias,
                        const nc_conv_params *p, bool relu) {
    const char *op = "conv2d_cl";
    if (!nc_ok2(ctx, x, w)) return NULL;
    nc_conv_params def = nc_conv_default_params();
    if (!p) p = &def;
    nc_conv_geom g;
    if (!conv_geom(ctx, op, x, w, bias, p, 2, 3, &g)) return NULL;
    const bool bf16 = ctx->precision == NC_PREC_BF16;
    /* the engines on which a gemm runs on oneDNN (nc_cpu_gemm) */
    const bool dnnl = !ctx->reference && ctx->gemm != NC_GEMM_REF &&
                      (bf16 || ctx->gemm != NC_GEMM_BLAS);
    const nc_backend *be = nc_ctx_backend(ctx);
    bool fast = dnnl && be->conv_cl_available(&g, bf16, relu, bias != NULL);
    uint16_t *x16 = NULL; /* bf16: x converted for the kernel, kept for backward */
    nc_arena_mark m0 = nc_arena_mark_get(ctx->arena);
    if (fast && bf16 && !(x16 = nc_scratch(ctx, (size_t)nc_numel(x) * sizeof(uint16_t))))
        return NULL;
    if (fast && (relu || x16)) {
        const bool ok = finite(ctx, x, x16) && finite(ctx, w, NULL) &&
                        (!bias || finite(ctx, bias, NULL));
        fast = ok || !relu;
    }
    if (!fast) {
        nc_arena_rewind(ctx->arena, m0); /* x16 */
        nc_tensor *t = nc_permute(ctx, x, (const int[]){0, 3, 1, 2});
        t = relu ? nc_conv2d_relu(ctx, t, w, bias, p) : nc_conv2d(ctx, t, w, bias, p);
        return nc_permute(ctx, t, (const int[]){0, 2, 3, 1});
    }
    nc_tensor *y = nc_empty(ctx, NC_F32, NC_DIMS(g.N, g.OH, g.OW, g.Cout));
    if (!y) return NULL;
    const void *xp = x16 ? (const void *)x16 : x->data;
    nc_arena_mark m = nc_arena_mark_get(ctx->arena);
    void *work = nc_scratch(ctx, be->conv_cl_work_bytes(&g, bf16, relu, bias != NULL, NC_CONV_FWD));
    if (!work) return NULL;
    nc_status st = be->conv_cl_forward(&g, bf16, relu, xp, w->data,
                                      bias ? (const float *)bias->data : NULL, y->data, work);
    nc_arena_rewind(ctx->arena, m);
    if (st) return conv_cl_fail(ctx, st);
    nc_tensor *ins[3] = {x, w, bias};
    nc_node *n = nc_record(ctx, op, conv_cl_backward, y, bias ? 3 : 2, ins, sizeof(conv_cl_saved));
    if (n) *(conv_cl_saved *)n->saved = (conv_cl_saved){.g = g, .relu = relu, .bf16 = bf16, .x16 = x16};
    return ctx->status ? NULL : y;
}

/* torch.nn.ConvTranspose1d (aten/src/ATen/native/NaiveConvolutionTranspose2d.cpp):
 *   y[n, g*Og + co, l*s - p + k*d] += x[n, g*Cg + ci, l] * w[g*Cg + ci, co, k]
 *   Lout = (L-1)*s - 2p + d*(K-1) + output_padding + 1 */
nc_tensor *nc_conv_transpose1d(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias,
                               const nc_conv_params *p) {
    const char *op = "conv_transpose1d";
    if (!nc_ok2(ctx, x, w)) return NULL;
    nc_conv_params def = nc_conv_default_params();
    if (!p) p = &def;
    if (!check_args(ctx, op, x, w, bias, 1, p->groups, 1)) return NULL;
    int64_t N = x->shape[0], Cin = x->shape[1], L = x->shape[2], K = w->shape[2];
    int64_t Cout = w->shape[1] * p->groups;
    if (w->shape[0] != Cin)
        return nc_shape_fail(ctx, op, "weight must be (Cin, Cout/groups, K)", w, x);
    if (bias && (bias->ndim != 1 || bias->shape[0] != Cout))
        return nc_shape_fail(ctx, op, "bias must be (Cout)", bias, w);
    int64_t s = p->stride[0], d = p->dilation[0], pad = p->pad_left[0], op_ = p->output_padding;
    if (p->pad_right[0] != pad)
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                           "%s: padding is symmetric (pad_left %lld != pad_right %lld)", op,
                           (long long)pad, (long long)p->pad_right[0]);
    if (s < 1 || d < 1 || pad < 0 || op_ < 0 || (op_ >= s && op_ >= d))
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                           "%s: need stride >= 1, dilation >= 1, padding >= 0 and 0 <= "
                           "output_padding < max(stride, dilation) (got %lld, %lld, %lld, %lld)",
                           op, (long long)s, (long long)d, (long long)pad, (long long)op_);
    int64_t Lout = (L - 1) * s - 2 * pad + d * (K - 1) + op_ + 1;
    if (Lout < 1)
        return nc_ctx_fail(ctx, NC_ERR_SHAPE, "%s: output length %lld < 1 (L %lld, padding %lld)",
                           op, (long long)Lout, (long long)L, (long long)pad);
    /* The conv whose input gradient this is: input y (N, Cout, Lout), output x. */
    nc_conv_geom g = {.N = N, .Cin = Cout, .Cout = Cin, .groups = p->groups,
                      .H = 1, .W = Lout, .KH = 1, .KW = K, .OH = 1, .OW = L,
                      .sh = 1, .sw = s, .ph = 0, .pw = pad, .dh = 1, .dw = d};
    nc_tensor *y = nc_empty(ctx, NC_F32, NC_DIMS(N, Cout, Lout));
    if (!y) return NULL;
    nc_ctx_backend(ctx)->conv_fill_bias(N, Cout, Lout, nc_par(ctx, nc_numel(y)),
                      bias ? (const float *)bias->data : NULL, y->data);
    if (!run_pass(ctx, &g, NC_CONV_BWD_DATA, x->data, w->data, y->data)) return NULL;
    nc_tensor *ins[3] = {x, w, bias};
    nc_node *n = nc_record(ctx, op, conv_backward, y, bias ? 3 : 2, ins, sizeof(conv_saved));
    if (n) *(conv_saved *)n->saved = (conv_saved){.g = g, .transpose = true, .relu = false};
    return ctx->status ? NULL : y;
}
