/* Scalar typing as OmegaConf's YAML loader does it, and Python-compatible
 * text conversions.
 *
 * OmegaConf (omegaconf/_utils.py get_yaml_loader) uses PyYAML's SafeLoader
 * implicit resolvers (YAML 1.1: yes/no/on/off are bools, 0x/0b/0-octal and
 * sexagesimal ints) without the timestamp resolver, plus a looser float rule
 * that also accepts `1e-5` and `1E5` (PyYAML alone needs a dot). Only plain
 * (unquoted) scalars are typed; quoted ones are strings. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

const char *nc_cfg_type_name(nc_cfg_type t) {
    switch (t) {
    case NC_CFG_T_NULL: return "null";
    case NC_CFG_T_BOOL: return "bool";
    case NC_CFG_T_INT: return "int";
    case NC_CFG_T_FLOAT: return "float";
    case NC_CFG_T_STR: return "string";
    case NC_CFG_T_MISSING: return "missing value (?\?\?)";
    case NC_CFG_T_MAP: return "map";
    case NC_CFG_T_SEQ: return "list";
    }
    return "unknown";
}

static const char *const BOOL_TRUE[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
static const char *const BOOL_FALSE[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};

bool cfg_parse_bool(const char *t, bool *out) {
    for (size_t i = 0; i < sizeof BOOL_TRUE / sizeof *BOOL_TRUE; i++) {
        if (!strcmp(t, BOOL_TRUE[i])) {
            *out = true;
            return true;
        }
        if (!strcmp(t, BOOL_FALSE[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool is_null_text(const char *t) {
    return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL");
}

/* Matchers over [s, e): each consumes a regex piece and returns the new
 * position or NULL. */
static const char *run(const char *s, const char *set, bool need_one) {
    const char *p = s;
    while (*p && strchr(set, *p)) p++;
    return (need_one && p == s) ? NULL : p;
}

#define DIG "0123456789"
#define DIG_ "0123456789_"

/* (:[0-5]?[0-9])+ */
static const char *sexa_tail(const char *p) {
    if (*p != ':') return NULL;
    while (*p == ':') {
        p++;
        if (*p >= '0' && *p <= '5' && p[1] >= '0' && p[1] <= '9') p += 2;
        else if (*p >= '0' && *p <= '9') p++;
        else return NULL;
    }
    return p;
}

static bool match_int(const char *s) {
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    if (p[0] == '0' && p[1] == 'b') return (p = run(p + 2, "01_", true)) && !*p;
    if (p[0] == '0' && p[1] == 'x') return (p = run(p + 2, "0123456789abcdefABCDEF_", true)) && !*p;
    if (p[0] == '0') {
        if (!p[1]) return true;
        return (p = run(p + 1, "01234567_", true)) && !*p;
    }
    if (*p < '1' || *p > '9') return false;
    p = run(p + 1, DIG_, false);
    if (!*p) return true;
    p = sexa_tail(p);
    return p && !*p;
}

/* [eE][-+]?[0-9]+, sign optional unless need_sign. */
static const char *exponent(const char *p, bool need_sign) {
    if (*p != 'e' && *p != 'E') return NULL;
    p++;
    if (*p == '-' || *p == '+') p++;
    else if (need_sign) return NULL;
    return run(p, DIG, true);
}

static bool match_float(const char *s) {
    const char *p = s;
    bool sign = (*p == '-' || *p == '+');
    if (sign) p++;
    if (*p == '.') {
        const char *w = p + 1;
        if (!strcmp(w, "inf") || !strcmp(w, "Inf") || !strcmp(w, "INF")) return true;
        if (!sign && (!strcmp(w, "nan") || !strcmp(w, "NaN") || !strcmp(w, "NAN"))) return true;
        if (sign) return false; /* \.[0-9_]+ takes no sign */
        w = run(w, DIG_, true);
        if (!w) return false;
        if (!*w) return true;
        w = exponent(w, true);
        return w && !*w;
    }
    if (*p < '0' || *p > '9') return false;
    const char *q = run(p + 1, DIG_, false);
    if (*q == '.') { /* [0-9][0-9_]*\.[0-9_]*([eE][-+]?[0-9]+)? */
        q = run(q + 1, DIG_, false);
        if (!*q) return true;
        q = exponent(q, false);
        return q && !*q;
    }
    if (*q == 'e' || *q == 'E') { /* [0-9][0-9_]*[eE][-+]?[0-9]+ */
        q = exponent(q, false);
        return q && !*q;
    }
    if (*q == ':') { /* sexagesimal with a fraction */
        q = sexa_tail(q);
        if (!q || *q != '.') return false;
        q = run(q + 1, DIG_, false);
        return !*q;
    }
    return false;
}

