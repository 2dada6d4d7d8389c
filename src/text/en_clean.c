/* NeMo's English transcript cleaning for char models:
 * nemo/collections/common/parts/preprocessing/cleaners.py clean_text, as
 * called by parsers.py ENCharParser._normalize:
 *   unidecode -> lower -> \s+ to ' ' -> clean_numbers -> abbreviations ->
 *   '+' '&' '%' to " plus " " and " " percent " -> other punctuation that is
 *   not a label to ' ' -> \s+ to ' ' -> strip.
 * unidecode (the text_unidecode package) is replaced by a Latin-only
 * transliteration: ASCII stays, Latin letters lose their accents and
 * compatibility forms fold (NFKD, see unicode_classes.c), a short table covers
 * letters and punctuation without decompositions (values as text_unidecode
 * gives them), and anything else (Greek, Cyrillic, CJK, emoji, ...) is
 * dropped where text_unidecode would transliterate it. */
#include <string.h>

#include "nemoc/alloc.h"
#include "text/en_text.h"
#include "text/unicode.h"

typedef struct translit {
    uint32_t cp;
    const char *ascii;
} translit;

/* Sorted by code point. */
static const translit kTranslit[] = {
    {.cp = 0xA1, .ascii = "!"}, {.cp = 0xA2, .ascii = "C/"}, {.cp = 0xA3, .ascii = "PS"}, {.cp = 0xA5, .ascii = "Y="},
    {.cp = 0xA7, .ascii = "SS"}, {.cp = 0xA9, .ascii = "(c)"}, {.cp = 0xAB, .ascii = "<<"}, {.cp = 0xAD, .ascii = ""},
    {.cp = 0xAE, .ascii = "(r)"}, {.cp = 0xB0, .ascii = "deg"}, {.cp = 0xB6, .ascii = "P"},
    {.cp = 0xB7, .ascii = "*"}, {.cp = 0xBB, .ascii = ">>"}, {.cp = 0xBC, .ascii = "1/4"},
    {.cp = 0xBD, .ascii = "1/2"}, {.cp = 0xBE, .ascii = "3/4"}, {.cp = 0xBF, .ascii = "?"},
    {.cp = 0xC6, .ascii = "AE"}, {.cp = 0xD0, .ascii = "D"}, {.cp = 0xD7, .ascii = "x"}, {.cp = 0xD8, .ascii = "O"},
    {.cp = 0xDE, .ascii = "Th"}, {.cp = 0xDF, .ascii = "ss"}, {.cp = 0xE6, .ascii = "ae"}, {.cp = 0xF0, .ascii = "d"},
    {.cp = 0xF7, .ascii = "/"}, {.cp = 0xF8, .ascii = "o"}, {.cp = 0xFE, .ascii = "th"}, {.cp = 0x110, .ascii = "D"},
    {.cp = 0x111, .ascii = "d"}, {.cp = 0x126, .ascii = "H"}, {.cp = 0x127, .ascii = "h"},
    {.cp = 0x131, .ascii = "i"}, {.cp = 0x138, .ascii = "k"}, {.cp = 0x141, .ascii = "L"},
    {.cp = 0x142, .ascii = "l"}, {.cp = 0x14A, .ascii = "ng"}, {.cp = 0x14B, .ascii = "NG"},
    {.cp = 0x152, .ascii = "OE"}, {.cp = 0x153, .ascii = "oe"}, {.cp = 0x200B, .ascii = " "},
    {.cp = 0x2010, .ascii = "-"}, {.cp = 0x2011, .ascii = "-"}, {.cp = 0x2012, .ascii = "-"},
    {.cp = 0x2013, .ascii = "-"}, {.cp = 0x2014, .ascii = "--"}, {.cp = 0x2015, .ascii = "--"},
    {.cp = 0x2018, .ascii = "'"}, {.cp = 0x2019, .ascii = "'"}, {.cp = 0x201A, .ascii = ","},
    {.cp = 0x201B, .ascii = "'"}, {.cp = 0x201C, .ascii = "\""}, {.cp = 0x201D, .ascii = "\""},
    {.cp = 0x201E, .ascii = ",,"}, {.cp = 0x201F, .ascii = "\""}, {.cp = 0x2022, .ascii = "*"},
    {.cp = 0x2028, .ascii = "\n"}, {.cp = 0x2029, .ascii = "\n"}, {.cp = 0x2032, .ascii = "'"},
    {.cp = 0x2033, .ascii = "''"}, {.cp = 0x2044, .ascii = "/"}, {.cp = 0x20AC, .ascii = "EUR"},
    {.cp = 0x2122, .ascii = "tm"},
};

static const char *translit_lookup(uint32_t cp) {
    int64_t lo = 0, hi = (int64_t)(sizeof kTranslit / sizeof kTranslit[0]) - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cp < kTranslit[mid].cp) hi = mid - 1;
        else if (cp > kTranslit[mid].cp) lo = mid + 1;
        else return kTranslit[mid].ascii;
    }
    return NULL;
}

