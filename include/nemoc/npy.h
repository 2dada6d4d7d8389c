/* NumPy .npy arrays (format version 1.0/2.0/3.0, little-endian, C order),
 * for test fixtures and inspecting features. */
#ifndef NEMOC_NPY_H
#define NEMOC_NPY_H

#include <stddef.h>

#include "nemoc/status.h"
#include "nemoc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads a file into a new heap tensor (f4, f8 -> f32 is NOT done: f8 is
 * refused; supported: <f4 <f2 <i4 <i8 |u1 |b1 and bfloat16 stored as <V2 is not). */
nc_status nc_npy_load(const char *path, nc_tensor **out);
/* Parses an in-memory .npy image (used by load and by fuzzing). */
nc_status nc_npy_parse(const void *buf, size_t len, const char *what, nc_tensor **out);
/* Writes a tensor (f32, f16, i32, i64, u8) atomically (temp file + rename).
 * The header is the one numpy.save writes (same dict text and padding), so
 * the file is byte-identical to np.save of the same array. */
nc_status nc_npy_save(const char *path, const nc_tensor *t);

/* Raw arrays of any little-endian numeric descr ('<u4', '<i4', '<i8', ...),
 * for data nc_tensor has no dtype for (NeMo's uint32 shuffle indices). */
typedef struct nc_npy_info {
    char descr[16];
    int ndim;
    int64_t shape[NC_MAX_DIMS];
    size_t item_size;   /* from the descr's digits */
    size_t data_offset; /* where the data starts in the image */
    size_t data_bytes;  /* item_size times the element count, checked to fit */
} nc_npy_info;
/* Parses and checks the header of an in-memory image (C order only). */
nc_status nc_npy_parse_info(const void *buf, size_t len, const char *what, nc_npy_info *info);
/* Writes data (item_size from descr) with numpy.save's header, atomically. */
nc_status nc_npy_save_raw(const char *path, const char *descr, int ndim, const int64_t *shape, const void *data);

#ifdef __cplusplus
}
#endif
#endif
