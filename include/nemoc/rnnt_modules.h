/* Transducer modules: NeMo's RNNTDecoder (the LSTM prediction network) and
 * RNNTJoint (nemo/collections/asr/modules/rnnt.py), and greedy transducer
 * decoding (GreedyRNNTInfer / GreedyTDTInfer in
 * nemo/collections/asr/parts/submodules/rnnt_greedy_decoding.py).
 *
 * Parameter names are NeMo's state_dict keys under the caller's prefix
 * (a model uses "decoder" and "joint"):
 *   decoder: prediction.embed.weight (V+1, H) with blank_as_pad (else (V, H)),
 *            prediction.dec_rnn.lstm.{weight_ih,weight_hh,bias_ih,bias_hh}_l{i}
 *   joint:   pred.{weight,bias} (J, H), enc.{weight,bias} (J, D_enc),
 *            joint_net.1.{weight,bias} (C, J) — joint_net.2 when joint dropout > 0
 *            (NeMo's Sequential is activation, [Dropout], Linear)
 * with C = V + 1 + num_extra_outputs (TDT durations or multi-blank big blanks).
 * The blank id is V (NeMo's blank_idx = vocab_size). */
#ifndef NEMOC_RNNT_MODULES_H
#define NEMOC_RNNT_MODULES_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/ctx.h"
#include "nemoc/nn.h"
#include "nemoc/params.h"
#include "nemoc/rnnt.h"
#include "nemoc/status.h"
#include "nemoc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- RNNTDecoder (src/asr/models/rnnt_decoder.c) ---- */

/* The `prednet` section and RNNTDecoder's arguments. */
typedef struct nc_rnnt_decoder_params {
    int64_t vocab_size;      /* V, without the blank */
    int64_t pred_hidden;     /* prednet.pred_hidden: embedding and LSTM width */
    int pred_rnn_layers;     /* prednet.pred_rnn_layers */
    float dropout;           /* prednet.dropout: between LSTM layers and on the output */
    float forget_gate_bias;  /* prednet.forget_gate_bias (1.0), see nc_rnnt_decoder_reset */
    bool blank_as_pad;       /* embedding of V + 1 rows, the blank row V zero (NeMo: true) */
} nc_rnnt_decoder_params;

/* vocab 0 (must be set), pred_hidden 320, 1 layer, dropout 0, forget gate
 * bias 1, blank_as_pad (NeMo's defaults in conf/conformer/conformer_transducer_bpe.yaml). */
nc_rnnt_decoder_params nc_rnnt_decoder_default_params(void);

typedef struct nc_rnnt_decoder {
    nc_embedding_m embed;   /* prediction.embed */
    nc_lstm_weights *lstm;  /* n_layers entries, owned: prediction.dec_rnn.lstm.*_l{i} */
    nc_rnnt_decoder_params hp;
    int64_t blank;          /* = vocab_size */
} nc_rnnt_decoder;

/* Declares the parameters under `prefix` (e.g. "decoder"); torch's default
 * initialisers (N(0,1) embedding, U(+-1/sqrt(H)) LSTM). NC_ERR_CONFIG names
 * a bad size. */
nc_status nc_rnnt_decoder_init(nc_rnnt_decoder *d, nc_params *p, const char *prefix,
                               const nc_rnnt_decoder_params *hp);
void nc_rnnt_decoder_free(nc_rnnt_decoder *d);
/* What NeMo does after torch's initialisers (apply once the parameter
 * buffer is initialised, not after loading a checkpoint): the padding
 * (blank) row of the embedding zero (torch.nn.Embedding(padding_idx)), and
 * LSTMDropout's unit forget gate: bias_ih[H:2H] = forget_gate_bias,
 * bias_hh[H:2H] *= hidden_hidden_bias_scale (0) (common/parts/rnn.py). */
void nc_rnnt_decoder_reset(nc_rnnt_decoder *d);

/* Training forward (RNNTDecoder.forward -> predict(y, add_sos=True)):
 * targets (B, U) int64 in [0, V] (V only with blank_as_pad, as padding)
 * -> g (B, U + 1, H): a zero "start of signal" vector, then the embedded
 * targets, through the LSTM from a zero state. NeMo returns (B, H, U + 1);
 * this is its transpose, as RNNTJoint consumes it. */
