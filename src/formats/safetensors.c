/* safetensors reading (mmap, validated, zero-copy) and writing (atomic).
 * Validation and layout follow huggingface/safetensors safetensors/src/tensor.rs
 * (read_metadata / Metadata::validate / prepare). */
#include "nemoc/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fileutil.h"
#include "core/utf8.h"
#include "nemoc/alloc.h"

/* Same limit as the reference reader: larger headers are refused. */
#define MAX_HEADER_BYTES 100000000ull
/* Offsets and sizes are JSON numbers, exact up to 2^53 as doubles. */
#define MAX_EXACT (9007199254740992.0)

static const char *const DT_NAMES[NC_ST_DTYPE_COUNT] = {
    "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"};
static const size_t DT_SIZES[NC_ST_DTYPE_COUNT] = {1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};

const char *nc_st_dtype_name(nc_st_dtype dt) {
    return (unsigned)dt < NC_ST_DTYPE_COUNT ? DT_NAMES[dt] : "invalid";
}

size_t nc_st_dtype_size(nc_st_dtype dt) { return (unsigned)dt < NC_ST_DTYPE_COUNT ? DT_SIZES[dt] : 0; }

bool nc_st_dtype_to_nc(nc_st_dtype dt, nc_dtype *out) {
    switch (dt) {
    case NC_ST_BOOL:
    case NC_ST_U8: *out = NC_U8; return true;
    case NC_ST_F16: *out = NC_F16; return true;
    case NC_ST_BF16: *out = NC_BF16; return true;
    case NC_ST_I32: *out = NC_I32; return true;
    case NC_ST_F32: *out = NC_F32; return true;
    case NC_ST_I64: *out = NC_I64; return true;
    default: return false;
    }
}

struct nc_st_file {
    char *name;
    cJSON *json;          /* the parsed header; names and metadata point into it */
    nc_st_info *infos;    /* in data order */
    int64_t n;
    nc_st_info **by_name; /* sorted by name, for lookup */
    const char **meta;    /* key, value pairs sorted by key */
    int64_t n_meta;
    void *map;            /* mmap'd file, or NULL for nc_st_parse */
    size_t map_len;
    void *aligned;        /* copies of tensors whose bytes were misaligned */
};

void nc_st_close(nc_st_file *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->map_len);
    cJSON_Delete(f->json);
    nc_free(f->infos);
    nc_free(f->by_name);
    nc_free(f->meta);
    nc_free(f->aligned);
    nc_free(f->name);
    nc_free(f);
}

/* A JSON number that is a non-negative integer exactly representable. */
static bool json_uint(const cJSON *j, int64_t *out) {
    if (!cJSON_IsNumber(j)) return false;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= MAX_EXACT) || d != (double)(int64_t)d) return false;
    *out = (int64_t)d;
    return true;
}

static int cmp_info_offsets(const void *a, const void *b) {
    const nc_st_info *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    int64_t ex = x->offset + x->nbytes, ey = y->offset + y->nbytes;
    return ex < ey ? -1 : ex > ey;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(const nc_st_info *const *)a)->name, (*(const nc_st_info *const *)b)->name);
}

