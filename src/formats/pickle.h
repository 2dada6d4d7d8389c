/* A restricted pickle interpreter for torch.save state_dicts. Not public.
 *
 * It builds plain values (None, bool, int, float, str, bytes, tuple, list,
 * dict) and three torch-specific ones: storages (persistent ids resolved to
 * zip records), tensor views (_rebuild_tensor_v2) and, when allowed, opaque
 * values standing for globals outside the allow-list. It never imports or calls
 * anything: "calling" an allow-listed global is a fixed C function.
 * Opcodes follow CPython's Lib/pickle.py (protocols 0-5, data-only subset). */
#ifndef NC_IO_PICKLE_H
#define NC_IO_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nemoc/arena.h"
#include "nemoc/status.h"
#include "nemoc/tensor.h"
#include "nemoc/torch_ckpt.h"

typedef enum pk_kind {
    PK_MARK, /* only on the stack */
    PK_NONE,
    PK_BOOL,
    PK_INT,
    PK_FLOAT,
    PK_STR,
    PK_BYTES,
    PK_TUPLE,
    PK_LIST,
    PK_DICT,
    PK_GLOBAL,  /* an allow-listed callable or class */
    PK_STORAGE, /* persistent id resolved to a storage record */
    PK_TENSOR,
    PK_OPAQUE, /* an object of a refused global (only with allow_unknown_globals) */
} pk_kind;

/* Allow-listed globals. */
typedef enum pk_global {
    PKG_ORDERED_DICT,
    PKG_REBUILD_TENSOR_V2,
    PKG_REBUILD_PARAMETER,
    PKG_REBUILD_PARAMETER_WITH_STATE,
    PKG_STORAGE_TYPE,
} pk_global;

typedef struct pk_obj pk_obj;
struct pk_obj {
    pk_kind kind;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            char *s; /* NUL-terminated; may also contain NULs */
            int64_t len;
        } str; /* PK_STR, PK_BYTES, and the global's name for PK_OPAQUE */
        struct {
            pk_obj **items;
            int64_t n, cap;
        } seq; /* PK_TUPLE, PK_LIST */
        struct {
            pk_obj **keys, **vals;
            int64_t n, cap;
        } dict;
        struct {
            pk_global id;
            nc_torch_dtype dtype; /* PKG_STORAGE_TYPE */
        } glob;
        int64_t index; /* PK_STORAGE, PK_TENSOR: index into the result's tables */
    } u;
};

typedef struct pk_storage {
    char *key; /* record name under <archive>/data/ */
    nc_torch_dtype dtype;
    int64_t numel; /* elements as declared by the persistent id */
} pk_storage;

typedef struct pk_tensor {
    int64_t storage;
    int64_t offset; /* in elements */
    int ndim;
    int64_t size[NC_MAX_DIMS];
    int64_t stride[NC_MAX_DIMS];
} pk_tensor;

typedef struct pk_result {
    pk_obj *root;
    pk_storage *storages;
    int64_t n_storages;
    pk_tensor *tensors;
    int64_t n_tensors;
    nc_arena *arena; /* owns every object and string */
} pk_result;

/* Runs the pickle in buf. `what` names the source in messages. */
nc_status pk_load(const void *buf, size_t len, const char *what, bool allow_unknown_globals,
                  pk_result *out);
void pk_result_free(pk_result *r);

/* Python-style type name for messages ("int", "tuple", "tensor", ...). */
const char *pk_kind_name(const pk_obj *o);

/* Internal: object construction and torch semantics (pickle_obj.c, pickle_torch.c). */
typedef struct pk_vm pk_vm;
pk_obj *pk_new(pk_vm *vm, pk_kind kind);
pk_obj *pk_new_str(pk_vm *vm, pk_kind kind, const void *s, int64_t len);
pk_obj *pk_new_seq(pk_vm *vm, pk_kind kind, pk_obj *const *items, int64_t n);
nc_status pk_list_append(pk_vm *vm, pk_obj *list, pk_obj *v);
nc_status pk_dict_set(pk_vm *vm, pk_obj *dict, pk_obj *k, pk_obj *v);
/* Error with the pickle offset of the current opcode. */
nc_status pk_fail(pk_vm *vm, nc_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

nc_status pk_find_global(pk_vm *vm, const char *module, const char *name, pk_obj **out);
nc_status pk_call(pk_vm *vm, pk_obj *callable, pk_obj *args, pk_obj **out);
nc_status pk_persistent_load(pk_vm *vm, pk_obj *pid, pk_obj **out);
nc_status pk_build(pk_vm *vm, pk_obj *obj, pk_obj *state);



/* Interpreter state, shared by pickle_vm.c, pickle_obj.c and pickle_torch.c. */
typedef struct nc_strmap nc_strmap;
struct pk_vm {
    const unsigned char *start, *p, *end;
    size_t op_off; /* offset of the opcode being run, for messages */
    const char *what;
    bool allow_unknown;
    nc_arena *arena;
    pk_obj *none, *true_, *false_, *mark;
    pk_obj **stack;
    int64_t sp, stack_cap;
    int64_t *marks; /* stack heights at each MARK */
    int64_t n_marks, marks_cap;
    pk_obj **memo;
    int64_t memo_cap, memo_count;
    pk_storage *storages;
    int64_t n_storages, storages_cap;
    pk_tensor *tensors;
    int64_t n_tensors, tensors_cap;
    nc_strmap *storage_index; /* key -> storages[] index */
};
#endif
