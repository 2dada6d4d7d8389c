/* SentencePiece unigram, char and word segmentation of normalised text.
 *
 * Unigram follows unigram_model.cc Model::EncodeOptimized (the default
 * encoder): a Viterbi pass over byte positions keeping only the best path
 * ending at each position. Pieces come from walking the vocabulary trie from
 * every character start; a user-defined piece scores length * max_score - 0.1
 * so it always wins; a character with no single-character piece gets an
 * <unk> node scored min_score - 10 (kUnkPenalty). The arithmetic keeps the
 * reference's float/double mix so ties resolve identically. */
#include <string.h>

#include "nemoc/alloc.h"
#include "text/spm_model.h"
#include "text/unicode.h"

static const float kUnkPenalty = 10.0f;

typedef struct best_node {
    int32_t id;
    float score;      /* best path score ending here */
    int64_t starts_at; /* -1: not reached yet */
} best_node;

nc_status spm_encode_unigram(const spm *sp, const char *s, int64_t len, spm_segs *out) {
    out->n = 0;
    if (len == 0) return NC_OK;
    best_node *best = nc_malloc((size_t)(len + 1) * sizeof *best);
    if (!best) return nc_error(NC_ERR_OOM, "unigram: cannot allocate a %lld-position lattice", (long long)len);
    for (int64_t i = 0; i <= len; i++) best[i] = (best_node){.id = -1, .score = 0.0f, .starts_at = -1};
    const float unk_score = sp->min_score - kUnkPenalty;
    const spm_piece *pieces = sp->m.pieces;

    for (int64_t start = 0; start < len;) {
        const float here = best[start].score;
        bool has_single = false;
        int64_t mblen = nc_utf8_lead_len((unsigned char)s[start]);
        if (mblen > len - start) mblen = len - start;
        int32_t node = 0;
        for (int64_t pos = start; pos < len; pos++) {
            node = nc_trie_step(&sp->normal, node, (uint8_t)s[pos]);
            if (node < 0) break;
            int32_t id = nc_trie_value(&sp->normal, node);
            if (id < 0 || pieces[id].type == SPM_UNUSED) continue;
            int64_t length = pos + 1 - start;
            /* unigram_model.cc: `score` is double (the ternary mixes double
             * and float), the sum is double, the stored best is float. */
            double score;
            if (pieces[id].type == SPM_USER_DEFINED) {
                float scaled = (float)length * sp->max_score;
                score = (double)scaled - 0.1;
            } else {
                score = (double)pieces[id].score;
            }
            double cand = score + (double)here;
            best_node *t = &best[pos + 1];
            if (t->starts_at == -1 || cand > (double)t->score) {
                t->score = (float)cand;
                t->starts_at = start;
                t->id = id;
            }
            if (!has_single && length == mblen) has_single = true;
        }
        if (!has_single) {
            best_node *t = &best[start + mblen];
            float cand = unk_score + here;
            if (t->starts_at == -1 || cand > t->score) {
                t->score = cand;
                t->starts_at = start;
                t->id = sp->unk_id;
            }
        }
        start += mblen;
    }

    /* Backtrack, then reverse into reading order. */
    nc_status st = NC_OK;
    for (int64_t end = len; end > 0 && !st;) {
        const best_node *b = &best[end];
        if (b->starts_at < 0 || b->starts_at >= end) {
            st = nc_error(NC_ERR_INTERNAL, "unigram: lattice position %lld unreachable", (long long)end);
            break;
        }
        st = spm_segs_push(out, b->starts_at, end - b->starts_at, b->id);
        end = b->starts_at;
    }
    for (int64_t i = 0, j = out->n - 1; i < j; i++, j--) {
        spm_seg tmp = out->v[i];
        out->v[i] = out->v[j];
        out->v[j] = tmp;
    }
    nc_free(best);
    return st;
}

/* char_model.cc: one piece per character (or user-defined symbol). */
nc_status spm_encode_char(const spm *sp, const char *s, int64_t len, spm_segs *out) {
    out->n = 0;
    for (int64_t pos = 0; pos < len;) {
        int64_t mb = spm_prefix_match(&sp->user_defined, s + pos, len - pos, NULL);
        nc_status st = spm_segs_push(out, pos, mb, spm_piece_to_id(sp, s + pos, mb));
        if (st) return st;
        pos += mb;
    }
    return NC_OK;
}

/* word_model.cc: SplitIntoWords() with its defaults (a new word at the start
 * and at every U+2581, whatever treat_whitespace_as_suffix says). */
nc_status spm_encode_word(const spm *sp, const char *s, int64_t len, spm_segs *out) {
    static const char kSpace[] = "\xe2\x96\x81";
    out->n = 0;
    int64_t word = -1;
    for (int64_t pos = 0; pos < len;) {
        int64_t mb = nc_utf8_lead_len((unsigned char)s[pos]);
        if (mb > len - pos) mb = len - pos;
        bool is_ws = mb == 3 && memcmp(s + pos, kSpace, 3) == 0;
        if (pos == 0 || is_ws) {
            if (word >= 0) {
                nc_status st = spm_segs_push(out, word, pos - word, spm_piece_to_id(sp, s + word, pos - word));
                if (st) return st;
            }
            word = pos;
        }
        pos += mb;
    }
    if (word >= 0) return spm_segs_push(out, word, len - word, spm_piece_to_id(sp, s + word, len - word));
    return NC_OK;
}
