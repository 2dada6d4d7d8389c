/* The "mpi" communicator under mpirun (driven by tests/e2e/comm_mpi.sh).
 *
 *   mpi_comm_check check        every collective on integer-valued data, so
 *                               results are exact whatever the summation
 *                               order: dtypes x ops, even and uneven chunks,
 *                               in-place forms, broadcast, messages and their
 *                               size errors, groups, async requests, and the
 *                               bucketed gradient sync against a plain sum;
 *                               once without and once with the watchdog
 *   mpi_comm_check single       under -np 1 or without mpirun: AUTO stays
 *                               single (no MPI_Init), kind MPI makes a world
 *                               of one (a singleton) and finalizes
 *   mpi_comm_check dead [T]     the last rank _exit(1)s inside an all-reduce;
 *                               the others wait with a T s watchdog
 *   mpi_comm_check hang [T]     the last rank sleeps instead of joining
 *   mpi_comm_check bench        all-reduce timings for 10M floats
 *
 * Each rank prints its own failures; the exit status is non-zero on any. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/comm.h"

static int g_rank, g_size;

/* Integer-valued data: exact in float32 and in any summation order. */
static int64_t val(int r, int64_t i) { return ((i * 7 + r * 13) % 101) - 50 + r; }

static void put(void *buf, nc_comm_dtype dt, int64_t i, double v) {
    switch (dt) {
    case NC_COMM_F32: ((float *)buf)[i] = (float)v; break;
    case NC_COMM_F64: ((double *)buf)[i] = v; break;
    case NC_COMM_I32: ((int32_t *)buf)[i] = (int32_t)v; break;
    case NC_COMM_I64: ((int64_t *)buf)[i] = (int64_t)v; break;
    case NC_COMM_U8: ((uint8_t *)buf)[i] = (uint8_t)v; break;
    case NC_COMM_DTYPE_COUNT: break;
    }
}

/* Rank r's element i for dtype dt (u8 stays small so sums fit). */
static double elem(nc_comm_dtype dt, int r, int64_t i) {
    if (dt == NC_COMM_U8) return (double)((i + r) % 50);
    if (dt == NC_COMM_I64) return (double)val(r, i) + (double)((int64_t)1 << 40) * (r + 1);
    if (dt == NC_COMM_F64) return (double)val(r, i) * 0.5;
    return (double)val(r, i);
}

/* The reduction of element i over `ranks` (world ranks), as this dtype. */
static void expect(void *out, nc_comm_dtype dt, nc_reduce_op op, int64_t at, int64_t i,
                   const int *ranks, int n) {
    double acc = elem(dt, ranks[0], i);
    for (int k = 1; k < n; k++) {
        double v = elem(dt, ranks[k], i);
        if (op == NC_COMM_MAX) acc = v > acc ? v : acc;
        else if (op == NC_COMM_MIN) acc = v < acc ? v : acc;
        else acc += v;
    }
    put(out, dt, at, acc);
    /* AVG divides the (exact) sum in the buffer's own type, as the library does. */
    if (op == NC_COMM_AVG && dt == NC_COMM_F32) ((float *)out)[at] /= (float)n;
    if (op == NC_COMM_AVG && dt == NC_COMM_F64) ((double *)out)[at] /= (double)n;
}

static bool same(const char *what, const void *got, const void *want, int64_t n, nc_comm_dtype dt) {
    nc_test_checks++;
    size_t es = nc_comm_dtype_size(dt);
    for (int64_t i = 0; i < n; i++) {
        if (memcmp((const char *)got + i * es, (const char *)want + i * es, es)) {
            nc_test_fail(__FILE__, __LINE__, "rank %d: %s: element %lld differs", g_rank, what,
                         (long long)i);
            return false;
        }
    }
    return true;
}

