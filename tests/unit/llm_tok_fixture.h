/* The LLM tokenizer fixtures (tests/ref/gen_llm_tokenizers.py): JSON lines
 * read with cJSON, and where the npm reference packages live. */
#ifndef NC_LLM_TOK_FIXTURE_H
#define NC_LLM_TOK_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "nc_test.h"
#include "nemoc/tokenizer.h"

/* ${CMAKE_SOURCE_DIR}/.npm_deps/node_modules (CMakeLists.txt), made by
 * scripts/install-deps.sh; $NC_NPM_DEPS overrides it. */
#ifndef NC_NPM_DEPS_DIR
#define NC_NPM_DEPS_DIR ".npm_deps/node_modules"
#endif

static inline const char *fx_npm_dir(void) {
    const char *e = getenv("NC_NPM_DEPS");
    return e && *e ? e : NC_NPM_DEPS_DIR;
}

static inline bool fx_is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

typedef struct fx_json_lines {
    cJSON **row;
    int64_t n;
} fx_json_lines;

static inline bool fx_read_jsonl(const char *path, fx_json_lines *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        nc_test_fail(__FILE__, __LINE__, "cannot open %s", path);
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t rcap = 0;
    bool ok = true;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (out->n == rcap) {
            rcap = rcap ? 2 * rcap : 256;
            out->row = realloc(out->row, (size_t)rcap * sizeof *out->row);
        }
        cJSON *j = cJSON_ParseWithLength(line, (size_t)n);
        if (!j) {
            nc_test_fail(__FILE__, __LINE__, "%s line %lld: bad JSON", path, (long long)out->n + 1);
            ok = false;
            break;
        }
        out->row[out->n++] = j;
    }
    free(line);
    fclose(f);
    return ok;
}

static inline void fx_free_jsonl(fx_json_lines *l) {
    for (int64_t i = 0; i < l->n; i++) cJSON_Delete(l->row[i]);
    free(l->row);
    memset(l, 0, sizeof *l);
}

/* ids == the JSON array `want`? */
static inline bool fx_ids_equal(const nc_token_ids *ids, const cJSON *want) {
    if (!cJSON_IsArray(want) || cJSON_GetArraySize(want) != ids->n) return false;
    int64_t k = 0;
    for (const cJSON *e = want->child; e; e = e->next, k++)
        if (!cJSON_IsNumber(e) || (int32_t)e->valuedouble != ids->ids[k]) return false;
    return true;
}

#endif
