/* The growth rule behind nc_vec_reserve. */
#include "core/vec.h"

#include <string.h>

#include "core/alloc_note.h"
#include "nemoc/alloc.h"

nc_status nc_vec_reserve(void *array_ptr, int64_t *cap, int64_t need, size_t elem) {
    if (need < 0 || elem == 0)
        return nc_error(NC_ERR_INVALID_ARG, "array: cannot reserve %lld elements of %zu bytes", (long long)need, elem);
    if (need <= *cap) return NC_OK;
    /* The largest element count whose byte size fits both size_t and int64_t. */
    const size_t lim = (SIZE_MAX < (size_t)INT64_MAX ? SIZE_MAX : (size_t)INT64_MAX) / elem;
    if ((uint64_t)need > lim)
        return nc_error(NC_ERR_OOM, "array: %lld elements of %zu bytes overflow the address space", (long long)need,
                        elem);
    int64_t c = *cap < 8 ? 8 : *cap;
    while (c < need) c = (uint64_t)c > lim / 2 ? (int64_t)lim : 2 * c;
    if ((uint64_t)c > lim) c = (int64_t)lim;
    /* The array pointer is copied through memcpy, not a `void **` cast: a
     * `T *` object may only be written through its own type. */
    void *old;
    memcpy(&old, array_ptr, sizeof old);
    void *p = nc_realloc(old, (size_t)c * elem);
    if (!p) {
        nc_error(NC_ERR_OOM, "array: cannot grow to %lld elements of %zu bytes", (long long)c, elem);
        nc_note_failed_alloc((size_t)c * elem); /* for the caller's own message, as core/strbuf.c does */
        return NC_ERR_OOM;
    }
    memcpy(array_ptr, &p, sizeof p);
    *cap = c;
    return NC_OK;
}
