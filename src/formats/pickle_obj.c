/* Pickle values: allocation from the interpreter's arena, growable lists and
 * dicts, error messages carrying the pickle offset. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "formats/pickle.h"

nc_status pk_fail(pk_vm *vm, nc_status code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nc_error(code, "%s: pickle byte %zu: %s", vm->what, vm->op_off, msg);
}

const char *pk_kind_name(const pk_obj *o) {
    switch (o->kind) {
    case PK_MARK: return "mark";
    case PK_NONE: return "None";
    case PK_BOOL: return "bool";
    case PK_INT: return "int";
    case PK_FLOAT: return "float";
    case PK_STR: return "str";
    case PK_BYTES: return "bytes";
    case PK_TUPLE: return "tuple";
    case PK_LIST: return "list";
    case PK_DICT: return "dict";
    case PK_GLOBAL: return "allow-listed global";
    case PK_STORAGE: return "storage";
    case PK_TENSOR: return "tensor";
    case PK_OPAQUE: return "opaque object";
    }
    return "?";
}

pk_obj *pk_new(pk_vm *vm, pk_kind kind) {
    pk_obj *o = nc_arena_calloc(vm->arena, sizeof *o);
    if (o) o->kind = kind;
    return o;
}

pk_obj *pk_new_str(pk_vm *vm, pk_kind kind, const void *s, int64_t len) {
    pk_obj *o = pk_new(vm, kind);
    if (!o) return NULL;
    o->u.str.s = nc_arena_alloc(vm->arena, (size_t)len + 1);
    if (!o->u.str.s) return NULL;
    if (len) memcpy(o->u.str.s, s, (size_t)len);
    o->u.str.s[len] = 0;
    o->u.str.len = len;
    return o;
}

pk_obj *pk_new_seq(pk_vm *vm, pk_kind kind, pk_obj *const *items, int64_t n) {
    pk_obj *o = pk_new(vm, kind);
    if (!o) return NULL;
    if (n) {
        o->u.seq.items = nc_arena_alloc(vm->arena, (size_t)n * sizeof(pk_obj *));
        if (!o->u.seq.items) return NULL;
        memcpy(o->u.seq.items, items, (size_t)n * sizeof(pk_obj *));
    }
    o->u.seq.n = o->u.seq.cap = n;
    return o;
}

/* Arena arrays cannot be resized in place: doubling copies, so at most half
 * of the space a list ever used is garbage until the arena goes. */
static pk_obj **grow(pk_vm *vm, pk_obj **old, int64_t n, int64_t *cap) {
    int64_t ncap = *cap ? 2 * *cap : 8;
    pk_obj **a = nc_arena_alloc(vm->arena, (size_t)ncap * sizeof(pk_obj *));
    if (!a) return NULL;
    if (n) memcpy(a, old, (size_t)n * sizeof(pk_obj *));
    *cap = ncap;
    return a;
}

nc_status pk_list_append(pk_vm *vm, pk_obj *list, pk_obj *v) {
    if (list->u.seq.n == list->u.seq.cap) {
        int64_t cap = list->u.seq.cap;
        pk_obj **a = grow(vm, list->u.seq.items, list->u.seq.n, &cap);
        if (!a) return pk_fail(vm, NC_ERR_OOM, "list of %lld items", (long long)list->u.seq.n);
        list->u.seq.items = a;
        list->u.seq.cap = cap;
    }
    list->u.seq.items[list->u.seq.n++] = v;
    return NC_OK;
}

/* Appends the pair; a repeated key is resolved when the dict is read
 * (the later value wins, as in Python). */
nc_status pk_dict_set(pk_vm *vm, pk_obj *d, pk_obj *k, pk_obj *v) {
    if (d->u.dict.n == d->u.dict.cap) {
        int64_t cap = d->u.dict.cap, cap2 = cap;
        pk_obj **ks = grow(vm, d->u.dict.keys, d->u.dict.n, &cap);
        pk_obj **vs = ks ? grow(vm, d->u.dict.vals, d->u.dict.n, &cap2) : NULL;
        if (!vs) return pk_fail(vm, NC_ERR_OOM, "dict of %lld items", (long long)d->u.dict.n);
        d->u.dict.keys = ks;
        d->u.dict.vals = vs;
        d->u.dict.cap = cap;
    }
    d->u.dict.keys[d->u.dict.n] = k;
    d->u.dict.vals[d->u.dict.n] = v;
    d->u.dict.n++;
    return NC_OK;
}
