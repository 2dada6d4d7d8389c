/* Conformer-CTC / FastConformer-CTC training step and inference, the nemoc
 * side of bench/torch/conformer.py (same shapes, same weights, same batch).
 *
 *   bench_conformer [--arch conformer|fastconformer] [--prec 32|bf16]
 *                   [--mode train|infer] [--batch 8] [--seconds 16]
 *                   [--layers 16] [--d 176] [--heads 4] [--vocab 256]
 *                   [--steps 4] [--warmup 1] [--save DIR] [--profile]
 *                   [--head ctc|rnnt] [--fused N]
 *
 * A training step is what one `nemoc asr train` batch costs: zero the
 * gradients, forward in training mode (dropout 0.1 as NeMo's configs), CTC
 * loss (mean_batch), backward, AdamW update. Inference is transcription of
 * a batch of 16 kHz audio in eval mode without gradients: log-mel features
 * (NeMo's preprocessor: 25 ms / 10 ms, 80 mels, n_fft 512, per-feature
 * normalisation), encoder, decoder, greedy CTC decoding; its real-time
 * factor is compute time / audio duration. Training batches are log-mel
 * features (B, 80, T) ~ N(0, 1); lengths run from `seconds` down to 85%.
 * --save DIR writes the initial weights (safetensors) and the batch (.npy)
 * for the PyTorch twin. Prints one "result" line (median step time, its
 * FLOP count and GFLOP/s, peak RSS); --profile adds the per-op table.
 * --head rnnt (training only) replaces the CTC decoder by a transducer
 * (EncDecRNNTModel): RNNTDecoder (1-layer LSTM, pred_hidden 320) and
 * RNNTJoint (joint_hidden 320, relu), dropout 0.1 in both, RNN-T loss
 * (mean_batch) on targets of T'/4 tokens; --fused N runs the joint and loss
 * as NeMo's fuse_loss_wer with fused_batch_size N (0: whole-batch logits). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_util.h"
#include "nemoc/alloc.h"
#include "nemoc/conformer.h"
#include "nemoc/ctc.h"
#include "nemoc/conv_asr_decoder.h"
#include "nemoc/ctc_decoding.h"
#include "nemoc/features.h"
#include "nemoc/npy.h"
#include "nemoc/optim.h"
#include "nemoc/rng.h"
#include "nemoc/rnnt.h"
#include "nemoc/rnnt_modules.h"
#include "nemoc/safetensors.h"

typedef struct opts {
    const char *arch, *prec, *mode, *save, *head;
    int64_t batch, layers, d, heads, vocab, fused;
    double seconds;
    int steps, warmup, profile;
} opts;

static opts parse(int argc, char **argv) {
    opts o = {.arch = "conformer", .prec = "32", .mode = "train", .save = NULL, .batch = 8,
              .layers = 16, .d = 176, .heads = 4, .vocab = 256, .seconds = 16.0, .steps = 4,
              .warmup = 1, .profile = 0, .head = "ctc", .fused = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--profile")) { o.profile = 1; continue; }
        if (!v) break;
        if (!strcmp(a, "--arch")) o.arch = v;
        else if (!strcmp(a, "--prec")) o.prec = v;
        else if (!strcmp(a, "--mode")) o.mode = v;
        else if (!strcmp(a, "--save")) o.save = v;
        else if (!strcmp(a, "--head")) o.head = v;
        else if (!strcmp(a, "--fused")) o.fused = atoll(v);
        else if (!strcmp(a, "--batch")) o.batch = atoll(v);
        else if (!strcmp(a, "--layers")) o.layers = atoll(v);
        else if (!strcmp(a, "--d")) o.d = atoll(v);
        else if (!strcmp(a, "--heads")) o.heads = atoll(v);
        else if (!strcmp(a, "--vocab")) o.vocab = atoll(v);
        else if (!strcmp(a, "--seconds")) o.seconds = atof(v);
        else if (!strcmp(a, "--steps")) o.steps = atoi(v);
        else if (!strcmp(a, "--warmup")) o.warmup = atoi(v);
        else { fprintf(stderr, "unknown option %s\n", a); exit(2); }
        i++;
    }
    return o;
}

/* Forward multiply-adds x 2 of the encoder + decoder, counting matmuls,
 * convolutions and the two attention products (elementwise work is not
 * counted); a training step is 3x the forward (backward = 2 products per
 * forward product), the usual convention. */
