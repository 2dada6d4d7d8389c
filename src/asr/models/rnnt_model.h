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
    bool multiblank;          /* model.loss.loss_name == multiblank_rnnt */
    nc_rnnt_params loss;      /* model.loss, model.rnnt_reduction */
    int64_t *durations;       /* tdt_kwargs.durations (owned) */
    int64_t *big_blank_durations; /* multiblank_rnnt_kwargs.big_blank_durations (owned) */
    nc_rnnt_greedy_params greedy; /* model.decoding.greedy */
    int64_t fused_batch_size;  /* model.joint.fused_batch_size with fuse_loss_wer; 0: unfused */
    bool beam;                    /* model.decoding.strategy: beam */
    nc_rnnt_beam_params beam_params; /* model.decoding.beam */
    bool compute_timestamps;      /* decoding.compute_timestamps (transcribe's timestamps=true) */
};

/* The transducer head for models that share it (EncDecRNNT(BPE)Model and the
 * hybrids, hybrid_model.c): model.loss and model.decoding into rm; then,
 * from nc_asr_build_encoder's add_heads, model.decoder and model.joint as
 * decoder.* and joint.* after the encoder (call nc_rnnt_decoder_reset once
 * the parameters are initialised); clear frees what they made (not rm). */
nc_status nc_rnnt_parse_head_config(const nc_cfg *c, nc_rnnt_model *rm);
nc_status nc_rnnt_add_heads(nc_model *m, nc_rnnt_model *rm, int64_t enc_dim);
void nc_rnnt_model_clear(nc_rnnt_model *rm);

/* rnnt_model_step.c: the encoder on a loader batch, (B, T', D) with the
 * encoded lengths into enc_len[B]; the transducer loss of the head on it
 * (decoder on the targets -> joint -> RNN-T or TDT loss, model.rnnt_reduction). */
nc_tensor *nc_rnnt_encode(nc_ctx *ctx, nc_rnnt_model *rm, const nc_asr_batch *b, int64_t *enc_len);
nc_tensor *nc_rnnt_head_loss(nc_ctx *ctx, nc_rnnt_model *rm, const nc_asr_batch *b, nc_tensor *enc,
                             const int64_t *enc_len);

#endif
