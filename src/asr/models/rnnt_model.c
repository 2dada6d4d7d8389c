/* EncDecRNNTModel / EncDecRNNTBPEModel construction from the `model:` config
 * section (nemo/collections/asr/models/rnnt_models.py, rnnt_bpe_models.py;
 * keys as examples/asr/conf/conformer/conformer_transducer_bpe.yaml). */
#include <stdio.h>
#include <string.h>

#include "nemoc/alloc.h"
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

/* model.loss (RNNTLoss in nemo/collections/asr/losses/rnnt.py) and
 * model.rnnt_reduction. */
static nc_status parse_loss(const nc_cfg *c, nc_rnnt_model *rm) {
    nc_status s;
    const char *name = "default", *red = "mean_batch";
    rm->loss = nc_rnnt_default_params();
    if ((s = nc_cfg_get_str_or(c, "loss.loss_name", "default", &name))) return s;
    if (!strcmp(name, "tdt"))
        rm->tdt = true;
    else if (strcmp(name, "default") && strcmp(name, "warprnnt_numba"))
        return nc_error(NC_ERR_UNSUPPORTED, "model.loss.loss_name: 'default' and 'tdt' are supported, not '%s'",
                        name);
    if ((s = nc_cfg_get_str_or(c, "rnnt_reduction", "mean_batch", &red)) ||
        (s = nc_loss_reduction_parse(red, &rm->loss.reduction)))
        return nc_error_prefix(s, "model.rnnt_reduction");
    const char *kw = rm->tdt ? "loss.tdt_kwargs" : "loss.warprnnt_numba_kwargs";
    char key[96];
    snprintf(key, sizeof key, "%s.fastemit_lambda", kw);
    if ((s = nc_cfg_get_float_in_or(c, key, 0.0, 0.0, 1e6, &rm->loss.fastemit_lambda))) return s;
    snprintf(key, sizeof key, "%s.clamp", kw);
    if ((s = nc_cfg_get_float_or(c, key, -1.0, &rm->loss.clamp))) return s;
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

/* model.decoding (RNNTDecodingConfig): greedy only. */
static nc_status parse_decoding(const nc_cfg *c, nc_rnnt_model *rm) {
    nc_status s;
    const char *strategy = "greedy_batch";
    int64_t ms = 10;
    rm->greedy = nc_rnnt_greedy_default_params();
    if ((s = nc_cfg_get_str_or(c, "decoding.strategy", "greedy_batch", &strategy)) ||
        (s = nc_cfg_get_int_in_or(c, "decoding.greedy.max_symbols", 10, -1, 1 << 20, &ms)))
        return s;
    if (strcmp(strategy, "greedy") && strcmp(strategy, "greedy_batch"))
        return nc_error(NC_ERR_UNSUPPORTED,
                        "model.decoding.strategy: 'greedy' and 'greedy_batch' are supported, not '%s'", strategy);
    if (rm->tdt && ms <= 0)
        return nc_error(NC_ERR_CONFIG, "model.decoding.greedy.max_symbols: TDT decoding needs a limit (> 0)");
    rm->greedy.max_symbols_per_step = (int)ms;
    rm->greedy.durations = rm->tdt ? rm->durations : NULL;
    rm->greedy.n_durations = rm->tdt ? rm->loss.n_durations : 0;
    return NC_OK;
}

/* model.joint: RNNTJoint. num_classes comes from the vocabulary as NeMo sets it. */
static nc_status parse_joint(const nc_cfg *c, const nc_rnnt_model *rm, nc_rnnt_joint_params *jp) {
    nc_status s;
    *jp = nc_rnnt_joint_default_params();
    jp->num_classes = rm->base.vocab_size;
    jp->num_extra_outputs = rm->tdt ? rm->loss.n_durations : 0;
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
    /* fuse_loss_wer: true (NeMo's conformer_transducer_*.yaml and TDT configs, so most NeMo-written
     * transducer .nemo files) is accepted: RNNTJoint.forward then runs the joint and the loss per
     * fused_batch_size slice with reduction off, concatenates the per-utterance losses and reduces
     * them as the unfused loss does (rnnt.py), so the value and gradients are the same as nemoc's
     * whole-batch joint; only NeMo's peak memory differs. fused_batch_size is not used. */
    (void)fuse;
    jp->dropout = (float)drop;
    return NC_OK;
}

typedef struct heads_ctx {
    nc_rnnt_model *rm;
    const nc_cfg *cfg;
} heads_ctx;

static nc_status rnnt_heads(nc_model *m, void *self, int64_t enc_dim) {
    heads_ctx *h = self;
    nc_rnnt_model *rm = h->rm;
    nc_rnnt_decoder_params dp;
    nc_rnnt_joint_params jp;
    nc_status s;
    if ((s = parse_decoder(h->cfg, rm->base.vocab_size, &dp)) ||
        (s = nc_rnnt_decoder_init(&rm->decoder, m->params, "decoder", &dp)) ||
        (s = parse_joint(h->cfg, rm, &jp)))
        return s;
    jp.encoder_hidden = enc_dim;
    return nc_rnnt_joint_init(&rm->joint, m->params, "joint", &jp);
}

static nc_status rnnt_build(nc_model *m, const nc_model_build_args *a) {
    nc_rnnt_model *rm = nc_calloc(1, sizeof *rm);
    if (!rm) return nc_error(NC_ERR_OOM, "rnnt model");
    m->impl = rm;
    nc_status s;
    if ((s = nc_asr_build_front(m, &rm->base, m->cls == &nc_rnnt_bpe_model_class, a)) ||
        (s = parse_loss(m->cfg, rm)) || (s = parse_decoding(m->cfg, rm)))
        return s;
    heads_ctx h = {.rm = rm, .cfg = m->cfg};
    if ((s = nc_asr_build_encoder(m, &rm->base, a, rnnt_heads, &h))) return s;
    /* After torch's initialisers, as RNNTDecoder's constructor does. */
    nc_rnnt_decoder_reset(&rm->decoder);
    return NC_OK;
}

static void rnnt_destroy(nc_model *m) {
    nc_rnnt_model *rm = m->impl;
    if (!rm) return;
    nc_asr_front_clear(&rm->base);
    nc_rnnt_decoder_free(&rm->decoder);
    nc_free(rm->durations);
    nc_free(rm);
    m->impl = NULL;
}

nc_rnnt_model *nc_rnnt_of(const nc_model *m) {
    if (m && (m->cls == &nc_rnnt_model_class || m->cls == &nc_rnnt_bpe_model_class)) return m->impl;
    if (m) nc_model_expect(m, "asr", false, "a transducer model (EncDecRNNTModel, EncDecRNNTBPEModel)", NULL);
    return NULL;
}

nc_ctc_model *nc_asr_front_of(const nc_model *m) {
    if (m && (m->cls == &nc_rnnt_model_class || m->cls == &nc_rnnt_bpe_model_class))
        return &((nc_rnnt_model *)m->impl)->base;
    return nc_ctc_of(m);
}


static const char *const rnnt_reinit[] = {"decoder.", "joint.", NULL};

/* predict is the CTC models' driver (ctc_predict.c), with greedy transducer
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
