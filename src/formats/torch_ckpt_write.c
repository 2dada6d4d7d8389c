/* Writing torch.save checkpoints.
 *
 * The pickle reproduces, opcode for opcode, what CPython's pickle module
 * (protocol 2, Lib/pickle.py save_reduce/save_tuple/_batch_setitems/memoize)
 * writes for torch.save(OrderedDict(name -> tensor)) in torch/serialization.py
 * _save: OrderedDict reduced with (), then per tensor
 * _rebuild_tensor_v2(persistent ('storage', <T>Storage, key, 'cpu', numel),
 * 0, size, stride, False, OrderedDict()), memo indices and all. Records:
 * <archive>/data.pkl, <archive>/byteorder, <archive>/data/<i>, <archive>/version. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/strbuf.h"
#include "io/fileutil.h"
#include "formats/strmap.h"
#include "formats/torch_internal.h"
#include "formats/zip.h"
#include "nemoc/alloc.h"

/* ---- a growable pickle buffer -------------------------------------------- */

typedef struct pbuf {
    nc_strbuf s; /* the pickle bytes; s.oom after a failed append */
    int64_t memo; /* next memo index */
} pbuf;

static void put(pbuf *p, const void *s, size_t len) { nc_sb_append(&p->s, s, len); }

static void put1(pbuf *p, unsigned char c) { put(p, &c, 1); }

static void put_le(pbuf *p, uint64_t v, int n) {
    unsigned char b[8];
    for (int i = 0; i < n; i++) b[i] = (unsigned char)(v >> (8 * i));
    put(p, b, (size_t)n);
}

/* Pickler.memoize: BINPUT below 256, LONG_BINPUT above; returns the index. */
static int64_t memoize(pbuf *p) {
    int64_t i = p->memo++;
    if (i < 256) {
        put1(p, 'q');
        put1(p, (unsigned char)i);
    } else {
        put1(p, 'r');
        put_le(p, (uint64_t)i, 4);
    }
    return i;
}

static void get(pbuf *p, int64_t i) {
    if (i < 256) {
        put1(p, 'h');
        put1(p, (unsigned char)i);
    } else {
        put1(p, 'j');
        put_le(p, (uint64_t)i, 4);
    }
}

/* Pickler.save_long for protocol 2. */
static void put_int(pbuf *p, int64_t v) {
    if (v >= 0 && v <= 0xff) {
        put1(p, 'K');
        put1(p, (unsigned char)v);
    } else if (v >= 0 && v <= 0xffff) {
        put1(p, 'M');
        put_le(p, (uint64_t)v, 2);
    } else if (v >= -0x80000000LL && v <= 0x7fffffffLL) {
        put1(p, 'J');
        put_le(p, (uint64_t)v, 4);
    } else {
        /* LONG1 with the shortest two's-complement encoding (encode_long). */
        unsigned char b[8];
        int n = 8;
        for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)v >> (8 * i));
        while (n > 1 && ((b[n - 1] == 0 && !(b[n - 2] & 0x80)) || (b[n - 1] == 0xff && (b[n - 2] & 0x80)))) n--;
        put1(p, 0x8a);
        put1(p, (unsigned char)n);
        put(p, b, (size_t)n);
    }
}

static int64_t put_str(pbuf *p, const char *s) {
    size_t len = strlen(s);
    put1(p, 'X');
    put_le(p, len, 4);
    put(p, s, len);
    return memoize(p);
}

/* save_tuple of ints: () unmemoized, 1-3 items with TUPLEn, more with MARK. */
static void put_int_tuple(pbuf *p, const int64_t *v, int n) {
    if (n == 0) {
        put1(p, ')');
        return;
    }
    if (n > 3) put1(p, '(');
    for (int i = 0; i < n; i++) put_int(p, v[i]);
    put1(p, n == 1 ? 0x85 : n == 2 ? 0x86 : n == 3 ? 0x87 : 't');
    memoize(p);
}

static void put_global(pbuf *p, const char *mod, const char *name) {
    put1(p, 'c');
    put(p, mod, strlen(mod));
    put1(p, '\n');
    put(p, name, strlen(name));
    put1(p, '\n');
}

/* ---- the plan ------------------------------------------------------------- */

