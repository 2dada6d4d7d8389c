/* .npy read and write. The header is a Python dict literal; we parse just
 * the three keys NumPy writes ('descr', 'fortran_order', 'shape'). */
#include "nemoc/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileutil.h"
#include "nemoc/alloc.h"

static const char MAGIC[] = "\x93NUMPY";

static bool descr_dtype(const char *d, nc_dtype *dt) {
    if (!strcmp(d, "<f4")) *dt = NC_F32;
    else if (!strcmp(d, "<f2")) *dt = NC_F16;
    else if (!strcmp(d, "<i4")) *dt = NC_I32;
    else if (!strcmp(d, "<i8")) *dt = NC_I64;
    else if (!strcmp(d, "|u1") || !strcmp(d, "|b1")) *dt = NC_U8;
    else return false;
    return true;
}

static const char *dtype_descr(nc_dtype dt) {
    switch (dt) {
    case NC_F32: return "<f4";
    case NC_F16: return "<f2";
    case NC_I32: return "<i4";
    case NC_I64: return "<i8";
    case NC_U8: return "|u1";
    default: return NULL;
    }
}

/* Finds the value text after 'key': in the header dict. */
static const char *find_key(const char *h, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ' || *p == ':') p++;
    return p;
}

nc_status nc_npy_parse(const void *buf, size_t len, const char *what, nc_tensor **out) {
    *out = NULL;
    const unsigned char *b = buf;
    if (len < 10 || memcmp(b, MAGIC, 6) != 0)
        return nc_error(NC_ERR_FORMAT, "%s: not a .npy file (bad magic)", what);
    int major = b[6];
    size_t hlen, hoff;
    if (major == 1) {
        hlen = (size_t)b[8] | ((size_t)b[9] << 8);
        hoff = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return nc_error(NC_ERR_FORMAT, "%s: truncated header", what);
        hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
        hoff = 12;
    } else {
        return nc_error(NC_ERR_FORMAT, "%s: unsupported .npy version %d", what, major);
    }
    if (hlen > len - hoff) return nc_error(NC_ERR_FORMAT, "%s: truncated header", what);
    char *h = nc_malloc(hlen + 1);
    if (!h) return nc_error(NC_ERR_OOM, "%s: header", what);
    memcpy(h, b + hoff, hlen);
    h[hlen] = 0;
    nc_status st = NC_OK;
    const char *d = find_key(h, "descr");
    const char *fo = find_key(h, "fortran_order");
    const char *sh = find_key(h, "shape");
    char descr[16] = {0};
    nc_dtype dt = NC_F32;
    int ndim = 0;
    int64_t shape[NC_MAX_DIMS];
    if (!d || !fo || !sh || *d != '\'') {
        st = nc_error(NC_ERR_FORMAT, "%s: header lacks descr/fortran_order/shape", what);
        goto done;
    }
    {
        const char *e = strchr(d + 1, '\'');
        if (!e || e - d - 1 >= (long)sizeof descr) {
            st = nc_error(NC_ERR_FORMAT, "%s: bad descr", what);
            goto done;
        }
        memcpy(descr, d + 1, (size_t)(e - d - 1));
    }
    if (!descr_dtype(descr, &dt)) {
        st = nc_error(NC_ERR_DTYPE, "%s: unsupported dtype '%s'", what, descr);
        goto done;
    }
    if (strncmp(fo, "False", 5) != 0) {
        st = nc_error(NC_ERR_UNSUPPORTED, "%s: Fortran-order arrays are not supported", what);
        goto done;
    }
    if (*sh != '(') {
        st = nc_error(NC_ERR_FORMAT, "%s: bad shape", what);
        goto done;
    }
    for (const char *p = sh + 1;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        if (*p < '0' || *p > '9' || ndim == NC_MAX_DIMS) {
            st = nc_error(NC_ERR_FORMAT, "%s: bad shape", what);
            goto done;
        }
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || v < 0 || v > (1LL << 40)) {
            st = nc_error(NC_ERR_FORMAT, "%s: bad dimension", what);
            goto done;
        }
        shape[ndim++] = v;
        p = end;
    }
    {
        /* Bytes needed, checked per dimension: a header may claim a shape
         * whose element count overflows (each dim alone is <= 2^40). */
        size_t avail = len - hoff - hlen;
        size_t need = nc_dtype_size(dt);
        bool empty = false; /* a zero dim anywhere: no data at all, whatever the others say */
        int64_t nonzero = 1; /* as NumPy: the nonzero dims' product must fit, even for an empty array */
        for (int i = 0; i < ndim; i++) {
            empty |= shape[i] == 0;
            if (shape[i] && __builtin_mul_overflow(nonzero, shape[i], &nonzero)) {
                st = nc_error(NC_ERR_FORMAT, "%s: shape too large (element count overflows)", what);
                goto done;
            }
        }
        for (int i = 0; i < ndim && !empty; i++) {
            if (shape[i] && need > avail / (size_t)shape[i]) {
                char shp[256];
                nc_dims_str(ndim, shape, shp, sizeof shp);
                st = nc_error(NC_ERR_FORMAT, "%s: data truncated (%zu bytes for shape %s)", what, avail, shp);
                goto done;
            }
            need *= (size_t)shape[i];
        }
        if (empty) need = 0;
        if (need > avail) {
            st = nc_error(NC_ERR_FORMAT, "%s: data truncated (%zu bytes, need %zu)", what, avail, need);
            goto done;
        }
        st = nc_tensor_new(dt, ndim, shape, out);
        if (st) goto done;
        memcpy((*out)->data, b + hoff + hlen, need);
    }
done:
    nc_free(h);
    return st;
}

nc_status nc_npy_load(const char *path, nc_tensor **out) {
    void *buf;
    size_t len;
    nc_status s = nc_read_file(path, &buf, &len);
    if (s) return s;
    s = nc_npy_parse(buf, len, path, out);
    nc_free(buf);
    return s;
}

nc_status nc_npy_save(const char *path, const nc_tensor *t) {
    const char *descr = dtype_descr(t->dtype);
    if (!descr) return nc_error(NC_ERR_DTYPE, "%s: cannot store %s in .npy", path, nc_dtype_name(t->dtype));
    char dict[512];
    int o = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < t->ndim; i++)
        o += snprintf(dict + o, sizeof dict - (size_t)o, "%lld%s", (long long)t->shape[i],
                      (t->ndim == 1 || i < t->ndim - 1) ? "," : "");
    o += snprintf(dict + o, sizeof dict - (size_t)o, "), }");
    /* Pad with spaces so data starts on a 64-byte boundary, newline-terminated. */
    size_t total = 10 + (size_t)o + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)o + pad + 1;
    unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                              (unsigned char)(hlen >> 8)};
    size_t n = nc_nbytes(t);
    size_t all = 10 + hlen + n;
    char *img = nc_malloc(all);
    if (!img) return nc_error(NC_ERR_OOM, "%s: cannot allocate %zu bytes", path, all);
    memcpy(img, head, 10);
    memcpy(img + 10, dict, (size_t)o);
    memset(img + 10 + o, ' ', pad);
    img[10 + hlen - 1] = '\n';
    memcpy(img + 10 + hlen, t->data, n);
    nc_status s = nc_write_file_atomic(path, img, all);
    nc_free(img);
    return s;
}
