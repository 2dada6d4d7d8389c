/* EncDecCTCModel(BPE) construction from the `model:` config section. */
#include <stdio.h>
#include <string.h>

#include "core/strbuf.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "asr/models/ctc_model.h"
#include "nemoc/asr_ctc.h"
#include "nemoc/log.h"

/* Keys of model.encoder that nemoc reads; the rest of ConformerEncoder's
 * arguments are accepted only at their default value (see check_unsupported). */
static const char *const encoder_keys[] = {
    "_target_", "feat_in", "feat_out", "n_layers", "d_model", "subsampling", "subsampling_factor",
    "subsampling_conv_channels", "subsampling_conv_chunking_factor", "causal_downsampling",
    "ff_expansion_factor", "self_attention_model", "n_heads", "att_context_size",
    "att_context_probs", "att_context_style", "xscaling", "untie_biases", "pos_emb_max_len",
    "conv_kernel_size", "conv_norm_type", "conv_context_size", "use_bias", "dropout",
    "dropout_pre_encoder", "dropout_emb", "dropout_att", "stochastic_depth_drop_prob",
    "stochastic_depth_mode", "stochastic_depth_start_layer", "global_tokens",
    "global_tokens_spacing", "global_attn_separate", "reduction", "reduction_position",
    "reduction_factor", "use_pytorch_sdpa", "use_pytorch_sdpa_backends", "sync_max_audio_length",
    NULL};

static nc_status cfg_fail(const char *key, const char *fmt, const char *what) {
    return nc_error(NC_ERR_UNSUPPORTED, "model.encoder.%s: %s %s", key, fmt, what);
}

