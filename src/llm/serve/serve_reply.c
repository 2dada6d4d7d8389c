/* Answers of the text-generation server.
 *
 * PUT /generate: the dict NeMo's text_generation_utils.generate returns
 * (sentences: prompt + continuation decoded; tokens: the pieces of every id,
 * byte-level BPE pieces turned back into text as NeMo does with the
 * byte_decoder; token_ids; offsets: character offsets of the pieces, special
 * tokens zero-width; logprob: null because it was not asked for, since
 * compute_logprob is refused), full_logprob left out as NeMo deletes it when
 * all_probs is false.
 * /v1/completions and /v1/chat/completions: the objects NeMo's completion /
 * chat_completion build (text_completion, chat.completion with the tokens
 * field), with OpenAI's finish_reason ("stop"/"length") and usage counted in
 * tokens (NeMo counts whitespace-separated words); the text ends before the
 * first stop string, as OpenAI's does. Streamed answers are OpenAI's
 * server-sent events: one `data: {chunk}` per new piece of text, a last chunk
 * with finish_reason, then `data: [DONE]`. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "llm/serve/serve.h"
#include "nemoc/alloc.h"

static char *own(cJSON *o) {
    char *t = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    char *r = t ? nc_strdup(t) : NULL;
    cJSON_free(t);
    return r;
}

static const char *err_type(int status) {
    switch (status) {
    case 400: return "invalid_request_error";
    case 404: return "not_found_error";
    case 405: return "method_not_allowed";
    case 413: return "request_too_large";
    case 503: return "server_unavailable";
    default: return "server_error";
    }
}

char *srv_error_json(int status, const char *msg, const char *param) {
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    if (!e) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", err_type(status));
    if (param) cJSON_AddStringToObject(e, "param", param);
    else cJSON_AddNullToObject(e, "param");
    cJSON_AddNumberToObject(e, "code", status);
    return own(o);
}

char *srv_completion_text(const nc_serve *s, const srv_seq *q) {
    int32_t *all = nc_malloc((size_t)(q->n + q->n_gen) * sizeof(int32_t));
    char *full = NULL, *out = NULL;
    if (!all) return NULL;
    memcpy(all, q->ids, (size_t)q->n * sizeof(int32_t));
    if (q->n_gen) memcpy(all + q->n, q->gen, (size_t)q->n_gen * sizeof(int32_t));
    if (nc_tokenizer_decode(s->tok, all, q->n + q->n_gen, &full)) full = NULL;
    nc_free(all);
    const size_t pl = q->prompt_text ? strlen(q->prompt_text) : 0;
    if (full && !strncmp(full, q->prompt_text ? q->prompt_text : "", pl)) {
        /* NeMo: output['sentences'][0][len(prompt):] */
        out = nc_strdup(full + pl);
    } else if (!nc_tokenizer_decode(s->tok, q->gen, q->n_gen, &out)) {
        /* decoding changed the prompt's text: the continuation alone */
    } else {
        out = NULL;
    }
    nc_free(full);
    return out;
}

size_t srv_stop_cut(const srv_req *r, const char *text) {
    size_t cut = strlen(text);
    for (int64_t i = 0; i < r->n_stops; i++) {
        const char *h = strstr(text, r->stops[i]);
        if (h && (size_t)(h - text) < cut) cut = (size_t)(h - text);
    }
    return cut;
}

/* A piece as NeMo's ids_to_tokens shows it (byte-level pieces as text). */
static char *piece_text(const nc_serve *s, int32_t id) {
    if (nc_tokenizer_get_kind(s->tok) == NC_TOKENIZER_BYTE_BPE) {
        char *t = NULL;
        return nc_tokenizer_decode(s->tok, &id, 1, &t) ? NULL : t;
    }
    const char *p = nc_tokenizer_id_to_piece(s->tok, id);
    return nc_strdup(p ? p : "");
}

/* Code points in UTF-8 text: Python's len(). */
static int64_t u8_len(const char *t) {
    int64_t n = 0;
    for (; *t; t++) n += ((unsigned char)*t & 0xC0) != 0x80;
    return n;
}

static bool is_special(const nc_serve *s, int32_t id) {
    nc_tokenizer_special sp = nc_tokenizer_special_ids(s->tok);
    return id == sp.eos_id || id == sp.bos_id || id == sp.pad_id || id == sp.unk_id || id == sp.cls_id ||
           id == sp.sep_id || id == sp.mask_id || id == s->eos_id;
}

/* tokens, token_ids and offsets of the whole sequence (prompt + generated). */
static bool add_pieces(const nc_serve *s, const srv_seq *q, cJSON *tokens, cJSON *ids, cJSON *offsets) {
    int64_t off = 0;
    const int64_t n = q->n + q->n_gen;
    for (int64_t i = 0; i < n; i++) {
        const int32_t id = i < q->n ? q->ids[i] : q->gen[i - q->n];
        char *p = piece_text(s, id);
        if (!p) return false;
        cJSON_AddItemToArray(tokens, cJSON_CreateString(p));
        if (ids) cJSON_AddItemToArray(ids, cJSON_CreateNumber(id));
        /* offsets: [0] then, for every piece but the last, the running sum */
        if (offsets) {
            if (i == 0) cJSON_AddItemToArray(offsets, cJSON_CreateNumber(0));
            if (i != n - 1) {
                off += is_special(s, id) ? 0 : u8_len(p);
                cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)off));
            }
        }
        nc_free(p);
    }
    return true;
}

