/* Config limits against hostile input: interpolations that multiply their
 * input (strings and maps), Hydra defaults lists that fan out, and the
 * range-checked getters. Each must end in an error naming the key or file,
 * quickly and without holding the expansion in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/config.h"

static nc_cfg *parse(const char *y) {
    nc_cfg *c = NULL;
    if (nc_cfg_parse(y, strlen(y), "t.yaml", &c)) nc_test_fail(__FILE__, __LINE__, "parse: %s", nc_last_error());
    return c;
}

/* k0: "xxxxxxxx", k<i>: "${k<i-1>}${k<i-1>}" ... : k<n> is 8 * 2^n bytes. */
static char *doubling_chain(int n, const char *section) {
    size_t cap = (size_t)n * 64 + 256;
    char *y = malloc(cap);
    size_t at = (size_t)snprintf(y, cap, "%s:\n  k0: xxxxxxxx\n", section);
    for (int i = 1; i <= n; i++)
        at += (size_t)snprintf(y + at, cap - at, "  k%d: ${%s.k%d}${%s.k%d}\n", i, section, i - 1, section, i - 1);
    return y;
}

static void test_string_expansion(void) {
    /* 8 * 2^40 bytes if expanded: refused by the budget, naming the key. */
    char *y = doubling_chain(40, "m");
    nc_cfg *c = parse(y);
    const char *v = NULL;
    CHECK_ERR(nc_cfg_get_str(c, "m.k40", &v), NC_ERR_CONFIG, "m.k40: interpolations expand to more than");
    /* A chain within the budget still resolves (8 * 2^10 bytes). */
    CHECK_OK(nc_cfg_get_str(c, "m.k10", &v));
    CHECK(v && strlen(v) == 8u << 10);
    /* The whole-tree resolve and a resolved copy meet the same limit. */
    nc_cfg *cp = NULL;
    CHECK_ERR(nc_cfg_copy(c, true, &cp), NC_ERR_CONFIG, "interpolations expand to more than");
    CHECK(cp == NULL);
    CHECK_ERR(nc_cfg_resolve(c), NC_ERR_CONFIG, "interpolations expand to more than");
    nc_cfg_free(c);
    free(y);
}

static void test_cache_budget(void) {
    /* Each value is 8 * 2^19 = 4 MiB, below the per-resolution budget, but
     * the tree may not cache many of them: 8 such keys would hold 32 MiB. */
    char *y = doubling_chain(19, "m");
    size_t len = strlen(y), cap = len + 1024;
    y = realloc(y, cap);
    for (int i = 0; i < 8; i++) len += (size_t)snprintf(y + len, cap - len, "  c%d: ${m.k19}_%d\n", i, i);
    nc_cfg *c = parse(y);
    nc_status s = NC_OK;
    const char *v = NULL;
    char key[16];
    for (int i = 0; i < 8 && !s; i++) {
        snprintf(key, sizeof key, "m.c%d", i);
        s = nc_cfg_get_str(c, key, &v);
    }
    nc_test_checks++;
    if (s != NC_ERR_CONFIG || !strstr(nc_last_error(), "interpolat"))
        nc_test_fail(__FILE__, __LINE__, "8 x 4 MiB of cached values: %s \"%s\"", nc_status_str(s), nc_last_error());
    nc_cfg_free(c);
    free(y);
}

static void test_map_expansion(void) {
    /* Maps that refer twice to the next: a resolved copy would have 2^40 nodes. */
    char y[4096];
    size_t at = (size_t)snprintf(y, sizeof y, "a0: {x: 1}\n");
    for (int i = 1; i <= 40; i++)
        at += (size_t)snprintf(y + at, sizeof y - at, "a%d:\n  l: ${a%d}\n  r: ${a%d}\n", i, i - 1, i - 1);
    nc_cfg *c = parse(y);
    if (!c) return;
    nc_cfg *cp = NULL;
    CHECK_ERR(nc_cfg_copy(c, true, &cp), NC_ERR_CONFIG, "interpolations expand to more than 16777216 bytes");
    CHECK_ERR(nc_cfg_resolve(c), NC_ERR_CONFIG, "interpolations expand to more than");
    nc_cfg_free(c);
}

