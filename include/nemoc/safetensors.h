/* safetensors files (huggingface/safetensors): an 8-byte little-endian
 * header length, a JSON header {"name": {"dtype", "shape", "data_offsets"},
 * "__metadata__": {str: str}}, then the tensor bytes.
 *
 * Reading maps the file and hands out zero-copy tensor views; the header is
 * validated as the reference implementation does (offsets contiguous from 0
 * to the end of the file, sizes matching dtype x shape, no overlaps).
 * Writing lays tensors out as the Python library does (sorted by dtype
 * alignment, largest first, then by name; header padded with spaces to a
 * multiple of 8 bytes) and replaces the file atomically. */
#ifndef NEMOC_SAFETENSORS_H
#define NEMOC_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"
#include "nemoc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every safetensors dtype, in the reference implementation's order (which
 * is increasing alignment; writers sort on it). */
typedef enum nc_st_dtype {
    NC_ST_BOOL = 0,
    NC_ST_U8,
    NC_ST_I8,
    NC_ST_F8_E5M2,
    NC_ST_F8_E4M3,
    NC_ST_I16,
    NC_ST_U16,
    NC_ST_F16,
    NC_ST_BF16,
    NC_ST_I32,
    NC_ST_U32,
    NC_ST_F32,
    NC_ST_F64,
    NC_ST_I64,
    NC_ST_U64,
    NC_ST_DTYPE_COUNT
} nc_st_dtype;

const char *nc_st_dtype_name(nc_st_dtype dt); /* "F32", "BF16", ... */
size_t nc_st_dtype_size(nc_st_dtype dt);
/* The nemoc dtype a safetensors dtype loads as (BOOL as U8); false if none. */
bool nc_st_dtype_to_nc(nc_st_dtype dt, nc_dtype *out);

typedef struct nc_st_info {
    const char *name;
    nc_st_dtype dtype;
    int ndim;
    int64_t shape[NC_MAX_DIMS];
    int64_t offset; /* of the first byte, from the start of the data section */
    int64_t nbytes;
    const void *data;
} nc_st_info;

typedef struct nc_st_file nc_st_file;

/* Maps and validates a file. Errors name the file, the tensor and the rule
 * broken ("model.safetensors: tensor 'w': data_offsets [0, 12] hold 12
 * bytes but F32 (2, 2) needs 16"). */
nc_status nc_st_open(const char *path, nc_st_file **out);
/* Validates an in-memory image; views point into `buf`, which must outlive
 * the handle. `name` labels errors. */
nc_status nc_st_parse(const void *buf, size_t len, const char *name, nc_st_file **out);
void nc_st_close(nc_st_file *f);

/* Tensors in data order. */
int64_t nc_st_count(const nc_st_file *f);
const nc_st_info *nc_st_at(const nc_st_file *f, int64_t i);
/* NULL when absent. */
const nc_st_info *nc_st_find(const nc_st_file *f, const char *name);
/* A view of the tensor's bytes, valid until nc_st_close. The bytes are
 * read-only (for nc_st_open they are the mapped file): copy them, e.g. into
 * a parameter buffer, before changing them. NC_ERR_NOT_FOUND when absent,
 * NC_ERR_DTYPE for dtypes nemoc does not compute in (F64, I8, ...). */
nc_status nc_st_get(const nc_st_file *f, const char *name, nc_tensor *out);

/* The "__metadata__" map, in key order. */
int64_t nc_st_metadata_count(const nc_st_file *f);
const char *nc_st_metadata_key(const nc_st_file *f, int64_t i);
const char *nc_st_metadata_value(const nc_st_file *f, int64_t i);
const char *nc_st_metadata_get(const nc_st_file *f, const char *key); /* NULL if absent */

/* A tensor to write; `as_bool` stores a U8 tensor with dtype BOOL. */
typedef struct nc_st_entry {
    const char *name;
    const nc_tensor *tensor;
    bool as_bool;
} nc_st_entry;

/* `metadata` is NULL or a NULL-terminated list of key, value, key, value. */
nc_status nc_st_save(const char *path, const nc_st_entry *entries, int64_t n,
                     const char *const *metadata);
/* The same bytes in memory (nc_free *out). */
nc_status nc_st_serialize(const nc_st_entry *entries, int64_t n, const char *const *metadata,
                          void **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
