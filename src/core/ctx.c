/* Execution context and the define-by-run tape. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/ctx_impl.h"
#include "core/tape.h"
#include "core/vec.h"
#include "nemoc/alloc.h"
#include "nemoc/log.h"

nc_ctx_params nc_ctx_default_params(void) {
    return (nc_ctx_params){
        .arena_reserve = 0,
        .arena_limit = 0,
        .seed = 1234,
        .precision = NC_PREC_F32,
        .gemm = NC_GEMM_AUTO,
        .reference_kernels = -1,
    };
}

nc_status nc_ctx_create(const nc_ctx_params *p, nc_ctx **out) {
    *out = NULL;
    nc_ctx_params def = nc_ctx_default_params();
    if (!p) p = &def;
    nc_ctx *c = nc_calloc(1, sizeof *c);
    if (!c) return nc_error(NC_ERR_OOM, "ctx: cannot allocate");
    nc_status s = nc_arena_create(p->arena_reserve, &c->arena);
    if (s) {
        nc_free(c);
        return s;
    }
    nc_arena_set_limit(c->arena, p->arena_limit);
    c->grad_enabled = true;
    c->training = true;
    c->precision = p->precision;
    c->gemm = p->gemm;
    if (p->reference_kernels < 0) {
        const char *e = getenv("NC_REFERENCE_KERNELS");
        c->reference = e && e[0] && strcmp(e, "0") != 0;
    } else {
        c->reference = p->reference_kernels != 0;
    }
    /* NC_ATTN_TILED=1/0 forces the tiled / materialised causal attention
     * (tests, benches); unset, the op picks by its measured size rule */
    const char *at = getenv("NC_ATTN_TILED");
    c->attn_tiled = at && at[0] ? (strcmp(at, "0") != 0) : -1;
    nc_rng_seed(&c->rng, p->seed);
    const char *pe = getenv("NC_PROFILE");
    if (pe && pe[0] && strcmp(pe, "0") != 0) nc_ctx_set_profile(c, true);
    *out = c;
    return NC_OK;
}

void nc_ctx_free(nc_ctx *ctx) {
    if (!ctx) return;
    nc_ctx_free(ctx->ckpt_child);
    nc_arena_free(ctx->arena);
    if (ctx->bf16_arena) nc_arena_free(ctx->bf16_arena);
    if (ctx->prof) nc_free(ctx->prof->e);
    nc_free(ctx->prof);
    nc_free(ctx);
}

void nc_ctx_reset(nc_ctx *ctx) {
    nc_arena_reset(ctx->arena);
    ctx->nodes = NULL;
    ctx->n_nodes = 0;
    ctx->cap_nodes = 0;
    if (!ctx->keep_bf16) {
        if (ctx->bf16_arena) nc_arena_reset(ctx->bf16_arena);
        ctx->bf16 = NULL;
        ctx->n_bf16 = ctx->cap_bf16 = 0;
    }
    nc_ctx_profile_mark(ctx);
}

void nc_ctx_keep_bf16_params(nc_ctx *ctx, bool on) {
    if (ctx->keep_bf16 && !on) { /* drop what was kept */
        if (ctx->bf16_arena) nc_arena_reset(ctx->bf16_arena);
        ctx->bf16 = NULL;
        ctx->n_bf16 = ctx->cap_bf16 = 0;
    }
    ctx->keep_bf16 = on;
}

