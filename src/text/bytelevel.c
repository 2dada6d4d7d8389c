/* GPT-2's byte <-> character map and pre-tokenisation regex (openai/gpt-2
 * src/encoder.py; HF tokenizers pre_tokenizers/byte_level.rs uses the same
 * regex and map). */
#include "text/bytelevel.h"

#include <stdbool.h>

#include "text/unicode.h"

static bool printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

uint32_t nc_bytelevel_char(uint8_t b) {
    if (printable(b)) return b;
    /* the n-th non-printable byte (in byte order) maps to 256 + n */
    int n = 0;
    for (int k = 0; k < b; k++) n += !printable(k);
    return 256u + (uint32_t)n;
}

int nc_bytelevel_byte(uint32_t cp) {
    if (cp < 256) return printable((int)cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    int n = (int)(cp - 256);
    for (int k = 0; k < 256; k++)
        if (!printable(k) && n-- == 0) return k;
    return -1;
}

int nc_bytelevel_rank(uint8_t b) {
    int r = 0;
    if (printable(b)) {
        for (int k = 0; k < b; k++) r += printable(k);
        return r;
    }
    return 188 + (int)(nc_bytelevel_char(b) - 256); /* 188 printable bytes come first */
}

uint8_t nc_bytelevel_by_rank(int r) {
    for (int b = 0; b < 256; b++)
        if (nc_bytelevel_rank((uint8_t)b) == r) return (uint8_t)b;
    return 0;
}

enum { C_SPACE, C_LETTER, C_NUMBER, C_OTHER };

/* The class of the character at s[pos]; *n gets its byte length. */
static int cls_at(const char *s, int64_t len, int64_t pos, int *n) {
    unsigned char c = (unsigned char)s[pos];
    if (c < 0x80) {
        *n = 1;
        if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return C_SPACE;
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return C_LETTER;
        if (c >= '0' && c <= '9') return C_NUMBER;
        return C_OTHER;
    }
    int k = 1;
    uint32_t cp = nc_utf8_decode(s + pos, s + len, &k);
    *n = k;
    if (cp == NC_UNI_REPLACEMENT) return C_OTHER; /* malformed bytes too: U+FFFD is So */
    if (nc_uni_is_white_space(cp)) return C_SPACE;
    if (nc_uni_is_letter(cp)) return C_LETTER;
    if (nc_uni_is_number(cp)) return C_NUMBER;
    return C_OTHER;
}

/* End of the run of class `cls` starting at pos. */
static int64_t run_end(const char *s, int64_t len, int64_t pos, int cls) {
    int n;
    while (pos < len && cls_at(s, len, pos, &n) == cls) pos += n;
    return pos;
}

int64_t nc_gpt2_pretok_next(const char *s, int64_t len, int64_t pos) {
    /* 's|'t|'re|'ve|'m|'ll|'d (case-sensitive, as the regex) */
    if (s[pos] == '\'' && pos + 1 < len) {
        char a = s[pos + 1], b = pos + 2 < len ? s[pos + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return pos + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return pos + 3;
    }
    int n0;
    int c0 = cls_at(s, len, pos, &n0);
    if (c0 != C_SPACE) return run_end(s, len, pos + n0, c0); /* \p{L}+ | \p{N}+ | [^\s\p{L}\p{N}]+ */
    if (s[pos] == ' ' && pos + 1 < len) { /* " ?" then one of the three classes */
        int n1;
        int c1 = cls_at(s, len, pos + 1, &n1);
        if (c1 != C_SPACE) return run_end(s, len, pos + 1 + n1, c1);
    }
    /* \s+(?!\S): the whitespace run, less its last character when a
     * non-space follows and the run is longer than one; else \s+ */
    int64_t end = pos, last = pos;
    int n;
    while (end < len && cls_at(s, len, end, &n) == C_SPACE) {
        last = end;
        end += n;
    }
    if (end < len && last > pos) return last;
    return end;
}