static void test_all_reduce(nc_comm *c, const int *all) {
    const int64_t lens[] = {1, 17, 100003};
    for (int dt = 0; dt < NC_COMM_DTYPE_COUNT; dt++) {
        for (int op = 0; op < NC_COMM_OP_COUNT; op++) {
            bool fl = dt == NC_COMM_F32 || dt == NC_COMM_F64;
            if (op == NC_COMM_AVG && !fl) continue;
            for (int k = 0; k < 3; k++) {
                int64_t n = lens[k];
                size_t es = nc_comm_dtype_size((nc_comm_dtype)dt);
                void *buf = nc_malloc((size_t)n * es), *want = nc_malloc((size_t)n * es);
                for (int64_t i = 0; i < n; i++) {
                    put(buf, (nc_comm_dtype)dt, i, elem((nc_comm_dtype)dt, g_rank, i));
                    expect(want, (nc_comm_dtype)dt, (nc_reduce_op)op, i, i, all, g_size);
                }
                char what[96];
                snprintf(what, sizeof what, "all_reduce %s %s n=%lld",
                         nc_comm_dtype_name((nc_comm_dtype)dt), nc_reduce_op_name((nc_reduce_op)op),
                         (long long)n);
                CHECK_OK(nc_comm_all_reduce(c, buf, n, (nc_comm_dtype)dt, (nc_reduce_op)op));
                same(what, buf, want, n, (nc_comm_dtype)dt);
                nc_free(buf);
                nc_free(want);
            }
        }
    }
    CHECK_OK(nc_comm_all_reduce(c, NULL, 0, NC_COMM_F32, NC_COMM_SUM));
}

/* Per-rank chunk sizes with a zero and unequal lengths. */
static int64_t uneven(int r) { return (r * 3 + 2) % 4 + (r == 0 ? 5 : 0); }

static void test_scatter_gather(nc_comm *c, const int *all) {
    const int64_t cnt = 1000;
    int64_t total = cnt * g_size;
    float *send = nc_malloc((size_t)total * 4), *recv = nc_malloc((size_t)total * 4);
    float *want = nc_malloc((size_t)total * 4);
    for (int op = 0; op < NC_COMM_OP_COUNT; op++) {
        for (int64_t i = 0; i < total; i++) send[i] = (float)elem(NC_COMM_F32, g_rank, i);
        for (int64_t i = 0; i < cnt; i++)
            expect(want, NC_COMM_F32, (nc_reduce_op)op, i, g_rank * cnt + i, all, g_size);
        CHECK_OK(nc_comm_reduce_scatter(c, send, recv, cnt, NC_COMM_F32, (nc_reduce_op)op));
        same("reduce_scatter", recv, want, cnt, NC_COMM_F32);
        /* in place: the chunk lands at the start of the buffer */
        CHECK_OK(nc_comm_reduce_scatter(c, send, send, cnt, NC_COMM_F32, (nc_reduce_op)op));
        same("reduce_scatter in place", send, want, cnt, NC_COMM_F32);
    }

    /* Uneven: rank r gets uneven(r) elements of the reduced vector. */
    int64_t *counts = nc_malloc((size_t)g_size * sizeof *counts), vtotal = 0, my_off = 0;
    for (int r = 0; r < g_size; r++) {
        counts[r] = uneven(r);
        if (r < g_rank) my_off += counts[r];
        vtotal += counts[r];
    }
    for (int64_t i = 0; i < vtotal; i++) send[i] = (float)elem(NC_COMM_F32, g_rank, i);
    for (int64_t i = 0; i < counts[g_rank]; i++)
        expect(want, NC_COMM_F32, NC_COMM_AVG, i, my_off + i, all, g_size);
    CHECK_OK(nc_comm_reduce_scatter_v(c, send, recv, counts, NC_COMM_F32, NC_COMM_AVG));
    same("reduce_scatter_v avg", recv, want, counts[g_rank], NC_COMM_F32);

    /* all_gather of int64: rank r contributes elem(r, 0..cnt). */
    int64_t *gs = nc_malloc((size_t)cnt * 8), *gr = nc_malloc((size_t)total * 8);
    int64_t *gw = nc_malloc((size_t)total * 8);
    for (int64_t i = 0; i < cnt; i++) gs[i] = (int64_t)elem(NC_COMM_I64, g_rank, i);
    for (int r = 0; r < g_size; r++)
        for (int64_t i = 0; i < cnt; i++) gw[r * cnt + i] = (int64_t)elem(NC_COMM_I64, r, i);
    CHECK_OK(nc_comm_all_gather(c, gs, gr, cnt, NC_COMM_I64));
    same("all_gather", gr, gw, total, NC_COMM_I64);
    memset(gr, 0, (size_t)total * 8);
    memcpy(gr + g_rank * cnt, gs, (size_t)cnt * 8);
    CHECK_OK(nc_comm_all_gather(c, gr + g_rank * cnt, gr, cnt, NC_COMM_I64)); /* in place */
    same("all_gather in place", gr, gw, total, NC_COMM_I64);

    /* all_gather_v of float: chunk r is elem(r, 0..uneven(r)). */
    int64_t off = 0;
    for (int r = 0; r < g_size; r++)
        for (int64_t i = 0; i < counts[r]; i++) want[off++] = (float)elem(NC_COMM_F32, r, i);
    for (int64_t i = 0; i < counts[g_rank]; i++) send[i] = (float)elem(NC_COMM_F32, g_rank, i);
    CHECK_OK(nc_comm_all_gather_v(c, send, recv, counts, NC_COMM_F32));
    same("all_gather_v", recv, want, vtotal, NC_COMM_F32);
    memset(recv, 0, (size_t)vtotal * 4);
    memcpy(recv + my_off, send, (size_t)counts[g_rank] * 4);
    CHECK_OK(nc_comm_all_gather_v(c, recv + my_off, recv, counts, NC_COMM_F32)); /* in place */
    same("all_gather_v in place", recv, want, vtotal, NC_COMM_F32);

    nc_free(counts), nc_free(send), nc_free(recv), nc_free(want);
    nc_free(gs), nc_free(gr), nc_free(gw);
}

