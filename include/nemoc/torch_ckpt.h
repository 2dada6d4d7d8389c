/* PyTorch checkpoints (torch.save, zip format of torch >= 1.6): named tensors
 * in, named tensors out.
 *
 * Reading runs a RESTRICTED pickle interpreter. It knows the opcodes that
 * torch.save emits and resolves only an allow-list of globals
 * (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 * _rebuild_parameter[_with_state] and the torch.*Storage types); any other
 * global is refused with a message naming it. Nothing is imported or
 * executed. Tensor views (strides, offsets, several tensors on one storage)
 * become contiguous heap tensors.
 *
 * dtypes: float32, float16, bfloat16, int64, int32, uint8 keep their type;
 * float64 becomes float32 (rounded: nemoc has no f64 tensors), bool becomes
 * uint8 (0/1), int16 and int8 become int32 (exact). The original torch dtype
 * is kept in nc_named_tensor.torch_dtype so that writing the tensors back
 * restores it. */
#ifndef NEMOC_TORCH_CKPT_H
#define NEMOC_TORCH_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"
#include "nemoc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Storage element types of torch (the torch.*Storage classes). */
typedef enum nc_torch_dtype {
    NC_TORCH_AUTO = 0, /* writer: follow the nc_tensor's dtype */
    NC_TORCH_FLOAT,    /* float32 */
    NC_TORCH_DOUBLE,   /* float64 */
    NC_TORCH_HALF,     /* float16 */
    NC_TORCH_BFLOAT16,
    NC_TORCH_LONG,  /* int64 */
    NC_TORCH_INT,   /* int32 */
    NC_TORCH_SHORT, /* int16 */
    NC_TORCH_CHAR,  /* int8 */
    NC_TORCH_BYTE,  /* uint8 */
    NC_TORCH_BOOL,
    NC_TORCH_DTYPE_COUNT
} nc_torch_dtype;

/* "float64", "bool", ... (torch names); "auto" for NC_TORCH_AUTO. */
const char *nc_torch_dtype_name(nc_torch_dtype t);

typedef struct nc_named_tensor {
    char *name;                 /* state_dict key */
    nc_tensor *tensor;          /* heap tensor (nc_tensor_new) */
    nc_torch_dtype torch_dtype; /* dtype in the file (reader) / to write (writer) */
} nc_named_tensor;

/* An ordered list of named tensors that owns names and tensors. Zero-initialise
 * (nc_tensor_list l = {0};) before first use. */
typedef struct nc_tensor_list {
    nc_named_tensor *items;
    int64_t n;
    int64_t cap;
} nc_tensor_list;

/* Appends (name copied, tensor taken over: freed on failure too). */
nc_status nc_tensor_list_push(nc_tensor_list *l, const char *name, nc_tensor *t, nc_torch_dtype td);
/* First item with that name, or NULL (linear search). */
const nc_named_tensor *nc_tensor_list_find(const nc_tensor_list *l, const char *name);
/* Frees every name and tensor and empties the list. */
void nc_tensor_list_clear(nc_tensor_list *l);

typedef struct nc_torch_read_params {
    /* Which part of the checkpoint to return. NULL: the 'state_dict' entry
     * when the top-level dict has one (Lightning .ckpt), otherwise the whole
     * top-level dict. "": everything. "a.b": the dict under key a, then b.
     * Nested dicts and lists are flattened with '.' ("optimizer_states.0.state.3.exp_avg");
     * values that are not tensors (epoch numbers, strings) are skipped. */
    const char *select;
    /* false (default): a global outside the allow-list is an error.
     * true: it becomes an opaque value (never imported, never called),
     * so checkpoints with extra Python objects (Lightning callbacks,
     * OmegaConf hyper-parameters) load; such a value where a tensor is
     * needed is still an error. torch.storage._load_from_bytes is refused
     * either way. */
    bool allow_unknown_globals;
    bool verify_crc; /* check each storage's CRC-32 (default true) */
} nc_torch_read_params;

nc_torch_read_params nc_torch_read_default_params(void);

/* Reads a torch.save file. `params` NULL means defaults. On success `out`
 * holds the tensors in pickle order (appended to what it already held).
 * Storages are read in place from the file, one at a time. */
nc_status nc_torch_ckpt_load(const char *path, const nc_torch_read_params *params, nc_tensor_list *out);
/* Same from a memory image; `what` names it in messages. */
nc_status nc_torch_ckpt_load_mem(const void *buf, size_t len, const char *what,
                                 const nc_torch_read_params *params, nc_tensor_list *out);

/* Writing. Receives the bytes of a checkpoint in order. */
typedef nc_status (*nc_byte_sink)(void *user_data, const void *buf, size_t len);

typedef struct nc_torch_write_params {
    /* Folder name inside the zip (torch uses the file name without its
     * extension). NULL: derived from the path, "archive" for memory/streams. */
    const char *archive_name;
    bool force_zip64; /* ZIP64 records even when small (tests) */
} nc_torch_write_params;

/* Writes tensors as torch.save(OrderedDict(name -> tensor)) would: a
 * protocol-2 pickle of _rebuild_tensor_v2 calls, one storage per tensor,
 * version "3", byteorder "little". Atomic (temp file + fsync + rename).
 * A tensor's torch_dtype may widen or narrow it on the way out (f32 as
 * DOUBLE, u8 as BOOL, i32 as SHORT/CHAR); AUTO keeps the tensor's dtype.
 * `params` NULL means defaults. */
nc_status nc_torch_ckpt_save(const char *path, const nc_named_tensor *items, int64_t n,
                             const nc_torch_write_params *params);
/* Same into a new nc_malloc'd buffer (free with nc_free). */
nc_status nc_torch_ckpt_save_mem(const nc_named_tensor *items, int64_t n,
                                 const nc_torch_write_params *params, void **buf, size_t *len);
/* Size in bytes of the checkpoint that nc_torch_ckpt_write would produce. */
nc_status nc_torch_ckpt_size(const nc_named_tensor *items, int64_t n,
                             const nc_torch_write_params *params, uint64_t *size);
/* Streams the checkpoint to `sink` (e.g. into a tar member of known size). */
nc_status nc_torch_ckpt_write(const nc_named_tensor *items, int64_t n,
                              const nc_torch_write_params *params, nc_byte_sink sink, void *user_data);

#ifdef __cplusplus
}
#endif
#endif
