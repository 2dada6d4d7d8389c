/* BERT's basic tokenisation (HF transformers BertTokenizer.BasicTokenizer,
 * and the equivalent BertNormalizer + BertPreTokenizer of HF tokenizers used
 * by the WordPiece trainer). Not public. */
#ifndef NC_TEXT_BERT_BASIC_H
#define NC_TEXT_BERT_BASIC_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/status.h"
#include "core/strbuf.h"

typedef struct nc_bert_basic_opts {
    bool lower_case;    /* str.lower() each word */
    bool strip_accents; /* NFD, then drop non-spacing marks (Mn) */
    bool chinese_chars; /* put spaces around CJK ideographs */
    bool nfc;           /* NFC after cleaning (transformers >= 4.32 BasicTokenizer; not the HF tokenizers trainer) */
} nc_bert_basic_opts;

/* A list of strings stored NUL-separated in one buffer. */
typedef struct nc_str_list {
    nc_strbuf buf;
    int64_t *off; /* start of string i in buf.p */
    int64_t n, cap;
} nc_str_list;

static inline const char *nc_str_list_at(const nc_str_list *l, int64_t i) { return l->buf.p + l->off[i]; }
static inline int64_t nc_str_list_len(const nc_str_list *l, int64_t i) {
    return (i + 1 < l->n ? l->off[i + 1] : (int64_t)l->buf.n + 1) - l->off[i] - 1;
}
nc_status nc_str_list_push(nc_str_list *l, const char *s, int64_t len);
void nc_str_list_clear(nc_str_list *l);
void nc_str_list_free(nc_str_list *l);

/* Appends the tokens of text[0..len) to out: clean (drop NUL, U+FFFD,
 * controls; whitespace -> ' '), space out CJK, NFC, split at whitespace, lower /
 * strip accents per word, split off every punctuation character. */
nc_status nc_bert_basic_tokenize(const nc_bert_basic_opts *o, const char *text, int64_t len, nc_str_list *out);

/* BERT's character classes (tokenization_bert.py). */
bool nc_bert_is_punct(uint32_t cp);
bool nc_bert_is_cjk(uint32_t cp);

#endif
