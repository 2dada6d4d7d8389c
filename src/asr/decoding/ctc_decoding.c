/* CTC greedy decoding, NeMo token offsets and word timestamps.
 *
 * Greedy mirrors nemo/collections/asr/parts/submodules/ctc_greedy_decoding.py
 * (GreedyBatchedCTCInfer: argmax per frame, score = sum of the argmax
 * log-probs over non-blank frames) followed by the collapse in
 * ctc_decoding.py (decode_hypothesis: a label is emitted when it differs from
 * the previous frame's label or the previous frame was blank). Offsets follow
 * ctc_decoding.py (_compute_offsets) and words timestamp_utils.py
 * (get_words_offsets). */
#include <stdbool.h>
#include <string.h>

#include "asr/decoding/ctc_decoding_internal.h"
#include "nemoc/alloc.h"

nc_status nc_ctc_decode_check(const char *who, const nc_tensor *log_probs,
                              const nc_tensor *lengths, int64_t blank) {
    if (!log_probs) return nc_error(NC_ERR_INVALID_ARG, "%s: NULL log_probs", who);
    char buf[128];
    if (log_probs->dtype != NC_F32 || log_probs->ndim != 3 || log_probs->shape[2] < 1)
        return nc_error(NC_ERR_SHAPE, "%s: log_probs must be float32 (B, T, V), got %s %s", who,
                        nc_dtype_name(log_probs->dtype), nc_shape_str(log_probs, buf, sizeof buf));
    int64_t B = log_probs->shape[0], T = log_probs->shape[1], V = log_probs->shape[2];
    if (blank < 0 || blank >= V)
        return nc_error(NC_ERR_INVALID_ARG, "%s: blank %lld outside [0, %lld)", who,
                        (long long)blank, (long long)V);
    if (!lengths) return NC_OK;
    if (lengths->dtype != NC_I64 || lengths->ndim != 1 || lengths->shape[0] != B)
        return nc_error(NC_ERR_SHAPE, "%s: lengths must be int64 (%lld), got %s %s", who,
                        (long long)B, nc_dtype_name(lengths->dtype),
                        nc_shape_str(lengths, buf, sizeof buf));
    const int64_t *len = lengths->data;
    for (int64_t b = 0; b < B; b++)
        if (len[b] < 0 || len[b] > T)
            return nc_error(NC_ERR_INVALID_ARG, "%s: lengths[%lld] = %lld outside [0, %lld]", who,
                            (long long)b, (long long)len[b], (long long)T);
    return NC_OK;
}

void nc_ctc_hyp_free(nc_ctc_hyp *h) {
    if (!h) return;
    nc_free(h->tokens);
    *h = (nc_ctc_hyp){.tokens = NULL, .n_tokens = 0, .score = 0};
}

void nc_ctc_nbest_free(nc_ctc_nbest *nb) {
    if (!nb) return;
    for (int64_t i = 0; i < nb->n; i++) nc_ctc_hyp_free(&nb->hyps[i]);
    nc_free(nb->hyps);
    *nb = (nc_ctc_nbest){.hyps = NULL, .n = 0};
}

void nc_ctc_fill_offsets(nc_ctc_hyp *h) {
    /* NeMo: token_lengths[i] = frame_i - frame_{i-1} (frame_{-1} = 0),
     * end = cumsum(token_lengths) = frame_i, start = [max(0, timestamp[0] - 1)]
     * followed by end[:-1]; timestamp[0] is the first non-blank frame. */
    for (int64_t i = 0; i < h->n_tokens; i++) {
        nc_ctc_token *k = &h->tokens[i];
        k->end_offset = k->frame;
        k->start_offset = i ? h->tokens[i - 1].frame : (k->frame > 0 ? k->frame - 1 : 0);
    }
}

/* Greedy for one utterance: lp (T, V), first L frames. best is L scratch ids. */
static nc_status greedy_one(const float *lp, int64_t V, int64_t L, int64_t blank, int64_t *best,
                            nc_ctc_hyp *h) {
    double score = 0;
    int64_t n = 0;
    for (int64_t t = 0; t < L; t++) {
        const float *row = lp + t * V;
        int64_t k = 0;
        for (int64_t c = 1; c < V; c++)
            if (row[c] > row[k]) k = c; /* first maximum wins, as torch.argmax */
        best[t] = k;
        if (k != blank) {
            score += row[k];
            if (t == 0 || best[t - 1] != k) n++;
        }
    }
    h->score = score;
    h->n_tokens = n;
    h->tokens = NULL;
    if (!n) return NC_OK;
    h->tokens = nc_malloc((size_t)n * sizeof(nc_ctc_token));
    if (!h->tokens) {
        h->n_tokens = 0;
        return NC_ERR_OOM;
    }
    int64_t i = -1;
    for (int64_t t = 0; t < L; t++) {
        if (best[t] == blank) continue;
        if (t > 0 && best[t - 1] == best[t]) {
            h->tokens[i].last_frame = t; /* a repeat extends the current run */
            continue;
        }
        h->tokens[++i] = (nc_ctc_token){.id = best[t], .frame = t, .last_frame = t};
    }
    nc_ctc_fill_offsets(h);
    return NC_OK;
}

