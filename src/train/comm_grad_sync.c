/* Bucketed gradient averaging for data-parallel training (nc_grad_sync_*).
 *
 * Mirrors the bucketing of PyTorch's DistributedDataParallel
 * (torch/csrc/distributed/c10d/reducer.cpp): the flat gradient buffer is cut
 * into buckets of bucket_cap_mb (25 MiB), each averaged by its own
 * all-reduce, launched as soon as every gradient in it is final and always
 * in one fixed order (reducer.cpp: "buckets are reduced in order"), here from
 * the last bucket to the first because backward finishes the last layers
 * first. Unlike DDP, buckets are fixed-size slices of one flat buffer (a
 * parameter may straddle two), which needs no per-parameter table.
 *
 * Marked ranges are kept as a sorted list of disjoint intervals, merged as
 * they touch, so a bucket is ready when one interval covers it and a range
 * marked twice is caught exactly, with memory proportional to the number of
 * gaps rather than to the buffer. */
#include <stdio.h>
#include <string.h>

#include "core/vec.h"
#include "nemoc/alloc.h"
#include "train/comm_impl.h"

struct nc_grad_sync {
    nc_comm *comm;
    float *grad; /* (n,) */
    int64_t n;
    int64_t bucket; /* elements per bucket (the last one may be shorter) */
    int64_t n_buckets;
    bool average;
    nc_comm_request **req; /* (n_buckets,) in flight or done this step; NULL = not started */
    bool *ready;           /* (n_buckets,) fully marked this step */
    int64_t next;          /* next bucket to launch; launches count down to 0, then -1 */
    int64_t n_started;
    int64_t *lo, *hi; /* marked ranges [lo, hi): sorted, disjoint, not touching */
    int64_t n_iv, cap_iv;
};

nc_grad_sync_params nc_grad_sync_default_params(void) {
    return (nc_grad_sync_params){.bucket_bytes = NC_GRAD_SYNC_DEFAULT_BUCKET_BYTES,
                                 .average = true};
}

static void reset_step(nc_grad_sync *s) {
    s->n_iv = 0;
    s->next = s->n_buckets - 1;
    s->n_started = 0;
    if (s->n_buckets) memset(s->ready, 0, (size_t)s->n_buckets * sizeof *s->ready);
}

nc_status nc_grad_sync_create(nc_comm *comm, float *grad, int64_t n, const nc_grad_sync_params *p,
                              nc_grad_sync **out) {
    if (!out) return nc_error(NC_ERR_INVALID_ARG, "grad_sync: out is NULL");
    *out = NULL;
    nc_grad_sync_params d = nc_grad_sync_default_params();
    if (!p) p = &d;
    if (!comm) return nc_error(NC_ERR_INVALID_ARG, "grad_sync: communicator is NULL");
    if (n < 0 || (n > 0 && !grad))
        return nc_error(NC_ERR_INVALID_ARG, "grad_sync: gradient buffer of %lld floats at %p",
                        (long long)n, (void *)grad);
    if (p->bucket_bytes < (int64_t)sizeof(float))
        return nc_error(NC_ERR_INVALID_ARG, "grad_sync: bucket_bytes %lld holds no float",
                        (long long)p->bucket_bytes);
    nc_grad_sync *s = nc_calloc(1, sizeof *s);
    if (!s) return nc_error(NC_ERR_OOM, "grad_sync: out of memory");
    s->comm = comm;
    s->grad = grad;
    s->n = n;
    s->bucket = p->bucket_bytes / (int64_t)sizeof(float);
    s->n_buckets = (n + s->bucket - 1) / s->bucket;
    s->average = p->average;
    s->cap_iv = 16;
    s->req = nc_calloc((size_t)s->n_buckets + 1, sizeof *s->req);
    s->ready = nc_calloc((size_t)s->n_buckets + 1, sizeof *s->ready);
    s->lo = nc_malloc((size_t)s->cap_iv * sizeof *s->lo);
    s->hi = nc_malloc((size_t)s->cap_iv * sizeof *s->hi);
    if (!s->req || !s->ready || !s->lo || !s->hi) {
        int64_t nb = s->n_buckets;
        nc_grad_sync_free(s);
        return nc_error(NC_ERR_OOM, "grad_sync: out of memory for %lld buckets", (long long)nb);
    }
    reset_step(s);
    *out = s;
    return NC_OK;
}

