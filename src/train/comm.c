/* nc_comm front end: picks the implementation, validates arguments, turns
 * AVG into SUM + division and keeps broken communicators from being used.
 * The implementations (comm_single.c, comm_mpi*.c) sit behind the vtable. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "train/comm_impl.h"

/* torch.distributed's default_pg_timeout (torch/distributed/constants.py). */
#define NC_COMM_DEFAULT_TIMEOUT_S 1800.0
/* MPI guarantees tags up to 32767 (MPI_TAG_UB is at least that). */
#define NC_COMM_MAX_TAG 32767

nc_comm_params nc_comm_default_params(void) {
    return (nc_comm_params){.kind = NC_COMM_AUTO, .timeout_s = NC_COMM_DEFAULT_TIMEOUT_S};
}

int nc_comm_launcher_size(void) {
    /* mpirun (ORTE) exports the world size to every rank it starts; other
     * PMIx/PMI launchers (srun, prterun) only the rank. */
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    if (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end == 0 && v > 0 && v < (1L << 30)) return (int)v;
    }
    if (getenv("PMIX_RANK") || getenv("PMI_RANK")) return 0;
    return -1;
}

nc_status nc_comm_alloc(const nc_comm_vtbl *vt, double timeout_s, nc_comm **out) {
    nc_comm *c = nc_calloc(1, sizeof *c);
    if (!c) return nc_error(NC_ERR_OOM, "comm: out of memory");
    c->vt = vt;
    c->size = 1;
    c->local_size = 1;
    c->timeout_s = timeout_s;
    *out = c;
    return NC_OK;
}

nc_status nc_comm_mark_broken(nc_comm *c) {
    if (!c->broken) {
        c->broken = true;
        snprintf(c->broken_msg, sizeof c->broken_msg, "%s", nc_last_error());
    }
    return NC_ERR_COMM;
}

const char *nc_comm_world_suffix(const nc_comm *c, char *buf, size_t len) {
    if (c->world_rank == c->rank) {
        buf[0] = 0;
    } else {
        snprintf(buf, len, " (world rank %d)", c->world_rank);
    }
    return buf;
}

nc_status nc_comm_create(const nc_comm_params *p, nc_comm **out) {
    if (!out) return nc_error(NC_ERR_INVALID_ARG, "nc_comm_create: out is NULL");
    *out = NULL;
    nc_comm_params d = nc_comm_default_params();
    if (!p) p = &d;
    nc_comm_kind kind = p->kind;
    if (kind == NC_COMM_AUTO) {
        /* Size 1 under mpirun stays single: no MPI_Init for a world of one. */
        int n = nc_comm_launcher_size();
        kind = (n > 1 || n == 0) ? NC_COMM_MPI : NC_COMM_SINGLE;
    }
    switch (kind) {
    case NC_COMM_SINGLE: return nc_comm_single_create(p->timeout_s, out);
    case NC_COMM_MPI: return nc_comm_mpi_create(p->timeout_s, out);
    case NC_COMM_AUTO: break;
    }
    return nc_error(NC_ERR_INVALID_ARG, "nc_comm_create: unknown kind %d", (int)p->kind);
}

nc_status nc_comm_create_world(nc_comm **out) { return nc_comm_create(NULL, out); }

void nc_comm_free(nc_comm *c) {
    if (!c) return;
    c->vt->destroy(c);
    nc_free(c);
}

const char *nc_comm_backend(const nc_comm *c) { return c->vt->name; }
int nc_comm_rank(const nc_comm *c) { return c->rank; }
int nc_comm_size(const nc_comm *c) { return c->size; }
int nc_comm_local_rank(const nc_comm *c) { return c->local_rank; }
int nc_comm_local_size(const nc_comm *c) { return c->local_size; }
double nc_comm_timeout(const nc_comm *c) { return c->timeout_s; }
void nc_comm_set_timeout(nc_comm *c, double timeout_s) { c->timeout_s = timeout_s; }

size_t nc_comm_dtype_size(nc_comm_dtype dt) {
    switch (dt) {
    case NC_COMM_F32: return 4;
    case NC_COMM_F64: return 8;
    case NC_COMM_I32: return 4;
    case NC_COMM_I64: return 8;
    case NC_COMM_U8: return 1;
    case NC_COMM_DTYPE_COUNT: break;
    }
    return 0;
}

