/* EncDecRNNTModel / EncDecRNNTBPEModel construction from the `model:` config
 * section (nemo/collections/asr/models/rnnt_models.py, rnnt_bpe_models.py;
 * keys as examples/asr/conf/conformer/conformer_transducer_bpe.yaml). */
#include <stdio.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "asr/models/hybrid_model.h"
#include "asr/models/rnnt_model.h"
#include "nemoc/log.h"

/* model.decoder: RNNTDecoder (nemo/collections/asr/modules/rnnt.py). NeMo
 * sets decoder.vocab_size from the tokenizer (or labels) itself, so the
 * value in a config is not checked against it. */
static nc_status parse_decoder(const nc_cfg *c, int64_t vocab, nc_rnnt_decoder_params *dp) {
    nc_status s;
    *dp = nc_rnnt_decoder_default_params();
    dp->vocab_size = vocab;
    const char *norm = NULL;
    bool rss = false;
    int64_t layers = dp->pred_rnn_layers;
    double drop = 0, fgb = dp->forget_gate_bias;
    if ((s = nc_cfg_get_int_in_or(c, "decoder.prednet.pred_hidden", dp->pred_hidden, 1, INT64_C(1) << 16,
                                  &dp->pred_hidden)) ||
        (s = nc_cfg_get_int_in_or(c, "decoder.prednet.pred_rnn_layers", layers, 1, 64, &layers)) ||
        (s = nc_cfg_get_prob_or(c, "decoder.prednet.dropout", 0.0, &drop)) ||
        (s = nc_cfg_get_float_or(c, "decoder.prednet.forget_gate_bias", fgb, &fgb)) ||
        (s = nc_cfg_get_bool_or(c, "decoder.blank_as_pad", true, &dp->blank_as_pad)) ||
        (s = nc_cfg_get_str_or(c, "decoder.normalization_mode", NULL, &norm)) ||
        (s = nc_cfg_get_bool_or(c, "decoder.random_state_sampling", false, &rss)))
        return s;
    if (norm) return nc_error(NC_ERR_UNSUPPORTED, "model.decoder.normalization_mode: only null is supported");
    if (rss) return nc_error(NC_ERR_UNSUPPORTED, "model.decoder.random_state_sampling: only false is supported");
    dp->pred_rnn_layers = (int)layers;
    dp->dropout = (float)drop;
    dp->forget_gate_bias = (float)fgb;
    return NC_OK;
}

/* model.loss.multiblank_rnnt_kwargs (MultiblankRNNTLossNumba in
 * nemo/collections/asr/losses/rnnt.py, Xu et al. 2022, arXiv:2211.03541):
 * big_blank_durations and sigma. Each big blank covers >= 2 frames (a
 * duration of 1 is the standard blank) and, as in NeMo's configs and the
 * paper, they increase. */
static nc_status parse_multiblank(const nc_cfg *c, nc_rnnt_model *rm) {
    nc_status s;
    int64_t n = 0;
    if (!nc_cfg_has(c, "loss.multiblank_rnnt_kwargs.big_blank_durations"))
        return nc_error(NC_ERR_CONFIG, "model.loss.multiblank_rnnt_kwargs.big_blank_durations: required by "
                                       "loss_name multiblank_rnnt (e.g. [2, 4, 8])");
    if ((s = nc_cfg_get_float_in_or(c, "loss.multiblank_rnnt_kwargs.sigma", 0.0, 0.0, 1e6, &rm->loss.sigma)) ||
        (s = nc_cfg_get_int_list(c, "loss.multiblank_rnnt_kwargs.big_blank_durations", &rm->big_blank_durations,
                                 &n)))
        return s;
    if (n < 1)
        return nc_error(NC_ERR_CONFIG, "model.loss.multiblank_rnnt_kwargs.big_blank_durations: empty (give the "
                                       "frames each big blank covers, e.g. [2, 4, 8])");
    for (int64_t i = 0; i < n; i++) {
        const int64_t d = rm->big_blank_durations[i];
        if (d <= 1 || (i > 0 && d <= rm->big_blank_durations[i - 1]))
            return nc_error(NC_ERR_CONFIG,
                            "model.loss.multiblank_rnnt_kwargs.big_blank_durations: must be > 1 and increase "
                            "(entry %lld is %lld)",
                            (long long)i, (long long)d);
    }
    rm->loss.big_blank_durations = rm->big_blank_durations;
    rm->loss.n_big_blanks = n;
    return NC_OK;
}

