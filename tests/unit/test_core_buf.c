/* The one growable string (core/strbuf.h), the one typed-array growth rule
 * (core/vec.h), nc_realloc, and the UTF-8 codec / Python isspace that
 * replaced three decoders and two isspace copies: each new helper is checked
 * for growth, overflow refusal and out-of-memory through the debug allocator,
 * and the codec against the removed implementations (kept below verbatim as
 * references) on every 1..3-byte input and a large random sample of 4-byte
 * ones. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "core/utf8.h"
#include "core/vec.h"
#include "io/fileutil.h"
#include "nc_test.h"
#include "nemoc/alloc.h"
#include "text/unicode.h"

/* ---- references: the removed copies, as they were ---- */

/* src/io/utf8.c nc_utf8_valid (strict RFC 3629 validator). */
static bool old_io_valid(const unsigned char *s, size_t n, size_t *bad) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t min, cp;
        if ((c & 0xe0) == 0xc0) k = 1, min = 0x80, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0) k = 2, min = 0x800, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0) k = 3, min = 0x10000, cp = c & 0x07;
        else goto fail;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xc0) != 0x80) goto fail;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) goto fail;
        i += k + 1;
    }
    return true;
fail:
    if (bad) *bad = i;
    return false;
}

/* src/asr/wer.c utf8_next (lenient: overlong forms and surrogates decode). */
static int old_wer_next(const unsigned char *s, uint32_t *cp) {
    unsigned char c = s[0];
    int n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0) {
        *cp = c;
        return 1;
    }
    uint32_t v = n == 1 ? c : n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (int k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80) {
            *cp = c;
            return 1;
        }
        v = (v << 6) | (s[k] & 0x3Fu);
    }
    *cp = v;
    return n;
}

