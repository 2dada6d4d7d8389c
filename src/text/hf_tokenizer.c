/* HF tokenizer.json with a byte-level BPE model (GPT-2, GPT-NeoX, RoBERTa-
 * style files written by HF tokenizers' Tokenizer.save), read into the
 * byte-level BPE model of bpe_model.h.
 *
 * Honoured: model {type "BPE", vocab, merges ("a b" strings or ["a", "b"]
 * pairs), ignore_merges}, normalizer null or NFC (GPT-NeoX, Pythia; the
 * tables of unicode_nfc.c), pre_tokenizer ByteLevel {add_prefix_space,
 * use_regex}, decoder ByteLevel, post_processor ByteLevel (offsets only),
 * added_tokens (matched leftmost-longest before pre-tokenisation: first
 * those with normalized=false, then the others, as tokenizers'
 * AddedVocabulary). Everything that would change the ids and is not
 * implemented here is refused with an error naming the field, never
 * ignored. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "nemoc/alloc.h"
#include "text/bpe_model.h"

typedef struct hf_ctx {
    const char *path;
    char where[4200];
} hf_ctx;

static const char *at(hf_ctx *c, const char *field) {
    snprintf(c->where, sizeof c->where, "tokenizer.json '%s' field %s", c->path, field);
    return c->where;
}

static nc_status refuse(hf_ctx *c, const char *field, const cJSON *v, const char *supported) {
    const cJSON *type = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "type") : NULL;
    char got[80];
    if (cJSON_IsString(type)) snprintf(got, sizeof got, "type '%.60s'", type->valuestring);
    else if (cJSON_IsString(v)) snprintf(got, sizeof got, "'%.60s'", v->valuestring);
    else if (cJSON_IsBool(v)) snprintf(got, sizeof got, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (!v || cJSON_IsNull(v)) snprintf(got, sizeof got, "%s", v ? "null" : "a missing value");
    else snprintf(got, sizeof got, "this value");
    return nc_error(NC_ERR_UNSUPPORTED, "%s: %s is not supported (supported: %s)", at(c, field), got, supported);
}

static bool is_null(const cJSON *v) { return !v || cJSON_IsNull(v); }

static bool type_is(const cJSON *v, const char *t) {
    const cJSON *ty = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "type") : NULL;
    return cJSON_IsString(ty) && !strcmp(ty->valuestring, t);
}

/* An optional boolean member; absent or null gives `dflt`. */
static nc_status get_bool(hf_ctx *c, const cJSON *obj, const char *key, const char *field, bool dflt, bool *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = dflt;
    if (is_null(v)) return NC_OK;
    if (!cJSON_IsBool(v)) return nc_error(NC_ERR_FORMAT, "%s: expected true or false", at(c, field));
    *out = cJSON_IsTrue(v);
    return NC_OK;
}

static nc_status check_parts(hf_ctx *c, const cJSON *root, nc_bpe *m) {
    const cJSON *v;
    if (!is_null(v = cJSON_GetObjectItemCaseSensitive(root, "truncation"))) return refuse(c, "truncation", v, "null");
    if (!is_null(v = cJSON_GetObjectItemCaseSensitive(root, "padding"))) return refuse(c, "padding", v, "null");
    v = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (!is_null(v) && !type_is(v, "NFC")) return refuse(c, "normalizer", v, "null or type 'NFC'");
    m->nfc = !is_null(v);
    v = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (!type_is(v, "ByteLevel")) return refuse(c, "pre_tokenizer", v, "type 'ByteLevel'");
    nc_status st = get_bool(c, v, "add_prefix_space", "pre_tokenizer.add_prefix_space", true, &m->add_prefix_space);
    if (!st) st = get_bool(c, v, "use_regex", "pre_tokenizer.use_regex", true, &m->use_regex);
    if (st) return st;
    v = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (!type_is(v, "ByteLevel")) return refuse(c, "decoder", v, "type 'ByteLevel'");
    v = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
    if (!is_null(v) && !type_is(v, "ByteLevel")) return refuse(c, "post_processor", v, "null or type 'ByteLevel'");
    return NC_OK;
}

