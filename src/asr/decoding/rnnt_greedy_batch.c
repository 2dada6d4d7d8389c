/* Batched greedy transducer decoding (strategy greedy_batch), with the
 * semantics of NeMo's GreedyBatchedRNNTInfer / GreedyBatchedTDTInfer
 * (nemo/collections/asr/parts/submodules/rnnt_greedy_decoding.py and
 * transducer_decoding/{rnnt,tdt}_label_looping.py): every utterance keeps its
 * own frame index, symbol count and decoder state, and each step runs ONE
 * prediction-network step for the utterances that emitted a token at the
 * previous step (their last token changed) and ONE joint evaluation for all
 * utterances that still have frames, as (A, J) x (J, C) matrix products,
 * instead of B separate 1-row calls.
 *
 * The per-utterance state machine is the one of the per-utterance loops in
 * rnnt_greedy.c, written as single steps, so the hypotheses (tokens, frames,
 * scores) are theirs:
 *   RNN-T / multi-blank: a blank ends the frame (t += 1, a big blank
 *     t += its duration); a token is emitted at t and, after max_symbols
 *     tokens at one frame, t += 1.
 *   TDT: the token (if not blank) is emitted at t, t += the predicted
 *     duration; the frame ends on a duration > 0 or after max_symbols steps,
 *     and ending on the limit adds one frame more (GreedyTDTInfer's
 *     `if symbols_added == max_symbols: time_idx += 1`).
 * NeMo's own batched decoders do not always agree with its per-utterance
 * ones (checked on tests/ref/rnnt_modules with NeMo's code): on the CPU
 * GreedyBatchedRNNTInfer sums raw logits as the score (tokens the same);
 * GreedyBatchedTDTInfer advances one frame, not duration + 1, when the
 * symbol limit ends a frame (case tdt, utterance 1: one token more); and
 * GreedyBatchedMultiblankRNNTInfer skips frames only when every utterance
 * of the batch emitted a big blank, so an utterance decodes frames its own
 * big blank covered (case multiblank_relu: 18 tokens against 6). Here every
 * utterance follows the per-utterance rules, so greedy and greedy_batch
 * give the same transcripts and scores.
 * All buffers are allocated once per call; every step's tensors come from
 * the ctx arena and are dropped by a rewind. */
#include <string.h>

#include "asr/decoding/rnnt_greedy_internal.h"
#include "nemoc/alloc.h"
#include "nemoc/arena.h"

typedef struct batch_state {
    const nc_rnnt_decoder *dec;
    const nc_rnnt_joint *joint;
    int64_t B, L, H, J, C;
    float *h, *c;         /* (B, L, H) state after each utterance's last token */
    float *h_new, *c_new; /* (B, L, H) state after feeding the last token */
    float *gproj;         /* (B, J) joint.pred(decoder output) for the last token */
    float *logits;        /* (B, C) this step's joint output, rows of active utterances */
    int64_t *last;        /* (B) last emitted token; -1: start of signal */
    bool *g_valid;        /* (B) gproj / h_new / c_new are those of `last` */
    int64_t *t, *cap;     /* (B) frame index; hypothesis capacity */
    int *symbols;         /* (B) steps taken at the current frame */
    int64_t *idx;         /* (B) gather list */
    int64_t *lab;         /* (B) gathered labels */
    float *hg, *cg;       /* (L, B, H) gathered states */
    float *fg, *gg;       /* (B, J) gathered frames and predictions */
} batch_state;

/* Prediction step for the n utterances in s->idx: one LSTM step and one
 * joint.pred projection over (n) rows; scattered into gproj, h_new, c_new. */
