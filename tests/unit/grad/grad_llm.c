/* Gradient cases: the language-model ops (rms_norm, rope, swiglu). */
#include "gradcheck.h"

static nc_tensor *f_rms(nc_ctx *c, nc_tensor **x) { return nc_rms_norm(c, x[0], x[1], 1e-5f); }
static nc_tensor *f_rms_plain(nc_ctx *c, nc_tensor **x) { return nc_rms_norm(c, x[0], NULL, 1e-3f); }
static nc_tensor *f_rope(nc_ctx *c, nc_tensor **x) {
    nc_rope_params p = {.n_heads = 2, .rot_dim = 4, .base = 10000.0, .pos0 = 3};
    return nc_rope(c, x[0], &p);
}
/* rotary_percentage 0.5 with a small base (large angles) */
static nc_tensor *f_rope_partial(nc_ctx *c, nc_tensor **x) {
    nc_rope_params p = {.n_heads = 3, .rot_dim = 2, .base = 7.0};
    return nc_rope(c, x[0], &p);
}
static nc_tensor *f_rope_pos(nc_ctx *c, nc_tensor **x) {
    static const int64_t pos[6] = {5, 0, 2, 9, 1, 1};
    nc_rope_params p = {.n_heads = 1, .rot_dim = 6, .base = 100.0, .positions = pos};
    return nc_rope(c, x[0], &p);
}
static nc_tensor *f_swiglu(nc_ctx *c, nc_tensor **x) { return nc_swiglu(c, x[0]); }

static const gc_case cases[] = {
    GC_CASE("rms_norm", "3d with weight", f_rms, 2, IN(GC_GRAD, 2, 3, 8), IN(GC_GRAD, 8)),
    GC_CASE("rms_norm", "no weight, wide rows, 40 rows", f_rms_plain, 1, IN(GC_GRAD, 40, 70)),
    GC_CASE("rope", "2 heads, full rotation, offset 3", f_rope, 1, IN(GC_GRAD, 2, 5, 8)),
    GC_CASE("rope", "3 heads, half rotation", f_rope_partial, 1, IN(GC_GRAD, 1, 4, 12)),
    GC_CASE("rope", "explicit positions", f_rope_pos, 1, IN(GC_GRAD, 2, 3, 6)),
    GC_CASE("swiglu", "(B, T, 2F)", f_swiglu, 1, IN(GC_GRAD, 2, 3, 10)),
};

__attribute__((constructor)) static void reg(void) {
    gc_register(cases, (int)(sizeof cases / sizeof cases[0]));
}

/* checkpointed segments: a two-input segment with a parameter-like input
 * and dropout (train mode: the recomputation must draw the same mask) */
static nc_tensor *seg(nc_ctx *c, void *user, nc_tensor *const *in) {
    (void)user;
    nc_tensor *h = nc_gelu(c, nc_rms_norm(c, in[0], in[1], 1e-5f), true);
    return nc_dropout(c, nc_add_scaled(c, in[0], h, 0.5f), 0.3f);
}
static nc_tensor *f_ckpt(nc_ctx *c, nc_tensor **x) {
    nc_tensor *in[2] = {x[0], x[1]};
    nc_tensor *y = nc_checkpoint(c, seg, NULL, 2, in);
    return nc_add(c, nc_checkpoint(c, seg, NULL, 2, (nc_tensor *[]){y, x[1]}), x[0]); /* nested use of the output */
}

static const gc_case ckpt_cases[] = {
    {.op = "checkpoint", .label = "two segments, dropout (train)", .fn = f_ckpt, .n_in = 2,
     .in = {IN(GC_GRAD, 2, 3, 6), IN(GC_GRAD, 6)}, .train = true},
    GC_CASE("checkpoint", "two segments (eval)", f_ckpt, 2, IN(GC_GRAD, 3, 5), IN(GC_GRAD, 5)),
};

__attribute__((constructor)) static void reg_ckpt(void) {
    gc_register(ckpt_cases, (int)(sizeof ckpt_cases / sizeof ckpt_cases[0]));
}