/* model.loss (RNNTLoss in nemo/collections/asr/losses/rnnt.py) and
 * model.rnnt_reduction. */
static nc_status parse_loss(const nc_cfg *c, nc_rnnt_model *rm) {
    nc_status s;
    const char *name = "default", *red = "mean_batch";
    rm->loss = nc_rnnt_default_params();
    if ((s = nc_cfg_get_str_or(c, "loss.loss_name", "default", &name))) return s;
    if (!strcmp(name, "tdt"))
        rm->tdt = true;
    else if (!strcmp(name, "multiblank_rnnt"))
        rm->multiblank = true;
    else if (strcmp(name, "default") && strcmp(name, "warprnnt_numba"))
        return nc_error(NC_ERR_UNSUPPORTED,
                        "model.loss.loss_name: 'default', 'tdt' and 'multiblank_rnnt' are supported, not '%s'", name);
    if ((s = nc_cfg_get_str_or(c, "rnnt_reduction", "mean_batch", &red)) ||
        (s = nc_loss_reduction_parse(red, &rm->loss.reduction)))
        return nc_error_prefix(s, "model.rnnt_reduction");
    const char *kw = rm->tdt          ? "loss.tdt_kwargs"
                     : rm->multiblank ? "loss.multiblank_rnnt_kwargs"
                                      : "loss.warprnnt_numba_kwargs";
    char key[96];
    snprintf(key, sizeof key, "%s.fastemit_lambda", kw);
    if ((s = nc_cfg_get_float_in_or(c, key, 0.0, 0.0, 1e6, &rm->loss.fastemit_lambda))) return s;
    snprintf(key, sizeof key, "%s.clamp", kw);
    if ((s = nc_cfg_get_float_or(c, key, -1.0, &rm->loss.clamp))) return s;
    if (rm->multiblank) return parse_multiblank(c, rm);
    if (!rm->tdt) return NC_OK;
    if ((s = nc_cfg_get_float_in_or(c, "loss.tdt_kwargs.sigma", 0.0, 0.0, 1e6, &rm->loss.sigma)) ||
        (s = nc_cfg_get_prob_or(c, "loss.tdt_kwargs.omega", 0.0, &rm->loss.omega)))
        return s;
    int64_t n = 0;
    if ((s = nc_cfg_get_int_list(c, "loss.tdt_kwargs.durations", &rm->durations, &n))) return s;
    bool ok = n >= 2 && rm->durations[0] == 0 && rm->durations[1] == 1;
    for (int64_t i = 1; ok && i < n; i++) ok = rm->durations[i] > rm->durations[i - 1];
    if (!ok)
        return nc_error(NC_ERR_CONFIG, "model.loss.tdt_kwargs.durations: must start 0, 1 and increase");
    rm->loss.durations = rm->durations;
    rm->loss.n_durations = n;
    return NC_OK;
}

/* model.decoding.beam (BeamRNNTInferConfig) for strategy 'beam': NeMo's
 * RNNTDecoding builds BeamRNNTInfer / BeamTDTInfer with search_type
 * 'default' for it (rnnt_decoding.py); the other search types are refused. */
static nc_status parse_beam(const nc_cfg *c, nc_rnnt_model *rm) {
    nc_status s;
    int64_t bs = 4;
    const char *search = "default";
    rm->beam_params = nc_rnnt_beam_default_params();
    if ((s = nc_cfg_get_int_in_or(c, "decoding.beam.beam_size", 4, 1, 4096, &bs)) ||
        (s = nc_cfg_get_bool_or(c, "decoding.beam.score_norm", true, &rm->beam_params.score_norm)) ||
        (s = nc_cfg_get_bool_or(c, "decoding.beam.return_best_hypothesis", true,
                                &rm->beam_params.return_best_hypothesis)) ||
        (s = nc_cfg_get_str_or(c, "decoding.beam.search_type", "default", &search)))
        return s;
    if (strcmp(search, "default"))
        return nc_error(NC_ERR_UNSUPPORTED, "model.decoding.beam.search_type: only 'default' is supported, not '%s'",
                        search);
    rm->beam_params.beam_size = (int)bs;
    rm->beam_params.durations = rm->tdt ? rm->durations : NULL;
    rm->beam_params.n_durations = rm->tdt ? rm->loss.n_durations : 0;
    return NC_OK;
}

