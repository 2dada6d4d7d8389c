/* libFuzzer target: YAML config parsing, Hydra overrides, interpolation,
 * emitting. Input: YAML text, then optionally a NUL byte and overrides, one
 * per line. Invariants checked (abort on violation): emitted YAML parses
 * again and emits identically. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/config.h"

static void exercise(nc_cfg *c) {
    /* Read every top-level value and a few nested ones through the
     * resolving getters; errors are fine, crashes are not. */
    for (int64_t i = 0; i < nc_cfg_size(c) && i < 64; i++) {
        const char *k = nc_cfg_item_key(c, i);
        const char *s;
        int64_t iv;
        double fv;
        nc_cfg *n;
        nc_cfg_type t;
        char path[256];
        if (!k) {
            snprintf(path, sizeof path, "[%lld]", (long long)i);
            k = path;
        }
        nc_cfg_get_str(c, k, &s);
        nc_cfg_get_int_or(c, k, 0, &iv);
        nc_cfg_get_float(c, k, &fv);
        nc_cfg_get_type(c, k, &t);
        if (nc_cfg_get_node(c, k, &n) == NC_OK && nc_cfg_kind_of(n) != NC_CFG_SCALAR) {
            for (int64_t j = 0; j < nc_cfg_size(n) && j < 16; j++) {
                nc_cfg_get_str(nc_cfg_item(n, j), "", &s);
                double *fl;
                int64_t nl;
                if (nc_cfg_get_float_list(nc_cfg_item(n, j), "", &fl, &nl) == NC_OK) nc_free(fl);
            }
        }
    }
    char *out;
    size_t len;
    if (nc_cfg_emit(c, NC_CFG_EMIT_RESOLVE, &out, &len) == NC_OK) nc_free(out);
}

static void round_trip(const nc_cfg *c) {
    char *e1, *e2;
    size_t n1, n2;
    if (nc_cfg_emit(c, 0, &e1, &n1) != NC_OK) abort(); /* parsed trees must emit */
    nc_cfg *c2;
    if (nc_cfg_parse(e1, n1, "emitted", &c2) != NC_OK) abort();
    if (nc_cfg_emit(c2, 0, &e2, &n2) != NC_OK) abort();
    if (n1 != n2 || memcmp(e1, e2, n1)) abort();
    nc_free(e1);
    nc_free(e2);
    nc_cfg_free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t ylen = nul ? (size_t)(nul - data) : size;
    nc_cfg *c = NULL;
    if (nc_cfg_parse((const char *)data, ylen, "fuzz.yaml", &c) != NC_OK) {
        if (nc_cfg_new(NC_CFG_MAP, &c) != NC_OK) return 0;
    } else {
        round_trip(c);
    }
    if (nul) {
        size_t rest = size - ylen - 1;
        char *ov = malloc(rest + 1);
        memcpy(ov, nul + 1, rest);
        ov[rest] = 0;
        for (char *line = ov, *next; line; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = 0;
            nc_cfg_apply_override(c, line);
        }
        free(ov);
    }
    exercise(c);
    nc_cfg *cp;
    if (nc_cfg_copy(c, true, &cp) == NC_OK) nc_cfg_free(cp);
    nc_cfg_resolve(c);
    nc_cfg_free(c);
    return 0;
}
