/* Request bodies of the text-generation server, validated as NeMo's
 * nemo/collections/nlp/modules/common/text_generation_server.py does
 * (MegatronGenerate.put for PUT /generate: its defaults and its exact
 * messages; completion / chat_completion for the OpenAI-style endpoints),
 * then tokenized. Every failure is a client error with a message and the
 * field it names; the HTTP side turns it into {"error": {...}}.
 *
 * Differences from NeMo, on purpose: a field of the wrong type is a 400
 * (NeMo answers its message with status 200); all_probs / compute_logprob /
 * logprobs = true are refused, because nc_gpt_generate hands out token ids,
 * not the per-step log-probabilities NeMo would return; an unset
 * random_seed is 1234 (NeMo: torch's running generator). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "llm/serve/serve.h"
#include "nemoc/alloc.h"
#include "nemoc/log.h"

/* NeMo's default chat_prompt_tokens (nemo/collections/llm/gpt/data/core.py,
 * megatron_gpt_finetuning_config.yaml). */
#define CHAT_SYSTEM_TURN_START "<extra_id_0>"
#define CHAT_TURN_START "<extra_id_1>"
#define CHAT_LABEL_START "<extra_id_2>"
#define CHAT_END_OF_TURN "\n"
#define CHAT_END_OF_NAME "\n"

typedef struct perr {
    int *status;
    char *msg;
    size_t cap;
    const char **param;
} perr;

static bool fail(const perr *e, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool fail(const perr *e, int status, const char *param, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, e->cap, fmt, ap);
    va_end(ap);
    *e->status = status;
    *e->param = param;
    return false;
}

bool srv_buf_put(srv_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = nc_realloc(b->p, cap);
        if (!p) return false;
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return true;
}

void srv_buf_free(srv_buf *b) {
    nc_free(b->p);
    *b = (srv_buf){0};
}

void srv_req_free(srv_req *r) {
    if (!r) return;
    for (int64_t i = 0; i < r->n_seq; i++) {
        nc_free(r->seq[i].ids);
        nc_free(r->seq[i].gen);
        nc_free(r->seq[i].prompt_text);
    }
    nc_free(r->seq);
    for (int64_t i = 0; i < r->n_stops; i++) nc_free(r->stops[i]);
    nc_free(r->stops);
    nc_free(r->model_name);
    srv_buf_free(&r->events);
    nc_free(r);
}

/* ---- typed fields (absent: the default) ---- */
static bool is_int(const cJSON *v) {
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9e15;
}

static bool get_bool(const perr *e, const cJSON *o, const char *key, bool dflt, bool *out, const char *msg) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = dflt;
    if (!v) return true;
    if (!cJSON_IsBool(v)) return fail(e, 400, key, "%s", msg);
    *out = cJSON_IsTrue(v);
    return true;
}

static bool get_int(const perr *e, const cJSON *o, const char *key, int64_t dflt, int64_t lo, int64_t *out,
                    const char *msg) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = dflt;
    if (!v || cJSON_IsNull(v)) return true;
    if (!is_int(v) || v->valuedouble < (double)lo) return fail(e, 400, key, "%s", msg);
    *out = (int64_t)v->valuedouble;
    return true;
}

static bool get_num(const perr *e, const cJSON *o, const char *key, double dflt, double lo, double hi, bool open_lo,
                    double *out, const char *msg) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = dflt;
    if (!v) return true;
    if (!cJSON_IsNumber(v) || !(open_lo ? v->valuedouble > lo : v->valuedouble >= lo) || !(v->valuedouble <= hi))
        return fail(e, 400, key, "%s", msg);
    *out = v->valuedouble;
    return true;
}

/* A string or a list of strings appended to r->stops. */
static bool add_stops(const perr *e, srv_req *r, const cJSON *v, const char *key, bool allow_string, const char *msg) {
    int64_t n = cJSON_IsString(v) && allow_string ? 1 : cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (n < 0) return fail(e, 400, key, "%s", msg);
    char **st = nc_realloc(r->stops, (size_t)(r->n_stops + n + 1) * sizeof *st);
    if (!st) return fail(e, 500, key, "out of memory");
    r->stops = st;
    for (int64_t i = 0; i < n; i++) {
        const cJSON *s = cJSON_IsString(v) ? v : cJSON_GetArrayItem(v, (int)i);
        if (!cJSON_IsString(s)) return fail(e, 400, key, "%s", msg);
        if (!s->valuestring[0]) continue; /* an empty end string would stop every sequence at once */
        if (!(r->stops[r->n_stops] = nc_strdup(s->valuestring))) return fail(e, 500, key, "out of memory");
        r->n_stops++;
    }
    return true;
}