nc_tensor *nc_rnnt_decoder_fwd(nc_ctx *ctx, const nc_rnnt_decoder *d, nc_tensor *targets);

/* One prediction step for decoding (predict(label, state, add_sos=False)):
 * labels (B) int64, a label < 0 meaning the start of signal (a zero input
 * vector, NeMo's _SOS = blank); h, c (L, B, H) or both NULL (zero state).
 * Returns g (B, 1, H) and the new state in *h_out, *c_out (L, B, H). */
nc_tensor *nc_rnnt_decoder_step(nc_ctx *ctx, const nc_rnnt_decoder *d, nc_tensor *labels,
                                nc_tensor *h, nc_tensor *c, nc_tensor **h_out, nc_tensor **c_out);

/* ---- RNNTJoint (src/asr/models/rnnt_joint.c) ---- */

/* nc_rnnt_activation is in nemoc/rnnt.h (the fused joint + loss op uses it). */
/* jointnet.activation: "relu", "tanh" or "sigmoid" (exactly: NeMo checks
 * the name before lowering it); NC_ERR_CONFIG names the accepted ones. */
nc_status nc_rnnt_activation_parse(const char *name, nc_rnnt_activation *out);

typedef struct nc_rnnt_joint_params {
    int64_t num_classes;       /* V, without the blank */
    int64_t num_extra_outputs; /* TDT: number of durations; multi-blank: big blanks */
    int64_t encoder_hidden;    /* jointnet.encoder_hidden */
    int64_t pred_hidden;       /* jointnet.pred_hidden */
    int64_t joint_hidden;      /* jointnet.joint_hidden */
    nc_rnnt_activation activation;
    float dropout;             /* jointnet.dropout */
} nc_rnnt_joint_params;

/* joint_hidden 640, relu, dropout 0; the sizes must be set. */
nc_rnnt_joint_params nc_rnnt_joint_default_params(void);

typedef struct nc_rnnt_joint {
    nc_linear_m pred, enc, out; /* pred, enc, joint_net.{1|2} */
    nc_rnnt_joint_params hp;
    int64_t n_out;              /* C = num_classes + 1 + num_extra_outputs */
} nc_rnnt_joint;

nc_status nc_rnnt_joint_init(nc_rnnt_joint *j, nc_params *p, const char *prefix,
                             const nc_rnnt_joint_params *hp);

/* RNNTJoint.joint(f, g) as the loss consumes it (log_softmax=False, as on
 * GPU; the transducer losses normalise themselves): enc (B, T, D_enc), pred
 * (B, U1, D_pred) -> logits (B, T, U1, C) =
 * joint_net(act(enc(f)[:, :, None] + pred(g)[:, None])). */
nc_tensor *nc_rnnt_joint_fwd(nc_ctx *ctx, const nc_rnnt_joint *j, nc_tensor *enc, nc_tensor *pred);
/* The same in steps (project_encoder, project_prednet,
 * joint_after_projection): f (B, T, J), g (B, U1, J) -> (B, T, U1, C). */
nc_tensor *nc_rnnt_joint_project_encoder(nc_ctx *ctx, const nc_rnnt_joint *j, nc_tensor *enc);
nc_tensor *nc_rnnt_joint_project_prednet(nc_ctx *ctx, const nc_rnnt_joint *j, nc_tensor *pred);
nc_tensor *nc_rnnt_joint_after_projection(nc_ctx *ctx, const nc_rnnt_joint *j, nc_tensor *f,
                                          nc_tensor *g);

/* ---- greedy decoding (src/asr/decoding/rnnt_greedy.c) ---- */

typedef struct nc_rnnt_greedy_params {
    int max_symbols_per_step; /* <= 0: no limit (NeMo's None); TDT needs a limit */
    const int64_t *durations; /* TDT: the duration of each duration logit; NULL: RNN-T */
    int64_t n_durations;
    /* Multi-blank RNN-T (GreedyMultiblankRNNTInfer): the frames each big blank
     * covers, big blank i at logit blank - 1 - i (the loss's layout); emitting
     * it moves on by that many frames. NULL: no big blanks. */
    const int64_t *big_blank_durations;
    int64_t n_big_blanks;
    /* greedy_batch (GreedyBatchedRNNTInfer / GreedyBatchedTDTInfer): decode the
     * utterances together, one prediction-network step and one joint
     * evaluation per step for all that are still active
     * (src/asr/decoding/rnnt_greedy_batch.c); the hypotheses are those of the
     * per-utterance loop. */
    bool batched;
} nc_rnnt_greedy_params;