static void test_broadcast_barrier(nc_comm *c) {
    int root = g_size - 1;
    int64_t v[3] = {g_rank, -g_rank, 7 * g_rank};
    CHECK_OK(nc_comm_broadcast(c, v, 3, NC_COMM_I64, root));
    CHECK(v[0] == root && v[1] == -root && v[2] == 7 * root);
    char text[32];
    snprintf(text, sizeof text, "from rank %d", g_rank);
    CHECK_OK(nc_comm_broadcast_bytes(c, text, sizeof text, 0));
    CHECK(!strcmp(text, "from rank 0"));
    /* 3 MB: more than one eager message */
    int64_t n = 3 << 20;
    uint8_t *big = nc_malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) big[i] = (uint8_t)(g_rank == 1 ? i * 31 : 0);
    CHECK_OK(nc_comm_broadcast_bytes(c, big, n, 1));
    int bad = 0;
    for (int64_t i = 0; i < n; i++) bad += big[i] != (uint8_t)(i * 31);
    CHECK(bad == 0);
    nc_free(big);
    CHECK_OK(nc_comm_barrier(c));
    CHECK(nc_comm_broadcast(c, v, 3, NC_COMM_I64, g_size) == NC_ERR_INVALID_ARG);
}

static void test_send_recv(nc_comm *c) {
    /* Ring of 1 MB messages (rendezvous, not eager); even ranks send first. */
    int64_t n = 1 << 20;
    int next = (g_rank + 1) % g_size, prev = (g_rank + g_size - 1) % g_size;
    uint8_t *out = nc_malloc((size_t)n), *in = nc_malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) out[i] = (uint8_t)(i + g_rank);
    if (g_rank % 2 == 0) {
        CHECK_OK(nc_comm_send(c, out, n, next, 5));
        CHECK_OK(nc_comm_recv(c, in, n, prev, 5));
    } else {
        CHECK_OK(nc_comm_recv(c, in, n, prev, 5));
        CHECK_OK(nc_comm_send(c, out, n, next, 5));
    }
    int bad = 0;
    for (int64_t i = 0; i < n; i++) bad += in[i] != (uint8_t)(i + prev);
    CHECK(bad == 0);
    nc_free(out), nc_free(in);

    /* Size mismatches between ranks 0 and 1 fail the receive, naming it and
     * the rank, and leave the communicator usable. */
    char buf[16] = "0123456789abcdef";
    if (g_rank == 0) {
        CHECK_OK(nc_comm_send(c, buf, 16, 1, 9)); /* longer than expected */
        CHECK_OK(nc_comm_send(c, buf, 4, 1, 9));  /* shorter */
    } else if (g_rank == 1) {
        CHECK(nc_comm_recv(c, buf, 8, 0, 9) == NC_ERR_COMM);
        CHECK(strstr(nc_last_error(), "recv(8 bytes from rank 0, tag 9) failed on rank 1 of") &&
              strstr(nc_last_error(), "MPI_ERR_TRUNCATE"));
        printf("rank 1 sees: %s\n", nc_last_error());
        CHECK(nc_comm_recv(c, buf, 8, 0, 9) == NC_ERR_COMM);
        CHECK(strstr(nc_last_error(), "holds 4 bytes, expected 8"));
    }
    CHECK_OK(nc_comm_barrier(c));
    CHECK(nc_comm_send(c, buf, 4, g_rank, 0) == NC_ERR_INVALID_ARG);
    CHECK(nc_comm_send(c, buf, 4, next == g_rank ? 0 : next, 40000) == NC_ERR_INVALID_ARG);
}