/* Refuses what nemoc cannot compute honestly. */
static bool refuse_logprob(const perr *e, const cJSON *o, const char *key, const char *type_msg) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v) || (cJSON_IsNumber(v) && v->valuedouble == 0)) return true;
    if (type_msg && !cJSON_IsBool(v)) return fail(e, 400, key, "%s", type_msg);
    return fail(e, 400, key,
                "%s is not supported: nemoc's generation returns token ids, not the per-step log-probabilities "
                "that %s asks for",
                key, key);
}

/* ---- NeMo's chat template ----
 * MegatronGenerate.chat_completion: the messages become NeMo's SFT chat
 * source (convert_messages: one system message, the others as turns named
 * by their capitalized role, mask 'User', type VALUE_TO_TEXT) plus an empty
 * assistant turn; _get_header_conversation_type_mask_role and
 * _add_speaker_and_signal (gpt_sft_chat_dataset.py) render it with the
 * default chat_prompt_tokens and the trailing end_of_turn + turn_start is
 * cut, so the prompt is
 *   <extra_id_0>System\n{system}\n
 *   <extra_id_1>User\n{user}\n <extra_id_1>Assistant\n{assistant}\n ...
 *   <extra_id_1>Assistant\n
 * (no line breaks but the \n shown). Generation stops at <|endoftext|>,
 * <extra_id_1> or <extra_id_2> and at the request's own stop strings. */
bool srv_chat_prompt(const void *messages_json, srv_buf *out, char *msg, size_t msg_cap) {
    const cJSON *m = messages_json;
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) < 1) {
        snprintf(msg, msg_cap, "messages must be a non-empty list of {\"role\", \"content\"} objects");
        return false;
    }
    const char *system = "";
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, m) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsString(role) || !cJSON_IsString(content)) {
            snprintf(msg, msg_cap, "messages[%d] must have string fields \"role\" and \"content\"", i);
            return false;
        }
        if (strcmp(role->valuestring, "system") && strcmp(role->valuestring, "user") &&
            strcmp(role->valuestring, "assistant")) {
            snprintf(msg, msg_cap, "messages[%d].role '%s' is not one of system, user, assistant", i,
                     role->valuestring);
            return false;
        }
        i++;
    }
    /* convert_messages takes the first system message only */
    cJSON_ArrayForEach(it, m) {
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(it, "role")->valuestring, "system")) {
            system = cJSON_GetObjectItemCaseSensitive(it, "content")->valuestring;
            break;
        }
    }
    bool ok = srv_buf_put(out, CHAT_SYSTEM_TURN_START "System" CHAT_END_OF_NAME,
                          strlen(CHAT_SYSTEM_TURN_START "System" CHAT_END_OF_NAME)) &&
              srv_buf_put(out, system, strlen(system)) && srv_buf_put(out, CHAT_END_OF_TURN, strlen(CHAT_END_OF_TURN));
    cJSON_ArrayForEach(it, m) {
        const char *role = cJSON_GetObjectItemCaseSensitive(it, "role")->valuestring;
        if (!strcmp(role, "system")) continue;
        const char *content = cJSON_GetObjectItemCaseSensitive(it, "content")->valuestring;
        /* Python's str.capitalize(): "user" -> "User" */
        const char *name = !strcmp(role, "user") ? "User" : "Assistant";
        ok = ok && srv_buf_put(out, CHAT_TURN_START, strlen(CHAT_TURN_START)) && srv_buf_put(out, name, strlen(name)) &&
             srv_buf_put(out, CHAT_END_OF_NAME, strlen(CHAT_END_OF_NAME)) && srv_buf_put(out, content, strlen(content)) &&
             srv_buf_put(out, CHAT_END_OF_TURN, strlen(CHAT_END_OF_TURN));
    }
    ok = ok && srv_buf_put(out, CHAT_TURN_START "Assistant" CHAT_END_OF_NAME,
                           strlen(CHAT_TURN_START "Assistant" CHAT_END_OF_NAME));
    if (!ok) snprintf(msg, msg_cap, "out of memory");
    return ok;
}

