/* Collectives and messages of the "mpi" communicator. Without a timeout each
 * is MPI's blocking call; with one it is the nonblocking form (MPI_I*) waited
 * on by the watchdog in comm_mpi_wait.c. Buffers longer than MPI's int count
 * go in pieces of NC_MPI_CHUNK elements (broadcast, messages; all-reduce
 * always goes in pieces when nonblocking); gathers and scatters, whose
 * layout is one block per rank, refuse them. */
#include <limits.h>
#include <stdio.h>

#include "nemoc/alloc.h"
#include "train/comm_mpi.h"

MPI_Datatype nc_mpi_dtype(nc_comm_dtype dt) {
    switch (dt) {
    case NC_COMM_F32: return MPI_FLOAT;
    case NC_COMM_F64: return MPI_DOUBLE;
    case NC_COMM_I32: return MPI_INT32_T;
    case NC_COMM_I64: return MPI_INT64_T;
    case NC_COMM_U8: return MPI_UINT8_T;
    case NC_COMM_DTYPE_COUNT: break;
    }
    return MPI_DATATYPE_NULL;
}

MPI_Op nc_mpi_op(nc_reduce_op op) {
    switch (op) {
    case NC_COMM_SUM: return MPI_SUM;
    case NC_COMM_MAX: return MPI_MAX;
    case NC_COMM_MIN: return MPI_MIN;
    case NC_COMM_AVG: /* the front end turns AVG into SUM */
    case NC_COMM_OP_COUNT: break;
    }
    return MPI_OP_NULL;
}

static bool watched(const nc_comm *c) { return c->timeout_s > 0; }

/* After a blocking call (rq == NULL) or the start of a nonblocking one. */
static nc_status complete(nc_comm *c, int rc, MPI_Request *rq, MPI_Status *st, const char *what) {
    if (rc != MPI_SUCCESS) return nc_mpi_fail(c, rc, what);
    return rq ? nc_mpi_wait(c, rq, 1, st, what) : NC_OK;
}

static int piece(int64_t count, int64_t off) {
    int64_t n = count - off;
    return (int)(n < NC_MPI_CHUNK ? n : NC_MPI_CHUNK);
}

nc_status nc_mpi_all_reduce(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt,
                            nc_reduce_op op) {
    if (watched(c)) {
        /* The nonblocking form, in concurrent pieces (see nc_mpi_start). */
        nc_comm_request r = {.comm = c, .buf = buf, .count = count, .dt = dt, .op = op};
        nc_status s = nc_mpi_start(c, &r);
        if (!s) s = nc_mpi_req_wait(c, &r);
        nc_mpi_req_release(c, &r);
        return s;
    }
    char what[96];
    snprintf(what, sizeof what, "all_reduce(%s x %lld, %s)", nc_comm_dtype_name(dt),
             (long long)count, nc_reduce_op_name(op));
    MPI_Comm comm = nc_mpi_of(c)->comm;
    size_t es = nc_comm_dtype_size(dt);
    for (int64_t off = 0; off < count; off += NC_MPI_CHUNK) {
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + (size_t)off * es, piece(count, off),
                               nc_mpi_dtype(dt), nc_mpi_op(op), comm);
        if (rc != MPI_SUCCESS) return nc_mpi_fail(c, rc, what);
    }
    return NC_OK;
}

/* int copies of per-rank counts and their offsets, refusing what MPI's int
 * counts and displacements cannot hold. */
