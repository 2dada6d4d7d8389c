/* The tokenizer handle behind nemoc/tokenizer.h: a kind tag and a table of
 * functions per implementation. Not public. */
#ifndef NC_TEXT_TOKENIZER_IMPL_H
#define NC_TEXT_TOKENIZER_IMPL_H

#include "nemoc/tokenizer.h"
#include "core/strbuf.h"

typedef struct nc_tokenizer_vtbl {
    nc_status (*encode)(const void *impl, const char *text, int64_t len, nc_token_ids *out);
    nc_status (*decode)(const void *impl, const int32_t *ids, int64_t n, nc_strbuf *out);
    const char *(*id_to_piece)(const void *impl, int32_t id);
    int32_t (*piece_to_id)(const void *impl, const char *piece);
    void (*destroy)(void *impl);
} nc_tokenizer_vtbl;

struct nc_tokenizer {
    nc_tokenizer_kind kind;
    const nc_tokenizer_vtbl *vt;
    void *impl;
    int64_t vocab_size;
    nc_tokenizer_special special;
};

/* Wraps impl in a new handle; on failure destroys impl. */
nc_status nc_tokenizer_wrap(nc_tokenizer_kind kind, const nc_tokenizer_vtbl *vt, void *impl, int64_t vocab_size,
                            nc_tokenizer_special special, nc_tokenizer **out);

nc_status nc_token_ids_push(nc_token_ids *v, int32_t id);

#endif