/* ---- the three request kinds ---- */
static const char *const nemo_keys[] = {"all_probs",  "sentences",  "task_ids", "tokens_to_generate", "temperature",
                                        "add_BOS",    "greedy",     "top_k",    "top_p",              "neighbors",
                                        "repetition_penalty", "min_tokens_to_generate", "end_strings",
                                        "compute_logprob", "random_seed", NULL};

static bool parse_nemo(const perr *e, const cJSON *o, srv_req *r, bool *add_bos) {
    /* NeMo logs keys outside API_ALLOWED_KEYS and goes on */
    const cJSON *it;
    cJSON_ArrayForEach(it, o) {
        bool known = false;
        for (const char *const *k = nemo_keys; *k && !known; k++) known = !strcmp(*k, it->string);
        if (!known) nc_log_msg(NC_LOG_WARN, "llm serve: the request key %s is not allowed", it->string);
    }
    const cJSON *sent = cJSON_GetObjectItemCaseSensitive(o, "sentences");
    if (!sent) return fail(e, 400, "sentences", "sentences is required: a list of prompt strings");
    if (!cJSON_IsArray(sent) || cJSON_GetArraySize(sent) < 1)
        return fail(e, 400, "sentences", "sentences must be a non-empty list of strings");
    if (cJSON_GetArraySize(sent) > 128) return fail(e, 400, "sentences", "Maximum number of sentences is 128");
    if (cJSON_GetObjectItemCaseSensitive(o, "task_ids"))
        return fail(e, 400, "task_ids",
                    "Input at 'sentences' must by a tuple of two tensors like: (context_tokens_tensor, "
                    "context_length_tensor) if task ids are given");
    int64_t tokens = 64, min_tokens = 0, top_k = 0, neighbors = 0, seed = 1234;
    double temperature = 1.0, top_p = 0.9, rep = 1.0, top_k_d = 0;
    bool all_probs = false, greedy = false, logprob = false;
    if (!get_int(e, o, "tokens_to_generate", 64, 1, &tokens, "tokens_to_generate must be an integer greater than 0") ||
        !get_bool(e, o, "all_probs", false, &all_probs, "all_probs must be a boolean value") ||
        !get_num(e, o, "temperature", 1.0, 0.0, 100.0, true, &temperature,
                 "temperature must be a positive number less than or equal to 100.0") ||
        !get_bool(e, o, "add_BOS", false, add_bos, "add_BOS must be a boolean value") ||
        !get_bool(e, o, "greedy", false, &greedy, "greedy must be a boolean value") ||
        !get_num(e, o, "top_k", 0, 0, 1e9, false, &top_k_d, "top_k must be a positive integer number") ||
        !get_num(e, o, "top_p", 0.9, 0.0, 1.0, false, &top_p,
                 "top_p must be a positive number less than or equal to 1.0") ||
        !get_num(e, o, "repetition_penalty", 1.0, 1.0, 1e9, false, &rep,
                 "repetition_penalty must be a positive number no less than 1.0") ||
        !get_int(e, o, "min_tokens_to_generate", 0, 0, &min_tokens,
                 "min_tokens_to_generate must be an integer no less than 0") ||
        !get_int(e, o, "neighbors", 0, 0, &neighbors, "num of neighbors must be an integer no less than 0") ||
        !get_bool(e, o, "compute_logprob", false, &logprob, "compute_logprob must be a boolean value") ||
        !get_int(e, o, "random_seed", 1234, 0, &seed, "random_seed must be a positive integer number or None"))
        return false;
    const cJSON *ends = cJSON_GetObjectItemCaseSensitive(o, "end_strings");
    if (ends) {
        if (!add_stops(e, r, ends, "end_strings", false, "expect end_strings to be a list of strings")) return false;
    } else {
        const cJSON *dflt = cJSON_CreateString("<|endoftext|>");
        bool ok = dflt && add_stops(e, r, dflt, "end_strings", true, "");
        cJSON_Delete((cJSON *)dflt);
        if (!ok) return false;
    }
    if (all_probs && !refuse_logprob(e, o, "all_probs", NULL)) return false;
    if (logprob && !refuse_logprob(e, o, "compute_logprob", NULL)) return false;
    top_k = (int64_t)top_k_d; /* NeMo accepts a float top_k and torch.topk truncates it */
    r->max_new = tokens;
    r->gp.min_new_tokens = min_tokens;
    r->gp.greedy = greedy;
    r->gp.temperature = temperature;
    r->gp.top_k = top_k;
    r->gp.top_p = top_p;
    r->gp.repetition_penalty = rep;
    r->gp.seed = (uint64_t)seed;
    return true;
}

