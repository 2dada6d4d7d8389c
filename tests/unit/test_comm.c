/* The "single" communicator (a world of one, no MPI) and the bucketed
 * gradient sync on top of it: launcher detection, every collective as a copy
 * or no-op with exact results, argument errors that name the operation,
 * groups, asynchronous requests, the ready-tracking and launch order of
 * gradient buckets, and out-of-memory paths. The MPI implementation is tested
 * under mpirun by tests/e2e/comm_mpi.sh (tests/mpi/mpi_comm_check.c). */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/comm.h"

static void clear_launcher_env(void) {
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMIX_RANK");
    unsetenv("PMI_RANK");
}

static void test_launcher_and_create(void) {
    clear_launcher_env();
    CHECK(nc_comm_launcher_size() == -1);
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    CHECK(nc_comm_launcher_size() == 4);
    setenv("OMPI_COMM_WORLD_SIZE", "junk", 1);
    CHECK(nc_comm_launcher_size() == -1);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    setenv("PMIX_RANK", "0", 1);
    CHECK(nc_comm_launcher_size() == 0);
    clear_launcher_env();

    nc_comm *c = NULL;
    CHECK_OK(nc_comm_create_world(&c));
    CHECK(c && !strcmp(nc_comm_backend(c), "single"));
    CHECK(nc_comm_rank(c) == 0 && nc_comm_size(c) == 1);
    CHECK(nc_comm_local_rank(c) == 0 && nc_comm_local_size(c) == 1);
    CHECK(nc_comm_timeout(c) == 1800.0);
    nc_comm_set_timeout(c, 2.5);
    CHECK(nc_comm_timeout(c) == 2.5);
    nc_comm_free(c);

    /* mpirun -np 1 announces a world of one: still single, MPI untouched. */
    setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
    CHECK_OK(nc_comm_create_world(&c));
    CHECK(!strcmp(nc_comm_backend(c), "single"));
    nc_comm_free(c);
    clear_launcher_env();

    nc_comm_params p = nc_comm_default_params();
    p.kind = NC_COMM_SINGLE;
    p.timeout_s = 0;
    CHECK_OK(nc_comm_create(&p, &c));
    CHECK(nc_comm_timeout(c) == 0);
    nc_comm_free(c);
    nc_comm_free(NULL);

    p.kind = (nc_comm_kind)7;
    CHECK(nc_comm_create(&p, &c) == NC_ERR_INVALID_ARG && c == NULL);
    CHECK(nc_comm_create(NULL, NULL) == NC_ERR_INVALID_ARG);

    /* The single implementation never initialises MPI. */
    int inited = 1;
    MPI_Initialized(&inited);
    CHECK(inited == 0);
}

static void test_all_reduce(nc_comm *c) {
    float f[4] = {1.5f, -2.0f, 3.25f, 0.0f};
    const float f0[4] = {1.5f, -2.0f, 3.25f, 0.0f};
    double d[3] = {1e300, -0.5, 7.0};
    int32_t i32[2] = {-7, 9};
    int64_t i64[3] = {(int64_t)1 << 40, -3, 0};
    uint8_t u8[2] = {255, 1};
    for (int op = 0; op < NC_COMM_OP_COUNT; op++) {
        CHECK_OK(nc_comm_all_reduce(c, f, 4, NC_COMM_F32, (nc_reduce_op)op));
        CHECK_OK(nc_comm_all_reduce(c, d, 3, NC_COMM_F64, (nc_reduce_op)op));
        if (op == NC_COMM_AVG) continue;
        CHECK_OK(nc_comm_all_reduce(c, i32, 2, NC_COMM_I32, (nc_reduce_op)op));
        CHECK_OK(nc_comm_all_reduce(c, i64, 3, NC_COMM_I64, (nc_reduce_op)op));
        CHECK_OK(nc_comm_all_reduce(c, u8, 2, NC_COMM_U8, (nc_reduce_op)op));
    }
    CHECK(!memcmp(f, f0, sizeof f));
    CHECK(d[0] == 1e300 && d[1] == -0.5 && d[2] == 7.0);
    CHECK(i32[0] == -7 && i32[1] == 9);
    CHECK(i64[0] == (int64_t)1 << 40 && i64[1] == -3 && i64[2] == 0);
    CHECK(u8[0] == 255 && u8[1] == 1);
    CHECK_OK(nc_comm_all_reduce(c, NULL, 0, NC_COMM_F32, NC_COMM_SUM));

    /* Argument errors name the operation and the problem. */
    CHECK(nc_comm_all_reduce(c, i64, 3, NC_COMM_I64, NC_COMM_AVG) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "all_reduce") && strstr(nc_last_error(), "int64"));
    CHECK(nc_comm_all_reduce(c, f, -1, NC_COMM_F32, NC_COMM_SUM) == NC_ERR_INVALID_ARG);
    CHECK(nc_comm_all_reduce(c, NULL, 4, NC_COMM_F32, NC_COMM_SUM) == NC_ERR_INVALID_ARG);
    CHECK(nc_comm_all_reduce(c, f, 4, (nc_comm_dtype)9, NC_COMM_SUM) == NC_ERR_INVALID_ARG);
    CHECK(nc_comm_all_reduce(c, f, 4, NC_COMM_F32, (nc_reduce_op)9) == NC_ERR_INVALID_ARG);
    CHECK(nc_comm_all_reduce(NULL, f, 4, NC_COMM_F32, NC_COMM_SUM) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "NULL") != NULL);
}

