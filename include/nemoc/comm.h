/* Communicators for distributed training.
 *
 * One interface, two implementations behind an opaque handle:
 *   "single"  a world of one process; needs no MPI and no launcher, every
 *             collective is a copy or a no-op;
 *   "mpi"     OpenMPI, for processes started by `mpirun` (docs/distributed.md).
 * nc_comm_create_world() picks "mpi" when the process was launched by mpirun
 * with more than one rank and "single" otherwise, so the same trainer binary
 * runs alone or data-parallel without a flag.
 *
 * Semantics follow torch.distributed (all_reduce, reduce_scatter_tensor,
 * all_gather_into_tensor, broadcast, barrier, send/recv, new_group/split):
 * collectives work in place or on caller buffers, every rank calls them in
 * the same order, and each call returns only when this rank's part is done.
 * One thread at a time may use a communicator (MPI_THREAD_SERIALIZED).
 *
 * Failures: every MPI error comes back as NC_ERR_COMM with a message naming
 * the operation and the rank ("all_reduce(float32 x 10, sum) failed on rank 1
 * of 2: MPI_ERR_TRUNCATE: ..."). A communicator with a timeout (the watchdog,
 * default 1800 s like torch.distributed's default_pg_timeout) returns
 * NC_ERR_COMM "all_reduce ... timed out after N s (rank R of S)" instead of
 * hanging, and names the ranks that did not answer a liveness probe. After
 * any NC_ERR_COMM the communicator is unusable (later calls fail at once and
 * MPI is not finalized): the program should exit with a non-zero status, and
 * mpirun then terminates the other ranks. */
#ifndef NEMOC_COMM_H
#define NEMOC_COMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_comm nc_comm;
typedef struct nc_comm_request nc_comm_request;

/* Element types of communicated buffers. */
typedef enum nc_comm_dtype {
    NC_COMM_F32 = 0,
    NC_COMM_F64,
    NC_COMM_I32,
    NC_COMM_I64,
    NC_COMM_U8,
    NC_COMM_DTYPE_COUNT
} nc_comm_dtype;

/* Reductions. AVG is SUM followed by a division by the group size (floating
 * types only, as torch's ReduceOp.AVG). */
typedef enum nc_reduce_op {
    NC_COMM_SUM = 0,
    NC_COMM_AVG,
    NC_COMM_MAX,
    NC_COMM_MIN,
    NC_COMM_OP_COUNT
} nc_reduce_op;

typedef enum nc_comm_kind {
    NC_COMM_AUTO = 0, /* mpi when launched by mpirun with more than one rank, else single */
    NC_COMM_SINGLE,   /* never touches MPI */
    NC_COMM_MPI,      /* initialises MPI even without mpirun (a world of one) */
} nc_comm_kind;

typedef struct nc_comm_params {
    nc_comm_kind kind;
    /* Watchdog: the longest one collective or message may wait, in seconds;
     * <= 0 waits forever (and uses MPI's blocking calls). */
    double timeout_s;
} nc_comm_params;

/* {.kind = NC_COMM_AUTO, .timeout_s = 1800}. */
nc_comm_params nc_comm_default_params(void);

/* Creates the world communicator. With kind "mpi" this calls MPI_Init_thread
 * unless MPI is already initialised; the communicator then owns MPI and the
 * last nc_comm_free (of the world and every group split from it) calls
 * MPI_Finalize. Create the world once per process: MPI cannot be
 * re-initialised after it was finalized. */
nc_status nc_comm_create(const nc_comm_params *p, nc_comm **out);
/* nc_comm_create with the default params. */
nc_status nc_comm_create_world(nc_comm **out);
/* Releases the communicator (NULL is fine). Finalizes MPI when this was the
 * last communicator and nemoc initialised it, unless a collective failed or
 * timed out (finalizing would wait for the stuck ranks). */
void nc_comm_free(nc_comm *c);

/* The size mpirun announced in the environment (OMPI_COMM_WORLD_SIZE), 0 when
 * another PMIx/PMI launcher started the process (size known after MPI_Init),
 * -1 when no launcher did. */
int nc_comm_launcher_size(void);

const char *nc_comm_backend(const nc_comm *c); /* "single" or "mpi" */
int nc_comm_rank(const nc_comm *c);
int nc_comm_size(const nc_comm *c);
/* Rank among, and number of, this communicator's ranks on the same node
 * (MPI_Comm_split_type with MPI_COMM_TYPE_SHARED): which device to use. */
int nc_comm_local_rank(const nc_comm *c);
int nc_comm_local_size(const nc_comm *c);
double nc_comm_timeout(const nc_comm *c);
void nc_comm_set_timeout(nc_comm *c, double timeout_s);

size_t nc_comm_dtype_size(nc_comm_dtype dt);
const char *nc_comm_dtype_name(nc_comm_dtype dt); /* "float32", ... */
const char *nc_reduce_op_name(nc_reduce_op op);   /* "sum", ... */

/* In place: buf (count elements) becomes the reduction over all ranks. */
nc_status nc_comm_all_reduce(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt,
                             nc_reduce_op op);

/* Reduces send (size * count elements) over all ranks and leaves chunk `rank`
 * of the result in recv (count elements). send == recv works in place: the
 * chunk then lands at the start of the buffer. */
nc_status nc_comm_reduce_scatter(nc_comm *c, const void *send, void *recv, int64_t count,
                                 nc_comm_dtype dt, nc_reduce_op op);
/* Uneven chunks: send holds sum(counts) elements, rank r receives counts[r]. */
nc_status nc_comm_reduce_scatter_v(nc_comm *c, const void *send, void *recv,
                                   const int64_t *counts, nc_comm_dtype dt, nc_reduce_op op);

