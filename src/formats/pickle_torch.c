/* What the allow-listed globals "do": fixed C code standing in for
 * collections.OrderedDict(), torch._utils._rebuild_tensor_v2 and
 * _rebuild_parameter (torch/_utils.py), and torch.serialization's
 * persistent_load for ('storage', storage_type, key, location, numel) ids.
 * Nothing here imports or runs Python. */
#include <stdio.h>
#include <string.h>

#include "formats/pickle.h"
#include "formats/strmap.h"
#include "core/vec.h"
#include "formats/torch_internal.h"
#include "nemoc/alloc.h"

static nc_status new_global(pk_vm *vm, pk_global id, nc_torch_dtype dt, pk_obj **out) {
    pk_obj *o = pk_new(vm, PK_GLOBAL);
    if (!o) return pk_fail(vm, NC_ERR_OOM, "global");
    o->u.glob.id = id;
    o->u.glob.dtype = dt;
    *out = o;
    return NC_OK;
}

nc_status pk_find_global(pk_vm *vm, const char *module, const char *name, pk_obj **out) {
    *out = NULL;
    if (!strcmp(module, "collections") && !strcmp(name, "OrderedDict"))
        return new_global(vm, PKG_ORDERED_DICT, NC_TORCH_AUTO, out);
    if (!strcmp(module, "torch._utils")) {
        if (!strcmp(name, "_rebuild_tensor_v2")) return new_global(vm, PKG_REBUILD_TENSOR_V2, NC_TORCH_AUTO, out);
        if (!strcmp(name, "_rebuild_parameter")) return new_global(vm, PKG_REBUILD_PARAMETER, NC_TORCH_AUTO, out);
        if (!strcmp(name, "_rebuild_parameter_with_state"))
            return new_global(vm, PKG_REBUILD_PARAMETER_WITH_STATE, NC_TORCH_AUTO, out);
    }
    if (!strcmp(module, "torch")) {
        nc_torch_dtype dt = nc_torch_dtype_from_storage(name);
        if (dt != NC_TORCH_AUTO) return new_global(vm, PKG_STORAGE_TYPE, dt, out);
    }
    if (!strcmp(module, "torch.storage") && !strcmp(name, "_load_from_bytes"))
        return pk_fail(vm, NC_ERR_UNSUPPORTED,
                       "global 'torch.storage._load_from_bytes' is refused: it stands for a nested torch.load of "
                       "embedded bytes (a tensor pickled outside torch.save); re-save the state_dict with torch.save");
    if (!vm->allow_unknown)
        return pk_fail(vm, NC_ERR_UNSUPPORTED,
                       "global '%s.%s' is not allowed (allowed: collections.OrderedDict, "
                       "torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.<Type>Storage); "
                       "nemoc never imports or runs code from a checkpoint",
                       module, name);
    char full[2 * 256 + 2];
    int n = snprintf(full, sizeof full, "%s.%s", module, name);
    pk_obj *o = pk_new_str(vm, PK_OPAQUE, full, n);
    if (!o) return pk_fail(vm, NC_ERR_OOM, "global");
    *out = o;
    return NC_OK;
}

static bool int_tuple(const pk_obj *t, int64_t *vals, int max) {
    if (t->kind != PK_TUPLE || t->u.seq.n > max) return false;
    for (int64_t i = 0; i < t->u.seq.n; i++) {
        const pk_obj *v = t->u.seq.items[i];
        if (v->kind != PK_INT) return false;
        vals[i] = v->u.i;
    }
    return true;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]). Bounds against the storage are checked when
 * the tensor is materialised, where its name is known. */