static nc_status int_counts(const nc_comm *c, const char *what, const int64_t *counts,
                            int **icounts, int **idispls) {
    int *ic = nc_malloc((size_t)c->size * sizeof *ic);
    int *id = nc_malloc((size_t)c->size * sizeof *id);
    if (!ic || !id) {
        nc_free(ic);
        nc_free(id);
        return nc_error(NC_ERR_OOM, "%s: out of memory", what);
    }
    int64_t off = 0;
    for (int r = 0; r < c->size; r++) {
        if (counts[r] > INT_MAX || off > INT_MAX) {
            nc_free(ic);
            nc_free(id);
            return nc_error(NC_ERR_UNSUPPORTED,
                            "%s: %lld elements for rank %d at offset %lld exceed MPI's int counts",
                            what, (long long)counts[r], r, (long long)off);
        }
        ic[r] = (int)counts[r];
        id[r] = (int)off;
        off += counts[r];
    }
    *icounts = ic;
    *idispls = id;
    return NC_OK;
}

nc_status nc_mpi_reduce_scatter(nc_comm *c, const void *send, void *recv, int64_t count,
                                const int64_t *counts, nc_comm_dtype dt, nc_reduce_op op) {
    char what[96];
    snprintf(what, sizeof what, "%s(%s x %lld, %s)", counts ? "reduce_scatter_v" : "reduce_scatter",
             nc_comm_dtype_name(dt), (long long)count, nc_reduce_op_name(op));
    MPI_Comm comm = nc_mpi_of(c)->comm;
    MPI_Datatype mt = nc_mpi_dtype(dt);
    MPI_Op mo = nc_mpi_op(op);
    /* In place (send == recv): MPI reads the input from recv and leaves this
     * rank's block at its start. */
    const void *sb = send == recv ? MPI_IN_PLACE : send;
    MPI_Request rq;
    bool w = watched(c);
    int rc;
    if (!counts) {
        if (count > INT_MAX)
            return nc_error(NC_ERR_UNSUPPORTED, "%s: %lld elements per rank exceed MPI's int counts",
                            what, (long long)count);
        rc = w ? MPI_Ireduce_scatter_block(sb, recv, (int)count, mt, mo, comm, &rq)
               : MPI_Reduce_scatter_block(sb, recv, (int)count, mt, mo, comm);
        return complete(c, rc, w ? &rq : NULL, MPI_STATUS_IGNORE, what);
    }
    int *ic, *id;
    nc_status s = int_counts(c, what, counts, &ic, &id);
    if (s) return s;
    rc = w ? MPI_Ireduce_scatter(sb, recv, ic, mt, mo, comm, &rq)
           : MPI_Reduce_scatter(sb, recv, ic, mt, mo, comm);
    s = complete(c, rc, w ? &rq : NULL, MPI_STATUS_IGNORE, what);
    /* After a timeout the request may still read ic: leave it to the
     * process's end rather than free it under MPI. */
    if (!c->broken) nc_free(ic);
    nc_free(id);
    return s;
}

nc_status nc_mpi_all_gather(nc_comm *c, const void *send, void *recv, int64_t count,
                            const int64_t *counts, nc_comm_dtype dt) {
    char what[96];
    snprintf(what, sizeof what, "%s(%s x %lld)", counts ? "all_gather_v" : "all_gather",
             nc_comm_dtype_name(dt), (long long)count);
    MPI_Comm comm = nc_mpi_of(c)->comm;
    MPI_Datatype mt = nc_mpi_dtype(dt);
    size_t es = nc_comm_dtype_size(dt);
    MPI_Request rq;
    bool w = watched(c);
    int rc;
    if (!counts) {
        if (count > INT_MAX)
            return nc_error(NC_ERR_UNSUPPORTED, "%s: %lld elements per rank exceed MPI's int counts",
                            what, (long long)count);
        /* In place when this rank's data already sits in its slot of recv. */
        bool inplace = count > 0 && send == (const char *)recv + (size_t)c->rank * count * es;
        const void *sb = inplace ? MPI_IN_PLACE : send;
        rc = w ? MPI_Iallgather(sb, (int)count, mt, recv, (int)count, mt, comm, &rq)
               : MPI_Allgather(sb, (int)count, mt, recv, (int)count, mt, comm);
        return complete(c, rc, w ? &rq : NULL, MPI_STATUS_IGNORE, what);
    }
    int *ic, *id;
    nc_status s = int_counts(c, what, counts, &ic, &id);
    if (s) return s;
    bool inplace = count > 0 && send == (const char *)recv + (size_t)id[c->rank] * es;
    const void *sb = inplace ? MPI_IN_PLACE : send;
    rc = w ? MPI_Iallgatherv(sb, (int)count, mt, recv, ic, id, mt, comm, &rq)
           : MPI_Allgatherv(sb, (int)count, mt, recv, ic, id, mt, comm);
    s = complete(c, rc, w ? &rq : NULL, MPI_STATUS_IGNORE, what);
    if (!c->broken) {
        nc_free(ic);
        nc_free(id);
    }
    return s;
}