static nc_status parse_encoder(const nc_cfg *enc, int64_t feat_in, nc_conformer_cfg *c) {
    nc_status s;
    if ((s = nc_cfg_check_keys(enc, "", encoder_keys))) return s;
    *c = nc_conformer_default_cfg();
    const char *target = NULL;
    nc_cfg_get_str_or(enc, "_target_", NULL, &target);
    if (target && !strstr(target, "ConformerEncoder"))
        return nc_error(NC_ERR_UNSUPPORTED,
                        "model.encoder._target_: '%s' is not supported (nemoc has ConformerEncoder)",
                        target);
    c->feat_in = feat_in;
    const char *sub = "striding", *sam = "rel_pos", *norm = "batch_norm", *ccs = NULL;
    double sd = 0;
    /* Every size is range-checked here, before the shapes multiply: the caps
     * are far above any published Conformer (d_model 1024, 24 layers, 16
     * heads) and keep products such as d_model * ff_expansion_factor * d_model
     * well inside int64; the total size is checked in nc_params_finalize. */
    if ((s = nc_cfg_get_int_in_or(enc, "feat_in", feat_in, 1, NC_CONFORMER_MAX_WIDTH, &c->feat_in)) ||
        (s = nc_cfg_get_int_in_or(enc, "feat_out", -1, -1, NC_CONFORMER_MAX_WIDTH, &c->feat_out)) ||
        (s = nc_cfg_get_int_in(enc, "n_layers", 0, NC_CONFORMER_MAX_LAYERS, &c->n_layers)) ||
        (s = nc_cfg_get_int_in(enc, "d_model", 1, NC_CONFORMER_MAX_WIDTH, &c->d_model)) ||
        (s = nc_cfg_get_str_or(enc, "subsampling", "striding", &sub)) ||
        (s = nc_cfg_get_int_in_or(enc, "subsampling_factor", 4, 2, 1024, &c->subsampling_factor)) ||
        (s = nc_cfg_get_int_in_or(enc, "subsampling_conv_channels", -1, -1, NC_CONFORMER_MAX_WIDTH,
                                  &c->subsampling_conv_channels)) ||
        (s = nc_cfg_get_bool_or(enc, "causal_downsampling", false, &c->causal_downsampling)) ||
        (s = nc_cfg_get_int_in_or(enc, "ff_expansion_factor", 4, 1, 64, &c->ff_expansion_factor)) ||
        (s = nc_cfg_get_str_or(enc, "self_attention_model", "rel_pos", &sam)) ||
        (s = nc_cfg_get_int_in_or(enc, "n_heads", 4, 1, 1024, &c->n_heads)) ||
        (s = nc_cfg_get_bool_or(enc, "xscaling", true, &c->xscaling)) ||
        (s = nc_cfg_get_bool_or(enc, "untie_biases", true, &c->untie_biases)) ||
        (s = nc_cfg_get_int_in_or(enc, "pos_emb_max_len", 5000, 1, INT64_C(1) << 24, &c->pos_emb_max_len)) ||
        (s = nc_cfg_get_int_in_or(enc, "conv_kernel_size", 31, 1, 1023, &c->conv_kernel_size)) ||
        (s = nc_cfg_get_str_or(enc, "conv_norm_type", "batch_norm", &norm)) ||
        (s = nc_cfg_get_str_or(enc, "conv_context_size", NULL, &ccs)) ||
        (s = nc_cfg_get_bool_or(enc, "use_bias", true, &c->use_bias)) ||
        (s = nc_cfg_get_prob_or(enc, "stochastic_depth_drop_prob", 0.0, &sd)))
        return s;
    double d; /* probabilities in [0, 1), checked here so a bad one names its key */
    if ((s = nc_cfg_get_prob_or(enc, "dropout", 0.1, &d))) return s;
    c->dropout = (float)d;
    if ((s = nc_cfg_get_prob_or(enc, "dropout_pre_encoder", 0.1, &d))) return s;
    c->dropout_pre_encoder = (float)d;
    if ((s = nc_cfg_get_prob_or(enc, "dropout_emb", 0.1, &d))) return s;
    c->dropout_emb = (float)d;
    if ((s = nc_cfg_get_prob_or(enc, "dropout_att", 0.0, &d))) return s;
    c->dropout_att = (float)d;
    if (!strcmp(sub, "striding"))
        c->subsampling = NC_SUBSAMPLING_STRIDING;
    else if (!strcmp(sub, "dw_striding"))
        c->subsampling = NC_SUBSAMPLING_DW_STRIDING;
    else
        return cfg_fail("subsampling", "'striding' and 'dw_striding' are supported, not", sub);
    if (strcmp(sam, "rel_pos") != 0)
        return cfg_fail("self_attention_model", "only 'rel_pos' is supported, not", sam);
    if (!strcmp(norm, "batch_norm"))
        c->conv_norm_type = NC_CONV_NORM_BATCH;
    else if (!strcmp(norm, "layer_norm"))
        c->conv_norm_type = NC_CONV_NORM_LAYER;
    else
        return cfg_fail("conv_norm_type", "'batch_norm' and 'layer_norm' are supported, not", norm);
    if (ccs && strcmp(ccs, "causal") != 0)
        return cfg_fail("conv_context_size", "only null and 'causal' are supported, not", ccs);
    c->conv_causal = ccs != NULL;
    if (sd > 0) return cfg_fail("stochastic_depth_drop_prob", "must be 0 (stochastic depth is", "not supported)");
    if (nc_cfg_has(enc, "att_context_size")) {
        int64_t *acs = NULL, n = 0;
        if (nc_cfg_get_int_list(enc, "att_context_size", &acs, &n) == NC_OK) {
            bool full = n == 2 && acs[0] == -1 && acs[1] == -1;
            nc_free(acs);
            if (!full)
                return cfg_fail("att_context_size", "only [-1, -1] (full context) is supported;",
                                "limited-context attention is not");
        }
    }
    return NC_OK;
}

/* Sets every key of a map node through a key=value setter (preprocessor, spec_augment). */
static nc_status apply_map(const nc_cfg *node, const char *section,
                           nc_status (*set)(void *obj, const char *k, const char *v), void *obj) {
    for (int64_t i = 0; i < nc_cfg_size(node); i++) {
        const char *key = nc_cfg_item_key(node, i);
        if (!strcmp(key, "_target_")) continue;
        const char *val = NULL;
        nc_cfg_type t;
        nc_status s = nc_cfg_get_type(node, key, &t);
        if (s) return s;
        if (t == NC_CFG_T_NULL)
            val = "null";
        else if ((s = nc_cfg_get_str(node, key, &val)))
            return s;
        if ((s = set(obj, key, val))) return nc_error_prefix(s, "model.%s", section);
    }
    return NC_OK;
}

static nc_status set_feature(void *o, const char *k, const char *v) { return nc_feature_config_set(o, k, v); }
static nc_status set_specaug(void *o, const char *k, const char *v) { return nc_spec_augment_config_set(o, k, v); }

/* Reads the artifact a config key names (else dir/file), keeps its bytes for
 * .nemo files under the key NeMo's ASRBPEMixin._setup_monolingual_tokenizer
 * registers it with. *data is NULL when an optional file is absent. */