/* model.decoding (RNNTDecodingConfig): greedy, greedy_batch or beam. */
static nc_status parse_decoding(const nc_cfg *c, nc_rnnt_model *rm) {
    nc_status s;
    const char *strategy = "greedy_batch";
    int64_t ms = 10;
    rm->greedy = nc_rnnt_greedy_default_params();
    if ((s = nc_cfg_get_str_or(c, "decoding.strategy", "greedy_batch", &strategy)) ||
        (s = nc_cfg_get_int_in_or(c, "decoding.greedy.max_symbols", 10, -1, 1 << 20, &ms)))
        return s;
    if (strcmp(strategy, "greedy") && strcmp(strategy, "greedy_batch") && strcmp(strategy, "beam"))
        return nc_error(NC_ERR_UNSUPPORTED,
                        "model.decoding.strategy: 'greedy', 'greedy_batch' and 'beam' are supported, not '%s'",
                        strategy);
    if (rm->tdt && ms <= 0)
        return nc_error(NC_ERR_CONFIG, "model.decoding.greedy.max_symbols: TDT decoding needs a limit (> 0)");
    rm->greedy.max_symbols_per_step = (int)ms;
    rm->greedy.durations = rm->tdt ? rm->durations : NULL;
    rm->greedy.n_durations = rm->tdt ? rm->loss.n_durations : 0;
    rm->beam = !strcmp(strategy, "beam");
    return parse_beam(c, rm);
}

/* model.joint: RNNTJoint. num_classes comes from the vocabulary as NeMo sets
 * it; NeMo takes joint.num_extra_outputs from the config as written (its
 * TDT and multi-blank configs set it to the number of durations / big
 * blanks) and the loss then fails on a mismatch: here the loss's count is the
 * default and a different value is named. */
static nc_status parse_joint(const nc_cfg *c, nc_rnnt_model *rm, nc_rnnt_joint_params *jp) {
    nc_status s;
    *jp = nc_rnnt_joint_default_params();
    jp->num_classes = rm->base.vocab_size;
    const int64_t extra = rm->tdt ? rm->loss.n_durations : rm->multiblank ? rm->loss.n_big_blanks : 0;
    if ((s = nc_cfg_get_int_or(c, "joint.num_extra_outputs", extra, &jp->num_extra_outputs))) return s;
    if (jp->num_extra_outputs != extra)
        return nc_error(NC_ERR_CONFIG,
                        "model.joint.num_extra_outputs: %lld, but model.loss (%s) needs %lld extra joint outputs",
                        (long long)jp->num_extra_outputs,
                        rm->tdt ? "tdt durations" : rm->multiblank ? "multiblank big_blank_durations" : "rnnt",
                        (long long)extra);
    jp->pred_hidden = rm->decoder.hp.pred_hidden;
    const char *act = "relu";
    double drop = 0;
    bool fuse = false;
    if ((s = nc_cfg_get_int_in_or(c, "joint.jointnet.joint_hidden", jp->joint_hidden, 1, INT64_C(1) << 16,
                                  &jp->joint_hidden)) ||
        (s = nc_cfg_get_str_or(c, "joint.jointnet.activation", "relu", &act)) ||
        (s = nc_cfg_get_prob_or(c, "joint.jointnet.dropout", 0.0, &drop)) ||
        (s = nc_cfg_get_bool_or(c, "joint.fuse_loss_wer", false, &fuse)))
        return s;
    if ((s = nc_rnnt_activation_parse(act, &jp->activation))) return nc_error_prefix(s, "model.joint.jointnet");
    /* fuse_loss_wer: the joint and loss run in sub-batches (nc_rnnt_joint_loss);
     * NeMo requires fused_batch_size then. WER is computed by validation as
     * without fusing, so only the loss side of NeMo's flag applies. */
    rm->fused_batch_size = 0;
    if (fuse) {
        int64_t fbs = -1;
        if ((s = nc_cfg_get_int_in_or(c, "joint.fused_batch_size", -1, 1, 1 << 20, &fbs))) return s;
        if (fbs < 1)
            return nc_error(NC_ERR_CONFIG, "model.joint.fused_batch_size: needed when fuse_loss_wer is true");
        rm->fused_batch_size = fbs;
    }
    jp->dropout = (float)drop;
    return NC_OK;
}

