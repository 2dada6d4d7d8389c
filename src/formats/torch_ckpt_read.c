/* Reading torch.save checkpoints: zip records -> restricted pickle ->
 * flattened names -> contiguous tensors.
 *
 * Layout (torch/serialization.py _save, caffe2/serialize/inline_container.h):
 * <archive>/data.pkl holds the pickled object, whose tensors reference
 * storages by persistent id; storage `key` is the raw little-endian record
 * <archive>/data/<key>; <archive>/byteorder ("little"/"big") exists since
 * torch 2.0 and is "little" when absent. Storages are read one at a time and
 * straight into the tensor when a tensor covers its storage exactly. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "core/vec.h"
#include "formats/pickle.h"
#include "formats/strmap.h"
#include "formats/torch_internal.h"
#include "formats/zip.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"

#define MAX_NESTING 64

nc_torch_read_params nc_torch_read_default_params(void) {
    return (nc_torch_read_params){.select = NULL, .allow_unknown_globals = false, .verify_crc = true};
}

typedef struct flat {
    char *name;
    int64_t tensor; /* index into pk_result.tensors */
} flat;

typedef struct reader {
    const nc_rsrc *src;
    const nc_torch_read_params *p;
    nc_zip *zip;
    char prefix[256]; /* "<archive>/" */
    bool big_endian;
    pk_result pk;
    flat *flat;
    int64_t n_flat, cap_flat;
    nc_strmap *names; /* name -> flat index */
    nc_strbuf path;   /* name being built while flattening */
    int64_t budget;   /* container visits left while flattening */
} reader;

/* ---- locating the records ------------------------------------------------ */

static nc_status sniff(const nc_rsrc *s) {
    unsigned char head[512] = {0};
    size_t n = s->size < sizeof head ? (size_t)s->size : sizeof head;
    nc_status st = nc_rsrc_read(s, 0, head, n);
    if (st) return st;
    /* torch < 1.6 (and _use_new_zipfile_serialization=False) starts with
     * pickle protocol 2 and LONG1 of serialization.MAGIC_NUMBER. */
    static const unsigned char legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    if (n >= sizeof legacy && !memcmp(head, legacy, sizeof legacy))
        return nc_error(NC_ERR_UNSUPPORTED, "%s: legacy (pre-1.6, non-zip) torch.save format is not supported; "
                        "re-save it with torch >= 1.6 (torch.save(torch.load(f), f))", s->what);
    if (n >= 262 && !memcmp(head + 257, "ustar", 5))
        return nc_error(NC_ERR_UNSUPPORTED, "%s: a tar archive (torch < 0.4 checkpoint or a .nemo file?), not a torch.save zip",
                        s->what);
    if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        return nc_error(NC_ERR_UNSUPPORTED, "%s: gzip data, not a torch.save zip", s->what);
    return NC_OK;
}

static nc_status find_records(reader *r) {
    const nc_zip *z = r->zip;
    for (int64_t i = 0; i < z->n; i++) {
        const char *nm = z->entries[i].name, *slash = strchr(nm, '/');
        if (slash && !strcmp(slash + 1, "data.pkl") && (size_t)(slash - nm) + 2 <= sizeof r->prefix) {
            memcpy(r->prefix, nm, (size_t)(slash - nm) + 1);
            r->prefix[slash - nm + 1] = 0;
            break;
        }
    }
    if (!r->prefix[0]) {
        for (int64_t i = 0; i < z->n; i++)
            if (strstr(z->entries[i].name, "constants.pkl"))
                return nc_error(NC_ERR_UNSUPPORTED, "%s: a TorchScript archive (torch.jit.save), not a torch.save state_dict",
                                r->src->what);
        return nc_error(NC_ERR_FORMAT, "%s: zip archive without an <archive>/data.pkl record; not a torch.save file",
                        r->src->what);
    }
    char name[300];
    snprintf(name, sizeof name, "%sbyteorder", r->prefix);
    const nc_zip_entry *bo = nc_zip_find(z, name);
    if (bo) {
        char buf[16] = {0};
        if (bo->usize >= sizeof buf)
            return nc_error(NC_ERR_FORMAT, "%s: byteorder record of %llu bytes", r->src->what,
                            (unsigned long long)bo->usize);
        nc_status st = nc_zip_read(z, bo, buf, r->p->verify_crc);
        if (st) return st;
        if (!strcmp(buf, "big")) r->big_endian = true;
        else if (strcmp(buf, "little") != 0)
            return nc_error(NC_ERR_FORMAT, "%s: byteorder record says '%s'", r->src->what, buf);
    }
    return NC_OK;
}

