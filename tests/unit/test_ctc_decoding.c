/* CTC decoding: greedy on hand-built frames (repeats split by blank, padded
 * frames ignored), prefix beam search beating greedy, beam scores against a
 * brute-force sum over every alignment, NeMo token offsets and word
 * timestamps (values checked against NeMo's _compute_offsets and
 * get_words_offsets run on the same tokens). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/ctc_decoding.h"
#include "nemoc/rng.h"

/* (B, T, V) log-probs where frame t of utterance b has label lab[b][t] at
 * probability hi and the rest share 1 - hi. */
static nc_tensor *peaked(int64_t B, int64_t T, int64_t V, const int64_t *lab, double hi) {
    nc_tensor *t = NULL;
    CHECK_OK(nc_tensor_new(NC_F32, NC_DIMS(B, T, V), &t));
    float *d = t->data;
    for (int64_t i = 0; i < B * T; i++)
        for (int64_t c = 0; c < V; c++)
            d[i * V + c] = (float)log(c == lab[i] ? hi : (1 - hi) / (double)(V - 1));
    return t;
}

static void check_tokens(const char *what, const nc_ctc_hyp *h, int64_t n, const int64_t *ids,
                         const int64_t *frames) {
    nc_test_checks++;
    bool ok = h->n_tokens == n;
    for (int64_t i = 0; ok && i < n; i++) ok = h->tokens[i].id == ids[i] && h->tokens[i].frame == frames[i];
    if (!ok) {
        nc_test_fail(__FILE__, __LINE__, "%s: tokens differ", what);
        fprintf(stderr, "  got:");
        for (int64_t i = 0; i < h->n_tokens; i++)
            fprintf(stderr, " %lld@%lld", (long long)h->tokens[i].id, (long long)h->tokens[i].frame);
        fprintf(stderr, "\n");
    }
}

/* Labels a=0 b=1 c=2, blank 3. */
static void test_greedy(void) {
    enum { B = 3, T = 10, V = 4 };
    const int64_t X = 3;
    const int64_t lab[B * T] = {
        0, 0, X, 0, 1, 1, X, X, 2, 2, /* a a _ a b b _ _ c c -> a a b c */
        X, 2, 2, 1, 0, 0, 0, 0, 0, 0, /* length 4: _ c c b -> c b (the a's are padding) */
        X, X, X, X, X, X, X, X, X, X, /* all blank -> empty */
    };
    nc_tensor *lp = peaked(B, T, V, lab, 0.7);
    nc_tensor *len = NULL;
    CHECK_OK(nc_tensor_new(NC_I64, NC_DIMS(B), &len));
    int64_t *L = len->data;
    L[0] = 10, L[1] = 4, L[2] = 10;
    nc_ctc_hyp h[B];
    CHECK_OK(nc_ctc_greedy_decode(lp, len, 3, h));
    check_tokens("greedy 0", &h[0], 4, (int64_t[]){0, 0, 1, 2}, (int64_t[]){0, 3, 4, 8});
    if (h[0].n_tokens == 4) {
        /* runs: a 0-1, a 3, b 4-5, c 8-9 */
        CHECK(h[0].tokens[0].last_frame == 1 && h[0].tokens[1].last_frame == 3);
        CHECK(h[0].tokens[2].last_frame == 5 && h[0].tokens[3].last_frame == 9);
        /* NeMo offsets: [max(0, 0-1), 0], [0, 3], [3, 4], [4, 8] */
        const int64_t so[] = {0, 0, 3, 4}, eo[] = {0, 3, 4, 8};
        for (int i = 0; i < 4; i++)
            CHECK(h[0].tokens[i].start_offset == so[i] && h[0].tokens[i].end_offset == eo[i]);
    }
    CHECK_NEAR(h[0].score, 7 * log(0.7f), 1e-5); /* NeMo: argmax log-probs of non-blank frames */
    check_tokens("greedy 1 (length 4)", &h[1], 2, (int64_t[]){2, 1}, (int64_t[]){1, 3});
    if (h[1].n_tokens == 2) CHECK(h[1].tokens[0].start_offset == 0 && h[1].tokens[0].last_frame == 2);
    CHECK(h[2].n_tokens == 0 && h[2].tokens == NULL && h[2].score == 0);
    for (int b = 0; b < B; b++) nc_ctc_hyp_free(&h[b]);

    /* NULL lengths decode all frames; bad inputs are refused */
    CHECK_OK(nc_ctc_greedy_decode(lp, NULL, 3, h));
    check_tokens("greedy 1 full", &h[1], 3, (int64_t[]){2, 1, 0}, (int64_t[]){1, 3, 4});
    for (int b = 0; b < B; b++) nc_ctc_hyp_free(&h[b]);
    CHECK(nc_ctc_greedy_decode(lp, NULL, 4, h) == NC_ERR_INVALID_ARG);
    L[1] = 11;
    CHECK(nc_ctc_greedy_decode(lp, len, 3, h) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "lengths[1]") != NULL);
    nc_tensor_free(lp);
    nc_tensor_free(len);
}

