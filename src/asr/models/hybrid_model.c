/* EncDecHybridRNNTCTCModel / EncDecHybridRNNTCTCBPEModel construction
 * (nemo/collections/asr/models/hybrid_rnnt_ctc_models.py,
 * hybrid_rnnt_ctc_bpe_models.py; keys as NeMo's
 * examples/asr/conf/fastconformer/hybrid_transducer_ctc/ configs): the
 * transducer model's front, encoder and head (rnnt_model.c), then the
 * auxiliary CTC head from model.aux_ctc. */
#include <stddef.h>
#include <string.h>

#include "asr/models/hybrid_model.h"
#include "nemoc/alloc.h"
#include "nemoc/log.h"

/* The layout the shared transcription paths rely on (hybrid_model.h). */
_Static_assert(offsetof(nc_hybrid_model, rnnt) == 0, "nc_hybrid_model must start with its nc_rnnt_model");
_Static_assert(offsetof(nc_rnnt_model, base) == 0, "nc_rnnt_model must start with its nc_ctc_model");

/* model.aux_ctc: the keys EncDecHybridRNNTCTCModel.__init__ reads. */
static nc_status parse_aux_ctc(const nc_cfg *c, nc_hybrid_model *hm) {
    nc_cfg *node = NULL;
    if (nc_cfg_get_node(c, "aux_ctc", &node) != NC_OK || !node || nc_cfg_kind_of(node) != NC_CFG_MAP)
        return nc_error(NC_ERR_CONFIG, "model.aux_ctc: a hybrid model needs this section (its CTC decoder), "
                                       "as NeMo's EncDecHybridRNNTCTCModel");
    nc_status s;
    const char *red = "mean_batch", *strategy = "greedy", *target = NULL;
    double w = 0.5;
    if ((s = nc_cfg_get_float_or(c, "aux_ctc.ctc_loss_weight", 0.5, &w))) return s;
    if (!(w >= 0.0 && w <= 1.0))
        return nc_error(NC_ERR_CONFIG, "model.aux_ctc.ctc_loss_weight: must be in [0, 1] (the loss is "
                                       "(1 - w) * transducer + w * CTC), got %g", w);
    hm->ctc_loss_weight = w;
    if ((s = nc_cfg_get_bool_or(c, "aux_ctc.use_cer", false, &hm->use_cer)) ||
        (s = nc_cfg_get_bool_or(c, "compute_eval_loss", true, &hm->compute_eval_loss)) ||
        (s = nc_cfg_get_str_or(c, "aux_ctc.decoder._target_", NULL, &target)) ||
        (s = nc_cfg_get_str_or(c, "aux_ctc.decoding.strategy", "greedy", &strategy)))
        return s;
    if ((s = nc_cfg_get_str_or(c, "aux_ctc.ctc_reduction", "mean_batch", &red)) ||
        (s = nc_loss_reduction_parse(red, &hm->rnnt.base.reduction)))
        return nc_error_prefix(s, "model.aux_ctc.ctc_reduction");
    if (target && !strstr(target, "ConvASRDecoder"))
        return nc_error(NC_ERR_UNSUPPORTED, "model.aux_ctc.decoder._target_: '%s' is not supported (nemoc has "
                                            "ConvASRDecoder)", target);
    /* Validation scores the CTC head greedily (NeMo's ctc_wer decodes with
     * aux_ctc.decoding); transcription takes the command's ctc_decoding.*. */
    if (strcmp(strategy, "greedy") && strcmp(strategy, "greedy_batch"))
        return nc_error(NC_ERR_UNSUPPORTED, "model.aux_ctc.decoding.strategy: 'greedy' and 'greedy_batch' are "
                                            "supported, not '%s'", strategy);
    if (nc_cfg_has(c, "interctc.loss_weights")) {
        double *iw = NULL;
        int64_t nw = 0;
        if (nc_cfg_get_float_list(c, "interctc.loss_weights", &iw, &nw) == NC_OK) nc_free(iw);
        if (nw > 0)
            return nc_error(NC_ERR_UNSUPPORTED, "model.interctc.loss_weights: InterCTC is not supported; use []");
    }
    return NC_OK;
}