static nc_status run_pickle(reader *r) {
    char name[300];
    snprintf(name, sizeof name, "%sdata.pkl", r->prefix);
    const nc_zip_entry *e = nc_zip_find(r->zip, name);
    void *buf = nc_malloc(e->usize ? (size_t)e->usize : 1);
    if (!buf) return nc_error(NC_ERR_OOM, "%s: %llu bytes for data.pkl", r->src->what, (unsigned long long)e->usize);
    nc_status st = nc_zip_read(r->zip, e, buf, r->p->verify_crc);
    if (!st) st = pk_load(buf, (size_t)e->usize, r->src->what, r->p->allow_unknown_globals, &r->pk);
    /* Containers shared through the memo form a DAG that a naive walk
     * visits exponentially often; a tree needs at most one visit per pickle
     * byte or so. */
    r->budget = 4 * (int64_t)e->usize + 4096;
    nc_free(buf);
    return st;
}

/* ---- choosing and flattening -------------------------------------------- */

/* The text of a dict key or list index; false for keys that are neither
 * strings nor ints (they cannot be state_dict names). */
static bool key_text(const pk_obj *k, char *num, const char **s, size_t *len) {
    if (k->kind == PK_STR || k->kind == PK_BYTES) {
        *s = k->u.str.s;
        *len = (size_t)k->u.str.len;
        return memchr(*s, 0, *len) == NULL;
    }
    if (k->kind == PK_INT) {
        *len = (size_t)snprintf(num, 24, "%lld", (long long)k->u.i);
        *s = num;
        return true;
    }
    return false;
}

/* Value of `key` in a dict (the last occurrence wins, as in Python). */
static const pk_obj *dict_get(const pk_obj *d, const char *key, size_t klen) {
    if (d->kind != PK_DICT) return NULL;
    for (int64_t i = d->u.dict.n - 1; i >= 0; i--) {
        char num[24];
        const char *s;
        size_t len;
        if (key_text(d->u.dict.keys[i], num, &s, &len) && len == klen && !memcmp(s, key, len))
            return d->u.dict.vals[i];
    }
    return NULL;
}

/* Child of a dict (by key) or of a list/tuple (by decimal index). */
static const pk_obj *child(const pk_obj *o, const char *key, size_t klen) {
    if (o->kind == PK_DICT) return dict_get(o, key, klen);
    if ((o->kind != PK_LIST && o->kind != PK_TUPLE) || klen == 0 || klen > 18) return NULL;
    int64_t idx = 0;
    for (size_t i = 0; i < klen; i++) {
        if (key[i] < '0' || key[i] > '9') return NULL;
        idx = idx * 10 + (key[i] - '0');
    }
    return idx < o->u.seq.n ? o->u.seq.items[idx] : NULL;
}

static nc_status select_root(reader *r, const pk_obj **root) {
    const pk_obj *o = r->pk.root;
    const char *sel = r->p->select;
    if (!sel) {
        const pk_obj *sd = dict_get(o, "state_dict", 10);
        *root = sd && sd->kind == PK_DICT ? sd : o;
    } else {
        for (const char *c = sel; *c;) {
            const char *dot = strchr(c, '.');
            size_t len = dot ? (size_t)(dot - c) : strlen(c);
            const pk_obj *next = child(o, c, len);
            if (!next)
                return nc_error(NC_ERR_NOT_FOUND, "%s: no key '%.*s' (selecting '%s')", r->src->what, (int)len, c, sel);
            o = next;
            c += len + (dot ? 1 : 0);
        }
        *root = o;
    }
    if ((*root)->kind != PK_DICT && (*root)->kind != PK_LIST && (*root)->kind != PK_TUPLE)
        return nc_error(NC_ERR_FORMAT, "%s: the checkpoint holds a %s, expected a dict of tensors (state_dict)",
                        r->src->what, pk_kind_name(*root));
    return NC_OK;
}