static double forward_flops(const nc_conformer_cfg *c, int64_t B, int64_t T, int64_t Tp,
                            int64_t vocab) {
    double d = (double)c->d_model, Cc = (double)c->subsampling_conv_channels, f = 0;
    double t = (double)T, F = (double)c->feat_in;
    /* subsampling convs (3x3, stride 2) */
    int n_sub = 0;
    while ((INT64_C(1) << n_sub) < c->subsampling_factor) n_sub++;
    for (int i = 0; i < n_sub; i++) {
        t = floor((t - 1) / 2 + 1), F = floor((F - 1) / 2 + 1);
        double cin = i == 0 ? 1 : Cc;
        if (c->subsampling == NC_SUBSAMPLING_STRIDING || i == 0)
            f += 2.0 * B * t * F * Cc * cin * 9;
        else
            f += 2.0 * B * t * F * Cc * 9 + 2.0 * B * t * F * Cc * Cc; /* dw + pw */
    }
    f += 2.0 * B * Tp * (Cc * F) * d; /* pre_encode.out */
    double bt = (double)B * (double)Tp, dff = d * (double)c->ff_expansion_factor;
    double layer = 2 * (2.0 * bt * d * dff * 2);      /* two FFNs, two matmuls each */
    layer += 4 * 2.0 * bt * d * d;                     /* q, k, v, out */
    layer += 2.0 * (2.0 * Tp - 1) * d * d;             /* linear_pos */
    layer += 2.0 * bt * (double)Tp * d * 2;            /* q k^T and attn v */
    layer += 2.0 * bt * (2.0 * Tp - 1) * d;            /* q p^T */
    layer += 2.0 * bt * d * 2 * d + 2.0 * bt * d * d;  /* pointwise convs */
    layer += 2.0 * bt * d * (double)c->conv_kernel_size; /* depthwise conv */
    f += (double)c->n_layers * layer;
    f += 2.0 * bt * d * (double)(vocab + 1); /* decoder */
    return f;
}

enum { PRED_HIDDEN = 320, JOINT_HIDDEN = 320 };

/* The transducer head instead of the CTC decoder: joint projections, the
 * joint's output layer over (T', U + 1) and the LSTM (4 gates, input and
 * recurrent products). */
static double transducer_flops(int64_t B, int64_t Tp, int64_t U, int64_t d, int64_t vocab) {
    const double H = PRED_HIDDEN, Jh = JOINT_HIDDEN, U1 = (double)(U + 1);
    double f = 2.0 * (double)(B * Tp) * (double)d * Jh + 2.0 * (double)B * U1 * H * Jh;
    f += 2.0 * (double)(B * Tp) * U1 * Jh * (double)(vocab + 1);
    f += 2.0 * (double)B * U1 * 8.0 * H * H;
    return f;
}

