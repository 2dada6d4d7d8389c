/* The tiled (flash-style) attention kernel (src/backend/cpu/attention_tiled.c)
 * against the materialised one (attention.c), both through nc_attention with
 * the kernel forced by nc_ctx_set_attn_tiled: output and the gradients of q,
 * k and v, at T = 1, T not a multiple of the 64-row / 128-key (backward)
 * tiles, long T (1024: two 512-key forward tiles, the online rescale),
 * several heads, key padding with different lengths per batch (an empty
 * one too), masked query rows, and a non-causal case. Tolerance 1e-4
 * relative to each array's scale (the online softmax sums in another order).
 * Also: the tiled forward keeps O(T) state, not the (B, H, T, T)
 * probabilities, and with positions the forced tiled mode still runs the
 * materialised kernel (bit-identical results). The finite-difference check
 * of the tiled kernel is in tests/unit/grad/grad_attention.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/arena.h"
#include "nemoc/ctx.h"
#include "nemoc/ops.h"
#include "nemoc/rng.h"

typedef struct shape {
    const char *what;
    int64_t B, T, H, dk;
    const int64_t *len;
    bool causal, mask_queries, pos;
} shape;

typedef struct result {
    float *out, *g[4];
    int64_t n[4];
    size_t fwd_bytes; /* arena bytes the forward left allocated (output + saved state) */
} result;

static void run(const shape *s, int tiled, result *r) {
    nc_ctx_params p = nc_ctx_default_params();
    nc_ctx *ctx;
    memset(r, 0, sizeof *r);
    CHECK_OK(nc_ctx_create(&p, &ctx));
    if (!ctx) return;
    nc_ctx_set_attn_tiled(ctx, tiled);
    const int64_t D = s->H * s->dk;
    nc_rng rng;
    nc_rng_seed(&rng, 11);
    nc_tensor *in[4] = {0};
    const int n_in = s->pos ? 4 : 3;
    for (int i = 0; i < n_in; i++) {
        in[i] = i < 3 ? nc_empty(ctx, NC_F32, NC_DIMS(s->B, s->T, D))
                      : nc_empty(ctx, NC_F32, NC_DIMS(2 * s->T - 1, D));
        nc_rng_normal(&rng, nc_f32(in[i]), nc_numel(in[i]), 0.0f, 1.5f);
        nc_requires_grad(in[i], true);
    }
    nc_attention_params ap = {.n_heads = s->H, .lengths = s->len, .causal = s->causal,
                              .mask_queries = s->mask_queries};
    const size_t before = nc_arena_used(nc_ctx_arena(ctx));
    nc_tensor *out = nc_attention(ctx, in[0], in[1], in[2], in[3], NULL, NULL, &ap);
    r->fwd_bytes = nc_arena_used(nc_ctx_arena(ctx)) - before;
    CHECK_OK(nc_ctx_status(ctx));
    if (!out) {
        nc_ctx_free(ctx);
        return;
    }
    const int64_t n = nc_numel(out);
    nc_tensor *w = nc_empty(ctx, NC_F32, out->ndim, out->shape);
    nc_rng_normal(&rng, nc_f32(w), n, 0.0f, 1.0f);
    r->out = malloc((size_t)n * sizeof(float));
    memcpy(r->out, out->data, (size_t)n * sizeof(float));
    r->n[0] = n;
    CHECK_OK(nc_backward_with(ctx, out, w));
    for (int i = 0; i < n_in; i++) {
        r->n[i] = nc_numel(in[i]);
        r->g[i] = calloc((size_t)r->n[i], sizeof(float));
        if (in[i]->grad) memcpy(r->g[i], in[i]->grad->data, (size_t)r->n[i] * sizeof(float));
    }
    nc_ctx_free(ctx);
}

static void check_close(const char *what, const char *part, const float *a, const float *b,
                        int64_t n) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s", what, part);
    double err = nc_test_rel_err(a, b, n);
    nc_test_checks++;
    if (!(err <= 1e-4)) nc_test_fail(__FILE__, __LINE__, "%s: rel err %.3g > 1e-4", msg, err);
}

static void free_result(result *r) {
    free(r->out);
    for (int i = 0; i < 4; i++) free(r->g[i]);
}

