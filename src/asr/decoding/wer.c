/* Word / character error rates: Levenshtein distance with the substitution,
 * deletion and insertion counts carried through the dynamic programme, so
 * only two rows are kept (no backtrace matrix). Mirrors
 * nemo/collections/asr/metrics/wer.py (word_error_rate, WER.update). */
#include <math.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/wer.h"
#include "text/unicode.h"

/* A word or a character: a byte range of the text. */
typedef struct span {
    int64_t off, len;
} span;

/* Splits text into words (str.split()) or characters (list(str)); with
 * out NULL only counts. */
static int64_t split(const char *text, bool chars, span *out) {
    const char *end = text + strlen(text);
    int64_t n = 0, i = 0, start = -1;
    while (text[i]) {
        int k;
        uint32_t cp = nc_utf8_decode(text + i, end, &k);
        if (chars) {
            if (out) out[n] = (span){.off = i, .len = k};
            n++;
        } else if (nc_uni_is_space(cp)) {
            if (start >= 0) {
                if (out) out[n] = (span){.off = start, .len = i - start};
                n++;
                start = -1;
            }
        } else if (start < 0) {
            start = i;
        }
        i += k;
    }
    if (!chars && start >= 0) {
        if (out) out[n] = (span){.off = start, .len = i - start};
        n++;
    }
    return n;
}

typedef struct cell {
    int64_t cost, sub, del, ins;
} cell;

static inline bool same(const char *a, span x, const char *b, span y) {
    return x.len == y.len && memcmp(a + x.off, b + y.off, (size_t)x.len) == 0;
}

static nc_status edit_counts(const char *ref, const char *hyp, bool chars, nc_edit_counts *out) {
    if (!ref || !hyp) return nc_error(NC_ERR_INVALID_ARG, "error rate: NULL %s", ref ? "hypothesis" : "reference");
    int64_t n = split(ref, chars, NULL), m = split(hyp, chars, NULL);
    span *rs = nc_malloc((size_t)(n + m + 1) * sizeof(span));
    cell *rows = nc_malloc((size_t)(2 * (m + 1)) * sizeof(cell));
    if (!rs || !rows) {
        nc_free(rs);
        nc_free(rows);
        return nc_error(NC_ERR_OOM, "error rate: out of memory for %lld x %lld units", (long long)n,
                        (long long)m);
    }
    span *hs = rs + n;
    split(ref, chars, rs);
    split(hyp, chars, hs);
    cell *prev = rows, *cur = rows + (m + 1);
    /* row 0: an empty reference prefix; every hypothesis unit is inserted */
    for (int64_t j = 0; j <= m; j++) prev[j] = (cell){.cost = j, .sub = 0, .del = 0, .ins = j};
    for (int64_t i = 1; i <= n; i++) {
        cur[0] = (cell){.cost = i, .sub = 0, .del = i, .ins = 0};
        for (int64_t j = 1; j <= m; j++) {
            /* diagonal: match or substitute; up: delete ref[i-1]; left: insert hyp[j-1] */
            bool eq = same(ref, rs[i - 1], hyp, hs[j - 1]);
            cell c = prev[j - 1];
            if (!eq) c.cost++, c.sub++;
            if (prev[j].cost + 1 < c.cost) {
                c = prev[j];
                c.cost++, c.del++;
            }
            if (cur[j - 1].cost + 1 < c.cost) {
                c = cur[j - 1];
                c.cost++, c.ins++;
            }
            cur[j] = c;
        }
        cell *t = prev;
        prev = cur;
        cur = t;
    }
    *out = (nc_edit_counts){.substitutions = prev[m].sub, .deletions = prev[m].del,
                            .insertions = prev[m].ins, .ref_len = n, .hyp_len = m};
    nc_free(rs);
    nc_free(rows);
    return NC_OK;
}

nc_status nc_wer_counts(const char *ref, const char *hyp, nc_edit_counts *out) {
    return edit_counts(ref, hyp, false, out);
}

nc_status nc_cer_counts(const char *ref, const char *hyp, nc_edit_counts *out) {
    return edit_counts(ref, hyp, true, out);
}

void nc_edit_counts_add(nc_edit_counts *acc, const nc_edit_counts *c) {
    acc->substitutions += c->substitutions;
    acc->deletions += c->deletions;
    acc->insertions += c->insertions;
    acc->ref_len += c->ref_len;
    acc->hyp_len += c->hyp_len;
}

int64_t nc_edit_errors(const nc_edit_counts *c) {
    return c->substitutions + c->deletions + c->insertions;
}

double nc_edit_rate(const nc_edit_counts *c) {
    return c->ref_len ? (double)nc_edit_errors(c) / (double)c->ref_len : INFINITY;
}

void nc_edit_counts_pack(const nc_edit_counts *c, int64_t v[NC_EDIT_COUNTS_N]) {
    v[0] = c->substitutions;
    v[1] = c->deletions;
    v[2] = c->insertions;
    v[3] = c->ref_len;
    v[4] = c->hyp_len;
}

void nc_edit_counts_unpack(const int64_t v[NC_EDIT_COUNTS_N], nc_edit_counts *c) {
    *c = (nc_edit_counts){.substitutions = v[0], .deletions = v[1], .insertions = v[2],
                          .ref_len = v[3], .hyp_len = v[4]};
}

nc_status nc_error_rate(const char *const *refs, const char *const *hyps, int64_t n, bool use_cer,
                        double *rate, nc_edit_counts *totals) {
    nc_edit_counts acc = {.substitutions = 0};
    for (int64_t i = 0; i < n; i++) {
        nc_edit_counts c;
        nc_status st = edit_counts(refs[i], hyps[i], use_cer, &c);
        if (st) return nc_error_prefix(st, "pair %lld", (long long)i);
        nc_edit_counts_add(&acc, &c);
    }
    *rate = nc_edit_rate(&acc);
    if (totals) *totals = acc;
    return NC_OK;
}