static void test_scatter_gather(nc_comm *c) {
    const double src[5] = {1, 2, 3, 4, 5};
    double out[5] = {0};
    CHECK_OK(nc_comm_reduce_scatter(c, src, out, 5, NC_COMM_F64, NC_COMM_SUM));
    CHECK(!memcmp(out, src, sizeof src));
    const int64_t counts[1] = {3};
    float fs[3] = {7, 8, 9}, fo[3] = {0};
    CHECK_OK(nc_comm_reduce_scatter_v(c, fs, fo, counts, NC_COMM_F32, NC_COMM_AVG));
    CHECK(fo[0] == 7 && fo[1] == 8 && fo[2] == 9);
    CHECK_OK(nc_comm_reduce_scatter(c, fs, fs, 3, NC_COMM_F32, NC_COMM_MAX)); /* in place */
    CHECK(fs[0] == 7 && fs[2] == 9);
    CHECK(nc_comm_reduce_scatter_v(c, fs, fo, NULL, NC_COMM_F32, NC_COMM_SUM) ==
          NC_ERR_INVALID_ARG);
    const int64_t neg[1] = {-2};
    CHECK(nc_comm_reduce_scatter_v(c, fs, fo, neg, NC_COMM_F32, NC_COMM_SUM) ==
          NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "counts[0]") != NULL);

    int64_t g[4] = {0}, mine[4] = {10, -20, 30, -40};
    CHECK_OK(nc_comm_all_gather(c, mine, g, 4, NC_COMM_I64));
    CHECK(!memcmp(g, mine, sizeof mine));
    const int64_t gc[1] = {2};
    int64_t gv[2] = {0};
    CHECK_OK(nc_comm_all_gather_v(c, mine, gv, gc, NC_COMM_I64));
    CHECK(gv[0] == 10 && gv[1] == -20);
    CHECK_OK(nc_comm_all_gather(c, g, g, 4, NC_COMM_I64)); /* in place: rank 0's slot */
    CHECK(g[3] == -40);
    CHECK(nc_comm_all_gather(c, mine, g, -4, NC_COMM_I64) == NC_ERR_INVALID_ARG);
}

static void test_broadcast_p2p_split(nc_comm *c) {
    char text[6] = "hello";
    CHECK_OK(nc_comm_broadcast_bytes(c, text, 6, 0));
    CHECK(!strcmp(text, "hello"));
    int32_t v[2] = {4, 5};
    CHECK_OK(nc_comm_broadcast(c, v, 2, NC_COMM_I32, 0));
    CHECK(v[0] == 4 && v[1] == 5);
    CHECK(nc_comm_broadcast(c, v, 2, NC_COMM_I32, 1) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "broadcast") && strstr(nc_last_error(), "root 1"));
    CHECK_OK(nc_comm_barrier(c));

    /* A world of one has nobody to talk to. */
    CHECK(nc_comm_send(c, text, 6, 0, 0) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "send") && strstr(nc_last_error(), "this rank"));
    CHECK(nc_comm_recv(c, text, 6, 1, 0) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "recv") && strstr(nc_last_error(), "peer 1"));

    nc_comm *g = NULL;
    CHECK_OK(nc_comm_split(c, 3, 0, &g));
    CHECK(g && nc_comm_size(g) == 1 && nc_comm_rank(g) == 0);
    CHECK(nc_comm_timeout(g) == nc_comm_timeout(c));
    float x = 2;
    CHECK_OK(nc_comm_all_reduce(g, &x, 1, NC_COMM_F32, NC_COMM_SUM));
    CHECK(x == 2);
    nc_comm_free(g);
    g = (nc_comm *)&x;
    CHECK_OK(nc_comm_split(c, -1, 0, &g));
    CHECK(g == NULL);
}

