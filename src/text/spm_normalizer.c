/* SentencePiece text normalisation, as normalizer.cc (sentencepiece 0.1.97).
 *
 * The precompiled charsmap blob is <uint32 LE trie size><Darts-clone double
 * array><NUL-separated replacement strings>. At each position the longest
 * source string found in the double array is replaced by its replacement;
 * without a match one UTF-8 character is copied (a malformed byte becomes
 * U+FFFD). User-defined symbols are matched first and copied verbatim. Around
 * that, Normalize() drops leading/trailing/repeated spaces
 * (remove_extra_whitespaces), turns ' ' into U+2581 (escape_whitespaces) and
 * adds the dummy-prefix space. */
#include <string.h>

#include "nemoc/alloc.h"
#include "text/spm_model.h"
#include "text/unicode.h"

static const char kSpace[] = "\xe2\x96\x81"; /* U+2581 LOWER ONE EIGHTH BLOCK */
static const char kReplacement[] = "\xef\xbf\xbd";

nc_status spm_normalizer_init(spm_normalizer *n, const spm_normalizer_spec *spec,
                              const nc_trie *user_defined, bool ws_as_suffix) {
    memset(n, 0, sizeof *n);
    n->spec = spec;
    n->user_defined = user_defined;
    n->ws_as_suffix = ws_as_suffix;
    if (spec->charsmap_len == 0) return NC_OK;
    /* normalizer.cc DecodePrecompiledCharsMap */
    const uint8_t *b = spec->charsmap;
    int64_t len = spec->charsmap_len;
    if (len <= 4) return nc_error(NC_ERR_FORMAT, "normalizer '%s': charsmap blob is broken (%lld bytes)", spec->name, (long long)len);
    uint32_t trie_size = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    /* (the double array holds trie_size / 4 units; spare bytes are ignored, as darts does) */
    if ((int64_t)trie_size > len - 4)
        return nc_error(NC_ERR_FORMAT, "normalizer '%s': charsmap trie size %u does not fit the %lld-byte blob",
                        spec->name, trie_size, (long long)len);
    n->cm.n_units = trie_size / 4;
    if (n->cm.n_units == 0) return nc_error(NC_ERR_FORMAT, "normalizer '%s': empty charsmap trie", spec->name);
    n->cm.units = nc_malloc((size_t)n->cm.n_units * 4);
    if (!n->cm.units) return nc_error(NC_ERR_OOM, "normalizer: cannot allocate %u bytes", trie_size);
    for (int64_t i = 0; i < n->cm.n_units; i++) {
        const uint8_t *u = b + 4 + 4 * i;
        n->cm.units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    n->cm.normalized = (const char *)b + 4 + trie_size;
    n->cm.normalized_len = len - 4 - trie_size;
    return NC_OK;
}

void spm_normalizer_free(spm_normalizer *n) {
    nc_free(n->cm.units);
    memset(n, 0, sizeof *n);
}

/* Darts-clone DoubleArrayUnit accessors (darts.h). */
static inline bool du_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t du_value(uint32_t u) { return u & 0x7FFFFFFFu; }
static inline uint32_t du_label(uint32_t u) { return u & (0x80000000u | 0xFFu); }
static inline uint32_t du_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* The longest key of the double array that prefixes s (commonPrefixSearch
 * from the root, keeping the longest result). Indices are bounds-checked so a
 * corrupt trie ends the match instead of reading out of range. */
static int64_t cm_longest(const spm_charsmap *cm, const uint8_t *s, int64_t len, uint32_t *value) {
    const uint32_t *a = cm->units;
    uint64_t n = (uint64_t)cm->n_units;
    uint64_t pos = du_offset(a[0]);
    int64_t best = 0;
    for (int64_t i = 0; i < len; i++) {
        pos ^= s[i];
        if (pos >= n) break;
        uint32_t unit = a[pos];
        if (du_label(unit) != s[i]) break;
        pos ^= du_offset(unit);
        if (du_has_leaf(unit)) {
            if (pos >= n) break;
            best = i + 1;
            *value = du_value(a[pos]);
        }
    }
    return best;
}

int64_t spm_prefix_match(const nc_trie *user_defined, const char *s, int64_t len, bool *found) {
    int64_t m = user_defined && user_defined->n_keys ? nc_trie_longest_prefix(user_defined, s, len, NULL) : 0;
    if (found) *found = m > 0;
    if (m > 0) return m;
    int64_t one = nc_utf8_lead_len((unsigned char)s[0]);
    return one < len ? one : len;
}

/* NormalizePrefix(): the normalised form of the text's next unit and the
 * number of input bytes it consumes. */
static nc_status normalize_prefix(const spm_normalizer *n, const char *s, int64_t len, const char **out,
                                  int64_t *out_len, int64_t *consumed) {
    if (n->user_defined && n->user_defined->n_keys) {
        int64_t m = nc_trie_longest_prefix(n->user_defined, s, len, NULL);
        if (m > 0) {
            *out = s;
            *out_len = *consumed = m;
            return NC_OK;
        }
    }
    if (n->cm.n_units) {
        uint32_t v = 0;
        int64_t m = cm_longest(&n->cm, (const uint8_t *)s, len, &v);
        if (m > 0) {
            if ((int64_t)v >= n->cm.normalized_len)
                return nc_error(NC_ERR_FORMAT, "normalizer '%s': charsmap entry points past its strings (%u >= %lld)",
                                n->spec->name, v, (long long)n->cm.normalized_len);
            const char *r = n->cm.normalized + v;
            const char *nul = memchr(r, 0, (size_t)(n->cm.normalized_len - v));
            *out = r;
            *out_len = nul ? nul - r : n->cm.normalized_len - v;
            *consumed = m;
            return NC_OK;
        }
    }
    int mb;
    if (!nc_utf8_valid_at(s, s + len, &mb)) {
        /* one malformed byte becomes U+FFFD */
        *out = kReplacement;
        *out_len = 3;
        *consumed = 1;
    } else {
        *out = s;
        *out_len = *consumed = mb;
    }
    return NC_OK;
}

static nc_status add_ws(const spm_normalizer *n, nc_strbuf *out) {
    return n->spec->escape_whitespaces ? nc_sb_append(out, kSpace, 3) : nc_sb_putc(out, ' ');
}

nc_status spm_normalize(const spm_normalizer *n, const char *text, int64_t len, nc_strbuf *out) {
    const spm_normalizer_spec *spec = n->spec;
    nc_status st;
    nc_sb_clear(out);
    if (len == 0) return NC_OK;
    const char *p;
    int64_t plen, used;

    /* Ignores heading space. */
    if (spec->remove_extra_whitespaces) {
        while (len > 0) {
            if ((st = normalize_prefix(n, text, len, &p, &plen, &used)) != NC_OK) return st;
            if (!(plen == 1 && p[0] == ' ')) break;
            text += used;
            len -= used;
        }
    }
    if (len == 0) return NC_OK; /* all whitespace */
    if ((st = nc_sb_reserve(out, len * 3)) != NC_OK) return st;

    if (!n->ws_as_suffix && spec->add_dummy_prefix && (st = add_ws(n, out)) != NC_OK) return st;

    bool is_prev_space = spec->remove_extra_whitespaces;
    while (len > 0) {
        if ((st = normalize_prefix(n, text, len, &p, &plen, &used)) != NC_OK) return st;
        /* Drops the piece's leading spaces when the previous one ended in a space. */
        while (is_prev_space && plen > 0 && p[0] == ' ') {
            p++;
            plen--;
        }
        if (plen > 0) {
            for (int64_t i = 0; i < plen; i++) {
                if (spec->escape_whitespaces && p[i] == ' ') st = nc_sb_append(out, kSpace, 3);
                else st = nc_sb_putc(out, p[i]);
                if (st) return st;
            }
            is_prev_space = p[plen - 1] == ' ';
        }
        text += used;
        len -= used;
        if (!spec->remove_extra_whitespaces) is_prev_space = false;
    }

    /* Ignores tailing space. */
    if (spec->remove_extra_whitespaces) {
        const char *sp = spec->escape_whitespaces ? kSpace : " ";
        size_t sl = spec->escape_whitespaces ? 3 : 1;
        while (out->n >= sl && memcmp(out->p + out->n - sl, sp, (size_t)sl) == 0) out->n -= sl;
        out->p[out->n] = 0;
    }

    if (n->ws_as_suffix && spec->add_dummy_prefix && (st = add_ws(n, out)) != NC_OK) return st;
    return NC_OK;
}