nc_status nc_mpi_broadcast(nc_comm *c, void *buf, int64_t count, nc_comm_dtype dt, int root) {
    char what[96];
    snprintf(what, sizeof what, "broadcast(%s x %lld, root %d)", nc_comm_dtype_name(dt),
             (long long)count, root);
    MPI_Comm comm = nc_mpi_of(c)->comm;
    size_t es = nc_comm_dtype_size(dt);
    for (int64_t off = 0; off < count; off += NC_MPI_CHUNK) {
        char *p = (char *)buf + (size_t)off * es;
        int n = piece(count, off);
        MPI_Request rq;
        int rc = watched(c) ? MPI_Ibcast(p, n, nc_mpi_dtype(dt), root, comm, &rq)
                            : MPI_Bcast(p, n, nc_mpi_dtype(dt), root, comm);
        nc_status s = complete(c, rc, watched(c) ? &rq : NULL, MPI_STATUS_IGNORE, what);
        if (s) return s;
    }
    return NC_OK;
}

nc_status nc_mpi_barrier(nc_comm *c, const char *what) {
    MPI_Comm comm = nc_mpi_of(c)->comm;
    MPI_Request rq;
    int rc = watched(c) ? MPI_Ibarrier(comm, &rq) : MPI_Barrier(comm);
    return complete(c, rc, watched(c) ? &rq : NULL, MPI_STATUS_IGNORE, what);
}

nc_status nc_mpi_send(nc_comm *c, const void *buf, int64_t nbytes, int peer, int tag) {
    char what[96];
    snprintf(what, sizeof what, "send(%lld bytes to rank %d, tag %d)", (long long)nbytes, peer, tag);
    MPI_Comm comm = nc_mpi_of(c)->comm;
    int64_t off = 0;
    do { /* a zero-byte message is still a message */
        int n = piece(nbytes, off);
        MPI_Request rq;
        const char *p = (const char *)buf + off;
        int rc = watched(c) ? MPI_Isend(p, n, MPI_BYTE, peer, tag, comm, &rq)
                            : MPI_Send(p, n, MPI_BYTE, peer, tag, comm);
        nc_status s = complete(c, rc, watched(c) ? &rq : NULL, MPI_STATUS_IGNORE, what);
        if (s) return s;
        off += n;
    } while (off < nbytes);
    return NC_OK;
}

nc_status nc_mpi_recv(nc_comm *c, void *buf, int64_t nbytes, int peer, int tag) {
    char what[96];
    snprintf(what, sizeof what, "recv(%lld bytes from rank %d, tag %d)", (long long)nbytes, peer,
             tag);
    MPI_Comm comm = nc_mpi_of(c)->comm;
    int64_t off = 0;
    do {
        int n = piece(nbytes, off);
        MPI_Request rq;
        MPI_Status st;
        char *p = (char *)buf + off;
        int rc = watched(c) ? MPI_Irecv(p, n, MPI_BYTE, peer, tag, comm, &rq)
                            : MPI_Recv(p, n, MPI_BYTE, peer, tag, comm, &st);
        nc_status s = complete(c, rc, watched(c) ? &rq : NULL, &st, what);
        if (s) return s;
        /* A longer message is MPI_ERR_TRUNCATE above; a shorter one is ours. */
        int got = 0;
        MPI_Get_count(&st, MPI_BYTE, &got);
        if (got != n) {
            char ws[48];
            nc_error(NC_ERR_COMM, "%s on rank %d of %d%s: the message holds %lld bytes, expected %d",
                     what, c->rank, c->size, nc_comm_world_suffix(c, ws, sizeof ws),
                     (long long)(off + got), (int)(off + n));
            return NC_ERR_COMM; /* the message was consumed: c stays usable */
        }
        off += n;
    } while (off < nbytes);
    return NC_OK;
}