void nc_grad_sync_free(nc_grad_sync *s) {
    if (!s) return;
    /* Requests still in flight read and write grad: finish them first. */
    for (int64_t b = 0; s->req && b < s->n_buckets; b++)
        if (s->req[b]) nc_comm_wait(s->req[b]);
    nc_free(s->req);
    nc_free(s->ready);
    nc_free(s->lo);
    nc_free(s->hi);
    nc_free(s);
}

int64_t nc_grad_sync_num_buckets(const nc_grad_sync *s) { return s->n_buckets; }
int64_t nc_grad_sync_num_started(const nc_grad_sync *s) { return s->n_started; }

void nc_grad_sync_bucket_range(const nc_grad_sync *s, int64_t b, int64_t *offset, int64_t *count) {
    int64_t lo = b * s->bucket, hi = lo + s->bucket < s->n ? lo + s->bucket : s->n;
    *offset = lo;
    *count = hi - lo;
}

static nc_reduce_op sync_op(const nc_grad_sync *s) {
    return s->average ? NC_COMM_AVG : NC_COMM_SUM;
}

nc_status nc_grad_sync_all_reduce(nc_grad_sync *s) {
    if (s->n_started || s->n_iv)
        return nc_error(NC_ERR_INVALID_ARG, "grad_sync: an asynchronous step is in progress "
                                            "(finish it with nc_grad_sync_wait)");
    for (int64_t b = s->n_buckets - 1; b >= 0; b--) {
        int64_t off, cnt;
        nc_grad_sync_bucket_range(s, b, &off, &cnt);
        nc_status st = nc_comm_all_reduce(s->comm, s->grad + off, cnt, NC_COMM_F32, sync_op(s));
        if (st) return nc_error_prefix(st, "grad_sync bucket %lld of %lld", (long long)b,
                                       (long long)s->n_buckets);
    }
    return NC_OK;
}

static nc_status launch_next(nc_grad_sync *s) {
    int64_t b = s->next, off, cnt;
    nc_grad_sync_bucket_range(s, b, &off, &cnt);
    nc_status st = nc_comm_all_reduce_start(s->comm, s->grad + off, cnt, NC_COMM_F32, sync_op(s),
                                            &s->req[b]);
    if (st) return nc_error_prefix(st, "grad_sync bucket %lld of %lld", (long long)b,
                                   (long long)s->n_buckets);
    s->next--;
    s->n_started++;
    return NC_OK;
}

/* Index of the last interval with lo <= x, or -1. */
static int64_t find_iv(const nc_grad_sync *s, int64_t x) {
    int64_t a = 0, b = s->n_iv; /* answer in [a - 1, b) */
    while (a < b) {
        int64_t m = a + (b - a) / 2;
        if (s->lo[m] <= x) a = m + 1;
        else b = m;
    }
    return a - 1;
}

/* Room for one more range in both parallel arrays (lo, hi share cap_iv). */
static nc_status grow_iv(nc_grad_sync *s) {
    int64_t cap_lo = s->cap_iv, cap_hi = s->cap_iv;
    if (nc_vec_reserve(&s->lo, &cap_lo, s->n_iv + 1, sizeof *s->lo) ||
        nc_vec_reserve(&s->hi, &cap_hi, s->n_iv + 1, sizeof *s->hi))
        return nc_error(NC_ERR_OOM, "grad_sync: out of memory for %lld ranges", (long long)(s->n_iv + 1));
    s->cap_iv = cap_lo < cap_hi ? cap_lo : cap_hi;
    return NC_OK;
}

