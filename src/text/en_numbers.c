/* Numbers to English words, reproducing inflect's number_to_words (the
 * group-0 path NeMo's cleaners use) string operation by string operation,
 * spaces and commas included, so the cleaned text matches NeMo's exactly:
 *   1234 -> "one thousand, two hundred and thirty-four", 4.50 -> "four point
 *   five zero", 21st -> "twenty-first".
 * Then cleaners.py clean_numbers: the NUM_CHECK scan and NumberCleaner
 * (times, ordinals, "$" amounts, decimals, space-separated digit groups). */
#include <string.h>

#include "nemoc/alloc.h"
#include "text/en_text.h"

static const char *const kUnit[10] = {"", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
static const char *const kTeen[10] = {"ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                                      "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
static const char *const kTen[10] = {"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};
static const char *const kMill[12] = {" ",           " thousand",    " million",   " billion",
                                      " trillion",   " quadrillion", " quintillion", " sextillion",
                                      " septillion", " octillion",   " nonillion", " decillion"};

static nc_status put(nc_strbuf *b, const char *s) { return nc_sb_append(b, s, (int64_t)strlen(s)); }

static nc_status mill(nc_strbuf *b, int64_t i) {
    if (i > 11) return nc_error(NC_ERR_INVALID_ARG, "number_to_words: number out of range (> 36 digits)");
    return put(b, kMill[i]);
}

/* inflect tenfn */
static nc_status tenfn(nc_strbuf *b, int t, int u, int64_t m) {
    nc_status st;
    if (t != 1) {
        if ((st = put(b, kTen[t])) || (t && u && (st = put(b, "-"))) || (st = put(b, kUnit[u]))) return st;
        return mill(b, m);
    }
    if ((st = put(b, kTeen[u]))) return st;
    return mill(b, m);
}

/* inflect hundfn */
static nc_status hundfn(nc_strbuf *b, int h, int t, int u, int64_t m) {
    nc_status st;
    if (h) {
        if ((st = put(b, kUnit[h])) || (st = put(b, " hundred")) || ((t || u) && (st = put(b, " and "))) ||
            (st = tenfn(b, t, u, 0)) || (st = mill(b, m)))
            return st;
        return put(b, ", ");
    }
    if (t || u) {
        if ((st = tenfn(b, t, u, 0)) || (st = mill(b, m))) return st;
        return put(b, ", ");
    }
    return NC_OK;
}

/* inflect enword(num, group) for group 0 and 1; d holds only digits. */
static nc_status enword(const char *d, int64_t n, int group, nc_strbuf *b) {
    nc_status st = NC_OK;
    if (group == 1) { /* group1sub per digit */
        for (int64_t i = 0; i < n && !st; i++) {
            int u = d[i] - '0';
            st = put(b, u == 1 ? " one, " : u ? kUnit[u] : " zero, ");
            if (!st && u > 1) st = put(b, ", ");
        }
        return st;
    }
    int64_t z = 0;
    while (z < n && d[z] == '0') z++;
    if (z == n) return put(b, "zero");
    if (z == n - 1 && d[z] == '1') return put(b, "one");
    d += z;
    n -= z;
    int64_t groups = n / 3, r = n % 3;
    /* The leading one or two digits, then each group of three, left to right;
     * the millions index counts groups from the right. */
    if (r == 2) st = tenfn(b, d[0] - '0', d[1] - '0', groups);
    else if (r == 1 && !(st = put(b, kUnit[d[0] - '0']))) st = mill(b, groups);
    if (!st && r) st = put(b, ", ");
    for (int64_t g = 0; g < groups && !st; g++) {
        const char *q = d + r + 3 * g;
        st = hundfn(b, q[0] - '0', q[1] - '0', q[2] - '0', groups - 1 - g);
    }
    return st;
}

static bool is_sp(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* The per-chunk clean-up in number_to_words after enword(). */
static nc_status tidy_chunk(nc_strbuf *c, bool first, nc_strbuf *tmp) {
    nc_status st;
    /* if chunk[-2:] == ", ": chunk = chunk[:-2] */
    if (c->n >= 2 && c->p[c->n - 2] == ',' && c->p[c->n - 1] == ' ') c->n -= 2;
    /* re.sub(r"\s+,", ",", chunk) */
    nc_sb_clear(tmp);
    for (int64_t i = 0; i < (int64_t)c->n;) {
        int64_t j = i;
        while (j < (int64_t)c->n && is_sp(c->p[j])) j++;
        if (j > i && j < (int64_t)c->n && c->p[j] == ',') {
            if ((st = nc_sb_putc(tmp, ','))) return st;
            i = j + 1;
        } else if (j > i) {
            if ((st = nc_sb_append(tmp, c->p + i, j - i))) return st;
            i = j;
        } else {
            if ((st = nc_sb_putc(tmp, c->p[i]))) return st;
            i++;
        }
    }
    /* first chunk: re.sub(r", (\S+)\s+\Z", r" and \1", chunk) */
    if (first) {
        int64_t e = tmp->n;
        while (e > 0 && is_sp(tmp->p[e - 1])) e--;
        int64_t s = e;
        while (s > 0 && !is_sp(tmp->p[s - 1])) s--;
        if (e < (int64_t)tmp->n && s < e && s >= 2 && tmp->p[s - 1] == ' ' && tmp->p[s - 2] == ',') {
            /* \S+ may hold commas but the match needs ", " right before it */
            char *word = nc_malloc((size_t)(e - s) + 1);
            if (!word) return nc_error(NC_ERR_OOM, "number_to_words: out of memory");
            memcpy(word, tmp->p + s, (size_t)(e - s));
            int64_t wl = e - s;
            tmp->n = s - 2;
            st = put(tmp, " and ");
            if (!st) st = nc_sb_append(tmp, word, wl);
            nc_free(word);
            if (st) return st;
        }
    }
    /* re.sub(r"\s+", " ", chunk).strip() */
    nc_sb_clear(c);
    for (int64_t i = 0; i < (int64_t)tmp->n;) {
        if (is_sp(tmp->p[i])) {
            while (i < (int64_t)tmp->n && is_sp(tmp->p[i])) i++;
            if ((st = nc_sb_putc(c, ' '))) return st;
        } else if ((st = nc_sb_putc(c, tmp->p[i++]))) {
            return st;
        }
    }
    int64_t b = 0, e = c->n;
    while (b < e && c->p[b] == ' ') b++;
    while (e > b && c->p[e - 1] == ' ') e--;
    memmove(c->p, c->p + b, (size_t)(e - b));
    c->n = e - b;
    c->p[c->n] = 0;
    return NC_OK;
}

/* Appends "<sep>"-split pieces of s (Python str.split(", ")) as the next
 * output words; `first` tracks number_to_words' final joining rule. */
typedef struct joiner {
    nc_strbuf *out;
    int64_t start; /* where this number's words begin in out */
    bool any, first;
} joiner;

static nc_status join_word(joiner *j, const char *w, int64_t n) {
    nc_status st = NC_OK;
    bool is_point = n == 5 && !memcmp(w, "point", 5);
    if (!j->any) {
        st = nc_sb_append(j->out, w, n);
        j->any = true;
        int64_t len = (int64_t)j->out->n - j->start;
        j->first = !(len >= 5 && !memcmp(j->out->p + j->out->n - 5, "point", 5));
        return st;
    }
    if (is_point) {
        j->first = false;
        st = put(j->out, " ");
    } else {
        st = put(j->out, j->first ? ", " : " ");
    }
    return st ? st : nc_sb_append(j->out, w, n);
}

static nc_status join_split(joiner *j, const char *s, int64_t n) {
    int64_t i = 0;
    for (int64_t k = 0; k + 1 < n; k++) {
        if (s[k] == ',' && s[k + 1] == ' ') {
            nc_status st = join_word(j, s + i, k - i);
            if (st) return st;
            i = k + 2;
            k++;
        }
    }
    return join_word(j, s + i, n - i);
}

static const char *const kOrdSuffix[8] = {"ty", "one", "two", "three", "five", "eight", "nine", "twelve"};
static const char *const kOrdWord[8] = {"tieth", "first", "second", "third", "fifth", "eighth", "ninth", "twelfth"};

nc_status nc_en_number_to_words(const char *num, int64_t len, nc_strbuf *out) {
    int64_t lead = 0;
    while (lead < len && is_sp(num[lead])) lead++;
    if (lead == len) return nc_error(NC_ERR_INVALID_ARG, "number_to_words: empty number");
    const char *sign = num[lead] == '+' ? "plus" : num[lead] == '-' ? "minus" : "";
    bool myord = len >= 2 && (!memcmp(num + len - 2, "st", 2) || !memcmp(num + len - 2, "nd", 2) ||
                              !memcmp(num + len - 2, "rd", 2) || !memcmp(num + len - 2, "th", 2));
    if (myord) len -= 2;
    /* chunks = num.split(".", 1); a trailing empty chunk means a final "point" */
    const char *dot = memchr(num, '.', (size_t)len);
    int64_t clen[2] = {dot ? dot - num : len, dot ? len - (dot - num) - 1 : 0};
    const char *cptr[2] = {num, dot ? dot + 1 : NULL};
    int nchunks = dot ? 2 : 1;
    bool finalpoint = false;
    if (clen[nchunks - 1] == 0) {
        nchunks--;
        finalpoint = true;
    }
    if (nchunks == 0) return nc_error(NC_ERR_INVALID_ARG, "number_to_words: no digits in '%.*s'", (int)len, num);
    enum { FIRST_ONE, FIRST_ZERO, FIRST_DONE } first = FIRST_ONE;
    int loopstart = 0;
    if (clen[0] == 0) {
        first = FIRST_ZERO;
        if (nchunks > 1) loopstart = 1;
    }
    nc_strbuf words[2] = {{0}, {0}}, digits = {0}, tmp = {0};
    nc_status st = NC_OK;
    for (int i = loopstart; i < nchunks && !st; i++) {
        nc_sb_clear(&digits);
        for (int64_t k = 0; k < clen[i] && !st; k++)
            if (cptr[i][k] >= '0' && cptr[i][k] <= '9') st = nc_sb_putc(&digits, cptr[i][k]);
        if (!st && digits.n == 0) st = nc_sb_putc(&digits, '0');
        if (!st) st = enword(digits.p, digits.n, first == FIRST_ONE ? 0 : 1, &words[i]);
        if (!st && !words[i].p) st = nc_sb_reserve(&words[i], 0);
        if (!st) st = tidy_chunk(&words[i], first == FIRST_ONE, &tmp);
        if (first == FIRST_ONE) first = FIRST_DONE;
    }
    joiner j = {.out = out, .start = out->n};
    if (!st && *sign) {
        st = put(out, sign);
        if (!st) st = put(out, " ");
    }
    /* numchunks = chunks[0].split(", ") unless chunk 0 was empty; ordinal on its last word */
    if (!st && first != FIRST_ZERO) {
        nc_strbuf *w0 = &words[0];
        if (myord) {
            /* the last piece of split(", ") */
            int64_t ls = 0;
            for (int64_t k = (int64_t)w0->n - 2; k >= 0; k--)
                if (w0->p[k] == ',' && w0->p[k + 1] == ' ') {
                    ls = k + 2;
                    break;
                }
            int s;
            for (s = 0; s < 8; s++) {
                int64_t sl = (int64_t)strlen(kOrdSuffix[s]);
                if ((int64_t)w0->n - ls >= sl && !memcmp(w0->p + w0->n - sl, kOrdSuffix[s], (size_t)sl)) break;
            }
            if (s < 8) {
                w0->n -= (int64_t)strlen(kOrdSuffix[s]);
                st = put(w0, kOrdWord[s]);
            } else {
                st = put(w0, "th");
            }
        }
        if (!st) st = join_split(&j, w0->p ? w0->p : "", w0->n);
    }
    for (int i = 1; i < nchunks && !st; i++) {
        st = join_word(&j, "point", 5);
        if (!st) st = join_split(&j, words[i].p ? words[i].p : "", words[i].n);
    }
    if (!st && finalpoint) st = join_word(&j, "point", 5);
    if (!st && !j.any) st = nc_error(NC_ERR_INVALID_ARG, "number_to_words: nothing to say for '%.*s'", (int)len, num);
    nc_sb_free(&words[0]);
    nc_sb_free(&words[1]);
    nc_sb_free(&digits);
    nc_sb_free(&tmp);
    return st;
}

/* ---- cleaners.py clean_numbers ------------------------------------------ */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

typedef struct num_cleaner {
    nc_strbuf curr_num; /* NumberCleaner.curr_num, joined */
    bool currency;      /* NumberCleaner.currency is truthy (None otherwise) */
} num_cleaner;

/* TIME_CHECK.match: ([0-9]{1,2}):([0-9]{2})(am|pm)? at the token start. */
static bool time_match(const char *t, int64_t n, int64_t *h_len, int64_t *ampm) {
    for (int64_t hl = 2; hl >= 1; hl--) {
        if (n < hl + 3) continue;
        bool ok = true;
        for (int64_t k = 0; k < hl; k++) ok = ok && is_digit(t[k]);
        if (!ok || t[hl] != ':' || !is_digit(t[hl + 1]) || !is_digit(t[hl + 2])) continue;
        *h_len = hl;
        const char *r = t + hl + 3;
        *ampm = n - (hl + 3) >= 2 && (!memcmp(r, "am", 2) || !memcmp(r, "pm", 2));
        return true;
    }
    return false;
}

/* ORD_CHECK.match: ([0-9]+)(st|nd|rd|th) at the token start; length or 0. */
static int64_t ord_match(const char *t, int64_t n) {
    int64_t d = 0;
    while (d < n && is_digit(t[d])) d++;
    /* ([0-9]+) backtracks, but a suffix letter can never be a digit, so the
     * only candidate split is after the whole digit run */
    if (d == 0 || n - d < 2) return 0;
    const char *s = t + d;
    if (!memcmp(s, "st", 2) || !memcmp(s, "nd", 2) || !memcmp(s, "rd", 2) || !memcmp(s, "th", 2)) return d + 2;
    return 0;
}

/* THREE_CHECK.match(next): ([0-9]{3})([.,][0-9]{1,2})?([!.?])?$ */
static bool three_match(const char *t, int64_t n) {
    if (n < 3 || !is_digit(t[0]) || !is_digit(t[1]) || !is_digit(t[2])) return false;
    const char *r = t + 3;
    int64_t m = n - 3;
    /* optional decimal part (greedy 2 then 1 digit), optional final mark */
    for (int64_t dl = 2; dl >= 0; dl--) {
        int64_t used = 0;
        if (dl > 0) {
            if (m < 1 + dl || (r[0] != '.' && r[0] != ',')) continue;
            bool ok = true;
            for (int64_t k = 1; k <= dl; k++) ok = ok && is_digit(r[k]);
            if (!ok) continue;
            used = 1 + dl;
        }
        int64_t rest = m - used;
        if (rest == 0) return true;
        if (rest == 1 && (r[used] == '!' || r[used] == '.' || r[used] == '?')) return true;
    }
    return false;
}

/* NumberCleaner.format_final_number */
static nc_status format_final(num_cleaner *c, const char *whole, int64_t wn, const char *dec, int64_t dn, nc_strbuf *out) {
    nc_status st;
    if (c->currency) {
        /* `whole_num == 1` compares a str with an int: never true, so always "dollars" */
        if ((st = nc_en_number_to_words(whole, wn, out)) || (st = put(out, " dollars"))) return st;
        if (dn > 0) {
            if ((st = put(out, " and ")) || (st = nc_en_number_to_words(dec, dn, out))) return st;
            bool same = wn == dn && !memcmp(whole, dec, (size_t)dn);
            if ((st = put(out, same ? " cent" : " cents"))) return st;
        }
        c->currency = false;
        nc_sb_clear(&c->curr_num);
        return NC_OK;
    }
    c->currency = false;
    nc_sb_clear(&c->curr_num);
    if (dn > 0) {
        nc_strbuf joined = {0};
        st = nc_sb_append(&joined, whole, wn);
        if (!st) st = nc_sb_putc(&joined, '.');
        if (!st) st = nc_sb_append(&joined, dec, dn);
        if (!st) st = nc_en_number_to_words(joined.p, joined.n, out);
        nc_sb_free(&joined);
        return st;
    }
    /* re.sub(r'[0-9,]+', lambda m: " " + number_to_words(m) + " ", whole_num) */
    for (int64_t i = 0; i < wn;) {
        if (is_digit(whole[i]) || whole[i] == ',') {
            int64_t j = i;
            while (j < wn && (is_digit(whole[j]) || whole[j] == ',')) j++;
            if ((st = put(out, " ")) || (st = nc_en_number_to_words(whole + i, j - i, out)) || (st = put(out, " ")))
                return st;
            i = j;
        } else {
            if ((st = nc_sb_putc(out, whole[i]))) return st;
            i++;
        }
    }
    return NC_OK;
}

/* NumberCleaner.clean for one NUM_CHECK match. */
static nc_status clean_one(num_cleaner *c, bool dollar, const char *ws, const char *tok, int64_t tn, const char *next,
                           int64_t nn, nc_strbuf *out) {
    nc_status st;
    int64_t hl, ampm;
    if (time_match(tok, tn, &hl, &ampm)) {
        if ((st = put(out, ws)) || (st = nc_en_number_to_words(tok, hl, out))) return st;
        int mins = (tok[hl + 1] - '0') * 10 + (tok[hl + 2] - '0');
        if (mins != 0 && ((st = put(out, " ")) || (st = nc_en_number_to_words(tok + hl + 1, 2, out)))) return st;
        if (ampm && ((st = put(out, " ")) || (st = nc_sb_append(out, tok + hl + 3, 2)))) return st;
        return NC_OK;
    }
    int64_t ol = ord_match(tok, tn);
    if (ol) {
        if ((st = put(out, ws))) return st;
        return nc_en_number_to_words(tok, ol, out);
    }
    if (!c->currency) c->currency = dollar || tok[0] == '$';
    if (three_match(next, nn)) {
        if ((st = nc_sb_append(&c->curr_num, tok, tn))) return st;
        return put(out, " ");
    }
    nc_strbuf whole = {0};
    st = nc_sb_append(&whole, c->curr_num.p ? c->curr_num.p : "", c->curr_num.n);
    if (!st) st = nc_sb_append(&whole, tok, tn);
    if (st) {
        nc_sb_free(&whole);
        return st;
    }
    /* DECIMAL_CHECK.search: ([.,][0-9]{1,2})$ */
    char dec[3] = {0};
    int64_t dn = 0;
    for (int64_t d = 2; d >= 1 && !dn; d--) {
        int64_t at = (int64_t)whole.n - d - 1;
        if (at < 0 || (whole.p[at] != '.' && whole.p[at] != ',')) continue;
        bool ok = true;
        for (int64_t k = 1; k <= d; k++) ok = ok && is_digit(whole.p[at + k]);
        /* with d == 1 the 2-digit form was tried first; search() also accepts
         * only a match ending at the end, so this is the leftmost one */
        if (ok) {
            dn = d;
            memcpy(dec, whole.p + at + 1, (size_t)d);
        }
    }
    if (dn) whole.n -= dn + 1;
    /* re.sub(r'\.', '', whole_num) */
    int64_t w = 0;
    for (int64_t k = 0; k < (int64_t)whole.n; k++)
        if (whole.p[k] != '.') whole.p[w++] = whole.p[k];
    whole.n = w;
    st = put(out, ws);
    if (!st) st = format_final(c, whole.p, whole.n, dec, dn, out);
    nc_sb_free(&whole);
    return st;
}

static bool has_digit(const char *s, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (is_digit(s[i])) return true;
    return false;
}

/* Tries NUM_CHECK = ([$]?)(^|\s)(\S*[0-9]\S*)(?=(\s|$)((\S*)(\s|$))?) at p.
 * On success sets the groups and the match end. Whitespace is only ' '
 * because the text was collapsed before. */
static bool num_check_at(const char *s, int64_t n, int64_t p, bool *dollar, bool *ws, int64_t *t0, int64_t *t1,
                         int64_t *n0, int64_t *n1) {
    for (int with_dollar = 1; with_dollar >= 0; with_dollar--) {
        int64_t q = p;
        if (with_dollar) {
            if (q >= n || s[q] != '$') continue;
            q++;
        }
        /* (^|\s): ^ first (only at 0), then one whitespace */
        for (int alt = 0; alt < 2; alt++) {
            int64_t a;
            if (alt == 0) {
                if (q != 0) continue;
                a = q;
            } else {
                if (q >= n || s[q] != ' ') continue;
                a = q + 1;
            }
            int64_t b = a;
            while (b < n && s[b] != ' ') b++;
            if (!has_digit(s + a, b - a)) continue;
            *dollar = with_dollar;
            *ws = alt == 1;
            *t0 = a;
            *t1 = b;
            /* group 6: the token after one whitespace character */
            *n0 = *n1 = b;
            if (b < n) {
                *n0 = b + 1;
                *n1 = *n0;
                while (*n1 < n && s[*n1] != ' ') (*n1)++;
            }
            return true;
        }
    }
    return false;
}

nc_status nc_en_clean_numbers(const char *s, int64_t n, nc_strbuf *out) {
    num_cleaner c = {.currency = false};
    nc_status st = NC_OK;
    int64_t last = 0;
    for (int64_t p = 0; p < n && !st;) {
        bool dollar, ws;
        int64_t t0, t1, n0, n1;
        if (!num_check_at(s, n, p, &dollar, &ws, &t0, &t1, &n0, &n1)) {
            p++;
            continue;
        }
        st = nc_sb_append(out, s + last, p - last);
        if (!st) st = clean_one(&c, dollar, ws ? " " : "", s + t0, t1 - t0, s + n0, n1 - n0, out);
        p = last = t1;
    }
    if (!st) st = nc_sb_append(out, s + last, n - last);
    nc_sb_free(&c.curr_num);
    return st;
}