static void test_split(nc_comm *c) {
    /* Groups by parity, ordered by descending world rank (key = -rank). */
    nc_comm *g = NULL;
    CHECK_OK(nc_comm_split(c, g_rank % 2, -g_rank, &g));
    CHECK(g != NULL);
    int members[64], n = 0;
    for (int r = g_size - 1; r >= 0; r--)
        if (r % 2 == g_rank % 2) members[n++] = r;
    int my = 0;
    while (members[my] != g_rank) my++;
    CHECK(nc_comm_size(g) == n && nc_comm_rank(g) == my);
    CHECK(nc_comm_local_size(g) == n && nc_comm_local_rank(g) == my);
    CHECK(nc_comm_timeout(g) == nc_comm_timeout(c));
    int64_t x = g_rank + 1;
    CHECK_OK(nc_comm_all_reduce(g, &x, 1, NC_COMM_I64, NC_COMM_SUM));
    int64_t want = 0;
    for (int k = 0; k < n; k++) want += members[k] + 1;
    CHECK(x == want);
    float f = (float)g_rank;
    CHECK_OK(nc_comm_broadcast(g, &f, 1, NC_COMM_F32, 0)); /* group rank 0 = highest world rank */
    CHECK(f == (float)members[0]);

    /* A group of a group; color < 0 joins none. World rank 0 is left out. */
    nc_comm *h = NULL;
    CHECK_OK(nc_comm_split(g, g_rank == 0 ? -1 : 0, 0, &h));
    CHECK((g_rank == 0) == (h == NULL));
    if (h) {
        int32_t one = 1;
        CHECK_OK(nc_comm_all_reduce(h, &one, 1, NC_COMM_I32, NC_COMM_SUM));
        CHECK(one == n - (g_rank % 2 == 0 ? 1 : 0));
    }
    /* Groups may outlive their parent's use; free the child first anyway. */
    nc_comm_free(h);
    nc_comm_free(g);

    /* A group that is the whole world (color 0 everywhere) is a duplicate. */
    CHECK_OK(nc_comm_split(c, 0, 0, &g));
    CHECK(nc_comm_size(g) == g_size && nc_comm_rank(g) == g_rank);
    nc_comm_free(g);
}

static void test_async(nc_comm *c, const int *all) {
    int64_t n = 50001;
    double *buf = nc_malloc((size_t)n * 8), *want = nc_malloc((size_t)n * 8);
    for (int64_t i = 0; i < n; i++) {
        buf[i] = elem(NC_COMM_F64, g_rank, i);
        expect(want, NC_COMM_F64, NC_COMM_AVG, i, i, all, g_size);
    }
    nc_comm_request *r = NULL;
    CHECK_OK(nc_comm_all_reduce_start(c, buf, n, NC_COMM_F64, NC_COMM_AVG, &r));
    bool done = false;
    for (int spins = 0; spins < 100000 && !done; spins++) {
        CHECK_OK(nc_comm_test(r, &done));
        if (!done) usleep(50);
    }
    CHECK(done);
    CHECK_OK(nc_comm_wait(r));
    same("all_reduce_start avg", buf, want, n, NC_COMM_F64);
    nc_free(buf), nc_free(want);
}

