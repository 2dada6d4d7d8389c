/* Gradient cases of the fused attention op (src/ops/ops_attention.c): plain,
 * NeMo's relative-position form with pos_bias_u/v and Conformer masks, and a
 * causal decoder with key padding. (B, T, H*dk) = (2, 4, 2*3); and T = 70,
 * past the kernel's 64-row blocks (causal key ranges, positional bands).
 * The tiled (flash-style) kernel, forced by nc_ctx_set_attn_tiled: causal
 * with key padding, T = 140 past its 64-row and 128-key tiles, and masked
 * query rows without causality. */
#include "gradcheck.h"

static const int64_t lens[2] = {4, 3};

static nc_tensor *f_plain(nc_ctx *c, nc_tensor **x) {
    nc_attention_params p = {.n_heads = 2};
    return nc_attention(c, x[0], x[1], x[2], NULL, NULL, NULL, &p);
}
static nc_tensor *f_relpos(nc_ctx *c, nc_tensor **x) {
    nc_attention_params p = {.n_heads = 2, .lengths = lens, .mask_queries = true};
    return nc_attention(c, x[0], x[1], x[2], x[3], x[4], x[5], &p);
}
static nc_tensor *f_causal(nc_ctx *c, nc_tensor **x) {
    nc_attention_params p = {.n_heads = 2, .lengths = lens, .causal = true};
    return nc_attention(c, x[0], x[1], x[2], NULL, NULL, NULL, &p);
}
static const int64_t lens70[1] = {67};
static nc_tensor *f_causal70(nc_ctx *c, nc_tensor **x) {
    nc_attention_params p = {.n_heads = 1, .lengths = lens70, .causal = true};
    return nc_attention(c, x[0], x[1], x[2], NULL, NULL, NULL, &p);
}
static nc_tensor *f_relpos70(nc_ctx *c, nc_tensor **x) {
    nc_attention_params p = {.n_heads = 1, .lengths = lens70, .mask_queries = true};
    return nc_attention(c, x[0], x[1], x[2], x[3], x[4], x[5], &p);
}
static nc_tensor *f_relpos_u_only(nc_ctx *c, nc_tensor **x) {
    nc_attention_params p = {.n_heads = 2, .scale = 0.25f};
    return nc_attention(c, x[0], x[1], x[2], x[3], x[4], NULL, &p);
}

static nc_tensor *f_tiled_causal(nc_ctx *c, nc_tensor **x) {
    nc_ctx_set_attn_tiled(c, 1);
    return f_causal(c, x);
}
static const int64_t lens140[1] = {137};
static nc_tensor *f_tiled_causal140(nc_ctx *c, nc_tensor **x) {
    nc_ctx_set_attn_tiled(c, 1);
    nc_attention_params p = {.n_heads = 1, .lengths = lens140, .causal = true};
    return nc_attention(c, x[0], x[1], x[2], NULL, NULL, NULL, &p);
}
static nc_tensor *f_tiled_mask_queries(nc_ctx *c, nc_tensor **x) {
    nc_ctx_set_attn_tiled(c, 1);
    nc_attention_params p = {.n_heads = 2, .lengths = lens, .mask_queries = true};
    return nc_attention(c, x[0], x[1], x[2], NULL, NULL, NULL, &p);
}

static const gc_case cases[] = {
    GC_CASE("attention", "plain", f_plain, 3, IN(GC_GRAD, 2, 4, 6), IN(GC_GRAD, 2, 4, 6),
            IN(GC_GRAD, 2, 4, 6)),
    GC_CASE("attention", "rel pos, u/v, masks", f_relpos, 6, IN(GC_GRAD, 2, 4, 6),
            IN(GC_GRAD, 2, 4, 6), IN(GC_GRAD, 2, 4, 6), IN(GC_GRAD, 7, 6), IN(GC_GRAD, 2, 3),
            IN(GC_GRAD, 2, 3)),
    GC_CASE("attention", "causal, key padding", f_causal, 3, IN(GC_GRAD, 2, 4, 6),
            IN(GC_GRAD, 2, 4, 6), IN(GC_GRAD, 2, 4, 6)),
    GC_CASE("attention", "rel pos (1, 2T-1, D), u only, scale", f_relpos_u_only, 5,
            IN(GC_GRAD, 2, 4, 6), IN(GC_GRAD, 2, 4, 6), IN(GC_GRAD, 2, 4, 6),
            IN(GC_GRAD, 1, 7, 6), IN(GC_GRAD, 2, 3)),
    GC_CASE("attention", "causal T=70, two row blocks", f_causal70, 3, IN(GC_GRAD, 1, 70, 2),
            IN(GC_GRAD, 1, 70, 2), IN(GC_GRAD, 1, 70, 2)),
    GC_CASE("attention", "rel pos T=70, two row blocks", f_relpos70, 6, IN(GC_GRAD, 1, 70, 2),
            IN(GC_GRAD, 1, 70, 2), IN(GC_GRAD, 1, 70, 2), IN(GC_GRAD, 139, 2), IN(GC_GRAD, 1, 2),
            IN(GC_GRAD, 1, 2)),
    GC_CASE("attention", "tiled: causal, key padding", f_tiled_causal, 3, IN(GC_GRAD, 2, 4, 6),
            IN(GC_GRAD, 2, 4, 6), IN(GC_GRAD, 2, 4, 6)),
    GC_CASE("attention", "tiled: causal T=140, tiles", f_tiled_causal140, 3,
            IN(GC_GRAD, 1, 140, 2), IN(GC_GRAD, 1, 140, 2), IN(GC_GRAD, 1, 140, 2)),
    GC_CASE("attention", "tiled: masked queries", f_tiled_mask_queries, 3, IN(GC_GRAD, 2, 4, 6),
            IN(GC_GRAD, 2, 4, 6), IN(GC_GRAD, 2, 4, 6)),
};

__attribute__((constructor)) static void reg(void) {
    gc_register(cases, (int)(sizeof cases / sizeof cases[0]));
}
