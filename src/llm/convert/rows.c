/* Row moves the HF <-> Megatron mappings are made of. They copy bytes, so a
 * bf16 or fp16 checkpoint goes through them unchanged (the round trip is
 * byte-exact); a 1-D tensor (a bias) is treated as (n, 1). */
#include <string.h>

#include "llm/convert/convert_internal.h"
#include "nemoc/alloc.h"

static int64_t rows_of(const nc_tensor *x) { return x->ndim == 0 ? 1 : x->shape[0]; }
static int64_t cols_of(const nc_tensor *x) { return x->ndim == 2 ? x->shape[1] : 1; }

static nc_status new_like(const nc_tensor *x, int64_t rows, nc_tensor **out) {
    int64_t shape[2] = {rows, cols_of(x)};
    return nc_tensor_new(x->dtype, x->ndim == 2 ? 2 : 1, shape, out);
}

static size_t row_bytes(const nc_tensor *x) { return (size_t)cols_of(x) * nc_dtype_size(x->dtype); }

nc_status nc_rows_transpose(const nc_tensor *x, nc_tensor **out) {
    if (x->ndim != 2) return nc_error(NC_ERR_SHAPE, "transpose: expected a 2-D tensor, got %d dims", x->ndim);
    int64_t r = x->shape[0], c = x->shape[1];
    int64_t shape[2] = {c, r};
    nc_status st = nc_tensor_new(x->dtype, 2, shape, out);
    if (st) return st;
    size_t es = nc_dtype_size(x->dtype);
    const char *s = x->data;
    char *d = (*out)->data;
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) memcpy(d + (size_t)(j * r + i) * es, s + (size_t)(i * c + j) * es, es);
    return NC_OK;
}

static nc_status check_qkv(const nc_tensor *q, const nc_tensor *k, const nc_tensor *v, int64_t heads, int64_t groups,
                           int64_t kv) {
    if (groups <= 0 || heads % groups)
        return nc_error(NC_ERR_SHAPE, "qkv: %lld heads do not split into %lld query groups", (long long)heads,
                        (long long)groups);
    if (rows_of(q) != heads * kv || rows_of(k) != groups * kv || rows_of(v) != groups * kv ||
        cols_of(k) != cols_of(q) || cols_of(v) != cols_of(q) || k->dtype != q->dtype || v->dtype != q->dtype)
        return nc_error(NC_ERR_SHAPE, "qkv: q/k/v rows %lld/%lld/%lld, expected %lld/%lld/%lld",
                        (long long)rows_of(q), (long long)rows_of(k), (long long)rows_of(v),
                        (long long)(heads * kv), (long long)(groups * kv), (long long)(groups * kv));
    return NC_OK;
}

/* Megatron core's fused QKV rows, per query group g: its heads/groups query
 * heads, then its key head, then its value head, kv rows each (NeMo
 * TransformFns.merge_qkv; convert_llama_hf_to_nemo.py's qkv loop). */
nc_status nc_rows_qkv_merge(const nc_tensor *q, const nc_tensor *k, const nc_tensor *v, int64_t heads,
                            int64_t groups, int64_t kv, nc_tensor **out) {
    nc_status st = check_qkv(q, k, v, heads, groups, kv);
    if (st || (st = new_like(q, (heads + 2 * groups) * kv, out))) return st;
    size_t rb = row_bytes(q), head = (size_t)kv * rb;
    int64_t per = heads / groups;
    char *d = (*out)->data;
    for (int64_t g = 0; g < groups; g++) {
        memcpy(d, (const char *)q->data + (size_t)(g * per) * head, (size_t)per * head);
        d += (size_t)per * head;
        memcpy(d, (const char *)k->data + (size_t)g * head, head);
        d += head;
        memcpy(d, (const char *)v->data + (size_t)g * head, head);
        d += head;
    }
    return NC_OK;
}