const uint16_t *nc_ctx_bf16_param(nc_ctx *ctx, const nc_tensor *t) {
    if (ctx->status) return NULL;
    int64_t n = nc_numel(t);
    if (!(t->flags & NC_TF_PARAM)) {
        /* a weight computed this step (an arena tensor): its address may be
         * reused after a rewind, so it is converted each time, into the
         * arena after it, sharing its lifetime */
        uint16_t *v = nc_scratch(ctx, (size_t)(n ? n : 1) * sizeof(uint16_t));
        if (v) nc_convert_f32_to_bf16(t->data, v, n);
        return v;
    }
    for (int64_t i = 0; i < ctx->n_bf16; i++)
        if (ctx->bf16[i].key == t->data && ctx->bf16[i].n == n) return ctx->bf16[i].val;
    if (!ctx->bf16_arena) {
        nc_status s = nc_arena_create(0, &ctx->bf16_arena);
        if (s) return nc_ctx_fail(ctx, s, "%s", nc_last_error());
    }
    if (ctx->n_bf16 == ctx->cap_bf16) {
        int64_t cap = ctx->cap_bf16 ? 2 * ctx->cap_bf16 : 64;
        nc_bf16_entry *e = nc_arena_alloc(ctx->bf16_arena, (size_t)cap * sizeof *e);
        if (!e) return nc_ctx_fail(ctx, NC_ERR_OOM, "%s", nc_last_error());
        if (ctx->n_bf16) memcpy(e, ctx->bf16, (size_t)ctx->n_bf16 * sizeof *e);
        ctx->bf16 = e;
        ctx->cap_bf16 = cap;
    }
    uint16_t *v = nc_arena_alloc(ctx->bf16_arena, (size_t)(n ? n : 1) * sizeof(uint16_t));
    if (!v) return nc_ctx_fail(ctx, NC_ERR_OOM, "%s", nc_last_error());
    nc_convert_f32_to_bf16(t->data, v, n);
    ctx->bf16[ctx->n_bf16++] = (nc_bf16_entry){.key = t->data, .n = n, .val = v};
    return v;
}

/* ---- profile ---- */

void nc_ctx_set_profile(nc_ctx *ctx, bool on) {
    if (on && !ctx->prof) {
        ctx->prof = nc_calloc(1, sizeof *ctx->prof);
        if (ctx->prof) ctx->prof->last = nc_now_s();
    } else if (!on) {
        if (ctx->prof) nc_free(ctx->prof->e);
        nc_free(ctx->prof);
        ctx->prof = NULL;
    }
}

bool nc_ctx_profiling(const nc_ctx *ctx) { return ctx->prof != NULL; }

void nc_ctx_profile_mark(nc_ctx *ctx) {
    if (ctx->prof) ctx->prof->last = nc_now_s();
}

void nc_ctx_profile_clear(nc_ctx *ctx) {
    if (!ctx->prof) return;
    ctx->prof->n = 0;
    ctx->prof->last = nc_now_s();
}

/* Counts one call of op; a table that cannot grow fails the ctx (the
 * profile would otherwise be silently incomplete). */
static void prof_add(nc_ctx *ctx, const char *op, bool bwd, double dt) {
    nc_profile *p = ctx->prof;
    for (int64_t i = 0; i < p->n; i++)
        if (p->e[i].backward == bwd && (p->e[i].op == op || strcmp(p->e[i].op, op) == 0)) {
            p->e[i].calls++;
            p->e[i].seconds += dt;
            return;
        }
    if (nc_vec_reserve(&p->e, &p->cap, p->n + 1, sizeof *p->e)) {
        nc_ctx_fail(ctx, NC_ERR_OOM, "profile: no room for op '%s'", op);
        return;
    }
    p->e[p->n++] = (nc_profile_entry){.op = op, .backward = bwd, .calls = 1, .seconds = dt};
}

static int prof_cmp(const void *a, const void *b) {
    double x = ((const nc_profile_entry *)a)->seconds, y = ((const nc_profile_entry *)b)->seconds;
    return x < y ? 1 : x > y ? -1 : 0;
}

int64_t nc_ctx_profile(const nc_ctx *ctx, nc_profile_entry *out, int64_t cap) {
    if (!ctx->prof) return 0;
    int64_t n = ctx->prof->n;
    if (!n) return 0;
    /* Sorted in a copy: the table itself stays in first-seen order. Without
     * memory for the copy the entries come unsorted rather than not at all. */
    nc_profile_entry *tmp = nc_malloc((size_t)n * sizeof *tmp);
    const nc_profile_entry *src = ctx->prof->e;
    if (tmp) {
        memcpy(tmp, src, (size_t)n * sizeof *tmp);
        qsort(tmp, (size_t)n, sizeof *tmp, prof_cmp);
        src = tmp;
    }
    for (int64_t i = 0; i < n && i < cap; i++) out[i] = src[i];
    nc_free(tmp);
    return n;
}

