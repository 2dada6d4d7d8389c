/* Pre-LN Transformer encoder stack (the core engine's reference model and
 * the building block of the demo). */
#include <stdio.h>

#include "nemoc/alloc.h"
#include "nemoc/nn.h"
#include "nemoc/ops.h"

nc_status nc_tfm_encoder_init(nc_tfm_encoder_m *m, nc_params *p, const char *prefix, int n_layers,
                              int64_t d_model, int64_t n_head, int64_t d_ff, float dropout) {
    m->layers = nc_calloc((size_t)(n_layers > 0 ? n_layers : 1), sizeof(nc_tfm_layer_m));
    if (!m->layers) return nc_error(NC_ERR_OOM, "%s: layers", prefix);
    m->n_layers = n_layers;
    char base[512], name[512];
    nc_status s;
    for (int i = 0; i < n_layers; i++) {
        nc_tfm_layer_m *l = &m->layers[i];
        snprintf(name, sizeof name, "layers.%d", i);
        nc_nn_name(base, sizeof base, prefix, name);
        if ((s = nc_layer_norm_init(&l->norm1, p, nc_nn_name(name, sizeof name, base, "norm1"),
                                    d_model, 1e-5f)) ||
            (s = nc_mha_init(&l->self_attn, p, nc_nn_name(name, sizeof name, base, "self_attn"),
                             d_model, n_head, dropout, true)) ||
            (s = nc_layer_norm_init(&l->norm2, p, nc_nn_name(name, sizeof name, base, "norm2"),
                                    d_model, 1e-5f)) ||
            (s = nc_linear_init(&l->linear1, p, nc_nn_name(name, sizeof name, base, "linear1"),
                                d_model, d_ff, true)) ||
            (s = nc_linear_init(&l->linear2, p, nc_nn_name(name, sizeof name, base, "linear2"),
                                d_ff, d_model, true)))
            return s;
        l->dropout = dropout;
    }
    return nc_layer_norm_init(&m->norm_out, p, nc_nn_name(name, sizeof name, prefix, "norm_out"),
                              d_model, 1e-5f);
}

void nc_tfm_encoder_free(nc_tfm_encoder_m *m) {
    nc_free(m->layers);
    m->layers = NULL;
}

void nc_tfm_encoder_set_attention(nc_tfm_encoder_m *m, bool causal, float dropout_att) {
    for (int i = 0; i < m->n_layers; i++) {
        m->layers[i].self_attn.causal = causal;
        m->layers[i].self_attn.dropout_att = dropout_att;
    }
}

nc_tensor *nc_tfm_encoder_fwd(nc_ctx *ctx, const nc_tfm_encoder_m *m, nc_tensor *x,
                              nc_tensor *pad_mask) {
    for (int i = 0; i < m->n_layers; i++) {
        const nc_tfm_layer_m *l = &m->layers[i];
        nc_tensor *a = nc_mha_fwd(ctx, &l->self_attn, nc_layer_norm_fwd(ctx, &l->norm1, x), pad_mask);
        x = nc_add_dropout(ctx, x, a, l->dropout, 1.0f); /* x + dropout(a) */
        nc_tensor *h = nc_gelu(ctx, nc_linear_fwd(ctx, &l->linear1, nc_layer_norm_fwd(ctx, &l->norm2, x)), false);
        x = nc_add_dropout(ctx, x, nc_linear_fwd(ctx, &l->linear2, h), l->dropout, 1.0f);
    }
    return nc_layer_norm_fwd(ctx, &m->norm_out, x);
}
