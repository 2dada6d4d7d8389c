/* UTF-8 coding with sentencepiece's exact malformed-input rules. */
#include "core/utf8.h"

static bool is_trail(unsigned char c) { return (c & 0xC0) == 0x80; }

static bool valid_cp(uint32_t c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); }

/* Mirrors string_util::DecodeUTF8 (sentencepiece/src/util.cc): each length
 * class checks its trail bytes, the minimum value (no overlong forms) and the
 * surrogate gap; anything else is one byte of U+FFFD. */
uint32_t nc_utf8_decode(const char *s, const char *end, int *len) {
    const unsigned char *b = (const unsigned char *)s;
    ptrdiff_t n = end - s;
    if (b[0] < 0x80) {
        *len = 1;
        return b[0];
    }
    if (n >= 2 && (b[0] & 0xE0) == 0xC0) {
        uint32_t cp = ((uint32_t)(b[0] & 0x1F) << 6) | (b[1] & 0x3F);
        if (is_trail(b[1]) && cp >= 0x80 && valid_cp(cp)) {
            *len = 2;
            return cp;
        }
    } else if (n >= 3 && (b[0] & 0xF0) == 0xE0) {
        uint32_t cp = ((uint32_t)(b[0] & 0x0F) << 12) | ((uint32_t)(b[1] & 0x3F) << 6) | (b[2] & 0x3F);
        if (is_trail(b[1]) && is_trail(b[2]) && cp >= 0x800 && valid_cp(cp)) {
            *len = 3;
            return cp;
        }
    } else if (n >= 4 && (b[0] & 0xF8) == 0xF0) {
        uint32_t cp = ((uint32_t)(b[0] & 0x07) << 18) | ((uint32_t)(b[1] & 0x3F) << 12) |
                      ((uint32_t)(b[2] & 0x3F) << 6) | (b[3] & 0x3F);
        if (is_trail(b[1]) && is_trail(b[2]) && is_trail(b[3]) && cp >= 0x10000 && valid_cp(cp)) {
            *len = 4;
            return cp;
        }
    }
    *len = 1;
    return NC_UNI_REPLACEMENT;
}

bool nc_utf8_valid_at(const char *s, const char *end, int *len) {
    uint32_t c = nc_utf8_decode(s, end, len);
    return c != NC_UNI_REPLACEMENT || *len == 3;
}

int nc_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool nc_utf8_valid(const unsigned char *s, size_t n, size_t *bad) {
    const char *p = (const char *)s, *end = p + n;
    while (p < end) {
        int len;
        if (!nc_utf8_valid_at(p, end, &len)) {
            if (bad) *bad = (size_t)(p - (const char *)s);
            return false;
        }
        p += len;
    }
    return true;
}

int64_t nc_utf8_count(const char *s, int64_t n) {
    int64_t cps = 0;
    for (int64_t i = 0; i < n; i++) cps += ((unsigned char)s[i] & 0xC0) != 0x80;
    return cps;
}