static int cmp_meta(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static nc_status parse_tensor(const char *what, const cJSON *t, nc_st_info *info) {
    const char *name = t->string;
    if (!cJSON_IsObject(t)) return nc_error(NC_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", what, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return nc_error(NC_ERR_FORMAT, "%s: tensor '%s': needs \"dtype\" (string), \"shape\" and \"data_offsets\" (arrays)",
                        what, name);
    int k = -1;
    for (int i = 0; i < NC_ST_DTYPE_COUNT; i++)
        if (!strcmp(dt->valuestring, DT_NAMES[i])) k = i;
    if (k < 0) return nc_error(NC_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%.32s'", what, name, dt->valuestring);
    int nd = cJSON_GetArraySize(shape);
    if (nd > NC_MAX_DIMS)
        return nc_error(NC_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dimensions (nemoc supports %d)", what, name, nd,
                        NC_MAX_DIMS);
    *info = (nc_st_info){.name = name, .dtype = (nc_st_dtype)k, .ndim = nd};
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape) {
        if (!json_uint(d, &info->shape[i++]))
            return nc_error(NC_ERR_FORMAT, "%s: tensor '%s': shape entries must be non-negative integers", what, name);
    }
    int64_t b, e;
    if (cJSON_GetArraySize(offs) != 2 || !json_uint(cJSON_GetArrayItem(offs, 0), &b) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &e))
        return nc_error(NC_ERR_FORMAT, "%s: tensor '%s': data_offsets must be two non-negative integers", what, name);
    if (e < b) return nc_error(NC_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] end before they begin", what,
                               name, (long long)b, (long long)e);
    /* numel * size without overflow (the reference uses checked_mul). */
    uint64_t need = DT_SIZES[k];
    for (int j = 0; j < nd; j++) {
        uint64_t dim = (uint64_t)info->shape[j];
        if (dim && need > UINT64_MAX / dim) {
            need = UINT64_MAX;
            break;
        }
        need *= dim;
    }
    if (need != (uint64_t)(e - b)) {
        char shp[160];
        nc_dims_str(nd, info->shape, shp, sizeof shp);
        return nc_error(NC_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] hold %lld bytes but %s %s needs %llu",
                        what, name, (long long)b, (long long)e, (long long)(e - b), DT_NAMES[k], shp,
                        (unsigned long long)need);
    }
    info->offset = b;
    info->nbytes = e - b;
    return NC_OK;
}

