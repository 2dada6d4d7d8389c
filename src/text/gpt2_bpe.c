/* GPT-2 byte-level BPE from vocab.json + merges.txt (NeMo `library:
 * megatron`, GPT2BPETokenizer: Megatron's gpt2_tokenization.py / HF
 * GPT2Tokenizer; GPT-2's own release names them encoder.json + vocab.bpe),
 * and the tokenizer handle every byte-level BPE model is served through.
 *
 * NeMo builds GPT2BPETokenizer as HF's AutoTokenizer("gpt2", vocab_file,
 * merges_file) (nemo/collections/nlp/modules/common/tokenizer_utils.py,
 * get_nmt_tokenizer -> get_tokenizer), whose tokenize() keeps its special
 * token "<|endoftext|>" whole wherever it occurs in the text; so does this
 * loader (openai/gpt-2's encoder.py and the npm gpt-3-encoder split it into
 * 7 pieces instead). Its id is eos = bos = eod (50256 for GPT-2), the
 * end-of-document token data preprocessing appends. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "text/bpe_model.h"
#include "text/tokenizer_impl.h"

nc_status nc_bpe_read_json(const char *path, const char *what, cJSON **out) {
    *out = NULL;
    void *buf = NULL;
    size_t len = 0;
    nc_status st = nc_check_readable(path, what);
    if (st || (st = nc_read_file(path, &buf, &len))) return st;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!j) {
        /* cJSON leaves `end` at the byte where parsing failed */
        const char *b = buf, *e = end && end >= b && end <= b + len ? end : b;
        long line = 1, col = 1;
        for (const char *p = b; p < e; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        st = nc_error(NC_ERR_FORMAT, "%s '%s': invalid JSON at line %ld, column %ld", what, path, line, col);
    }
    nc_free(buf);
    *out = j;
    return st;
}

nc_status nc_bpe_vocab_from_json(nc_bpe *m, const cJSON *vocab, const char *where) {
    if (!cJSON_IsObject(vocab)) return nc_error(NC_ERR_FORMAT, "%s: expected a JSON object {\"piece\": id, ...}", where);
    for (const cJSON *e = vocab->child; e; e = e->next) {
        double v = e->valuedouble;
        /* the range first: converting an out-of-range double is undefined */
        if (!cJSON_IsNumber(e) || !(v >= 0 && v < INT32_MAX) || v != (double)(int64_t)v)
            return nc_error(NC_ERR_FORMAT, "%s: the id of '%.60s' is not a non-negative integer", where, e->string);
        nc_status st = nc_bpe_set_piece(m, (int64_t)v, e->string, (int64_t)strlen(e->string), where);
        if (st) return st;
    }
    return NC_OK;
}

/* merges.txt: an optional "#version" first line, then one "left right"
 * merge per line, highest priority first; blank lines are skipped. */
static nc_status read_merges(nc_bpe *m, const char *path) {
    void *buf = NULL;
    size_t len = 0;
    nc_status st = nc_check_readable(path, "merges file");
    if (st || (st = nc_read_file(path, &buf, &len))) return st;
    char *s = buf, *end = s + len;
    int32_t rank = 0;
    char where[64 + 4096];
    long line = 0;
    for (char *p = s; p < end && !st; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        if (e > p && e[-1] == '\r') e--;
        snprintf(where, sizeof where, "merges file '%s' line %ld", path, line + 1);
        if ((line == 0 && e - p >= 8 && !memcmp(p, "#version", 8)) || e == p) {
            p = next;
            continue;
        }
        char *sp = memchr(p, ' ', (size_t)(e - p));
        if (!sp || sp == p || sp + 1 == e || memchr(sp + 1, ' ', (size_t)(e - sp - 1))) {
            st = nc_error(NC_ERR_FORMAT, "%s: expected two entries separated by one space, got '%.*s'", where,
                          (int)(e - p > 60 ? 60 : e - p), p);
            break;
        }
        if (rank == INT32_MAX) {
            st = nc_error(NC_ERR_FORMAT, "%s: too many merges", where);
            break;
        }
        st = nc_bpe_add_merge(m, p, sp - p, sp + 1, e - sp - 1, rank++, where);
        p = next;
    }
    nc_free(buf);
    return st;
}

static nc_status bpe_tok_encode(const void *impl, const char *text, int64_t len, nc_token_ids *out) {
    return nc_bpe_encode(impl, text, len, out);
}

