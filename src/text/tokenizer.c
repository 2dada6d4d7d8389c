/* The tokenizer handle: dispatch to the char, SentencePiece and WordPiece
 * implementations, and NeMo's {dir, type} loader. */
#include <stdio.h>
#include <string.h>

#include "core/vec.h"
#include "nemoc/alloc.h"
#include "text/tokenizer_impl.h"

nc_status nc_token_ids_push(nc_token_ids *v, int32_t id) {
    if (nc_vec_reserve(&v->ids, &v->cap, v->n + 1, sizeof *v->ids))
        return nc_error(NC_ERR_OOM, "tokenizer: cannot allocate %lld ids", (long long)(v->n + 1));
    v->ids[v->n++] = id;
    return NC_OK;
}

void nc_token_ids_free(nc_token_ids *v) {
    if (!v) return;
    nc_free(v->ids);
    memset(v, 0, sizeof *v);
}

nc_status nc_tokenizer_wrap(nc_tokenizer_kind kind, const nc_tokenizer_vtbl *vt, void *impl, int64_t vocab_size,
                            nc_tokenizer_special special, nc_tokenizer **out) {
    nc_tokenizer *t = nc_calloc(1, sizeof *t);
    if (!t) {
        vt->destroy(impl);
        return nc_error(NC_ERR_OOM, "tokenizer: cannot allocate handle");
    }
    *t = (nc_tokenizer){.kind = kind, .vt = vt, .impl = impl, .vocab_size = vocab_size, .special = special};
    t->special.blank_id = (int32_t)vocab_size;
    *out = t;
    return NC_OK;
}

void nc_tokenizer_free(nc_tokenizer *t) {
    if (!t) return;
    t->vt->destroy(t->impl);
    nc_free(t);
}

nc_tokenizer_kind nc_tokenizer_get_kind(const nc_tokenizer *t) { return t->kind; }
int64_t nc_tokenizer_vocab_size(const nc_tokenizer *t) { return t->vocab_size; }
nc_tokenizer_special nc_tokenizer_special_ids(const nc_tokenizer *t) { return t->special; }

nc_status nc_tokenizer_encode(const nc_tokenizer *t, const char *text, int64_t len, nc_token_ids *out) {
    if (!t || !out || (!text && len != 0)) return nc_error(NC_ERR_INVALID_ARG, "tokenizer encode: NULL argument");
    if (len < 0) len = (int64_t)strlen(text);
    out->n = 0;
    return t->vt->encode(t->impl, text ? text : "", len, out);
}

nc_status nc_tokenizer_decode(const nc_tokenizer *t, const int32_t *ids, int64_t n, char **text) {
    if (!t || !text || (!ids && n > 0) || n < 0) return nc_error(NC_ERR_INVALID_ARG, "tokenizer decode: bad argument");
    *text = NULL;
    nc_strbuf b = {0};
    nc_status st = t->vt->decode(t->impl, ids, n, &b);
    if (st) {
        nc_sb_free(&b);
        return st;
    }
    *text = nc_sb_take(&b);
    return *text ? NC_OK : nc_error(NC_ERR_OOM, "tokenizer decode: out of memory");
}

const char *nc_tokenizer_id_to_piece(const nc_tokenizer *t, int32_t id) {
    if (!t || id < 0 || id >= t->vocab_size) return NULL;
    return t->vt->id_to_piece(t->impl, id);
}

int32_t nc_tokenizer_piece_to_id(const nc_tokenizer *t, const char *piece) {
    if (!t || !piece) return -1;
    return t->vt->piece_to_id(t->impl, piece);
}

nc_status nc_tokenizer_load_dir(const char *dir, const char *type, nc_tokenizer **out) {
    *out = NULL;
    if (!dir || !type) return nc_error(NC_ERR_INVALID_ARG, "tokenizer: dir and type are required");
    char path[4096];
    if (!strcmp(type, "bpe")) {
        if (snprintf(path, sizeof path, "%s/tokenizer.model", dir) >= (int)sizeof path)
            return nc_error(NC_ERR_INVALID_ARG, "tokenizer: path too long: %s", dir);
        return nc_tokenizer_spm_load(path, out);
    }
    if (!strcmp(type, "wpe")) {
        if (snprintf(path, sizeof path, "%s/vocab.txt", dir) >= (int)sizeof path)
            return nc_error(NC_ERR_INVALID_ARG, "tokenizer: path too long: %s", dir);
        nc_wordpiece_params p = nc_wordpiece_default_params();
        return nc_tokenizer_wordpiece_load(path, &p, out);
    }
    if (!strcmp(type, "gpt2")) return nc_tokenizer_gpt2_load_dir(dir, out);
    if (!strcmp(type, "hf")) return nc_tokenizer_hf_load(dir, out);
    if (!strcmp(type, "llama")) {
        nc_llama_params p = nc_llama_default_params();
        return nc_tokenizer_llama_js_load(dir, &p, out);
    }
    return nc_error(NC_ERR_CONFIG, "tokenizer.type must be 'bpe', 'wpe', 'gpt2', 'hf' or 'llama', got '%s'", type);
}
