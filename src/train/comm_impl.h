/* Inside of nc_comm: the vtable an implementation fills and the fields the
 * front end (comm.c) keeps. The front end validates every argument, turns AVG
 * into SUM plus a division, and refuses calls on a broken communicator, so an
 * implementation sees only well-formed SUM/MAX/MIN requests. */
#ifndef NC_COMM_IMPL_H
#define NC_COMM_IMPL_H

#include "nemoc/comm.h"

typedef struct nc_comm_vtbl {
    const char *name;
    nc_status (*all_reduce)(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt,
                            nc_reduce_op op);
    /* counts == NULL: equal chunks of `count`; else counts[size]. */
    nc_status (*reduce_scatter)(nc_comm *c, const void *send, void *recv, int64_t count,
                                const int64_t *counts, nc_comm_dtype dt, nc_reduce_op op);
    nc_status (*all_gather)(nc_comm *c, const void *send, void *recv, int64_t count,
                            const int64_t *counts, nc_comm_dtype dt);
    nc_status (*broadcast)(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt, int root);
    nc_status (*barrier)(nc_comm *c);
    /* NULL where the world has one rank: the front end refuses self-messages. */
    nc_status (*send)(nc_comm *c, const void *buf, int64_t nbytes, int peer, int tag);
    nc_status (*recv)(nc_comm *c, void *buf, int64_t nbytes, int peer, int tag);
    /* Starts r (fields below filled by the front end). */
    nc_status (*start)(nc_comm *c, nc_comm_request *r);
    nc_status (*test)(nc_comm *c, nc_comm_request *r, bool *done);
    nc_status (*wait)(nc_comm *c, nc_comm_request *r);
    /* Releases r's implementation state; r may still be in flight (abandoned
     * after a failure), in which case its MPI requests are left to MPI. */
    void (*release)(nc_comm *c, nc_comm_request *r);
    nc_status (*split)(nc_comm *c, int color, int key, nc_comm **out);
    void (*destroy)(nc_comm *c);
} nc_comm_vtbl;

#define NC_COMM_BROKEN_MSG 512

struct nc_comm {
    const nc_comm_vtbl *vt;
    void *impl;
    int rank, size;
    int local_rank, local_size;
    int world_rank; /* rank in the world, for messages of split groups */
    double timeout_s;
    bool broken;                          /* a collective failed or timed out */
    char broken_msg[NC_COMM_BROKEN_MSG];  /* the first failure */
};

struct nc_comm_request {
    nc_comm *comm;
    void *buf;
    int64_t count;
    nc_comm_dtype dt;
    nc_reduce_op op; /* as passed to the implementation: SUM, MAX or MIN */
    bool average;    /* divide by size when the sum is complete */
    bool done;       /* completed and post-processed */
    void *impl;      /* implementation state (MPI requests) */
};

/* Allocates a communicator with the common fields zeroed and timeout set. */
nc_status nc_comm_alloc(const nc_comm_vtbl *vt, double timeout_s, nc_comm **out);
/* Records the current nc_last_error() as the reason c is unusable and
 * returns NC_ERR_COMM. */
nc_status nc_comm_mark_broken(nc_comm *c);
/* " (world rank W)" when it differs from c's rank, else "". */
const char *nc_comm_world_suffix(const nc_comm *c, char *buf, size_t len);

nc_status nc_comm_single_create(double timeout_s, nc_comm **out);
nc_status nc_comm_mpi_create(double timeout_s, nc_comm **out);

#endif
