/* EncDecHybridRNNTCTC(BPE)Model: built from the keys of NeMo's
 * fastconformer_hybrid_tdt_ctc_bpe.yaml (an in-test copy of its model
 * section, sizes shrunk; and NeMo's own three hybrid_transducer_ctc configs
 * from $NEMO_SRC when present, sizes overridden), NeMo's state_dict names and
 * order (ctc_decoder.* after joint.*), one training step (finite loss; the CTC
 * head trains only when ctc_loss_weight > 0, as NeMo's training_step), the
 * validation sums of both heads (val_wer, val_wer_ctc), decoder_type, a
 * .nemo round trip selecting the class from its target, and refused inputs
 * naming their key. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asr/models/hybrid_model.h"
#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/collections.h"

static char tok_dir[512];

/* A tokenizer folder as `nemoc tokenizer train` writes it. */
static void make_tokenizer(void) {
    snprintf(tok_dir, sizeof tok_dir, "%s", nc_test_tmpdir("hybrid_tok"));
    char src[512], dst[600];
    snprintf(src, sizeof src, "%s", nc_test_src("tests/ref/spm/bpe_v128_cf.model"));
    snprintf(dst, sizeof dst, "%s/tokenizer.model", tok_dir);
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    CHECK(in && out);
    char buf[4096];
    for (size_t n; in && out && (n = fread(buf, 1, sizeof buf, in)) > 0;) CHECK(fwrite(buf, 1, n, out) == n);
    if (in) fclose(in);
    if (out) fclose(out);
}

/* The model section of NeMo's fastconformer_hybrid_tdt_ctc_bpe.yaml with its
 * keys and values, the sizes shrunk (d_model, n_layers, subsampling channels,
 * features, pred/joint hidden); %s: more keys. */
static const char *nemo_tdt_bpe =
    "model:\n"
    "  sample_rate: 16000\n"
    "  compute_eval_loss: false\n"
    "  log_prediction: true\n"
    "  skip_nan_grad: false\n"
    "  model_defaults: {enc_hidden: '${model.encoder.d_model}', pred_hidden: 16, joint_hidden: 16,\n"
    "                   tdt_durations: [0, 1, 2, 3, 4], num_tdt_durations: 5}\n"
    "  tokenizer: {dir: '%s', type: bpe}\n"
    "  preprocessor: {_target_: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor,\n"
    "    sample_rate: '${model.sample_rate}', normalize: per_feature, window_size: 0.025, window_stride: 0.01,\n"
    "    window: hann, features: 16, n_fft: 512, frame_splicing: 1, dither: 0.00001, pad_to: 0}\n"
    "  spec_augment: {_target_: nemo.collections.asr.modules.SpectrogramAugmentation, freq_masks: 2,\n"
    "    time_masks: 10, freq_width: 27, time_width: 0.05}\n"
    "  encoder:\n"
    "    _target_: nemo.collections.asr.modules.ConformerEncoder\n"
    "    feat_in: '${model.preprocessor.features}'\n"
    "    feat_out: -1\n"
    "    n_layers: 1\n"
    "    d_model: 16\n"
    "    subsampling: dw_striding\n"
    "    subsampling_factor: 8\n"
    "    subsampling_conv_channels: 8\n"
    "    causal_downsampling: false\n"
    "    reduction: null\n"
    "    reduction_position: null\n"
    "    reduction_factor: 1\n"
    "    ff_expansion_factor: 4\n"
    "    self_attention_model: rel_pos\n"
    "    n_heads: 2\n"
    "    att_context_size: [-1, -1]\n"
    "    att_context_style: regular\n"
    "    xscaling: true\n"
    "    untie_biases: true\n"
    "    pos_emb_max_len: 5000\n"
    "    conv_kernel_size: 9\n"
    "    conv_norm_type: 'batch_norm'\n"
    "    conv_context_size: null\n"
    "    dropout: 0.1\n"
    "    dropout_pre_encoder: 0.1\n"
    "    dropout_emb: 0.0\n"
    "    dropout_att: 0.1\n"
    "    stochastic_depth_drop_prob: 0.0\n"
    "    stochastic_depth_mode: linear\n"
    "    stochastic_depth_start_layer: 1\n"
    "  decoder: {_target_: nemo.collections.asr.modules.RNNTDecoder, normalization_mode: null,\n"
    "    random_state_sampling: false, blank_as_pad: true,\n"
    "    prednet: {pred_hidden: '${model.model_defaults.pred_hidden}', pred_rnn_layers: 1, t_max: null,\n"
    "              dropout: 0.2}}\n"
    "  joint: {_target_: nemo.collections.asr.modules.RNNTJoint, log_softmax: null, preserve_memory: false,\n"
    "    fuse_loss_wer: true, fused_batch_size: 4,\n"
    "    jointnet: {joint_hidden: '${model.model_defaults.joint_hidden}', activation: relu, dropout: 0.2},\n"
    "    num_extra_outputs: '${model.model_defaults.num_tdt_durations}'}\n"
    "  decoding: {strategy: greedy_batch, model_type: tdt, durations: '${model.model_defaults.tdt_durations}',\n"
    "    greedy: {max_symbols: 10}, beam: {beam_size: 2, return_best_hypothesis: false, score_norm: true,\n"
    "    tsd_max_sym_exp: 50, alsd_max_target_len: 2.0}}\n"
    "  aux_ctc:\n"
    "    ctc_loss_weight: 0.3\n"
    "    use_cer: false\n"
    "    ctc_reduction: 'mean_batch'\n"
    "    decoder: {_target_: nemo.collections.asr.modules.ConvASRDecoder, feat_in: null, num_classes: -1,\n"
    "              vocabulary: []}\n"
    "    decoding: {strategy: greedy}\n"
    "  interctc: {loss_weights: [], apply_at_layers: []}\n"
    "  loss: {loss_name: tdt, tdt_kwargs: {fastemit_lambda: 0.0, clamp: -1.0,\n"
    "    durations: '${model.model_defaults.tdt_durations}', sigma: 0.02, omega: 0.1}}\n"
    "%s";

