/* Arena for per-step activations.
 *
 * A bump allocator made of chunks. The first steps of a run grow it chunk by
 * chunk; nc_arena_reset() then folds all chunks into one block sized by the
 * measured high-water mark, so a steady-state step makes no allocation at
 * all, even when speech batches vary in shape. */
#ifndef NEMOC_ARENA_H
#define NEMOC_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_arena nc_arena;

/* `reserve` bytes are allocated up front (0 = lazily on first use). */
nc_status nc_arena_create(size_t reserve, nc_arena **out);
void nc_arena_free(nc_arena *a);

/* NC_ALIGN-aligned block, or NULL with an NC_ERR_OOM message naming the size. */
void *nc_arena_alloc(nc_arena *a, size_t size);
void *nc_arena_calloc(nc_arena *a, size_t size);

/* Releases everything allocated since creation (or the last reset). */
void nc_arena_reset(nc_arena *a);

/* Position marks: allocations made after nc_arena_mark() are dropped by
 * nc_arena_rewind() (scratch memory inside one step). */
typedef struct nc_arena_mark {
    void *chunk;
    size_t used;
    size_t total;
} nc_arena_mark;
nc_arena_mark nc_arena_mark_get(const nc_arena *a);
void nc_arena_rewind(nc_arena *a, nc_arena_mark m);

size_t nc_arena_used(const nc_arena *a);      /* bytes handed out since reset */
size_t nc_arena_high_water(const nc_arena *a); /* largest nc_arena_used seen */
size_t nc_arena_capacity(const nc_arena *a);   /* bytes held */
/* Cap on the total capacity (0 = none): a step that needs more fails with OOM. */
void nc_arena_set_limit(nc_arena *a, size_t limit);

#ifdef __cplusplus
}
#endif
#endif
