/* ConformerEncoder forward pass (see conformer.c for the structure). */
#include <math.h>
#include <string.h>

#include "nemoc/arena.h"
#include "nemoc/conformer.h"
#include "nemoc/ops.h"

/* Weight (out, in, 1) of a kernel-1 Conv1d viewed as a linear (out, in):
 * on (B, T, C) activations the pointwise conv is exactly a linear layer. */
static nc_tensor *pointwise(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *b) {
    nc_tensor *w2 = nc_reshape(ctx, w, NC_DIMS(w->shape[0], w->shape[1]));
    return nc_linear(ctx, x, w2, b);
}

/* RelPositionalEncoding.create_pe for positions T-1 ... -(T-1): (1, 2T-1, d),
 * pe[:, 0::2] = sin(pos * div), pe[:, 1::2] = cos(pos * div),
 * div = exp(arange(0, d, 2) * -(ln(10000) / d)), in float32 as NeMo computes it. */
static nc_tensor *rel_pos_emb(nc_ctx *ctx, int64_t T, int64_t d) {
    nc_tensor *pe = nc_empty(ctx, NC_F32, NC_DIMS(1, 2 * T - 1, d));
    if (!pe) return NULL;
    float *P = pe->data;
    const float scale = (float)(-(log(10000.0) / (double)d));
    for (int64_t r = 0; r < 2 * T - 1; r++) {
        float pos = (float)(T - 1 - r);
        for (int64_t i = 0; i < d; i += 2) {
            float div = expf((float)i * scale);
            P[r * d + i] = sinf(pos * div);
            if (i + 1 < d) P[r * d + i + 1] = cosf(pos * div);
        }
    }
    return pe;
}

/* Zeroes frames t >= len[b] of channels-last x (B, T, ...) in place: one
 * memset per utterance, as the frames past a length are contiguous. */
static void zero_time_tail(nc_tensor *x, const int64_t *len) {
    const int64_t B = x->shape[0], T = x->shape[1];
    const size_t frame = (size_t)(nc_numel(x) / (B * T)) * nc_dtype_size(x->dtype);
    for (int64_t b = 0; b < B; b++)
        if (len[b] < T) memset((char *)x->data + ((size_t)(b * T + len[b])) * frame, 0, (size_t)(T - len[b]) * frame);
}

/* ConvSubsampling's time masks (MaskedConvSequential in NeMo's
 * parts/submodules/subsampling.py, since NeMo 2.4 / PR #13827): the input is
 * multiplied by its time mask, and after every conv whose stride is not 1 the
 * lengths advance by calc_conv_output_size and the activations are masked
 * again before the next layer, and at the end. Without this the frames past
 * a length after one conv (ReLU(bias), not 0) leak into the last valid frames
 * of the next conv, so the last encoder frame(s) of every utterance differ
 * from NeMo's and depend on the padding. lens (B) is advanced in place. */
static void sub_lengths_step(const nc_conv_m *cv, int64_t B, int64_t *lens) {
    /* (len + pad_top + pad_bottom - k) // s + 1, floored as torch does on floats */
    const int64_t pads = cv->cp.pad_left[0] + cv->cp.pad_right[0], k = cv->weight->shape[2], s = cv->cp.stride[0];
    for (int64_t b = 0; b < B; b++) {
        int64_t l = (int64_t)floor((double)(lens[b] + pads - k) / (double)s) + 1;
        lens[b] = l < 0 ? 0 : l;
    }
}

/* (B, 1, T, T) attention mask (1 where the query or the key is padded), as
 * ConformerEncoder._create_masks; only the composed attention uses it. */
static nc_tensor *make_att_mask(nc_ctx *ctx, int64_t B, int64_t T, const int64_t *len) {
    nc_tensor *att = nc_empty(ctx, NC_U8, NC_DIMS(B, 1, T, T));
    if (!att) return NULL;
    uint8_t *am = att->data;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < T; i++)
            for (int64_t j = 0; j < T; j++) am[(b * T + i) * T + j] = i >= len[b] || j >= len[b];
    return att;
}

static nc_tensor *feed_forward(nc_ctx *ctx, const nc_linear_m *l1, const nc_linear_m *l2,
                               nc_tensor *x, float dropout) {
    nc_tensor *h = nc_silu_dropout(ctx, nc_linear_fwd(ctx, l1, x), dropout);
    return nc_linear_fwd(ctx, l2, h);
}

/* RelPositionMultiHeadAttention.forward with the attention-probability
 * dropout, composed of ops (q, k, v: (B, T, d); p: (1, 2T-1, d)). The fused
 * op below computes the same without dropout. */