/* Adds [a, e) to the marked set, merging with touching neighbours. */
static nc_status insert_range(nc_grad_sync *s, int64_t a, int64_t e) {
    int64_t p = find_iv(s, a); /* p: last with lo <= a; p + 1: first with lo > a */
    if (p >= 0 && s->hi[p] > a)
        return nc_error(NC_ERR_INVALID_ARG, "grad_sync: range [%lld, %lld) overlaps [%lld, %lld) "
                        "already marked ready in this step", (long long)a, (long long)e,
                        (long long)s->lo[p], (long long)s->hi[p]);
    if (p + 1 < s->n_iv && s->lo[p + 1] < e)
        return nc_error(NC_ERR_INVALID_ARG, "grad_sync: range [%lld, %lld) overlaps [%lld, %lld) "
                        "already marked ready in this step", (long long)a, (long long)e,
                        (long long)s->lo[p + 1], (long long)s->hi[p + 1]);
    bool join_prev = p >= 0 && s->hi[p] == a;
    bool join_next = p + 1 < s->n_iv && s->lo[p + 1] == e;
    if (join_prev && join_next) { /* fills the gap: two intervals become one */
        s->hi[p] = s->hi[p + 1];
        int64_t tail = s->n_iv - (p + 2);
        memmove(s->lo + p + 1, s->lo + p + 2, (size_t)tail * sizeof *s->lo);
        memmove(s->hi + p + 1, s->hi + p + 2, (size_t)tail * sizeof *s->hi);
        s->n_iv--;
    } else if (join_prev) {
        s->hi[p] = e;
    } else if (join_next) {
        s->lo[p + 1] = a;
    } else {
        nc_status st;
        if (s->n_iv == s->cap_iv && (st = grow_iv(s))) return st;
        int64_t at = p + 1, tail = s->n_iv - at;
        memmove(s->lo + at + 1, s->lo + at, (size_t)tail * sizeof *s->lo);
        memmove(s->hi + at + 1, s->hi + at, (size_t)tail * sizeof *s->hi);
        s->lo[at] = a;
        s->hi[at] = e;
        s->n_iv++;
    }
    return NC_OK;
}

/* Polls the buckets in flight: nonblocking collectives progress only inside
 * MPI calls, so the trainer's mark_ready calls during backward keep them
 * moving. */
static nc_status progress(nc_grad_sync *s) {
    for (int64_t b = s->n_buckets - 1; b > s->next; b--) {
        bool done;
        nc_status st = nc_comm_test(s->req[b], &done);
        if (st) return st;
    }
    return NC_OK;
}

nc_status nc_grad_sync_mark_ready(nc_grad_sync *s, int64_t offset, int64_t count) {
    if (offset < 0 || count < 0 || offset > s->n - count)
        return nc_error(NC_ERR_INVALID_ARG, "grad_sync: range [%lld, %lld + %lld) outside the "
                        "gradient buffer of %lld floats", (long long)offset, (long long)offset,
                        (long long)count, (long long)s->n);
    nc_status st;
    if (count > 0) {
        if ((st = insert_range(s, offset, offset + count))) return st;
        for (int64_t b = offset / s->bucket; b <= (offset + count - 1) / s->bucket; b++) {
            int64_t off, cnt;
            nc_grad_sync_bucket_range(s, b, &off, &cnt);
            int64_t i = find_iv(s, off);
            s->ready[b] = i >= 0 && s->hi[i] >= off + cnt;
        }
        while (s->next >= 0 && s->ready[s->next])
            if ((st = launch_next(s))) return st;
    }
    return progress(s);
}

nc_status nc_grad_sync_start(nc_grad_sync *s) {
    nc_status st;
    while (s->next >= 0)
        if ((st = launch_next(s))) return st;
    return NC_OK;
}

nc_status nc_grad_sync_wait(nc_grad_sync *s) {
    nc_status first = nc_grad_sync_start(s);
    char msg[512] = "";
    if (first) snprintf(msg, sizeof msg, "%s", nc_last_error());
    /* Wait in launch order; after a failure keep going so every request is
     * released (a broken communicator fails the rest at once). */
    for (int64_t b = s->n_buckets - 1; b >= 0; b--) {
        if (!s->req[b]) continue;
        nc_status st = nc_comm_wait(s->req[b]);
        s->req[b] = NULL;
        if (st && !first) {
            first = nc_error_prefix(st, "grad_sync bucket %lld of %lld", (long long)b,
                                    (long long)s->n_buckets);
            snprintf(msg, sizeof msg, "%s", nc_last_error());
        }
    }
    reset_step(s);
    /* Report the first failure, not the echoes of it from later buckets. */
    return first ? nc_error(first, "%s", msg) : NC_OK;
}