/* Two frames of p(a) = 0.4, p(blank) = 0.6: greedy reads blank blank and
 * returns "", whose probability is 0.36, while "a" collects a_, _a and aa
 * for 0.64. Beam search must find "a". */
static void test_beam_beats_greedy(void) {
    const float lp2[] = {logf(0.4f), logf(0.6f), logf(0.4f), logf(0.6f)};
    nc_tensor *lp = NULL;
    CHECK_OK(nc_tensor_new(NC_F32, NC_DIMS(1, 2, 2), &lp));
    memcpy(lp->data, lp2, sizeof lp2);
    nc_ctc_hyp g;
    CHECK_OK(nc_ctc_greedy_decode(lp, NULL, 1, &g));
    CHECK(g.n_tokens == 0);
    nc_ctc_hyp_free(&g);
    nc_ctc_beam_params p = nc_ctc_beam_default_params();
    nc_ctc_nbest nb;
    CHECK_OK(nc_ctc_beam_decode(lp, NULL, 1, &p, &nb));
    CHECK(nb.n == 2);
    if (nb.n == 2) {
        CHECK(nb.hyps[0].n_tokens == 1 && nb.hyps[0].tokens[0].id == 0);
        CHECK_NEAR(nb.hyps[0].score, log(0.64), 1e-6);
        CHECK(nb.hyps[1].n_tokens == 0);
        CHECK_NEAR(nb.hyps[1].score, log(0.36), 1e-6);
    }
    nc_ctc_nbest_free(&nb);
    p.beam_size = 0;
    CHECK(nc_ctc_beam_decode(lp, NULL, 1, &p, &nb) == NC_ERR_INVALID_ARG);
    nc_tensor_free(lp);
}

/* Exact prefix log-probabilities by enumerating all V^T alignments. A
 * sequence is keyed as len * 4^T + sum tok_i 4^i. */
#define BT 5
#define BV 4
static int64_t seq_key(const int64_t *s, int64_t n) {
    int64_t k = 0, m = 1;
    for (int64_t i = 0; i < n; i++, m *= BV) k += s[i] * m;
    return k + n * 1024;
}