nc_status nc_en_transliterate(const char *text, int64_t len, nc_strbuf *out) {
    nc_status st = NC_OK;
    for (const char *s = text, *end = text + len; s < end && !st;) {
        int mb;
        uint32_t cp = nc_utf8_decode(s, end, &mb);
        s += mb;
        if (cp < 0x80) {
            st = nc_sb_putc(out, (char)cp);
            continue;
        }
        const char *t = translit_lookup(cp);
        if (t) {
            st = nc_sb_append(out, t, (int64_t)strlen(t));
            continue;
        }
        char f[4];
        int n = nc_uni_ascii_fold(cp, f);
        if (n) st = nc_sb_append(out, f, n);
    }
    return st;
}

/* Python's \s on ASCII text: space, \t \n \v \f \r and \x1c-\x1f. */
static bool py_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

/* re.sub(r'\s+', " ", s), optionally .strip() afterwards. */
static nc_status collapse_ws(const char *s, int64_t n, bool strip, nc_strbuf *out) {
    nc_sb_clear(out);
    nc_status st = nc_sb_reserve(out, n);
    for (int64_t i = 0; i < n && !st;) {
        if (py_space(s[i])) {
            while (i < n && py_space(s[i])) i++;
            st = nc_sb_putc(out, ' ');
        } else {
            st = nc_sb_putc(out, s[i++]);
        }
    }
    if (st || !strip) return st;
    int64_t b = 0, e = out->n;
    while (b < e && out->p[b] == ' ') b++;
    while (e > b && out->p[e - 1] == ' ') e--;
    memmove(out->p, out->p + b, (size_t)(e - b));
    out->n = e - b;
    out->p[out->n] = 0;
    return NC_OK;
}

/* cleaners.py ABBREVIATIONS_COMMON, applied in order as re.sub(r'\bX\.', Y). */
static const char *const kAbbrev[][2] = {
    {"ms", "miss"},      {"mrs", "misess"},     {"mr", "mister"},       {"messrs", "messeurs"}, {"dr", "doctor"},
    {"drs", "doctors"},  {"st", "saint"},       {"co", "company"},      {"jr", "junior"},       {"sr", "senior"},
    {"rev", "reverend"}, {"hon", "honorable"},  {"sgt", "sergeant"},    {"capt", "captain"},    {"maj", "major"},
    {"col", "colonel"},  {"lt", "lieutenant"},  {"gen", "general"},     {"prof", "professor"},  {"lb", "pounds"},
    {"rep", "representative"}, {"st", "street"}, {"ave", "avenue"},     {"etc", "et cetera"},   {"jan", "january"},
    {"feb", "february"}, {"mar", "march"},      {"apr", "april"},       {"jun", "june"},        {"jul", "july"},
    {"aug", "august"},   {"sep", "september"},  {"oct", "october"},     {"nov", "november"},    {"dec", "december"},
};

static bool py_word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static nc_status abbreviations(nc_strbuf *s, nc_strbuf *tmp) {
    nc_status st = NC_OK;
    for (size_t a = 0; a < sizeof kAbbrev / sizeof kAbbrev[0] && !st; a++) {
        const char *k = kAbbrev[a][0];
        int64_t kl = (int64_t)strlen(k);
        nc_sb_clear(tmp);
        bool changed = false;
        int64_t i = 0;
        while (i < (int64_t)s->n && !st) {
            bool at = (i == 0 || !py_word(s->p[i - 1])) && i + kl < (int64_t)s->n && !memcmp(s->p + i, k, (size_t)kl) &&
                      s->p[i + kl] == '.';
            if (at) {
                st = nc_sb_append(tmp, kAbbrev[a][1], (int64_t)strlen(kAbbrev[a][1]));
                i += kl + 1;
                changed = true;
            } else {
                st = nc_sb_putc(tmp, s->p[i++]);
            }
        }
        if (!st && changed) {
            nc_strbuf x = *s;
            *s = *tmp;
            *tmp = x;
        }
    }
    return st;
}

nc_status nc_en_clean_text(const char *text, int64_t len, const bool keep[128], nc_strbuf *out) {
    nc_strbuf a = {0}, b = {0};
    nc_status st = nc_en_transliterate(text, len, &a);
    for (int64_t i = 0; !st && i < (int64_t)a.n; i++)
        if (a.p[i] >= 'A' && a.p[i] <= 'Z') a.p[i] += 32;
    if (!st) st = collapse_ws(a.p ? a.p : "", a.n, false, &b);
    if (!st) {
        nc_sb_clear(&a);
        st = nc_en_clean_numbers(b.p, b.n, &a);
    }
    if (!st) st = abbreviations(&a, &b);
    /* clean_punctuations: the three spoken symbols, then the table */
    nc_sb_clear(&b);
    for (int64_t i = 0; !st && i < (int64_t)a.n; i++) {
        char c = a.p[i];
        if (c == '+') st = nc_sb_append(&b, " plus ", 6);
        else if (c == '&') st = nc_sb_append(&b, " and ", 5);
        else if (c == '%') st = nc_sb_append(&b, " percent ", 9);
        else if (c > ' ' && c < 127 && !(py_word(c) && c != '_') && !keep[(unsigned char)c])
            st = nc_sb_putc(&b, ' '); /* in string.punctuation and not a label */
        else st = nc_sb_putc(&b, c);
    }
    if (!st) {
        nc_sb_clear(out);
        st = collapse_ws(b.p ? b.p : "", b.n, true, out);
    }
    nc_sb_free(&a);
    nc_sb_free(&b);
    return st;
}
