/* The "single" communicator: a world of one process, no MPI. Reductions over
 * one rank are the identity, gathers and scatters are copies, broadcast and
 * barrier have nothing to do. Lets the trainer call the same collectives
 * whether or not it runs data-parallel. */
#include <string.h>

#include "train/comm_impl.h"

static nc_status single_all_reduce(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt,
                                   nc_reduce_op op) {
    (void)c, (void)buf, (void)count, (void)dt, (void)op;
    return NC_OK;
}

/* memmove: send and recv may be the same buffer (the in-place forms). */
static nc_status single_reduce_scatter(nc_comm *c, const void *send, void *recv, int64_t count,
                                       const int64_t *counts, nc_comm_dtype dt, nc_reduce_op op) {
    (void)c, (void)counts, (void)op;
    if (count > 0 && send != recv) memmove(recv, send, (size_t)count * nc_comm_dtype_size(dt));
    return NC_OK;
}

static nc_status single_all_gather(nc_comm *c, const void *send, void *recv, int64_t count,
                                   const int64_t *counts, nc_comm_dtype dt) {
    (void)c, (void)counts;
    if (count > 0 && send != recv) memmove(recv, send, (size_t)count * nc_comm_dtype_size(dt));
    return NC_OK;
}

static nc_status single_broadcast(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt,
                                  int root) {
    (void)c, (void)buf, (void)count, (void)dt, (void)root;
    return NC_OK;
}

static nc_status single_barrier(nc_comm *c) {
    (void)c;
    return NC_OK;
}

/* The sum over one rank is complete as soon as it starts. */
static nc_status single_start(nc_comm *c, nc_comm_request *r) {
    (void)c, (void)r;
    return NC_OK;
}

static nc_status single_test(nc_comm *c, nc_comm_request *r, bool *done) {
    (void)c, (void)r;
    *done = true;
    return NC_OK;
}

static nc_status single_wait(nc_comm *c, nc_comm_request *r) {
    (void)c, (void)r;
    return NC_OK;
}

static void single_release(nc_comm *c, nc_comm_request *r) { (void)c, (void)r; }

static nc_status single_split(nc_comm *c, int color, int key, nc_comm **out) {
    (void)key;
    if (color < 0) return NC_OK;
    return nc_comm_single_create(c->timeout_s, out);
}

static void single_destroy(nc_comm *c) { (void)c; }

static const nc_comm_vtbl single_vtbl = {
    .name = "single",
    .all_reduce = single_all_reduce,
    .reduce_scatter = single_reduce_scatter,
    .all_gather = single_all_gather,
    .broadcast = single_broadcast,
    .barrier = single_barrier,
    .send = NULL, /* a world of one has no peer; the front end refuses */
    .recv = NULL,
    .start = single_start,
    .test = single_test,
    .wait = single_wait,
    .release = single_release,
    .split = single_split,
    .destroy = single_destroy,
};

nc_status nc_comm_single_create(double timeout_s, nc_comm **out) {
    return nc_comm_alloc(&single_vtbl, timeout_s, out);
}