static void test_beam_exact(void) {
    nc_rng r;
    nc_rng_seed(&r, 11);
    float x[BT * BV];
    nc_rng_normal(&r, x, BT * BV, 0, 1.5f);
    for (int t = 0; t < BT; t++) { /* log_softmax */
        double s = 0;
        for (int c = 0; c < BV; c++) s += exp(x[t * BV + c]);
        for (int c = 0; c < BV; c++) x[t * BV + c] -= (float)log(s);
    }
    static int64_t keys[1024];
    static double lpk[1024];
    int64_t nk = 0;
    const int64_t blank = 3;
    for (int64_t a = 0; a < 1024; a++) { /* 4^5 alignments */
        int64_t seq[BT], n = 0, prev = -1, v = a;
        double lp = 0;
        for (int t = 0; t < BT; t++, v /= BV) {
            int64_t c = v % BV;
            lp += x[t * BV + c];
            if (c != blank && c != prev) seq[n++] = c;
            prev = c;
        }
        int64_t k = seq_key(seq, n), j = 0;
        while (j < nk && keys[j] != k) j++;
        if (j == nk) keys[nk] = k, lpk[nk++] = -INFINITY;
        double m = fmax(lpk[j], lp);
        lpk[j] = m + log(exp(lpk[j] - m) + exp(lp - m));
    }
    nc_tensor *t = NULL;
    CHECK_OK(nc_tensor_new(NC_F32, NC_DIMS(1, BT, BV), &t));
    memcpy(t->data, x, sizeof x);
    nc_ctc_beam_params p = {.beam_size = 4096, .token_threshold = 0, .max_tokens_per_frame = 0};
    nc_ctc_nbest nb;
    CHECK_OK(nc_ctc_beam_decode(t, NULL, blank, &p, &nb));
    CHECK(nb.n == nk); /* every distinct collapsed sequence, nothing twice */
    int64_t bad = 0;
    double total = -INFINITY;
    for (int64_t i = 0; i < nb.n; i++) {
        int64_t ids[BT];
        for (int64_t k = 0; k < nb.hyps[i].n_tokens; k++) ids[k] = nb.hyps[i].tokens[k].id;
        int64_t k = seq_key(ids, nb.hyps[i].n_tokens), j = 0;
        while (j < nk && keys[j] != k) j++;
        if (j == nk || fabs(lpk[j] - nb.hyps[i].score) > 1e-9) bad++;
        if (i > 0 && nb.hyps[i].score > nb.hyps[i - 1].score) bad++;
        double m = fmax(total, nb.hyps[i].score);
        total = m + log(exp(total - m) + exp(nb.hyps[i].score - m));
    }
    CHECK(bad == 0);
    /* the prefixes partition all alignments: total = sum_t log sum_c p (1 up
     * to the float rounding of the normalised frames) */
    double want = 0;
    for (int t = 0; t < BT; t++) {
        double s = 0;
        for (int c = 0; c < BV; c++) s += exp((double)x[t * BV + c]);
        want += log(s);
    }
    CHECK_NEAR(total, want, 1e-9);
    int64_t best = 0;
    for (int64_t j = 1; j < nk; j++)
        if (lpk[j] > lpk[best]) best = j;
    nc_ctc_nbest_free(&nb);

    /* a small beam still finds the exact best sequence here; its score only
     * counts the alignments through prefixes that stayed in the beam, so it
     * is a lower bound of the exact log-probability */
    p.beam_size = 3;
    CHECK_OK(nc_ctc_beam_decode(t, NULL, blank, &p, &nb));
    CHECK(nb.n == 3);
    if (nb.n) {
        int64_t ids[BT];
        for (int64_t k = 0; k < nb.hyps[0].n_tokens; k++) ids[k] = nb.hyps[0].tokens[k].id;
        CHECK(seq_key(ids, nb.hyps[0].n_tokens) == keys[best]);
        CHECK(nb.hyps[0].score <= lpk[best] + 1e-9 && nb.hyps[0].score > lpk[best] - 0.2);
    }
    nc_ctc_nbest_free(&nb);
    /* pruned extensions: one label per frame, or labels within 1.0 of the
     * frame's best; the best sequence (1 2 0) survives both */
    nc_ctc_beam_params pr[2] = {{.beam_size = 4, .token_threshold = 0, .max_tokens_per_frame = 1},
                                {.beam_size = 4, .token_threshold = 1.0f, .max_tokens_per_frame = 0}};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(nc_ctc_beam_decode(t, NULL, blank, &pr[i], &nb));
        CHECK(nb.n >= 1 && nb.hyps[0].n_tokens == 3);
        if (nb.n >= 1 && nb.hyps[0].n_tokens == 3)
            CHECK(nb.hyps[0].tokens[0].id == 1 && nb.hyps[0].tokens[1].id == 2 &&
                  nb.hyps[0].tokens[2].id == 0);
        nc_ctc_nbest_free(&nb);
    }
    nc_tensor_free(t);
}

/* On peaked frames beam search agrees with greedy, frames included, and a
 * zero-length utterance gives one empty hypothesis of log-prob 0. */
static void test_beam_frames(void) {
    enum { T = 10, V = 4 };
    const int64_t X = 3;
    const int64_t lab[2 * T] = {0, 0, X, 0, 1, 1, X, X, 2, 2, X, X, X, X, X, X, X, X, X, X};
    nc_tensor *lp = peaked(2, T, V, lab, 0.97);
    nc_tensor *len = NULL;
    CHECK_OK(nc_tensor_new(NC_I64, NC_DIMS(2), &len));
    ((int64_t *)len->data)[0] = T;
    nc_ctc_nbest nb[2];
    nc_ctc_beam_params p = nc_ctc_beam_default_params();
    CHECK_OK(nc_ctc_beam_decode(lp, len, 3, &p, nb));
    if (nb[0].n > 0) {
        check_tokens("beam frames", &nb[0].hyps[0], 4, (int64_t[]){0, 0, 1, 2}, (int64_t[]){0, 3, 4, 8});
        if (nb[0].hyps[0].n_tokens == 4) CHECK(nb[0].hyps[0].tokens[3].end_offset == 8);
    }
    CHECK(nb[1].n == 1 && nb[1].hyps[0].n_tokens == 0 && nb[1].hyps[0].score == 0);
    nc_ctc_nbest_free(&nb[0]);
    nc_ctc_nbest_free(&nb[1]);
    nc_tensor_free(lp);
    nc_tensor_free(len);
}