static nc_status tokenizer_file(nc_model *m, const nc_model_build_args *a, const char *key, const char *dir,
                                const char *file, bool required, void **data, size_t *len) {
    *data = NULL;
    const char *ref = NULL;
    nc_status s = nc_cfg_get_str_or(m->cfg, key, NULL, &ref);
    if (s) return s;
    char *joined = NULL;
    if (!ref) {
        if (!dir) return required ? nc_error(NC_ERR_CONFIG, "model.tokenizer: needs dir (or %s)", key + 10) : NC_OK;
        if (!(joined = nc_strdupf("%s/%s", dir, file))) return nc_error(NC_ERR_OOM, "model.%s", key);
        ref = joined;
    }
    s = nc_artifact_read(a->artifacts, a->base_dir, ref, data, len);
    if (s == NC_ERR_NOT_FOUND && !required && joined) s = NC_OK; /* an optional file the dir lacks */
    else if (s) s = nc_error_prefix(s, "model.%s '%s'", key, ref);
    nc_free(joined);
    if (!s && *data) s = nc_model_add_artifact(m, key, file, *data, *len);
    return s;
}

static nc_status build_tokenizer(nc_model *m, nc_ctc_model *cm, bool bpe, const nc_model_build_args *a) {
    nc_status s;
    if (bpe) {
        const char *dir = NULL, *type = "bpe";
        if ((s = nc_cfg_get_str_or(m->cfg, "tokenizer.dir", NULL, &dir)) ||
            (s = nc_cfg_get_str_or(m->cfg, "tokenizer.type", "bpe", &type)))
            return s;
        void *data = NULL;
        size_t len = 0;
        if (!strcmp(type, "bpe")) {
            if ((s = tokenizer_file(m, a, "tokenizer.model_path", dir, "tokenizer.model", true, &data, &len)))
                return s;
            s = nc_tokenizer_spm_from_memory(data, (int64_t)len, &cm->tokenizer);
            nc_free(data);
            if (s) return nc_error_prefix(s, "model.tokenizer.model_path");
            /* NeMo registers the vocabularies too; its restore fails without them. */
            if ((s = tokenizer_file(m, a, "tokenizer.spe_tokenizer_vocab", dir, "tokenizer.vocab", false, &data,
                                    &len)))
                return s;
            nc_free(data);
            if ((s = tokenizer_file(m, a, "tokenizer.vocab_path", dir, "vocab.txt", false, &data, &len))) return s;
            nc_free(data);
            return NC_OK;
        }
        if (!strcmp(type, "wpe")) {
            if ((s = tokenizer_file(m, a, "tokenizer.vocab_path", dir, "vocab.txt", true, &data, &len))) return s;
            nc_wordpiece_params wp = nc_wordpiece_default_params();
            s = nc_tokenizer_wordpiece_from_memory(data, (int64_t)len, &wp, &cm->tokenizer);
            nc_free(data);
            return s ? nc_error_prefix(s, "model.tokenizer.vocab_path") : NC_OK;
        }
        return nc_error(NC_ERR_CONFIG, "model.tokenizer.type must be 'bpe' or 'wpe', got '%s'", type);
    }
    const char **labels = NULL;
    int64_t n = 0;
    const char *key = nc_cfg_has(m->cfg, "labels") ? "labels" : "decoder.vocabulary";
    if ((s = nc_cfg_get_str_list(m->cfg, key, &labels, &n))) return s;
    if (n == 0) {
        nc_free(labels);
        return nc_error(NC_ERR_CONFIG, "model.%s: empty label list", key);
    }
    nc_char_params cp = nc_char_default_params();
    const char *parser = "en";
    nc_cfg_get_str_or(m->cfg, "train_ds.parser", "en", &parser);
    cp.parser = !strcmp(parser, "base") ? NC_CHAR_PARSER_BASE : NC_CHAR_PARSER_EN;
    s = nc_tokenizer_char_new(labels, n, &cp, &cm->tokenizer);
    nc_free(labels);
    return s;
}

static nc_status build_vocab_tables(nc_ctc_model *cm) {
    int64_t V = cm->vocab_size;
    cm->pieces = nc_calloc((size_t)V, sizeof(char *));
    cm->kinds = nc_calloc((size_t)V + 1, 1);
    if (!cm->pieces || !cm->kinds) return nc_error(NC_ERR_OOM, "vocabulary tables");
    for (int64_t i = 0; i < V; i++) {
        const char *p = nc_tokenizer_id_to_piece(cm->tokenizer, (int32_t)i);
        cm->pieces[i] = nc_strdup(p ? p : "");
        if (!cm->pieces[i]) return nc_error(NC_ERR_OOM, "vocabulary tables");
    }
    nc_ctc_token_kinds((const char *const *)cm->pieces, V, cm->kinds);
    return NC_OK;
}

/* The part every ASR model shares before its own keys: preprocessor,
 * SpecAugment and tokenizer (ASRModel / ASRBPEMixin in NeMo). */
