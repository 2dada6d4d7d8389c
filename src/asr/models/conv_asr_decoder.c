/* ConvASRDecoder: Conv1d(k=1) + log_softmax. On (B, T, C) activations the
 * kernel-1 conv is a linear layer with the weight viewed as (V+1, C). */
#include "nemoc/conv_asr_decoder.h"

#include <math.h>

nc_status nc_conv_asr_decoder_init(nc_conv_asr_decoder *d, nc_params *p, const char *prefix, int64_t feat_in,
                              int64_t num_classes) {
    char name[512];
    nc_nn_name(name, sizeof name, prefix, "decoder_layers.0");
    /* xavier_uniform_: bound = sqrt(6 / (fan_in + fan_out)), fan = channels * kernel */
    float bound = sqrtf(6.0f / (float)(feat_in + num_classes + 1));
    d->weight = nc_nn_param(p, name, "weight", NC_DIMS(num_classes + 1, feat_in, 1),
                            (nc_init){.kind = NC_INIT_UNIFORM, .a = -bound, .b = bound});
    d->bias = nc_nn_param(p, name, "bias", NC_DIMS(num_classes + 1), (nc_init){.kind = NC_INIT_ZEROS});
    d->feat_in = feat_in;
    d->num_classes = num_classes;
    return d->weight && d->bias ? NC_OK : NC_ERR_INVALID_ARG;
}

nc_tensor *nc_conv_asr_decoder_fwd(nc_ctx *ctx, const nc_conv_asr_decoder *d, nc_tensor *enc) {
    nc_tensor *w = nc_reshape(ctx, d->weight, NC_DIMS(d->num_classes + 1, d->feat_in));
    return nc_log_softmax(ctx, nc_linear(ctx, enc, w, d->bias), -1);
}