static void put(const char *dir, const char *rel, const char *text) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_defaults_fanout(void) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", nc_test_tmpdir("cfg_fanout"));
    /* f<i> lists f<i+1> ten times: 10^8 loads through 8 levels. */
    char name[32], text[512];
    for (int i = 0; i < 8; i++) {
        size_t at = (size_t)snprintf(text, sizeof text, "defaults:\n");
        for (int j = 0; j < 10; j++) at += (size_t)snprintf(text + at, sizeof text - at, "  - f%d\n", i + 1);
        snprintf(text + at, sizeof text - at, "v%d: %d\n", i, i);
        snprintf(name, sizeof name, "f%d.yaml", i);
        put(dir, name, text);
    }
    put(dir, "f8.yaml", "leaf: 1\n");
    nc_cfg *c = NULL;
    CHECK_ERR(nc_cfg_load_hydra(dir, "f0", &c), NC_ERR_CONFIG, "defaults lists load more than 1000 config files");
    CHECK(c == NULL);
    /* A self loop still stops at the depth limit. */
    put(dir, "loop.yaml", "defaults:\n  - loop\nx: 1\n");
    CHECK_ERR(nc_cfg_load_hydra(dir, "loop", &c), NC_ERR_CONFIG, "defaults lists nest deeper than");
    /* A modest tree composes. */
    CHECK_OK(nc_cfg_load_hydra(dir, "f7", &c));
    int64_t v = 0;
    CHECK_OK(nc_cfg_get_int(c, "leaf", &v));
    CHECK(v == 1);
    nc_cfg_free(c);
}

static void test_range_getters(void) {
    nc_cfg *c = parse("enc:\n  d_model: 1000000000000\n  n: -1\n  ok: 256\n  f: 1e308\n  nan: .nan\n");
    int64_t v = 0;
    double d = 0;
    CHECK_ERR(nc_cfg_get_int_in(c, "enc.d_model", 1, 65536, &v), NC_ERR_CONFIG,
              "enc.d_model (t.yaml:2): must be in [1, 65536], found 1000000000000");
    CHECK_OK(nc_cfg_get_int_in(c, "enc.ok", 1, 65536, &v));
    CHECK(v == 256);
    /* A value the config holds is checked, even one equal to the default;
     * only an absent or null key takes the default (a sentinel) unchecked. */
    CHECK_ERR(nc_cfg_get_int_in_or(c, "enc.n", -1, 1, 10, &v), NC_ERR_CONFIG, "must be in [1, 10], found -1");
    CHECK_OK(nc_cfg_get_int_in_or(c, "enc.absent", 7, 1, 5, &v));
    CHECK(v == 7);
    CHECK_ERR(nc_cfg_get_int_in_or(c, "enc.ok", 1, 1, 100, &v), NC_ERR_CONFIG, "must be in [1, 100], found 256");
    CHECK_ERR(nc_cfg_get_int_in_or(c, "enc.d_model", 1, INT64_MIN, 100, &v), NC_ERR_CONFIG,
              "must be <= 100, found 1000000000000");
    CHECK_ERR(nc_cfg_get_float_in_or(c, "enc.f", 1.0, 0, 1e12, &d), NC_ERR_CONFIG, "enc.f (t.yaml:5): must be in [0, 1e+12], found 1e+308");
    CHECK_ERR(nc_cfg_get_float_in_or(c, "enc.nan", 1.0, 0, 1e12, &d), NC_ERR_CONFIG, "enc.nan (t.yaml:6): must be in [0, 1e+12], found nan");
    CHECK_ERR(nc_cfg_get_float_in(c, "enc.missing", 0, 1, &d), NC_ERR_NOT_FOUND, "enc.missing");
    nc_cfg_free(c);
}

int main(void) {
    test_string_expansion();
    test_cache_budget();
    test_map_expansion();
    test_defaults_fanout();
    test_range_getters();
    return nc_test_finish("test_config_limits");
}
