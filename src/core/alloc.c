/* The process allocator hook and the debug allocator.
 *
 * Every block carries a header recording the allocator that made it, so a
 * block is always released by its own allocator even after the hook changes
 * (tests switch to the debug allocator and back). */
#include "nemoc/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc_note.h"

typedef struct block_header {
    void (*free_fn)(void *ud, void *p);
    void *ud;
    void *base; /* what the allocator returned */
    size_t size;
} block_header;

/* Header rounded up so the payload stays NC_ALIGN-aligned. */
#define HDR_SPACE ((sizeof(block_header) + NC_ALIGN - 1) / NC_ALIGN * NC_ALIGN)

static void *sys_alloc(void *ud, size_t size, size_t align) {
    (void)ud;
    void *p = NULL;
    if (posix_memalign(&p, align, size) != 0) return NULL;
    return p;
}

static void sys_free(void *ud, void *p) {
    (void)ud;
    free(p);
}

static nc_allocator current = {sys_alloc, sys_free, NULL};

nc_allocator nc_set_allocator(const nc_allocator *a) {
    nc_allocator prev = current;
    if (a)
        current = *a;
    else
        current = (nc_allocator){sys_alloc, sys_free, NULL};
    return prev;
}

void *nc_malloc(size_t size) {
    void *base = size > SIZE_MAX - HDR_SPACE ? NULL : current.alloc(current.user_data, size + HDR_SPACE, NC_ALIGN);
    if (!base) {
        nc_note_failed_alloc(size);
        return NULL;
    }
    block_header *h = (block_header *)((char *)base + HDR_SPACE - sizeof(block_header));
    h->free_fn = current.free;
    h->ud = current.user_data;
    h->base = base;
    h->size = size;
    return (char *)base + HDR_SPACE;
}

void *nc_calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) {
        nc_note_failed_alloc(SIZE_MAX);
        return NULL;
    }
    void *p = nc_malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void nc_free(void *ptr) {
    if (!ptr) return;
    block_header *h = (block_header *)((char *)ptr - sizeof(block_header));
    h->free_fn(h->ud, h->base);
}

void *nc_realloc(void *ptr, size_t size) {
    if (!ptr) return nc_malloc(size);
    block_header *h = (block_header *)((char *)ptr - sizeof(block_header));
    /* A block already large enough stays: shrinking would copy for nothing. */
    if (size <= h->size) return ptr;
    /* The allocator hook has no realloc entry, and a block must be freed by
     * the allocator that made it, so resizing is allocate + copy + free. */
    void *p = nc_malloc(size);
    if (!p) return NULL;
    memcpy(p, ptr, h->size);
    nc_free(ptr);
    return p;
}

char *nc_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = nc_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- debug allocator ---- */

typedef struct dbg_prefix {
    size_t size;
    nc_debug_alloc *state;
} dbg_prefix;

static void *dbg_alloc(void *ud, size_t size, size_t align) {
    nc_debug_alloc *st = ud;
    st->n_allocs++;
    if ((st->fail_at > 0 && st->n_allocs == st->fail_at) ||
        (st->limit_bytes > 0 && st->live_bytes + (int64_t)size > st->limit_bytes)) {
        st->n_failed++;
        return NULL;
    }
    /* Room in front for our own prefix, keeping `align`. */
    size_t pre = (sizeof(dbg_prefix) + align - 1) / align * align;
    void *base = NULL;
    if (posix_memalign(&base, align, size + pre) != 0) {
        st->n_failed++;
        return NULL;
    }
    dbg_prefix *dp = (dbg_prefix *)((char *)base + pre - sizeof(dbg_prefix));
    dp->size = size;
    dp->state = st;
    st->live_blocks++;
    st->live_bytes += (int64_t)size;
    if (st->live_bytes > st->peak_bytes) st->peak_bytes = st->live_bytes;
    void *user = (char *)base + pre;
    return user;
}

static void dbg_free(void *ud, void *p) {
    nc_debug_alloc *st = ud;
    if (!p) return;
    dbg_prefix *dp = (dbg_prefix *)((char *)p - sizeof(dbg_prefix));
    st->live_blocks--;
    st->live_bytes -= (int64_t)dp->size;
    /* The prefix size depends only on the alignment, which is always NC_ALIGN. */
    size_t pre = (sizeof(dbg_prefix) + NC_ALIGN - 1) / NC_ALIGN * NC_ALIGN;
    free((char *)p - pre);
}

nc_allocator nc_debug_allocator(nc_debug_alloc *state) {
    return (nc_allocator){dbg_alloc, dbg_free, state};
}
