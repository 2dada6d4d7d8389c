/* WordPiece (NeMo `wpe`: HF BertTokenizer over dir/vocab.txt).
 *
 * Encoding (transformers tokenization_bert.py, 4.32+): split the text at the
 * special tokens ([PAD] [UNK] [CLS] [SEP] [MASK], kept whole as HF's
 * added-token trie does), BERT basic tokenisation of the rest, then per word
 * greedy longest-match-first: the longest vocabulary entry that prefixes the
 * word, then the longest "##"-prefixed entry for the remainder, and so on; a
 * word with an unmatched remainder, or longer than max_input_chars_per_word
 * characters, becomes [UNK] as a whole.
 * Decoding (NeMo AutoTokenizer.ids_to_text): drop special tokens, join with
 * spaces, glue "##" continuations: " ".join(t).replace(" ##", "").strip(). */
#include <string.h>

#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "text/bert_basic.h"
#include "text/piece_trie.h"
#include "text/tokenizer_impl.h"
#include "text/unicode.h"

static const char *const kSpecial[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
enum { SP_PAD, SP_UNK, SP_CLS, SP_SEP, SP_MASK, SP_N };

typedef struct wordpiece {
    char *pool;     /* the vocab file, lines NUL-terminated in place */
    char **piece;   /* per id */
    int64_t n;
    nc_trie vocab;  /* token -> id (a repeated token keeps its last line, as load_vocab's dict) */
    int32_t special[SP_N];
    nc_bert_basic_opts basic;
    int64_t max_chars;
} wordpiece;

nc_wordpiece_params nc_wordpiece_default_params(void) {
    return (nc_wordpiece_params){
        .lower_case = false,
        .strip_accents = -1,
        .tokenize_chinese_chars = true,
        .max_input_chars_per_word = 100,
    };
}

static bool is_special(const wordpiece *wp, int32_t id) {
    for (int k = 0; k < SP_N; k++)
        if (wp->special[k] >= 0 && wp->special[k] == id) return true;
    return false;
}

/* Greedy longest-match-first over one word (WordpieceTokenizer.tokenize). */
static nc_status encode_word(const wordpiece *wp, const char *w, int64_t len, nc_token_ids *out) {
    if (nc_utf8_count(w, len) > wp->max_chars) return nc_token_ids_push(out, wp->special[SP_UNK]);
    int64_t first = out->n;
    for (int64_t start = 0; start < len;) {
        int32_t node = 0;
        if (start > 0) {
            node = nc_trie_step(&wp->vocab, node, '#');
            if (node >= 0) node = nc_trie_step(&wp->vocab, node, '#');
        }
        int64_t best_end = -1;
        int32_t best_id = -1;
        for (int64_t pos = start; pos < len && node >= 0; pos++) {
            node = nc_trie_step(&wp->vocab, node, (uint8_t)w[pos]);
            if (node < 0) break;
            bool boundary = pos + 1 == len || ((unsigned char)w[pos + 1] & 0xC0) != 0x80;
            int32_t id = nc_trie_value(&wp->vocab, node);
            if (boundary && id >= 0) {
                best_end = pos + 1;
                best_id = id;
            }
        }
        if (best_id < 0) {
            out->n = first; /* the whole word is unknown */
            return nc_token_ids_push(out, wp->special[SP_UNK]);
        }
        nc_status st = nc_token_ids_push(out, best_id);
        if (st) return st;
        start = best_end;
    }
    return NC_OK;
}

static nc_status encode_chunk(const wordpiece *wp, const char *s, int64_t len, nc_str_list *words, nc_token_ids *out) {
    nc_str_list_clear(words);
    nc_status st = nc_bert_basic_tokenize(&wp->basic, s, len, words);
    for (int64_t i = 0; i < words->n && !st; i++)
        st = encode_word(wp, nc_str_list_at(words, i), nc_str_list_len(words, i), out);
    return st;
}

static nc_status wp_encode(const void *impl, const char *text, int64_t len, nc_token_ids *out) {
    const wordpiece *wp = impl;
    nc_str_list words = {0};
    nc_status st = NC_OK;
    int64_t chunk = 0;
    for (int64_t i = 0; i < len && !st;) {
        int k = SP_N;
        if (text[i] == '[')
            for (k = 0; k < SP_N; k++) {
                int64_t kl = (int64_t)strlen(kSpecial[k]);
                if (wp->special[k] >= 0 && kl <= len - i && memcmp(text + i, kSpecial[k], (size_t)kl) == 0) break;
            }
        if (k == SP_N) {
            i++;
            continue;
        }
        st = encode_chunk(wp, text + chunk, i - chunk, &words, out);
        if (!st) st = nc_token_ids_push(out, wp->special[k]);
        i += (int64_t)strlen(kSpecial[k]);
        chunk = i;
    }
    if (!st) st = encode_chunk(wp, text + chunk, len - chunk, &words, out);
    nc_str_list_free(&words);
    return st;
}

static nc_status wp_decode(const void *impl, const int32_t *ids, int64_t n, nc_strbuf *out) {
    const wordpiece *wp = impl;
    nc_status st = NC_OK;
    nc_sb_clear(out);
    for (int64_t i = 0; i < n && !st; i++) {
        if (ids[i] < 0 || ids[i] >= wp->n)
            return nc_error(NC_ERR_INVALID_ARG, "wordpiece: invalid id %d at position %lld (vocabulary has %lld)",
                            ids[i], (long long)i, (long long)wp->n);
        if (is_special(wp, ids[i])) continue;
        const char *p = wp->piece[ids[i]];
        if (!strncmp(p, "##", 2)) p += 2;
        else if (out->n > 0) st = nc_sb_putc(out, ' ');
        if (!st) st = nc_sb_append(out, p, (int64_t)strlen(p));
    }
    /* .strip(): trailing/leading whitespace of the joined string */
    int64_t b = 0;
    while (b < (int64_t)out->n && (out->p[b] == ' ' || out->p[b] == '\t' || out->p[b] == '\n' || out->p[b] == '\r')) b++;
    int64_t e = out->n;
    while (e > b && (out->p[e - 1] == ' ' || out->p[e - 1] == '\t' || out->p[e - 1] == '\n' || out->p[e - 1] == '\r')) e--;
    if (b > 0) memmove(out->p, out->p + b, (size_t)(e - b));
    out->n = e - b;
    if (out->p) out->p[out->n] = 0;
    return st;
}

static const char *wp_id_to_piece(const void *impl, int32_t id) { return ((const wordpiece *)impl)->piece[id]; }

static int32_t wp_piece_to_id(const void *impl, const char *piece) {
    return nc_trie_get(&((const wordpiece *)impl)->vocab, piece, (int64_t)strlen(piece));
}

static void wp_destroy(void *impl) {
    wordpiece *wp = impl;
    if (!wp) return;
    nc_free(wp->pool);
    nc_free(wp->piece);
    nc_trie_free(&wp->vocab);
    nc_free(wp);
}

static const nc_tokenizer_vtbl wp_vtbl = {
    .encode = wp_encode,
    .decode = wp_decode,
    .id_to_piece = wp_id_to_piece,
    .piece_to_id = wp_piece_to_id,
    .destroy = wp_destroy,
};

/* Takes ownership of pool (NUL-terminated, len bytes). load_vocab: one token
 * per line, the line without its '\n' (a '\r' stays). */
static nc_status build(char *pool, int64_t len, const nc_wordpiece_params *p, nc_tokenizer **out) {
    wordpiece *wp = nc_calloc(1, sizeof *wp);
    if (!wp) {
        nc_free(pool);
        return nc_error(NC_ERR_OOM, "wordpiece: cannot allocate");
    }
    wp->pool = pool;
    int64_t lines = 0;
    for (int64_t i = 0; i < len; i++) lines += pool[i] == '\n';
    if (len > 0 && pool[len - 1] != '\n') lines++;
    wp->piece = nc_malloc((size_t)(lines + 1) * sizeof *wp->piece);
    if (!wp->piece) {
        wp_destroy(wp);
        return nc_error(NC_ERR_OOM, "wordpiece: cannot allocate %lld entries", (long long)lines);
    }
    nc_status st = NC_OK;
    for (char *s = pool, *end = pool + len; s < end && !st;) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *e = nl ? nl : end;
        *e = 0;
        if (wp->n >= INT32_MAX) st = nc_error(NC_ERR_FORMAT, "wordpiece: vocabulary too large");
        else if (memchr(s, 0, (size_t)(e - s))) st = nc_error(NC_ERR_FORMAT, "wordpiece: line %lld holds a NUL byte", (long long)wp->n + 1);
        else st = nc_trie_put(&wp->vocab, s, e - s, (int32_t)wp->n);
        wp->piece[wp->n++] = s;
        s = e + 1;
    }
    if (!st && wp->n == 0) st = nc_error(NC_ERR_FORMAT, "wordpiece: empty vocabulary");
    for (int k = 0; k < SP_N && !st; k++) wp->special[k] = nc_trie_get(&wp->vocab, kSpecial[k], (int64_t)strlen(kSpecial[k]));
    if (!st && wp->special[SP_UNK] < 0) st = nc_error(NC_ERR_FORMAT, "wordpiece: the vocabulary has no [UNK] token");
    if (st) {
        wp_destroy(wp);
        return st;
    }
    nc_wordpiece_params d = nc_wordpiece_default_params();
    if (!p) p = &d;
    wp->basic = (nc_bert_basic_opts){
        .lower_case = p->lower_case,
        .strip_accents = p->strip_accents < 0 ? p->lower_case : p->strip_accents != 0,
        .chinese_chars = p->tokenize_chinese_chars,
        .nfc = true,
    };
    wp->max_chars = p->max_input_chars_per_word > 0 ? p->max_input_chars_per_word : 100;
    nc_tokenizer_special sx = {
        .unk_id = wp->special[SP_UNK],
        .bos_id = -1,
        .eos_id = -1,
        .pad_id = wp->special[SP_PAD],
        .cls_id = wp->special[SP_CLS],
        .sep_id = wp->special[SP_SEP],
        .mask_id = wp->special[SP_MASK],
    };
    return nc_tokenizer_wrap(NC_TOKENIZER_WORDPIECE, &wp_vtbl, wp, wp->n, sx, out);
}

nc_status nc_tokenizer_wordpiece_from_memory(const char *vocab, int64_t len, const nc_wordpiece_params *p,
                                             nc_tokenizer **out) {
    *out = NULL;
    if (!vocab || len < 0) return nc_error(NC_ERR_INVALID_ARG, "wordpiece: no vocabulary");
    char *pool = nc_malloc((size_t)len + 1);
    if (!pool) return nc_error(NC_ERR_OOM, "wordpiece: cannot allocate %lld bytes", (long long)len);
    memcpy(pool, vocab, (size_t)len);
    pool[len] = 0;
    return build(pool, len, p, out);
}

nc_status nc_tokenizer_wordpiece_load(const char *vocab_path, const nc_wordpiece_params *p, nc_tokenizer **out) {
    *out = NULL;
    void *buf;
    size_t len;
    nc_status st = nc_read_file(vocab_path, &buf, &len);
    if (st) return st;
    st = build(buf, (int64_t)len, p, out);
    if (st) nc_error_prefix(st, "loading WordPiece vocabulary '%s'", vocab_path);
    return st;
}