/* max_symbols_per_step 10 (NeMo's greedy config), RNN-T, per utterance. */
nc_rnnt_greedy_params nc_rnnt_greedy_default_params(void);

/* One utterance's result; the arrays are malloc'ed (nc_rnnt_hyp_free). */
typedef struct nc_rnnt_hyp {
    int64_t *tokens;  /* token ids, no blanks */
    int64_t *frames;  /* the encoder frame each token was emitted at (NeMo's timestamp) */
    int64_t *durations; /* TDT greedy: each token's predicted duration in frames (NeMo's
                         * token_duration, include_duration); NULL otherwise */
    int64_t n;
    double score;     /* NeMo's Hypothesis.score: the sum of the emitted tokens' log-softmax
                       * (RNN-T) or raw token logits (TDT, which does not normalise) */
} nc_rnnt_hyp;
void nc_rnnt_hyp_free(nc_rnnt_hyp *h);

/* Greedy decoding of each utterance on its own, as GreedyRNNTInfer /
 * GreedyTDTInfer / GreedyMultiblankRNNTInfer (gp->batched: all together,
 * same result): enc (B, T, D_enc) f32 encoder output, lengths (B) frames
 * per utterance (each in [0, T]); fills hyps[0..B-1]. Runs without a tape
 * (grad mode is restored). The ctx arena grows by a few small tensors per
 * step; a caller decoding long audio resets the ctx between batches. */
nc_status nc_rnnt_greedy_decode(nc_ctx *ctx, const nc_rnnt_decoder *dec, const nc_rnnt_joint *joint,
                                nc_tensor *enc, const int64_t *lengths,
                                const nc_rnnt_greedy_params *gp, nc_rnnt_hyp *hyps);

/* ---- beam search (src/asr/decoding/rnnt_beam.c) ---- */

/* RNNTDecodingConfig's `beam` section with search_type 'default':
 * BeamRNNTInfer.default_beam_search, or BeamTDTInfer.default_beam_search when
 * durations are given (nemo/collections/asr/parts/submodules/
 * rnnt_beam_decoding.py, tdt_beam_decoding.py). */
typedef struct nc_rnnt_beam_params {
    int beam_size;               /* >= 1; RNN-T at 1: NeMo's greedy_search (5 symbols per frame) */
    bool score_norm;             /* rank the final hypotheses by score / (tokens + 1) */
    bool return_best_hypothesis; /* only the best; else every final hypothesis, best first */
    const int64_t *durations;    /* TDT: the duration of each duration logit; NULL: RNN-T */
    int64_t n_durations;
} nc_rnnt_beam_params;

/* beam_size 4, score_norm, return_best_hypothesis (RNNTDecodingConfig's beam), RNN-T. */
nc_rnnt_beam_params nc_rnnt_beam_default_params(void);

/* The hypotheses of one utterance, best first (nc_rnnt_nbest_free). */
typedef struct nc_rnnt_nbest {
    nc_rnnt_hyp *hyps;
    int64_t n;
} nc_rnnt_nbest;
void nc_rnnt_nbest_free(nc_rnnt_nbest *nb);

/* Beam search of each utterance on its own, as NeMo: enc (B, T, D_enc) f32,
 * lengths (B) in [0, T]; fills out[0..B-1]. A hypothesis' score is NeMo's
 * Hypothesis.score: the log-probabilities of every step of its path, blanks
 * included (beam_size 1 RNN-T: of its tokens, as greedy); frames are NeMo's
 * timestamps (RNN-T: the frame of each token; TDT beam: that frame plus the
 * token's duration, as BeamTDTInfer records it). NeMo keeps every
 * hypothesis that beats the expansions when a frame ends, so without
 * return_best_hypothesis the list may be longer than beam_size. Runs
 * without a tape; the ctx arena is rewound after each step. */
nc_status nc_rnnt_beam_decode(nc_ctx *ctx, const nc_rnnt_decoder *dec, const nc_rnnt_joint *joint,
                              nc_tensor *enc, const int64_t *lengths, const nc_rnnt_beam_params *bp,
                              nc_rnnt_nbest *out);

#ifdef __cplusplus
}
#endif

#endif
