/* The state of EncDecCTCModel(BPE) behind nc_model.impl: internal to the
 * ASR collection (and its tests). */
#ifndef NC_ASR_CTC_MODEL_H
#define NC_ASR_CTC_MODEL_H

#include "nemoc/asr_ctc.h"

struct nc_ctc_model {
    nc_feature_config features;     /* model.preprocessor */
    nc_spec_augment_config spec_augment;
    bool has_spec_augment;
    nc_conformer encoder;
    nc_conv_asr_decoder decoder;
    nc_tokenizer *tokenizer;
    bool bpe;
    nc_loss_reduction reduction;     /* model.ctc_reduction */
    int64_t vocab_size;             /* without the blank */
    char **pieces;                  /* id -> text piece (labels or subwords) */
    uint8_t *kinds;                 /* word-boundary kind per id (timestamps) */
    double frame_seconds;           /* window_stride x subsampling_factor */
};

#endif
