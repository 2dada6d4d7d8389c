/* safetensors writing, laid out as safetensors/src/tensor.rs `prepare` does:
 * tensors sorted by dtype (descending alignment) then name, offsets in that
 * order, compact JSON as serde_json prints it ("__metadata__" first), header
 * padded with spaces to a multiple of 8 so every tensor is aligned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/safetensors.h"

/* serde_json string escaping: quote, backslash, \b \f \n \r \t, other
 * control bytes as \u00xx; everything else (UTF-8 included) verbatim. */
static void sb_json_str(nc_strbuf *b, const char *s) {
    nc_sb_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': nc_sb_append(b, "\\\"", 2); break;
        case '\\': nc_sb_append(b, "\\\\", 2); break;
        case '\b': nc_sb_append(b, "\\b", 2); break;
        case '\f': nc_sb_append(b, "\\f", 2); break;
        case '\n': nc_sb_append(b, "\\n", 2); break;
        case '\r': nc_sb_append(b, "\\r", 2); break;
        case '\t': nc_sb_append(b, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                nc_sb_puts(b, esc);
            } else {
                nc_sb_append(b, (const char *)p, 1);
            }
        }
    }
    nc_sb_append(b, "\"", 1);
}

typedef struct wentry {
    const char *name;
    nc_st_dtype dt;
    const nc_tensor *t;
    size_t nbytes;
} wentry;

static int cmp_write(const void *a, const void *b) {
    const wentry *x = a, *y = b;
    if (x->dt != y->dt) return x->dt > y->dt ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static nc_status st_dtype_of(const nc_st_entry *e, nc_st_dtype *out) {
    if (e->as_bool) {
        if (e->tensor->dtype != NC_U8)
            return nc_error(NC_ERR_DTYPE, "safetensors: tensor '%s' is %s; BOOL needs uint8 data", e->name,
                            nc_dtype_name(e->tensor->dtype));
        *out = NC_ST_BOOL;
        return NC_OK;
    }
    switch (e->tensor->dtype) {
    case NC_F32: *out = NC_ST_F32; return NC_OK;
    case NC_BF16: *out = NC_ST_BF16; return NC_OK;
    case NC_F16: *out = NC_ST_F16; return NC_OK;
    case NC_I32: *out = NC_ST_I32; return NC_OK;
    case NC_I64: *out = NC_ST_I64; return NC_OK;
    case NC_U8: *out = NC_ST_U8; return NC_OK;
    default: return nc_error(NC_ERR_DTYPE, "safetensors: tensor '%s' has unsupported dtype %d", e->name, e->tensor->dtype);
    }
}

/* Validates and sorts the entries and builds the padded header. */
static nc_status prepare(const nc_st_entry *entries, int64_t n, const char *const *metadata, wentry **out,
                         nc_strbuf *hdr, uint64_t *data_len) {
    *out = NULL;
    wentry *w = nc_calloc((size_t)(n ? n : 1), sizeof *w);
    int64_t n_meta = 0;
    while (metadata && metadata[2 * n_meta]) n_meta++;
    const char **meta = nc_calloc((size_t)(2 * n_meta + 1), sizeof *meta);
    nc_status s = NC_OK;
    if (!w || !meta) s = nc_error(NC_ERR_OOM, "safetensors: entries");
    for (int64_t i = 0; !s && i < n; i++) {
        const nc_st_entry *e = &entries[i];
        if (!e->name || !e->tensor) {
            s = nc_error(NC_ERR_INVALID_ARG, "safetensors: entry %lld has no name or no tensor", (long long)i);
            break;
        }
        if (!strcmp(e->name, "__metadata__")) {
            s = nc_error(NC_ERR_INVALID_ARG, "safetensors: '__metadata__' is reserved and cannot name a tensor");
            break;
        }
        s = st_dtype_of(e, &w[i].dt);
        w[i].name = e->name;
        w[i].t = e->tensor;
        w[i].nbytes = nc_nbytes(e->tensor);
        if (!s && w[i].nbytes && !e->tensor->data)
            s = nc_error(NC_ERR_INVALID_ARG, "safetensors: tensor '%s' has no data", e->name);
    }
    if (!s) {
        const char **names = nc_calloc((size_t)(n ? n : 1), sizeof *names);
        if (!names) s = nc_error(NC_ERR_OOM, "safetensors: entries");
        for (int64_t i = 0; !s && i < n; i++) names[i] = w[i].name;
        if (!s) qsort(names, (size_t)n, sizeof *names, cmp_str);
        for (int64_t i = 1; !s && i < n; i++)
            if (!strcmp(names[i], names[i - 1])) s = nc_error(NC_ERR_INVALID_ARG, "safetensors: tensor '%s' given twice", names[i]);
        nc_free(names);
    }
    if (!s) qsort(w, (size_t)n, sizeof *w, cmp_write);
    for (int64_t i = 0; !s && i < n_meta; i++) {
        if (!metadata[2 * i + 1]) s = nc_error(NC_ERR_INVALID_ARG, "safetensors: metadata '%s' has no value", metadata[2 * i]);
        meta[2 * i] = metadata[2 * i];
        meta[2 * i + 1] = metadata[2 * i + 1];
    }
    if (!s) {
        /* The reference writes metadata from a hash map (no set order);
         * sorting the keys makes our files reproducible. */
        qsort(meta, (size_t)n_meta, 2 * sizeof *meta, cmp_str);
        for (int64_t i = 1; i < n_meta && !s; i++)
            if (!strcmp(meta[2 * i], meta[2 * i - 2])) s = nc_error(NC_ERR_INVALID_ARG, "safetensors: metadata key '%s' given twice", meta[2 * i]);
    }
    if (s) {
        nc_free(w);
        nc_free(meta);
        return s;
    }
    nc_sb_append(hdr, "{", 1);
    if (n_meta) {
        nc_sb_puts(hdr, "\"__metadata__\":{");
        for (int64_t i = 0; i < n_meta; i++) {
            if (i) nc_sb_append(hdr, ",", 1);
            sb_json_str(hdr, meta[2 * i]);
            nc_sb_append(hdr, ":", 1);
            sb_json_str(hdr, meta[2 * i + 1]);
        }
        nc_sb_append(hdr, "}", 1);
    }
    uint64_t off = 0;
    char num[64];
    for (int64_t i = 0; i < n; i++) {
        if (i || n_meta) nc_sb_append(hdr, ",", 1);
        sb_json_str(hdr, w[i].name);
        nc_sb_puts(hdr, ":{\"dtype\":\"");
        nc_sb_puts(hdr, nc_st_dtype_name(w[i].dt));
        nc_sb_puts(hdr, "\",\"shape\":[");
        for (int d = 0; d < w[i].t->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)w[i].t->shape[d]);
            nc_sb_puts(hdr, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + w[i].nbytes));
        nc_sb_puts(hdr, num);
        off += w[i].nbytes;
    }
    nc_sb_append(hdr, "}", 1);
    /* (after an allocation failure appends add nothing: stop, reported below) */
    while (!hdr->oom && hdr->n % 8) nc_sb_append(hdr, " ", 1);
    nc_free(meta);
    if (hdr->oom) {
        nc_free(w);
        return nc_error(NC_ERR_OOM, "safetensors: header");
    }
    *out = w;
    *data_len = off;
    return NC_OK;
}

