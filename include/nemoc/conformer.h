/* Conformer / FastConformer encoder (NeMo's ConformerEncoder,
 * nemo/collections/asr/modules/conformer_encoder.py) with ConvSubsampling
 * (striding 4x, dw_striding 8x), RelPositionalEncoding and
 * RelPositionMultiHeadAttention. Parameter names are NeMo's state_dict keys
 * under the given prefix (normally "encoder"). */
#ifndef NEMOC_CONFORMER_H
#define NEMOC_CONFORMER_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nc_subsampling {
    NC_SUBSAMPLING_STRIDING = 0,  /* log2(f) x [Conv2d k3 s2, ReLU] */
    NC_SUBSAMPLING_DW_STRIDING,   /* Conv2d, ReLU, then [dw Conv2d, pw Conv2d, ReLU] */
} nc_subsampling;

typedef enum nc_conv_norm {
    NC_CONV_NORM_BATCH = 0,
    NC_CONV_NORM_LAYER,
} nc_conv_norm;

/* Largest widths (d_model, feat_in, feat_out, subsampling channels) and layer
 * count nemoc builds: far above any published Conformer, small enough that
 * every product of sizes fits an int64 (nc_conformer_init refuses more). */
#define NC_CONFORMER_MAX_WIDTH 65536
#define NC_CONFORMER_MAX_LAYERS 1024

/* ConformerEncoder constructor arguments (NeMo names and defaults). */
typedef struct nc_conformer_cfg {
    int64_t feat_in;
    int64_t n_layers;
    int64_t d_model;
    int64_t feat_out;                  /* -1: no out_proj */
    nc_subsampling subsampling;        /* 'striding' */
    int64_t subsampling_factor;        /* 4 */
    int64_t subsampling_conv_channels; /* -1 -> d_model */
    bool causal_downsampling;          /* false */
    int64_t ff_expansion_factor;       /* 4 */
    int64_t n_heads;                   /* 4 */
    bool xscaling;                     /* true */
    bool untie_biases;                 /* true */
    int64_t pos_emb_max_len;           /* 5000 */
    int64_t conv_kernel_size;          /* 31 */
    nc_conv_norm conv_norm_type;       /* batch_norm */
    bool conv_causal;                  /* conv_context_size: causal */
    bool use_bias;                     /* true */
    float dropout, dropout_pre_encoder, dropout_emb, dropout_att; /* 0.1 0.1 0.1 0.0 */
} nc_conformer_cfg;

nc_conformer_cfg nc_conformer_default_cfg(void);

typedef struct nc_conformer_layer {
    nc_layer_norm_m norm_feed_forward1, norm_self_att, norm_conv, norm_feed_forward2, norm_out;
    nc_linear_m ff1_linear1, ff1_linear2, ff2_linear1, ff2_linear2;
    nc_linear_m linear_q, linear_k, linear_v, linear_out, linear_pos;
    nc_tensor *pos_bias_u, *pos_bias_v; /* (H, d_k) */
    nc_tensor *pw1_weight, *pw1_bias;   /* conv.pointwise_conv1 (2d, d, 1) */
    nc_conv_m depthwise_conv;           /* (d, 1, k), groups d */
    nc_batch_norm_m batch_norm;
    nc_layer_norm_m conv_layer_norm;
    nc_tensor *pw2_weight, *pw2_bias; /* conv.pointwise_conv2 (d, d, 1) */
} nc_conformer_layer;

typedef struct nc_conformer {
    nc_conformer_cfg cfg;
    nc_conv_m *pre_conv;        /* n_pre_conv convs: pre_encode.conv.{idx} */
    bool *pre_conv_relu_after;  /* n_pre_conv: a ReLU follows conv i */
    int n_pre_conv;             /* striding: log2(f); dw_striding: 2 log2(f) - 1 */
    nc_linear_m pre_out; /* pre_encode.out */
    nc_conformer_layer *layers;
    nc_linear_m out_proj; /* when feat_out > 0 */
} nc_conformer;

nc_status nc_conformer_init(nc_conformer *enc, nc_params *p, const char *prefix,
                            const nc_conformer_cfg *cfg);
void nc_conformer_free(nc_conformer *enc);

/* Output length after subsampling (NeMo's calc_length). */
int64_t nc_conformer_out_length(const nc_conformer_cfg *cfg, int64_t in_len);

/* feats (B, feat_in, T) and lengths (B) -> (B, T', d_model); writes the
 * encoded lengths (B) into out_lengths. */
nc_tensor *nc_conformer_fwd(nc_ctx *ctx, const nc_conformer *enc, nc_tensor *feats,
                            const int64_t *lengths, int64_t *out_lengths);

#ifdef __cplusplus
}
#endif
#endif