static nc_status pred_batch(nc_ctx *ctx, batch_state *s, int64_t n) {
    const int64_t L = s->L, H = s->H, J = s->J;
    for (int64_t a = 0; a < n; a++) {
        const int64_t b = s->idx[a];
        s->lab[a] = s->last[b];
        for (int64_t l = 0; l < L; l++) {
            memcpy(s->hg + (l * n + a) * H, s->h + (b * L + l) * H, (size_t)H * sizeof(float));
            memcpy(s->cg + (l * n + a) * H, s->c + (b * L + l) * H, (size_t)H * sizeof(float));
        }
    }
    nc_arena_mark m = nc_arena_mark_get(nc_ctx_arena(ctx));
    nc_tensor *lab = nc_from_data(ctx, NC_I64, NC_DIMS(n), s->lab);
    /* a zero state is torch's default (state None) for utterances without a token yet */
    nc_tensor *h = nc_from_data(ctx, NC_F32, NC_DIMS(L, n, H), s->hg);
    nc_tensor *c = nc_from_data(ctx, NC_F32, NC_DIMS(L, n, H), s->cg);
    nc_tensor *hn = NULL, *cn = NULL;
    nc_tensor *g = nc_rnnt_decoder_step(ctx, s->dec, lab, h, c, &hn, &cn);
    nc_tensor *gp = nc_rnnt_joint_project_prednet(ctx, s->joint, g); /* (n, 1, J) */
    nc_status st = nc_ctx_status(ctx);
    if (st == NC_OK) {
        for (int64_t a = 0; a < n; a++) {
            const int64_t b = s->idx[a];
            memcpy(s->gproj + b * J, nc_f32(gp) + a * J, (size_t)J * sizeof(float));
            for (int64_t l = 0; l < L; l++) {
                memcpy(s->h_new + (b * L + l) * H, nc_f32(hn) + (l * n + a) * H, (size_t)H * sizeof(float));
                memcpy(s->c_new + (b * L + l) * H, nc_f32(cn) + (l * n + a) * H, (size_t)H * sizeof(float));
            }
            s->g_valid[b] = true;
        }
    }
    nc_arena_rewind(nc_ctx_arena(ctx), m);
    return st;
}

/* Joint for the n utterances in s->idx at their current frames: logits rows
 * 0..n-1 of s->logits. */
static nc_status joint_batch(nc_ctx *ctx, batch_state *s, const float *f_all, int64_t T, int64_t n) {
    const int64_t J = s->J;
    for (int64_t a = 0; a < n; a++) {
        const int64_t b = s->idx[a];
        memcpy(s->fg + a * J, f_all + (b * T + s->t[b]) * J, (size_t)J * sizeof(float));
        memcpy(s->gg + a * J, s->gproj + b * J, (size_t)J * sizeof(float));
    }
    nc_arena_mark m = nc_arena_mark_get(nc_ctx_arena(ctx));
    nc_tensor *ft = nc_from_data(ctx, NC_F32, NC_DIMS(n, 1, J), s->fg);
    nc_tensor *gt = nc_from_data(ctx, NC_F32, NC_DIMS(n, 1, J), s->gg);
    nc_tensor *y = nc_rnnt_joint_after_projection(ctx, s->joint, ft, gt); /* (n, 1, 1, C) */
    nc_status st = nc_ctx_status(ctx);
    if (st == NC_OK) memcpy(s->logits, nc_f32(y), (size_t)(n * s->C) * sizeof(float));
    nc_arena_rewind(nc_ctx_arena(ctx), m);
    return st;
}

static nc_status emit(batch_state *s, nc_rnnt_hyp *hyp, int64_t b, int64_t k, int64_t dur, double v) {
    const int64_t LH = s->L * s->H;
    if (nc_rnnt_hyp_push(hyp, &s->cap[b], k, s->t[b], dur, v) != NC_OK) return NC_ERR_OOM;
    memcpy(s->h + b * LH, s->h_new + b * LH, (size_t)LH * sizeof(float));
    memcpy(s->c + b * LH, s->c_new + b * LH, (size_t)LH * sizeof(float));
    s->last[b] = k;
    s->g_valid[b] = false;
    return NC_OK;
}

/* One step of utterance b's RNN-T / multi-blank loop on its logits x (C). */
static nc_status step_rnnt(batch_state *s, const nc_rnnt_greedy_params *gp, int64_t b, const float *x,
                           nc_rnnt_hyp *hyp) {
    const int64_t C = s->C, first_blank = s->dec->blank, blank = C - 1;
    const int64_t k = nc_rnnt_argmax(x, C);
    if (k >= first_blank) {
        s->t[b] += k < blank && gp->n_big_blanks > 0 ? gp->big_blank_durations[blank - k - 1] : 1;
        s->symbols[b] = 0;
        return NC_OK;
    }
    nc_status st = emit(s, hyp, b, k, -1, nc_rnnt_logp_of_max(x, C, k));
    if (st != NC_OK) return st;
    if (gp->max_symbols_per_step > 0 && ++s->symbols[b] >= gp->max_symbols_per_step) {
        s->t[b] += 1;
        s->symbols[b] = 0;
    }
    return NC_OK;
}

