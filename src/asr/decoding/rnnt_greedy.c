/* Greedy transducer decoding, one utterance at a time, as NeMo's
 * GreedyRNNTInfer._greedy_decode, GreedyMultiblankRNNTInfer._greedy_decode
 * and GreedyTDTInfer._greedy_decode
 * (nemo/collections/asr/parts/submodules/rnnt_greedy_decoding.py); the
 * argument checks and the encoder projection for the batched decoder
 * (rnnt_greedy_batch.c) too.
 *
 * Per utterance the decoder state (h, c) and the projected prediction
 * g = joint.pred(decoder(last token)) live in heap buffers; every step's
 * tensors come from the ctx arena and are dropped by a rewind, so the arena
 * stays at one step's size however long the audio. NeMo recomputes the
 * prediction network at every inner step although its input only changes
 * after an emitted token; caching it gives the same numbers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/vec.h"
#include "nemoc/alloc.h"
#include "nemoc/arena.h"
#include "asr/decoding/rnnt_greedy_internal.h"
#include "nemoc/rnnt_modules.h"

nc_rnnt_greedy_params nc_rnnt_greedy_default_params(void) {
    return (nc_rnnt_greedy_params){.max_symbols_per_step = 10,
                                   .durations = NULL,
                                   .n_durations = 0,
                                   .big_blank_durations = NULL,
                                   .n_big_blanks = 0,
                                   .batched = false};
}

void nc_rnnt_hyp_free(nc_rnnt_hyp *h) {
    if (!h) return;
    nc_free(h->tokens);
    nc_free(h->frames);
    nc_free(h->durations);
    memset(h, 0, sizeof *h);
}

typedef struct greedy_state {
    const nc_rnnt_decoder *dec;
    const nc_rnnt_joint *joint;
    float *h, *c;     /* (L, 1, H) decoder state */
    bool has_state;   /* NeMo's dec_state is not None */
    int64_t last;     /* last emitted token; -1: none (start of signal) */
    float *gproj;     /* (J) joint.pred(decoder output) for `last` and the state */
    float *h_new, *c_new;
    bool g_valid;
    float *logits;    /* (C) */
    int64_t cap;      /* of the hypothesis arrays */
} greedy_state;

/* The prediction step for the current (last, state) into gproj, h_new, c_new. */
static nc_status pred_step(nc_ctx *ctx, greedy_state *s) {
    const int64_t L = s->dec->hp.pred_rnn_layers, H = s->dec->hp.pred_hidden;
    const int64_t J = s->joint->hp.joint_hidden;
    nc_arena_mark m = nc_arena_mark_get(nc_ctx_arena(ctx));
    /* _pred_step: the start of signal when there is no token and no state */
    int64_t label = s->last >= 0 ? s->last : -1;
    nc_tensor *lab = nc_from_data(ctx, NC_I64, NC_DIMS(1), &label);
    nc_tensor *h = NULL, *c = NULL, *hn = NULL, *cn = NULL;
    if (s->has_state) {
        h = nc_from_data(ctx, NC_F32, NC_DIMS(L, 1, H), s->h);
        c = nc_from_data(ctx, NC_F32, NC_DIMS(L, 1, H), s->c);
    }
    nc_tensor *g = nc_rnnt_decoder_step(ctx, s->dec, lab, h, c, &hn, &cn);
    nc_tensor *gp = nc_rnnt_joint_project_prednet(ctx, s->joint, g); /* (1, 1, J) */
    nc_status st = nc_ctx_status(ctx);
    if (st == NC_OK) {
        memcpy(s->gproj, nc_f32(gp), (size_t)J * sizeof(float));
        memcpy(s->h_new, nc_f32(hn), (size_t)(L * H) * sizeof(float));
        memcpy(s->c_new, nc_f32(cn), (size_t)(L * H) * sizeof(float));
        s->g_valid = true;
    }
    nc_arena_rewind(nc_ctx_arena(ctx), m);
    return st;
}