/* src/asr/wer.c py_space and src/text/char_tokenizer.c py_isspace. */
static bool old_wer_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
static bool old_char_space(uint32_t cp) {
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || (cp >= 0x1c && cp <= 0x1f) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

/* One input: the new validator agrees with the old one (verdict and offset),
 * and wherever the input is valid UTF-8 the new decoder agrees with wer's old
 * one code point for code point. */
static int check_bytes(const unsigned char *b, size_t n) {
    size_t bad_old = 0, bad_new = 0;
    bool v_old = old_io_valid(b, n, &bad_old), v_new = nc_utf8_valid(b, n, &bad_new);
    if (v_old != v_new || (!v_old && bad_old != bad_new)) return 0;
    if (!v_new) return 1;
    unsigned char z[8] = {0};
    memcpy(z, b, n); /* NUL-terminated, as wer.c read it */
    for (size_t i = 0; i < n;) {
        uint32_t cp_old;
        int len_new, len_old = old_wer_next(z + i, &cp_old);
        uint32_t cp_new = nc_utf8_decode((const char *)z + i, (const char *)z + n, &len_new);
        if (cp_old != cp_new || len_old != len_new) return 0;
        i += (size_t)len_new;
    }
    return 1;
}

static void test_utf8(void) {
    unsigned char b[4];
    int64_t mismatches = 0;
    for (int x = 0; x < 256; x++) {
        b[0] = (unsigned char)x;
        mismatches += !check_bytes(b, 1);
        for (int y = 0; y < 256; y++) {
            b[1] = (unsigned char)y;
            mismatches += !check_bytes(b, 2);
            for (int z = 0; z < 256; z++) {
                b[2] = (unsigned char)z;
                mismatches += !check_bytes(b, 3);
            }
        }
    }
    /* 4-byte inputs: every lead byte with a fixed-seed sample of tails,
     * biased toward continuation bytes so most reach the range checks. */
    srand(12345);
    for (int lead = 0; lead < 256; lead++)
        for (int k = 0; k < 4000; k++) {
            b[0] = (unsigned char)lead;
            for (int j = 1; j < 4; j++) b[j] = (unsigned char)(rand() % 4 ? 0x80 | (rand() & 0x3F) : rand() & 0xFF);
            mismatches += !check_bytes(b, 4);
        }
    CHECK(mismatches == 0);
    /* Whole strings: the offset of the first bad sequence. */
    size_t bad = 0;
    CHECK(nc_utf8_valid((const unsigned char *)"ab\xC3\xA9", 4, NULL));
    CHECK(!nc_utf8_valid((const unsigned char *)"ab\xC0\x80z", 5, &bad) && bad == 2);
    CHECK(!nc_utf8_valid((const unsigned char *)"\xED\xA0\x80", 3, &bad) && bad == 0); /* surrogate */
    CHECK(nc_utf8_count("a\xC3\xA9\xE2\x96\x81", 6) == 3);
    /* encode round trip over every scalar value */
    int64_t rt = 0;
    for (uint32_t c = 0; c < 0x110000; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        char u[4];
        int n = nc_utf8_encode(c, u), len;
        rt += nc_utf8_decode(u, u + n, &len) != c || len != n;
    }
    CHECK(rt == 0);
}

static void test_isspace(void) {
    int64_t diff = 0;
    for (uint32_t c = 0; c < 0x110000; c++)
        diff += nc_uni_is_space(c) != old_wer_space(c) || nc_uni_is_space(c) != old_char_space(c);
    CHECK(diff == 0);
    CHECK(nc_uni_is_space(0x3000) && nc_uni_is_space(0x1F) && !nc_uni_is_space(0x200B) && !nc_uni_is_space('a'));
}

static void test_strbuf(void) {
    nc_strbuf b = {0};
    CHECK(!strcmp(nc_sb_str(&b), ""));
    int failed = 0;
    for (int i = 0; i < 10000; i++) failed += nc_sb_putc(&b, (char)('a' + i % 26)) != NC_OK;
    CHECK(failed == 0 && b.n == 10000 && b.cap > b.n && b.p[b.n] == 0 && b.p[9999] == 'a' + 9999 % 26);
    CHECK(nc_sb_appendf(&b, "|%d|%s|", 42, "x") == NC_OK && !strcmp(b.p + 10000, "|42|x|"));
    /* appendf longer than any fixed scratch buffer */
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = 0;
    nc_sb_clear(&b);
    CHECK(nc_sb_appendf(&b, "<%s>", big) == NC_OK && b.n == sizeof big + 1 && b.p[b.n - 1] == '>');
    CHECK(nc_sb_put_cp(&b, 0x2581) == NC_OK && !memcmp(b.p + b.n - 3, "\xE2\x96\x81", 3));
    /* quote and backslash escaped, control bytes (an embedded NUL too: len
     * counts it) as \u00xx, UTF-8 verbatim. */
    nc_strbuf j = {0};
    static const char raw[] = "a\"b\\c\n\x01\xC3\xA9\0z";
    CHECK(nc_sb_put_json_str(&j, raw, sizeof raw - 1) == NC_OK);
    static const char want[] = "\"a\\\"b\\\\c\\u000a\\u0001\xC3\xA9\\u0000z\"";
    CHECK(j.n == sizeof want - 1 && !memcmp(j.p, want, sizeof want - 1));
    nc_sb_free(&j);
    char *s = nc_sb_take(&b);
    CHECK(s && strlen(s) == sizeof big + 4 && b.p == NULL && b.n == 0);
    nc_free(s);
    s = nc_sb_take(&b); /* empty: "" */
    CHECK(s && !s[0]);
    nc_free(s);
    /* Overflow: refused, never wrapped; the buffer is marked. */
    CHECK(nc_sb_putc(&b, 'x') == NC_OK);
    CHECK(nc_sb_reserve(&b, SIZE_MAX - 1) == NC_ERR_OOM && b.oom);
    CHECK(nc_sb_putc(&b, 'y') == NC_ERR_OOM && b.n == 1); /* sticky */
    CHECK(nc_sb_take(&b) == NULL && b.p == NULL);
    /* nc_strdupf: any length */
    char *f = nc_strdupf("%s/%s", big, big);
    CHECK(f && strlen(f) == 2 * (sizeof big - 1) + 1);
    nc_free(f);
    nc_sb_free(&b);
}

/* Every allocation a buffer makes can fail: the k-th one is refused, the
 * error is NC_ERR_OOM with the size in the message, nothing leaks, and the
 * text up to the failure is intact. */
static void test_strbuf_oom(void) {
    for (int64_t k = 1; k <= 6; k++) {
        nc_debug_alloc st = {.fail_at = k};
        nc_allocator dbg = nc_debug_allocator(&st), prev = nc_set_allocator(&dbg);
        nc_strbuf b = {0};
        nc_status s = NC_OK;
        int i = 0;
        for (; i < 3000 && !s; i++) s = nc_sb_appendf(&b, "%d,", i % 10);
        size_t n_at_fail = b.n;
        bool sticky = nc_sb_puts(&b, "more") == NC_ERR_OOM && b.n == n_at_fail;
        nc_sb_free(&b);
        nc_set_allocator(&prev);
        CHECK(s == NC_ERR_OOM && b.p == NULL && sticky);
        CHECK(strstr(nc_last_error(), "bytes") != NULL);
        CHECK(st.live_blocks == 0 && st.n_failed == 1);
        CHECK(n_at_fail == (size_t)(2 * (i - 1)));
    }
}

static void test_vec(void) {
    int32_t *v = NULL;
    int64_t cap = 0;
    for (int64_t i = 0; i < 100000; i++) {
        if (nc_vec_reserve(&v, &cap, i + 1, sizeof *v)) break;
        v[i] = (int32_t)i;
    }
    CHECK(cap >= 100000 && cap < 2 * 100000 + 8);
    int64_t wrong = 0;
    for (int64_t i = 0; i < 100000; i++) wrong += v[i] != (int32_t)i;
    CHECK(wrong == 0);
    /* Growth is geometric: the capacity at least doubles. */
    int64_t c0 = cap;
    CHECK(nc_vec_reserve(&v, &cap, c0 + 1, sizeof *v) == NC_OK && cap >= 2 * c0);
    /* Sizes whose byte count overflows are refused; the array is untouched. */
    int32_t *keep = v;
    int64_t keep_cap = cap;
    CHECK(nc_vec_reserve(&v, &cap, INT64_MAX, sizeof *v) == NC_ERR_OOM && v == keep && cap == keep_cap);
    CHECK(nc_vec_reserve(&v, &cap, (int64_t)(SIZE_MAX / 8), 16) == NC_ERR_OOM && v == keep);
    CHECK(nc_vec_reserve(&v, &cap, -1, sizeof *v) == NC_ERR_INVALID_ARG);
    CHECK(nc_vec_reserve(&v, &cap, 1, 0) == NC_ERR_INVALID_ARG);
    nc_free(v);

    /* OOM: the failed growth leaves the old array and capacity. */
    nc_debug_alloc st = {.fail_at = 3};
    nc_allocator dbg = nc_debug_allocator(&st), prev = nc_set_allocator(&dbg);
    double *d = NULL;
    int64_t dcap = 0, n = 0;
    nc_status s = NC_OK;
    while (!s && n < 1000) {
        int64_t before = dcap;
        double *was = d;
        s = nc_vec_reserve(&d, &dcap, n + 1, sizeof *d);
        if (s) CHECK(d == was && dcap == before);
        else {
            d[n] = 0.5 * (double)n;
            n++;
        }
    }
    nc_free(d);
    nc_set_allocator(&prev);
    CHECK(s == NC_ERR_OOM && n == 16 && st.live_blocks == 0);
}

static void test_realloc(void) {
    unsigned char *p = nc_realloc(NULL, 10);
    CHECK(p != NULL);
    for (int i = 0; i < 10; i++) p[i] = (unsigned char)i;
    unsigned char *q = nc_realloc(p, 5); /* shrinking keeps the block */
    CHECK(q == p);
    q = nc_realloc(p, 1000);
    CHECK(q != NULL && q[9] == 9 && ((uintptr_t)q % NC_ALIGN) == 0);
    nc_debug_alloc st = {.fail_at = 1};
    nc_allocator dbg = nc_debug_allocator(&st), prev = nc_set_allocator(&dbg);
    unsigned char *r = nc_realloc(q, 100000);
    nc_set_allocator(&prev);
    CHECK(r == NULL && q[9] == 9); /* refused: the old block stays valid */
    nc_free(q);
}

static void test_mkdir_p(void) {
    const char *base = nc_test_tmpdir("core_buf");
    /* longer than the 1024-byte buffer exp_manager's copy used (and under
     * the kernel's PATH_MAX, 4096) */
    nc_strbuf p = {0};
    nc_sb_puts(&p, base);
    for (int i = 0; i < 300; i++) nc_sb_puts(&p, "/abcdefgh");
    CHECK(!p.oom && p.n > 2700);
    CHECK(nc_mkdir_p(p.p) == NC_OK);
    struct stat sb;
    CHECK(stat(p.p, &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK(nc_mkdir_p(p.p) == NC_OK); /* exists: fine */
    nc_sb_puts(&p, "/file");
    FILE *f = fopen(p.p, "w");
    if (f) fclose(f);
    CHECK(nc_mkdir_p(p.p) == NC_ERR_IO); /* a file in the way */
    unlink(p.p);
    nc_sb_free(&p);
    CHECK(nc_mkdir_p("") == NC_ERR_INVALID_ARG);
}

int main(void) {
    test_strbuf();
    test_strbuf_oom();
    test_vec();
    test_realloc();
    test_utf8();
    test_isspace();
    test_mkdir_p();
    return nc_test_finish("core_buf");
}