nc_status nc_rows_qkv_split(const nc_tensor *qkv, int64_t heads, int64_t groups, int64_t kv, nc_tensor *out[3]) {
    out[0] = out[1] = out[2] = NULL;
    if (groups <= 0 || heads % groups || rows_of(qkv) != (heads + 2 * groups) * kv)
        return nc_error(NC_ERR_SHAPE, "linear_qkv has %lld rows; %lld heads in %lld query groups of %lld channels need %lld",
                        (long long)rows_of(qkv), (long long)heads, (long long)groups, (long long)kv,
                        (long long)((heads + 2 * groups) * kv));
    nc_status st = NC_OK;
    if ((st = new_like(qkv, heads * kv, &out[0])) || (st = new_like(qkv, groups * kv, &out[1])) ||
        (st = new_like(qkv, groups * kv, &out[2]))) {
        for (int i = 0; i < 3; i++) nc_tensor_free(out[i]), out[i] = NULL;
        return st;
    }
    size_t head = (size_t)kv * row_bytes(qkv);
    int64_t per = heads / groups;
    const char *s = qkv->data;
    for (int64_t g = 0; g < groups; g++) {
        memcpy((char *)out[0]->data + (size_t)(g * per) * head, s, (size_t)per * head);
        s += (size_t)per * head;
        memcpy((char *)out[1]->data + (size_t)g * head, s, head);
        s += head;
        memcpy((char *)out[2]->data + (size_t)g * head, s, head);
        s += head;
    }
    return NC_OK;
}

/* permute(w, n_heads) = w.view(n_heads, kv / 2, 2, dim).transpose(1, 2):
 * row 2i + j of a head goes to row j * kv/2 + i. */
nc_status nc_rows_rope_permute(const nc_tensor *x, int64_t n_heads, int64_t kv, nc_tensor **out) {
    if (kv % 2 || rows_of(x) != n_heads * kv)
        return nc_error(NC_ERR_SHAPE, "rotary permutation: %lld rows are not %lld heads of an even %lld channels",
                        (long long)rows_of(x), (long long)n_heads, (long long)kv);
    nc_status st = new_like(x, rows_of(x), out);
    if (st) return st;
    size_t rb = row_bytes(x);
    int64_t half = kv / 2;
    for (int64_t h = 0; h < n_heads; h++)
        for (int64_t i = 0; i < half; i++)
            for (int64_t j = 0; j < 2; j++)
                memcpy((char *)(*out)->data + (size_t)(h * kv + j * half + i) * rb,
                       (const char *)x->data + (size_t)(h * kv + 2 * i + j) * rb, rb);
    return NC_OK;
}

nc_status nc_rows_slice(const nc_tensor *x, int64_t r0, int64_t r1, nc_tensor **out) {
    if (r0 < 0 || r1 < r0 || r1 > rows_of(x))
        return nc_error(NC_ERR_SHAPE, "rows [%lld, %lld) of a tensor with %lld rows", (long long)r0, (long long)r1,
                        (long long)rows_of(x));
    nc_status st = new_like(x, r1 - r0, out);
    if (st) return st;
    memcpy((*out)->data, (const char *)x->data + (size_t)r0 * row_bytes(x), (size_t)(r1 - r0) * row_bytes(x));
    return NC_OK;
}

nc_status nc_rows_cat(const nc_tensor *a, const nc_tensor *b, nc_tensor **out) {
    if (cols_of(a) != cols_of(b) || a->dtype != b->dtype)
        return nc_error(NC_ERR_SHAPE, "cat: %lld vs %lld columns", (long long)cols_of(a), (long long)cols_of(b));
    nc_status st = new_like(a, rows_of(a) + rows_of(b), out);
    if (st) return st;
    size_t na = (size_t)rows_of(a) * row_bytes(a);
    memcpy((*out)->data, a->data, na);
    memcpy((char *)(*out)->data + na, b->data, (size_t)rows_of(b) * row_bytes(b));
    return NC_OK;
}

nc_status nc_rows_pad(const nc_tensor *x, int64_t rows, nc_tensor **out) {
    if (rows < rows_of(x))
        return nc_error(NC_ERR_SHAPE, "pad: %lld rows < %lld", (long long)rows, (long long)rows_of(x));
    nc_status st = new_like(x, rows, out); /* zeroed */
    if (st) return st;
    memcpy((*out)->data, x->data, (size_t)rows_of(x) * row_bytes(x));
    return NC_OK;
}

nc_status nc_tensor_as(const nc_tensor *x, nc_dtype dt, nc_tensor **out) {
    nc_status st = nc_tensor_new(dt, x->ndim, x->shape, out);
    if (st) return st;
    if ((st = nc_tensor_convert(x, *out))) {
        nc_tensor_free(*out);
        *out = NULL;
    }
    return st;
}