/* /v1/completions and /v1/chat/completions (NeMo's completion and
 * chat_completion, with OpenAI's n / stop / stream). */
static bool parse_openai(const perr *e, const cJSON *o, srv_req *r, bool chat) {
    int64_t max_tokens = 32, min_tokens = 0, n = 1, seed = 1234, top_k = 0;
    double temperature = 0.0, top_p = chat ? 0.95 : 1.0, rep = 1.0;
    bool stream = false;
    if (!get_int(e, o, "max_tokens", 32, 1, &max_tokens, "max_tokens must be an integer greater than 0") ||
        !get_num(e, o, "temperature", 0.0, 0.0, 100.0, false, &temperature,
                 "temperature must be a number between 0 and 100.0 (0: greedy)") ||
        !get_num(e, o, "top_p", top_p, 0.0, 1.0, false, &top_p,
                 "top_p must be a positive number less than or equal to 1.0") ||
        !get_int(e, o, "top_k", 0, 0, &top_k, "top_k must be a positive integer number") ||
        !get_num(e, o, "repetition_penalty", 1.0, 1.0, 1e9, false, &rep,
                 "repetition_penalty must be a positive number no less than 1.0") ||
        !get_int(e, o, "min_tokens", 0, 0, &min_tokens, "min_tokens must be an integer no less than 0") ||
        !get_int(e, o, "n", 1, 1, &n, "n must be 1") ||
        !get_int(e, o, "seed", 1234, 0, &seed, "seed must be a non-negative integer") ||
        !get_bool(e, o, "stream", false, &stream, "stream must be a boolean value") ||
        !refuse_logprob(e, o, "logprobs", NULL))
        return false;
    const cJSON *echo = cJSON_GetObjectItemCaseSensitive(o, "echo");
    if (echo && !cJSON_IsNull(echo) && !cJSON_IsFalse(echo))
        return fail(e, 400, "echo", "echo is not supported: the answer holds the completion only");
    if (n != 1) return fail(e, 400, "n", "n must be 1: one completion per prompt");
    static const char *const defaults[] = {"<|endoftext|>", CHAT_TURN_START, CHAT_LABEL_START};
    for (int i = 0; i < (chat ? 3 : 1); i++) {
        cJSON *d = cJSON_CreateString(defaults[i]);
        bool ok = d && add_stops(e, r, d, "stop", true, "");
        cJSON_Delete(d);
        if (!ok) return false;
    }
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(o, "stop");
    if (stop && !cJSON_IsNull(stop) &&
        !add_stops(e, r, stop, "stop", true, "stop must be a string or a list of strings"))
        return false;
    const cJSON *ends = cJSON_GetObjectItemCaseSensitive(o, "end_strings");
    if (ends && !add_stops(e, r, ends, "end_strings", false, "expect end_strings to be a list of strings"))
        return false;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model");
    if (cJSON_IsString(model) && !(r->model_name = nc_strdup(model->valuestring)))
        return fail(e, 500, "model", "out of memory");
    r->stream = stream;
    r->strip_stop = true;
    r->max_new = max_tokens;
    r->gp.min_new_tokens = min_tokens; /* vLLM's extension; NeMo's min_tokens_to_generate */
    r->gp.greedy = temperature == 0.0; /* NeMo: greedy = temperature == 0.0 */
    r->gp.temperature = temperature > 0 ? temperature : 1.0;
    r->gp.top_k = top_k;
    r->gp.top_p = top_p;
    r->gp.repetition_penalty = rep;
    r->gp.seed = (uint64_t)seed;
    return true;
}

/* Tokenizes prompt i of r. */
static bool add_prompt(const perr *e, nc_serve *s, srv_req *r, int64_t i, const char *text, bool add_bos,
                       const char *param) {
    nc_token_ids t = {0};
    if (nc_tokenizer_encode(s->tok, text, -1, &t)) {
        nc_token_ids_free(&t);
        return fail(e, 400, param, "%s[%lld] cannot be tokenized: %s", param, (long long)i, nc_last_error());
    }
    srv_seq *q = &r->seq[i];
    const int64_t n = t.n + (add_bos && s->bos_id >= 0);
    q->ids = nc_malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    if (!q->ids) {
        nc_token_ids_free(&t);
        return fail(e, 500, param, "out of memory");
    }
    if (add_bos && s->bos_id >= 0) q->ids[q->n++] = s->bos_id;
    if (t.n) memcpy(q->ids + q->n, t.ids, (size_t)t.n * sizeof(int32_t));
    q->n += t.n;
    nc_token_ids_free(&t);
    if (q->n < 1) return fail(e, 400, param, "%s[%lld] is empty: it gives no tokens", param, (long long)i);
    if (q->n > s->ctx_len)
        return fail(e, 400, param,
                    "%s[%lld] is %lld tokens long, more than the model's context of %lld tokens "
                    "(max_position_embeddings / encoder_seq_length)",
                    param, (long long)i, (long long)q->n, (long long)s->ctx_len);
    if (nc_tokenizer_decode(s->tok, q->ids, q->n, &q->prompt_text))
        return fail(e, 400, param, "%s[%lld] cannot be decoded: %s", param, (long long)i, nc_last_error());
    return true;
}