static nc_tensor *rel_attention_composed(nc_ctx *ctx, const nc_conformer_layer *l,
                                         const nc_conformer_cfg *c, nc_tensor *x,
                                         nc_tensor *pos_emb, nc_tensor *att_mask) {
    int64_t B = x->shape[0], T = x->shape[1], H = c->n_heads, dk = c->d_model / c->n_heads;
    nc_tensor *q = nc_reshape(ctx, nc_linear_fwd(ctx, &l->linear_q, x), NC_DIMS(B, T, H, dk));
    nc_tensor *k = nc_split_heads(ctx, nc_linear_fwd(ctx, &l->linear_k, x), H);
    nc_tensor *v = nc_split_heads(ctx, nc_linear_fwd(ctx, &l->linear_v, x), H);
    /* (B, T, H, dk) + (H, dk) broadcasts over batch and time */
    nc_tensor *q_u = nc_permute(ctx, nc_add(ctx, q, l->pos_bias_u), (int[]){0, 2, 1, 3});
    nc_tensor *q_v = nc_add(ctx, q, l->pos_bias_v);
    /* matrix_bd: per head, (B*T, dk) @ (2T-1, dk)^T. Heads lead so the shared
     * positional projection is a plain batched matmul over H. */
    nc_tensor *p = nc_reshape(ctx, nc_linear_fwd(ctx, &l->linear_pos, pos_emb),
                              NC_DIMS(2 * T - 1, H, dk));
    p = nc_permute(ctx, p, (int[]){1, 0, 2});                           /* (H, 2T-1, dk) */
    nc_tensor *qh = nc_permute(ctx, q_v, (int[]){2, 0, 1, 3});          /* (H, B, T, dk) */
    qh = nc_reshape(ctx, qh, NC_DIMS(H, B * T, dk));
    nc_tensor *bd = nc_matmul(ctx, qh, p, false, true);                 /* (H, B*T, 2T-1) */
    bd = nc_reshape(ctx, bd, NC_DIMS(H, B, T, 2 * T - 1));
    bd = nc_permute(ctx, bd, (int[]){1, 0, 2, 3});                      /* (B, H, T, 2T-1) */
    bd = nc_rel_shift(ctx, bd);                                         /* (B, H, T, T) */
    nc_tensor *ac = nc_matmul(ctx, q_u, k, false, true);                /* (B, H, T, T) */
    nc_tensor *scores = nc_scale(ctx, nc_add(ctx, ac, bd), 1.0f / sqrtf((float)dk));
    scores = nc_masked_fill(ctx, scores, att_mask, -10000.0f);
    nc_tensor *attn = nc_masked_fill(ctx, nc_softmax(ctx, scores, -1), att_mask, 0.0f);
    attn = nc_dropout(ctx, attn, c->dropout_att);
    nc_tensor *o = nc_merge_heads(ctx, nc_matmul(ctx, attn, v, false, false));
    return nc_linear_fwd(ctx, &l->linear_out, o);
}

/* RelPositionMultiHeadAttention.forward on x (B, T, d) with the fused
 * attention op: projections, then one op for scores, relative shift, masks,
 * softmax and the weighted sum. */
static nc_tensor *rel_attention(nc_ctx *ctx, const nc_conformer_layer *l,
                                const nc_conformer_cfg *c, nc_tensor *x, nc_tensor *pos_emb,
                                const int64_t *lengths, nc_tensor *att_mask) {
    if (!x) return NULL;
    if (c->dropout_att > 0.0f && nc_training(ctx))
        return rel_attention_composed(ctx, l, c, x, pos_emb, att_mask);
    nc_tensor *q = nc_linear_fwd(ctx, &l->linear_q, x);
    nc_tensor *k = nc_linear_fwd(ctx, &l->linear_k, x);
    nc_tensor *v = nc_linear_fwd(ctx, &l->linear_v, x);
    nc_tensor *p = nc_linear_fwd(ctx, &l->linear_pos, pos_emb);
    nc_attention_params ap = {.n_heads = c->n_heads, .lengths = lengths, .mask_queries = true};
    nc_tensor *o = nc_attention(ctx, q, k, v, p, l->pos_bias_u, l->pos_bias_v, &ap);
    return nc_linear_fwd(ctx, &l->linear_out, o);
}

/* ConformerConvolution on (B, T, d): pw1 -> GLU -> mask -> depthwise -> norm
 * -> Swish -> pw2, all in (B, T, d) (NeMo transposes to (B, d, T) around the
 * convs; the fused ops compute the same without the transposes). */