typedef struct nc_torch_plan plan;
struct nc_torch_plan {
    const nc_named_tensor *items;
    int64_t n;
    nc_torch_dtype *td; /* dtype written for each item */
    pbuf pkl;
    nc_zip_wentry *ents; /* data.pkl, byteorder, data/0..n-1, version */
    char **names;
    int64_t n_ents;
    uint64_t cd_off, total;
    bool force_zip64;
};

static const char VERSION[] = "3\n";
static const char BYTEORDER[] = "little";

static bool valid_utf8(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        int n = *u < 0x80 ? 0 : (*u & 0xe0) == 0xc0 ? 1 : (*u & 0xf0) == 0xe0 ? 2 : (*u & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (n == 1 && *u < 0xc2)) return false;
        u++;
        for (int i = 0; i < n; i++, u++)
            if ((*u & 0xc0) != 0x80) return false;
    }
    return true;
}

/* The torch dtype item i is written as: its own, or the widened/narrowed
 * one the reader recorded (f32 as float64, u8 as bool, i32 as int16/int8). */
static nc_status resolve_dtype(const nc_named_tensor *it, nc_torch_dtype *out) {
    nc_torch_dtype natural = nc_torch_dtype_of(it->tensor->dtype);
    nc_torch_dtype want = it->torch_dtype;
    if (natural == NC_TORCH_AUTO) return nc_error(NC_ERR_DTYPE, "tensor '%s': bad dtype", it->name);
    if (want == NC_TORCH_AUTO || want == natural) {
        *out = natural;
        return NC_OK;
    }
    if ((unsigned)want >= NC_TORCH_DTYPE_COUNT || nc_torch_info(want)->nc != it->tensor->dtype)
        return nc_error(NC_ERR_DTYPE, "tensor '%s' is %s but its torch_dtype says %s; set torch_dtype to NC_TORCH_AUTO",
                        it->name, nc_dtype_name(it->tensor->dtype), nc_torch_dtype_name(want));
    if (want == NC_TORCH_SHORT || want == NC_TORCH_CHAR) {
        int32_t lo = want == NC_TORCH_SHORT ? -32768 : -128, hi = want == NC_TORCH_SHORT ? 32767 : 127;
        const int32_t *v = it->tensor->data;
        for (int64_t k = 0; k < nc_numel(it->tensor); k++)
            if (v[k] < lo || v[k] > hi)
                return nc_error(NC_ERR_NUMERIC, "tensor '%s': value %d at %lld does not fit %s", it->name, v[k],
                                (long long)k, nc_torch_dtype_name(want));
    }
    *out = want;
    return NC_OK;
}

static void pickle_state_dict(plan *pl) {
    pbuf *p = &pl->pkl;
    int64_t m_rebuild = -1, m_storage = -1, m_cpu = -1, m_type[NC_TORCH_DTYPE_COUNT];
    for (int i = 0; i < NC_TORCH_DTYPE_COUNT; i++) m_type[i] = -1;
    put1(p, 0x80);
    put1(p, 2);
    put_global(p, "collections", "OrderedDict");
    int64_t m_odict = memoize(p);
    put1(p, ')');
    put1(p, 'R');
    memoize(p);
    for (int64_t b0 = 0; b0 < pl->n; b0 += 1000) { /* Pickler._BATCHSIZE */
        int64_t b1 = b0 + 1000 < pl->n ? b0 + 1000 : pl->n;
        if (b1 - b0 > 1) put1(p, '(');
        for (int64_t i = b0; i < b1; i++) {
            const nc_tensor *t = pl->items[i].tensor;
            nc_torch_dtype td = pl->td[i];
            put_str(p, pl->items[i].name);
            if (m_rebuild < 0) {
                put_global(p, "torch._utils", "_rebuild_tensor_v2");
                m_rebuild = memoize(p);
            } else {
                get(p, m_rebuild);
            }
            put1(p, '(');
            put1(p, '('); /* the persistent id */
            if (m_storage < 0) m_storage = put_str(p, "storage");
            else get(p, m_storage);
            if (m_type[td] < 0) {
                put_global(p, "torch", nc_torch_info(td)->storage);
                m_type[td] = memoize(p);
            } else {
                get(p, m_type[td]);
            }
            char key[24];
            snprintf(key, sizeof key, "%lld", (long long)i);
            put_str(p, key);
            if (m_cpu < 0) m_cpu = put_str(p, "cpu");
            else get(p, m_cpu);
            put_int(p, nc_numel(t));
            put1(p, 't');
            memoize(p);
            put1(p, 'Q');
            put_int(p, 0);
            int64_t stride[NC_MAX_DIMS], s = 1;
            for (int d = t->ndim - 1; d >= 0; d--) { /* contiguous strides as torch computes them */
                stride[d] = s;
                s *= t->shape[d] > 1 ? t->shape[d] : 1;
            }
            put_int_tuple(p, t->shape, t->ndim);
            put_int_tuple(p, stride, t->ndim);
            put1(p, 0x89); /* requires_grad=False */
            get(p, m_odict); /* backward_hooks=OrderedDict() */
            put1(p, ')');
            put1(p, 'R');
            memoize(p);
            put1(p, 't');
            memoize(p);
            put1(p, 'R');
            memoize(p);
        }
        put1(p, b1 - b0 > 1 ? 'u' : 's');
    }
    put1(p, '.');
}