nc_status nc_ctx_status(const nc_ctx *ctx) { return ctx->status; }

void *nc_ctx_fail(nc_ctx *ctx, nc_status s, const char *fmt, ...) {
    if (ctx->status == NC_OK) {
        va_list ap;
        va_start(ap, fmt);
        nc_verror(s, fmt, ap);
        va_end(ap);
        ctx->status = s;
    }
    return NULL;
}

void nc_ctx_clear_status(nc_ctx *ctx) { ctx->status = NC_OK; }

bool nc_set_grad_enabled(nc_ctx *ctx, bool on) {
    bool prev = ctx->grad_enabled;
    ctx->grad_enabled = on;
    return prev;
}
bool nc_grad_enabled(const nc_ctx *ctx) { return ctx->grad_enabled; }
void nc_set_training(nc_ctx *ctx, bool on) { ctx->training = on; }
bool nc_training(const nc_ctx *ctx) { return ctx->training; }
nc_rng *nc_ctx_rng(nc_ctx *ctx) { return &ctx->rng; }
nc_arena *nc_ctx_arena(nc_ctx *ctx) { return ctx->arena; }
nc_precision nc_ctx_precision(const nc_ctx *ctx) { return ctx->precision; }
void nc_ctx_set_precision(nc_ctx *ctx, nc_precision p) { ctx->precision = p; }
bool nc_ctx_reference(const nc_ctx *ctx) { return ctx->reference; }
void nc_ctx_set_reference(nc_ctx *ctx, bool on) { ctx->reference = on; }
int nc_ctx_attn_tiled(const nc_ctx *ctx) { return ctx->attn_tiled; }
void nc_ctx_set_attn_tiled(nc_ctx *ctx, int mode) { ctx->attn_tiled = mode < 0 ? -1 : mode > 0; }
nc_gemm_engine nc_ctx_gemm(const nc_ctx *ctx) { return ctx->gemm; }
void nc_ctx_set_gemm(nc_ctx *ctx, nc_gemm_engine e) { ctx->gemm = e; }

/* ---- arena tensors ---- */

nc_tensor *nc_tensor_view_of(nc_ctx *ctx, nc_dtype dt, int ndim, const int64_t *shape, void *data) {
    if (ctx->status) return NULL;
    nc_tensor *t = nc_arena_alloc(ctx->arena, sizeof *t);
    if (!t) return nc_ctx_fail(ctx, NC_ERR_OOM, "%s", nc_last_error());
    if (nc_tensor_init(t, dt, ndim, shape, data)) {
        ctx->status = NC_ERR_INVALID_ARG;
        return NULL;
    }
    return t;
}

nc_tensor *nc_empty(nc_ctx *ctx, nc_dtype dt, int ndim, const int64_t *shape) {
    nc_tensor *t = nc_tensor_view_of(ctx, dt, ndim, shape, NULL);
    if (!t) return NULL;
    t->data = nc_arena_alloc(ctx->arena, nc_nbytes(t));
    if (!t->data) return nc_ctx_fail(ctx, NC_ERR_OOM, "%s", nc_last_error());
    return t;
}

nc_tensor *nc_zeros(nc_ctx *ctx, nc_dtype dt, int ndim, const int64_t *shape) {
    nc_tensor *t = nc_empty(ctx, dt, ndim, shape);
    if (t) memset(t->data, 0, nc_nbytes(t));
    return t;
}

nc_tensor *nc_full(nc_ctx *ctx, int ndim, const int64_t *shape, float value) {
    nc_tensor *t = nc_empty(ctx, NC_F32, ndim, shape);
    if (!t) return NULL;
    float *d = t->data;
    int64_t n = nc_numel(t);
    for (int64_t i = 0; i < n; i++) d[i] = value;
    return t;
}

nc_tensor *nc_empty_like(nc_ctx *ctx, const nc_tensor *t) {
    if (!t) return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "empty_like: NULL tensor");
    return nc_empty(ctx, t->dtype, t->ndim, t->shape);
}