static nc_tensor *conv_module(nc_ctx *ctx, const nc_conformer_layer *l, const nc_conformer_cfg *c,
                              nc_tensor *x, const int64_t *lengths) {
    nc_tensor *h = nc_glu_mask(ctx, pointwise(ctx, x, l->pw1_weight, l->pw1_bias), lengths);
    const nc_conv_m *dw = &l->depthwise_conv;
    h = nc_dwconv1d_tc(ctx, h, dw->weight, dw->bias, dw->cp.pad_left[0], dw->cp.pad_right[0]);
    if (c->conv_norm_type == NC_CONV_NORM_BATCH) {
        const nc_batch_norm_m *bn = &l->batch_norm;
        h = nc_batch_norm_cl(ctx, h, bn->weight, bn->bias, bn->running_mean, bn->running_var,
                             bn->num_batches_tracked, bn->momentum, bn->eps, true);
    } else {
        h = nc_silu(ctx, nc_layer_norm_fwd(ctx, &l->conv_layer_norm, h));
    }
    return pointwise(ctx, h, l->pw2_weight, l->pw2_bias);
}

/* ConformerLayer.forward: the residual branches (dropout, then add with
 * fc_factor 0.5 for the feed-forwards) are fused adds. */
static nc_tensor *layer_fwd(nc_ctx *ctx, const nc_conformer_layer *l, const nc_conformer_cfg *c,
                            nc_tensor *x, nc_tensor *pos_emb, const int64_t *lengths,
                            nc_tensor *att_mask) {
    float drop = c->dropout;
    nc_tensor *r = x, *h;
    h = feed_forward(ctx, &l->ff1_linear1, &l->ff1_linear2,
                     nc_layer_norm_fwd(ctx, &l->norm_feed_forward1, r), drop);
    r = nc_add_dropout(ctx, r, h, drop, 0.5f); /* fc_factor 0.5 */
    h = rel_attention(ctx, l, c, nc_layer_norm_fwd(ctx, &l->norm_self_att, r), pos_emb, lengths,
                      att_mask);
    r = nc_add_dropout(ctx, r, h, drop, 1.0f);
    h = conv_module(ctx, l, c, nc_layer_norm_fwd(ctx, &l->norm_conv, r), lengths);
    r = nc_add_dropout(ctx, r, h, drop, 1.0f);
    h = feed_forward(ctx, &l->ff2_linear1, &l->ff2_linear2,
                     nc_layer_norm_fwd(ctx, &l->norm_feed_forward2, r), drop);
    r = nc_add_dropout(ctx, r, h, drop, 0.5f);
    return nc_layer_norm_fwd(ctx, &l->norm_out, r);
}

