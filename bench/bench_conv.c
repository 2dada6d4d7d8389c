/* Convolution timings on Conformer-sized shapes.
 *
 *   depthwise conv1d: x (8, 176, 400), w (176, 1, 31), 'same' padding 15/15
 *     (ConformerConvolution.depthwise_conv of a Conformer-S layer, 4 s of audio
 *     after 4x subsampling);
 *   pointwise conv1d: x (8, 176, 400), w (352, 176, 1) (pointwise_conv1, which
 *     doubles the channels for the GLU);
 *   conv2d 3x3 stride 2 pad 1: x (8, 176, 200, 40) -> (8, 176, 100, 20) (the
 *     second ConvSubsampling layer).
 * Prints the median (and minimum) milliseconds per call for forward and
 * forward+backward, with the fast kernels, bf16 gemms for the pointwise conv,
 * and the reference loops for the depthwise conv.
 * Usage: bench_conv [iterations]  (OMP_NUM_THREADS sets the threads). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nemoc/ctx.h"
#include "nemoc/ops.h"
#include "nemoc/rng.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static nc_tensor *heap(int ndim, const int64_t *shape, nc_rng *r, bool grad) {
    nc_tensor *t;
    if (nc_tensor_new(NC_F32, ndim, shape, &t)) {
        fprintf(stderr, "bench_conv: %s\n", nc_last_error());
        exit(1);
    }
    nc_rng_normal(r, t->data, nc_numel(t), 0.0f, 0.1f);
    nc_requires_grad(t, grad);
    return t;
}

typedef struct bench {
    const char *name;
    nc_tensor *x, *w, *b, *g;
    nc_conv_params p;
    bool conv2d;
} bench;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct timing {
    double median, min;
} timing;

/* Per-call times of forward (backward = false) or forward + backward; the
 * median and the minimum resist a busy machine better than the mean. */
static timing run(nc_ctx *ctx, bench *bm, bool backward, int iters) {
    double *t = malloc((size_t)iters * sizeof(double));
    for (int i = -2; i < iters; i++) { /* two warm-up calls size the arena */
        double t0 = now_ms();
        nc_set_grad_enabled(ctx, backward);
        nc_tensor *y = bm->conv2d ? nc_conv2d(ctx, bm->x, bm->w, bm->b, &bm->p)
                                  : nc_conv1d(ctx, bm->x, bm->w, bm->b, &bm->p);
        if (!y || (backward && nc_backward_with(ctx, y, bm->g))) {
            fprintf(stderr, "bench_conv: %s: %s\n", bm->name, nc_last_error());
            exit(1);
        }
        nc_ctx_reset(ctx);
        /* the gradients lived in the arena that the reset just dropped */
        bm->x->grad = bm->w->grad = bm->b->grad = NULL;
        if (i >= 0) t[i] = now_ms() - t0;
    }
    qsort(t, (size_t)iters, sizeof(double), cmp_double);
    timing r = {.median = t[iters / 2], .min = t[0]};
    free(t);
    return r;
}

static void report(const char *name, const char *what, timing t) {
    printf("%-40s %-17s %9.3f ms/call (min %.3f)\n", name, what, t.median, t.min);
}

int main(int argc, char **argv) {
    int iters = argc > 1 ? atoi(argv[1]) : 20;
    if (iters < 1) iters = 1;
    nc_rng r;
    nc_rng_seed(&r, 1);
    nc_ctx *ctx;
    if (nc_ctx_create(NULL, &ctx)) {
        fprintf(stderr, "bench_conv: %s\n", nc_last_error());
        return 1;
    }
    nc_ctx_set_reference(ctx, false);

    bench dw = {.name = "depthwise conv1d B=8 C=176 T=400 k=31",
                .x = heap(NC_DIMS(8, 176, 400), &r, true), .w = heap(NC_DIMS(176, 1, 31), &r, true),
                .b = heap(NC_DIMS(176), &r, true), .g = heap(NC_DIMS(8, 176, 400), &r, false),
                .p = nc_conv_default_params()};
    dw.p.pad_left[0] = dw.p.pad_right[0] = 15;
    dw.p.groups = 176;
    bench pw = {.name = "pointwise conv1d B=8 176->352 T=400",
                .x = heap(NC_DIMS(8, 176, 400), &r, true), .w = heap(NC_DIMS(352, 176, 1), &r, true),
                .b = heap(NC_DIMS(352), &r, true), .g = heap(NC_DIMS(8, 352, 400), &r, false),
                .p = nc_conv_default_params()};
    bench c2 = {.name = "conv2d 3x3 s2 B=8 176->176 200x40",
                .x = heap(NC_DIMS(8, 176, 200, 40), &r, true),
                .w = heap(NC_DIMS(176, 176, 3, 3), &r, true), .b = heap(NC_DIMS(176), &r, true),
                .g = heap(NC_DIMS(8, 176, 100, 20), &r, false), .p = nc_conv_default_params(),
                .conv2d = true};
    c2.p.stride[0] = c2.p.stride[1] = 2;
    c2.p.pad_left[0] = c2.p.pad_left[1] = c2.p.pad_right[0] = c2.p.pad_right[1] = 1;

    const char *threads = getenv("OMP_NUM_THREADS");
    printf("bench_conv: %d iterations, OMP_NUM_THREADS=%s\n", iters, threads ? threads : "(unset)");
    bench *all[] = {&dw, &pw, &c2};
    for (int i = 0; i < 3; i++) {
        int it = all[i] == &c2 ? (iters + 3) / 4 : iters; /* the big conv2d: fewer calls */
        report(all[i]->name, "forward", run(ctx, all[i], false, it));
        report(all[i]->name, "forward+backward", run(ctx, all[i], true, it));
    }
    nc_ctx_set_precision(ctx, NC_PREC_BF16);
    report(pw.name, "forward bf16", run(ctx, &pw, false, iters));
    report(pw.name, "fwd+bwd bf16", run(ctx, &pw, true, iters));
    nc_ctx_set_precision(ctx, NC_PREC_F32);
    nc_ctx_set_reference(ctx, true);
    int ref_iters = iters < 3 ? iters : 3;
    report(dw.name, "forward reference", run(ctx, &dw, false, ref_iters));
    report(dw.name, "fwd+bwd reference", run(ctx, &dw, true, ref_iters));

    nc_ctx_free(ctx);
    for (int i = 0; i < 3; i++) {
        nc_tensor_free(all[i]->x), nc_tensor_free(all[i]->w);
        nc_tensor_free(all[i]->b), nc_tensor_free(all[i]->g);
    }
    return 0;
}
