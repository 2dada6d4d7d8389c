/* Pluggable allocator.
 *
 * All large memory in nemoc (arenas, flat parameter/gradient/optimizer
 * buffers, datasets) goes through nc_malloc/nc_free, which call the process
 * allocator. Tests install the debug allocator to make an allocation fail on
 * demand and check that every out-of-memory path reports cleanly. */
#ifndef NEMOC_ALLOC_H
#define NEMOC_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_allocator {
    /* Returns memory aligned to `align` (a power of two, >= sizeof(void*)), or NULL. */
    void *(*alloc)(void *user_data, size_t size, size_t align);
    void (*free)(void *user_data, void *ptr);
    void *user_data;
} nc_allocator;

/* Alignment of every nc_malloc block: one cache line, enough for AVX-512. */
#define NC_ALIGN 64

void *nc_malloc(size_t size);           /* NC_ALIGN-aligned; NULL on failure */
void *nc_calloc(size_t n, size_t size); /* zeroed; checks n*size overflow */
void nc_free(void *ptr);
char *nc_strdup(const char *s);
/* Resizes a block from nc_malloc (NULL = a new block), keeping its first
 * min(old, size) bytes. Goes through nc_malloc, so the debug allocator can
 * refuse it; on failure returns NULL and `ptr` is untouched. */
void *nc_realloc(void *ptr, size_t size);

/* Installs `a` (NULL = the system allocator) and returns the previous one. */
nc_allocator nc_set_allocator(const nc_allocator *a);

/* Debug allocator: counts live blocks and bytes, and fails the allocation
 * number `fail_at` (1-based; 0 = never) or any allocation that would take the
 * live total past `limit_bytes` (0 = no limit). */
typedef struct nc_debug_alloc {
    int64_t n_allocs;      /* allocations attempted */
    int64_t n_failed;      /* allocations refused */
    int64_t live_blocks;
    int64_t live_bytes;
    int64_t peak_bytes;
    int64_t fail_at;
    int64_t limit_bytes;
} nc_debug_alloc;

/* Returns an allocator that routes through `state`. Install it with
 * nc_set_allocator; blocks freed after it is removed are still handled. */
nc_allocator nc_debug_allocator(nc_debug_alloc *state);

#ifdef __cplusplus
}
#endif
#endif