static void le64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

nc_status nc_st_serialize(const nc_st_entry *entries, int64_t n, const char *const *metadata, void **out, size_t *len) {
    *out = NULL;
    *len = 0;
    wentry *w;
    nc_strbuf hdr = {0};
    uint64_t dlen;
    nc_status s = prepare(entries, n, metadata, &w, &hdr, &dlen);
    if (s) {
        nc_free(hdr.p);
        return s;
    }
    size_t total = 8 + hdr.n + (size_t)dlen;
    unsigned char *b = nc_malloc(total);
    if (!b) {
        nc_free(w);
        nc_free(hdr.p);
        return nc_error(NC_ERR_OOM, "safetensors: %zu bytes", total);
    }
    le64(b, hdr.n);
    memcpy(b + 8, hdr.p, hdr.n);
    size_t o = 8 + hdr.n;
    for (int64_t i = 0; i < n; i++) {
        if (w[i].nbytes) memcpy(b + o, w[i].t->data, w[i].nbytes);
        o += w[i].nbytes;
    }
    nc_free(w);
    nc_free(hdr.p);
    *out = b;
    *len = total;
    return NC_OK;
}

nc_status nc_st_save(const char *path, const nc_st_entry *entries, int64_t n, const char *const *metadata) {
    wentry *w;
    nc_strbuf hdr = {0};
    uint64_t dlen;
    nc_status s = prepare(entries, n, metadata, &w, &hdr, &dlen);
    if (s) {
        nc_free(hdr.p);
        return nc_error_prefix(s, "writing '%s'", path);
    }
    nc_atomic_file *f;
    s = nc_atomic_open(path, &f);
    if (!s) {
        unsigned char len8[8];
        le64(len8, hdr.n);
        s = nc_atomic_write(f, len8, 8);
        if (!s) s = nc_atomic_write(f, hdr.p, hdr.n);
        for (int64_t i = 0; !s && i < n; i++)
            if (w[i].nbytes) s = nc_atomic_write(f, w[i].t->data, w[i].nbytes);
        if (s) nc_atomic_abort(f);
        else s = nc_atomic_commit(f);
    }
    nc_free(w);
    nc_free(hdr.p);
    return s;
}