static nc_status rebuild_tensor(pk_vm *vm, pk_obj *args, pk_obj **out) {
    int64_t n = args->u.seq.n;
    pk_obj **a = args->u.seq.items;
    if (n != 6 && n != 7)
        return pk_fail(vm, NC_ERR_FORMAT, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %lld", (long long)n);
    if (a[0]->kind != PK_STORAGE)
        return pk_fail(vm, NC_ERR_FORMAT, "_rebuild_tensor_v2: first argument is a %s, not a storage",
                       pk_kind_name(a[0]));
    if (a[1]->kind != PK_INT || a[1]->u.i < 0)
        return pk_fail(vm, NC_ERR_FORMAT, "_rebuild_tensor_v2: storage offset must be an int >= 0");
    if (a[2]->kind == PK_TUPLE && a[2]->u.seq.n > NC_MAX_DIMS)
        return pk_fail(vm, NC_ERR_UNSUPPORTED, "tensor with %lld dimensions (nemoc supports %d)",
                       (long long)a[2]->u.seq.n, NC_MAX_DIMS);
    pk_tensor t = {.storage = a[0]->u.index, .offset = a[1]->u.i};
    if (!int_tuple(a[2], t.size, NC_MAX_DIMS) || !int_tuple(a[3], t.stride, NC_MAX_DIMS) ||
        a[2]->u.seq.n != a[3]->u.seq.n)
        return pk_fail(vm, NC_ERR_FORMAT, "_rebuild_tensor_v2: size and stride must be int tuples of equal length");
    t.ndim = (int)a[2]->u.seq.n;
    for (int d = 0; d < t.ndim; d++)
        if (t.size[d] < 0 || t.stride[d] < 0)
            return pk_fail(vm, NC_ERR_FORMAT, "_rebuild_tensor_v2: negative size or stride in dim %d", d);
    if (a[4]->kind != PK_BOOL && a[4]->kind != PK_INT)
        return pk_fail(vm, NC_ERR_FORMAT, "_rebuild_tensor_v2: requires_grad is a %s", pk_kind_name(a[4]));
    if (nc_vec_reserve(&vm->tensors, &vm->tensors_cap, vm->n_tensors + 1, sizeof *vm->tensors))
        return pk_fail(vm, NC_ERR_OOM, "tensor table");
    pk_obj *o = pk_new(vm, PK_TENSOR);
    if (!o) return pk_fail(vm, NC_ERR_OOM, "tensor");
    vm->tensors[vm->n_tensors] = t;
    o->u.index = vm->n_tensors++;
    *out = o;
    return NC_OK;
}

/* OrderedDict() or OrderedDict([(k, v), ...]). */
static nc_status ordered_dict(pk_vm *vm, pk_obj *args, pk_obj **out) {
    pk_obj *d = pk_new(vm, PK_DICT);
    if (!d) return pk_fail(vm, NC_ERR_OOM, "dict");
    if (args->u.seq.n > 1) return pk_fail(vm, NC_ERR_FORMAT, "OrderedDict takes at most 1 argument");
    if (args->u.seq.n == 1) {
        pk_obj *src = args->u.seq.items[0];
        if (src->kind == PK_DICT) {
            for (int64_t i = 0; i < src->u.dict.n; i++) {
                nc_status st = pk_dict_set(vm, d, src->u.dict.keys[i], src->u.dict.vals[i]);
                if (st) return st;
            }
        } else if (src->kind == PK_LIST || src->kind == PK_TUPLE) {
            for (int64_t i = 0; i < src->u.seq.n; i++) {
                pk_obj *kv = src->u.seq.items[i];
                if ((kv->kind != PK_TUPLE && kv->kind != PK_LIST) || kv->u.seq.n != 2)
                    return pk_fail(vm, NC_ERR_FORMAT, "OrderedDict item %lld is not a pair", (long long)i);
                nc_status st = pk_dict_set(vm, d, kv->u.seq.items[0], kv->u.seq.items[1]);
                if (st) return st;
            }
        } else {
            return pk_fail(vm, NC_ERR_FORMAT, "OrderedDict of a %s", pk_kind_name(src));
        }
    }
    *out = d;
    return NC_OK;
}

nc_status pk_call(pk_vm *vm, pk_obj *fn, pk_obj *args, pk_obj **out) {
    *out = NULL;
    if (fn->kind == PK_OPAQUE) {
        /* Calling a refused global yields another opaque object, never a call. */
        pk_obj *o = pk_new_str(vm, PK_OPAQUE, fn->u.str.s, fn->u.str.len);
        if (!o) return pk_fail(vm, NC_ERR_OOM, "object");
        *out = o;
        return NC_OK;
    }
    if (fn->kind != PK_GLOBAL) return pk_fail(vm, NC_ERR_FORMAT, "cannot call a %s", pk_kind_name(fn));
    int64_t n = args->u.seq.n;
    pk_obj **a = args->u.seq.items;
    switch (fn->u.glob.id) {
    case PKG_ORDERED_DICT: return ordered_dict(vm, args, out);
    case PKG_REBUILD_TENSOR_V2: return rebuild_tensor(vm, args, out);
    case PKG_REBUILD_PARAMETER:
    case PKG_REBUILD_PARAMETER_WITH_STATE: {
        /* nn.Parameter(data, requires_grad): the data tensor itself. */
        int64_t want = fn->u.glob.id == PKG_REBUILD_PARAMETER ? 3 : 4;
        if (n != want || a[0]->kind != PK_TENSOR)
            return pk_fail(vm, NC_ERR_FORMAT, "_rebuild_parameter needs (tensor, requires_grad, hooks%s)",
                           want == 4 ? ", state" : "");
        *out = a[0];
        return NC_OK;
    }
    case PKG_STORAGE_TYPE:
        return pk_fail(vm, NC_ERR_UNSUPPORTED, "calling torch.%s directly is not supported",
                       nc_torch_info(fn->u.glob.dtype)->storage);
    }
    return pk_fail(vm, NC_ERR_INTERNAL, "unknown global id");
}

/* torch.serialization._load.persistent_load: ('storage', storage_type, key,
 * location, numel). Storages are identified by key; several tensors may share one. */
nc_status pk_persistent_load(pk_vm *vm, pk_obj *pid, pk_obj **out) {
    *out = NULL;
    if (pid->kind != PK_TUPLE || pid->u.seq.n != 5)
        return pk_fail(vm, NC_ERR_FORMAT, "persistent id is a %s of %lld items, expected a 5-tuple",
                       pk_kind_name(pid), pid->kind == PK_TUPLE ? (long long)pid->u.seq.n : 0LL);
    pk_obj **a = pid->u.seq.items;
    if ((a[0]->kind != PK_STR && a[0]->kind != PK_BYTES) || strcmp(a[0]->u.str.s, "storage") != 0)
        return pk_fail(vm, NC_ERR_UNSUPPORTED, "persistent id of type %s%s%s, expected 'storage'",
                       a[0]->kind == PK_STR ? "'" : "", a[0]->kind == PK_STR ? a[0]->u.str.s : pk_kind_name(a[0]),
                       a[0]->kind == PK_STR ? "'" : "");
    if (a[1]->kind != PK_GLOBAL || a[1]->u.glob.id != PKG_STORAGE_TYPE)
        return pk_fail(vm, NC_ERR_FORMAT, "persistent id: storage type is a %s", pk_kind_name(a[1]));
    char key[32];
    if (a[2]->kind == PK_STR || a[2]->kind == PK_BYTES) {
        /* torch names storages "0", "1", ...: a key that could escape the
         * data/ folder or is absurdly long is malformed. */
        int64_t kl = a[2]->u.str.len;
        if (kl < 1 || kl >= (int64_t)sizeof key || memchr(a[2]->u.str.s, '/', (size_t)kl) ||
            memchr(a[2]->u.str.s, 0, (size_t)kl))
            return pk_fail(vm, NC_ERR_FORMAT, "persistent id: bad storage key");
        memcpy(key, a[2]->u.str.s, (size_t)kl + 1);
    } else if (a[2]->kind == PK_INT) {
        snprintf(key, sizeof key, "%lld", (long long)a[2]->u.i);
    } else {
        return pk_fail(vm, NC_ERR_FORMAT, "persistent id: storage key is a %s", pk_kind_name(a[2]));
    }
    if (a[4]->kind != PK_INT || a[4]->u.i < 0)
        return pk_fail(vm, NC_ERR_FORMAT, "persistent id: storage size must be an int >= 0");
    nc_torch_dtype dt = a[1]->u.glob.dtype;
    int64_t idx = nc_strmap_get(vm->storage_index, key, strlen(key));
    if (idx >= 0) {
        pk_storage *s = &vm->storages[idx];
        if (s->dtype != dt)
            return pk_fail(vm, NC_ERR_FORMAT, "storage '%s' is used as %s and as %s", key,
                           nc_torch_dtype_name(s->dtype), nc_torch_dtype_name(dt));
        if (a[4]->u.i > s->numel) s->numel = a[4]->u.i;
    } else {
        if (nc_vec_reserve(&vm->storages, &vm->storages_cap, vm->n_storages + 1, sizeof *vm->storages))
            return pk_fail(vm, NC_ERR_OOM, "storage table");
        char *k = nc_strdup(key);
        if (!k) return pk_fail(vm, NC_ERR_OOM, "storage key");
        idx = vm->n_storages;
        nc_status st = nc_strmap_put(vm->storage_index, key, strlen(key), idx);
        if (st) {
            nc_free(k);
            return st;
        }
        vm->storages[vm->n_storages++] = (pk_storage){.key = k, .dtype = dt, .numel = a[4]->u.i};
    }
    pk_obj *o = pk_new(vm, PK_STORAGE);
    if (!o) return pk_fail(vm, NC_ERR_OOM, "storage");
    o->u.index = idx;
    *out = o;
    return NC_OK;
}

/* BUILD sets instance state. state_dict() OrderedDicts carry `_metadata`
 * (module versions) this way; tensors may carry Python attributes. Neither
 * matters for the weights, so the state is dropped. */
nc_status pk_build(pk_vm *vm, pk_obj *obj, pk_obj *state) {
    (void)state;
    if (obj->kind == PK_DICT || obj->kind == PK_TENSOR || obj->kind == PK_OPAQUE) return NC_OK;
    return pk_fail(vm, NC_ERR_FORMAT, "BUILD on a %s", pk_kind_name(obj));
}