static nc_ctc_hyp make_hyp(int64_t n, const int64_t *ids, const int64_t *frames) {
    nc_ctc_hyp h = {.tokens = nc_malloc((size_t)n * sizeof(nc_ctc_token)), .n_tokens = n, .score = 0};
    for (int64_t i = 0; i < n; i++)
        h.tokens[i] = (nc_ctc_token){.id = ids[i], .frame = frames[i], .last_frame = frames[i]};
    nc_ctc_fill_offsets(&h);
    return h;
}

static void check_word(const nc_ctc_hyp *h, const nc_ctc_word *w, const char *const *pieces,
                       int64_t V, const char *text, int64_t so, int64_t eo, double stride) {
    char buf[64];
    CHECK_OK(nc_ctc_word_text(h, w, pieces, V, buf, sizeof buf));
    nc_test_checks++;
    if (strcmp(buf, text) != 0 || w->start_offset != so || w->end_offset != eo)
        nc_test_fail(__FILE__, __LINE__, "word '%s' [%lld, %lld], want '%s' [%lld, %lld]", buf,
                     (long long)w->start_offset, (long long)w->end_offset, text, (long long)so,
                     (long long)eo);
    CHECK_NEAR(w->start, (double)so * stride, 1e-12);
    CHECK_NEAR(w->end, (double)eo * stride, 1e-12);
}

static void test_words(void) {
    /* character model: NeMo labels " ", a, b, c, ' and the blank last */
    const char *chars[] = {" ", "a", "b", "c", "'", ""};
    uint8_t kinds[6];
    nc_ctc_token_kinds(chars, 6, kinds);
    CHECK(kinds[0] == NC_CTC_TOKEN_DELIMITER && kinds[1] == NC_CTC_TOKEN_PLAIN);
    /* "cab ab" emitted at frames 1 2 5 6 9 11; Conformer frames are 40 ms */
    nc_ctc_hyp h = make_hyp(6, (int64_t[]){3, 1, 2, 0, 1, 2}, (int64_t[]){1, 2, 5, 6, 9, 11});
    nc_ctc_word *w;
    int64_t n;
    CHECK_OK(nc_ctc_word_offsets(&h, kinds, 6, 0.04, &w, &n));
    CHECK(n == 2);
    if (n == 2) {
        check_word(&h, &w[0], chars, 6, "cab", 0, 5, 0.04);
        check_word(&h, &w[1], chars, 6, "ab", 6, 11, 0.04);
        CHECK(w[1].first_token == 4 && w[1].last_token == 5);
    }
    nc_free(w);
    nc_ctc_hyp_free(&h);
    /* leading delimiter: NeMo starts the first word at the space's start */
    h = make_hyp(3, (int64_t[]){0, 1, 2}, (int64_t[]){2, 5, 6});
    CHECK_OK(nc_ctc_word_offsets(&h, kinds, 6, 0.04, &w, &n));
    CHECK(n == 1);
    if (n == 1) check_word(&h, &w[0], chars, 6, "ab", 1, 6, 0.04);
    nc_free(w);
    nc_ctc_hyp_free(&h);
    /* only delimiters, and an empty hypothesis: no words */
    h = make_hyp(2, (int64_t[]){0, 0}, (int64_t[]){1, 3});
    CHECK_OK(nc_ctc_word_offsets(&h, kinds, 6, 0.04, &w, &n));
    CHECK(n == 0 && w == NULL);
    nc_ctc_hyp_free(&h);
    CHECK_OK(nc_ctc_word_offsets(&h, kinds, 6, 0.04, &w, &n));
    CHECK(n == 0 && w == NULL);

    /* SentencePiece: ▁the ▁c at ▁s at at frames 0 3 4 7 8, FastConformer 80 ms */
    /* U+2581 in octal escapes, which stop after three digits ("\x81c" would not) */
    const char *spm[] = {"\342\226\201the", "\342\226\201c", "at", "\342\226\201s", "\342\226\201", ""};
    uint8_t k2[6];
    nc_ctc_token_kinds(spm, 6, k2);
    CHECK(k2[0] == NC_CTC_TOKEN_WORD_START && k2[2] == NC_CTC_TOKEN_PLAIN && k2[4] == NC_CTC_TOKEN_WORD_START);
    h = make_hyp(5, (int64_t[]){0, 1, 2, 3, 2}, (int64_t[]){0, 3, 4, 7, 8});
    CHECK_OK(nc_ctc_word_offsets(&h, k2, 6, 0.08, &w, &n));
    CHECK(n == 3);
    if (n == 3) {
        check_word(&h, &w[0], spm, 6, "the", 0, 0, 0.08);
        check_word(&h, &w[1], spm, 6, "cat", 0, 4, 0.08);
        check_word(&h, &w[2], spm, 6, "sat", 4, 8, 0.08);
    }
    char small[3];
    if (n == 3) CHECK(nc_ctc_word_text(&h, &w[1], spm, 6, small, sizeof small) == NC_ERR_INVALID_ARG);
    nc_free(w);
    /* a token id outside the vocabulary is refused */
    h.tokens[1].id = 9;
    CHECK(nc_ctc_word_offsets(&h, k2, 6, 0.08, &w, &n) == NC_ERR_INVALID_ARG);
    nc_ctc_hyp_free(&h);
}