const char *nc_comm_dtype_name(nc_comm_dtype dt) {
    switch (dt) {
    case NC_COMM_F32: return "float32";
    case NC_COMM_F64: return "float64";
    case NC_COMM_I32: return "int32";
    case NC_COMM_I64: return "int64";
    case NC_COMM_U8: return "uint8";
    case NC_COMM_DTYPE_COUNT: break;
    }
    return "?";
}

const char *nc_reduce_op_name(nc_reduce_op op) {
    switch (op) {
    case NC_COMM_SUM: return "sum";
    case NC_COMM_AVG: return "avg";
    case NC_COMM_MAX: return "max";
    case NC_COMM_MIN: return "min";
    case NC_COMM_OP_COUNT: break;
    }
    return "?";
}

/* ---- argument checks (bad input is an error, never an assert) ---- */

static nc_status check_comm(const nc_comm *c, const char *what) {
    if (!c) return nc_error(NC_ERR_INVALID_ARG, "%s: communicator is NULL", what);
    if (c->broken)
        return nc_error(NC_ERR_COMM, "%s on rank %d: communicator unusable after an earlier failure: %s",
                        what, c->rank, c->broken_msg);
    return NC_OK;
}

static nc_status check_buf(const char *what, const void *buf, int64_t count, nc_comm_dtype dt) {
    if ((unsigned)dt >= NC_COMM_DTYPE_COUNT)
        return nc_error(NC_ERR_INVALID_ARG, "%s: unknown dtype %d", what, (int)dt);
    if (count < 0) return nc_error(NC_ERR_INVALID_ARG, "%s: count %lld < 0", what, (long long)count);
    if (count > 0 && !buf) return nc_error(NC_ERR_INVALID_ARG, "%s: buffer is NULL", what);
    return NC_OK;
}

static nc_status check_op(const char *what, nc_reduce_op op, nc_comm_dtype dt) {
    if ((unsigned)op >= NC_COMM_OP_COUNT)
        return nc_error(NC_ERR_INVALID_ARG, "%s: unknown reduce op %d", what, (int)op);
    if (op == NC_COMM_AVG && dt != NC_COMM_F32 && dt != NC_COMM_F64)
        return nc_error(NC_ERR_INVALID_ARG, "%s: avg needs a floating dtype, got %s", what,
                        nc_comm_dtype_name(dt));
    return NC_OK;
}

static nc_status check_counts(const nc_comm *c, const char *what, const int64_t *counts,
                              int64_t *total) {
    if (!counts) return nc_error(NC_ERR_INVALID_ARG, "%s: counts is NULL", what);
    int64_t t = 0;
    for (int r = 0; r < c->size; r++) {
        if (counts[r] < 0)
            return nc_error(NC_ERR_INVALID_ARG, "%s: counts[%d] = %lld < 0", what, r,
                            (long long)counts[r]);
        if (counts[r] > INT64_MAX - t)
            return nc_error(NC_ERR_INVALID_ARG, "%s: counts add up past int64", what);
        t += counts[r];
    }
    *total = t;
    return NC_OK;
}

static nc_status check_rank(const nc_comm *c, const char *what, const char *role, int r) {
    if (r < 0 || r >= c->size)
        return nc_error(NC_ERR_INVALID_ARG, "%s: %s %d is not a rank of a group of %d", what, role,
                        r, c->size);
    return NC_OK;
}

/* The division of AVG (torch's ReduceOp.AVG on a SUM): one pass after the
 * sum is complete, so every rank divides identical sums. Deliberately not
 * OpenMP: it is memory-bound (about 2 ms for 10M floats) and mpirun binds
 * each rank to its own core(s), where waking a thread team between two MPI
 * calls measured 2x slower than one thread (docs/distributed.md). */
static void divide_by_size(void *buf, int64_t n, nc_comm_dtype dt, int size) {
    if (size == 1) return;
    if (dt == NC_COMM_F32) {
        float *x = buf;
        float d = (float)size;
        for (int64_t i = 0; i < n; i++) x[i] /= d;
    } else {
        double *x = buf;
        double d = (double)size;
        for (int64_t i = 0; i < n; i++) x[i] /= d;
    }
}

static nc_reduce_op impl_op(nc_reduce_op op) { return op == NC_COMM_AVG ? NC_COMM_SUM : op; }