static nc_status bpe_tok_decode(const void *impl, const int32_t *ids, int64_t n, nc_strbuf *out) {
    return nc_bpe_decode(impl, ids, n, out);
}

static const char *bpe_tok_id_to_piece(const void *impl, int32_t id) { return ((const nc_bpe *)impl)->piece[id]; }

static int32_t bpe_tok_piece_to_id(const void *impl, const char *piece) {
    return nc_trie_get(&((const nc_bpe *)impl)->vocab, piece, (int64_t)strlen(piece));
}

static void bpe_tok_destroy(void *impl) {
    nc_bpe_free(impl);
    nc_free(impl);
}

static const nc_tokenizer_vtbl bpe_vtbl = {
    .encode = bpe_tok_encode,
    .decode = bpe_tok_decode,
    .id_to_piece = bpe_tok_id_to_piece,
    .piece_to_id = bpe_tok_piece_to_id,
    .destroy = bpe_tok_destroy,
};

nc_status nc_bpe_wrap(nc_bpe *m, nc_tokenizer **out) {
    int32_t eod = nc_trie_get(&m->vocab, "<|endoftext|>", 13);
    if (m->eos_id < 0) m->eos_id = eod;
    nc_tokenizer_special sp = {.unk_id = -1, .bos_id = m->eos_id, .eos_id = m->eos_id, .pad_id = -1, .cls_id = -1,
                               .sep_id = -1, .mask_id = -1};
    return nc_tokenizer_wrap(NC_TOKENIZER_BYTE_BPE, &bpe_vtbl, m, m->n_ids, sp, out);
}

nc_status nc_tokenizer_gpt2_load(const char *vocab_path, const char *merges_path, nc_tokenizer **out) {
    *out = NULL;
    if (!vocab_path || !merges_path) return nc_error(NC_ERR_INVALID_ARG, "gpt2 tokenizer: vocab and merges paths are required");
    nc_bpe *m = nc_malloc(sizeof *m);
    if (!m) return nc_error(NC_ERR_OOM, "gpt2 tokenizer: out of memory");
    nc_bpe_init(m);
    cJSON *j = NULL;
    char *where = nc_strdupf("vocab file '%s'", vocab_path);
    nc_status st = where ? nc_bpe_read_json(vocab_path, "vocab file", &j) : NC_ERR_OOM;
    if (!st) st = nc_bpe_vocab_from_json(m, j, where);
    cJSON_Delete(j);
    if (!st) st = read_merges(m, merges_path);
    int32_t eod = st ? -1 : nc_trie_get(&m->vocab, "<|endoftext|>", 13);
    if (eod >= 0) st = nc_bpe_add_token(m, "<|endoftext|>", eod, false, where);
    if (!st) st = nc_bpe_finish(m, where);
    nc_free(where);
    if (st) {
        bpe_tok_destroy(m);
        return st;
    }
    return nc_bpe_wrap(m, out);
}

nc_status nc_tokenizer_gpt2_load_dir(const char *dir, nc_tokenizer **out) {
    *out = NULL;
    if (!dir) return nc_error(NC_ERR_INVALID_ARG, "gpt2 tokenizer: dir is required");
    /* HF / Megatron names first, then GPT-2's original release names */
    char *v = nc_strdupf("%s/vocab.json", dir), *mg = nc_strdupf("%s/merges.txt", dir);
    if (v && mg && access(v, F_OK) != 0) {
        char *v2 = nc_strdupf("%s/encoder.json", dir), *mg2 = nc_strdupf("%s/vocab.bpe", dir);
        if (v2 && access(v2, F_OK) == 0) {
            nc_free(v);
            nc_free(mg);
            v = v2;
            mg = mg2;
        } else {
            nc_free(v2);
            nc_free(mg2);
            nc_free(v);
            nc_free(mg);
            return nc_error(NC_ERR_NOT_FOUND, "gpt2 tokenizer: '%s' holds neither vocab.json + merges.txt nor "
                                              "encoder.json + vocab.bpe", dir);
        }
    }
    nc_status st = v && mg ? nc_tokenizer_gpt2_load(v, mg, out) : nc_error(NC_ERR_OOM, "gpt2 tokenizer: out of memory");
    nc_free(v);
    nc_free(mg);
    return st;
}