static void test_async(nc_comm *c) {
    float buf[3] = {1, 2, 3};
    nc_comm_request *r = NULL;
    CHECK_OK(nc_comm_all_reduce_start(c, buf, 3, NC_COMM_F32, NC_COMM_AVG, &r));
    bool done = false;
    CHECK_OK(nc_comm_test(r, &done));
    CHECK(done);
    CHECK_OK(nc_comm_test(r, &done));
    CHECK_OK(nc_comm_wait(r));
    CHECK(buf[0] == 1 && buf[1] == 2 && buf[2] == 3);
    CHECK(nc_comm_all_reduce_start(c, buf, 3, NC_COMM_I32, NC_COMM_AVG, &r) ==
          NC_ERR_INVALID_ARG && r == NULL);
    CHECK(nc_comm_wait(NULL) == NC_ERR_INVALID_ARG);
}

/* Launch order and ready tracking of the gradient buckets. */
static void test_grad_sync(nc_comm *c) {
    float grad[10];
    for (int i = 0; i < 10; i++) grad[i] = (float)i - 4.5f;
    nc_grad_sync_params p = nc_grad_sync_default_params();
    CHECK(p.bucket_bytes == 25 * 1024 * 1024 && p.average);
    p.bucket_bytes = 3 * sizeof(float) + 2; /* rounds down to 3 floats */
    nc_grad_sync *s = NULL;
    CHECK_OK(nc_grad_sync_create(c, grad, 10, &p, &s));
    CHECK(nc_grad_sync_num_buckets(s) == 4);
    int64_t off, cnt;
    nc_grad_sync_bucket_range(s, 3, &off, &cnt);
    CHECK(off == 9 && cnt == 1);
    nc_grad_sync_bucket_range(s, 1, &off, &cnt);
    CHECK(off == 3 && cnt == 3);

    /* Buckets launch from the last to the first, each only when it and all
     * later buckets are fully marked. */
    CHECK_OK(nc_grad_sync_mark_ready(s, 0, 3)); /* bucket 0 ready, 3 not: nothing starts */
    CHECK(nc_grad_sync_num_started(s) == 0);
    CHECK_OK(nc_grad_sync_mark_ready(s, 9, 1)); /* bucket 3 */
    CHECK(nc_grad_sync_num_started(s) == 1);
    CHECK_OK(nc_grad_sync_mark_ready(s, 6, 2)); /* bucket 2 partly */
    CHECK(nc_grad_sync_num_started(s) == 1);
    CHECK_OK(nc_grad_sync_mark_ready(s, 3, 3)); /* bucket 1 ready, waits for 2 */
    CHECK(nc_grad_sync_num_started(s) == 1);
    CHECK(nc_grad_sync_mark_ready(s, 2, 2) == NC_ERR_INVALID_ARG); /* marked twice */
    CHECK(strstr(nc_last_error(), "[2, 4)") && strstr(nc_last_error(), "already marked"));
    CHECK(nc_grad_sync_all_reduce(s) == NC_ERR_INVALID_ARG); /* a step is in progress */
    CHECK_OK(nc_grad_sync_mark_ready(s, 8, 1)); /* bucket 2 ready: 2, 1, 0 start */
    CHECK(nc_grad_sync_num_started(s) == 4);
    CHECK_OK(nc_grad_sync_mark_ready(s, 0, 0)); /* empty: only progress */
    CHECK(nc_grad_sync_mark_ready(s, 8, 3) == NC_ERR_INVALID_ARG); /* past the end */
    CHECK(nc_grad_sync_mark_ready(s, -1, 1) == NC_ERR_INVALID_ARG);
    CHECK_OK(nc_grad_sync_wait(s));
    CHECK(nc_grad_sync_num_started(s) == 0);

    /* Next step: ranges in backward order, filling gaps out of order. */
    CHECK_OK(nc_grad_sync_mark_ready(s, 7, 3));
    CHECK(nc_grad_sync_num_started(s) == 1);
    CHECK_OK(nc_grad_sync_mark_ready(s, 1, 2));
    CHECK_OK(nc_grad_sync_mark_ready(s, 4, 2));
    CHECK(nc_grad_sync_num_started(s) == 1);
    CHECK_OK(nc_grad_sync_mark_ready(s, 6, 1)); /* bucket 2 complete */
    CHECK(nc_grad_sync_num_started(s) == 2);
    CHECK_OK(nc_grad_sync_mark_ready(s, 3, 1)); /* bucket 1 complete */
    CHECK(nc_grad_sync_num_started(s) == 3);
    CHECK_OK(nc_grad_sync_wait(s)); /* [0, 1) never marked: wait starts bucket 0 */
    CHECK(nc_grad_sync_num_started(s) == 0);

    /* start + wait, and the blocking form. */
    CHECK_OK(nc_grad_sync_start(s));
    CHECK(nc_grad_sync_num_started(s) == 4);
    CHECK_OK(nc_grad_sync_wait(s));
    CHECK_OK(nc_grad_sync_all_reduce(s));
    for (int i = 0; i < 10; i++) CHECK(grad[i] == (float)i - 4.5f); /* average over one rank */
    nc_grad_sync_free(s);

    /* Many small disjoint ranges (the interval list grows), then the gaps. */
    enum { N = 1000 };
    float *big = nc_calloc(N, sizeof *big);
    p.bucket_bytes = 100 * sizeof(float);
    CHECK_OK(nc_grad_sync_create(c, big, N, &p, &s));
    CHECK(nc_grad_sync_num_buckets(s) == 10);
    for (int64_t i = 0; i < N; i += 2) CHECK_OK(nc_grad_sync_mark_ready(s, i, 1));
    CHECK(nc_grad_sync_num_started(s) == 0);
    for (int64_t i = N - 1; i > 0; i -= 2) CHECK_OK(nc_grad_sync_mark_ready(s, i, 1));
    CHECK(nc_grad_sync_num_started(s) == 10);
    CHECK_OK(nc_grad_sync_wait(s));
    nc_grad_sync_free(s);
    nc_free(big);

    /* Empty buffer and bad parameters. */
    CHECK_OK(nc_grad_sync_create(c, NULL, 0, NULL, &s));
    CHECK(nc_grad_sync_num_buckets(s) == 0);
    CHECK_OK(nc_grad_sync_wait(s));
    CHECK_OK(nc_grad_sync_all_reduce(s));
    nc_grad_sync_free(s);
    p.bucket_bytes = 3;
    CHECK(nc_grad_sync_create(c, grad, 10, &p, &s) == NC_ERR_INVALID_ARG && s == NULL);
    CHECK(nc_grad_sync_create(c, NULL, 10, NULL, &s) == NC_ERR_INVALID_ARG);
    CHECK(nc_grad_sync_create(NULL, grad, 10, NULL, &s) == NC_ERR_INVALID_ARG);
}