/* ---- collectives ---- */

nc_status nc_comm_all_reduce(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt,
                             nc_reduce_op op) {
    const char *what = "all_reduce";
    nc_status s;
    if ((s = check_comm(c, what)) || (s = check_buf(what, buf, count, dt)) ||
        (s = check_op(what, op, dt)))
        return s;
    if ((s = c->vt->all_reduce(c, buf, count, dt, impl_op(op)))) return s;
    if (op == NC_COMM_AVG) divide_by_size(buf, count, dt, c->size);
    return NC_OK;
}

/* The element counts of a scatter/gather: `count` per rank, or `counts`
 * (one per rank) when given; sets this rank's count and the total. */
static nc_status rank_counts(const nc_comm *c, const char *what, int64_t *count,
                             const int64_t *counts, int64_t *total) {
    if (counts) {
        nc_status s = check_counts(c, what, counts, total);
        if (!s) *count = counts[c->rank];
        return s;
    }
    if (*count > INT64_MAX / c->size)
        return nc_error(NC_ERR_INVALID_ARG, "%s: count %lld too large", what, (long long)*count);
    *total = *count * c->size;
    return NC_OK;
}

static nc_status reduce_scatter(nc_comm *c, const char *what, const void *send, void *recv,
                                int64_t count, const int64_t *counts, nc_comm_dtype dt,
                                nc_reduce_op op) {
    nc_status s;
    if ((s = check_comm(c, what)) || (s = check_op(what, op, dt))) return s;
    int64_t total;
    if ((s = rank_counts(c, what, &count, counts, &total))) return s;
    if ((s = check_buf(what, send, total, dt)) || (s = check_buf(what, recv, count, dt))) return s;
    if ((s = c->vt->reduce_scatter(c, send, recv, count, counts, dt, impl_op(op)))) return s;
    if (op == NC_COMM_AVG) divide_by_size(recv, count, dt, c->size);
    return NC_OK;
}

nc_status nc_comm_reduce_scatter(nc_comm *c, const void *send, void *recv, int64_t count,
                                 nc_comm_dtype dt, nc_reduce_op op) {
    if (count < 0)
        return nc_error(NC_ERR_INVALID_ARG, "reduce_scatter: count %lld < 0", (long long)count);
    return reduce_scatter(c, "reduce_scatter", send, recv, count, NULL, dt, op);
}

nc_status nc_comm_reduce_scatter_v(nc_comm *c, const void *send, void *recv,
                                   const int64_t *counts, nc_comm_dtype dt, nc_reduce_op op) {
    const char *what = "reduce_scatter_v";
    if (!counts) return nc_error(NC_ERR_INVALID_ARG, "%s: counts is NULL", what);
    return reduce_scatter(c, what, send, recv, 0, counts, dt, op);
}

static nc_status all_gather(nc_comm *c, const char *what, const void *send, void *recv,
                            int64_t count, const int64_t *counts, nc_comm_dtype dt) {
    nc_status s;
    if ((s = check_comm(c, what))) return s;
    int64_t total;
    if ((s = rank_counts(c, what, &count, counts, &total))) return s;
    if ((s = check_buf(what, send, count, dt)) || (s = check_buf(what, recv, total, dt))) return s;
    return c->vt->all_gather(c, send, recv, count, counts, dt);
}

nc_status nc_comm_all_gather(nc_comm *c, const void *send, void *recv, int64_t count,
                             nc_comm_dtype dt) {
    if (count < 0)
        return nc_error(NC_ERR_INVALID_ARG, "all_gather: count %lld < 0", (long long)count);
    return all_gather(c, "all_gather", send, recv, count, NULL, dt);
}

nc_status nc_comm_all_gather_v(nc_comm *c, const void *send, void *recv, const int64_t *counts,
                               nc_comm_dtype dt) {
    if (!counts) return nc_error(NC_ERR_INVALID_ARG, "all_gather_v: counts is NULL");
    return all_gather(c, "all_gather_v", send, recv, 0, counts, dt);
}

nc_status nc_comm_broadcast(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt, int root) {
    const char *what = "broadcast";
    nc_status s;
    if ((s = check_comm(c, what)) || (s = check_buf(what, buf, count, dt)) ||
        (s = check_rank(c, what, "root", root)))
        return s;
    return c->vt->broadcast(c, buf, count, dt, root);
}