nc_cfg_type nc_cfg_scalar_type(const char *t, bool quoted) {
    if (!strcmp(t, "?\?\?")) return NC_CFG_T_MISSING;
    if (quoted) return NC_CFG_T_STR;
    bool b;
    if (is_null_text(t)) return NC_CFG_T_NULL;
    if (cfg_parse_bool(t, &b)) return NC_CFG_T_BOOL;
    if (match_int(t)) return NC_CFG_T_INT;
    if (match_float(t)) return NC_CFG_T_FLOAT;
    return NC_CFG_T_STR;
}

bool cfg_is_interp(const char *text) { return text && strstr(text, "${") != NULL; }

/* Copies text without '_' into buf; false when it does not fit. */
static bool strip_underscores(const char *t, char *buf, size_t cap) {
    size_t n = 0;
    for (; *t; t++) {
        if (*t == '_') continue;
        if (n + 1 >= cap) return false;
        buf[n++] = *t;
    }
    buf[n] = 0;
    return true;
}

/* Mirrors PyYAML SafeConstructor.construct_yaml_int, within int64. */
bool cfg_parse_int(const char *text, int64_t *out) {
    if (!match_int(text)) return false;
    char buf[128];
    if (!strip_underscores(text, buf, sizeof buf)) return false;
    const char *p = buf;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+') p++;
    int base = 10;
    if (!strcmp(p, "0")) {
        *out = 0;
        return true;
    }
    if (p[0] == '0' && p[1] == 'b') base = 2, p += 2;
    else if (p[0] == '0' && p[1] == 'x') base = 16, p += 2;
    else if (p[0] == '0') base = 8;
    if (!*p) return false; /* "0b_" is an int to the resolver but has no digits */
    /* Accumulate as a negative number so INT64_MIN is representable. */
    int64_t v = 0;
    int64_t part = 0;
    bool sexa = strchr(p, ':') != NULL;
    for (; *p; p++) {
        if (*p == ':') {
            if (v < (INT64_MIN - part) / 60) return false;
            v = v * 60 + part;
            part = 0;
            continue;
        }
        int d = isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;
        int64_t *acc = sexa ? &part : &v;
        if (*acc < (INT64_MIN + d) / base) return false;
        *acc = *acc * base - d;
    }
    if (sexa) {
        if (v < (INT64_MIN - part) / 60) return false;
        v = v * 60 + part;
    }
    if (!neg) {
        if (v == INT64_MIN) return false;
        v = -v;
    }
    *out = v;
    return true;
}

/* Mirrors PyYAML construct_yaml_float (ints are accepted too). */
bool cfg_parse_float(const char *text, double *out) {
    int64_t iv;
    if (match_int(text)) {
        if (!cfg_parse_int(text, &iv)) return false;
        *out = (double)iv;
        return true;
    }
    if (!match_float(text)) return false;
    char buf[512];
    if (!strip_underscores(text, buf, sizeof buf)) return false;
    for (char *c = buf; *c; c++) *c = (char)tolower((unsigned char)*c);
    const char *p = buf;
    double sign = 1;
    if (*p == '-') sign = -1;
    if (*p == '-' || *p == '+') p++;
    if (!strcmp(p, ".inf")) {
        *out = sign * INFINITY;
        return true;
    }
    if (!strcmp(p, ".nan")) {
        *out = NAN;
        return true;
    }
    if (strchr(p, ':')) {
        double v = 0;
        for (;;) {
            char *end;
            double part = strtod(p, &end);
            if (end == p) return false;
            v = v * 60 + part;
            if (*end == ':') {
                p = end + 1;
                continue;
            }
            if (*end) return false;
            break;
        }
        *out = sign * v;
        return true;
    }
    char *end;
    double v = strtod(p, &end);
    if (*end) return false;
    *out = sign * v;
    return true;
}

