/* Standard multi-head self-attention (NeMo's MultiHeadAttention,
 * nemo/collections/asr/parts/submodules/multi_head_attention.py): scores are
 * q k^T / sqrt(d_k), padded keys masked with -10000 before softmax and the
 * probabilities of padded positions zeroed after it, as NeMo does. */
#include <math.h>
#include <string.h>

#include "nemoc/nn.h"

nc_status nc_mha_init(nc_mha_m *m, nc_params *p, const char *prefix, int64_t d_model,
                      int64_t n_head, float dropout_att, bool bias) {
    if (n_head <= 0 || d_model % n_head)
        return nc_error(NC_ERR_CONFIG, "%s: d_model %lld is not divisible by n_heads %lld", prefix,
                        (long long)d_model, (long long)n_head);
    char name[512];
    nc_status s;
    if ((s = nc_linear_init(&m->linear_q, p, nc_nn_name(name, sizeof name, prefix, "linear_q"),
                            d_model, d_model, bias)) ||
        (s = nc_linear_init(&m->linear_k, p, nc_nn_name(name, sizeof name, prefix, "linear_k"),
                            d_model, d_model, bias)) ||
        (s = nc_linear_init(&m->linear_v, p, nc_nn_name(name, sizeof name, prefix, "linear_v"),
                            d_model, d_model, bias)) ||
        (s = nc_linear_init(&m->linear_out, p, nc_nn_name(name, sizeof name, prefix, "linear_out"),
                            d_model, d_model, bias)))
        return s;
    m->n_head = n_head;
    m->d_model = d_model;
    m->dropout_att = dropout_att;
    return NC_OK;
}

nc_tensor *nc_split_heads(nc_ctx *ctx, nc_tensor *x, int64_t n_head) {
    if (!x) return NULL;
    int64_t B = x->shape[0], T = x->shape[1], D = x->shape[2];
    nc_tensor *r = nc_reshape(ctx, x, NC_DIMS(B, T, n_head, D / n_head));
    return nc_permute(ctx, r, (int[]){0, 2, 1, 3});
}

nc_tensor *nc_merge_heads(nc_ctx *ctx, nc_tensor *x) {
    if (!x) return NULL;
    int64_t B = x->shape[0], H = x->shape[1], T = x->shape[2], dk = x->shape[3];
    nc_tensor *p = nc_permute(ctx, x, (int[]){0, 2, 1, 3});
    return nc_reshape(ctx, p, NC_DIMS(B, T, H * dk));
}

nc_tensor *nc_mha_fwd(nc_ctx *ctx, const nc_mha_m *m, nc_tensor *x, nc_tensor *pad_mask) {
    if (!x) return NULL;
    int64_t B = x->shape[0], T = x->shape[1];
    int64_t dk = m->d_model / m->n_head;
    nc_tensor *q = nc_split_heads(ctx, nc_linear_fwd(ctx, &m->linear_q, x), m->n_head);
    nc_tensor *k = nc_split_heads(ctx, nc_linear_fwd(ctx, &m->linear_k, x), m->n_head);
    nc_tensor *v = nc_split_heads(ctx, nc_linear_fwd(ctx, &m->linear_v, x), m->n_head);
    nc_tensor *scores = nc_scale(ctx, nc_matmul(ctx, q, k, false, true), 1.0f / sqrtf((float)dk));
    nc_tensor *mask = NULL;
    if (pad_mask) {
        /* (B, T) key padding -> (B, 1, 1, T), broadcast over heads and queries */
        mask = nc_reshape(ctx, pad_mask, NC_DIMS(B, 1, 1, T));
        scores = nc_masked_fill(ctx, scores, mask, -10000.0f);
    }
    nc_tensor *attn = nc_softmax(ctx, scores, -1);
    if (mask) attn = nc_masked_fill(ctx, attn, mask, 0.0f);
    attn = nc_dropout(ctx, attn, m->dropout_att);
    nc_tensor *ctxv = nc_merge_heads(ctx, nc_matmul(ctx, attn, v, false, false));
    return nc_linear_fwd(ctx, &m->linear_out, ctxv);
}