/* Builds from the in-test config with `overrides` applied (Hydra syntax). */
static nc_model *build(const char *extra, int n_ovr, const char *const *ovr, nc_status want) {
    size_t len = strlen(nemo_tdt_bpe) + strlen(tok_dir) + strlen(extra) + 1;
    char *t = nc_malloc(len);
    snprintf(t, len, nemo_tdt_bpe, tok_dir, extra);
    nc_cfg *root = NULL, *mc = NULL;
    nc_model *m = NULL;
    CHECK_OK(nc_cfg_parse(t, strlen(t), "test", &root));
    nc_free(t);
    CHECK_OK(nc_cfg_apply_overrides(root, n_ovr, ovr));
    CHECK_OK(nc_cfg_resolve(root));
    CHECK_OK(nc_cfg_get_node(root, "model", &mc));
    nc_status s = nc_model_create(mc, "EncDecHybridRNNTCTCBPEModel", &(nc_model_build_args){.seed = 3}, &m);
    CHECK(s == want);
    if (s && s == want) printf("refused as expected: %s\n", nc_last_error());
    if (s && s != want) printf("unexpected: %s\n", nc_last_error());
    nc_cfg_free(root);
    return m;
}

typedef struct data {
    float feats[2 * 16 * 160];
    int64_t feat_len[2], tokens[2 * 3], token_len[2], index[2];
    nc_asr_batch batch;
} data;