/* Shortest digits that read back as v: "%.{p}e" for p = 1..17. */
static int shortest_digits(double v, char *digits, int *exp10) {
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v || prec == 17) {
            int n = 0;
            const char *c = tmp;
            if (*c == '-') c++;
            for (; *c && *c != 'e'; c++)
                if (*c != '.') digits[n++] = *c;
            while (n > 1 && digits[n - 1] == '0') n--;
            digits[n] = 0;
            *exp10 = atoi(strchr(tmp, 'e') + 1);
            return n;
        }
    }
    return 0;
}

/* Python's repr(float): shortest round-trip digits, positional when
 * -4 <= exponent < 16, else scientific with a two-digit exponent. */
void cfg_py_float_repr(double v, nc_strbuf *b) {
    if (isnan(v)) {
        nc_sb_puts(b, "nan");
        return;
    }
    if (isinf(v)) {
        nc_sb_puts(b, v < 0 ? "-inf" : "inf");
        return;
    }
    if (signbit(v)) nc_sb_putc(b, '-');
    v = fabs(v);
    if (v == 0) {
        nc_sb_puts(b, "0.0");
        return;
    }
    char d[32];
    int e;
    int n = shortest_digits(v, d, &e);
    if (e >= -4 && e < 16) {
        if (e < 0) {
            nc_sb_puts(b, "0.");
            for (int i = 0; i < -e - 1; i++) nc_sb_putc(b, '0');
            nc_sb_append(b, d, (size_t)n);
        } else if (n <= e + 1) {
            nc_sb_append(b, d, (size_t)n);
            for (int i = n; i < e + 1; i++) nc_sb_putc(b, '0');
            nc_sb_puts(b, ".0");
        } else {
            nc_sb_append(b, d, (size_t)e + 1);
            nc_sb_putc(b, '.');
            nc_sb_append(b, d + e + 1, (size_t)(n - e - 1));
        }
        return;
    }
    nc_sb_putc(b, d[0]);
    if (n > 1) {
        nc_sb_putc(b, '.');
        nc_sb_append(b, d + 1, (size_t)n - 1);
    }
    nc_sb_appendf(b, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
}

/* PyYAML represent_float: .inf/.nan, else repr() lowered with ".0" put before
 * a bare exponent so the text stays a YAML 1.1 float ("1.0e-05"). */
void cfg_yaml_float(double v, nc_strbuf *b) {
    if (isnan(v)) {
        nc_sb_puts(b, ".nan");
        return;
    }
    if (isinf(v)) {
        nc_sb_puts(b, v < 0 ? "-.inf" : ".inf");
        return;
    }
    nc_strbuf r = {0};
    cfg_py_float_repr(v, &r);
    const char *s = nc_sb_str(&r);
    const char *e = strchr(s, 'e');
    if (e && !memchr(s, '.', (size_t)(e - s))) {
        nc_sb_append(b, s, (size_t)(e - s));
        nc_sb_puts(b, ".0");
        nc_sb_puts(b, e);
    } else {
        nc_sb_puts(b, s);
    }
    if (r.oom) b->oom = true;
    nc_sb_free(&r);
}

void cfg_py_str(const char *text, bool quoted, nc_strbuf *b) {
    int64_t iv;
    double fv;
    bool bv;
    switch (nc_cfg_scalar_type(text, quoted)) {
    case NC_CFG_T_NULL: nc_sb_puts(b, "None"); return;
    case NC_CFG_T_BOOL:
        cfg_parse_bool(text, &bv);
        nc_sb_puts(b, bv ? "True" : "False");
        return;
    case NC_CFG_T_INT:
        if (cfg_parse_int(text, &iv)) nc_sb_appendf(b, "%lld", (long long)iv);
        else nc_sb_puts(b, text);
        return;
    case NC_CFG_T_FLOAT:
        if (cfg_parse_float(text, &fv)) cfg_py_float_repr(fv, b);
        else nc_sb_puts(b, text);
        return;
    default: nc_sb_puts(b, text); return;
    }
}

/* OmegaConfDumper.str_representer quotes strings that are YAML bools
 * (including y/n) or that Python's int()/float() accept; plus anything our
 * own loader would type as non-string. */
bool cfg_str_needs_quotes(const char *text) {
    if (nc_cfg_scalar_type(text, false) != NC_CFG_T_STR) return true;
    if (!strcmp(text, "y") || !strcmp(text, "Y") || !strcmp(text, "n") || !strcmp(text, "N"))
        return true;
    char *end;
    if (*text && !isspace((unsigned char)*text)) {
        (void)strtod(text, &end);
        if (!*end) return true;
    }
    return false;
}