/* logits (C) of joint_after_projection(f (J), gproj). */
static nc_status joint_step(nc_ctx *ctx, greedy_state *s, const float *f) {
    const int64_t J = s->joint->hp.joint_hidden;
    nc_arena_mark m = nc_arena_mark_get(nc_ctx_arena(ctx));
    nc_tensor *ft = nc_from_data(ctx, NC_F32, NC_DIMS(1, 1, J), f);
    nc_tensor *gt = nc_from_data(ctx, NC_F32, NC_DIMS(1, 1, J), s->gproj);
    nc_tensor *y = nc_rnnt_joint_after_projection(ctx, s->joint, ft, gt);
    nc_status st = nc_ctx_status(ctx);
    if (st == NC_OK) memcpy(s->logits, nc_f32(y), (size_t)s->joint->n_out * sizeof(float));
    nc_arena_rewind(nc_ctx_arena(ctx), m);
    return st;
}

nc_status nc_rnnt_hyp_push(nc_rnnt_hyp *hyp, int64_t *cap, int64_t k, int64_t t, int64_t dur, double v) {
    if (hyp->n == *cap) {
        int64_t c = *cap;
        if (nc_vec_reserve(&hyp->tokens, &c, hyp->n + 1, sizeof(int64_t)) != NC_OK) return NC_ERR_OOM;
        c = *cap;
        if (nc_vec_reserve(&hyp->frames, &c, hyp->n + 1, sizeof(int64_t)) != NC_OK) return NC_ERR_OOM;
        /* the same growth for all three, so one capacity serves them */
        if (dur >= 0) {
            c = *cap;
            if (nc_vec_reserve(&hyp->durations, &c, hyp->n + 1, sizeof(int64_t)) != NC_OK) return NC_ERR_OOM;
        }
        *cap = c;
    }
    hyp->tokens[hyp->n] = k;
    hyp->frames[hyp->n] = t;
    if (dur >= 0 && hyp->durations) hyp->durations[hyp->n] = dur;
    hyp->n++;
    hyp->score += v;
    return NC_OK;
}

static nc_status emit(greedy_state *s, nc_rnnt_hyp *hyp, int64_t k, int64_t t, int64_t dur, double v) {
    const int64_t LH = s->dec->hp.pred_rnn_layers * s->dec->hp.pred_hidden;
    if (nc_rnnt_hyp_push(hyp, &s->cap, k, t, dur, v) != NC_OK) return NC_ERR_OOM;
    /* hypothesis.dec_state = hidden_prime; last_token = k */
    memcpy(s->h, s->h_new, (size_t)LH * sizeof(float));
    memcpy(s->c, s->c_new, (size_t)LH * sizeof(float));
    s->has_state = true;
    s->last = k;
    s->g_valid = false;
    return NC_OK;
}

/* GreedyRNNTInfer._greedy_decode and GreedyMultiblankRNNTInfer._greedy_decode
 * (n_big 0: plain RNN-T): f (T, J) projected frames of one utterance. The
 * logits are V tokens, then the big blanks (big blank i at blank - 1 - i),
 * then the blank; any blank ends the frame, a big blank also skips
 * big[i] - 1 frames (NeMo's big_blank_duration countdown). */
static nc_status decode_rnnt(nc_ctx *ctx, greedy_state *s, const float *f, int64_t len, int max_sym,
                             const int64_t *big, int64_t n_big, nc_rnnt_hyp *hyp) {
    const int64_t J = s->joint->hp.joint_hidden, C = s->joint->n_out;
    const int64_t first_blank = s->dec->blank, blank = C - 1; /* V and V + n_big */
    nc_status st;
    int64_t t = 0;
    while (t < len) {
        bool not_blank = true;
        int symbols = 0;
        int64_t step = 1;
        while (not_blank && (max_sym <= 0 || symbols < max_sym)) {
            if (!s->g_valid && (st = pred_step(ctx, s)) != NC_OK) return st;
            if ((st = joint_step(ctx, s, f + t * J)) != NC_OK) return st;
            /* on the CPU NeMo log-normalises: logp = log_softmax(logits); v, k = logp.max(0) */
            int64_t k = nc_rnnt_argmax(s->logits, C);
            if (k >= first_blank) {
                not_blank = false;
                if (k < blank && n_big > 0) step = big[blank - k - 1];
            } else if ((st = emit(s, hyp, k, t, -1, nc_rnnt_logp_of_max(s->logits, C, k))) != NC_OK) {
                return st;
            }
            symbols++;
        }
        t += step;
    }
    return NC_OK;
}