/* One step of utterance b's TDT loop: token logits [0, V], then durations. */
static nc_status step_tdt(batch_state *s, const nc_rnnt_greedy_params *gp, int64_t b, const float *x,
                          nc_rnnt_hyp *hyp) {
    const int64_t blank = s->dec->blank, n_tok = blank + 1;
    const int64_t k = nc_rnnt_argmax(x, n_tok);
    const int64_t skip = gp->durations[nc_rnnt_argmax(x + n_tok, gp->n_durations)];
    if (k != blank) {
        nc_status st = emit(s, hyp, b, k, skip, x[k]);
        if (st != NC_OK) return st;
    }
    const bool at_limit = ++s->symbols[b] == gp->max_symbols_per_step;
    s->t[b] += skip;
    if (skip > 0 || at_limit) {
        if (at_limit) s->t[b] += 1;
        s->symbols[b] = 0;
    }
    return NC_OK;
}

nc_status nc_rnnt_greedy_batch_run(nc_ctx *ctx, const nc_rnnt_decoder *dec, const nc_rnnt_joint *joint,
                                   const float *f_all, int64_t B, int64_t T, const int64_t *lengths,
                                   const nc_rnnt_greedy_params *gp, nc_rnnt_hyp *hyps) {
    batch_state s = {.dec = dec, .joint = joint, .B = B};
    s.L = dec->hp.pred_rnn_layers;
    s.H = dec->hp.pred_hidden;
    s.J = joint->hp.joint_hidden;
    s.C = joint->n_out;
    const int64_t LH = s.L * s.H;
    /* one float block, one int64 block, one flag block */
    const size_t nf = (size_t)(B * (6 * LH + 3 * s.J + s.C));
    float *fb = nc_calloc(nf ? nf : 1, sizeof(float));
    int64_t *ib = nc_malloc((size_t)(5 * B + 1) * sizeof(int64_t));
    bool *valid = nc_calloc((size_t)B + 1, sizeof(bool));
    int *sym = nc_calloc((size_t)B + 1, sizeof(int));
    nc_status st = NC_OK;
    if (!fb || !ib || !valid || !sym) {
        st = nc_error(NC_ERR_OOM, "greedy_batch: state buffers for %lld utterances", (long long)B);
        goto out;
    }
    s.h = fb;
    s.c = s.h + B * LH;
    s.h_new = s.c + B * LH;
    s.c_new = s.h_new + B * LH;
    s.hg = s.c_new + B * LH;
    s.cg = s.hg + B * LH;
    s.gproj = s.cg + B * LH;
    s.fg = s.gproj + B * s.J;
    s.gg = s.fg + B * s.J;
    s.logits = s.gg + B * s.J;
    s.last = ib;
    s.t = s.last + B;
    s.cap = s.t + B;
    s.idx = s.cap + B;
    s.lab = s.idx + B;
    s.g_valid = valid;
    s.symbols = sym;
    for (int64_t b = 0; b < B; b++) {
        s.last[b] = -1;
        s.t[b] = 0;
        s.cap[b] = 0;
    }
    const bool tdt = gp->durations != NULL;
    for (;;) {
        /* the prediction network for utterances whose last token changed */
        int64_t n = 0;
        for (int64_t b = 0; b < B; b++)
            if (s.t[b] < lengths[b] && !s.g_valid[b]) s.idx[n++] = b;
        if (n > 0 && (st = pred_batch(ctx, &s, n)) != NC_OK) break;
        /* the joint for every utterance with frames left */
        n = 0;
        for (int64_t b = 0; b < B; b++)
            if (s.t[b] < lengths[b]) s.idx[n++] = b;
        if (n == 0) break;
        if ((st = joint_batch(ctx, &s, f_all, T, n)) != NC_OK) break;
        for (int64_t a = 0; a < n && st == NC_OK; a++) {
            const int64_t b = s.idx[a];
            const float *x = s.logits + a * s.C;
            st = tdt ? step_tdt(&s, gp, b, x, &hyps[b]) : step_rnnt(&s, gp, b, x, &hyps[b]);
        }
        if (st != NC_OK) break;
    }
out:
    nc_free(fb);
    nc_free(ib);
    nc_free(valid);
    nc_free(sym);
    return st;
}