int main(int argc, char **argv) {
    opts o = parse(argc, argv);
    bool fast = !strcmp(o.arch, "fastconformer"), train = !strcmp(o.mode, "train");
    nc_conformer_cfg cfg = nc_conformer_default_cfg();
    cfg.feat_in = 80;
    cfg.n_layers = o.layers;
    cfg.d_model = o.d;
    cfg.n_heads = o.heads;
    if (fast) { /* fastconformer_ctc_bpe.yaml */
        cfg.subsampling = NC_SUBSAMPLING_DW_STRIDING;
        cfg.subsampling_factor = 8;
        cfg.subsampling_conv_channels = 256;
        cfg.conv_kernel_size = 9;
    }
    nc_params *p;
    nc_conformer enc;
    nc_conv_asr_decoder dec;
    nc_rnnt_decoder pred = {0};
    nc_rnnt_joint joint;
    const bool rnnt = !strcmp(o.head, "rnnt");
    nc_rng rng;
    nc_rng_seed(&rng, 1234);
    nc_status ms = nc_params_create(&p);
    if (!ms) ms = nc_conformer_init(&enc, p, "encoder", &cfg);
    if (!ms && !rnnt) ms = nc_conv_asr_decoder_init(&dec, p, "decoder", cfg.d_model, o.vocab);
    if (!ms && rnnt) {
        nc_rnnt_decoder_params dp = nc_rnnt_decoder_default_params();
        dp.vocab_size = o.vocab, dp.pred_hidden = PRED_HIDDEN, dp.dropout = 0.1f;
        nc_rnnt_joint_params jp = nc_rnnt_joint_default_params();
        jp.num_classes = o.vocab, jp.encoder_hidden = cfg.d_model, jp.pred_hidden = PRED_HIDDEN;
        jp.joint_hidden = JOINT_HIDDEN, jp.dropout = 0.1f;
        ms = nc_rnnt_decoder_init(&pred, p, "decoder", &dp);
        if (!ms) ms = nc_rnnt_joint_init(&joint, p, "joint", &jp);
    }
    if (ms || (rnnt && !train) || nc_params_finalize(p) || nc_params_initialize(p, &rng)) {
        fprintf(stderr, "model: %s\n", rnnt && !train ? "--head rnnt is a training case" : nc_last_error());
        return 1;
    }
    if (rnnt) nc_rnnt_decoder_reset(&pred);
    cfg = enc.cfg; /* resolved conv channels */

    /* The batch: features ~ N(0, 1) (normalised log-mels), frames past each
     * length zeroed as NeMo's preprocessor pads them. */
    const int64_t B = o.batch, T = (int64_t)(o.seconds * 100.0), F = cfg.feat_in;
    float *feats = nc_malloc((size_t)(B * F * T) * sizeof(float));
    int64_t *len = nc_malloc((size_t)B * sizeof(int64_t)), *enc_len = nc_malloc((size_t)B * sizeof(int64_t));
    nc_rng_normal(&rng, feats, B * F * T, 0.0f, 1.0f);
    for (int64_t b = 0; b < B; b++) {
        len[b] = T - (B > 1 ? (int64_t)(0.15 * (double)T * (double)b / (double)(B - 1)) : 0);
        for (int64_t f = 0; f < F; f++)
            for (int64_t t = len[b]; t < T; t++) feats[(b * F + f) * T + t] = 0.0f;
    }
    int64_t Tp = nc_conformer_out_length(&cfg, T), S = Tp / 4 > 0 ? Tp / 4 : 1;
    int64_t *tg = nc_malloc((size_t)(B * S) * sizeof(int64_t)), *tl = nc_malloc((size_t)B * sizeof(int64_t));
    nc_rng_randint(&rng, tg, B * S, 0, o.vocab);
    for (int64_t b = 0; b < B; b++) tl[b] = nc_conformer_out_length(&cfg, len[b]) / 4;

    /* inference input: audio, lengths in samples (same durations) */
    const int64_t S_len = (int64_t)(o.seconds * 16000.0);
    float *audio = NULL;
    int64_t *alen = NULL;
    nc_featurizer *fz = NULL;
    if (!train) {
        nc_feature_config fc = nc_feature_default_config();
        nc_feature_config_set(&fc, "window_size", "0.025");
        nc_feature_config_set(&fc, "features", "80");
        nc_feature_config_set(&fc, "n_fft", "512");
        nc_feature_config_set(&fc, "pad_to", "0");
        if (nc_featurizer_create(&fc, &fz)) {
            fprintf(stderr, "features: %s\n", nc_last_error());
            return 1;
        }
        audio = nc_malloc((size_t)(B * S_len) * sizeof(float));
        alen = nc_malloc((size_t)B * sizeof(int64_t));
        nc_rng_normal(&rng, audio, B * S_len, 0.0f, 0.1f);
        for (int64_t b = 0; b < B; b++) {
            alen[b] = len[b] * 160;
            if (alen[b] > S_len) alen[b] = S_len;
            for (int64_t i = alen[b]; i < S_len; i++) audio[b * S_len + i] = 0.0f;
        }
    }

    if (o.save) {
        mkdir(o.save, 0755);
        char path[4096];
        int64_t n = nc_params_count(p);
        nc_st_entry *e = nc_calloc((size_t)n, sizeof *e);
        for (int64_t i = 0; i < n; i++)
            e[i] = (nc_st_entry){.name = nc_params_at(p, i)->name, .tensor = nc_params_at(p, i)};
        snprintf(path, sizeof path, "%s/weights.safetensors", o.save);
        nc_status s = nc_st_save(path, e, n, NULL);
        nc_free(e);
        nc_tensor tf, tlen, ttg, ttl;
        nc_tensor_init(&tf, NC_F32, NC_DIMS(B, F, T), feats);
        nc_tensor_init(&tlen, NC_I64, NC_DIMS(B), len);
        nc_tensor_init(&ttg, NC_I64, NC_DIMS(B, S), tg);
        nc_tensor_init(&ttl, NC_I64, NC_DIMS(B), tl);
        const struct { const char *n; nc_tensor *t; } files[] = {
            {"feats", &tf}, {"lengths", &tlen}, {"targets", &ttg}, {"target_lengths", &ttl}};
        for (int i = 0; i < 4 && !s; i++) {
            snprintf(path, sizeof path, "%s/%s.npy", o.save, files[i].n);
            s = nc_npy_save(path, files[i].t);
        }
        if (!s && audio) {
            nc_tensor ta, tal;
            nc_tensor_init(&ta, NC_F32, NC_DIMS(B, S_len), audio);
            nc_tensor_init(&tal, NC_I64, NC_DIMS(B), alen);
            snprintf(path, sizeof path, "%s/audio.npy", o.save);
            s = nc_npy_save(path, &ta);
            snprintf(path, sizeof path, "%s/audio_lengths.npy", o.save);
            if (!s) s = nc_npy_save(path, &tal);
        }
        if (s) {
            fprintf(stderr, "save: %s\n", nc_last_error());
            return 1;
        }
    }

    nc_optim_params op = nc_optim_default_params(NC_OPTIM_ADAMW);
    nc_optim *opt = NULL;
    nc_ctx_params cp = nc_ctx_default_params();
    cp.precision = !strcmp(o.prec, "bf16") ? NC_PREC_BF16 : NC_PREC_F32;
    nc_ctx *ctx;
    if ((train && nc_optim_create(p, &op, &opt)) || nc_ctx_create(&cp, &ctx)) {
        fprintf(stderr, "setup: %s\n", nc_last_error());
        return 1;
    }
    if (o.profile) nc_ctx_set_profile(ctx, true);
    nc_set_training(ctx, train);
    nc_set_grad_enabled(ctx, train);
    int n = o.warmup + o.steps;
    double *t = nc_malloc((size_t)n * sizeof(double)), loss_v = 0;
    double *cpu = nc_malloc((size_t)n * sizeof(double));
    for (int it = 0; it < n; it++) {
        if (it == o.warmup && o.profile) nc_ctx_profile_clear(ctx);
        double t0 = bench_now(), c0 = bench_cpu_s();
        nc_tensor *x;
        int64_t *flen = len;
        if (train) {
            x = nc_from_data(ctx, NC_F32, NC_DIMS(B, F, T), feats);
        } else {
            /* the featurizer writes straight into an arena tensor */
            int64_t Tf = nc_featurizer_out_frames(fz, S_len);
            x = nc_empty(ctx, NC_F32, NC_DIMS(B, F, Tf));
            flen = nc_scratch(ctx, (size_t)B * sizeof(int64_t));
            if (!x || !flen || nc_featurizer_compute(fz, audio, alen, B, S_len, false, NULL,
                                                     nc_f32(x), flen)) {
                fprintf(stderr, "features: %s\n", nc_last_error());
                return 1;
            }
        }
        nc_tensor *enc_out = nc_conformer_fwd(ctx, &enc, x, flen, enc_len);
        nc_tensor *lp = rnnt ? NULL : nc_conv_asr_decoder_fwd(ctx, &dec, enc_out);
        if (rnnt) {
            nc_params_zero_grad(p);
            nc_tensor *il = nc_from_data(ctx, NC_I64, NC_DIMS(B), enc_len);
            nc_tensor *tgt = nc_from_data(ctx, NC_I64, NC_DIMS(B, S), tg);
            nc_tensor *tlt = nc_from_data(ctx, NC_I64, NC_DIMS(B), tl);
            nc_tensor *g = nc_rnnt_decoder_fwd(ctx, &pred, tgt), *loss;
            nc_rnnt_params rp = nc_rnnt_default_params();
            if (o.fused > 0) {
                nc_rnnt_joint_loss_params fp = {.kind = NC_TRANSDUCER_RNNT, .loss = rp,
                                                .activation = NC_RNNT_ACT_RELU, .dropout = 0.1f,
                                                .fused_batch_size = o.fused};
                loss = nc_rnnt_joint_loss(ctx, nc_rnnt_joint_project_encoder(ctx, &joint, enc_out),
                                          nc_rnnt_joint_project_prednet(ctx, &joint, g), joint.out.weight,
                                          joint.out.bias, tgt, il, tlt, &fp);
            } else {
                loss = nc_rnnt_loss(ctx, nc_rnnt_joint_fwd(ctx, &joint, enc_out, g), tgt, il, tlt, &rp);
            }
            if (!loss || nc_backward(ctx, loss) || nc_optim_step(opt)) {
                fprintf(stderr, "step: %s\n", nc_last_error());
                return 1;
            }
            loss_v = nc_f32(loss)[0];
        } else if (train) {
            nc_params_zero_grad(p);
            nc_tensor *il = nc_from_data(ctx, NC_I64, NC_DIMS(B), enc_len);
            nc_tensor *tgt = nc_from_data(ctx, NC_I64, NC_DIMS(B, S), tg);
            nc_tensor *tlt = nc_from_data(ctx, NC_I64, NC_DIMS(B), tl);
            nc_tensor *loss = nc_ctc_loss(ctx, lp, tgt, il, tlt, o.vocab, NC_LOSS_MEAN_BATCH, true);
            if (!loss || nc_backward(ctx, loss) || nc_optim_step(opt)) {
                fprintf(stderr, "step: %s\n", nc_last_error());
                return 1;
            }
            loss_v = nc_f32(loss)[0];
        } else {
            nc_tensor *lens = nc_from_data(ctx, NC_I64, NC_DIMS(B), enc_len);
            nc_ctc_hyp *hyps = nc_calloc((size_t)B, sizeof *hyps);
            if (!lp || !lens || nc_ctc_greedy_decode(lp, lens, o.vocab, hyps)) {
                fprintf(stderr, "infer: %s\n", nc_last_error());
                return 1;
            }
            for (int64_t b = 0; b < B; b++) nc_ctc_hyp_free(&hyps[b]);
            nc_free(hyps);
        }
        nc_ctx_reset(ctx);
        t[it] = bench_now() - t0;
        cpu[it] = bench_cpu_s() - c0;
        if (getenv("NC_BENCH_VERBOSE"))
            fprintf(stderr, "step %d %.3f s loss %.4f\n", it, t[it], loss_v);
    }
    double med = bench_median(t + o.warmup, o.steps), cmed = bench_median(cpu + o.warmup, o.steps);
    double fl = forward_flops(&cfg, B, T, Tp, o.vocab);
    if (rnnt) fl += transducer_flops(B, Tp, S, cfg.d_model, o.vocab) - 2.0 * (double)(B * Tp) * (double)cfg.d_model * (double)(o.vocab + 1);
    fl *= train ? 3.0 : 1.0;
    double audio_s = 0;
    for (int64_t b = 0; b < B; b++) audio_s += (double)len[b] / 100.0;
    const char *head = rnnt ? (o.fused > 0 ? "_rnnt_fused" : "_rnnt") : "";
    printf("result side=nemoc case=%s%s_%s prec=%s median_s=%.4f cpu_s=%.3f gflop=%.1f gflops=%.1f "
           "rss_mb=%.0f rtf=%.5f loss=%.4f T_enc=%lld\n",
           o.arch, head, o.mode, o.prec, med, cmed, fl * 1e-9, fl * 1e-9 / med, bench_max_rss_mb(),
           med / audio_s, loss_v, (long long)Tp);
    if (o.profile) bench_print_profile(ctx, o.steps);
    nc_ctx_free(ctx);
    nc_optim_free(opt);
    nc_conformer_free(&enc);
    nc_rnnt_decoder_free(&pred);
    nc_params_free(p);
    nc_featurizer_free(fz);
    nc_free(audio);
    nc_free(alen);
    nc_free(feats), nc_free(len), nc_free(enc_len), nc_free(tg), nc_free(tl), nc_free(t), nc_free(cpu);
    return 0;
}
