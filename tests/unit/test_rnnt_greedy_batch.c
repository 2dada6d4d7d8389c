/* Batched greedy transducer decoding (greedy_batch, rnnt_greedy_batch.c)
 * against the per-utterance greedy decoder (rnnt_greedy.c, itself checked
 * against NeMo's GreedyRNNTInfer / GreedyTDTInfer / GreedyMultiblankRNNTInfer
 * in test_rnnt_modules): random modules, ragged lengths (0 and T included),
 * RNN-T, TDT and multi-blank, several max_symbols limits. Tokens and frames
 * must be identical, scores within 1e-5 relative (the batched matrix
 * products may round differently from the 1-row ones). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/ctx.h"
#include "nemoc/params.h"
#include "nemoc/rnnt_modules.h"

typedef struct mods {
    nc_params *p;
    nc_rnnt_decoder dec;
    nc_rnnt_joint joint;
} mods;

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* uniform in [-scale, scale) */
static float uni(uint32_t *s, float scale) { return ((float)lcg(s) / 16777216.0f * 2.0f - 1.0f) * scale; }

/* V tokens, n_extra extra joint outputs; blank_bias on the blank logit and
 * extra_bias on the extra ones (from extra_at: durations after the blank,
 * big blanks before it) for a mix of steps. */
static bool mods_make(mods *m, uint32_t seed, int64_t V, int L, int64_t n_extra, int64_t blank_logit,
                      int64_t extra_at, float blank_bias, float extra_bias) {
    memset(m, 0, sizeof *m);
    nc_rnnt_decoder_params dp = nc_rnnt_decoder_default_params();
    dp.vocab_size = V, dp.pred_hidden = 12, dp.pred_rnn_layers = L;
    nc_rnnt_joint_params jp = nc_rnnt_joint_default_params();
    jp.num_classes = V, jp.pred_hidden = 12, jp.encoder_hidden = 10, jp.joint_hidden = 16;
    jp.num_extra_outputs = n_extra;
    CHECK_OK(nc_params_create(&m->p));
    CHECK_OK(nc_rnnt_decoder_init(&m->dec, m->p, "decoder", &dp));
    CHECK_OK(nc_rnnt_joint_init(&m->joint, m->p, "joint", &jp));
    CHECK_OK(nc_params_finalize(m->p));
    if (nc_test_failures) return false;
    float *w = nc_params_flat_data(m->p);
    for (int64_t i = 0; i < nc_params_flat_size(m->p); i++) w[i] = uni(&seed, 0.5f);
    nc_rnnt_decoder_reset(&m->dec);
    float *ob = nc_f32(m->joint.out.bias);
    ob[blank_logit] += blank_bias;
    for (int64_t i = 0; i < n_extra; i++) ob[extra_at + i] += extra_bias;
    return true;
}

/* For decoding with no symbol limit (NeMo's None), which only ends if a
 * blank wins at every frame at some point: hidden unit 0 of every LSTM layer
 * is ~0 at the start of signal and >= 0.7 after any token (token embeddings
 * 10 at column 0, gates i, g, o of unit 0 driven only by input 0), and joint
 * unit 0 adds 16 * h0 to the blank logit only. So tokens can win until the
 * first one, then blanks win. */
static void boost_blank_after_token(mods *m) {
    const int64_t V = m->dec.hp.vocab_size, H = m->dec.hp.pred_hidden, J = m->joint.hp.joint_hidden;
    const int64_t C = m->joint.n_out, D = m->joint.hp.encoder_hidden;
    float *emb = nc_f32(m->dec.embed.weight);
    for (int64_t k = 0; k < V; k++) emb[k * H] = 10.0f;
    for (int l = 0; l < m->dec.hp.pred_rnn_layers; l++) {
        nc_lstm_weights *w = &m->dec.lstm[l];
        const int64_t in = w->w_ih->shape[1], rows[3] = {0, 2 * H, 3 * H}; /* i, g, o of unit 0 */
        for (int r = 0; r < 3; r++) {
            for (int64_t k = 0; k < in; k++) nc_f32(w->w_ih)[rows[r] * in + k] = k == 0 ? 5.0f : 0.0f;
            for (int64_t k = 0; k < H; k++) nc_f32(w->w_hh)[rows[r] * H + k] = 0.0f;
            nc_f32(w->b_ih)[rows[r]] = 0.0f;
            nc_f32(w->b_hh)[rows[r]] = 0.0f;
        }
    }
    for (int64_t k = 0; k < H; k++) nc_f32(m->joint.pred.weight)[k] = k == 0 ? 4.0f : 0.0f;
    for (int64_t k = 0; k < D; k++) nc_f32(m->joint.enc.weight)[k] = 0.0f;
    nc_f32(m->joint.pred.bias)[0] = nc_f32(m->joint.enc.bias)[0] = 0.0f;
    for (int64_t c = 0; c < C; c++) nc_f32(m->joint.out.weight)[c * J] = c == C - 1 ? 4.0f : 0.0f;
}

static void mods_free(mods *m) {
    nc_rnnt_decoder_free(&m->dec);
    nc_params_free(m->p);
}

