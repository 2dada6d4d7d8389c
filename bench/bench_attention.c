/* Causal self-attention forward + backward (nc_attention, GPT shapes: 12
 * heads of 64) with the materialised kernel (keeps the (B, H, T, T)
 * probabilities) and the tiled, flash-style one (keeps lse (B, H, T)),
 * forced by nc_ctx_set_attn_tiled. Per point: the median wall and CPU time
 * of --repeats steps (after one warm-up), the bytes the forward keeps for
 * backward (arena growth over the forward minus the output) and the arena
 * peak of the whole step (saved state + backward scratch), inputs and
 * gradients of q, k, v not counted (one ctx per kernel, T ascending). The two kernels alternate step by step,
 * so a load from other processes hits both alike.
 *
 *   bench_attention [--batch 4] [--heads 12] [--dk 64] [--repeats 5]
 *                   [--T 256,512,1024,2048] [--forward-only 1]
 * (--forward-only: no gradients, nothing saved: prompt processing)
 * Prints one table row per (T, kernel); NC_PROFILE=1 adds the forward and
 * backward totals of each kernel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "nemoc/arena.h"
#include "nemoc/ctx.h"
#include "nemoc/ops.h"
#include "nemoc/rng.h"

typedef struct point {
    double wall[64], cpu[64];
    size_t saved, peak;
} point;

/* One forward + backward; returns false on a failure (printed). */
static bool g_forward_only;

static bool step(nc_ctx *ctx, int64_t B, int64_t T, int64_t H, int64_t dk, const float *data,
                 int tiled, point *pt, int rep) {
    nc_ctx_reset(ctx);
    nc_ctx_set_attn_tiled(ctx, tiled);
    nc_set_grad_enabled(ctx, !g_forward_only);
    const int64_t D = H * dk, n = B * T * D;
    nc_tensor *x[4];
    for (int i = 0; i < 4; i++) {
        x[i] = nc_from_data(ctx, NC_F32, NC_DIMS(B, T, D), data + (i % 4) * n);
        if (!x[i]) break;
        if (i < 3) nc_requires_grad(x[i], true);
    }
    nc_arena *a = nc_ctx_arena(ctx);
    /* the gradients of q, k, v are allocated by backward: count them as input */
    const size_t base = nc_arena_used(a) + (g_forward_only ? 0 : 3 * (size_t)n * sizeof(float));
    nc_attention_params p = {.n_heads = H, .causal = true};
    const double t0 = bench_now(), c0 = bench_cpu_s();
    const size_t u0 = nc_arena_used(a);
    nc_tensor *out = nc_attention(ctx, x[0], x[1], x[2], NULL, NULL, NULL, &p);
    const size_t u1 = nc_arena_used(a);
    nc_status s = !out ? nc_ctx_status(ctx) : g_forward_only ? NC_OK
                                                              : nc_backward_with(ctx, out, x[3]);
    pt->wall[rep] = bench_now() - t0;
    pt->cpu[rep] = bench_cpu_s() - c0;
    if (s) {
        fprintf(stderr, "bench_attention: %s\n", nc_last_error());
        return false;
    }
    pt->saved = u1 - u0 - (size_t)n * sizeof(float);
    const size_t hw = nc_arena_high_water(a);
    pt->peak = hw > base ? hw - base : 0;
    return true;
}

static int64_t arg_i(const char *v, int64_t def) { return v ? strtoll(v, NULL, 10) : def; }

int main(int argc, char **argv) {
    int64_t B = 4, H = 12, dk = 64, reps = 5;
    const char *Ts = "256,512,1024,2048";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--batch")) B = arg_i(v, B);
        else if (!strcmp(k, "--heads")) H = arg_i(v, H);
        else if (!strcmp(k, "--dk")) dk = arg_i(v, dk);
        else if (!strcmp(k, "--repeats")) reps = arg_i(v, reps);
        else if (!strcmp(k, "--T")) Ts = v;
        else if (!strcmp(k, "--forward-only")) g_forward_only = strcmp(v, "0") != 0;
        else {
            fprintf(stderr, "bench_attention: unknown option %s\n", k);
            return 2;
        }
    }
    if (reps < 1 || reps > 64 || B < 1 || H < 1 || dk < 1) {
        fprintf(stderr, "bench_attention: --repeats 1..64, positive sizes\n");
        return 2;
    }
    /* one ctx per kernel: the arena's high water is per ctx and lifelong
     * (T ascending, so the last T's step sets it) */
    nc_ctx_params cp = nc_ctx_default_params();
    nc_ctx *ctx[2] = {NULL, NULL};
    if (nc_ctx_create(&cp, &ctx[0]) || nc_ctx_create(&cp, &ctx[1])) {
        fprintf(stderr, "bench_attention: %s\n", nc_last_error());
        nc_ctx_free(ctx[0]);
        return 1;
    }
    printf("causal attention %s, B=%lld H=%lld d_k=%lld, median of %lld\n",
           g_forward_only ? "forward (no grad)" : "fwd+bwd", (long long)B,
           (long long)H, (long long)dk, (long long)reps);
    printf("%6s %-12s %10s %10s %12s %12s\n", "T", "kernel", "wall ms", "cpu ms", "saved MiB",
           "peak MiB");
    int rc = 0;
    for (const char *t = Ts; *t && !rc;) {
        const int64_t T = strtoll(t, NULL, 10);
        const int64_t n = B * T * H * dk;
        float *data = malloc((size_t)(4 * n) * sizeof(float));
        if (!data || T < 1) {
            free(data);
            rc = 1;
            break;
        }
        nc_rng r;
        nc_rng_seed(&r, 3);
        nc_rng_normal(&r, data, 4 * n, 0.0f, 1.0f);
        point pts[2];
        memset(pts, 0, sizeof pts);
        for (int64_t rep = -1; rep < reps && !rc; rep++) /* rep -1: warm-up */
            for (int k = 0; k < 2 && !rc; k++)
                if (!step(ctx[k], B, T, H, dk, data, k, &pts[k], rep < 0 ? 0 : (int)rep)) rc = 1;
        for (int k = 0; k < 2 && !rc; k++)
            printf("%6lld %-12s %10.1f %10.1f %12.2f %12.2f\n", (long long)T,
                   k ? "tiled" : "materialised", 1e3 * bench_median(pts[k].wall, (int)reps),
                   1e3 * bench_median(pts[k].cpu, (int)reps), pts[k].saved / 1048576.0,
                   pts[k].peak / 1048576.0);
        fflush(stdout);
        free(data);
        const char *c = strchr(t, ',');
        t = c ? c + 1 : t + strlen(t);
    }
    for (int k = 0; k < 2 && getenv("NC_PROFILE"); k++) { /* forward / backward split */
        printf("%s, all T and repeats:\n", k ? "tiled" : "materialised");
        bench_print_profile(ctx[k], 1);
    }
    nc_ctx_free(ctx[0]);
    nc_ctx_free(ctx[1]);
    return rc;
}