nc_status nc_comm_broadcast_bytes(nc_comm *c, void *buf, int64_t nbytes, int root) {
    return nc_comm_broadcast(c, buf, nbytes, NC_COMM_U8, root);
}

nc_status nc_comm_barrier(nc_comm *c) {
    nc_status s = check_comm(c, "barrier");
    return s ? s : c->vt->barrier(c);
}

static nc_status check_p2p(const nc_comm *c, const char *what, const void *buf, int64_t nbytes,
                           int peer, int tag) {
    nc_status s;
    if ((s = check_comm(c, what)) || (s = check_buf(what, buf, nbytes, NC_COMM_U8)) ||
        (s = check_rank(c, what, "peer", peer)))
        return s;
    if (peer == c->rank)
        return nc_error(NC_ERR_INVALID_ARG, "%s: peer %d is this rank; messages go between two ranks",
                        what, peer);
    if (tag < 0 || tag > NC_COMM_MAX_TAG)
        return nc_error(NC_ERR_INVALID_ARG, "%s: tag %d outside [0, %d]", what, tag,
                        NC_COMM_MAX_TAG);
    return NC_OK;
}

nc_status nc_comm_send(nc_comm *c, const void *buf, int64_t nbytes, int dst, int tag) {
    nc_status s = check_p2p(c, "send", buf, nbytes, dst, tag);
    return s ? s : c->vt->send(c, buf, nbytes, dst, tag);
}

nc_status nc_comm_recv(nc_comm *c, void *buf, int64_t nbytes, int src, int tag) {
    nc_status s = check_p2p(c, "recv", buf, nbytes, src, tag);
    return s ? s : c->vt->recv(c, buf, nbytes, src, tag);
}

nc_status nc_comm_split(nc_comm *c, int color, int key, nc_comm **out) {
    nc_status s;
    if (!out) return nc_error(NC_ERR_INVALID_ARG, "split: out is NULL");
    *out = NULL;
    if ((s = check_comm(c, "split"))) return s;
    return c->vt->split(c, color, key, out);
}

/* ---- asynchronous all-reduce ---- */

nc_status nc_comm_all_reduce_start(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt,
                                   nc_reduce_op op, nc_comm_request **out) {
    const char *what = "all_reduce_start";
    nc_status s;
    if (!out) return nc_error(NC_ERR_INVALID_ARG, "%s: out is NULL", what);
    *out = NULL;
    if ((s = check_comm(c, what)) || (s = check_buf(what, buf, count, dt)) ||
        (s = check_op(what, op, dt)))
        return s;
    nc_comm_request *r = nc_calloc(1, sizeof *r);
    if (!r) return nc_error(NC_ERR_OOM, "%s: out of memory", what);
    *r = (nc_comm_request){.comm = c, .buf = buf, .count = count, .dt = dt, .op = impl_op(op),
                           .average = op == NC_COMM_AVG};
    if ((s = c->vt->start(c, r))) {
        c->vt->release(c, r);
        nc_free(r);
        return s;
    }
    *out = r;
    return NC_OK;
}

static void finish(nc_comm_request *r) {
    if (r->average) divide_by_size(r->buf, r->count, r->dt, r->comm->size);
    r->done = true;
}

nc_status nc_comm_test(nc_comm_request *r, bool *done) {
    if (!r || !done) return nc_error(NC_ERR_INVALID_ARG, "comm_test: request or done is NULL");
    *done = r->done;
    if (r->done) return NC_OK;
    nc_comm *c = r->comm;
    nc_status s = check_comm(c, "comm_test");
    if (!s) s = c->vt->test(c, r, done);
    if (s) {
        *done = false;
        return s;
    }
    if (*done) finish(r);
    return NC_OK;
}

nc_status nc_comm_wait(nc_comm_request *r) {
    if (!r) return nc_error(NC_ERR_INVALID_ARG, "comm_wait: request is NULL");
    nc_comm *c = r->comm;
    nc_status s = NC_OK;
    if (!r->done) {
        s = check_comm(c, "comm_wait");
        if (!s) s = c->vt->wait(c, r);
        if (!s) finish(r);
    }
    c->vt->release(c, r);
    nc_free(r);
    return s;
}
