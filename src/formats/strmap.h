/* A small string -> int64 hash map (open addressing, FNV-1a) for name lookups
 * in archives and checkpoints, where a linear search per lookup would make
 * loading a 10,000-tensor checkpoint quadratic. Not public. */
#ifndef NC_IO_STRMAP_H
#define NC_IO_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"

typedef struct nc_strmap nc_strmap;

nc_status nc_strmap_new(nc_strmap **out);
void nc_strmap_free(nc_strmap *m);
/* Maps key (len bytes, need not be NUL-terminated) to val, replacing an
 * existing value. The map keeps its own copy of the key. */
nc_status nc_strmap_put(nc_strmap *m, const char *key, size_t len, int64_t val);
/* The value of key, or -1 when absent. */
int64_t nc_strmap_get(const nc_strmap *m, const char *key, size_t len);

#endif
