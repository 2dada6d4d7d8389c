/* The "mpi" communicator: MPI initialisation and finalization, wrapping an
 * MPI communicator (own duplicate, MPI_ERRORS_RETURN, node-local rank),
 * process groups and teardown. Collectives are in comm_mpi_ops.c, waiting,
 * errors and the watchdog in comm_mpi_wait.c. */
#include <stdio.h>

#include "nemoc/alloc.h"
#include "nemoc/log.h"
#include "train/comm_mpi.h"

static nc_status mpi_split(nc_comm *c, int color, int key, nc_comm **out);
static void mpi_destroy(nc_comm *c);

static nc_status vt_barrier(nc_comm *c) { return nc_mpi_barrier(c, "barrier"); }

static const nc_comm_vtbl mpi_vtbl = {
    .name = "mpi",
    .all_reduce = nc_mpi_all_reduce,
    .reduce_scatter = nc_mpi_reduce_scatter,
    .all_gather = nc_mpi_all_gather,
    .broadcast = nc_mpi_broadcast,
    .barrier = vt_barrier,
    .send = nc_mpi_send,
    .recv = nc_mpi_recv,
    .start = nc_mpi_start,
    .test = nc_mpi_req_test,
    .wait = nc_mpi_req_wait,
    .release = nc_mpi_req_release,
    .split = mpi_split,
    .destroy = mpi_destroy,
};

static nc_status setup_fail(int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return nc_error(NC_ERR_COMM, "creating an MPI communicator: %s failed: %s", what, msg);
}

/* Takes ownership of `comm` (already created, collectively, by every member)
 * and builds the nc_comm around it. Every member calls this. */
static nc_status mpi_wrap(MPI_Comm comm, nc_mpi_runtime *rt, double timeout_s, nc_comm **out) {
    nc_comm *c = NULL;
    nc_mpi *m = nc_calloc(1, sizeof *m);
    nc_status s = m ? nc_comm_alloc(&mpi_vtbl, timeout_s, &c)
                    : nc_error(NC_ERR_OOM, "comm: out of memory");
    if (s) {
        nc_free(m);
        MPI_Comm_free(&comm);
        return s;
    }
    *m = (nc_mpi){.comm = comm, .probe = MPI_COMM_NULL, .rt = rt};
    c->impl = m;
    MPI_Comm node = MPI_COMM_NULL;
    int rc;
    /* Errors come back as codes (turned into nc_status) instead of the
     * default MPI_ERRORS_ARE_FATAL, which aborts the whole job. */
    if ((rc = MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN))) {
        s = setup_fail(rc, "MPI_Comm_set_errhandler");
    } else if ((rc = MPI_Comm_rank(comm, &c->rank)) || (rc = MPI_Comm_size(comm, &c->size)) ||
               (rc = MPI_Comm_rank(MPI_COMM_WORLD, &c->world_rank))) {
        s = setup_fail(rc, "MPI_Comm_rank/size");
    } else if ((rc = MPI_Comm_dup(comm, &m->probe))) {
        s = setup_fail(rc, "MPI_Comm_dup");
    } else if ((rc = MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL,
                                         &node))) {
        s = setup_fail(rc, "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)");
    } else if ((rc = MPI_Comm_rank(node, &c->local_rank)) ||
               (rc = MPI_Comm_size(node, &c->local_size))) {
        s = setup_fail(rc, "MPI_Comm_rank/size of the node");
    }
    if (node != MPI_COMM_NULL) MPI_Comm_free(&node);
    if (m->probe != MPI_COMM_NULL) MPI_Comm_set_errhandler(m->probe, MPI_ERRORS_RETURN);
    rt->refs++;
    if (s) {
        mpi_destroy(c);
        nc_free(c);
        return s;
    }
    *out = c;
    return NC_OK;
}

nc_status nc_comm_mpi_create(double timeout_s, nc_comm **out) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized)
        return nc_error(NC_ERR_COMM, "creating an MPI communicator: MPI was already finalized in "
                                     "this process (create the world communicator once)");
    nc_mpi_runtime *rt = nc_calloc(1, sizeof *rt);
    if (!rt) return nc_error(NC_ERR_OOM, "comm: out of memory");
    if (!inited) {
        /* SERIALIZED: the trainer calls collectives from one thread at a time,
         * not necessarily the main one. */
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
        if (rc != MPI_SUCCESS) {
            nc_free(rt);
            return setup_fail(rc, "MPI_Init_thread");
        }
        rt->owns_mpi = true;
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        if (provided < MPI_THREAD_SERIALIZED)
            NC_WARN("MPI provides thread level %d < MPI_THREAD_SERIALIZED: call collectives "
                    "from the main thread only", provided);
    }
    /* This function holds the runtime until the world communicator does, so
     * a failure anywhere below finalizes MPI exactly once. */
    rt->refs = 1;
    MPI_Comm world = MPI_COMM_NULL;
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &world);
    nc_status s = rc ? setup_fail(rc, "MPI_Comm_dup(MPI_COMM_WORLD)")
                     : mpi_wrap(world, rt, timeout_s, out);
    if (--rt->refs == 0) {
        if (rt->owns_mpi) MPI_Finalize();
        nc_free(rt);
    }
    return s;
}

static nc_status mpi_split(nc_comm *c, int color, int key, nc_comm **out) {
    nc_mpi *m = nc_mpi_of(c);
    char what[64];
    snprintf(what, sizeof what, "split(color %d, key %d)", color, key);
    /* MPI_Comm_split has no nonblocking form; a watched barrier first means
     * a missing rank trips the watchdog instead of hanging the split. */
    nc_status s;
    if (c->timeout_s > 0 && (s = nc_mpi_barrier(c, what))) return s;
    MPI_Comm sub = MPI_COMM_NULL;
    int rc = MPI_Comm_split(m->comm, color < 0 ? MPI_UNDEFINED : color, key, &sub);
    if (rc != MPI_SUCCESS) return nc_mpi_fail(c, rc, what);
    if (sub == MPI_COMM_NULL) return NC_OK;
    return mpi_wrap(sub, m->rt, c->timeout_s, out);
}

static void mpi_destroy(nc_comm *c) {
    nc_mpi *m = nc_mpi_of(c);
    if (!m) return;
    nc_mpi_runtime *rt = m->rt;
    if (c->broken) {
        /* Requests of this communicator may still be pending on ranks that
         * never arrive: leave its MPI objects alone and skip MPI_Finalize,
         * which would wait for those ranks. */
        rt->stuck = true;
    } else {
        if (m->comm != MPI_COMM_NULL) MPI_Comm_free(&m->comm);
        if (m->probe != MPI_COMM_NULL) MPI_Comm_free(&m->probe);
    }
    nc_free(m);
    c->impl = NULL;
    if (--rt->refs == 0) {
        if (rt->owns_mpi && !rt->stuck) MPI_Finalize();
        nc_free(rt);
    }
}
