/* Attention helpers: the relative-position shift of Transformer-XL
 * (Dai et al. 2019, appendix B) used by NeMo's RelPositionMultiHeadAttention
 * (nemo/collections/asr/parts/submodules/multi_head_attention.py, rel_shift). */
#include <string.h>

#include "ops/ops_internal.h"

typedef struct rs_saved {
    int64_t rows, T, P;
} rs_saved;

/* NeMo pads one zero column on the left, views (2T, T), drops the first row and
 * views back; for the kept columns j < T that is y[i][j] = x[i][j + T-1-i]. */
static void rs_backward(nc_ctx *ctx, nc_node *n) {
    const rs_saved *s = n->saved;
    float *dx = nc_grad_buf(ctx, n->in[0]);
    if (!dx) return;
    const float *g = nc_out_grad(n);
    int64_t T = s->T, P = s->P;
#pragma omp parallel for if (nc_par(ctx, s->rows * T * T)) schedule(static)
    for (int64_t r = 0; r < s->rows; r++)
        for (int64_t i = 0; i < T; i++) {
            float *d = dx + (r * T + i) * P + (T - 1 - i);
            const float *gi = g + (r * T + i) * T;
            for (int64_t j = 0; j < T; j++) d[j] += gi[j];
        }
}

nc_tensor *nc_rel_shift(nc_ctx *ctx, nc_tensor *x) {
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, "rel_shift", x, NC_F32)) return NULL;
    if (x->ndim < 2) return nc_shape_fail(ctx, "rel_shift", "need (..., T, 2T-1)", x, NULL);
    int64_t T = nc_dim(x, -2), P = nc_dim(x, -1);
    if (P != 2 * T - 1) return nc_shape_fail(ctx, "rel_shift", "last dim must be 2T-1", x, NULL);
    int64_t shape[NC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = T;
    nc_tensor *y = nc_empty(ctx, NC_F32, x->ndim, shape);
    if (!y) return NULL;
    int64_t tp = T * P;
    int64_t rows = tp ? nc_numel(x) / tp : 0;
    const float *X = x->data;
    float *Y = y->data;
#pragma omp parallel for if (nc_par(ctx, rows * T * T)) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < T; i++)
            memcpy(Y + (r * T + i) * T, X + (r * T + i) * P + (T - 1 - i), (size_t)T * sizeof(float));
    nc_node *n = nc_record(ctx, "rel_shift", rs_backward, y, 1, &x, sizeof(rs_saved));
    if (n) *(rs_saved *)n->saved = (rs_saved){rows, T, P};
    return ctx->status ? NULL : y;
}