/* Decodes enc (B, T, 10) with both decoders and compares. */
static void compare(const char *what, mods *m, uint32_t seed, int64_t B, int64_t T, nc_rnnt_greedy_params gp) {
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    float *e = malloc((size_t)(B * T * 10) * sizeof(float));
    int64_t *len = malloc((size_t)B * sizeof(int64_t));
    nc_rnnt_hyp *h1 = calloc((size_t)B, sizeof *h1), *h2 = calloc((size_t)B, sizeof *h2);
    CHECK(e && len && h1 && h2);
    if (!e || !len || !h1 || !h2) goto out;
    for (int64_t i = 0; i < B * T * 10; i++) e[i] = uni(&seed, 1.5f);
    for (int64_t b = 0; b < B; b++) len[b] = b == 0 ? T : b == 1 && B > 2 ? 0 : 1 + (int64_t)(lcg(&seed) % T);
    nc_tensor *enc = nc_from_data(ctx, NC_F32, NC_DIMS(B, T, 10), e);
    gp.batched = false;
    CHECK_OK(nc_rnnt_greedy_decode(ctx, &m->dec, &m->joint, enc, len, &gp, h1));
    nc_ctx_reset(ctx);
    enc = nc_from_data(ctx, NC_F32, NC_DIMS(B, T, 10), e);
    gp.batched = true;
    CHECK_OK(nc_rnnt_greedy_decode(ctx, &m->dec, &m->joint, enc, len, &gp, h2));
    if (nc_test_failures) goto out;
    int64_t total = 0, differ = 0;
    for (int64_t b = 0; b < B; b++) {
        bool same = h1[b].n == h2[b].n;
        for (int64_t i = 0; same && i < h1[b].n; i++)
            same = h1[b].tokens[i] == h2[b].tokens[i] && h1[b].frames[i] == h2[b].frames[i];
        differ += !same;
        total += h1[b].n;
        CHECK(same);
        CHECK_NEAR(h2[b].score, h1[b].score, 1e-5 * (1.0 + fabs(h1[b].score)));
        if (len[b] == 0) CHECK(h2[b].n == 0);
    }
    printf("%s: B=%lld T=%lld, %lld tokens in all, %lld utterances differ\n", what, (long long)B, (long long)T,
           (long long)total, (long long)differ);
    CHECK(total > 0); /* the case decodes something */
out:
    if (h1)
        for (int64_t b = 0; b < B; b++) nc_rnnt_hyp_free(&h1[b]);
    if (h2)
        for (int64_t b = 0; b < B; b++) nc_rnnt_hyp_free(&h2[b]);
    free(h1);
    free(h2);
    free(e);
    free(len);
    nc_ctx_free(ctx);
}

int main(void) {
    static const int64_t tdt_dur[5] = {0, 1, 2, 3, 4}, big[3] = {2, 4, 8};
    static const int max_syms[3] = {1, 3, 10};
    mods m;
    char what[96];
    for (int L = 1; L <= 2; L++) {
        /* RNN-T, V = 9: blank logit 9 */
        if (mods_make(&m, 100u + (uint32_t)L, 9, L, 0, 9, 10, L == 1 ? 2.5f : 1.0f, 0.0f)) {
            for (int i = 0; i < 3; i++) {
                nc_rnnt_greedy_params gp = nc_rnnt_greedy_default_params();
                gp.max_symbols_per_step = max_syms[i];
                snprintf(what, sizeof what, "rnnt L=%d max_symbols=%d", L, max_syms[i]);
                compare(what, &m, 7u + (uint32_t)i, 9, 40, gp);
            }
        }
        mods_free(&m);
        /* no limit (NeMo's None): a blank must win at some point at every
         * frame, else NeMo's loop (and ours) never ends */
        if (mods_make(&m, 150u + (uint32_t)L, 9, L, 0, 9, 10, 0.0f, 0.0f)) {
            boost_blank_after_token(&m);
            nc_rnnt_greedy_params gp = nc_rnnt_greedy_default_params();
            gp.max_symbols_per_step = 0;
            snprintf(what, sizeof what, "rnnt L=%d no limit", L);
            compare(what, &m, 11u, 6, 30, gp);
            compare("rnnt one utterance", &m, 12u, 1, 25, gp);
        }
        mods_free(&m);
        /* TDT, V = 7: token logits [0, 7], durations after */
        if (mods_make(&m, 200u + (uint32_t)L, 7, L, 5, 7, 8, 0.5f, 0.0f)) {
            for (int i = 0; i < 3; i++) {
                nc_rnnt_greedy_params gp = nc_rnnt_greedy_default_params();
                gp.max_symbols_per_step = max_syms[i];
                gp.durations = tdt_dur, gp.n_durations = 5;
                snprintf(what, sizeof what, "tdt L=%d max_symbols=%d", L, max_syms[i]);
                compare(what, &m, 17u + (uint32_t)i, 9, 40, gp);
            }
        }
        mods_free(&m);
        /* multi-blank, V = 6: big blanks 6..8, blank 9 */
        if (mods_make(&m, 300u + (uint32_t)L, 6, L, 3, 9, 6, 0.5f, 0.5f)) {
            for (int i = 0; i < 3; i++) {
                nc_rnnt_greedy_params gp = nc_rnnt_greedy_default_params();
                gp.max_symbols_per_step = max_syms[i];
                gp.big_blank_durations = big, gp.n_big_blanks = 3;
                snprintf(what, sizeof what, "multiblank L=%d max_symbols=%d", L, max_syms[i]);
                compare(what, &m, 27u + (uint32_t)i, 9, 40, gp);
            }
        }
        mods_free(&m);
    }
    return nc_test_finish("rnnt_greedy_batch");
}