/* The gradient sync against a plain sum computed here, with every rank
 * marking ranges in a different order and differently sized pieces. */
static void test_grad_sync(nc_comm *c, const int *all) {
    const int64_t n = 100003;
    float *grad = nc_malloc((size_t)n * 4), *want = nc_malloc((size_t)n * 4);
    float *sum = nc_malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) {
        expect(want, NC_COMM_F32, NC_COMM_AVG, i, i, all, g_size);
        expect(sum, NC_COMM_F32, NC_COMM_SUM, i, i, all, g_size);
    }
#define FILL() for (int64_t i = 0; i < n; i++) grad[i] = (float)elem(NC_COMM_F32, g_rank, i)
    nc_grad_sync_params p = nc_grad_sync_default_params();
    p.bucket_bytes = 40000; /* 10000 floats: 11 buckets, the last of 3 */
    nc_grad_sync *s = NULL;
    CHECK_OK(nc_grad_sync_create(c, grad, n, &p, &s));
    CHECK(nc_grad_sync_num_buckets(s) == 11);

    FILL();
    CHECK_OK(nc_grad_sync_all_reduce(s));
    same("grad_sync blocking", grad, want, n, NC_COMM_F32);

    /* Backward order in rank-dependent pieces (a simple LCG per rank). */
    for (int step = 0; step < 3; step++) {
        FILL();
        uint32_t seed = 1234u + 977u * (uint32_t)g_rank + 31u * (uint32_t)step;
        int64_t hi = n;
        while (hi > 0) {
            seed = seed * 1664525u + 1013904223u;
            int64_t len = 1 + (int64_t)(seed >> 8) % 7000;
            if (len > hi) len = hi;
            CHECK_OK(nc_grad_sync_mark_ready(s, hi - len, len));
            hi -= len;
        }
        CHECK(nc_grad_sync_num_started(s) == 11);
        CHECK_OK(nc_grad_sync_wait(s));
        same("grad_sync mark_ready", grad, want, n, NC_COMM_F32);
    }
    /* Front half marked only: the rest starts in wait. */
    FILL();
    CHECK_OK(nc_grad_sync_mark_ready(s, 0, n / 2));
    CHECK(nc_grad_sync_num_started(s) == 0);
    CHECK_OK(nc_grad_sync_wait(s));
    same("grad_sync partial marks", grad, want, n, NC_COMM_F32);

    FILL();
    CHECK_OK(nc_grad_sync_start(s));
    CHECK_OK(nc_grad_sync_wait(s));
    same("grad_sync start/wait", grad, want, n, NC_COMM_F32);
    nc_grad_sync_free(s);

    p.average = false;
    CHECK_OK(nc_grad_sync_create(c, grad, n, &p, &s));
    FILL();
    CHECK_OK(nc_grad_sync_all_reduce(s));
    same("grad_sync sum", grad, sum, n, NC_COMM_F32);
    nc_grad_sync_free(s);
#undef FILL
    nc_free(grad), nc_free(want), nc_free(sum);
}