nc_status nc_asr_build_front(nc_model *m, nc_ctc_model *cm, bool bpe, const nc_model_build_args *a) {
    cm->bpe = bpe;
    nc_status s;
    /* Preprocessor and SpecAugment settings (they run in the data loader). */
    cm->features = nc_feature_default_config();
    nc_cfg *node = NULL;
    if (nc_cfg_get_node(m->cfg, "preprocessor", &node) == NC_OK && node &&
        (s = apply_map(node, "preprocessor", set_feature, &cm->features)))
        return s;
    /* The preprocessor's sizes are checked before the encoder's: its feat_in
     * interpolates them, and the message should name the key the user set. */
    nc_featurizer *check = NULL;
    if ((s = nc_featurizer_create(&cm->features, &check))) return nc_error_prefix(s, "model.preprocessor");
    nc_featurizer_free(check);
    cm->spec_augment = nc_spec_augment_default_config();
    if (nc_cfg_get_node(m->cfg, "spec_augment", &node) == NC_OK && node &&
        nc_cfg_kind_of(node) == NC_CFG_MAP) {
        if ((s = apply_map(node, "spec_augment", set_specaug, &cm->spec_augment))) return s;
        cm->has_spec_augment = true;
    }
    if ((s = build_tokenizer(m, cm, bpe, a))) return s;
    cm->vocab_size = nc_tokenizer_vocab_size(cm->tokenizer);
    return NC_OK;
}

/* The shared rest: model.encoder, the parameters in NeMo's state-dict order
 * (preprocessor buffers, encoder, then the model's heads from add_heads),
 * their initialisation and the vocabulary tables. */
nc_status nc_asr_build_encoder(nc_model *m, nc_ctc_model *cm, const nc_model_build_args *a,
                               nc_status (*add_heads)(nc_model *m, void *self, int64_t enc_dim),
                               void *self) {
    nc_status s;
    nc_cfg *node = NULL;
    nc_conformer_cfg ec;
    if ((s = nc_cfg_get_node(m->cfg, "encoder", &node))) return s;
    if ((s = parse_encoder(node, cm->features.features, &ec))) {
        /* The getters name keys from the model section ("encoder.d_model");
         * a person sets them as model.encoder.*. */
        if (!strncmp(nc_last_error(), "encoder.", 8)) {
            char *msg = nc_strdup(nc_last_error());
            if (msg) nc_error(s, "model.%s", msg);
            nc_free(msg);
        }
        return s;
    }
    if ((s = nc_params_create(&m->params))) return s;
    /* State-dict order as NeMo: preprocessor buffers, encoder, decoder. */
    nc_featurizer *fz;
    if ((s = nc_featurizer_create(&cm->features, &fz))) return nc_error_prefix(s, "model.preprocessor");
    nc_tensor win, fb;
    nc_featurizer_buffers(fz, &win, &fb);
    nc_tensor *pw = nc_params_add(m->params, "preprocessor.featurizer.window", NC_PARAM_BUFFER,
                                  NC_F32, win.ndim, win.shape);
    nc_tensor *pf = nc_params_add(m->params, "preprocessor.featurizer.fb", NC_PARAM_BUFFER, NC_F32,
                                  fb.ndim, fb.shape);
    if (!pw || !pf || (s = nc_conformer_init(&cm->encoder, m->params, "encoder", &ec)) ||
        (s = add_heads(m, self, ec.feat_out > 0 ? ec.feat_out : ec.d_model)) ||
        (s = nc_params_finalize(m->params))) {
        if (!s) s = NC_ERR_INVALID_ARG;
        nc_featurizer_free(fz);
        /* Too big for memory: say which keys size it. */
        return s == NC_ERR_OOM ? nc_error_prefix(s, "model.encoder (d_model=%lld, n_layers=%lld, "
                                                    "ff_expansion_factor=%lld, subsampling_conv_channels=%lld, "
                                                    "feat_in=%lld)",
                                                 (long long)ec.d_model, (long long)ec.n_layers,
                                                 (long long)ec.ff_expansion_factor,
                                                 (long long)ec.subsampling_conv_channels, (long long)ec.feat_in)
                               : s;
    }
    memcpy(pw->data, win.data, nc_nbytes(&win));
    memcpy(pf->data, fb.data, nc_nbytes(&fb));
    nc_featurizer_free(fz);
    nc_rng rng;
    nc_rng_seed(&rng, a->seed);
    if ((s = nc_params_initialize(m->params, &rng))) return s;
    double stride = cm->features.window_stride > 0
                        ? cm->features.window_stride
                        : (double)cm->features.n_window_stride / (double)cm->features.sample_rate;
    cm->frame_seconds = stride * (double)ec.subsampling_factor;
    return build_vocab_tables(cm);
}

