/* Character tokenizer of NeMo's char models (parsers.py CharParser and
 * ENCharParser, as built by make_parser(labels, 'en'|'base') with unk_id =
 * blank_id = -1, so characters outside the labels are dropped).
 *
 * Tokenising (CharParser._tokenize): split the normalised text at ' '; emit
 * the ' ' label between words; a word equal to a multi-character label is
 * that label; otherwise one label per character (code point). Decoding joins
 * the labels of the ids. */
#include <string.h>

#include "nemoc/alloc.h"
#include "text/en_text.h"
#include "text/piece_trie.h"
#include "text/tokenizer_impl.h"
#include "text/unicode.h"

typedef struct char_tok {
    char **labels;
    int64_t n;
    nc_trie map;       /* label -> last index holding it (Python dict) */
    int32_t space_id;  /* labels_map.get(' ', -1) */
    bool keep[128];    /* ASCII punctuation kept by the 'en' table */
    nc_char_params p;
} char_tok;

nc_char_params nc_char_default_params(void) {
    return (nc_char_params){.parser = NC_CHAR_PARSER_EN, .normalize = true, .lowercase = true};
}

/* CharParser._normalize: text.strip(), then text.lower(). */
static nc_status base_normalize(const char_tok *ct, const char *text, int64_t len, nc_strbuf *out) {
    const char *s = text, *end = text + len;
    int mb;
    while (s < end && nc_uni_is_space(nc_utf8_decode(s, end, &mb))) s += mb;
    const char *e = s;
    for (const char *q = s; q < end;) {
        uint32_t cp = nc_utf8_decode(q, end, &mb);
        q += mb;
        if (!nc_uni_is_space(cp)) e = q;
    }
    nc_status st = NC_OK;
    for (const char *q = s; q < e && !st;) {
        uint32_t cp = nc_utf8_decode(q, e, &mb);
        q += mb;
        uint32_t lo[3];
        int n = 1;
        lo[0] = cp;
        if (ct->p.lowercase) n = nc_uni_lower(cp, lo);
        for (int k = 0; k < n && !st; k++) st = nc_sb_put_cp(out, lo[k]);
    }
    return st;
}

static nc_status normalize(const char_tok *ct, const char *text, int64_t len, nc_strbuf *out) {
    nc_sb_clear(out);
    if (!ct->p.normalize) return nc_sb_append(out, text, len);
    if (ct->p.parser == NC_CHAR_PARSER_BASE) return base_normalize(ct, text, len, out);
    nc_status st = nc_en_clean_text(text, len, ct->keep, out);
    if (st)
        nc_error_prefix(st, "char parser: cannot normalise the text (NeMo's parser returns None and drops such an utterance)");
    return st;
}

static nc_status ct_encode(const void *impl, const char *text, int64_t len, nc_token_ids *out) {
    const char_tok *ct = impl;
    nc_strbuf norm = {0};
    nc_status st = normalize(ct, text, len, &norm);
    const char *s = norm.p ? norm.p : "", *end = s + norm.n;
    /* text.split(' '): a word between every pair of spaces, possibly empty;
     * an empty text still yields one (empty) word */
    bool first = true;
    while (!st) {
        const char *sp = memchr(s, ' ', (size_t)(end - s));
        const char *we = sp ? sp : end;
        if (!first && ct->space_id >= 0) st = nc_token_ids_push(out, ct->space_id);
        first = false;
        int32_t whole = -1;
        if (!st && we - s > 0) whole = nc_trie_get(&ct->map, s, we - s);
        if (!st && whole >= 0 && nc_utf8_count(s, we - s) > 1) {
            st = nc_token_ids_push(out, whole);
        } else {
            for (const char *q = s; q < we && !st;) {
                int mb;
                nc_utf8_decode(q, we, &mb);
                int32_t id = nc_trie_get(&ct->map, q, mb);
                if (id >= 0) st = nc_token_ids_push(out, id);
                q += mb;
            }
        }
        if (!sp) break;
        s = sp + 1;
    }
    nc_sb_free(&norm);
    return st;
}

static nc_status ct_decode(const void *impl, const int32_t *ids, int64_t n, nc_strbuf *out) {
    const char_tok *ct = impl;
    nc_sb_clear(out);
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= ct->n)
            return nc_error(NC_ERR_INVALID_ARG, "char tokenizer: invalid id %d at position %lld (%lld labels)", ids[i],
                            (long long)i, (long long)ct->n);
        nc_status st = nc_sb_append(out, ct->labels[ids[i]], (int64_t)strlen(ct->labels[ids[i]]));
        if (st) return st;
    }
    return NC_OK;
}

