/* ConformerEncoder: ConvSubsampling -> RelPositionalEncoding -> N x ConformerLayer.
 * Mirrors nemo/collections/asr/modules/conformer_encoder.py,
 * parts/submodules/subsampling.py, conformer_modules.py and
 * multi_head_attention.py (RelPositionMultiHeadAttention). */
#include "nemoc/conformer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nemoc/alloc.h"

nc_conformer_cfg nc_conformer_default_cfg(void) {
    return (nc_conformer_cfg){
        .feat_in = 80,
        .n_layers = 16,
        .d_model = 176,
        .feat_out = -1,
        .subsampling = NC_SUBSAMPLING_STRIDING,
        .subsampling_factor = 4,
        .subsampling_conv_channels = -1,
        .causal_downsampling = false,
        .ff_expansion_factor = 4,
        .n_heads = 4,
        .xscaling = true,
        .untie_biases = true,
        .pos_emb_max_len = 5000,
        .conv_kernel_size = 31,
        .conv_norm_type = NC_CONV_NORM_BATCH,
        .conv_causal = false,
        .use_bias = true,
        .dropout = 0.1f,
        .dropout_pre_encoder = 0.1f,
        .dropout_emb = 0.1f,
        .dropout_att = 0.0f,
    };
}

static int log2i(int64_t v) {
    int r = 0;
    while ((INT64_C(1) << r) < v) r++;
    return r;
}

/* calc_length in subsampling.py: L = floor((L + pads - k) / s + 1), repeated. */
static int64_t calc_length(int64_t len, int64_t all_paddings, int64_t kernel, int64_t stride,
                           int repeat) {
    for (int i = 0; i < repeat; i++) {
        double l = ((double)len + (double)(all_paddings - kernel)) / (double)stride + 1.0;
        len = (int64_t)floor(l);
    }
    return len;
}

static int64_t sub_pads(const nc_conformer_cfg *c) { return c->causal_downsampling ? 3 : 2; }

int64_t nc_conformer_out_length(const nc_conformer_cfg *cfg, int64_t in_len) {
    return calc_length(in_len, sub_pads(cfg), 3, 2, log2i(cfg->subsampling_factor));
}

static nc_status layer_init(nc_conformer_layer *l, nc_params *p, const char *base,
                            const nc_conformer_cfg *c, nc_tensor *shared_u, nc_tensor *shared_v) {
    char n[512];
    int64_t d = c->d_model, dff = d * c->ff_expansion_factor, dk = d / c->n_heads;
    bool b = c->use_bias;
    nc_status s;
#define NAME(suffix) nc_nn_name(n, sizeof n, base, suffix)
    if ((s = nc_layer_norm_init(&l->norm_feed_forward1, p, NAME("norm_feed_forward1"), d, 1e-5f)) ||
        (s = nc_linear_init(&l->ff1_linear1, p, NAME("feed_forward1.linear1"), d, dff, b)) ||
        (s = nc_linear_init(&l->ff1_linear2, p, NAME("feed_forward1.linear2"), dff, d, b)) ||
        (s = nc_layer_norm_init(&l->norm_conv, p, NAME("norm_conv"), d, 1e-5f)))
        return s;
    /* Conv module: pointwise_conv1 (2d, d, 1) is applied as a linear on (B, T, d). */
    nc_conv_m pw1, pw2;
    if ((s = nc_conv1d_init(&pw1, p, NAME("conv.pointwise_conv1"), d, 2 * d, 1, NULL, b)))
        return s;
    l->pw1_weight = pw1.weight;
    l->pw1_bias = pw1.bias;
    nc_conv_params dw = nc_conv_default_params();
    dw.groups = d;
    dw.pad_left[0] = c->conv_causal ? c->conv_kernel_size - 1 : (c->conv_kernel_size - 1) / 2;
    dw.pad_right[0] = c->conv_causal ? 0 : (c->conv_kernel_size - 1) / 2;
    if ((s = nc_conv1d_init(&l->depthwise_conv, p, NAME("conv.depthwise_conv"), d, d,
                            c->conv_kernel_size, &dw, b)))
        return s;
    if (c->conv_norm_type == NC_CONV_NORM_BATCH)
        s = nc_batch_norm_init(&l->batch_norm, p, NAME("conv.batch_norm"), d, 0.1f, 1e-5f);
    else
        s = nc_layer_norm_init(&l->conv_layer_norm, p, NAME("conv.batch_norm"), d, 1e-5f);
    if (s) return s;
    if ((s = nc_conv1d_init(&pw2, p, NAME("conv.pointwise_conv2"), d, d, 1, NULL, b))) return s;
    l->pw2_weight = pw2.weight;
    l->pw2_bias = pw2.bias;
    if ((s = nc_layer_norm_init(&l->norm_self_att, p, NAME("norm_self_att"), d, 1e-5f))) return s;
    /* A module's own parameters precede its children's in a torch state_dict:
     * pos_bias_u/v come before linear_q. NeMo initialises them with zeros_. */
    if (c->untie_biases) {
        l->pos_bias_u = nc_nn_param(p, base, "self_attn.pos_bias_u", NC_DIMS(c->n_heads, dk),
                                    (nc_init){.kind = NC_INIT_ZEROS});
        l->pos_bias_v = nc_nn_param(p, base, "self_attn.pos_bias_v", NC_DIMS(c->n_heads, dk),
                                    (nc_init){.kind = NC_INIT_ZEROS});
        if (!l->pos_bias_u || !l->pos_bias_v) return NC_ERR_INVALID_ARG;
    } else {
        l->pos_bias_u = shared_u;
        l->pos_bias_v = shared_v;
    }
    if ((s = nc_linear_init(&l->linear_q, p, NAME("self_attn.linear_q"), d, d, b)) ||
        (s = nc_linear_init(&l->linear_k, p, NAME("self_attn.linear_k"), d, d, b)) ||
        (s = nc_linear_init(&l->linear_v, p, NAME("self_attn.linear_v"), d, d, b)) ||
        (s = nc_linear_init(&l->linear_out, p, NAME("self_attn.linear_out"), d, d, b)) ||
        (s = nc_linear_init(&l->linear_pos, p, NAME("self_attn.linear_pos"), d, d, false)))
        return s;
    if ((s = nc_layer_norm_init(&l->norm_feed_forward2, p, NAME("norm_feed_forward2"), d, 1e-5f)) ||
        (s = nc_linear_init(&l->ff2_linear1, p, NAME("feed_forward2.linear1"), d, dff, b)) ||
        (s = nc_linear_init(&l->ff2_linear2, p, NAME("feed_forward2.linear2"), dff, d, b)) ||
        (s = nc_layer_norm_init(&l->norm_out, p, NAME("norm_out"), d, 1e-5f)))
        return s;
#undef NAME
    return NC_OK;
}