static int run_check(void) {
    /* nemoc's own blocks are counted here, since LeakSanitizer has to be off
     * under mpirun (OpenMPI leaks by design; tests/e2e/comm_mpi.sh). */
    nc_debug_alloc dbg = {0};
    nc_allocator da = nc_debug_allocator(&dbg);
    nc_allocator old = nc_set_allocator(&da);
    nc_comm *c = NULL;
    CHECK_OK(nc_comm_create_world(&c));
    if (!c) return nc_test_finish("mpi_comm_check");
    g_rank = nc_comm_rank(c);
    g_size = nc_comm_size(c);
    CHECK(!strcmp(nc_comm_backend(c), "mpi"));
    CHECK(g_size == nc_comm_launcher_size());
    CHECK(g_rank == atoi(getenv("OMPI_COMM_WORLD_RANK")));
    /* mpirun on one machine: every rank is node-local */
    CHECK(nc_comm_local_size(c) == g_size && nc_comm_local_rank(c) == g_rank);
    int all[64];
    for (int r = 0; r < g_size && r < 64; r++) all[r] = r;
    /* Blocking MPI calls first, then the watchdog's nonblocking ones. */
    const double timeouts[2] = {0, 60};
    for (int t = 0; t < 2; t++) {
        nc_comm_set_timeout(c, timeouts[t]);
        test_all_reduce(c, all);
        test_scatter_gather(c, all);
        test_broadcast_barrier(c);
        test_send_recv(c);
        test_split(c);
        test_async(c, all);
        test_grad_sync(c, all);
    }
    nc_comm_free(c);
    int fin = 0;
    MPI_Finalized(&fin);
    CHECK(fin == 1);
    nc_set_allocator(&old);
    CHECK(dbg.live_blocks == 0 && dbg.n_allocs > 100);
    char suite[64];
    snprintf(suite, sizeof suite, "mpi_comm_check rank %d of %d", g_rank, g_size);
    return nc_test_finish(suite);
}

static int run_single(void) {
    nc_comm *c = NULL;
    CHECK(nc_comm_launcher_size() == 1 || nc_comm_launcher_size() == -1); /* -np 1, or no mpirun */
    CHECK_OK(nc_comm_create_world(&c));
    CHECK(!strcmp(nc_comm_backend(c), "single"));
    nc_comm_free(c);
    int flag = 1;
    MPI_Initialized(&flag);
    CHECK(flag == 0);
    nc_comm_params p = nc_comm_default_params();
    p.kind = NC_COMM_MPI;
    CHECK_OK(nc_comm_create(&p, &c));
    CHECK(!strcmp(nc_comm_backend(c), "mpi") && nc_comm_size(c) == 1);
    float x[2] = {3, 4};
    CHECK_OK(nc_comm_all_reduce(c, x, 2, NC_COMM_F32, NC_COMM_AVG));
    CHECK(x[0] == 3 && x[1] == 4);
    nc_comm_free(c);
    MPI_Finalized(&flag);
    CHECK(flag == 1);
    /* MPI cannot come back once finalized: a clear error, not a crash. */
    CHECK(nc_comm_create(&p, &c) == NC_ERR_COMM && c == NULL);
    CHECK(strstr(nc_last_error(), "already finalized") != NULL);
    return nc_test_finish("mpi_comm_check single");
}

/* The last rank dies (dead) or stalls (hang) inside a collective; the
 * others must come back with NC_ERR_COMM naming it within the timeout. */
