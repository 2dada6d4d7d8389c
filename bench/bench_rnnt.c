/* Transducer loss forward + backward at the logits (B, T, U + 1, V + 1):
 * median ms per step and the CPU time, for rnnt_loss (NeMo's default
 * warprnnt_numba semantics), tdt_loss (durations 0..4, sigma 0.05) and
 * multiblank_rnnt_loss (big blanks 2, 4, 8). Twin: bench/torch/rnnt.py
 * (torchaudio.functional.rnnt_loss on the same shapes and lengths).
 *     build/bench/bench_rnnt [B T U V1] [steps] */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "nemoc/ctx.h"
#include "nemoc/ops.h"
#include "nemoc/rng.h"
#include "nemoc/rnnt.h"

typedef nc_tensor *(*loss_fn)(nc_ctx *, nc_tensor *, nc_tensor *, nc_tensor *, nc_tensor *,
                              const nc_rnnt_params *);

static int bench(const char *name, loss_fn fn, const nc_rnnt_params *p, int64_t B, int64_t T,
                 int64_t U, int64_t C, int64_t vocab, int steps) {
    nc_ctx_params cp = nc_ctx_default_params();
    nc_ctx *ctx;
    if (nc_ctx_create(&cp, &ctx)) return 1;
    nc_rng r;
    nc_rng_seed(&r, 7);
    int64_t n = B * T * (U + 1) * C;
    float *x0 = malloc((size_t)n * sizeof(float));
    int64_t *tg = malloc((size_t)(B * U) * sizeof(int64_t)), il[64], tl[64];
    if (!x0 || !tg || B > 64) return 1;
    nc_rng_normal(&r, x0, n, 0, 1);
    nc_rng_randint(&r, tg, B * U, 0, vocab);
    /* uneven lengths as in a bucket: the longest fills the padded shape */
    for (int64_t b = 0; b < B; b++) il[b] = T - (T / 40) * b, tl[b] = U - (U / 20) * b;
    double ts[64], cpu0 = bench_cpu_s();
    int done = 0;
    for (int s = 0; s < steps + 2 && s < 64; s++) {
        nc_tensor *x = nc_from_data(ctx, NC_F32, NC_DIMS(B, T, U + 1, C), x0);
        nc_tensor *tgt = nc_from_data(ctx, NC_I64, NC_DIMS(B, U), tg);
        nc_tensor *ilt = nc_from_data(ctx, NC_I64, NC_DIMS(B), il);
        nc_tensor *tlt = nc_from_data(ctx, NC_I64, NC_DIMS(B), tl);
        nc_requires_grad(x, true);
        double t0 = bench_now();
        nc_tensor *loss = fn(ctx, x, tgt, ilt, tlt, p);
        if (!loss || nc_backward(ctx, loss)) {
            fprintf(stderr, "%s: %s\n", name, nc_last_error());
            return 1;
        }
        if (s >= 2) ts[done++] = bench_now() - t0; /* two warm-up steps */
        if (s == 1) cpu0 = bench_cpu_s();
        nc_ctx_reset(ctx);
    }
    double cpu = (bench_cpu_s() - cpu0) / done;
    printf("%-22s B=%lld T=%lld U=%lld C=%lld  fwd+bwd %8.2f ms (median of %d)  CPU %8.2f ms\n",
           name, (long long)B, (long long)T, (long long)U, (long long)C,
           1e3 * bench_median(ts, done), done, 1e3 * cpu);
    free(x0);
    free(tg);
    nc_ctx_free(ctx);
    return 0;
}

int main(int argc, char **argv) {
    int64_t B = 8, T = 200, U = 40, V1 = 129;
    if (argc >= 5) B = atoll(argv[1]), T = atoll(argv[2]), U = atoll(argv[3]), V1 = atoll(argv[4]);
    int steps = argc >= 6 ? atoi(argv[5]) : 10;
    nc_rnnt_params p = nc_rnnt_default_params();
    int rc = bench("rnnt_loss", nc_rnnt_loss, &p, B, T, U, V1, V1 - 1, steps);
    static const int64_t durs[] = {0, 1, 2, 3, 4}, big[] = {2, 4, 8};
    nc_rnnt_params q = p;
    q.durations = durs, q.n_durations = 5, q.sigma = 0.05;
    rc |= bench("tdt_loss (D=5)", nc_tdt_loss, &q, B, T, U, V1 + 5, V1 - 1, steps);
    q = p;
    q.big_blank_durations = big, q.n_big_blanks = 3, q.sigma = 0.05;
    rc |= bench("multiblank (2,4,8)", nc_multiblank_rnnt_loss, &q, B, T, U, V1 + 3, V1 - 1, steps);
    return rc;
}