nc_status nc_ctc_greedy_decode(const nc_tensor *log_probs, const nc_tensor *lengths,
                               int64_t blank, nc_ctc_hyp *hyps) {
    nc_status st = nc_ctc_decode_check("ctc greedy", log_probs, lengths, blank);
    if (st) return st;
    int64_t B = log_probs->shape[0], T = log_probs->shape[1], V = log_probs->shape[2];
    for (int64_t b = 0; b < B; b++) hyps[b] = (nc_ctc_hyp){.tokens = NULL, .n_tokens = 0, .score = 0};
    int64_t *best = nc_malloc((size_t)(B * T > 0 ? B * T : 1) * sizeof(int64_t));
    if (!best) return nc_error(NC_ERR_OOM, "ctc greedy: out of memory for %lld frames", (long long)(B * T));
    int failed = 0;
    const float *LP = log_probs->data;
#pragma omp parallel for schedule(dynamic) if (B > 1 && B * T * V >= 32768) reduction(| : failed)
    for (int64_t b = 0; b < B; b++)
        failed |= greedy_one(LP + b * T * V, V, nc_ctc_len(lengths, b, T), blank, best + b * T,
                             &hyps[b]) != NC_OK;
    nc_free(best);
    if (failed) {
        for (int64_t b = 0; b < B; b++) nc_ctc_hyp_free(&hyps[b]);
        return nc_error(NC_ERR_OOM, "ctc greedy: out of memory for hypotheses");
    }
    return NC_OK;
}

/* ---- word timestamps ---- */

static const char spm_space[] = "\xE2\x96\x81"; /* U+2581, SentencePiece's word marker */

void nc_ctc_token_kinds(const char *const *pieces, int64_t V, uint8_t *kinds) {
    for (int64_t v = 0; v < V; v++) {
        const char *p = pieces ? pieces[v] : NULL;
        kinds[v] = !p                                  ? NC_CTC_TOKEN_PLAIN
                   : strcmp(p, " ") == 0               ? NC_CTC_TOKEN_DELIMITER
                   : strncmp(p, spm_space, 3) == 0     ? NC_CTC_TOKEN_WORD_START
                                                       : NC_CTC_TOKEN_PLAIN;
    }
}

static void set_word(nc_ctc_word *w, const nc_ctc_hyp *h, int64_t first, int64_t last,
                     double stride) {
    w->first_token = first;
    w->last_token = last;
    w->start_offset = h->tokens[first].start_offset;
    w->end_offset = h->tokens[last].end_offset;
    w->start = (double)w->start_offset * stride;
    w->end = (double)w->end_offset * stride;
}

nc_status nc_ctc_word_offsets(const nc_ctc_hyp *h, const uint8_t *kinds, int64_t V,
                              double frame_stride, nc_ctc_word **words, int64_t *n_words) {
    *words = NULL;
    *n_words = 0;
    for (int64_t i = 0; i < h->n_tokens; i++)
        if (h->tokens[i].id < 0 || h->tokens[i].id >= V)
            return nc_error(NC_ERR_INVALID_ARG, "ctc words: token %lld has id %lld outside [0, %lld)",
                            (long long)i, (long long)h->tokens[i].id, (long long)V);
    if (!h->n_tokens) return NC_OK;
    /* at most one word per token */
    nc_ctc_word *w = nc_malloc((size_t)h->n_tokens * sizeof(nc_ctc_word));
    if (!w) return nc_error(NC_ERR_OOM, "ctc words: out of memory for %lld words", (long long)h->n_tokens);
    int64_t n = 0, first = -1; /* first token of the word being built, -1 when none */
    for (int64_t i = 0; i < h->n_tokens; i++) {
        uint8_t k = kinds[h->tokens[i].id];
        if (k == NC_CTC_TOKEN_WORD_START || k == NC_CTC_TOKEN_DELIMITER) {
            if (first >= 0) set_word(&w[n++], h, first, i - 1, frame_stride);
            first = k == NC_CTC_TOKEN_DELIMITER ? -1 : i;
        } else if (first < 0) {
            first = i;
        }
    }
    if (first >= 0) set_word(&w[n++], h, first, h->n_tokens - 1, frame_stride);
    if (n) {
        /* NeMo forces the first word's start to the first token's start,
         * which differs when the hypothesis begins with delimiters */
        w[0].start_offset = h->tokens[0].start_offset;
        w[0].start = (double)w[0].start_offset * frame_stride;
        *words = w;
        *n_words = n;
    } else {
        nc_free(w);
    }
    return NC_OK;
}

nc_status nc_ctc_word_text(const nc_ctc_hyp *h, const nc_ctc_word *w, const char *const *pieces,
                           int64_t V, char *buf, size_t cap) {
    if (!cap) return nc_error(NC_ERR_INVALID_ARG, "ctc word text: empty buffer");
    if (w->first_token < 0 || w->last_token >= h->n_tokens || w->first_token > w->last_token)
        return nc_error(NC_ERR_INVALID_ARG, "ctc word text: token range [%lld, %lld] outside %lld tokens",
                        (long long)w->first_token, (long long)w->last_token,
                        (long long)h->n_tokens);
    size_t n = 0;
    for (int64_t i = w->first_token; i <= w->last_token; i++) {
        int64_t id = h->tokens[i].id;
        const char *p = id >= 0 && id < V && pieces[id] ? pieces[id] : "";
        while (*p) {
            char c = *p;
            if (strncmp(p, spm_space, 3) == 0) {
                c = ' ';
                p += 3;
            } else {
                p++;
            }
            if (c == ' ' && n == 0) continue; /* leading space */
            if (n + 1 >= cap)
                return nc_error(NC_ERR_INVALID_ARG, "ctc word text: buffer of %zu bytes too small", cap);
            buf[n++] = c;
        }
    }
    while (n > 0 && buf[n - 1] == ' ') n--;
    buf[n] = '\0';
    return NC_OK;
}