static int run_failure(bool dead, double timeout) {
    nc_comm *c = NULL;
    nc_comm_params p = nc_comm_default_params();
    p.timeout_s = timeout;
    if (nc_comm_create(&p, &c)) {
        fprintf(stderr, "create: %s\n", nc_last_error());
        return 1;
    }
    g_rank = nc_comm_rank(c);
    g_size = nc_comm_size(c);
    int64_t n = 1 << 20;
    float *buf = nc_calloc((size_t)n, 4);
    CHECK_OK(nc_comm_barrier(c));
    double t0 = MPI_Wtime();
    int victim = g_size - 1;
    if (g_rank == victim) {
        if (dead) {
            nc_comm_request *r = NULL;
            CHECK_OK(nc_comm_all_reduce_start(c, buf, n, NC_COMM_F32, NC_COMM_SUM, &r));
            usleep(300000);
            fprintf(stderr, "rank %d: _exit(1) inside all_reduce\n", g_rank);
            _exit(1);
        }
        sleep(120); /* alive but absent; mpirun ends this when the others exit */
        return 1;
    }
    /* A survivor may still complete the first all-reduce (the victim's data
     * left in its first round before it died); the next one cannot. */
    nc_status s = NC_OK;
    for (int k = 0; k < 3 && !s; k++) s = nc_comm_all_reduce(c, buf, n, NC_COMM_F32, NC_COMM_SUM);
    double dt = MPI_Wtime() - t0;
    char want[64];
    snprintf(want, sizeof want, "from rank %d ", victim);
    const char *msg = nc_last_error();
    bool ok = s == NC_ERR_COMM && strstr(msg, "timed out after") && strstr(msg, want);
    printf("rank %d after %.1f s: %s: %s\n", g_rank, dt, nc_status_str(s), msg);
    printf("rank %d: WATCHDOG %s\n", g_rank, ok ? "OK" : "FAILED");
    fflush(stdout);
    /* Later calls fail at once. */
    if (nc_comm_barrier(c) != NC_ERR_COMM || !strstr(nc_last_error(), "unusable")) ok = false;
    nc_free(buf);
    nc_comm_free(c); /* broken: does not finalize */
    return ok ? 3 : 1; /* non-zero either way: the job cannot finish normally */
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median and best of `reps` timed runs of one variant, all ranks in step. */
static void bench_one(nc_comm *c, const char *name, int variant, float *buf, int64_t n,
                      nc_grad_sync *s) {
    enum { REPS = 20, WARM = 3 };
    double t[REPS];
    for (int k = 0; k < REPS + WARM; k++) {
        CHECK_OK(nc_comm_barrier(c));
        double t0 = now();
        switch (variant) {
        case 0: CHECK(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) == 0); break;
        case 1: CHECK_OK(nc_comm_all_reduce(c, buf, n, NC_COMM_F32, NC_COMM_AVG)); break;
        case 2: CHECK_OK(nc_grad_sync_all_reduce(s)); break;
        case 3: CHECK_OK(nc_grad_sync_start(s)); CHECK_OK(nc_grad_sync_wait(s)); break;
        }
        if (k >= WARM) t[k - WARM] = now() - t0;
    }
    qsort(t, REPS, sizeof t[0], cmp_d);
    double med = 0.5 * (t[REPS / 2 - 1] + t[REPS / 2]);
    if (g_rank == 0)
        printf("bench %-40s %lld floats, %d ranks: median %7.2f ms, best %7.2f ms, %5.2f GB/s (algbw)\n",
               name, (long long)n, g_size, 1e3 * med, 1e3 * t[0], (double)n * 4 / med / 1e9);
}

static int run_bench(void) {
    nc_comm *c = NULL;
    CHECK_OK(nc_comm_create_world(&c));
    if (!c) return 1;
    g_rank = nc_comm_rank(c);
    g_size = nc_comm_size(c);
    int64_t n = 10000000;
    float *buf = nc_malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) buf[i] = 1.0f;
    nc_grad_sync *s = NULL;
    CHECK_OK(nc_grad_sync_create(c, buf, n, NULL, &s));
    if (g_rank == 0) printf("bench: grad_sync buckets of 25 MiB: %lld\n", (long long)nc_grad_sync_num_buckets(s));
    bench_one(c, "MPI_Allreduce (raw, reference)", 0, buf, n, s);
    nc_comm_set_timeout(c, 0);
    bench_one(c, "nc_comm_all_reduce avg, no watchdog", 1, buf, n, s);
    bench_one(c, "nc_grad_sync_all_reduce, no watchdog", 2, buf, n, s);
    bench_one(c, "nc_grad_sync start+wait, no watchdog", 3, buf, n, s);
    nc_comm_set_timeout(c, 1800);
    bench_one(c, "nc_comm_all_reduce avg, watchdog", 1, buf, n, s);
    bench_one(c, "nc_grad_sync_all_reduce, watchdog", 2, buf, n, s);
    bench_one(c, "nc_grad_sync start+wait, watchdog", 3, buf, n, s);
    nc_grad_sync_free(s);
    nc_free(buf);
    nc_comm_free(c);
    return nc_test_failures ? 1 : 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "check";
    double timeout = argc > 2 ? atof(argv[2]) : 3.0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "check")) return run_check();
    if (!strcmp(mode, "single")) return run_single();
    if (!strcmp(mode, "dead")) return run_failure(true, timeout);
    if (!strcmp(mode, "hang")) return run_failure(false, timeout);
    if (!strcmp(mode, "bench")) return run_bench();
    fprintf(stderr, "usage: mpi_comm_check check|single|dead [T]|hang [T]|bench\n");
    return 2;
}
