/* Growable typed arrays: one growth rule for every `T *a; int64_t n, cap;`
 * triple in the library. Not public. */
#ifndef NC_CORE_VEC_H
#define NC_CORE_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"

/* Makes room for at least `need` elements of `elem` bytes in the array whose
 * pointer lives at `array_ptr` (the address of a `T *`, so `&v->items`) and
 * whose capacity is *cap. The capacity at least doubles, so n appends cost
 * O(n) copies; the first allocation takes at least 8 elements. Existing
 * elements are kept. Returns NC_ERR_OOM (array and *cap untouched) when the
 * allocator refuses or need * elem does not fit in size_t/int64_t, and
 * NC_ERR_INVALID_ARG for a negative `need` or a zero `elem`. */
nc_status nc_vec_reserve(void *array_ptr, int64_t *cap, int64_t need, size_t elem);

#endif