static nc_status add_flat(reader *r, size_t len, int64_t tensor) {
    int64_t at = nc_strmap_get(r->names, r->path.p, len);
    if (at >= 0) { /* a repeated key: the later value wins, in the first position */
        r->flat[at].tensor = tensor;
        return NC_OK;
    }
    if (nc_vec_reserve(&r->flat, &r->cap_flat, r->n_flat + 1, sizeof *r->flat))
        return nc_error(NC_ERR_OOM, "%s: name table", r->src->what);
    char *nm = nc_malloc(len + 1);
    if (!nm) return nc_error(NC_ERR_OOM, "%s: tensor name", r->src->what);
    memcpy(nm, r->path.p, len);
    nm[len] = 0;
    nc_status st = nc_strmap_put(r->names, nm, len, r->n_flat);
    if (st) {
        nc_free(nm);
        return st;
    }
    r->flat[r->n_flat++] = (flat){.name = nm, .tensor = tensor};
    return NC_OK;
}

/* Appends ".<key>" (or "<key>" at the top) to the name built so far. */
static nc_status path_push(reader *r, size_t len, const char *s, size_t slen, size_t *nlen) {
    r->path.n = len; /* drop the components a sibling appended */
    if ((len && nc_sb_putc(&r->path, '.')) || nc_sb_append(&r->path, s, slen))
        return nc_error(NC_ERR_OOM, "%s: tensor name of %zu bytes", r->src->what, len + slen + 1);
    *nlen = r->path.n;
    return NC_OK;
}

static nc_status flatten(reader *r, const pk_obj *o, size_t len, int depth) {
    if (o->kind != PK_TENSOR && o->kind != PK_DICT && o->kind != PK_LIST && o->kind != PK_TUPLE)
        return NC_OK; /* epoch, strings, ... */
    if (--r->budget < 0)
        return nc_error(NC_ERR_FORMAT, "%s: containers or tensors are shared so often that flattening them explodes (at '%.*s')",
                        r->src->what, (int)(len > 200 ? 200 : len), r->path.p);
    if (o->kind == PK_TENSOR) return add_flat(r, len, o->u.index);
    if (depth >= MAX_NESTING)
        return nc_error(NC_ERR_FORMAT, "%s: containers nested deeper than %d levels (at '%.*s')", r->src->what,
                        MAX_NESTING, (int)(len > 200 ? 200 : len), r->path.p);
    int64_t n = o->kind == PK_DICT ? o->u.dict.n : o->u.seq.n;
    for (int64_t i = 0; i < n; i++) {
        char num[24];
        const char *s;
        size_t slen, nlen = 0;
        const pk_obj *v;
        if (o->kind == PK_DICT) {
            if (!key_text(o->u.dict.keys[i], num, &s, &slen)) continue;
            v = o->u.dict.vals[i];
        } else {
            slen = (size_t)snprintf(num, sizeof num, "%lld", (long long)i);
            s = num;
            v = o->u.seq.items[i];
        }
        if (v->kind != PK_TENSOR && v->kind != PK_DICT && v->kind != PK_LIST && v->kind != PK_TUPLE) continue;
        nc_status st = path_push(r, len, s, slen, &nlen);
        if (!st) st = flatten(r, v, nlen, depth + 1);
        if (st) return st;
    }
    return NC_OK;
}

/* ---- materialising tensors ----------------------------------------------- */

static bool same_layout(nc_torch_dtype t) {
    return t != NC_TORCH_DOUBLE && t != NC_TORCH_SHORT && t != NC_TORCH_CHAR;
}

static bool is_contiguous(const pk_tensor *t) {
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->size[d] != 1 && t->stride[d] != expect) return false;
        expect *= t->size[d];
    }
    return true;
}

