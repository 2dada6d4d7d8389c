/* Chunked bump arena with high-water-mark consolidation. */
#include "nemoc/arena.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "nemoc/alloc.h"

typedef struct chunk {
    struct chunk *prev; /* chunks form a stack; the newest is current */
    size_t cap;
    size_t used;
    char *mem;
} chunk;

struct nc_arena {
    chunk *cur;
    size_t total_used;  /* bytes handed out since reset, across chunks */
    size_t high_water;
    size_t capacity;
    size_t limit;
};

#define MIN_CHUNK ((size_t)1 << 20)

static size_t align_up(size_t n) { return (n + NC_ALIGN - 1) & ~(size_t)(NC_ALIGN - 1); }

/* Asks for transparent huge pages on the 2 MiB-aligned interior of a big
 * chunk (where the system's THP mode is "madvise"): a training step streams
 * gigabytes through the arena, and 4 KiB pages cost a TLB miss every 4 KiB
 * and a page fault each on first touch. Advice only; errors are ignored. */
static void hugepages(char *mem, size_t cap) {
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (cap < 8 * huge) return;
    uintptr_t lo = ((uintptr_t)mem + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)mem + cap) & ~(huge - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)mem, (void)cap;
#endif
}

static chunk *chunk_new(size_t cap) {
    chunk *c = nc_malloc(sizeof(chunk));
    if (!c) return NULL;
    c->mem = nc_malloc(cap);
    if (!c->mem) {
        nc_free(c);
        return NULL;
    }
    c->cap = cap;
    c->used = 0;
    c->prev = NULL;
    hugepages(c->mem, cap);
    return c;
}

static void chunk_free_all(chunk *c) {
    while (c) {
        chunk *p = c->prev;
        nc_free(c->mem);
        nc_free(c);
        c = p;
    }
}

nc_status nc_arena_create(size_t reserve, nc_arena **out) {
    *out = NULL;
    nc_arena *a = nc_calloc(1, sizeof *a);
    if (!a) return nc_error(NC_ERR_OOM, "arena: cannot allocate header");
    if (reserve) {
        a->cur = chunk_new(align_up(reserve));
        if (!a->cur) {
            nc_free(a);
            return nc_error(NC_ERR_OOM, "arena: cannot reserve %zu bytes", reserve);
        }
        a->capacity = a->cur->cap;
    }
    *out = a;
    return NC_OK;
}

void nc_arena_free(nc_arena *a) {
    if (!a) return;
    chunk_free_all(a->cur);
    nc_free(a);
}

void *nc_arena_alloc(nc_arena *a, size_t size) {
    size = align_up(size ? size : 1);
    chunk *c = a->cur;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > MIN_CHUNK ? size : MIN_CHUNK;
        /* Grow geometrically so a long first step makes few chunks. */
        if (a->capacity / 2 > cap) cap = align_up(a->capacity / 2);
        if (a->limit && a->capacity + cap > a->limit) {
            cap = size;
            if (a->capacity + cap > a->limit) {
                nc_error(NC_ERR_OOM,
                         "arena: step needs %zu more bytes but the limit is %zu (holding %zu)",
                         size, a->limit, a->capacity);
                return NULL;
            }
        }
        chunk *n = chunk_new(cap);
        if (!n) {
            nc_error(NC_ERR_OOM, "arena: cannot allocate a chunk of %zu bytes (request %zu)", cap,
                     size);
            return NULL;
        }
        n->prev = c;
        a->cur = n;
        a->capacity += cap;
        c = n;
    }
    void *p = c->mem + c->used;
    c->used += size;
    a->total_used += size;
    if (a->total_used > a->high_water) a->high_water = a->total_used;
    return p;
}

void *nc_arena_calloc(nc_arena *a, size_t size) {
    void *p = nc_arena_alloc(a, size);
    if (p) memset(p, 0, size);
    return p;
}

void nc_arena_reset(nc_arena *a) {
    if (!a->cur) return;
    if (a->cur->prev) {
        /* Several chunks: replace them with one block of the high-water size,
         * so later steps of the same shape never allocate. */
        size_t want = align_up(a->high_water + a->high_water / 8);
        chunk *n = chunk_new(want);
        if (n) {
            chunk_free_all(a->cur);
            a->cur = n;
            a->capacity = want;
        } else {
            /* Keep the old chunks; they still work, just not as one block. */
            for (chunk *c = a->cur; c; c = c->prev) c->used = 0;
            a->total_used = 0;
            return;
        }
    }
    a->cur->used = 0;
    a->total_used = 0;
}

nc_arena_mark nc_arena_mark_get(const nc_arena *a) {
    return (nc_arena_mark){a->cur, a->cur ? a->cur->used : 0, a->total_used};
}

void nc_arena_rewind(nc_arena *a, nc_arena_mark m) {
    /* Chunks added after the mark stay allocated (reused by the next reset's
     * consolidation) but are emptied; the marked chunk goes back to its fill. */
    for (chunk *c = a->cur; c && c != m.chunk; c = c->prev) c->used = 0;
    if (m.chunk) {
        /* Make the marked chunk current again by moving newer chunks below it
         * is not possible in a stack; instead keep the newest as current with
         * zero use, which is equivalent for allocation purposes. */
        ((chunk *)m.chunk)->used = m.used;
    }
    a->total_used = m.total;
}

size_t nc_arena_used(const nc_arena *a) { return a->total_used; }
size_t nc_arena_high_water(const nc_arena *a) { return a->high_water; }
size_t nc_arena_capacity(const nc_arena *a) { return a->capacity; }
void nc_arena_set_limit(nc_arena *a, size_t limit) { a->limit = limit; }
