/* Standard multi-head self-attention (NeMo's MultiHeadAttention,
 * nemo/collections/asr/parts/submodules/multi_head_attention.py): scores are
 * q k^T / sqrt(d_k), padded keys masked with -10000 before softmax and the
 * probabilities of padded positions zeroed after it, as NeMo does. */
#include <math.h>
#include <string.h>

#include "nemoc/nn.h"
#include "nemoc/ops.h"

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
    m->causal = false;
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

/* Lengths when every row of pad_mask (B, T) is 0...0 1...1; false otherwise. */
static bool suffix_lengths(const nc_tensor *pad_mask, int64_t B, int64_t T, int64_t *len) {
    const uint8_t *m = pad_mask->data;
    for (int64_t b = 0; b < B; b++) {
        int64_t L = 0;
        while (L < T && !m[b * T + L]) L++;
        for (int64_t t = L; t < T; t++)
            if (!m[b * T + t]) return false;
        len[b] = L;
    }
    return true;
}

/* Key padding (B, 1, 1, T) or, with causal, the (B or 1, 1, T, T) union of
 * key padding and the causal mask. */
static nc_tensor *composed_mask(nc_ctx *ctx, const nc_mha_m *m, nc_tensor *pad_mask, int64_t B,
                                int64_t T) {
    if (!m->causal) return pad_mask ? nc_reshape(ctx, pad_mask, NC_DIMS(B, 1, 1, T)) : NULL;
    int64_t nb = pad_mask ? B : 1;
    nc_tensor *mask = nc_empty(ctx, NC_U8, NC_DIMS(nb, 1, T, T));
    if (!mask) return NULL;
    uint8_t *o = mask->data;
    const uint8_t *pm = pad_mask ? pad_mask->data : NULL;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = 0; i < T; i++)
            for (int64_t j = 0; j < T; j++) o[(b * T + i) * T + j] = j > i || (pm && pm[b * T + j]);
    return mask;
}

nc_tensor *nc_mha_fwd(nc_ctx *ctx, const nc_mha_m *m, nc_tensor *x, nc_tensor *pad_mask) {
    if (!x) return NULL;
    int64_t B = x->shape[0], T = x->shape[1];
    int64_t dk = m->d_model / m->n_head;
    int64_t *len = NULL;
    bool fused = !(m->dropout_att > 0.0f && nc_training(ctx));
    if (fused && pad_mask) {
        len = nc_scratch(ctx, (size_t)(B ? B : 1) * sizeof(int64_t));
        if (!len) return NULL;
        fused = pad_mask->dtype == NC_U8 && nc_numel(pad_mask) == B * T &&
                suffix_lengths(pad_mask, B, T, len);
    }
    if (fused) {
        nc_tensor *q = nc_linear_fwd(ctx, &m->linear_q, x);
        nc_tensor *k = nc_linear_fwd(ctx, &m->linear_k, x);
        nc_tensor *v = nc_linear_fwd(ctx, &m->linear_v, x);
        nc_attention_params ap = {.n_heads = m->n_head, .lengths = len, .causal = m->causal};
        return nc_linear_fwd(ctx, &m->linear_out, nc_attention(ctx, q, k, v, NULL, NULL, NULL, &ap));
    }
    nc_tensor *q = nc_split_heads(ctx, nc_linear_fwd(ctx, &m->linear_q, x), m->n_head);
    nc_tensor *k = nc_split_heads(ctx, nc_linear_fwd(ctx, &m->linear_k, x), m->n_head);
    nc_tensor *v = nc_split_heads(ctx, nc_linear_fwd(ctx, &m->linear_v, x), m->n_head);
    nc_tensor *scores = nc_scale(ctx, nc_matmul(ctx, q, k, false, true), 1.0f / sqrtf((float)dk));
    nc_tensor *mask = composed_mask(ctx, m, pad_mask, B, T);
    if (mask) scores = nc_masked_fill(ctx, scores, mask, -10000.0f);
    nc_tensor *attn = nc_softmax(ctx, scores, -1);
    if (mask) attn = nc_masked_fill(ctx, attn, mask, 0.0f);
    attn = nc_dropout(ctx, attn, m->dropout_att);
    nc_tensor *ctxv = nc_merge_heads(ctx, nc_matmul(ctx, attn, v, false, false));
    return nc_linear_fwd(ctx, &m->linear_out, ctxv);
}