/* numel and the last element a view touches, without overflow. */
static nc_status view_extent(const reader *r, const flat *f, const pk_tensor *t, const pk_storage *s,
                             int64_t *numel) {
    int64_t n = 1, last = t->offset;
    bool empty = false;
    for (int d = 0; d < t->ndim; d++) empty |= t->size[d] == 0;
    for (int d = 0; d < t->ndim && !empty; d++) {
        int64_t span;
        if (__builtin_mul_overflow(n, t->size[d], &n) || __builtin_mul_overflow(t->size[d] - 1, t->stride[d], &span) ||
            __builtin_add_overflow(last, span, &last))
            return nc_error(NC_ERR_FORMAT, "%s: tensor '%s': size or stride overflows", r->src->what, f->name);
    }
    if (empty) n = 0;
    if (n > 0 && last >= s->numel) {
        char sz[160];
        nc_dims_str(t->ndim, t->size, sz, sizeof sz);
        return nc_error(NC_ERR_FORMAT,
                        "%s: tensor '%s' (size %s, offset %lld) reaches element %lld of storage '%s', which has %lld",
                        r->src->what, f->name, sz, (long long)t->offset, (long long)last, s->key, (long long)s->numel);
    }
    *numel = n;
    return NC_OK;
}

/* Copies `n` elements of type `st` spaced `stride` apart into a dense row of
 * the nemoc dtype. */
static void convert_row(const unsigned char *src, int64_t stride, nc_torch_dtype st, unsigned char *dst, int64_t n) {
    size_t es = nc_torch_info(st)->size;
    switch (st) {
    case NC_TORCH_DOUBLE:
        for (int64_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, src + (size_t)(i * stride) * 8, 8);
            float f = (float)v;
            memcpy(dst + (size_t)i * 4, &f, 4);
        }
        return;
    case NC_TORCH_SHORT:
        for (int64_t i = 0; i < n; i++) {
            int16_t v;
            memcpy(&v, src + (size_t)(i * stride) * 2, 2);
            int32_t w = v;
            memcpy(dst + (size_t)i * 4, &w, 4);
        }
        return;
    case NC_TORCH_CHAR:
        for (int64_t i = 0; i < n; i++) {
            int32_t w = (int8_t)src[i * stride];
            memcpy(dst + (size_t)i * 4, &w, 4);
        }
        return;
    default:
        if (stride == 1) {
            memcpy(dst, src, (size_t)n * es);
            return;
        }
        for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * es, src + (size_t)(i * stride) * es, es);
    }
}

