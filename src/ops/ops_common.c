/* Shared helpers for op front ends: dims, broadcasting, accumulation. */
#include <stdio.h>
#include <string.h>

#include "ops/ops_internal.h"

bool nc_resolve_dim(nc_ctx *ctx, const char *op, int *dim, int ndim) {
    int d = *dim < 0 ? *dim + ndim : *dim;
    if (d < 0 || d >= ndim) {
        nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "%s: dim %d out of range for %d dims", op, *dim, ndim);
        return false;
    }
    *dim = d;
    return true;
}

void nc_split_dim(const nc_tensor *t, int dim, int64_t *outer, int64_t *n, int64_t *inner) {
    int64_t o = 1, in = 1;
    for (int i = 0; i < dim; i++) o *= t->shape[i];
    for (int i = dim + 1; i < t->ndim; i++) in *= t->shape[i];
    *outer = o;
    *n = t->shape[dim];
    *inner = in;
}

void *nc_shape_fail(nc_ctx *ctx, const char *op, const char *what, const nc_tensor *a,
                    const nc_tensor *b) {
    char sa[128], sb[128];
    nc_shape_str(a, sa, sizeof sa);
    if (b) nc_shape_str(b, sb, sizeof sb);
    return nc_ctx_fail(ctx, NC_ERR_SHAPE, "%s: %s: %s%s%s", op, what, sa, b ? " vs " : "",
                       b ? sb : "");
}

void nc_acc(nc_ctx *ctx, float *dst, const float *src, int64_t n) {
    nc_ctx_backend(ctx)->acc(nc_par(ctx, n), dst, src, n);
}

bool nc_broadcast_shape(nc_ctx *ctx, const char *op, const nc_tensor *a, const nc_tensor *b,
                        int *ndim, int64_t *shape) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; i++) {
        int ia = a->ndim - nd + i, ib = b->ndim - nd + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1;
        int64_t db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            nc_shape_fail(ctx, op, "shapes do not broadcast", a, b);
            return false;
        }
        shape[i] = da == 1 ? db : da;
    }
    *ndim = nd;
    return true;
}

void nc_broadcast_strides(const nc_tensor *t, int ndim, const int64_t *shape, int64_t *strides) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        int it = t->ndim - ndim + i;
        int64_t d = it >= 0 ? t->shape[it] : 1;
        strides[i] = (d == 1 && shape[i] != 1) ? 0 : s;
        s *= d;
    }
}

void nc_acc_unbroadcast(nc_ctx *ctx, nc_tensor *in, const nc_tensor *out, const float *g) {
    float *gi = nc_grad_buf(ctx, in);
    if (!gi) return;
    int64_t n_out = nc_numel(out);
    if (nc_numel(in) == n_out) {
        nc_acc(ctx, gi, g, n_out);
        return;
    }
    int64_t n_in = nc_numel(in);
    if (n_in == 1) {
        double s = 0;
        for (int64_t i = 0; i < n_out; i++) s += g[i];
        gi[0] += (float)s;
        return;
    }
    /* Trailing-suffix broadcast (bias over (..., C)): column sums. */
    bool suffix = in->ndim <= out->ndim;
    for (int i = 0; suffix && i < in->ndim; i++)
        suffix = in->shape[i] == out->shape[out->ndim - in->ndim + i];
    if (suffix) {
        nc_ctx_backend(ctx)->acc_col_sums(nc_par(ctx, n_out), gi, g, n_out / n_in, n_in);
        return;
    }
    /* General case: walk the output index space. */
    int64_t st[NC_MAX_DIMS], idx[NC_MAX_DIMS] = {0};
    nc_broadcast_strides(in, out->ndim, out->shape, st);
    int64_t off = 0;
    for (int64_t i = 0; i < n_out; i++) {
        gi[off] += g[i];
        for (int d = out->ndim - 1; d >= 0; d--) {
            idx[d]++;
            off += st[d];
            if (idx[d] < out->shape[d]) break;
            off -= st[d] * idx[d];
            idx[d] = 0;
        }
    }
}

bool nc_ctx_gemm_run(nc_ctx *ctx, const nc_gemm_args *g) {
    nc_status s = nc_ctx_backend(ctx)->gemm(ctx->gemm, ctx->precision, ctx->reference, g);
    if (s) {
        nc_ctx_fail(ctx, s, "%s", nc_last_error());
        return false;
    }
    return true;
}

static const char *const loss_red_names[] = {
    [NC_LOSS_MEAN_BATCH] = "mean_batch", [NC_LOSS_MEAN_VOLUME] = "mean_volume",
    [NC_LOSS_MEAN] = "mean",             [NC_LOSS_SUM] = "sum",
    [NC_LOSS_NONE] = "none",
};

nc_status nc_loss_reduction_parse(const char *name, nc_loss_reduction *out) {
    for (int i = 0; i < (int)(sizeof loss_red_names / sizeof loss_red_names[0]); i++) {
        if (name && strcmp(name, loss_red_names[i]) == 0) {
            *out = (nc_loss_reduction)i;
            return NC_OK;
        }
    }
    return nc_error(NC_ERR_CONFIG, "reduction '%s': expected one of mean_batch, mean_volume, mean, sum, none",
                    name ? name : "(null)");
}

const char *nc_loss_reduction_name(nc_loss_reduction r) {
    return (unsigned)r < sizeof loss_red_names / sizeof loss_red_names[0] ? loss_red_names[r] : "?";
}