static void make_batch(data *d) {
    for (int i = 0; i < 2 * 16 * 160; i++) d->feats[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    d->feat_len[0] = 160;
    d->feat_len[1] = 120;
    for (int i = 0; i < 6; i++) d->tokens[i] = 5 + i % 3;
    d->tokens[5] = 0; /* padding */
    d->token_len[0] = 3;
    d->token_len[1] = 2;
    d->index[0] = 0;
    d->index[1] = 1;
    d->batch = (nc_asr_batch){.batch_size = 2, .feats = d->feats, .n_feats = 16, .max_frames = 160,
                              .feat_len = d->feat_len, .tokens = d->tokens, .max_tokens = 3,
                              .token_len = d->token_len, .sample_index = d->index};
}

static double grad_norm(nc_model *m, const char *prefix) {
    double g = 0;
    for (int64_t i = 0; i < nc_params_count(m->params); i++) {
        nc_tensor *t = nc_params_at(m->params, i);
        if (strncmp(t->name, prefix, strlen(prefix)) || !t->grad) continue;
        for (int64_t k = 0; k < nc_numel(t); k++) g += fabs(nc_f32(t->grad)[k]);
    }
    return g;
}

static void check_model(nc_model *m, bool ctc_trains) {
    if (!m) return;
    nc_hybrid_model *hm = nc_hybrid_of(m);
    CHECK(hm && hm->rnnt.tdt && hm->rnnt.joint.n_out == 128 + 1 + 5);
    CHECK(m->cls->n_sums == NC_HYBRID_N_SUMS && nc_model_metric_index(m, "val_wer_ctc") == 3);
    /* NeMo's state_dict: ..., decoder.*, joint.*, ctc_decoder.* (last). */
    int64_t n = nc_params_count(m->params);
    CHECK(!strcmp(nc_params_at(m->params, n - 2)->name, "ctc_decoder.decoder_layers.0.weight"));
    CHECK(!strcmp(nc_params_at(m->params, n - 1)->name, "ctc_decoder.decoder_layers.0.bias"));
    nc_tensor *w = nc_params_find(m->params, "ctc_decoder.decoder_layers.0.weight");
    CHECK(w && w->ndim == 3 && w->shape[0] == 129 && w->shape[1] == 16 && w->shape[2] == 1);
    CHECK(nc_params_find(m->params, "joint.joint_net.2.weight") != NULL); /* dropout 0.2: [relu, dropout, linear] */
    static data d;
    make_batch(&d);
    nc_ctx *ctx = NULL;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_set_training(ctx, true);
    nc_set_grad_enabled(ctx, true);
    nc_params_zero_grad(m->params);
    nc_tensor *loss = NULL;
    CHECK_OK(m->cls->training_step(m, ctx, &d.batch, &loss));
    CHECK(loss && isfinite(nc_f32(loss)[0]));
    if (loss) CHECK_OK(nc_backward(ctx, loss));
    double ge = grad_norm(m, "encoder."), gj = grad_norm(m, "joint."), gc = grad_norm(m, "ctc_decoder.");
    printf("ctc_loss_weight %.2f: loss %.4f, |grad| encoder %.3g joint %.3g ctc_decoder %.3g\n",
           hm ? hm->ctc_loss_weight : -1.0, loss ? nc_f32(loss)[0] : NAN, ge, gj, gc);
    CHECK(ge > 0 && gj > 0 && (ctc_trains ? gc > 0 : gc == 0));
    nc_ctx_reset(ctx);
    double sums[NC_HYBRID_N_SUMS] = {0};
    CHECK_OK(m->cls->validation_step(m, ctx, &d.batch, sums));
    /* compute_eval_loss: false in NeMo's config: no val_loss, both WERs. */
    CHECK(sums[NC_CTC_SUM_BATCHES] == 0 && sums[NC_CTC_SUM_WORDS] > 0);
    CHECK(isnan(nc_metric_value(&m->cls->metrics[0], sums)));
    if (ctc_trains) {
        CHECK(sums[NC_HYBRID_SUM_CTC_WORDS] > 0 && sums[NC_CTC_SUM_CHARS] == sums[NC_HYBRID_SUM_CTC_CHARS]);
        CHECK(isfinite(nc_metric_value(&m->cls->metrics[3], sums)));
    } else { /* weight 0: NeMo does not log val_wer_ctc */
        CHECK(sums[NC_HYBRID_SUM_CTC_WORDS] == 0 && isnan(nc_metric_value(&m->cls->metrics[3], sums)));
    }
    CHECK(nc_training(ctx));
    nc_ctx_free(ctx);
}

static void check_decoder_type(nc_model *m) {
    const char *cases[] = {"", "decoder_type: rnnt", "decoder_type: ctc", "decoder_type: attention"};
    const nc_status want[] = {NC_OK, NC_OK, NC_OK, NC_ERR_INVALID_ARG};
    const bool transducer[] = {true, true, false, false};
    for (int i = 0; i < 4; i++) {
        nc_cfg *a = NULL;
        const char *txt = cases[i][0] ? cases[i] : "{}";
        CHECK_OK(nc_cfg_parse(txt, strlen(txt), "args", &a));
        bool t = !transducer[i];
        nc_status s = nc_asr_decoder_type(m, a, &t);
        CHECK(s == want[i]);
        if (!s) CHECK(t == transducer[i]);
        else CHECK(strstr(nc_last_error(), "decoder_type: 'ctc' or 'rnnt', not 'attention'") != NULL);
        nc_cfg_free(a);
    }
}

/* .nemo round trip: the archive's target builds the hybrid class again. */
static void check_nemo(nc_model *m) {
    char path[600];
    snprintf(path, sizeof path, "%s/h.nemo", nc_test_tmpdir("hybrid_nemo"));
    CHECK_OK(nc_nemo_model_save(m, path));
    nc_model *back = NULL;
    CHECK_OK(nc_model_load(path, &back));
    CHECK(back && back->cls == &nc_hybrid_bpe_model_class);
    nc_tensor *a = nc_params_find(m->params, "ctc_decoder.decoder_layers.0.weight");
    nc_tensor *b = back ? nc_params_find(back->params, "ctc_decoder.decoder_layers.0.weight") : NULL;
    CHECK(a && b && !memcmp(a->data, b->data, nc_nbytes(a)));
    nc_model_free(back);
}

/* NeMo's own configs, when its source is at hand: keys and values as
 * shipped, only the sizes made small enough for a unit test. */
static void check_nemo_configs(void) {
    const char *src = getenv("NEMO_SRC");
    if (!src || !*src) {
        printf("NEMO_SRC not set: NeMo's own hybrid configs not checked (the in-test copy was)\n");
        return;
    }
    const char *names[] = {"fastconformer_hybrid_tdt_ctc_bpe", "fastconformer_hybrid_transducer_ctc_bpe",
                           "fastconformer_hybrid_transducer_ctc_char"};
    for (int i = 0; i < 3; i++) {
        char path[1024], dir[600];
        snprintf(path, sizeof path, "%s/examples/asr/conf/fastconformer/hybrid_transducer_ctc/%s.yaml", src, names[i]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            printf("%s not found: skipped\n", path);
            continue;
        }
        fclose(f);
        snprintf(dir, sizeof dir, "model.tokenizer.dir=%s", tok_dir);
        const char *ovr[] = {dir, "model.encoder.n_layers=1", "model.encoder.d_model=16", "model.encoder.n_heads=2",
                             "model.encoder.subsampling_conv_channels=8", "model.model_defaults.pred_hidden=16",
                             "model.model_defaults.joint_hidden=16"};
        nc_cfg *root = NULL, *mc = NULL;
        CHECK_OK(nc_cfg_load(path, &root));
        bool bpe = strstr(names[i], "bpe") != NULL;
        CHECK_OK(nc_cfg_apply_overrides(root, bpe ? 7 : 6, bpe ? ovr : ovr + 1));
        CHECK_OK(nc_cfg_resolve(root));
        CHECK_OK(nc_cfg_get_node(root, "model", &mc));
        nc_model *m = NULL;
        CHECK_OK(nc_model_create(mc, bpe ? "EncDecHybridRNNTCTCBPEModel" : "EncDecHybridRNNTCTCModel",
                                 &(nc_model_build_args){.seed = 1}, &m));
        nc_hybrid_model *hm = m ? nc_hybrid_of(m) : NULL;
        CHECK(hm != NULL);
        if (hm)
            printf("NeMo's %s.yaml: %s, %lld tensors, ctc_loss_weight %.2f, %s\n", names[i], m->cls->target,
                   (long long)nc_params_count(m->params), hm->ctc_loss_weight, hm->rnnt.tdt ? "TDT" : "RNN-T");
        nc_model_free(m);
        nc_cfg_free(root);
    }
}

int main(void) {
    CHECK_OK(nc_register_collections());
    make_tokenizer();
    nc_model *m = build("", 0, NULL, NC_OK);
    check_model(m, true);
    if (m) check_decoder_type(m);
    if (m) check_nemo(m);
    nc_model_free(m);
    /* ctc_loss_weight 0: the CTC head gets no gradient (NeMo skips it). */
    const char *w0[] = {"model.aux_ctc.ctc_loss_weight=0.0"};
    m = build("", 1, w0, NC_OK);
    check_model(m, false);
    nc_model_free(m);
    check_nemo_configs();
    /* refused, naming the key */
    const char *bad_w[] = {"model.aux_ctc.ctc_loss_weight=1.5"};
    CHECK(build("", 1, bad_w, NC_ERR_CONFIG) == NULL);
    CHECK(strstr(nc_last_error(), "model.aux_ctc.ctc_loss_weight") != NULL);
    const char *bad_w2[] = {"model.aux_ctc.ctc_loss_weight=-0.1"};
    CHECK(build("", 1, bad_w2, NC_ERR_CONFIG) == NULL);
    const char *bad_n[] = {"model.aux_ctc.decoder.num_classes=7"};
    CHECK(build("", 1, bad_n, NC_ERR_CONFIG) == NULL);
    CHECK(strstr(nc_last_error(), "model.aux_ctc.decoder.num_classes") != NULL);
    const char *bad_f[] = {"model.aux_ctc.decoder.feat_in=32"};
    CHECK(build("", 1, bad_f, NC_ERR_CONFIG) == NULL);
    const char *bad_r[] = {"model.aux_ctc.ctc_reduction=avg"};
    CHECK(build("", 1, bad_r, NC_ERR_CONFIG) == NULL);
    CHECK(strstr(nc_last_error(), "model.aux_ctc.ctc_reduction") != NULL);
    const char *bad_s[] = {"model.aux_ctc.decoding.strategy=beam"};
    CHECK(build("", 1, bad_s, NC_ERR_UNSUPPORTED) == NULL);
    const char *no_aux[] = {"~model.aux_ctc"};
    CHECK(build("", 1, no_aux, NC_ERR_CONFIG) == NULL);
    CHECK(strstr(nc_last_error(), "model.aux_ctc") != NULL);
    return nc_test_finish("hybrid_model");
}
