/* Binary-search lookups over the generated property tables. */
#include "text/unicode.h"

#include <stddef.h>

static bool in_ranges(const uint32_t (*r)[2], int64_t n, uint32_t cp) {
    int64_t lo = 0, hi = n - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid][0]) hi = mid - 1;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return true;
    }
    return false;
}

/* Python's _PyUnicode_IsWhitespace: bidirectional classes WS, B and S plus
 * category Zs, which for the current tables is this fixed list. */
bool nc_uni_is_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

bool nc_uni_is_punct(uint32_t cp) { return in_ranges(nc_uni_punct, nc_uni_punct_n, cp); }
bool nc_uni_is_mn(uint32_t cp) { return in_ranges(nc_uni_mn, nc_uni_mn_n, cp); }
bool nc_uni_is_ctrl(uint32_t cp) { return in_ranges(nc_uni_ctrl, nc_uni_ctrl_n, cp); }
bool nc_uni_is_zs(uint32_t cp) { return in_ranges(nc_uni_zs, nc_uni_zs_n, cp); }

bool nc_uni_is_letter(uint32_t cp) {
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return in_ranges(nc_uni_letter, nc_uni_letter_n, cp);
}

bool nc_uni_is_number(uint32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return in_ranges(nc_uni_number, nc_uni_number_n, cp);
}

/* PropList.txt White_Space (Unicode 14; unchanged since 6.3). */
bool nc_uni_is_white_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

int nc_uni_lower(uint32_t cp, uint32_t out[3]) {
    if (cp < 0x80) {
        out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
        return 1;
    }
    if (cp == 0x130) { /* 'İ'.lower() == 'i' + U+0307 COMBINING DOT ABOVE */
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    int64_t lo = 0, hi = nc_uni_lower_map_n - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cp < nc_uni_lower_map[mid][0]) hi = mid - 1;
        else if (cp > nc_uni_lower_map[mid][0]) lo = mid + 1;
        else {
            out[0] = nc_uni_lower_map[mid][1];
            return 1;
        }
    }
    out[0] = cp;
    return 1;
}

int nc_uni_nfd(uint32_t cp, uint32_t out[4]) {
    /* Hangul syllables decompose arithmetically (Unicode ch. 3.12). */
    if (cp >= 0xAC00 && cp <= 0xD7A3) {
        uint32_t s = cp - 0xAC00;
        out[0] = 0x1100 + s / 588;
        out[1] = 0x1161 + (s % 588) / 28;
        if (s % 28 == 0) return 2;
        out[2] = 0x11A7 + s % 28;
        return 3;
    }
    if (cp >= 0xC0) {
        int64_t lo = 0, hi = nc_uni_nfd_map_n - 1;
        while (lo <= hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (cp < nc_uni_nfd_map[mid][0]) hi = mid - 1;
            else if (cp > nc_uni_nfd_map[mid][0]) lo = mid + 1;
            else {
                int n = 0;
                for (int k = 1; k <= 4 && nc_uni_nfd_map[mid][k]; k++) out[n++] = nc_uni_nfd_map[mid][k];
                return n;
            }
        }
    }
    out[0] = cp;
    return 1;
}

int nc_uni_ascii_fold(uint32_t cp, char out[4]) {
    int64_t lo = 0, hi = nc_uni_ascii_fold_map_n - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cp < nc_uni_ascii_fold_map[mid][0]) hi = mid - 1;
        else if (cp > nc_uni_ascii_fold_map[mid][0]) lo = mid + 1;
        else {
            uint32_t v = nc_uni_ascii_fold_map[mid][1];
            int n = 0;
            while (n < 4 && (v >> (8 * n)) & 0xFF) {
                out[n] = (char)((v >> (8 * n)) & 0xFF);
                n++;
            }
            return n;
        }
    }
    return 0;
}

int nc_uni_ccc_of(uint32_t cp) {
    if (cp < 0x300) return 0;
    int64_t lo = 0, hi = nc_uni_ccc_n - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cp < nc_uni_ccc[mid][0]) hi = mid - 1;
        else if (cp > nc_uni_ccc[mid][1]) lo = mid + 1;
        else return (int)nc_uni_ccc[mid][2];
    }
    return 0;
}

uint32_t nc_uni_compose_pair(uint32_t a, uint32_t b) {
    /* Hangul: L + V -> LV, LV + T -> LVT (Unicode ch. 3.12) */
    if (a >= 0x1100 && a < 0x1113 && b >= 0x1161 && b < 0x1176) return 0xAC00 + ((a - 0x1100) * 21 + (b - 0x1161)) * 28;
    if (a >= 0xAC00 && a <= 0xD7A3 && (a - 0xAC00) % 28 == 0 && b > 0x11A7 && b < 0x11C3) return a + (b - 0x11A7);
    int64_t lo = 0, hi = nc_uni_compose_n - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const uint32_t *e = nc_uni_compose[mid];
        if (a < e[0] || (a == e[0] && b < e[1])) hi = mid - 1;
        else if (a > e[0] || (a == e[0] && b > e[1])) lo = mid + 1;
        else return e[2];
    }
    return 0;
}

int64_t nc_uni_nfc(const uint32_t *in, int64_t n, uint32_t *out) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) m += nc_uni_nfd(in[i], out + m);
    /* canonical ordering: stable sort of each run of non-starters by class */
    for (int64_t i = 1; i < m; i++) {
        int cc = nc_uni_ccc_of(out[i]);
        if (cc == 0) continue;
        for (int64_t j = i; j > 0; j--) {
            int pc = nc_uni_ccc_of(out[j - 1]);
            if (pc == 0 || pc <= cc) break;
            uint32_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    }
    if (m == 0) return 0;
    /* composition, as the UAX #15 sample code */
    int64_t starter = 0, w = 1;
    uint32_t starter_ch = out[0];
    int last = nc_uni_ccc_of(starter_ch) ? 256 : 0;
    for (int64_t i = 1; i < m; i++) {
        uint32_t ch = out[i];
        int cc = nc_uni_ccc_of(ch);
        uint32_t comp = nc_uni_compose_pair(starter_ch, ch);
        if (comp && (last < cc || last == 0)) {
            out[starter] = comp;
            starter_ch = comp;
            continue;
        }
        if (cc == 0) {
            starter = w;
            starter_ch = ch;
        }
        last = cc;
        out[w++] = ch;
    }
    return w;
}