/* GreedyTDTInfer._greedy_decode: token logits [0, V], then duration logits. */
static nc_status decode_tdt(nc_ctx *ctx, greedy_state *s, const float *f, int64_t len, int max_sym,
                            const int64_t *durations, int64_t n_dur, nc_rnnt_hyp *hyp) {
    const int64_t J = s->joint->hp.joint_hidden, blank = s->dec->blank, n_tok = blank + 1;
    nc_status st;
    int64_t t = 0;
    while (t < len) {
        const float *ft = f + t * J; /* f = x.narrow(0, time_idx, 1) before the inner loop */
        const int64_t t_frame = t;
        int symbols = 0;
        bool need_loop = true;
        while (need_loop && symbols < max_sym) {
            if (!s->g_valid && (st = pred_step(ctx, s)) != NC_OK) return st;
            if ((st = joint_step(ctx, s, ft)) != NC_OK) return st;
            /* logp = logits[:-n_dur] (not normalised); duration argmax of log_softmax */
            int64_t k = nc_rnnt_argmax(s->logits, n_tok);
            int64_t skip = durations[nc_rnnt_argmax(s->logits + n_tok, n_dur)];
            if (k != blank && (st = emit(s, hyp, k, t_frame, skip, s->logits[k])) != NC_OK) return st;
            symbols++;
            t += skip;
            need_loop = skip == 0;
        }
        if (symbols == max_sym) t++;
    }
    return NC_OK;
}