/* Greedy -> word timestamps end to end on a char model. */
static void test_greedy_words(void) {
    enum { T = 12, V = 6 };
    const int64_t X = 5; /* blank last, as NeMo */
    const int64_t lab[T] = {X, 3, 1, 1, X, 2, 0, 0, X, 1, X, 2};
    nc_tensor *lp = peaked(1, T, V, lab, 0.9);
    const char *chars[] = {" ", "a", "b", "c", "'", ""};
    uint8_t kinds[V];
    nc_ctc_token_kinds(chars, V, kinds);
    nc_ctc_hyp h;
    CHECK_OK(nc_ctc_greedy_decode(lp, NULL, X, &h));
    nc_ctc_word *w;
    int64_t n;
    CHECK_OK(nc_ctc_word_offsets(&h, kinds, V, 0.01 * 4, &w, &n));
    CHECK(n == 2);
    if (n == 2) {
        check_word(&h, &w[0], chars, V, "cab", 0, 5, 0.04);
        check_word(&h, &w[1], chars, V, "ab", 6, 11, 0.04);
    }
    nc_free(w);
    nc_ctc_hyp_free(&h);
    nc_tensor_free(lp);
}

/* Every allocation of the decoders fails in turn: each failure is reported
 * as NC_ERR_OOM and leaves nothing allocated. One utterance, so that the
 * (single-threaded) debug allocator is used from one thread. */
static void test_oom(void) {
    enum { T = 10, V = 4 };
    const int64_t lab[T] = {0, 0, 3, 0, 1, 1, 3, 3, 2, 2};
    nc_tensor *lp = peaked(1, T, V, lab, 0.6);
    nc_debug_alloc st = {.fail_at = 0};
    nc_allocator dbg = nc_debug_allocator(&st), prev = nc_set_allocator(&dbg);
    int64_t oom = 0, ok = 0;
    for (int64_t k = 1; k < 64; k++) {
        st = (nc_debug_alloc){.fail_at = k};
        nc_ctc_nbest nb;
        nc_ctc_hyp h;
        nc_status s1 = nc_ctc_beam_decode(lp, NULL, 3, NULL, &nb);
        if (s1 == NC_OK) nc_ctc_nbest_free(&nb);
        nc_status s2 = nc_ctc_greedy_decode(lp, NULL, 3, &h);
        if (s2 == NC_OK) nc_ctc_hyp_free(&h);
        oom += (s1 == NC_ERR_OOM) + (s2 == NC_ERR_OOM);
        ok += (s1 == NC_OK) + (s2 == NC_OK);
        CHECK((s1 == NC_OK || s1 == NC_ERR_OOM) && (s2 == NC_OK || s2 == NC_ERR_OOM));
        CHECK(st.live_blocks == 0);
    }
    nc_set_allocator(&prev);
    CHECK(oom > 10 && ok > 10); /* both the failing and the passing paths ran */
    nc_tensor_free(lp);
}

int main(void) {
    test_greedy();
    test_beam_beats_greedy();
    test_beam_exact();
    test_beam_frames();
    test_words();
    test_greedy_words();
    test_oom();
    return nc_test_finish("ctc_decoding");
}