static nc_status read_model(hf_ctx *c, const cJSON *root, nc_bpe *m) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) return nc_error(NC_ERR_FORMAT, "%s: missing or not an object", at(c, "model"));
    if (!type_is(model, "BPE")) return refuse(c, "model.type", cJSON_GetObjectItemCaseSensitive(model, "type"), "'BPE'");
    const cJSON *v;
    if (!is_null(v = cJSON_GetObjectItemCaseSensitive(model, "dropout")) && !(cJSON_IsNumber(v) && v->valuedouble == 0))
        return refuse(c, "model.dropout", v, "null");
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int k = 0; k < 2; k++) {
        v = cJSON_GetObjectItemCaseSensitive(model, affixes[k]);
        if (!is_null(v) && !(cJSON_IsString(v) && !v->valuestring[0])) {
            char f[64];
            snprintf(f, sizeof f, "model.%s", affixes[k]);
            return refuse(c, f, v, "null or \"\"");
        }
    }
    nc_status st = get_bool(c, model, "ignore_merges", "model.ignore_merges", false, &m->ignore_merges);
    if (st || (st = nc_bpe_vocab_from_json(m, cJSON_GetObjectItemCaseSensitive(model, "vocab"), at(c, "model.vocab"))))
        return st;
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsArray(merges)) return nc_error(NC_ERR_FORMAT, "%s: missing or not an array", at(c, "model.merges"));
    int32_t rank = 0;
    for (const cJSON *e = merges->child; e; e = e->next, rank++) {
        char f[64];
        snprintf(f, sizeof f, "model.merges[%d]", rank);
        const char *a = NULL, *b = NULL;
        int64_t al = 0, bl = 0;
        if (cJSON_IsString(e)) { /* "a b" */
            const char *s = e->valuestring, *sp = strchr(s, ' ');
            if (sp && !strchr(sp + 1, ' ')) {
                a = s;
                al = sp - s;
                b = sp + 1;
                bl = (int64_t)strlen(b);
            }
        } else if (cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) && cJSON_IsString(e->child->next)) {
            a = e->child->valuestring; /* ["a", "b"] (tokenizers >= 0.20) */
            b = e->child->next->valuestring;
            al = (int64_t)strlen(a);
            bl = (int64_t)strlen(b);
        }
        if (!a || !al || !bl)
            return nc_error(NC_ERR_FORMAT, "%s: expected \"left right\" or [\"left\", \"right\"]", at(c, f));
        if ((st = nc_bpe_add_merge(m, a, al, b, bl, rank, at(c, f)))) return st;
    }
    return NC_OK;
}

static nc_status read_added(hf_ctx *c, const cJSON *root, nc_bpe *m) {
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (is_null(added)) return NC_OK;
    if (!cJSON_IsArray(added)) return nc_error(NC_ERR_FORMAT, "%s: not an array", at(c, "added_tokens"));
    int i = 0;
    for (const cJSON *e = added->child; e; e = e->next, i++) {
        char f[96];
        snprintf(f, sizeof f, "added_tokens[%d]", i);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id"), *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        double v = cJSON_IsNumber(id) ? id->valuedouble : -1; /* range checked before the conversion */
        if (!(v >= 0 && v < INT32_MAX) || v != (double)(int32_t)v || !cJSON_IsString(content) || !content->valuestring[0])
            return nc_error(NC_ERR_FORMAT, "%s: needs an integer \"id\" and a non-empty \"content\"", at(c, f));
        static const char *const flags[] = {"single_word", "lstrip", "rstrip"};
        for (int k = 0; k < 3; k++) {
            bool on = false;
            char ff[128];
            snprintf(ff, sizeof ff, "%s.%s", f, flags[k]);
            nc_status st = get_bool(c, e, flags[k], ff, false, &on);
            if (st) return st;
            if (on) return refuse(c, ff, cJSON_GetObjectItemCaseSensitive(e, flags[k]), "false");
        }
        bool normalized = false;
        snprintf(f + strlen(f), sizeof f - strlen(f), ".normalized");
        nc_status st = get_bool(c, e, "normalized", f, false, &normalized);
        if (!st) st = nc_bpe_add_token(m, content->valuestring, (int32_t)id->valuedouble, normalized, at(c, f));
        if (st) return st;
    }
    return NC_OK;
}

nc_status nc_tokenizer_hf_load(const char *path, nc_tokenizer **out) {
    *out = NULL;
    if (!path) return nc_error(NC_ERR_INVALID_ARG, "hf tokenizer: path is required");
    struct stat sb;
    char *file = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? nc_strdupf("%s/tokenizer.json", path) : nc_strdupf("%s", path);
    if (!file) return nc_error(NC_ERR_OOM, "hf tokenizer: out of memory");
    hf_ctx c = {.path = file};
    nc_bpe *m = nc_malloc(sizeof *m);
    cJSON *root = NULL;
    nc_status st = m ? nc_bpe_read_json(file, "tokenizer.json", &root) : nc_error(NC_ERR_OOM, "hf tokenizer: out of memory");
    if (m) nc_bpe_init(m);
    if (!st && !cJSON_IsObject(root)) st = nc_error(NC_ERR_FORMAT, "tokenizer.json '%s': not a JSON object", file);
    if (!st) st = check_parts(&c, root, m);
    if (!st) st = read_model(&c, root, m);
    if (!st) st = read_added(&c, root, m);
    if (!st) {
        snprintf(c.where, sizeof c.where, "tokenizer.json '%s'", file);
        st = nc_bpe_finish(m, c.where);
    }
    cJSON_Delete(root);
    nc_free(file);
    if (st) {
        nc_bpe_free(m);
        nc_free(m);
        return st;
    }
    return nc_bpe_wrap(m, out);
}