nc_status nc_rnnt_parse_head_config(const nc_cfg *c, nc_rnnt_model *rm) {
    nc_status s;
    if ((s = parse_loss(c, rm)) || (s = parse_decoding(c, rm))) return s;
    if (rm->multiblank && rm->beam)
        return nc_error(NC_ERR_UNSUPPORTED, "model.decoding.strategy: beam is not available for multi-blank "
                                            "models (NeMo has no multi-blank beam search); use greedy or greedy_batch");
    /* set_decoding_type_according_to_loss: the decoding takes the loss's big
     * blanks (GreedyMultiblankRNNTInfer) */
    if (rm->multiblank) {
        rm->greedy.big_blank_durations = rm->big_blank_durations;
        rm->greedy.n_big_blanks = rm->loss.n_big_blanks;
    }
    /* greedy_batch (NeMo's default) decodes the batch together
     * (GreedyBatchedRNNTInfer / GreedyBatchedTDTInfer), greedy one utterance
     * at a time; parse_decoding has accepted only these two */
    const char *strategy = "greedy_batch";
    if ((s = nc_cfg_get_str_or(c, "decoding.strategy", "greedy_batch", &strategy))) return s;
    rm->greedy.batched = !strcmp(strategy, "greedy_batch");
    return NC_OK;
}

nc_status nc_rnnt_add_heads(nc_model *m, nc_rnnt_model *rm, int64_t enc_dim) {
    nc_rnnt_decoder_params dp;
    nc_rnnt_joint_params jp;
    nc_status s;
    if ((s = parse_decoder(m->cfg, rm->base.vocab_size, &dp)) ||
        (s = nc_rnnt_decoder_init(&rm->decoder, m->params, "decoder", &dp)) ||
        (s = parse_joint(m->cfg, rm, &jp)))
        return s;
    jp.encoder_hidden = enc_dim;
    return nc_rnnt_joint_init(&rm->joint, m->params, "joint", &jp);
}

static nc_status rnnt_heads(nc_model *m, void *self, int64_t enc_dim) { return nc_rnnt_add_heads(m, self, enc_dim); }

static nc_status rnnt_build(nc_model *m, const nc_model_build_args *a) {
    nc_rnnt_model *rm = nc_calloc(1, sizeof *rm);
    if (!rm) return nc_error(NC_ERR_OOM, "rnnt model");
    m->impl = rm;
    nc_status s;
    if ((s = nc_asr_build_front(m, &rm->base, m->cls == &nc_rnnt_bpe_model_class, a)) ||
        (s = nc_rnnt_parse_head_config(m->cfg, rm)))
        return s;
    if ((s = nc_asr_build_encoder(m, &rm->base, a, rnnt_heads, rm))) return s;
    /* After torch's initialisers, as RNNTDecoder's constructor does. */
    nc_rnnt_decoder_reset(&rm->decoder);
    return NC_OK;
}

void nc_rnnt_model_clear(nc_rnnt_model *rm) {
    nc_asr_front_clear(&rm->base);
    nc_rnnt_decoder_free(&rm->decoder);
    nc_free(rm->durations);
    nc_free(rm->big_blank_durations);
}

static void rnnt_destroy(nc_model *m) {
    nc_rnnt_model *rm = m->impl;
    if (!rm) return;
    nc_rnnt_model_clear(rm);
    nc_free(rm);
    m->impl = NULL;
}

