/* Timing helpers shared by the benchmarks (header-only, bench/ only). */
#ifndef NC_BENCH_UTIL_H
#define NC_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "nemoc/ctx.h"

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of n samples (sorts in place). */
static inline double bench_median(double *t, int n) {
    if (n <= 0) return 0.0;
    qsort(t, (size_t)n, sizeof *t, bench_cmp);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* CPU time (user + system) of this process so far, in seconds: under
 * contention from other processes it measures work, where wall time also
 * counts waiting for a core. */
static inline double bench_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Peak resident set size of this process in MiB. */
static inline double bench_max_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* The per-op profile of ctx (nc_ctx_set_profile), per step, top entries
 * first, with each op's share of the profiled total. */
static inline void bench_print_profile(const nc_ctx *ctx, int steps) {
    /* Ask for the count first, then all entries: the total covers every op. */
    int64_t n = nc_ctx_profile(ctx, NULL, 0);
    nc_profile_entry *e = n > 0 ? malloc((size_t)n * sizeof *e) : NULL;
    if (!e) return;
    n = nc_ctx_profile(ctx, e, n);
    double total = 0;
    for (int64_t i = 0; i < n; i++) total += e[i].seconds;
    printf("profile (per step, %d steps): total %.1f ms\n", steps, 1e3 * total / steps);
    for (int64_t i = 0; i < n; i++) {
        if (e[i].seconds < 0.002 * total) break;
        printf("  %-20s %-4s %7.1f ms %5.1f%%  %6lld calls\n", e[i].op, e[i].backward ? "bwd" : "fwd",
               1e3 * e[i].seconds / steps, 100.0 * e[i].seconds / total,
               (long long)(e[i].calls / steps));
    }
    free(e);
}

#endif
