#include "nc_test.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int nc_test_failures;
int nc_test_checks;

void nc_test_fail(const char *file, int line, const char *fmt, ...) {
    nc_test_failures++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

bool nc_test_allclose(const char *what, const float *got, const float *want, int64_t n,
                      double rtol, double atol) {
    nc_test_checks++;
    int64_t worst = -1, bad = 0;
    double worst_excess = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        double lim = atol + rtol * fabs((double)want[i]);
        if (!(d <= lim)) {
            bad++;
            double ex = isnan(d) ? INFINITY : d - lim;
            if (worst < 0 || ex > worst_excess) {
                worst = i;
                worst_excess = ex;
            }
        }
    }
    if (bad) {
        nc_test_failures++;
        fprintf(stderr, "FAIL %s: %lld of %lld elements outside rtol=%g atol=%g; worst [%lld] got %.9g want %.9g\n",
                what, (long long)bad, (long long)n, rtol, atol, (long long)worst, got[worst],
                want[worst]);
        return false;
    }
    return true;
}

double nc_test_rel_err(const float *got, const float *want, int64_t n) {
    double md = 0, mw = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (isnan(d)) return INFINITY;
        if (d > md) md = d;
        if (fabs(want[i]) > mw) mw = fabs(want[i]);
    }
    return mw > 0 ? md / mw : md;
}

const char *nc_test_src(const char *rel) {
    static char buf[4096];
    const char *root = getenv("NC_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/%s", root && *root ? root : ".", rel);
    return buf;
}

const char *nc_test_tmpdir(const char *name) {
    static char buf[4096];
    const char *root = getenv("NC_BINARY_DIR");
    char base[4000];
    snprintf(base, sizeof base, "%s/tmp", root && *root ? root : "/tmp");
    mkdir(base, 0755);
    snprintf(buf, sizeof buf, "%s/%s.%ld", base, name, (long)getpid());
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not clear %s\n", buf);
    mkdir(buf, 0755);
    return buf;
}

int nc_test_finish(const char *suite) {
    if (nc_test_failures) {
        fprintf(stderr, "%s: %d of %d checks FAILED\n", suite, nc_test_failures, nc_test_checks);
        return 1;
    }
    printf("%s: all %d checks passed\n", suite, nc_test_checks);
    return 0;
}
