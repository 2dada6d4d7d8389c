/* Table-driven finite-difference gradient tests.
 *
 * A case names the op it covers, builds its inputs from specs, and runs the
 * op through a small function. The harness checks, for every float input
 * marked GC_GRAD, the analytic gradient of L = sum(w * out) (w random) against
 * central differences, and checks that the fast and reference kernels agree
 * on the forward output and on every gradient. Each family of ops keeps its
 * cases in tests/unit/grad/<family>.c and registers them from a constructor. */
#ifndef NC_GRADCHECK_H
#define NC_GRADCHECK_H

#include "nemoc/ctx.h"
#include "nemoc/ops.h"

typedef enum gc_kind {
    GC_GRAD = 0,  /* float normal(0,1), gradient checked */
    GC_CONST,     /* float normal(0,1), no gradient */
    GC_POS,       /* float in [0.5, 2], gradient checked (log, sqrt, div, pow) */
    GC_DISTINCT,  /* float, well-separated values (max, relu kinks), gradient checked */
    GC_INDEX,     /* int64 in [0, hi) */
    GC_MASK,      /* uint8 0/1 */
    GC_POS_CONST, /* float in [0.5, 2], no gradient (variances) */
} gc_kind;

typedef struct gc_input {
    gc_kind kind;
    int ndim;
    int64_t shape[NC_MAX_DIMS];
    int64_t hi; /* GC_INDEX upper bound */
} gc_input;

#define GC_MAX_IN 12

typedef nc_tensor *(*gc_fn)(nc_ctx *ctx, nc_tensor **in);

typedef struct gc_case {
    const char *op;    /* registry name this case covers */
    const char *label; /* what is special about this case */
    gc_fn fn;
    int n_in;
    gc_input in[GC_MAX_IN];
    double atol, rtol; /* gradient tolerance; 0 = defaults (2e-3, 2e-2) */
    float eps;         /* finite-difference step; 0 = 1e-2 */
    bool train;        /* run in training mode (batch_norm, dropout) */
} gc_case;

/* Input spec shorthands: IN(GC_GRAD, 2, 3) is a (2, 3) float input with a
 * checked gradient; GC_IDX(hi, 6) an int64 (6,) input in [0, hi). */
#define GC_NDIM(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define IN(kind_, ...) {.kind = kind_, .ndim = GC_NDIM(__VA_ARGS__), .shape = {__VA_ARGS__}}
#define GC_IDX(hi_, ...) \
    {.kind = GC_INDEX, .ndim = GC_NDIM(__VA_ARGS__), .shape = {__VA_ARGS__}, .hi = hi_}
#define GC_SCALAR(kind_) {.kind = kind_, .ndim = 0}
/* GC_CASE("op", "label", fn, n_inputs, inputs...) with default tolerances. */
#define GC_CASE(op_, label_, fn_, n_, ...) \
    {.op = op_, .label = label_, .fn = fn_, .n_in = n_, .in = {__VA_ARGS__}}

void gc_register(const gc_case *cases, int n);

#endif