static void compare(const shape *s) {
    result t, m;
    run(s, 1, &t);
    run(s, 0, &m);
    if (t.out && m.out) {
        const int n_in = s->pos ? 4 : 3;
        static const char *names[4] = {"dq", "dk", "dv", "dpos"};
        if (s->pos) { /* the tiled kernel does not apply: the same kernel ran */
            nc_test_checks++;
            if (memcmp(t.out, m.out, (size_t)t.n[0] * sizeof(float)) != 0)
                nc_test_fail(__FILE__, __LINE__, "%s: forced tiled changed the rel-pos output",
                             s->what);
        }
        /* the output is (B, T, D), the size of q */
        check_close(s->what, "out", t.out, m.out, s->B * s->T * s->H * s->dk);
        for (int i = 0; i < n_in; i++) check_close(s->what, names[i], t.g[i], m.g[i], t.n[i]);
        printf("%-44s tiled keeps %8zu B, materialised %10zu B\n", s->what, t.fwd_bytes,
               m.fwd_bytes);
    }
    free_result(&t);
    free_result(&m);
}

int main(void) {
    static const int64_t len3[3] = {130, 77, 1}, len2[2] = {200, 150}, len0[2] = {100, 0};
    static const int64_t len_mid[2] = {64, 129};
    const shape cases[] = {
        {"causal T=1, 2 heads", 2, 1, 2, 4, NULL, true, false, false},
        {"causal T=130, 3 heads, lengths 130/77/1", 3, 130, 3, 16, len3, true, false, false},
        {"causal T=200, masked queries 200/150", 2, 200, 2, 8, len2, true, true, false},
        {"causal T=257, lengths 64/129 (tile edges)", 2, 257, 2, 8, len_mid, true, false, false},
        {"causal T=1024, 2 heads, d_k 32", 1, 1024, 2, 32, NULL, true, false, false},
        {"not causal T=100, lengths 100/0", 2, 100, 2, 8, len0, false, false, false},
        {"not causal T=300, masked queries 200/150", 2, 300, 2, 8, len2, false, true, false},
        {"rel pos (tiled not applicable) T=70", 1, 70, 2, 4, NULL, false, false, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) compare(&cases[i]);

    /* The saved state of the tiled forward is lse (B, H, T) beside the output
     * (B, T, H*dk): at T = 1024 the materialised kernel keeps 4 MB per head. */
    const shape big = {"state", 2, 1024, 2, 16, NULL, true, false, false};
    result t, m;
    run(&big, 1, &t);
    run(&big, 0, &m);
    const size_t outb = (size_t)(big.B * big.T * big.H * big.dk) * sizeof(float);
    const size_t lseb = (size_t)(big.B * big.H * big.T) * sizeof(float);
    const size_t probb = (size_t)(big.B * big.H * big.T * big.T) * sizeof(float);
    CHECK(t.fwd_bytes <= outb + lseb + 65536); /* + tensor headers, the tape */
    CHECK(m.fwd_bytes >= outb + probb);
    free_result(&t);
    free_result(&m);

    /* the size rule: causal T >= 1024 takes the tiled kernel by default,
     * shorter causal attention keeps the (T, T) probabilities */
    nc_ctx_params p = nc_ctx_default_params();
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(&p, &ctx));
    nc_ctx_set_attn_tiled(ctx, -1);
    for (int64_t T = 1023; ctx && T <= 1024; T++) {
        nc_tensor *q = nc_zeros(ctx, NC_F32, NC_DIMS(1, T, 4));
        nc_requires_grad(q, true);
        nc_attention_params ap = {.n_heads = 1, .causal = true};
        const size_t before = nc_arena_used(nc_ctx_arena(ctx));
        CHECK(nc_attention(ctx, q, q, q, NULL, NULL, NULL, &ap) != NULL);
        const size_t grew = nc_arena_used(nc_ctx_arena(ctx)) - before;
        const size_t probs = (size_t)(T * T) * sizeof(float);
        CHECK(T < 1024 ? grew >= probs : grew < probs / 16);
    }
    nc_ctx_free(ctx);
    return nc_test_finish("attention_tiled");
}