srv_req *srv_parse(nc_serve *s, srv_api api, const char *body, size_t len, int *status, char *msg, size_t msg_cap,
                   const char **param) {
    const perr e = {.status = status, .msg = msg, .cap = msg_cap, .param = param};
    *param = NULL;
    cJSON *o = cJSON_ParseWithLength(body, len);
    if (!o) {
        const char *at = cJSON_GetErrorPtr();
        fail(&e, 400, NULL, "malformed JSON in the request body (at byte %lld)",
             (long long)(at && at >= body && at <= body + len ? at - body : 0));
        return NULL;
    }
    srv_req *r = nc_calloc(1, sizeof *r);
    srv_buf chat = {0};
    bool ok = r != NULL, add_bos = false;
    if (!r) fail(&e, 500, NULL, "out of memory");
    if (ok && !cJSON_IsObject(o)) ok = fail(&e, 400, NULL, "the request body must be a JSON object");
    if (ok) {
        r->api = api;
        r->gp = nc_gen_default_params();
        r->gp.stop_strings = NULL; /* checked per request in the token callback (serve_batch.c) */
        r->gp.stop_at_eos = true;
        r->created = (long long)time(NULL);
        ok = api == SRV_API_NEMO ? parse_nemo(&e, o, r, &add_bos) : parse_openai(&e, o, r, api == SRV_API_CHAT);
    }
    /* the prompts */
    const char *key = api == SRV_API_NEMO ? "sentences" : api == SRV_API_COMPLETION ? "prompt" : "messages";
    const cJSON *pr = ok ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (ok && !pr) ok = fail(&e, 400, key, "%s is required", key);
    if (ok && api == SRV_API_CHAT) {
        char why[256];
        ok = srv_chat_prompt(pr, &chat, why, sizeof why) || fail(&e, 400, key, "%s", why);
    }
    if (ok && api == SRV_API_COMPLETION && !cJSON_IsString(pr) && !(cJSON_IsArray(pr) && cJSON_GetArraySize(pr) > 0))
        ok = fail(&e, 400, key, "prompt must be a string or a non-empty list of strings");
    if (ok) {
        r->n_seq = api == SRV_API_CHAT || cJSON_IsString(pr) ? 1 : cJSON_GetArraySize(pr);
        if (r->n_seq > 128) ok = fail(&e, 400, key, "at most 128 prompts per request");
        r->seq = ok ? nc_calloc((size_t)r->n_seq, sizeof *r->seq) : NULL;
        if (ok && !r->seq) ok = fail(&e, 500, NULL, "out of memory");
    }
    for (int64_t i = 0; ok && i < r->n_seq; i++) {
        const cJSON *t = api == SRV_API_CHAT || cJSON_IsString(pr) ? pr : cJSON_GetArrayItem(pr, (int)i);
        if (api != SRV_API_CHAT && !cJSON_IsString(t)) {
            ok = fail(&e, 400, key, api == SRV_API_NEMO ? "sentences must be a non-empty list of strings"
                                                        : "prompt must be a string or a non-empty list of strings");
            break;
        }
        ok = add_prompt(&e, s, r, i, api == SRV_API_CHAT ? chat.p : t->valuestring, add_bos, key);
    }
    if (ok) {
        const int64_t cap = s->p.max_tokens_cap > 0 ? s->p.max_tokens_cap : s->ctx_len;
        if (r->max_new > cap) r->max_new = cap;
        r->gp.max_new_tokens = r->max_new;
    }
    srv_buf_free(&chat);
    cJSON_Delete(o);
    if (!ok) {
        srv_req_free(r);
        return NULL;
    }
    return r;
}