nc_tensor *nc_zeros_like(nc_ctx *ctx, const nc_tensor *t) {
    if (!t) return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "zeros_like: NULL tensor");
    return nc_zeros(ctx, t->dtype, t->ndim, t->shape);
}

nc_tensor *nc_from_data(nc_ctx *ctx, nc_dtype dt, int ndim, const int64_t *shape, const void *data) {
    nc_tensor *t = nc_empty(ctx, dt, ndim, shape);
    if (t) memcpy(t->data, data, nc_nbytes(t));
    return t;
}

nc_tensor *nc_scalar(nc_ctx *ctx, float v) { return nc_full(ctx, 0, NULL, v); }

void *nc_scratch(nc_ctx *ctx, size_t bytes) {
    if (ctx->status) return NULL;
    void *p = nc_arena_alloc(ctx->arena, bytes);
    if (!p) return nc_ctx_fail(ctx, NC_ERR_OOM, "%s", nc_last_error());
    return p;
}

void nc_requires_grad(nc_tensor *t, bool on) {
    if (on)
        t->flags |= NC_TF_REQUIRES_GRAD;
    else
        t->flags &= ~(uint32_t)NC_TF_REQUIRES_GRAD;
}

/* ---- checks used by ops ---- */

bool nc_ok1(nc_ctx *ctx, const nc_tensor *a) {
    if (ctx->status) return false;
    if (!a) {
        nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "op given a NULL tensor");
        return false;
    }
    return true;
}
bool nc_ok2(nc_ctx *ctx, const nc_tensor *a, const nc_tensor *b) {
    return nc_ok1(ctx, a) && nc_ok1(ctx, b);
}
bool nc_ok3(nc_ctx *ctx, const nc_tensor *a, const nc_tensor *b, const nc_tensor *c) {
    return nc_ok2(ctx, a, b) && nc_ok1(ctx, c);
}

bool nc_check_dtype(nc_ctx *ctx, const char *op, const nc_tensor *t, nc_dtype dt) {
    if (t->dtype == dt) return true;
    nc_ctx_fail(ctx, NC_ERR_DTYPE, "%s: expected %s, got %s", op, nc_dtype_name(dt),
                nc_dtype_name(t->dtype));
    return false;
}

/* ---- tape ---- */

nc_node *nc_record(nc_ctx *ctx, const char *op, nc_backward_fn backward, nc_tensor *out, int n_in,
                   nc_tensor *const *in, size_t saved_size) {
    if (ctx->prof) {
        double t = nc_now_s();
        prof_add(ctx, op, false, t - ctx->prof->last);
        ctx->prof->last = t;
    }
    if (ctx->status || !ctx->grad_enabled) return NULL;
    bool any = false;
    for (int i = 0; i < n_in; i++) any |= nc_needs_grad(in[i]);
    if (!any) return NULL;
    if (ctx->n_nodes == ctx->cap_nodes) {
        /* The node array lives in the arena; grow by copying (amortised). */
        int64_t cap = ctx->cap_nodes ? ctx->cap_nodes * 2 : 256;
        nc_node *nn = nc_arena_alloc(ctx->arena, (size_t)cap * sizeof(nc_node));
        if (!nn) return nc_ctx_fail(ctx, NC_ERR_OOM, "tape: %s", nc_last_error());
        if (ctx->n_nodes) memcpy(nn, ctx->nodes, (size_t)ctx->n_nodes * sizeof(nc_node));
        ctx->nodes = nn;
        ctx->cap_nodes = cap;
    }
    nc_node *n = &ctx->nodes[ctx->n_nodes];
    n->op = op;
    n->backward = backward;
    n->out = out;
    n->n_in = n_in;
    n->in = nc_arena_alloc(ctx->arena, (size_t)(n_in ? n_in : 1) * sizeof(nc_tensor *));
    n->saved = saved_size ? nc_arena_calloc(ctx->arena, saved_size) : NULL;
    if (!n->in || (saved_size && !n->saved))
        return nc_ctx_fail(ctx, NC_ERR_OOM, "tape: %s", nc_last_error());
    for (int i = 0; i < n_in; i++) n->in[i] = in[i];
    out->flags |= NC_TF_REQUIRES_GRAD;
    ctx->n_nodes++;
    return n;
}