static const char *ct_id_to_piece(const void *impl, int32_t id) { return ((const char_tok *)impl)->labels[id]; }

static int32_t ct_piece_to_id(const void *impl, const char *piece) {
    return nc_trie_get(&((const char_tok *)impl)->map, piece, (int64_t)strlen(piece));
}

static void ct_destroy(void *impl) {
    char_tok *ct = impl;
    if (!ct) return;
    for (int64_t i = 0; i < ct->n; i++) nc_free(ct->labels[i]);
    nc_free(ct->labels);
    nc_trie_free(&ct->map);
    nc_free(ct);
}

static const nc_tokenizer_vtbl ct_vtbl = {
    .encode = ct_encode,
    .decode = ct_decode,
    .id_to_piece = ct_id_to_piece,
    .piece_to_id = ct_piece_to_id,
    .destroy = ct_destroy,
};

/* ENCharParser.__make_trans_table: string.punctuation minus "+&%", minus
 * every label (str.replace, so a multi-character label removes a substring);
 * what is removed from that string is kept by the table. */
static void make_keep_table(char_tok *ct) {
    char punct[64];
    int np = 0;
    for (int c = 33; c < 127; c++) {
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && c != '+' && c != '&' && c != '%') punct[np++] = (char)c;
    }
    punct[np] = 0;
    for (int64_t i = 0; i < ct->n; i++) {
        const char *l = ct->labels[i];
        size_t ll = strlen(l);
        if (!ll) continue;
        char *hit;
        while ((hit = strstr(punct, l)) != NULL) memmove(hit, hit + ll, strlen(hit + ll) + 1);
    }
    memset(ct->keep, 0, sizeof ct->keep);
    for (int c = 33; c < 127; c++) {
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && !strchr(punct, c)) ct->keep[c] = true;
    }
}

nc_status nc_tokenizer_char_new(const char *const *labels, int64_t n_labels, const nc_char_params *p,
                                nc_tokenizer **out) {
    *out = NULL;
    if (!labels || n_labels <= 0 || n_labels >= INT32_MAX)
        return nc_error(NC_ERR_INVALID_ARG, "char tokenizer: need 1..2^31-2 labels, got %lld", (long long)n_labels);
    char_tok *ct = nc_calloc(1, sizeof *ct);
    if (!ct) return nc_error(NC_ERR_OOM, "char tokenizer: cannot allocate");
    ct->p = p ? *p : nc_char_default_params();
    ct->labels = nc_calloc((size_t)n_labels, sizeof *ct->labels);
    nc_status st = ct->labels ? NC_OK : nc_error(NC_ERR_OOM, "char tokenizer: cannot allocate labels");
    for (int64_t i = 0; i < n_labels && !st; i++) {
        if (!labels[i]) {
            st = nc_error(NC_ERR_INVALID_ARG, "char tokenizer: label %lld is NULL", (long long)i);
            break;
        }
        ct->labels[i] = nc_strdup(labels[i]);
        ct->n = i + 1;
        if (!ct->labels[i]) st = nc_error(NC_ERR_OOM, "char tokenizer: cannot copy labels");
        else if (!labels[i][0]) st = nc_error(NC_ERR_INVALID_ARG, "char tokenizer: label %lld is empty", (long long)i);
        else st = nc_trie_put(&ct->map, labels[i], (int64_t)strlen(labels[i]), (int32_t)i);
    }
    if (st) {
        ct_destroy(ct);
        return st;
    }
    ct->space_id = nc_trie_get(&ct->map, " ", 1);
    make_keep_table(ct);
    nc_tokenizer_special sx = {.unk_id = -1, .bos_id = -1, .eos_id = -1, .pad_id = -1, .cls_id = -1, .sep_id = -1, .mask_id = -1};
    return nc_tokenizer_wrap(NC_TOKENIZER_CHAR, &ct_vtbl, ct, ct->n, sx, out);
}

nc_status nc_char_normalize(const nc_tokenizer *t, const char *text, int64_t len, char **out) {
    *out = NULL;
    if (!t || t->kind != NC_TOKENIZER_CHAR) return nc_error(NC_ERR_INVALID_ARG, "nc_char_normalize: not a char tokenizer");
    if (!text && len != 0) return nc_error(NC_ERR_INVALID_ARG, "nc_char_normalize: NULL text");
    if (len < 0) len = (int64_t)strlen(text);
    nc_strbuf b = {0};
    nc_status st = normalize(t->impl, text ? text : "", len, &b);
    if (st) {
        nc_sb_free(&b);
        return st;
    }
    *out = nc_sb_take(&b);
    return *out ? NC_OK : nc_error(NC_ERR_OOM, "nc_char_normalize: out of memory");
}