nc_tensor *nc_conformer_fwd(nc_ctx *ctx, const nc_conformer *enc, nc_tensor *feats,
                            const int64_t *lengths, int64_t *out_lengths) {
    if (!feats || nc_ctx_status(ctx)) return NULL;
    const nc_conformer_cfg *c = &enc->cfg;
    if (feats->ndim != 3 || feats->shape[1] != c->feat_in) {
        char s[64];
        return nc_ctx_fail(ctx, NC_ERR_SHAPE, "conformer: features %s, expected (B, %lld, T)",
                           nc_shape_str(feats, s, sizeof s), (long long)c->feat_in);
    }
    int64_t B = feats->shape[0], T = feats->shape[2], d = c->d_model;
    /* Without gradients nothing outlives the step that reads it, so (for
     * inference memory) each stage runs in arena space that is handed back
     * once its output is copied into a buffer made before it. */
    const bool frugal = !nc_grad_enabled(ctx);
    nc_arena *arena = nc_ctx_arena(ctx);
    const int64_t Tp0 = nc_conformer_out_length(c, T);
    nc_tensor *buf[2] = {NULL, NULL};
    if (frugal) {
        buf[0] = nc_empty(ctx, NC_F32, NC_DIMS(B, Tp0 > 0 ? Tp0 : 1, d));
        buf[1] = nc_empty(ctx, NC_F32, NC_DIMS(B, Tp0 > 0 ? Tp0 : 1, d));
        if (!buf[0] || !buf[1]) return NULL;
    }
    nc_arena_mark m = nc_arena_mark_get(arena);
    /* pre_encode (ConvSubsampling): NeMo runs (B, 1, T, F) -> convs ->
     * (B, C, T', F') -> (B, T', C*F') -> out. Here the convs run channels-last,
     * (B, T, F, 1) -> (B, T', F', C), which oneDNN's fastest kernels want and
     * which needs no transpose afterwards: flattening gives (B, T', F'*C), so
     * pre_encode.out's weight (d, C*F') is used with its columns permuted to
     * (d, F'*C). Same arithmetic, NeMo's parameters unchanged. */
    nc_tensor *x = nc_transpose(ctx, feats, 1, 2);
    x = nc_reshape(ctx, x, NC_DIMS(B, T, c->feat_in, 1));
    int64_t *sub_len = nc_scratch(ctx, (size_t)B * sizeof(int64_t));
    if (!x || !sub_len) return NULL;
    /* The input mask: features past a length are pad_value, which NeMo's
     * preprocessor makes 0 by default; mask with an op only when they are not. */
    bool dirty = false;
    for (int64_t b = 0; b < B; b++) {
        sub_len[b] = lengths[b] < 0 ? 0 : (lengths[b] > T ? T : lengths[b]);
        const float *row = nc_f32(x) + (b * T + sub_len[b]) * c->feat_in;
        for (int64_t i = 0; i < (T - sub_len[b]) * c->feat_in && !dirty; i++) dirty = row[i] != 0.0f;
    }
    if (dirty) {
        nc_tensor *mask = nc_empty(ctx, NC_U8, NC_DIMS(B, T, 1, 1));
        if (!mask) return NULL;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++) ((uint8_t *)mask->data)[b * T + t] = t >= sub_len[b];
        x = nc_masked_fill(ctx, x, mask, 0.0f);
    }
    for (int i = 0; i < enc->n_pre_conv && x; i++) {
        const nc_conv_m *cv = &enc->pre_conv[i];
        x = nc_conv2d_cl(ctx, x, cv->weight, cv->bias, &cv->cp, enc->pre_conv_relu_after[i]);
        if (!x) break;
        if (cv->cp.stride[0] != 1) sub_lengths_step(cv, B, sub_len);
        /* Masked in place after each conv + ReLU (and the last conv): the
         * output is this node's own fresh tensor, and the backward stays
         * exact: the ReLU's backward reads its mask from this output, so the
         * zeroed frames pass no gradient, as NeMo's multiplication by 0 does.
         * A dw conv without ReLU is followed by a 1x1 conv + ReLU, which mixes
         * no frames, so masking after that pair gives NeMo's values. */
        if (enc->pre_conv_relu_after[i] || i == enc->n_pre_conv - 1) zero_time_tail(x, sub_len);
    }
    if (!x) return NULL;
    int64_t Tp = x->shape[1], Fp = x->shape[2], Cc = x->shape[3];
    x = nc_reshape(ctx, x, NC_DIMS(B, Tp, Fp * Cc));
    nc_tensor *w_out = nc_reshape(ctx, enc->pre_out.weight, NC_DIMS(d, Cc, Fp));
    w_out = nc_reshape(ctx, nc_transpose(ctx, w_out, 1, 2), NC_DIMS(d, Fp * Cc));
    x = nc_linear(ctx, x, w_out, enc->pre_out.bias);
    if (!x) return NULL;
    if (frugal && nc_numel(x) == nc_numel(buf[0])) {
        memcpy(buf[0]->data, x->data, nc_nbytes(x));
        nc_arena_rewind(arena, m);
        x = buf[0];
    }
    for (int64_t b = 0; b < B; b++) {
        int64_t L = nc_conformer_out_length(c, lengths[b]);
        out_lengths[b] = L < 0 ? 0 : (L > Tp ? Tp : L);
    }
    /* pos_enc: xscale, dropout_pre_encoder on x, dropout_emb on the positions */
    if (c->xscaling) x = nc_scale(ctx, x, sqrtf((float)c->d_model));
    x = nc_dropout(ctx, x, c->dropout_pre_encoder);
    nc_tensor *pos_emb = nc_dropout(ctx, rel_pos_emb(ctx, Tp, c->d_model), c->dropout_emb);
    nc_tensor *att = NULL;
    if (c->dropout_att > 0.0f && nc_training(ctx) && !(att = make_att_mask(ctx, B, Tp, out_lengths)))
        return NULL;
    for (int64_t i = 0; i < c->n_layers; i++) {
        m = nc_arena_mark_get(arena);
        nc_tensor *y = layer_fwd(ctx, &enc->layers[i], c, x, pos_emb, out_lengths, att);
        if (frugal && y && nc_numel(y) == nc_numel(buf[0])) {
            nc_tensor *dst = buf[x == buf[0] ? 1 : 0];
            memcpy(dst->data, y->data, nc_nbytes(y));
            nc_arena_rewind(arena, m);
            y = dst;
        }
        x = y;
    }
    if (c->feat_out > 0) x = nc_linear_fwd(ctx, &enc->out_proj, x);
    return x;
}
