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

/* Item size of a numeric descr: "<u4" -> 4, "|u1" -> 1; 0 if not one. */
static size_t descr_item_size(const char *d) {
    if ((d[0] != '<' && d[0] != '|') || !strchr("uifb", d[1]) || d[2] < '1' || d[2] > '8' || d[3]) return 0;
    size_t n = (size_t)(d[2] - '0');
    return (n == 1 || n == 2 || n == 4 || n == 8) && (d[0] == '<' || n == 1) ? n : 0;
}

nc_status nc_npy_parse_info(const void *buf, size_t len, const char *what, nc_npy_info *info) {
    memset(info, 0, sizeof *info);
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
    if (!d || !fo || !sh || *d != '\'') {
        st = nc_error(NC_ERR_FORMAT, "%s: header lacks descr/fortran_order/shape", what);
        goto done;
    }
    {
        const char *e = strchr(d + 1, '\'');
        if (!e || e - d - 1 >= (long)sizeof info->descr) {
            st = nc_error(NC_ERR_FORMAT, "%s: bad descr", what);
            goto done;
        }
        memcpy(info->descr, d + 1, (size_t)(e - d - 1));
    }
    info->item_size = descr_item_size(info->descr);
    if (!info->item_size) {
        st = nc_error(NC_ERR_DTYPE, "%s: unsupported dtype '%s'", what, info->descr);
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
        if (*p < '0' || *p > '9' || info->ndim == NC_MAX_DIMS) {
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
        info->shape[info->ndim++] = v;
        p = end;
    }
    {
        /* Bytes needed, checked per dimension: a header may claim a shape
         * whose element count overflows (each dim alone is <= 2^40). */
        size_t avail = len - hoff - hlen;
        size_t need = info->item_size;
        bool empty = false; /* a zero dim anywhere: no data at all, whatever the others say */
        int64_t nonzero = 1; /* as NumPy: the nonzero dims' product must fit, even for an empty array */
        for (int i = 0; i < info->ndim; i++) {
            empty |= info->shape[i] == 0;
            if (info->shape[i] && __builtin_mul_overflow(nonzero, info->shape[i], &nonzero)) {
                st = nc_error(NC_ERR_FORMAT, "%s: shape too large (element count overflows)", what);
                goto done;
            }
        }
        for (int i = 0; i < info->ndim && !empty; i++) {
            if (info->shape[i] && need > avail / (size_t)info->shape[i]) {
                char shp[256];
                nc_dims_str(info->ndim, info->shape, shp, sizeof shp);
                st = nc_error(NC_ERR_FORMAT, "%s: data truncated (%zu bytes for shape %s)", what, avail, shp);
                goto done;
            }
            need *= (size_t)info->shape[i];
        }
        if (empty) need = 0;
        if (need > avail) {
            st = nc_error(NC_ERR_FORMAT, "%s: data truncated (%zu bytes, need %zu)", what, avail, need);
            goto done;
        }
        info->data_offset = hoff + hlen;
        info->data_bytes = need;
    }
done:
    nc_free(h);
    return st;
}

nc_status nc_npy_parse(const void *buf, size_t len, const char *what, nc_tensor **out) {
    *out = NULL;
    nc_npy_info info;
    nc_status st = nc_npy_parse_info(buf, len, what, &info);
    if (st) return st;
    nc_dtype dt;
    if (!descr_dtype(info.descr, &dt))
        return nc_error(NC_ERR_DTYPE, "%s: unsupported dtype '%s'", what, info.descr);
    st = nc_tensor_new(dt, info.ndim, info.shape, out);
    if (st) return st;
    memcpy((*out)->data, (const unsigned char *)buf + info.data_offset, info.data_bytes);
    return NC_OK;
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
    return nc_npy_save_raw(path, descr, t->ndim, t->shape, t->data);
}

nc_status nc_npy_save_raw(const char *path, const char *descr, int ndim, const int64_t *shape, const void *data) {
    size_t item = descr_item_size(descr);
    if (!item) return nc_error(NC_ERR_DTYPE, "%s: cannot store dtype '%s' in .npy", path, descr);
    if (ndim < 0 || ndim > NC_MAX_DIMS) return nc_error(NC_ERR_INVALID_ARG, "%s: %d dimensions", path, ndim);
    /* numpy.lib.format's header: repr of the dict, the shape as a Python
     * tuple ("(5,)", "(3, 2)"), spaces up to a 64-byte boundary, '\n'. */
    char dict[512];
    int o = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    size_t n = item;
    for (int i = 0; i < ndim; i++) {
        o += snprintf(dict + o, sizeof dict - (size_t)o, "%s%lld%s", i ? " " : "", (long long)shape[i],
                      (ndim == 1 || i < ndim - 1) ? "," : "");
        n *= (size_t)shape[i];
    }
    o += snprintf(dict + o, sizeof dict - (size_t)o, "), }");
    size_t total = 10 + (size_t)o + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)o + pad + 1;
    unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                              (unsigned char)(hlen >> 8)};
    size_t all = 10 + hlen;
    char *img = nc_malloc(all);
    if (!img) return nc_error(NC_ERR_OOM, "%s: cannot allocate %zu bytes", path, all);
    memcpy(img, head, 10);
    memcpy(img + 10, dict, (size_t)o);
    memset(img + 10 + o, ' ', pad);
    img[10 + hlen - 1] = '\n';
    nc_atomic_file *f;
    nc_status s = nc_atomic_open(path, &f);
    if (!s) {
        s = nc_atomic_write(f, img, all);
        if (!s && n) s = nc_atomic_write(f, data, n);
        if (s) nc_atomic_abort(f);
        else s = nc_atomic_commit(f);
    }
    nc_free(img);
    return s;
}
