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
/* Writes a tensor (f32, f16, i32, i64, u8) atomically (temp file + rename). */
nc_status nc_npy_save(const char *path, const nc_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
