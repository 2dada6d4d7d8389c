/* The nc_ctx struct, visible to core and ops. Not public. */
#ifndef NC_CORE_CTX_IMPL_H
#define NC_CORE_CTX_IMPL_H

#include "nemoc/ctx.h"

struct nc_node;

/* Per-op profile table (see nc_ctx_set_profile); op names are string
 * literals, so entries are keyed by pointer. One entry per distinct op and
 * direction, grown as new ops appear, so no op goes uncounted. */
typedef struct nc_profile {
    nc_profile_entry *e;
    int64_t n, cap;
    double last; /* end of the previous op (seconds, monotonic) */
} nc_profile;

struct nc_ctx {
    nc_arena *arena;
    struct nc_node *nodes; /* tape, in the arena */
    int64_t n_nodes, cap_nodes;
    nc_status status;      /* sticky first failure */
    bool grad_enabled;
    bool training;
    bool reference;        /* plain reference kernels everywhere */
    int attn_tiled;        /* -1 size rule, 0 never, 1 always (nc_ctx_set_attn_tiled) */
    nc_precision precision;
    nc_gemm_engine gemm;
    nc_rng rng;
    nc_sync_sum_fn sync; /* data-parallel sum for synchronized batch norm, or NULL */
    void *sync_ud;
    nc_profile *prof; /* NULL unless profiling */
    /* bf16 copies of parameters made this step, dropped by reset. They live
     * in their own arena: inference hands the main arena's space back layer
     * by layer (nc_arena_rewind), which must not free a copy that is still
     * listed, nor the list itself. */
    nc_arena *bf16_arena; /* created on first use */
    /* Activation checkpointing (ops_checkpoint.c) runs its segments in this
     * child context, reset after each, so their activations never stay. */
    struct nc_ctx *ckpt_child;
    bool keep_bf16; /* nc_ctx_keep_bf16_params */
    struct nc_bf16_entry *bf16;
    int64_t n_bf16, cap_bf16;
};

typedef struct nc_bf16_entry {
    const void *key;
    int64_t n;
    uint16_t *val;
} nc_bf16_entry;

#endif
