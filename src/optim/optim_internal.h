/* The nc_optim struct and the work plan its kernels share. Not public.
 *
 * Every step splits the flat buffer of the tensors that take part into
 * chunks of at most NC_OPTIM_CHUNK elements, each inside one tensor. The
 * kernels run one OpenMP loop over the chunks; per-tensor quantities (step
 * counts, bias corrections, Novograd's gradient norms) are looked up by the
 * chunk's tensor. Partial sums are kept per chunk and added in chunk order,
 * so results do not depend on the number of threads. */
#ifndef NC_OPTIM_INTERNAL_H
#define NC_OPTIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/optim.h"

/* 32 Ki floats: 128 KiB per stream, large enough to amortise scheduling,
 * small enough to balance a few big tensors over the threads. */
#define NC_OPTIM_CHUNK 32768
/* Below this many elements in a step, one thread does it all. */
#define NC_OPTIM_PAR_MIN 32768
/* Per-tensor float scalars a kernel may precompute for a step. */
#define NC_OPTIM_NSC 2
/* Most state tensors any optimizer has. */
#define NC_OPTIM_MAX_STATE 5

typedef struct nc_optim_chunk {
    int64_t k;          /* trainable tensor (0..nt-1) */
    int64_t begin, end; /* flat element range */
} nc_optim_chunk;

typedef struct nc_optim_state {
    const char *name;
    nc_dtype dtype;
    void *data;
    int64_t n; /* elements (1-D) */
} nc_optim_state;

struct nc_optim {
    nc_optim_params p;
    nc_params *params;
    int64_t flat; /* nc_params_flat_size */
    int64_t nt;   /* trainable tensors */
    int64_t *pidx;        /* (nt) index into nc_params */
    int64_t *off, *len;   /* (nt) flat offset and numel */
    int64_t *step;        /* (nt) updates each tensor has had */
    float *m;             /* (flat) exp_avg or momentum_buffer */
    float *v, *vmax;      /* (flat) Adam second moments; (nt) for Novograd */
    /* work plan, rebuilt every step into preallocated memory */
    nc_optim_chunk *chunks;
    int64_t n_chunks, cap_chunks;
    int64_t n_active; /* elements taking part in this step */
    bool *active;     /* (nt) */
    bool *nodecay;    /* (nt) no weight decay for this tensor (nc_params_set_no_decay) */
    double *acc;      /* (2 * cap_chunks) per-chunk partial sums */
    float *tsc;       /* (nt * NC_OPTIM_NSC) per-tensor scalars */
    nc_optim_state state[NC_OPTIM_MAX_STATE];
    int n_state;
};

/* Whether a step over n elements should use threads. */
static inline bool nc_optim_par(const nc_optim *o) { return o->n_active >= NC_OPTIM_PAR_MIN; }

/* The kernels: one update of the planned chunks with the current lr. Each
 * advances the step count of the tensors it updates. */
void nc_optim_sgd_step(nc_optim *o);
void nc_optim_adam_step(nc_optim *o);
void nc_optim_novograd_step(nc_optim *o);

#endif