/* Concatenates every rank's send (count elements) into recv (size * count) in
 * rank order. send may be recv's own slot (recv + rank * count): in place. */
nc_status nc_comm_all_gather(nc_comm *c, const void *send, void *recv, int64_t count,
                             nc_comm_dtype dt);
/* Uneven chunks: rank r contributes counts[r] elements (send holds this
 * rank's); recv holds sum(counts), chunk r at offset counts[0] + ... + counts[r-1]. */
nc_status nc_comm_all_gather_v(nc_comm *c, const void *send, void *recv, const int64_t *counts,
                               nc_comm_dtype dt);

/* buf on every rank becomes root's buf. */
nc_status nc_comm_broadcast(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt, int root);
nc_status nc_comm_broadcast_bytes(nc_comm *c, void *buf, int64_t nbytes, int root);

nc_status nc_comm_barrier(nc_comm *c);

/* Point-to-point messages between two different ranks; tag in [0, 32767].
 * recv fails (naming both ranks) when the message is not exactly nbytes. */
nc_status nc_comm_send(nc_comm *c, const void *buf, int64_t nbytes, int dst, int tag);
nc_status nc_comm_recv(nc_comm *c, void *buf, int64_t nbytes, int src, int tag);

/* Process groups (MPI_Comm_split): ranks calling with the same color form a
 * new communicator, ordered by key, then by rank in c. color < 0 takes part
 * in the call but joins no group (*out = NULL). A group keeps the timeout of
 * c and must be freed with nc_comm_free; it may outlive c. */
nc_status nc_comm_split(nc_comm *c, int color, int key, nc_comm **out);

/* Asynchronous all-reduce (MPI_Iallreduce): starts it and returns a request.
 * buf must stay untouched until the request completes. nc_comm_test polls
 * (and drives MPI's progress engine: call it now and then while computing);
 * nc_comm_wait waits, watched by the communicator's timeout counted from the
 * call, then releases the request whether it succeeded or not. Requests of
 * one communicator must be started in the same order on every rank. */
nc_status nc_comm_all_reduce_start(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt,
                                   nc_reduce_op op, nc_comm_request **out);
nc_status nc_comm_test(nc_comm_request *r, bool *done);
nc_status nc_comm_wait(nc_comm_request *r);

/* ---- Bucketed gradient averaging for data-parallel training ----
 *
 * The gradients live in one flat float buffer (DESIGN.md). Like PyTorch's
 * DistributedDataParallel (torch/nn/parallel/distributed.py, reducer.cpp) the
 * buffer is cut into buckets of bucket_bytes (25 MiB by default,
 * bucket_cap_mb=25) and each bucket is averaged by its own all-reduce, so
 * communication can start while backward is still producing the gradients of
 * earlier layers. Buckets are launched from the END of the buffer towards the
 * start (backward produces the last layers' gradients first; DDP's buckets
 * run in reverse parameter order), always in that fixed order, so every rank
 * issues the same sequence of collectives whatever order it marks ranges in.
 *
 * Step protocol, asynchronous:
 *   nc_grad_sync_mark_ready(s, off, n) for each gradient range as backward
 *     finishes it: every bucket that becomes fully ready, and all buckets
 *     before it in launch order are ready too, starts its all-reduce;
 *   nc_grad_sync_wait(s): starts the buckets not started yet (ranges never
 *     marked, e.g. unused parameters, are averaged as they are), waits for all
 *     and resets the ready state for the next step.
 * or nc_grad_sync_start(s) + nc_grad_sync_wait(s) (everything at once), or
 * the blocking nc_grad_sync_all_reduce(s). */
typedef struct nc_grad_sync nc_grad_sync;

#define NC_GRAD_SYNC_DEFAULT_BUCKET_BYTES ((int64_t)25 * 1024 * 1024)

typedef struct nc_grad_sync_params {
    int64_t bucket_bytes; /* rounded down to whole floats; at least one float */
    bool average;         /* divide the sum by the world size (DDP); false keeps the sum */
} nc_grad_sync_params;

/* {.bucket_bytes = 25 MiB, .average = true}. */
nc_grad_sync_params nc_grad_sync_default_params(void);

/* grad (n floats) must outlive the sync object; comm too. */
nc_status nc_grad_sync_create(nc_comm *comm, float *grad, int64_t n, const nc_grad_sync_params *p,
                              nc_grad_sync **out);
void nc_grad_sync_free(nc_grad_sync *s);

int64_t nc_grad_sync_num_buckets(const nc_grad_sync *s);
/* Bucket b covers grad[*offset, *offset + *count). */
void nc_grad_sync_bucket_range(const nc_grad_sync *s, int64_t b, int64_t *offset, int64_t *count);
/* Buckets whose all-reduce has started in the current step. */
int64_t nc_grad_sync_num_started(const nc_grad_sync *s);

/* Blocking: averages every bucket; no step may be in progress. */
nc_status nc_grad_sync_all_reduce(nc_grad_sync *s);
/* Marks grad[offset, offset + count) as final for this step. A range marked
 * twice in one step is an error. Also polls the buckets in flight. */
nc_status nc_grad_sync_mark_ready(nc_grad_sync *s, int64_t offset, int64_t count);
/* Starts every bucket not started yet. */
nc_status nc_grad_sync_start(nc_grad_sync *s);
/* Starts what is left, waits for every bucket and ends the step. */
nc_status nc_grad_sync_wait(nc_grad_sync *s);

#ifdef __cplusplus
}
#endif
#endif