/* ---- asynchronous all-reduce: concurrent pieces ----
 *
 * OpenMPI's nonblocking collectives (libnbc) run one big MPI_Iallreduce as a
 * few whole-buffer rounds with nothing overlapped; several smaller ones in
 * flight at once pipeline the transfer of one piece with the reduction of
 * another. Measured on 10M floats with 2 ranks: one request 40-80 ms, pieces
 * of 2.5-10 MB 12-20 ms, the blocking MPI_Allreduce 17 ms. */
#define NC_MPI_PIECE_BYTES ((int64_t)4 << 20)

typedef struct mpi_req {
    int n;
    MPI_Request rq[];
} mpi_req;

static int64_t piece_elems(nc_comm_dtype dt) {
    return NC_MPI_PIECE_BYTES / (int64_t)nc_comm_dtype_size(dt);
}

static void req_what(const nc_comm_request *r, char *what, size_t len) {
    snprintf(what, len, "all_reduce(%s x %lld, %s)", nc_comm_dtype_name(r->dt),
             (long long)r->count, r->average ? "avg" : nc_reduce_op_name(r->op));
}

nc_status nc_mpi_start(nc_comm *c, nc_comm_request *r) {
    int64_t step = piece_elems(r->dt);
    int64_t pieces = (r->count + step - 1) / step;
    if (pieces > INT_MAX)
        return nc_error(NC_ERR_UNSUPPORTED, "all_reduce: %lld elements is too many pieces",
                        (long long)r->count);
    mpi_req *q = nc_malloc(sizeof *q + (size_t)pieces * sizeof(MPI_Request));
    if (!q) return nc_error(NC_ERR_OOM, "all_reduce: out of memory");
    q->n = 0;
    r->impl = q;
    MPI_Comm comm = nc_mpi_of(c)->comm;
    size_t es = nc_comm_dtype_size(r->dt);
    for (int64_t off = 0; off < r->count; off += step) {
        int64_t n = r->count - off < step ? r->count - off : step;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, (char *)r->buf + (size_t)off * es, (int)n,
                                nc_mpi_dtype(r->dt), nc_mpi_op(r->op), comm, &q->rq[q->n]);
        if (rc != MPI_SUCCESS) {
            char what[96];
            req_what(r, what, sizeof what);
            return nc_mpi_fail(c, rc, what);
        }
        q->n++;
    }
    return NC_OK;
}

nc_status nc_mpi_req_test(nc_comm *c, nc_comm_request *r, bool *done) {
    mpi_req *q = r->impl;
    char what[96];
    req_what(r, what, sizeof what);
    return nc_mpi_test(c, q->rq, q->n, done, what);
}

nc_status nc_mpi_req_wait(nc_comm *c, nc_comm_request *r) {
    mpi_req *q = r->impl;
    char what[96];
    req_what(r, what, sizeof what);
    return nc_mpi_wait(c, q->rq, q->n, MPI_STATUSES_IGNORE, what);
}

void nc_mpi_req_release(nc_comm *c, nc_comm_request *r) {
    (void)c;
    /* The MPI_Request values are handles: freeing our copy of them is safe
     * even when MPI still runs the operation (abandoned after a failure). */
    nc_free(r->impl);
    r->impl = NULL;
}
