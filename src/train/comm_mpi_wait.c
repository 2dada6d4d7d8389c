/* Waiting, errors and the watchdog of the "mpi" communicator.
 *
 * OpenMPI 4.1 (without ULFM) never reports a dead peer to the survivors: a
 * collective waiting for it just waits. mpirun itself ends the job when a
 * rank exits without MPI_Finalize (measured here: SIGTERM to the others
 * about 1 s later, SIGKILL 1 s after that; docs/distributed.md), but a rank
 * that is alive and stuck (a deadlock, a different sequence of collectives,
 * a hung file system), or a launcher told not to abort, hangs everyone
 * forever. So, like the NCCL watchdog behind torch.distributed's `timeout`,
 * a communicator with a timeout runs each operation nonblocking and polls it
 * with MPI_Testall until a deadline. At the deadline it asks every peer for
 * a sign of life on a separate duplicate communicator, so the message can
 * say which ranks are gone, and declares the communicator broken. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nemoc/alloc.h"
#include "train/comm_mpi.h"

#define PROBE_TAG 1
/* First and longest sleep between polls. libnbc (OpenMPI's nonblocking
 * collectives) only progresses inside MPI calls, so the ceiling stays low:
 * measured on a 10M-float all-reduce, 10-200 us sleeps cost nothing against
 * MPI_Allreduce and give the CPU to the other ranks when oversubscribed. */
#define NAP_MIN_NS 10000L
#define NAP_MAX_NS 200000L

static void nap(long ns) {
    struct timespec t = {.tv_sec = 0, .tv_nsec = ns};
    nanosleep(&t, NULL);
}

static void where(const nc_comm *c, char *buf, size_t len) {
    char ws[48];
    snprintf(buf, len, "rank %d of %d%s", c->rank, c->size, nc_comm_world_suffix(c, ws, sizeof ws));
}

nc_status nc_mpi_fail(nc_comm *c, int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "MPI error %d", rc);
    char at[96];
    where(c, at, sizeof at);
    nc_error(NC_ERR_COMM, "%s failed on %s: %s", what, at, msg);
    /* A receive into a too-short buffer consumed the whole message: the
     * communicator is still in step, so only that call fails. Anything else
     * may leave ranks at different points of a collective. */
    int cls = MPI_ERR_OTHER;
    MPI_Error_class(rc, &cls);
    return cls == MPI_ERR_TRUNCATE ? NC_ERR_COMM : nc_comm_mark_broken(c);
}

/* MPI_ERR_IN_STATUS hides the real code in the statuses. */
static nc_status fail_from(nc_comm *c, int rc, const MPI_Status *st, int n, const char *what) {
    if (rc == MPI_ERR_IN_STATUS && st != MPI_STATUSES_IGNORE) {
        for (int i = 0; i < n; i++)
            if (st[i].MPI_ERROR != MPI_SUCCESS && st[i].MPI_ERROR != MPI_ERR_PENDING)
                return nc_mpi_fail(c, st[i].MPI_ERROR, what);
    }
    return nc_mpi_fail(c, rc, what);
}

/* Rank r of c in MPI_COMM_WORLD (for messages about split groups). */
static int world_rank_of(MPI_Comm comm, int r) {
    MPI_Group g, wg;
    int w = r;
    if (MPI_Comm_group(comm, &g) != MPI_SUCCESS) return r;
    if (MPI_Comm_group(MPI_COMM_WORLD, &wg) == MPI_SUCCESS) {
        MPI_Group_translate_ranks(g, 1, &r, wg, &w);
        MPI_Group_free(&wg);
    }
    MPI_Group_free(&g);
    return w;
}

/* Every rank that timed out sends a ping to every other and waits up to
 * `window` seconds for theirs. Survivors of the same stuck collective time
 * out at about the same moment and answer each other; a dead or stuck rank
 * does not. Writes the verdict into out. */
