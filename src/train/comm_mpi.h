/* Private to the MPI communicator (comm_mpi*.c): its state and the helpers
 * shared by its files. Nothing outside src/train/comm_mpi*.c includes mpi.h. */
#ifndef NC_COMM_MPI_H
#define NC_COMM_MPI_H

#include <mpi.h>

#include "train/comm_impl.h"

/* Shared by the world and every group split from it: MPI is finalized when
 * the last of them is freed, if nemoc initialised it and nothing got stuck. */
typedef struct nc_mpi_runtime {
    int refs;
    bool owns_mpi; /* nemoc called MPI_Init_thread */
    bool stuck;    /* a collective failed or timed out: never MPI_Finalize */
} nc_mpi_runtime;

typedef struct nc_mpi {
    MPI_Comm comm;  /* the communicator's own duplicate */
    MPI_Comm probe; /* another duplicate, only for the liveness probe after a timeout */
    nc_mpi_runtime *rt;
} nc_mpi;

static inline nc_mpi *nc_mpi_of(const nc_comm *c) { return (nc_mpi *)c->impl; }

/* MPI counts are int: longer buffers go in pieces of this many elements. */
#define NC_MPI_CHUNK ((int64_t)1 << 30)

MPI_Datatype nc_mpi_dtype(nc_comm_dtype dt);
MPI_Op nc_mpi_op(nc_reduce_op op);

/* NC_ERR_COMM "<what> failed on rank R of S: <MPI's error string>"; marks c
 * broken. */
nc_status nc_mpi_fail(nc_comm *c, int rc, const char *what);
/* Completes reqs[0, n). Without a timeout: MPI_Waitall. With one: polls
 * MPI_Testall with short sleeps until the deadline, then runs the liveness
 * probe and fails with "<what> timed out after N s (rank R of S)". `st` (n
 * statuses) may be MPI_STATUSES_IGNORE. */
nc_status nc_mpi_wait(nc_comm *c, MPI_Request *reqs, int n, MPI_Status *st, const char *what);
/* One MPI_Testall; *done when every request completed. */
nc_status nc_mpi_test(nc_comm *c, MPI_Request *reqs, int n, bool *done, const char *what);

/* Collectives and messages (comm_mpi_ops.c), as in nc_comm_vtbl. */
nc_status nc_mpi_all_reduce(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt,
                            nc_reduce_op op);
nc_status nc_mpi_reduce_scatter(nc_comm *c, const void *send, void *recv, int64_t count,
                                const int64_t *counts, nc_comm_dtype dt, nc_reduce_op op);
nc_status nc_mpi_all_gather(nc_comm *c, const void *send, void *recv, int64_t count,
                            const int64_t *counts, nc_comm_dtype dt);
nc_status nc_mpi_broadcast(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt, int root);
nc_status nc_mpi_barrier(nc_comm *c, const char *what);
nc_status nc_mpi_send(nc_comm *c, const void *buf, int64_t nbytes, int peer, int tag);
nc_status nc_mpi_recv(nc_comm *c, void *buf, int64_t nbytes, int peer, int tag);
nc_status nc_mpi_start(nc_comm *c, nc_comm_request *r);
nc_status nc_mpi_req_test(nc_comm *c, nc_comm_request *r, bool *done);
nc_status nc_mpi_req_wait(nc_comm *c, nc_comm_request *r);
void nc_mpi_req_release(nc_comm *c, nc_comm_request *r);

#endif
