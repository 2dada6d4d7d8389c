/* ConvASRDecoder (nemo/collections/asr/modules/conv_asr.py): a kernel-1 Conv1d
 * from the encoder features to num_classes + 1 outputs (blank = last index),
 * followed by log_softmax. State dict: decoder.decoder_layers.0.{weight,bias}. */
#ifndef NEMOC_CONV_ASR_DECODER_H
#define NEMOC_CONV_ASR_DECODER_H

#include "nemoc/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_conv_asr_decoder {
    nc_tensor *weight; /* (V+1, feat_in, 1) */
    nc_tensor *bias;   /* (V+1) */
    int64_t feat_in, num_classes; /* num_classes excludes the blank */
} nc_conv_asr_decoder;

/* Xavier-uniform weight and zero bias, as init_weights(mode='xavier_uniform'). */
nc_status nc_conv_asr_decoder_init(nc_conv_asr_decoder *d, nc_params *p, const char *prefix, int64_t feat_in,
                              int64_t num_classes);
/* enc (B, T, feat_in) -> log-probs (B, T, V+1). */
nc_tensor *nc_conv_asr_decoder_fwd(nc_ctx *ctx, const nc_conv_asr_decoder *d, nc_tensor *enc);
static inline int64_t nc_conv_asr_decoder_blank(const nc_conv_asr_decoder *d) { return d->num_classes; }

#ifdef __cplusplus
}
#endif
#endif