/* Gathers a strided view out of a storage image into a contiguous tensor. */
static void gather(const unsigned char *storage, nc_torch_dtype sdt, const pk_tensor *t, nc_tensor *out, int64_t numel) {
    if (numel == 0) return;
    size_t es = nc_torch_info(sdt)->size, ds = nc_dtype_size(out->dtype);
    if (t->ndim == 0) {
        convert_row(storage + (size_t)t->offset * es, 1, sdt, out->data, 1);
        return;
    }
    int last = t->ndim - 1;
    int64_t inner = t->size[last], rows = numel / inner, idx[NC_MAX_DIMS] = {0};
    unsigned char *dst = out->data;
    for (int64_t r = 0; r < rows; r++) {
        int64_t base = t->offset;
        for (int d = 0; d < last; d++) base += idx[d] * t->stride[d];
        convert_row(storage + (size_t)base * es, t->stride[last], sdt, dst + (size_t)(r * inner) * ds, inner);
        for (int d = last - 1; d >= 0; d--) {
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
    }
}

static void byteswap(unsigned char *p, uint64_t nbytes, size_t es) {
    if (es < 2) return;
    for (uint64_t i = 0; i + es <= nbytes; i += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            unsigned char c = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = c;
        }
}

/* Loads storage `si` and builds every requested tensor on it (users[] are
 * flat indices of the first name of each tensor). */
static nc_status load_storage(reader *r, int64_t si, const int64_t *users, int64_t n_users, nc_tensor **made) {
    const pk_storage *s = &r->pk.storages[si];
    const nc_torch_dtype_info *info = nc_torch_info(s->dtype);
    const char *w = r->src->what;
    char rec[300];
    snprintf(rec, sizeof rec, "%sdata/%s", r->prefix, s->key);
    const nc_zip_entry *e = nc_zip_find(r->zip, rec);
    if (!e)
        return nc_error(NC_ERR_FORMAT, "%s: tensor '%s' needs storage record '%s', which is missing", w,
                        r->flat[users[0]].name, rec);
    if ((uint64_t)s->numel > e->usize / info->size)
        return nc_error(NC_ERR_FORMAT, "%s: storage '%s' declares %lld %s elements but its record holds %llu bytes", w,
                        s->key, (long long)s->numel, info->name, (unsigned long long)e->usize);
    nc_status st = NC_OK;
    for (int64_t u = 0; u < n_users && !st; u++) {
        const flat *f = &r->flat[users[u]];
        const pk_tensor *t = &r->pk.tensors[f->tensor];
        int64_t n;
        st = view_extent(r, f, t, s, &n);
        if (!st) {
            st = nc_tensor_new(info->nc, t->ndim, t->size, &made[u]);
            if (st) nc_error_prefix(st, "%s: tensor '%s'", w, f->name);
        }
    }
    if (st) return st;
    const pk_tensor *t0 = &r->pk.tensors[r->flat[users[0]].tensor];
    if (n_users == 1 && !r->big_endian && same_layout(s->dtype) && t0->offset == 0 && is_contiguous(t0) &&
        (uint64_t)nc_numel(made[0]) * info->size == e->usize) {
        st = nc_zip_read(r->zip, e, made[0]->data, r->p->verify_crc);
        return st ? nc_error_prefix(st, "tensor '%s'", r->flat[users[0]].name) : NC_OK;
    }
    unsigned char *buf = nc_malloc(e->usize ? (size_t)e->usize : 1);
    if (!buf) return nc_error(NC_ERR_OOM, "%s: %llu bytes for storage '%s'", w, (unsigned long long)e->usize, s->key);
    st = nc_zip_read(r->zip, e, buf, r->p->verify_crc);
    if (!st) {
        if (r->big_endian) byteswap(buf, e->usize, info->size);
        for (int64_t u = 0; u < n_users; u++) {
            const pk_tensor *t = &r->pk.tensors[r->flat[users[u]].tensor];
            gather(buf, s->dtype, t, made[u], nc_numel(made[u]));
        }
    }
    nc_free(buf);
    return st;
}

static nc_status materialise(reader *r, nc_tensor_list *out) {
    int64_t nt = r->pk.n_tensors, ns = r->pk.n_storages;
    int64_t *first = nc_malloc((size_t)(nt ? nt : 1) * sizeof(int64_t));     /* tensor -> first flat index */
    int64_t *start = nc_calloc((size_t)ns + 1, sizeof(int64_t));               /* storage -> users range */
    int64_t *users = nc_malloc((size_t)(r->n_flat ? r->n_flat : 1) * sizeof(int64_t));
    nc_tensor **made = nc_calloc((size_t)(r->n_flat ? r->n_flat : 1), sizeof(nc_tensor *)); /* per users[] slot */
    nc_tensor **byflat = nc_calloc((size_t)(r->n_flat ? r->n_flat : 1), sizeof(nc_tensor *));
    nc_status st = (first && start && users && made && byflat) ? NC_OK : nc_error(NC_ERR_OOM, "%s: tensor tables", r->src->what);
    int64_t n_users = 0;
    if (!st) {
        for (int64_t i = 0; i < nt; i++) first[i] = -1;
        /* Counting sort of the distinct tensors by storage. */
        for (int64_t f = 0; f < r->n_flat; f++) {
            int64_t t = r->flat[f].tensor;
            if (first[t] >= 0) continue;
            first[t] = f;
            start[r->pk.tensors[t].storage + 1]++;
            n_users++;
        }
        for (int64_t s = 0; s < ns; s++) start[s + 1] += start[s];
        int64_t *fill = nc_malloc((size_t)(ns ? ns : 1) * sizeof(int64_t));
        if (!fill) st = nc_error(NC_ERR_OOM, "%s: tensor tables", r->src->what);
        else {
            memcpy(fill, start, (size_t)ns * sizeof(int64_t));
            for (int64_t f = 0; f < r->n_flat; f++)
                if (first[r->flat[f].tensor] == f) users[fill[r->pk.tensors[r->flat[f].tensor].storage]++] = f;
            nc_free(fill);
        }
    }
    for (int64_t s = 0; s < ns && !st; s++)
        if (start[s + 1] > start[s]) st = load_storage(r, s, users + start[s], start[s + 1] - start[s], made + start[s]);
    if (!st)
        for (int64_t u = 0; u < n_users; u++) {
            byflat[users[u]] = made[u];
            made[u] = NULL;
        }
    /* In name order: the first name of a tensor takes it, later names of the
     * same tensor (tied weights) get copies, since the list owns each one. */
    for (int64_t f = 0; f < r->n_flat && !st; f++) {
        int64_t ti = r->flat[f].tensor;
        nc_tensor *t = byflat[f];
        bool owner = t != NULL;
        byflat[f] = NULL;
        if (!owner) st = nc_tensor_clone(out->items[first[ti]].tensor, &t);
        nc_torch_dtype td = r->pk.storages[r->pk.tensors[ti].storage].dtype;
        if (!st) st = nc_tensor_list_push(out, r->flat[f].name, t, td);
        /* Later names of tensor ti find it by list position from now on. */
        if (!st && owner) first[ti] = out->n - 1;
    }
    for (int64_t u = 0; u < n_users && made; u++) nc_tensor_free(made[u]);
    for (int64_t f = 0; f < r->n_flat && byflat; f++) nc_tensor_free(byflat[f]);
    nc_free(first);
    nc_free(start);
    nc_free(users);
    nc_free(made);
    nc_free(byflat);
    return st;
}

/* ---- entry points -------------------------------------------------------- */

static void reader_free(reader *r) {
    nc_zip_close(r->zip);
    pk_result_free(&r->pk);
    for (int64_t i = 0; i < r->n_flat; i++) nc_free(r->flat[i].name);
    nc_free(r->flat);
    nc_strmap_free(r->names);
    nc_sb_free(&r->path);
}

nc_status nc_torch_ckpt_load_src(const nc_rsrc *src, const nc_torch_read_params *params, nc_tensor_list *out) {
    nc_torch_read_params defaults = nc_torch_read_default_params();
    reader r = {.src = src, .p = params ? params : &defaults};
    const pk_obj *root = NULL;
    int64_t n0 = out->n;
    nc_status st = sniff(src);
    if (!st) st = nc_zip_open(src, &r.zip);
    if (!st) st = find_records(&r);
    if (!st) st = run_pickle(&r);
    if (!st) st = select_root(&r, &root);
    if (!st) st = nc_strmap_new(&r.names);
    if (!st) st = nc_sb_reserve(&r.path, 256);
    if (!st) st = flatten(&r, root, 0, 0);
    if (!st) st = materialise(&r, out);
    reader_free(&r);
    if (st) {
        /* Leave `out` as it was. */
        while (out->n > n0) {
            out->n--;
            nc_tensor_free(out->items[out->n].tensor);
            nc_free(out->items[out->n].name);
        }
    }
    return st;
}

nc_status nc_torch_ckpt_load_mem(const void *buf, size_t len, const char *what, const nc_torch_read_params *params,
                                 nc_tensor_list *out) {
    nc_rsrc src = nc_rsrc_mem(buf, len, what ? what : "checkpoint");
    return nc_torch_ckpt_load_src(&src, params, out);
}

nc_status nc_torch_ckpt_load(const char *path, const nc_torch_read_params *params, nc_tensor_list *out) {
    int fd;
    int64_t size;
    nc_status os = nc_open_read(path, "checkpoint", &fd, &size);
    if (os) return os;
    nc_rsrc src = nc_rsrc_file(fd, 0, (uint64_t)size, path);
    nc_status st = nc_torch_ckpt_load_src(&src, params, out);
    close(fd);
    return st;
}
