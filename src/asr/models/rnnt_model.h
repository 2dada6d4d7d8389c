/* The state of EncDecRNNTModel(BPE) behind nc_model.impl: internal to the
 * ASR collection (and its tests). */
#ifndef NC_ASR_RNNT_MODEL_H
#define NC_ASR_RNNT_MODEL_H

#include "asr/models/ctc_model.h"
#include "nemoc/asr_rnnt.h"
#include "nemoc/rnnt.h"
#include "nemoc/rnnt_modules.h"

struct nc_rnnt_model {
    nc_ctc_model base;        /* preprocessor, SpecAugment, tokenizer, encoder, vocabulary */
    nc_rnnt_decoder decoder;  /* model.decoder: decoder.prediction.* */
    nc_rnnt_joint joint;      /* model.joint: joint.* */
    bool tdt;                 /* model.loss.loss_name == tdt */
    nc_rnnt_params loss;      /* model.loss, model.rnnt_reduction */
    int64_t *durations;       /* tdt_kwargs.durations (owned) */
    nc_rnnt_greedy_params greedy; /* model.decoding.greedy */
    bool beam;                    /* model.decoding.strategy: beam */
    nc_rnnt_beam_params beam_params; /* model.decoding.beam */
    bool compute_timestamps;      /* decoding.compute_timestamps (transcribe's timestamps=true) */
};

#endif