/* Every allocation failure while creating a communicator, a group, a request
 * or a sync object is reported as NC_ERR_OOM and leaks nothing. */
static void test_oom(void) {
    float grad[64] = {0};
    nc_grad_sync_params gp = nc_grad_sync_default_params();
    gp.bucket_bytes = 16 * sizeof(float);
    int finished = 0;
    for (int64_t fail_at = 1; fail_at < 64 && !finished; fail_at++) {
        nc_debug_alloc st = {.fail_at = fail_at};
        nc_allocator dbg = nc_debug_allocator(&st);
        nc_allocator old = nc_set_allocator(&dbg);
        nc_comm *c = NULL, *g = NULL;
        nc_comm_request *r = NULL;
        nc_grad_sync *s = NULL;
        nc_status rc = nc_comm_create_world(&c);
        if (!rc) rc = nc_comm_split(c, 0, 0, &g);
        if (!rc) rc = nc_comm_all_reduce_start(c, grad, 64, NC_COMM_F32, NC_COMM_SUM, &r);
        if (!rc) rc = nc_comm_wait(r);
        if (!rc) rc = nc_grad_sync_create(c, grad, 64, &gp, &s);
        /* 32 disjoint ranges force the interval list past its first capacity. */
        for (int64_t i = 0; !rc && i < 32; i++) rc = nc_grad_sync_mark_ready(s, 2 * i, 1);
        if (!rc) rc = nc_grad_sync_wait(s);
        if (rc) {
            CHECK(rc == NC_ERR_OOM);
            CHECK(strstr(nc_last_error(), "out of memory") != NULL);
        } else {
            finished = 1;
        }
        nc_grad_sync_free(s);
        nc_comm_free(g);
        nc_comm_free(c);
        nc_set_allocator(&old);
        CHECK(st.live_blocks == 0);
    }
    CHECK(finished);
}

int main(void) {
    test_launcher_and_create();
    nc_comm *c = NULL;
    CHECK_OK(nc_comm_create_world(&c));
    test_all_reduce(c);
    test_scatter_gather(c);
    test_broadcast_p2p_split(c);
    test_async(c);
    test_grad_sync(c);
    nc_comm_free(c);
    test_oom();
    return nc_test_finish("comm");
}
