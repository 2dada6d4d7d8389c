/* Unicode tables and algorithms against Python's unicodedata
 * (tests/ref/gen_unicode.py): a digest over every code point of lower(),
 * NFD, the category flags and the combining class must equal Python's, and
 * NFC must match on every decomposing/combining code point and 3000 random
 * mark/jamo sequences. Also spot checks of sentencepiece's UTF-8 rules. */
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "text/unicode.h"
#include "text_fixture.h"

static uint64_t fnv(uint64_t h, uint32_t v) {
    for (int k = 0; k < 4; k++) {
        h ^= (v >> (8 * k)) & 0xFF;
        h *= 0x100000001B3ull;
    }
    return h;
}

static void check_digest(void) {
    fx_lines l;
    if (!fx_read_lines(nc_test_src("tests/ref/unicode/properties.txt"), &l)) return;
    uint64_t want = strtoull(l.line[0], NULL, 16);
    fx_free_lines(&l);
    uint64_t h = 0xCBF29CE484222325ull;
    for (uint32_t c = 0; c < 0x110000; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        h = fnv(h, c);
        uint32_t lo[3], d[4];
        int nl = nc_uni_lower(c, lo);
        h = fnv(h, (uint32_t)nl);
        for (int k = 0; k < nl; k++) h = fnv(h, lo[k]);
        int nd = nc_uni_nfd(c, d);
        h = fnv(h, (uint32_t)nd);
        for (int k = 0; k < nd; k++) h = fnv(h, d[k]);
        uint32_t flags = (uint32_t)nc_uni_is_punct(c) | (uint32_t)nc_uni_is_mn(c) << 1 |
                         (uint32_t)nc_uni_is_ctrl(c) << 2 | (uint32_t)nc_uni_is_zs(c) << 3;
        h = fnv(h, flags);
        h = fnv(h, (uint32_t)nc_uni_ccc_of(c));
    }
    if (h != want) nc_test_fail(__FILE__, __LINE__, "property digest %016llx, Python's %016llx", (unsigned long long)h, (unsigned long long)want);
    nc_test_checks++;
}

static int64_t parse_hex(const char *s, const char *end, uint32_t *out) {
    int64_t n = 0;
    while (s < end) {
        char *e;
        unsigned long v = strtoul(s, &e, 16);
        if (e == s) break;
        out[n++] = (uint32_t)v;
        s = e;
    }
    return n;
}

static void check_nfc(void) {
    fx_lines l;
    if (!fx_read_lines(nc_test_src("tests/ref/unicode/nfc.txt"), &l)) return;
    int64_t bad = 0;
    for (int64_t i = 0; i < l.n; i++) {
        char *tab = strchr(l.line[i], '\t');
        if (!tab) {
            bad++;
            continue;
        }
        uint32_t in[64], want[64], got[256];
        int64_t ni = parse_hex(l.line[i], tab, in);
        int64_t nw = parse_hex(tab + 1, l.line[i] + l.len[i], want);
        int64_t ng = nc_uni_nfc(in, ni, got);
        if (ng != nw || memcmp(got, want, (size_t)nw * sizeof *got) != 0) {
            if (bad++ < 5) fprintf(stderr, "NFC case %lld: %s (got %lld code points, first %x)\n", (long long)i + 1, l.line[i], (long long)ng, ng ? got[0] : 0);
        }
    }
    if (bad) nc_test_fail(__FILE__, __LINE__, "NFC: %lld of %lld cases differ from Python", (long long)bad, (long long)l.n);
    nc_test_checks++;
    printf("  NFC: %lld cases identical to Python\n", (long long)l.n);
    fx_free_lines(&l);
}

/* Decodes the first character of a byte string literal. */
static uint32_t dec(const char *s, size_t n, int *len) { return nc_utf8_decode(s, s + n, len); }

static void check_utf8(void) {
    int len;
    /* sentencepiece DecodeUTF8: malformed -> U+FFFD, one byte */
    CHECK(dec("\xc0\xaf", 2, &len) == 0xFFFD && len == 1);     /* overlong */
    CHECK(dec("\xed\xa0\x80", 3, &len) == 0xFFFD && len == 1); /* surrogate */
    CHECK(dec("\xe6\x97", 2, &len) == 0xFFFD && len == 1);     /* truncated */
    CHECK(dec("\xf0\x9f\x98\x80", 4, &len) == 0x1F600 && len == 4);
    static const char fffd[] = "\xef\xbf\xbd", ff[] = "\xff";
    CHECK(nc_utf8_valid_at(fffd, fffd + 3, &len) && len == 3); /* a real U+FFFD */
    CHECK(!nc_utf8_valid_at(ff, ff + 1, &len) && len == 1);
    char buf[4];
    for (uint32_t c = 0; c < 0x110000; c += 97) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        int n = nc_utf8_encode(c, buf);
        if (nc_utf8_decode(buf, buf + n, &len) != c || len != n) {
            nc_test_fail(__FILE__, __LINE__, "UTF-8 round trip of U+%04X", c);
            break;
        }
    }
    nc_test_checks++;
}

int main(void) {
    check_digest();
    check_nfc();
    check_utf8();
    return nc_test_finish("unicode");
}