/* Calls fn on the bytes of item i's storage, converting in 64 KiB pieces
 * when the written dtype differs from the tensor's. */
typedef nc_status (*chunk_fn)(void *ud, const void *buf, size_t len);

static nc_status storage_bytes(const plan *pl, int64_t i, chunk_fn fn, void *ud) {
    const nc_tensor *t = pl->items[i].tensor;
    nc_torch_dtype td = pl->td[i];
    int64_t n = nc_numel(t);
    if (nc_torch_info(td)->size == nc_dtype_size(t->dtype) && td != NC_TORCH_BOOL)
        return n ? fn(ud, t->data, nc_nbytes(t)) : NC_OK;
    enum { CH = 8192 };
    double buf[CH]; /* 64 KiB, aligned for any element type */
    unsigned char *b = (unsigned char *)buf;
    for (int64_t k0 = 0; k0 < n; k0 += CH) {
        int64_t k1 = k0 + CH < n ? k0 + CH : n;
        for (int64_t k = k0; k < k1; k++) {
            size_t o = (size_t)(k - k0);
            switch (td) {
            case NC_TORCH_DOUBLE: buf[o] = ((const float *)t->data)[k]; break;
            case NC_TORCH_BOOL: b[o] = ((const uint8_t *)t->data)[k] != 0; break;
            case NC_TORCH_SHORT: {
                int16_t v = (int16_t)((const int32_t *)t->data)[k];
                memcpy(b + 2 * o, &v, 2);
                break;
            }
            case NC_TORCH_CHAR: b[o] = (unsigned char)(int8_t)((const int32_t *)t->data)[k]; break;
            default: return nc_error(NC_ERR_INTERNAL, "storage conversion to %s", nc_torch_dtype_name(td));
            }
        }
        nc_status st = fn(ud, b, (size_t)(k1 - k0) * nc_torch_info(td)->size);
        if (st) return st;
    }
    return NC_OK;
}

static nc_status crc_chunk(void *ud, const void *buf, size_t len) {
    uLong *crc = ud;
    const unsigned char *p = buf;
    while (len) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        *crc = crc32(*crc, p, n);
        p += n;
        len -= n;
    }
    return NC_OK;
}

static uint32_t crc_of(const void *buf, size_t len) {
    uLong c = crc32(0L, Z_NULL, 0);
    crc_chunk(&c, buf, len);
    return (uint32_t)c;
}

static void plan_free(plan *pl) {
    for (int64_t i = 0; i < pl->n_ents && pl->names; i++) nc_free(pl->names[i]);
    nc_free(pl->names);
    nc_free(pl->ents);
    nc_free(pl->td);
    nc_sb_free(&pl->pkl.s);
}

/* torch: the file name without folder and last extension, or "archive". */
static void archive_name(const char *path, const nc_torch_write_params *wp, char *out, size_t cap) {
    const char *name = wp && wp->archive_name ? wp->archive_name : NULL;
    size_t len = name ? strlen(name) : 0;
    if (!name && path) {
        const char *b = strrchr(path, '/');
        name = b ? b + 1 : path;
        const char *dot = strrchr(name, '.');
        len = dot ? (size_t)(dot - name) : strlen(name);
    }
    if (!name || !len) {
        name = "archive";
        len = 7;
    }
    if (len >= cap) len = cap - 1;
    memcpy(out, name, len);
    out[len] = 0;
}

