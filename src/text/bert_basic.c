/* BERT basic tokenisation, following transformers/models/bert/
 * tokenization_bert.py BasicTokenizer: _clean_text, _tokenize_chinese_chars,
 * unicodedata.normalize("NFC") (transformers >= 4.32), whitespace_tokenize,
 * lower() + _run_strip_accents, _run_split_on_punc. One simplification: the
 * accent-stripping NFD does not reorder marks across characters (it only
 * decides which marks are dropped, so the result is the same for text whose
 * marks are all Mn). */
#include "text/bert_basic.h"

#include <string.h>

#include "core/vec.h"
#include "nemoc/alloc.h"
#include "text/unicode.h"

nc_status nc_str_list_push(nc_str_list *l, const char *s, int64_t len) {
    if (nc_vec_reserve(&l->off, &l->cap, l->n + 1, sizeof *l->off))
        return nc_error(NC_ERR_OOM, "string list: cannot allocate %lld entries", (long long)(l->n + 1));
    l->off[l->n] = l->n ? l->buf.n + 1 : 0;
    nc_status st = l->n ? nc_sb_putc(&l->buf, 0) : NC_OK;
    if (!st) st = nc_sb_append(&l->buf, s, len);
    if (!st) l->n++;
    return st;
}

void nc_str_list_clear(nc_str_list *l) {
    l->n = 0;
    nc_sb_clear(&l->buf);
}

void nc_str_list_free(nc_str_list *l) {
    nc_sb_free(&l->buf);
    nc_free(l->off);
    memset(l, 0, sizeof *l);
}

/* _is_punctuation: the ASCII symbol blocks count as punctuation too. */
bool nc_bert_is_punct(uint32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        return true;
    return cp >= 128 && nc_uni_is_punct(cp);
}

/* _is_chinese_char: the CJK Unified Ideographs blocks (not Hangul/kana). */
bool nc_bert_is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static bool is_ws(uint32_t cp) { return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || nc_uni_is_zs(cp); }
static bool is_ctrl(uint32_t cp) { return cp != '\t' && cp != '\n' && cp != '\r' && nc_uni_is_ctrl(cp); }
/* What str.split() still treats as a separator after cleaning. */
static bool is_split(uint32_t cp) { return cp == ' ' || cp == 0x2028 || cp == 0x2029; }

/* Lower-cases / strips accents of one word (code points) into w. */
static nc_status transform_word(const nc_bert_basic_opts *o, const uint32_t *cps, int64_t n, nc_strbuf *w) {
    nc_status st = NC_OK;
    nc_sb_clear(w);
    for (int64_t i = 0; i < n && !st; i++) {
        uint32_t lo[3];
        int nl = 1;
        lo[0] = cps[i];
        if (o->lower_case) nl = nc_uni_lower(cps[i], lo);
        for (int k = 0; k < nl && !st; k++) {
            if (!o->strip_accents) {
                st = nc_sb_put_cp(w, lo[k]);
                continue;
            }
            uint32_t d[4];
            int nd = nc_uni_nfd(lo[k], d);
            for (int j = 0; j < nd && !st; j++)
                if (!nc_uni_is_mn(d[j])) st = nc_sb_put_cp(w, d[j]);
        }
    }
    return st;
}

/* Splits a transformed word at punctuation (_run_split_on_punc). */
static nc_status split_punct(const nc_strbuf *w, nc_str_list *out) {
    const char *s = w->p, *end = w->p + w->n;
    const char *start = s;
    nc_status st = NC_OK;
    while (s < end && !st) {
        int mb;
        uint32_t cp = nc_utf8_decode(s, end, &mb);
        if (nc_bert_is_punct(cp)) {
            if (s > start) st = nc_str_list_push(out, start, s - start);
            if (!st) st = nc_str_list_push(out, s, mb);
            start = s + mb;
        }
        s += mb;
    }
    if (!st && end > start) st = nc_str_list_push(out, start, end - start);
    return st;
}

nc_status nc_bert_basic_tokenize(const nc_bert_basic_opts *o, const char *text, int64_t len, nc_str_list *out) {
    /* Decode and clean into code points, spacing out CJK ideographs. */
    uint32_t *cps = nc_malloc((size_t)(3 * len + 1) * sizeof *cps);
    if (!cps) return nc_error(NC_ERR_OOM, "bert: cannot allocate %lld code points", (long long)(3 * len + 1));
    int64_t n = 0;
    for (const char *s = text, *end = text + len; s < end;) {
        int mb;
        uint32_t cp = nc_utf8_decode(s, end, &mb);
        s += mb;
        if (cp == 0 || cp == NC_UNI_REPLACEMENT || is_ctrl(cp)) continue;
        if (is_ws(cp)) {
            cps[n++] = ' ';
        } else if (o->chinese_chars && nc_bert_is_cjk(cp)) {
            cps[n++] = ' ';
            cps[n++] = cp;
            cps[n++] = ' ';
        } else {
            cps[n++] = cp;
        }
    }
    if (o->nfc && n > 0) {
        uint32_t *norm = nc_malloc((size_t)(4 * n) * sizeof *norm);
        if (!norm) {
            nc_free(cps);
            return nc_error(NC_ERR_OOM, "bert: cannot allocate %lld code points", (long long)(4 * n));
        }
        n = nc_uni_nfc(cps, n, norm);
        nc_free(cps);
        cps = norm;
    }
    nc_strbuf w = {0};
    nc_status st = NC_OK;
    for (int64_t i = 0; i < n && !st;) {
        if (is_split(cps[i])) {
            i++;
            continue;
        }
        int64_t j = i;
        while (j < n && !is_split(cps[j])) j++;
        st = transform_word(o, cps + i, j - i, &w);
        if (!st && w.n > 0) st = split_punct(&w, out);
        i = j;
    }
    nc_sb_free(&w);
    nc_free(cps);
    return st;
}