/* m's transducer state, or NULL: a hybrid model's state starts with its
 * nc_rnnt_model (hybrid_model.h). */
static nc_rnnt_model *transducer_state(const nc_model *m) {
    if (m && (m->cls == &nc_rnnt_model_class || m->cls == &nc_rnnt_bpe_model_class || nc_hybrid_class(m->cls)))
        return m->impl;
    return NULL;
}

nc_rnnt_model *nc_rnnt_of(const nc_model *m) {
    nc_rnnt_model *rm = transducer_state(m);
    if (rm) return rm;
    if (m)
        nc_model_expect(m, "asr", false,
                        "a transducer model (EncDecRNNTModel, EncDecRNNTBPEModel, EncDecHybridRNNTCTC(BPE)Model)",
                        NULL);
    return NULL;
}

nc_status nc_rnnt_change_decoding(nc_model *m, const char *strategy, int64_t beam_size, bool timestamps) {
    nc_rnnt_model *rm = nc_rnnt_of(m);
    if (!rm) return NC_ERR_UNSUPPORTED;
    bool beam = !strcmp(strategy, "beam");
    if (!beam && strcmp(strategy, "greedy") && strcmp(strategy, "greedy_batch"))
        return nc_error(NC_ERR_UNSUPPORTED,
                        "rnnt_decoding.strategy: 'greedy', 'greedy_batch' and 'beam' are supported, not '%s'", strategy);
    if (beam && (beam_size < 1 || beam_size > 4096))
        return nc_error(NC_ERR_CONFIG, "rnnt_decoding.beam.beam_size: %lld outside [1, 4096]", (long long)beam_size);
    /* NeMo's TDT offsets are (timestamp, timestamp + token duration): the
     * greedy TDT decoders record the durations; NeMo's TDT beam search does
     * not (its timestamps are frame + duration, with no durations), and
     * nemoc's mirrors it */
    if (timestamps && rm->tdt && beam)
        return nc_error(NC_ERR_UNSUPPORTED, "timestamps=true: not with TDT beam search (NeMo's BeamTDTInfer records "
                                            "no token durations); use greedy or greedy_batch");
    if (beam && rm->multiblank)
        return nc_error(NC_ERR_UNSUPPORTED, "rnnt_decoding.strategy: beam is not available for multi-blank models "
                                            "(NeMo has no multi-blank beam search)");
    rm->beam = beam;
    if (beam) rm->beam_params.beam_size = (int)beam_size;
    else rm->greedy.batched = !strcmp(strategy, "greedy_batch");
    rm->compute_timestamps = timestamps;
    return NC_OK;
}

nc_ctc_model *nc_asr_front_of(const nc_model *m) {
    nc_rnnt_model *rm = transducer_state(m);
    return rm ? &rm->base : nc_ctc_of(m);
}


static const char *const rnnt_reinit[] = {"decoder.", "joint.", NULL};

/* predict is the CTC models' driver (ctc_predict.c), with transducer
 * decoding of each batch (nc_rnnt_transcribe_batch). */
#define RNNT_CLASS(tgt, desc)                                                                           \
    .target = tgt, .collection = "asr", .description = desc, .build = rnnt_build, .destroy = rnnt_destroy, \
    .setup_data = nc_asr_setup_data, .training_step = nc_rnnt_train_step,                                 \
    .validation_step = nc_rnnt_val_step, .metrics = nc_asr_metrics, /* as NeMo's RNNT models log them */     \
    .n_metrics = NC_ASR_N_METRICS, .n_sums = NC_CTC_N_SUMS,                                               \
    .predict = nc_ctc_predict, .predict_keys = nc_ctc_predict_keys, .finetune_reinit = rnnt_reinit,     \
    .throughput_unit = "utt"

const nc_model_class nc_rnnt_model_class = {
    RNNT_CLASS("nemo.collections.asr.models.rnnt_models.EncDecRNNTModel", "RNN-T speech recognizer, characters")};

const nc_model_class nc_rnnt_bpe_model_class = {
    RNNT_CLASS("nemo.collections.asr.models.rnnt_bpe_models.EncDecRNNTBPEModel",
               "RNN-T speech recognizer, subwords")};
