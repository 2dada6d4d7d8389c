/* The nc_ctx struct, visible to core and ops. Not public. */
#ifndef NC_CORE_CTX_IMPL_H
#define NC_CORE_CTX_IMPL_H

#include "nemoc/ctx.h"

struct nc_node;

struct nc_ctx {
    nc_arena *arena;
    struct nc_node *nodes; /* tape, in the arena */
    int64_t n_nodes, cap_nodes;
    nc_status status;      /* sticky first failure */
    bool grad_enabled;
    bool training;
    bool reference;        /* plain reference kernels everywhere */
    nc_precision precision;
    nc_gemm_engine gemm;
    nc_rng rng;
    nc_sync_sum_fn sync; /* data-parallel sum for synchronized batch norm, or NULL */
    void *sync_ud;
};

#endif