static const char *finish_name(srv_finish f) { return f == SRV_FIN_LENGTH ? "length" : "stop"; }

static char *reply_nemo(const nc_serve *s, const srv_req *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON *sent = cJSON_AddArrayToObject(o, "sentences"), *toks = cJSON_AddArrayToObject(o, "tokens");
    cJSON_AddNullToObject(o, "logprob");
    cJSON *ids = cJSON_AddArrayToObject(o, "token_ids"), *offs = cJSON_AddArrayToObject(o, "offsets");
    if (!offs) goto fail;
    for (int64_t b = 0; b < r->n_seq; b++) {
        const srv_seq *q = &r->seq[b];
        char *c = srv_completion_text(s, q);
        if (!c) goto fail;
        /* sentences: the prompt's text and its continuation */
        srv_buf t = {0};
        bool ok = srv_buf_put(&t, q->prompt_text, strlen(q->prompt_text)) && srv_buf_put(&t, c, strlen(c));
        nc_free(c);
        if (ok) cJSON_AddItemToArray(sent, cJSON_CreateString(t.p));
        srv_buf_free(&t);
        cJSON *tl = cJSON_CreateArray(), *il = cJSON_CreateArray(), *ol = cJSON_CreateArray();
        cJSON_AddItemToArray(toks, tl), cJSON_AddItemToArray(ids, il), cJSON_AddItemToArray(offs, ol);
        if (!ok || !add_pieces(s, q, tl, il, ol)) goto fail;
    }
    return own(o);
fail:
    cJSON_Delete(o);
    return NULL;
}

static char *reply_openai(const nc_serve *s, const srv_req *r) {
    const bool chat = r->api == SRV_API_CHAT;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON_AddStringToObject(o, "object", chat ? "chat.completion" : "text_completion");
    cJSON_AddNumberToObject(o, "created", (double)r->created);
    cJSON_AddStringToObject(o, "model", r->model_name ? r->model_name : s->model_name);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    int64_t np = 0, ng = 0;
    for (int64_t b = 0; choices && b < r->n_seq; b++) {
        const srv_seq *q = &r->seq[b];
        np += q->n, ng += q->n_gen;
        char *c = srv_completion_text(s, q);
        if (!c) goto fail;
        c[srv_stop_cut(r, c)] = 0;
        cJSON *ch = cJSON_CreateObject();
        cJSON_AddItemToArray(choices, ch);
        cJSON_AddNumberToObject(ch, "index", (double)b);
        if (chat) {
            cJSON *m = cJSON_AddObjectToObject(ch, "message");
            cJSON_AddStringToObject(m, "role", "assistant");
            cJSON_AddStringToObject(m, "content", c);
        } else {
            cJSON_AddStringToObject(ch, "text", c);
        }
        nc_free(c);
        cJSON_AddNullToObject(ch, "logprobs");
        cJSON *tl = cJSON_AddArrayToObject(ch, "tokens");
        cJSON_AddStringToObject(ch, "finish_reason", finish_name(q->finish));
        if (!tl || !add_pieces(s, q, tl, NULL, NULL)) goto fail;
    }
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)np);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)ng);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(np + ng));
    return own(o);
fail:
    cJSON_Delete(o);
    return NULL;
}

char *srv_reply(nc_serve *s, const srv_req *r) {
    return r->api == SRV_API_NEMO ? reply_nemo(s, r) : reply_openai(s, r);
}

bool srv_stream_delta(const nc_serve *s, srv_req *r, int64_t b, const char *text, size_t n, bool final) {
    const bool chat = r->api == SRV_API_CHAT;
    char *piece = nc_malloc(n + 1);
    if (!piece) return false;
    memcpy(piece, text, n);
    piece[n] = 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON_AddStringToObject(o, "object", chat ? "chat.completion.chunk" : "text_completion");
    cJSON_AddNumberToObject(o, "created", (double)r->created);
    cJSON_AddStringToObject(o, "model", r->model_name ? r->model_name : s->model_name);
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), ch);
    cJSON_AddNumberToObject(ch, "index", (double)b);
    if (chat) {
        cJSON *d = cJSON_AddObjectToObject(ch, "delta");
        if (r->seq[b].sent == 0 && !final) cJSON_AddStringToObject(d, "role", "assistant");
        if (n || !final) cJSON_AddStringToObject(d, "content", piece);
    } else {
        cJSON_AddStringToObject(ch, "text", piece);
        cJSON_AddNullToObject(ch, "logprobs");
    }
    if (final) cJSON_AddStringToObject(ch, "finish_reason", finish_name(r->seq[b].finish));
    else cJSON_AddNullToObject(ch, "finish_reason");
    nc_free(piece);
    char *j = own(o);
    bool ok = j && srv_buf_put(&r->events, "data: ", 6) && srv_buf_put(&r->events, j, strlen(j)) &&
              srv_buf_put(&r->events, "\n\n", 2);
    nc_free(j);
    return ok;
}