static nc_status make_plan(const nc_named_tensor *items, int64_t n, const nc_torch_write_params *wp, const char *path,
                           plan *pl) {
    *pl = (plan){.items = items, .n = n, .force_zip64 = wp && wp->force_zip64};
    if (n < 0 || (n && !items)) return nc_error(NC_ERR_INVALID_ARG, "torch checkpoint: %lld tensors", (long long)n);
    char arch[200];
    archive_name(path, wp, arch, sizeof arch);
    if (strchr(arch, '/') || !valid_utf8(arch))
        return nc_error(NC_ERR_INVALID_ARG, "torch checkpoint: bad archive name '%s'", arch);
    pl->n_ents = n + 3;
    pl->td = nc_calloc((size_t)(n ? n : 1), sizeof *pl->td);
    pl->ents = nc_calloc((size_t)pl->n_ents, sizeof *pl->ents);
    pl->names = nc_calloc((size_t)pl->n_ents, sizeof *pl->names);
    nc_strmap *seen = NULL;
    nc_status st = pl->td && pl->ents && pl->names ? nc_strmap_new(&seen) : nc_error(NC_ERR_OOM, "torch checkpoint plan");
    for (int64_t i = 0; i < n && !st; i++) {
        const nc_named_tensor *it = &items[i];
        if (!it->name || !it->tensor || !it->tensor->data)
            st = nc_error(NC_ERR_INVALID_ARG, "torch checkpoint: item %lld has no name or tensor", (long long)i);
        else if (!valid_utf8(it->name))
            st = nc_error(NC_ERR_INVALID_ARG, "torch checkpoint: tensor name '%s' is not UTF-8", it->name);
        else if (nc_strmap_get(seen, it->name, strlen(it->name)) >= 0)
            st = nc_error(NC_ERR_INVALID_ARG, "torch checkpoint: tensor name '%s' appears twice", it->name);
        else if (!(st = nc_strmap_put(seen, it->name, strlen(it->name), i)))
            st = resolve_dtype(it, &pl->td[i]);
    }
    nc_strmap_free(seen);
    if (st) return st;
    pickle_state_dict(pl);
    if (pl->pkl.s.oom) return nc_error(NC_ERR_OOM, "torch checkpoint: pickle of %lld tensors", (long long)n);
    /* Record names and sizes, then CRCs (one pass over the tensor data). */
    for (int64_t e = 0; e < pl->n_ents && !st; e++) {
        char nm[256];
        if (e == 0) snprintf(nm, sizeof nm, "%s/data.pkl", arch);
        else if (e == 1) snprintf(nm, sizeof nm, "%s/byteorder", arch);
        else if (e == pl->n_ents - 1) snprintf(nm, sizeof nm, "%s/version", arch);
        else snprintf(nm, sizeof nm, "%s/data/%lld", arch, (long long)(e - 2));
        pl->names[e] = nc_strdup(nm);
        if (!pl->names[e]) {
            st = nc_error(NC_ERR_OOM, "torch checkpoint: record names");
            break;
        }
        pl->ents[e].name = pl->names[e];
        if (e == 0) {
            pl->ents[e].size = pl->pkl.s.n;
            pl->ents[e].crc = crc_of(pl->pkl.s.p, pl->pkl.s.n);
        } else if (e == 1) {
            pl->ents[e].size = strlen(BYTEORDER);
            pl->ents[e].crc = crc_of(BYTEORDER, strlen(BYTEORDER));
        } else if (e == pl->n_ents - 1) {
            pl->ents[e].size = strlen(VERSION);
            pl->ents[e].crc = crc_of(VERSION, strlen(VERSION));
        } else {
            int64_t i = e - 2;
            pl->ents[e].size = (uint64_t)nc_numel(items[i].tensor) * nc_torch_info(pl->td[i])->size;
            uLong crc = crc32(0L, Z_NULL, 0);
            st = storage_bytes(pl, i, crc_chunk, &crc);
            pl->ents[e].crc = (uint32_t)crc;
        }
    }
    if (!st) pl->cd_off = nc_zip_layout(pl->ents, pl->n_ents, pl->force_zip64, &pl->total);
    return st;
}