static void probe_peers(nc_comm *c, double window, char *out, size_t len) {
    static const int ping = 1; /* never written: safe for sends left behind */
    nc_mpi *m = nc_mpi_of(c);
    int n = c->size;
    MPI_Request *rq = nc_malloc((size_t)2 * n * sizeof *rq);
    int *in = nc_malloc((size_t)n * sizeof *in);
    bool *heard = nc_calloc((size_t)n, sizeof *heard);
    if (!rq || !in || !heard) {
        snprintf(out, len, "liveness probe skipped (out of memory)");
        nc_free(rq), nc_free(in), nc_free(heard);
        return;
    }
    for (int p = 0; p < n; p++) {
        rq[p] = rq[n + p] = MPI_REQUEST_NULL;
        heard[p] = p == c->rank;
        if (p == c->rank) continue;
        if (MPI_Irecv(&in[p], 1, MPI_INT, p, PROBE_TAG, m->probe, &rq[p]) != MPI_SUCCESS)
            rq[p] = MPI_REQUEST_NULL;
        if (MPI_Isend(&ping, 1, MPI_INT, p, PROBE_TAG, m->probe, &rq[n + p]) != MPI_SUCCESS)
            rq[n + p] = MPI_REQUEST_NULL;
    }
    double deadline = MPI_Wtime() + window;
    for (;;) {
        int missing = 0;
        for (int p = 0; p < n; p++) {
            if (heard[p] || rq[p] == MPI_REQUEST_NULL) continue;
            int flag = 0;
            if (MPI_Test(&rq[p], &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && flag) heard[p] = true;
            else missing++;
        }
        /* Keep the sends moving too (they may need progress to leave). */
        for (int p = 0; p < n; p++) {
            int flag = 0;
            if (rq[n + p] != MPI_REQUEST_NULL) MPI_Test(&rq[n + p], &flag, MPI_STATUS_IGNORE);
        }
        if (missing == 0 || MPI_Wtime() >= deadline) break;
        nap(1000000L);
    }
    size_t used = 0;
    int n_missing = 0;
    for (int p = 0; p < n; p++) {
        if (heard[p]) continue;
        int w = world_rank_of(m->comm, p);
        char one[48];
        if (w != p) snprintf(one, sizeof one, "%d (world rank %d)", p, w);
        else snprintf(one, sizeof one, "%d", p);
        if (used == 0) {
            used += (size_t)snprintf(out, len, "no answer within %g s from rank ", window);
        }
        if (used < len) used += (size_t)snprintf(out + used, len - used, "%s%s", n_missing ? ", " : "", one);
        n_missing++;
    }
    if (n_missing && used < len)
        snprintf(out + used, len - used, " (dead, or stuck outside this collective)");
    if (!n_missing)
        snprintf(out, len, "every rank answered a liveness probe, so all are alive: they are "
                           "probably not calling the same collectives in the same order");
    for (int p = 0; p < n; p++) {
        if (rq[p] != MPI_REQUEST_NULL) { /* an unanswered receive: withdraw it */
            MPI_Cancel(&rq[p]);
            MPI_Wait(&rq[p], MPI_STATUS_IGNORE);
        }
        if (rq[n + p] != MPI_REQUEST_NULL) MPI_Request_free(&rq[n + p]);
    }
    nc_free(rq), nc_free(in), nc_free(heard);
}

static nc_status timed_out(nc_comm *c, const char *what) {
    /* The probe waits as long as the operation did, within [1, 10] s: enough
     * for the other survivors to reach their own deadline. */
    double window = c->timeout_s < 1 ? 1 : c->timeout_s > 10 ? 10 : c->timeout_s;
    char verdict[384], at[96];
    probe_peers(c, window, verdict, sizeof verdict);
    where(c, at, sizeof at);
    nc_error(NC_ERR_COMM, "%s timed out after %g s (%s); %s; the communicator is unusable: "
                          "exit with a non-zero status so that mpirun stops the other ranks",
             what, c->timeout_s, at, verdict);
    return nc_comm_mark_broken(c);
}

nc_status nc_mpi_test(nc_comm *c, MPI_Request *reqs, int n, bool *done, const char *what) {
    MPI_Status stk[4];
    MPI_Status *st = n <= 4 ? stk : MPI_STATUSES_IGNORE;
    int flag = 0;
    int rc = MPI_Testall(n, reqs, &flag, st);
    *done = flag != 0;
    return rc == MPI_SUCCESS ? NC_OK : fail_from(c, rc, st, n, what);
}

nc_status nc_mpi_wait(nc_comm *c, MPI_Request *reqs, int n, MPI_Status *st, const char *what) {
    MPI_Status stk[4];
    if (st == MPI_STATUSES_IGNORE && n <= 4) st = stk;
    int rc;
    if (c->timeout_s <= 0) {
        rc = MPI_Waitall(n, reqs, st);
        return rc == MPI_SUCCESS ? NC_OK : fail_from(c, rc, st, n, what);
    }
    double deadline = MPI_Wtime() + c->timeout_s;
    long ns = NAP_MIN_NS;
    for (;;) {
        int flag = 0;
        rc = MPI_Testall(n, reqs, &flag, st);
        if (rc != MPI_SUCCESS) return fail_from(c, rc, st, n, what);
        if (flag) return NC_OK;
        if (MPI_Wtime() >= deadline) return timed_out(c, what);
        nap(ns);
        ns = ns * 2 > NAP_MAX_NS ? NAP_MAX_NS : ns * 2;
    }
}
