/* torch storage types <-> nemoc dtypes, and the named-tensor list. */
#include <string.h>

#include "formats/torch_internal.h"
#include "core/vec.h"
#include "nemoc/alloc.h"

/* Storage class names as torch/storage.py and torch/__init__.py define them. */
static const nc_torch_dtype_info INFO[NC_TORCH_DTYPE_COUNT] = {
    [NC_TORCH_AUTO] = {.name = "auto", .storage = "", .size = 0, .nc = NC_F32},
    [NC_TORCH_FLOAT] = {.name = "float32", .storage = "FloatStorage", .size = 4, .nc = NC_F32},
    [NC_TORCH_DOUBLE] = {.name = "float64", .storage = "DoubleStorage", .size = 8, .nc = NC_F32},
    [NC_TORCH_HALF] = {.name = "float16", .storage = "HalfStorage", .size = 2, .nc = NC_F16},
    [NC_TORCH_BFLOAT16] = {.name = "bfloat16", .storage = "BFloat16Storage", .size = 2, .nc = NC_BF16},
    [NC_TORCH_LONG] = {.name = "int64", .storage = "LongStorage", .size = 8, .nc = NC_I64},
    [NC_TORCH_INT] = {.name = "int32", .storage = "IntStorage", .size = 4, .nc = NC_I32},
    [NC_TORCH_SHORT] = {.name = "int16", .storage = "ShortStorage", .size = 2, .nc = NC_I32},
    [NC_TORCH_CHAR] = {.name = "int8", .storage = "CharStorage", .size = 1, .nc = NC_I32},
    [NC_TORCH_BYTE] = {.name = "uint8", .storage = "ByteStorage", .size = 1, .nc = NC_U8},
    [NC_TORCH_BOOL] = {.name = "bool", .storage = "BoolStorage", .size = 1, .nc = NC_U8},
};

const nc_torch_dtype_info *nc_torch_info(nc_torch_dtype t) {
    return (unsigned)t < NC_TORCH_DTYPE_COUNT ? &INFO[t] : &INFO[0];
}

const char *nc_torch_dtype_name(nc_torch_dtype t) { return nc_torch_info(t)->name; }

nc_torch_dtype nc_torch_dtype_from_storage(const char *cls) {
    for (int t = 1; t < NC_TORCH_DTYPE_COUNT; t++)
        if (!strcmp(cls, INFO[t].storage)) return (nc_torch_dtype)t;
    /* torch 2.x untyped storages hold bytes. */
    if (!strcmp(cls, "UntypedStorage")) return NC_TORCH_BYTE;
    return NC_TORCH_AUTO;
}

nc_torch_dtype nc_torch_dtype_of(nc_dtype d) {
    switch (d) {
    case NC_F32: return NC_TORCH_FLOAT;
    case NC_F16: return NC_TORCH_HALF;
    case NC_BF16: return NC_TORCH_BFLOAT16;
    case NC_I64: return NC_TORCH_LONG;
    case NC_I32: return NC_TORCH_INT;
    case NC_U8: return NC_TORCH_BYTE;
    default: return NC_TORCH_AUTO;
    }
}

nc_status nc_tensor_list_push(nc_tensor_list *l, const char *name, nc_tensor *t, nc_torch_dtype td) {
    if (nc_vec_reserve(&l->items, &l->cap, l->n + 1, sizeof *l->items)) {
        nc_tensor_free(t);
        return nc_error(NC_ERR_OOM, "tensor list of %lld entries", (long long)(l->n + 1));
    }
    char *nm = nc_strdup(name);
    if (!nm) {
        nc_tensor_free(t);
        return nc_error(NC_ERR_OOM, "tensor name '%s'", name);
    }
    t->name = nm;
    l->items[l->n++] = (nc_named_tensor){.name = nm, .tensor = t, .torch_dtype = td};
    return NC_OK;
}

const nc_named_tensor *nc_tensor_list_find(const nc_tensor_list *l, const char *name) {
    for (int64_t i = 0; i < l->n; i++)
        if (!strcmp(l->items[i].name, name)) return &l->items[i];
    return NULL;
}

void nc_tensor_list_clear(nc_tensor_list *l) {
    for (int64_t i = 0; i < l->n; i++) {
        nc_tensor_free(l->items[i].tensor);
        nc_free(l->items[i].name);
    }
    nc_free(l->items);
    *l = (nc_tensor_list){0};
}