static nc_status parse_metadata(nc_st_file *f, const cJSON *m) {
    if (!cJSON_IsObject(m)) return nc_error(NC_ERR_FORMAT, "%s: __metadata__ is not a JSON object", f->name);
    int n = cJSON_GetArraySize(m);
    f->meta = nc_calloc((size_t)(2 * n + 1), sizeof *f->meta);
    if (!f->meta) return nc_error(NC_ERR_OOM, "%s: metadata", f->name);
    const cJSON *it;
    cJSON_ArrayForEach(it, m) {
        if (!cJSON_IsString(it))
            return nc_error(NC_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a string", f->name, it->string);
        f->meta[2 * f->n_meta] = it->string;
        f->meta[2 * f->n_meta + 1] = it->valuestring;
        f->n_meta++;
    }
    qsort(f->meta, (size_t)f->n_meta, 2 * sizeof *f->meta, cmp_meta);
    for (int64_t i = 1; i < f->n_meta; i++)
        if (!strcmp(f->meta[2 * i], f->meta[2 * i - 2]))
            return nc_error(NC_ERR_FORMAT, "%s: __metadata__ key '%s' appears twice", f->name, f->meta[2 * i]);
    return NC_OK;
}

/* Points every tensor at its bytes; tensors that are not aligned to their
 * element size (older writers did not pad the header) are copied once into
 * an aligned block so views are always safe to read as their dtype. */
static nc_status place_data(nc_st_file *f, const unsigned char *data) {
    size_t extra = 0;
    for (int64_t i = 0; i < f->n; i++) {
        const unsigned char *p = data + f->infos[i].offset;
        if ((uintptr_t)p % DT_SIZES[f->infos[i].dtype]) extra += ((size_t)f->infos[i].nbytes + 63) / 64 * 64;
    }
    unsigned char *blk = NULL;
    if (extra) {
        blk = nc_malloc(extra);
        if (!blk) return nc_error(NC_ERR_OOM, "%s: %zu bytes for misaligned tensors", f->name, extra);
        f->aligned = blk;
    }
    for (int64_t i = 0; i < f->n; i++) {
        nc_st_info *in = &f->infos[i];
        const unsigned char *p = data + in->offset;
        if ((uintptr_t)p % DT_SIZES[in->dtype]) {
            memcpy(blk, p, (size_t)in->nbytes);
            p = blk;
            blk += ((size_t)in->nbytes + 63) / 64 * 64;
        }
        in->data = p;
    }
    return NC_OK;
}

static nc_status parse_into(nc_st_file *f, const unsigned char *b, size_t len) {
    const char *what = f->name;
    if (len < 8) return nc_error(NC_ERR_FORMAT, "%s: %zu bytes is too small for a safetensors file", what, len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    if (n > MAX_HEADER_BYTES)
        return nc_error(NC_ERR_FORMAT, "%s: header length %llu is over the 100 MB limit (not a safetensors file?)", what,
                        (unsigned long long)n);
    if (n > len - 8)
        return nc_error(NC_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes): truncated?",
                        what, (unsigned long long)n, len);
    const char *h = (const char *)b + 8;
    if (n < 2 || h[0] != '{') return nc_error(NC_ERR_FORMAT, "%s: header does not start with '{'", what);
    if (!nc_utf8_valid((const unsigned char *)h, (size_t)n, NULL)) return nc_error(NC_ERR_FORMAT, "%s: header is not valid UTF-8", what);
    const char *end = NULL;
    f->json = cJSON_ParseWithLengthOpts(h, (size_t)n, &end, 0);
    if (!f->json) {
        size_t at = end && end >= h ? (size_t)(end - h) : 0;
        return nc_error(NC_ERR_FORMAT, "%s: header is not valid JSON (near byte %zu of %llu)", what, at + 8,
                        (unsigned long long)n);
    }
    for (const char *p = end; p < h + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return nc_error(NC_ERR_FORMAT, "%s: unexpected bytes after the JSON header (at byte %zu)", what,
                            (size_t)(p - h) + 8);
    if (!cJSON_IsObject(f->json)) return nc_error(NC_ERR_FORMAT, "%s: header is not a JSON object", what);
    int count = cJSON_GetArraySize(f->json);
    f->infos = nc_calloc((size_t)(count ? count : 1), sizeof *f->infos);
    f->by_name = nc_calloc((size_t)(count ? count : 1), sizeof *f->by_name);
    if (!f->infos || !f->by_name) return nc_error(NC_ERR_OOM, "%s: tensor table", what);
    const cJSON *t;
    bool seen_meta = false;
    cJSON_ArrayForEach(t, f->json) {
        nc_status s;
        if (!strcmp(t->string, "__metadata__")) {
            if (seen_meta) return nc_error(NC_ERR_FORMAT, "%s: __metadata__ appears twice", what);
            seen_meta = true;
            s = parse_metadata(f, t);
        } else {
            s = parse_tensor(what, t, &f->infos[f->n]);
            if (!s) f->n++;
        }
        if (s) return s;
    }
    /* Sort by data offset (older writers ordered the header by name). */
    qsort(f->infos, (size_t)f->n, sizeof *f->infos, cmp_info_offsets);
    for (int64_t i = 0; i < f->n; i++) f->by_name[i] = &f->infos[i];
    qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_by_name);
    for (int64_t i = 1; i < f->n; i++)
        if (!strcmp(f->by_name[i]->name, f->by_name[i - 1]->name))
            return nc_error(NC_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", what, f->by_name[i]->name);
    /* Tensors must tile the data section exactly: no gap, no overlap. */
    int64_t pos = 0;
    for (int64_t i = 0; i < f->n; i++) {
        const nc_st_info *in = &f->infos[i];
        if (in->offset != pos) {
            if (in->offset < pos)
                return nc_error(NC_ERR_FORMAT, "%s: tensor '%s' (bytes %lld..%lld) overlaps the tensor before it (ends at %lld)",
                                what, in->name, (long long)in->offset, (long long)(in->offset + in->nbytes), (long long)pos);
            return nc_error(NC_ERR_FORMAT, "%s: tensor '%s' starts at byte %lld of the data, leaving a gap after byte %lld",
                            what, in->name, (long long)in->offset, (long long)pos);
        }
        pos += in->nbytes;
    }
    uint64_t data_len = len - 8 - n;
    if ((uint64_t)pos != data_len)
        return nc_error(NC_ERR_FORMAT, "%s: the header describes %lld data bytes but the file holds %llu%s", what,
                        (long long)pos, (unsigned long long)data_len,
                        (uint64_t)pos > data_len ? " (truncated file?)" : " (trailing bytes)");
    return place_data(f, b + 8 + n);
}

static nc_status new_file(const char *name, nc_st_file **out) {
    *out = nc_calloc(1, sizeof **out);
    if (!*out) return nc_error(NC_ERR_OOM, "safetensors handle");
    (*out)->name = nc_strdup(name ? name : "<buffer>");
    if (!(*out)->name) {
        nc_free(*out);
        *out = NULL;
        return nc_error(NC_ERR_OOM, "safetensors handle");
    }
    return NC_OK;
}

nc_status nc_st_parse(const void *buf, size_t len, const char *name, nc_st_file **out) {
    nc_st_file *f;
    nc_status s = new_file(name, &f);
    if (s) return s;
    s = parse_into(f, buf, len);
    if (s) {
        nc_st_close(f);
        f = NULL;
    }
    *out = f;
    return s;
}

nc_status nc_st_open(const char *path, nc_st_file **out) {
    *out = NULL;
    int fd;
    int64_t size;
    nc_status os = nc_open_read(path, "safetensors file", &fd, &size);
    if (os) return os;
    size_t len = (size_t)size;
    if (len < 8) {
        close(fd);
        return nc_error(NC_ERR_FORMAT, "%s: %zu bytes is too small for a safetensors file", path, len);
    }
    /* Read-only: a writable private mapping would be charged against the
     * commit limit for the whole file, which large checkpoints exceed. */
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) return nc_error(NC_ERR_IO, "cannot map '%s': %s", path, strerror(err));
    nc_st_file *f;
    nc_status s = new_file(path, &f);
    if (s) {
        munmap(map, len);
        return s;
    }
    f->map = map;
    f->map_len = len;
    s = parse_into(f, map, len);
    if (s) {
        nc_st_close(f);
        return s;
    }
    *out = f;
    return NC_OK;
}

int64_t nc_st_count(const nc_st_file *f) { return f->n; }

const nc_st_info *nc_st_at(const nc_st_file *f, int64_t i) { return (i >= 0 && i < f->n) ? &f->infos[i] : NULL; }

const nc_st_info *nc_st_find(const nc_st_file *f, const char *name) {
    int64_t lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const nc_st_info *in = f->by_name[mid];
        int c = strcmp(name, in->name);
        if (!c) return in;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

nc_status nc_st_get(const nc_st_file *f, const char *name, nc_tensor *out) {
    const nc_st_info *in = nc_st_find(f, name);
    if (!in) return nc_error(NC_ERR_NOT_FOUND, "%s: no tensor named '%s'", f->name, name);
    nc_dtype dt;
    if (!nc_st_dtype_to_nc(in->dtype, &dt))
        return nc_error(NC_ERR_DTYPE, "%s: tensor '%s' is %s; nemoc loads F32, BF16, F16, I32, I64, U8 and BOOL", f->name,
                        name, DT_NAMES[in->dtype]);
    nc_status s = nc_tensor_init(out, dt, in->ndim, in->shape, (void *)in->data);
    if (s) return nc_error_prefix(s, "%s: tensor '%s'", f->name, name);
    out->name = in->name;
    return NC_OK;
}

int64_t nc_st_metadata_count(const nc_st_file *f) { return f->n_meta; }
const char *nc_st_metadata_key(const nc_st_file *f, int64_t i) { return (i >= 0 && i < f->n_meta) ? f->meta[2 * i] : NULL; }
const char *nc_st_metadata_value(const nc_st_file *f, int64_t i) {
    return (i >= 0 && i < f->n_meta) ? f->meta[2 * i + 1] : NULL;
}
const char *nc_st_metadata_get(const nc_st_file *f, const char *key) {
    for (int64_t i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[2 * i], key)) return f->meta[2 * i + 1];
    return NULL;
}