/* decoder.* and joint.* (the transducer's), then ctc_decoder.*: NeMo's
 * state_dict order (the hybrid adds ctc_decoder after EncDecRNNTModel's
 * modules). NeMo sets aux_ctc.decoder.feat_in to the encoder's output width
 * and num_classes (when < 1) to the vocabulary's size; values that say
 * otherwise are refused rather than built into a model NeMo would not make. */
static nc_status hybrid_heads(nc_model *m, void *self, int64_t enc_dim) {
    nc_hybrid_model *hm = self;
    nc_ctc_model *cm = &hm->rnnt.base;
    nc_status s;
    int64_t feat_in = 0, ncls = -1;
    if ((s = nc_rnnt_add_heads(m, &hm->rnnt, enc_dim))) return s;
    nc_cfg_type t = NC_CFG_T_NULL;
    if (nc_cfg_has(m->cfg, "aux_ctc.decoder.feat_in") &&
        nc_cfg_get_type(m->cfg, "aux_ctc.decoder.feat_in", &t) == NC_OK && t != NC_CFG_T_NULL) {
        if ((s = nc_cfg_get_int(m->cfg, "aux_ctc.decoder.feat_in", &feat_in))) return s;
        if (feat_in > 0 && feat_in != enc_dim)
            return nc_error(NC_ERR_CONFIG, "model.aux_ctc.decoder.feat_in: %lld, but the encoder's output is %lld "
                                           "wide", (long long)feat_in, (long long)enc_dim);
    }
    if ((s = nc_cfg_get_int_or(m->cfg, "aux_ctc.decoder.num_classes", -1, &ncls))) return s;
    if (ncls >= 1 && ncls != cm->vocab_size)
        return nc_error(NC_ERR_CONFIG, "model.aux_ctc.decoder.num_classes: %lld, but the vocabulary has %lld "
                                       "tokens (use -1)", (long long)ncls, (long long)cm->vocab_size);
    return nc_conv_asr_decoder_init(&cm->decoder, m->params, "ctc_decoder", enc_dim, cm->vocab_size);
}

static nc_status hybrid_build(nc_model *m, const nc_model_build_args *a) {
    nc_hybrid_model *hm = nc_calloc(1, sizeof *hm);
    if (!hm) return nc_error(NC_ERR_OOM, "hybrid model");
    m->impl = hm;
    nc_status s;
    if ((s = nc_asr_build_front(m, &hm->rnnt.base, m->cls == &nc_hybrid_bpe_model_class, a)) ||
        (s = nc_rnnt_parse_head_config(m->cfg, &hm->rnnt)) || (s = parse_aux_ctc(m->cfg, hm)) ||
        (s = nc_asr_build_encoder(m, &hm->rnnt.base, a, hybrid_heads, hm)))
        return s;
    /* After torch's initialisers, as RNNTDecoder's constructor does. */
    nc_rnnt_decoder_reset(&hm->rnnt.decoder);
    return NC_OK;
}

static void hybrid_destroy(nc_model *m) {
    nc_hybrid_model *hm = m->impl;
    if (!hm) return;
    nc_rnnt_model_clear(&hm->rnnt);
    nc_free(hm);
    m->impl = NULL;
}

bool nc_hybrid_class(const nc_model_class *cls) {
    return cls == &nc_hybrid_model_class || cls == &nc_hybrid_bpe_model_class;
}

nc_hybrid_model *nc_hybrid_of(const nc_model *m) {
    if (m && nc_hybrid_class(m->cls)) return m->impl;
    if (m)
        nc_model_expect(m, "asr", false, "a hybrid model (EncDecHybridRNNTCTCModel, EncDecHybridRNNTCTCBPEModel)",
                        NULL);
    return NULL;
}