static nc_status ctc_heads(nc_model *m, void *self, int64_t enc_dim) {
    nc_ctc_model *cm = self;
    return nc_conv_asr_decoder_init(&cm->decoder, m->params, "decoder", enc_dim, cm->vocab_size);
}

static nc_status ctc_build(nc_model *m, const nc_model_build_args *a) {
    bool bpe = m->cls == &nc_ctc_bpe_model_class;
    nc_ctc_model *cm = nc_calloc(1, sizeof *cm);
    if (!cm) return nc_error(NC_ERR_OOM, "ctc model");
    m->impl = cm;
    nc_status s;
    if ((s = nc_asr_build_front(m, cm, bpe, a))) return s;
    if (nc_cfg_has(m->cfg, "interctc.loss_weights")) {
        double *w = NULL;
        int64_t nw = 0;
        if (nc_cfg_get_float_list(m->cfg, "interctc.loss_weights", &w, &nw) == NC_OK) nc_free(w);
        if (nw > 0)
            return nc_error(NC_ERR_UNSUPPORTED,
                            "model.interctc.loss_weights: InterCTC is not supported; use []");
    }
    const char *red = "mean_batch";
    if ((s = nc_cfg_get_str_or(m->cfg, "ctc_reduction", "mean_batch", &red)) ||
        (s = nc_loss_reduction_parse(red, &cm->reduction)))
        return nc_error_prefix(s, "model.ctc_reduction");
    return nc_asr_build_encoder(m, cm, a, ctc_heads, cm);
}

/* Frees what nc_asr_build_front / nc_asr_build_encoder made (not cm itself). */
void nc_asr_front_clear(nc_ctc_model *cm) {
    nc_conformer_free(&cm->encoder);
    nc_tokenizer_free(cm->tokenizer);
    if (cm->pieces)
        for (int64_t i = 0; i < cm->vocab_size; i++) nc_free(cm->pieces[i]);
    nc_free(cm->pieces);
    nc_free(cm->kinds);
}

static void ctc_destroy(nc_model *m) {
    nc_ctc_model *cm = m->impl;
    if (!cm) return;
    nc_asr_front_clear(cm);
    nc_free(cm);
    m->impl = NULL;
}

nc_ctc_model *nc_ctc_of(const nc_model *m) {
    if (m && (m->cls == &nc_ctc_model_class || m->cls == &nc_ctc_bpe_model_class)) return m->impl;
    if (m) nc_model_expect(m, "asr", false, "a CTC model (EncDecCTCModel, EncDecCTCModelBPE)", NULL);
    return NULL;
}

/* Sums of the validation step (ctc_model_step.c) and the metrics NeMo logs
 * from them: val_loss (mean over batches), val_wer, val_cer. */
const nc_metric_def nc_asr_metrics[NC_ASR_N_METRICS] = {
    {.name = "loss", .num = NC_CTC_SUM_LOSS, .den = NC_CTC_SUM_BATCHES},
    {.name = "wer", .num = NC_CTC_SUM_WORD_ERRORS, .den = NC_CTC_SUM_WORDS, .percent = true},
    {.name = "cer", .num = NC_CTC_SUM_CHAR_ERRORS, .den = NC_CTC_SUM_CHARS, .percent = true},
};

static const char *const ctc_reinit[] = {"decoder.", NULL};

#define CTC_CLASS(tgt, desc)                                                                         \
    .target = tgt, .collection = "asr", .description = desc, .build = ctc_build, .destroy = ctc_destroy, \
    .setup_data = nc_asr_setup_data, .training_step = nc_ctc_train_step,                               \
    .validation_step = nc_ctc_val_step, .metrics = nc_asr_metrics,                                     \
    .n_metrics = NC_ASR_N_METRICS, .n_sums = NC_CTC_N_SUMS,                                             \
    .predict = nc_ctc_predict, .predict_keys = nc_ctc_predict_keys, .finetune_reinit = ctc_reinit,     \
    .throughput_unit = "utt"

const nc_model_class nc_ctc_model_class = {
    CTC_CLASS("nemo.collections.asr.models.ctc_models.EncDecCTCModel", "CTC speech recognizer, characters")};

const nc_model_class nc_ctc_bpe_model_class = {
    CTC_CLASS("nemo.collections.asr.models.ctc_bpe_models.EncDecCTCModelBPE", "CTC speech recognizer, subwords")};