nc_status nc_conformer_init(nc_conformer *enc, nc_params *p, const char *prefix,
                            const nc_conformer_cfg *cfg) {
    memset(enc, 0, sizeof *enc);
    enc->cfg = *cfg;
    nc_conformer_cfg *c = &enc->cfg;
    const int64_t W = NC_CONFORMER_MAX_WIDTH;
    if (c->d_model > W || c->feat_in < 1 || c->feat_in > W || c->feat_out > W || c->subsampling_conv_channels > W ||
        c->n_layers < 0 || c->n_layers > NC_CONFORMER_MAX_LAYERS || c->ff_expansion_factor < 1 ||
        c->ff_expansion_factor > 64 || c->conv_kernel_size < 1 || c->conv_kernel_size > 1023 ||
        c->subsampling_factor > 1024)
        return nc_error(NC_ERR_CONFIG,
                        "%s: sizes out of range (d_model %lld, feat_in %lld, feat_out %lld, "
                        "subsampling_conv_channels %lld: at most %lld; n_layers %lld: [0, %d]; "
                        "ff_expansion_factor %lld: [1, 64]; conv_kernel_size %lld: [1, 1023]; "
                        "subsampling_factor %lld: at most 1024)",
                        prefix, (long long)c->d_model, (long long)c->feat_in, (long long)c->feat_out,
                        (long long)c->subsampling_conv_channels, (long long)W, (long long)c->n_layers,
                        NC_CONFORMER_MAX_LAYERS, (long long)c->ff_expansion_factor,
                        (long long)c->conv_kernel_size, (long long)c->subsampling_factor);
    if (c->d_model <= 0 || c->n_heads <= 0 || c->d_model % c->n_heads)
        return nc_error(NC_ERR_CONFIG, "%s: d_model (%lld) must be a positive multiple of n_heads (%lld)",
                        prefix, (long long)c->d_model, (long long)c->n_heads);
    if (c->subsampling_factor < 2 || (c->subsampling_factor & (c->subsampling_factor - 1)))
        return nc_error(NC_ERR_CONFIG, "%s.subsampling_factor: must be a power of 2, got %lld",
                        prefix, (long long)c->subsampling_factor);
    if (c->conv_kernel_size % 2 == 0 && !c->conv_causal)
        return nc_error(NC_ERR_CONFIG, "%s.conv_kernel_size: must be odd, got %lld", prefix,
                        (long long)c->conv_kernel_size);
    if (c->subsampling_conv_channels <= 0) c->subsampling_conv_channels = c->d_model;
    int64_t C = c->subsampling_conv_channels;
    /* A lower bound of the parameter count (feed-forwards 4 ff d^2, attention
     * 5 d^2, pointwise convs 3 d^2 per layer; the pre-encode projection), so
     * that an absurd model is refused before a table of its tensors is built.
     * The sizes are range-checked above: this fits an int64. */
    const int64_t d = c->d_model;
    nc_status fit = nc_params_check_fits(c->n_layers * (4 * c->ff_expansion_factor + 8) * d * d +
                                         C * (c->feat_in / 2) * d);
    if (fit) return fit;
    int n_sub = log2i(c->subsampling_factor);
    char base[512], n[640];
    nc_status s;
    /* Shared biases are the encoder's own parameters: first in its state_dict. */
    nc_tensor *shared_u = NULL, *shared_v = NULL;
    int64_t dk = c->d_model / c->n_heads;
    if (!c->untie_biases) {
        shared_u = nc_nn_param(p, prefix, "pos_bias_u", NC_DIMS(c->n_heads, dk),
                               (nc_init){.kind = NC_INIT_ZEROS});
        shared_v = nc_nn_param(p, prefix, "pos_bias_v", NC_DIMS(c->n_heads, dk),
                               (nc_init){.kind = NC_INIT_ZEROS});
        if (!shared_u || !shared_v) return NC_ERR_INVALID_ARG;
    }
    nc_nn_name(base, sizeof base, prefix, "pre_encode");
    nc_conv_params cp = nc_conv_default_params();
    cp.stride[0] = cp.stride[1] = 2;
    /* CausalConv2D pads (k-1, s-1) on both spatial dims; the default pads 1. */
    cp.pad_left[0] = cp.pad_left[1] = c->causal_downsampling ? 2 : 1;
    cp.pad_right[0] = cp.pad_right[1] = 1;
    /* Sized by the factor: dw_striding with subsampling_factor 32 has 9 convs. */
    const int n_conv = c->subsampling == NC_SUBSAMPLING_STRIDING ? n_sub : 2 * n_sub - 1;
    enc->pre_conv = nc_calloc((size_t)n_conv, sizeof *enc->pre_conv);
    enc->pre_conv_relu_after = nc_calloc((size_t)n_conv, sizeof *enc->pre_conv_relu_after);
    if (!enc->pre_conv || !enc->pre_conv_relu_after) return nc_error(NC_ERR_OOM, "%s: pre_encode", prefix);
    int idx = 0, k = 0;
    if (c->subsampling == NC_SUBSAMPLING_STRIDING) {
        int64_t cin = 1;
        for (int i = 0; i < n_sub; i++) {
            snprintf(n, sizeof n, "%s.conv.%d", base, idx);
            if ((s = nc_conv2d_init(&enc->pre_conv[k], p, n, cin, C, 3, &cp, true))) return s;
            enc->pre_conv_relu_after[k++] = true;
            idx += 2; /* conv, ReLU */
            cin = C;
        }
    } else {
        snprintf(n, sizeof n, "%s.conv.%d", base, idx);
        if ((s = nc_conv2d_init(&enc->pre_conv[k], p, n, 1, C, 3, &cp, true))) return s;
        enc->pre_conv_relu_after[k++] = true;
        idx += 2;
        for (int i = 1; i < n_sub; i++) {
            nc_conv_params dw = cp;
            dw.groups = C;
            snprintf(n, sizeof n, "%s.conv.%d", base, idx++);
            if ((s = nc_conv2d_init(&enc->pre_conv[k], p, n, C, C, 3, &dw, true))) return s;
            enc->pre_conv_relu_after[k++] = false;
            snprintf(n, sizeof n, "%s.conv.%d", base, idx);
            if ((s = nc_conv2d_init(&enc->pre_conv[k], p, n, C, C, 1, NULL, true))) return s;
            enc->pre_conv_relu_after[k++] = true;
            idx += 2;
        }
    }
    enc->n_pre_conv = k;
    int64_t fout = calc_length(c->feat_in, sub_pads(c), 3, 2, n_sub);
    if ((s = nc_linear_init(&enc->pre_out, p, nc_nn_name(n, sizeof n, base, "out"), C * fout,
                            c->d_model, true)))
        return s;
    enc->layers = nc_calloc((size_t)(c->n_layers > 0 ? c->n_layers : 1), sizeof(nc_conformer_layer));
    if (!enc->layers) return nc_error(NC_ERR_OOM, "%s: layers", prefix);
    for (int64_t i = 0; i < c->n_layers; i++) {
        snprintf(n, sizeof n, "layers.%lld", (long long)i);
        nc_nn_name(base, sizeof base, prefix, n);
        if ((s = layer_init(&enc->layers[i], p, base, c, shared_u, shared_v))) return s;
    }
    if (c->feat_out > 0 &&
        (s = nc_linear_init(&enc->out_proj, p, nc_nn_name(n, sizeof n, prefix, "out_proj"),
                            c->d_model, c->feat_out, true)))
        return s;
    return NC_OK;
}

void nc_conformer_free(nc_conformer *enc) {
    nc_free(enc->layers);
    nc_free(enc->pre_conv);
    nc_free(enc->pre_conv_relu_after);
    enc->layers = NULL;
    enc->pre_conv = NULL;
    enc->pre_conv_relu_after = NULL;
    enc->n_pre_conv = 0;
}