nc_status nc_asr_decoder_type(const nc_model *m, const nc_cfg *args, bool *transducer) {
    const bool hybrid = nc_hybrid_class(m->cls);
    const bool rnnt = !hybrid && (m->cls == &nc_rnnt_model_class || m->cls == &nc_rnnt_bpe_model_class);
    const char *dt = NULL;
    nc_status s = nc_cfg_get_str_or(args, "decoder_type", NULL, &dt);
    if (s) return s;
    *transducer = hybrid || rnnt;
    if (!dt) return NC_OK;
    if (strcmp(dt, "ctc") && strcmp(dt, "rnnt"))
        return nc_error(NC_ERR_INVALID_ARG, "decoder_type: 'ctc' or 'rnnt', not '%s'", dt);
    bool want_rnnt = !strcmp(dt, "rnnt");
    if (!hybrid && want_rnnt != rnnt)
        return nc_error(NC_ERR_INVALID_ARG, "decoder_type=%s: %s has only a %s decoder (decoder_type chooses "
                        "between the heads of a hybrid model)", dt, m->cls->target, rnnt ? "transducer" : "CTC");
    *transducer = want_rnnt;
    return NC_OK;
}

/* NeMo's logs: val_loss (the combined loss), val_wer (the transducer's
 * greedy decoding) and val_wer_ctc (the CTC head's, when ctc_loss_weight > 0); val_cer and
 * val_cer_ctc as nemoc's other ASR models add them. */
static const nc_metric_def hybrid_metrics[] = {
    {.name = "loss", .num = NC_CTC_SUM_LOSS, .den = NC_CTC_SUM_BATCHES},
    {.name = "wer", .num = NC_CTC_SUM_WORD_ERRORS, .den = NC_CTC_SUM_WORDS, .percent = true},
    {.name = "cer", .num = NC_CTC_SUM_CHAR_ERRORS, .den = NC_CTC_SUM_CHARS, .percent = true},
    {.name = "wer_ctc", .num = NC_HYBRID_SUM_CTC_WORD_ERRORS, .den = NC_HYBRID_SUM_CTC_WORDS, .percent = true},
    {.name = "cer_ctc", .num = NC_HYBRID_SUM_CTC_CHAR_ERRORS, .den = NC_HYBRID_SUM_CTC_CHARS, .percent = true},
};

static const char *const hybrid_reinit[] = {"decoder.", "joint.", "ctc_decoder.", NULL};

/* predict is the CTC models' driver (ctc_predict.c): decoder_type=rnnt
 * (default) decodes with the transducer, decoder_type=ctc with the aux head. */
#define HYBRID_CLASS(tgt, desc)                                                                                  \
    .target = tgt, .collection = "asr", .description = desc, .build = hybrid_build, .destroy = hybrid_destroy, \
    .setup_data = nc_asr_setup_data, .training_step = nc_hybrid_train_step,                                    \
    .validation_step = nc_hybrid_val_step, .metrics = hybrid_metrics,                                          \
    .n_metrics = (int)(sizeof hybrid_metrics / sizeof hybrid_metrics[0]), .n_sums = NC_HYBRID_N_SUMS,          \
    .predict = nc_ctc_predict, .predict_keys = nc_ctc_predict_keys, .finetune_reinit = hybrid_reinit,         \
    .throughput_unit = "utt"

const nc_model_class nc_hybrid_model_class = {
    HYBRID_CLASS("nemo.collections.asr.models.hybrid_rnnt_ctc_models.EncDecHybridRNNTCTCModel",
                 "hybrid RNN-T/TDT + CTC speech recognizer, characters")};

const nc_model_class nc_hybrid_bpe_model_class = {
    HYBRID_CLASS("nemo.collections.asr.models.hybrid_rnnt_ctc_bpe_models.EncDecHybridRNNTCTCBPEModel",
                 "hybrid RNN-T/TDT + CTC speech recognizer, subwords")};