nc_status nc_rnnt_greedy_decode(nc_ctx *ctx, const nc_rnnt_decoder *dec, const nc_rnnt_joint *joint,
                                nc_tensor *enc, const int64_t *lengths,
                                const nc_rnnt_greedy_params *gp, nc_rnnt_hyp *hyps) {
    if (!enc || enc->dtype != NC_F32 || enc->ndim != 3 || enc->shape[2] != joint->hp.encoder_hidden)
        return nc_error(NC_ERR_SHAPE, "RNNT greedy: encoder output must be (B, T, %lld) float32",
                        (long long)joint->hp.encoder_hidden);
    if (dec->hp.vocab_size != joint->hp.num_classes || dec->hp.pred_hidden != joint->hp.pred_hidden)
        return nc_error(NC_ERR_CONFIG,
                        "RNNT greedy: decoder (vocab %lld, hidden %lld) and joint (num_classes "
                        "%lld, pred_hidden %lld) do not fit",
                        (long long)dec->hp.vocab_size, (long long)dec->hp.pred_hidden,
                        (long long)joint->hp.num_classes, (long long)joint->hp.pred_hidden);
    const bool tdt = gp->durations != NULL;
    if (tdt) {
        if (gp->n_durations < 1 || gp->n_durations != joint->hp.num_extra_outputs)
            return nc_error(NC_ERR_CONFIG, "TDT greedy: %lld durations for %lld extra joint outputs",
                            (long long)gp->n_durations, (long long)joint->hp.num_extra_outputs);
        for (int64_t i = 0; i < gp->n_durations; i++)
            if (gp->durations[i] < 0)
                return nc_error(NC_ERR_CONFIG, "TDT greedy: duration %lld is negative",
                                (long long)gp->durations[i]);
        /* NeMo would loop forever on a blank of duration 0 with no limit */
        if (gp->max_symbols_per_step <= 0)
            return nc_error(NC_ERR_CONFIG, "TDT greedy: max_symbols_per_step must be >= 1");
        if (gp->big_blank_durations)
            return nc_error(NC_ERR_CONFIG, "RNNT greedy: TDT durations and big-blank durations together");
    } else if (gp->big_blank_durations) {
        if (gp->n_big_blanks < 1 || gp->n_big_blanks != joint->hp.num_extra_outputs)
            return nc_error(NC_ERR_CONFIG, "multi-blank greedy: %lld big-blank durations for %lld extra joint outputs",
                            (long long)gp->n_big_blanks, (long long)joint->hp.num_extra_outputs);
        for (int64_t i = 0; i < gp->n_big_blanks; i++)
            if (gp->big_blank_durations[i] < 1)
                return nc_error(NC_ERR_CONFIG, "multi-blank greedy: big-blank duration %lld is below 1",
                                (long long)gp->big_blank_durations[i]);
    } else if (joint->hp.num_extra_outputs != 0) {
        return nc_error(NC_ERR_CONFIG,
                        "RNNT greedy: the joint has %lld extra outputs but neither TDT durations nor "
                        "big-blank durations are given",
                        (long long)joint->hp.num_extra_outputs);
    }
    const int64_t B = enc->shape[0], T = enc->shape[1], J = joint->hp.joint_hidden;
    for (int64_t b = 0; b < B; b++)
        if (lengths[b] < 0 || lengths[b] > T)
            return nc_error(NC_ERR_INVALID_ARG, "RNNT greedy: length[%lld] = %lld outside [0, %lld]",
                            (long long)b, (long long)lengths[b], (long long)T);
    memset(hyps, 0, (size_t)B * sizeof *hyps);

    const int64_t LH = dec->hp.pred_rnn_layers * dec->hp.pred_hidden;
    float *buf = nc_malloc((size_t)(4 * LH + J + joint->n_out + B * T * J) * sizeof(float));
    if (!buf) return nc_error(NC_ERR_OOM, "RNNT greedy: state buffers");
    greedy_state s = {.dec = dec, .joint = joint};
    s.h = buf;
    s.c = s.h + LH;
    s.h_new = s.c + LH;
    s.c_new = s.h_new + LH;
    s.gproj = s.c_new + LH;
    s.logits = s.gproj + J;
    float *f_all = s.logits + joint->n_out;

    bool grad = nc_set_grad_enabled(ctx, false);
    bool train = nc_training(ctx);
    nc_set_training(ctx, false); /* decoder.eval(), joint.eval() */
    nc_status st = NC_OK;
    {
        /* project_encoder once for all frames (NeMo projects each frame inside joint()) */
        nc_arena_mark m = nc_arena_mark_get(nc_ctx_arena(ctx));
        nc_tensor *f = nc_rnnt_joint_project_encoder(ctx, joint, enc);
        st = nc_ctx_status(ctx);
        if (st == NC_OK) memcpy(f_all, nc_f32(f), (size_t)(B * T * J) * sizeof(float));
        nc_arena_rewind(nc_ctx_arena(ctx), m);
    }
    if (st == NC_OK && gp->batched) st = nc_rnnt_greedy_batch_run(ctx, dec, joint, f_all, B, T, lengths, gp, hyps);
    for (int64_t b = 0; b < B && st == NC_OK && !gp->batched; b++) {
        s.has_state = false;
        s.g_valid = false;
        s.last = -1;
        s.cap = 0;
        const float *f = f_all + b * T * J;
        st = tdt ? decode_tdt(ctx, &s, f, lengths[b], gp->max_symbols_per_step, gp->durations,
                              gp->n_durations, &hyps[b])
                 : decode_rnnt(ctx, &s, f, lengths[b], gp->max_symbols_per_step, gp->big_blank_durations,
                               gp->n_big_blanks, &hyps[b]);
    }
    nc_set_training(ctx, train);
    nc_set_grad_enabled(ctx, grad);
    nc_free(buf);
    if (st != NC_OK) {
        for (int64_t b = 0; b < B; b++) nc_rnnt_hyp_free(&hyps[b]);
        return nc_error_prefix(st, "RNNT greedy decoding");
    }
    return NC_OK;
}