float *nc_grad_buf(nc_ctx *ctx, nc_tensor *t) {
    if (!nc_needs_grad(t)) return NULL;
    if (!t->grad) {
        t->grad = nc_zeros(ctx, NC_F32, t->ndim, t->shape);
        if (!t->grad) return NULL;
    }
    return t->grad->data;
}

float *nc_grad_buf_fresh(nc_ctx *ctx, nc_tensor *t, bool *fresh) {
    *fresh = false;
    if (!nc_needs_grad(t)) return NULL;
    if (!t->grad) {
        t->grad = nc_empty(ctx, NC_F32, t->ndim, t->shape);
        if (!t->grad) return NULL;
        *fresh = true;
    }
    return t->grad->data;
}

bool nc_grad_pass_through(nc_ctx *ctx, nc_tensor *t, nc_node *n) {
    if (!nc_needs_grad(t) || t->grad) return false;
    t->grad = nc_tensor_view_of(ctx, NC_F32, t->ndim, t->shape, n->out->grad->data);
    return t->grad != NULL;
}

static nc_status run_backward_nodes(nc_ctx *ctx) {
    for (int64_t i = ctx->n_nodes - 1; i >= 0; i--) {
        nc_node *n = &ctx->nodes[i];
        if (!n->out->grad) continue; /* nothing flowed into this op's output */
        if (!n->backward)
            return nc_ctx_fail(ctx, NC_ERR_UNSUPPORTED,
                               "backward: op '%s' has no backward but its output needs a gradient",
                               n->op),
                   ctx->status;
        bool prev = ctx->grad_enabled;
        ctx->grad_enabled = false; /* backward itself is never recorded */
        double t0 = ctx->prof ? nc_now_s() : 0.0;
        n->backward(ctx, n);
        if (ctx->prof) prof_add(ctx, n->op, true, nc_now_s() - t0);
        ctx->grad_enabled = prev;
        if (ctx->status) return nc_error_prefix(ctx->status, "backward of '%s'", n->op);
    }
    return NC_OK;
}

static nc_status run_backward(nc_ctx *ctx) {
    nc_status s = run_backward_nodes(ctx);
    nc_ctx_profile_mark(ctx);
    return s;
}

nc_status nc_backward(nc_ctx *ctx, nc_tensor *loss) {
    if (ctx->status) return ctx->status;
    if (!loss) return nc_error(NC_ERR_INVALID_ARG, "backward: NULL loss");
    if (nc_numel(loss) != 1)
        return nc_error(NC_ERR_SHAPE, "backward: loss must have one element, has %lld",
                        (long long)nc_numel(loss));
    if (!nc_needs_grad(loss))
        return nc_error(NC_ERR_INVALID_ARG,
                        "backward: the loss does not depend on anything that needs a gradient");
    float *g = nc_grad_buf(ctx, loss);
    if (!g) return ctx->status;
    g[0] += 1.0f;
    return run_backward(ctx);
}

nc_status nc_backward_with(nc_ctx *ctx, nc_tensor *out, const nc_tensor *grad_out) {
    if (ctx->status) return ctx->status;
    if (!out || !grad_out) return nc_error(NC_ERR_INVALID_ARG, "backward: NULL tensor");
    if (nc_numel(out) != nc_numel(grad_out) || grad_out->dtype != NC_F32)
        return nc_error(NC_ERR_SHAPE, "backward: gradient does not match the output");
    if (!nc_needs_grad(out))
        return nc_error(NC_ERR_INVALID_ARG, "backward: output does not need a gradient");
    float *g = nc_grad_buf(ctx, out);
    if (!g) return ctx->status;
    const float *go = grad_out->data;
    int64_t n = nc_numel(out);
    for (int64_t i = 0; i < n; i++) g[i] += go[i];
    return run_backward(ctx);
}

int64_t nc_tape_size(const nc_ctx *ctx) { return ctx->n_nodes; }

void nc_ctx_set_sync(nc_ctx *ctx, nc_sync_sum_fn fn, void *user_data) {
    ctx->sync = fn;
    ctx->sync_ud = user_data;
}