static nc_status emit(const plan *pl, nc_byte_sink sink, void *user) {
    nc_status st = NC_OK;
    for (int64_t e = 0; e < pl->n_ents && !st; e++) {
        st = nc_zip_emit_local(&pl->ents[e], sink, user);
        if (st) break;
        if (e == 0) st = sink(user, pl->pkl.s.p, pl->pkl.s.n);
        else if (e == 1) st = sink(user, BYTEORDER, strlen(BYTEORDER));
        else if (e == pl->n_ents - 1) st = sink(user, VERSION, strlen(VERSION));
        else st = storage_bytes(pl, e - 2, sink, user);
    }
    if (!st) st = nc_zip_emit_central(pl->ents, pl->n_ents, pl->cd_off, pl->force_zip64, sink, user);
    return st;
}

nc_status nc_torch_plan_new(const nc_named_tensor *items, int64_t n, const nc_torch_write_params *params,
                            nc_torch_plan **out) {
    *out = NULL;
    plan *pl = nc_calloc(1, sizeof *pl);
    if (!pl) return nc_error(NC_ERR_OOM, "torch checkpoint plan");
    nc_status st = make_plan(items, n, params, NULL, pl);
    if (st) {
        plan_free(pl);
        nc_free(pl);
        return st;
    }
    *out = pl;
    return NC_OK;
}

uint64_t nc_torch_plan_size(const nc_torch_plan *p) { return p->total; }

nc_status nc_torch_plan_emit(const nc_torch_plan *p, nc_byte_sink sink, void *user) {
    return emit(p, sink, user);
}

void nc_torch_plan_free(nc_torch_plan *p) {
    if (!p) return;
    plan_free(p);
    nc_free(p);
}

nc_status nc_torch_ckpt_size(const nc_named_tensor *items, int64_t n, const nc_torch_write_params *params,
                             uint64_t *size) {
    plan pl;
    nc_status st = make_plan(items, n, params, NULL, &pl);
    *size = st ? 0 : pl.total;
    plan_free(&pl);
    return st;
}

nc_status nc_torch_ckpt_write(const nc_named_tensor *items, int64_t n, const nc_torch_write_params *params,
                              nc_byte_sink sink, void *user_data) {
    plan pl;
    nc_status st = make_plan(items, n, params, NULL, &pl);
    if (!st) st = emit(&pl, sink, user_data);
    plan_free(&pl);
    return st;
}

nc_status nc_torch_ckpt_save_mem(const nc_named_tensor *items, int64_t n, const nc_torch_write_params *params,
                                 void **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    plan pl;
    nc_status st = make_plan(items, n, params, NULL, &pl);
    nc_mem_sink m = {.overflow = NC_ERR_INTERNAL, .overflow_msg = "torch checkpoint: layout size mismatch"};
    if (!st) {
        m.cap = (size_t)pl.total;
        m.b = nc_malloc(m.cap);
        if (!m.b) st = nc_error(NC_ERR_OOM, "torch checkpoint: %zu bytes", m.cap);
    }
    if (!st) st = emit(&pl, nc_mem_sink_write, &m);
    if (!st && m.n != m.cap) st = nc_error(NC_ERR_INTERNAL, "torch checkpoint: wrote %zu of %zu bytes", m.n, m.cap);
    plan_free(&pl);
    if (st) {
        nc_free(m.b);
        return st;
    }
    *buf = m.b;
    *len = m.n;
    return NC_OK;
}

static nc_status file_sink(void *ud, const void *buf, size_t len) { return nc_atomic_write(ud, buf, len); }

nc_status nc_torch_ckpt_save(const char *path, const nc_named_tensor *items, int64_t n,
                             const nc_torch_write_params *params) {
    plan pl;
    nc_status st = make_plan(items, n, params, path, &pl);
    nc_atomic_file *f = NULL;
    if (!st) st = nc_atomic_open(path, &f);
    if (!st) {
        st = emit(&pl, file_sink, f);
        if (st) nc_atomic_abort(f);
        else st = nc_atomic_commit(f);
    }
    plan_free(&pl);
    return st ? nc_error_prefix(st, "writing '%s'", path) : NC_OK;
}
