#include "nc_test.h"

#include "nemoc/npy.h"
#include "nemoc/params.h"

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

nc_tensor *nc_test_npy(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    nc_tensor *t = NULL;
    nc_status s = nc_npy_load(path, &t);
    if (s) {
        nc_test_failures++;
        fprintf(stderr, "FAIL loading %s: %s\n", path, nc_last_error());
        return NULL;
    }
    return t;
}

int nc_test_load_params(struct nc_params *p, const char *dir, const char *prefix) {
    int n = 0;
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        nc_tensor *dst = nc_params_at(p, i);
        char name[1024];
        snprintf(name, sizeof name, "%s%s", prefix, dst->name);
        nc_tensor *src = nc_test_npy(dir, name);
        if (!src) return -1;
        if (nc_numel(src) != nc_numel(dst) || (src->ndim != dst->ndim && nc_numel(src) != 1)) {
            char a[128], b[128];
            nc_test_failures++;
            fprintf(stderr, "FAIL %s: fixture shape %s, parameter shape %s\n", name,
                    nc_shape_str(src, a, sizeof a), nc_shape_str(dst, b, sizeof b));
            nc_tensor_free(src);
            return -1;
        }
        nc_status s = nc_tensor_convert(src, dst);
        nc_tensor_free(src);
        if (s) {
            nc_test_failures++;
            fprintf(stderr, "FAIL %s: %s\n", name, nc_last_error());
            return -1;
        }
        n++;
    }
    return n;
}

void nc_test_check_grads(struct nc_params *p, const char *dir, const char *prefix, double rtol) {
    /* Pass 1: the largest reference gradient of the model sets the noise scale. */
    double global = 0;
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        if (nc_params_kind_at(p, i) != NC_PARAM_TRAINABLE) continue;
        char name[1024];
        snprintf(name, sizeof name, "%s%s", prefix, nc_params_at(p, i)->name);
        nc_tensor *want = nc_test_npy(dir, name);
        if (!want) continue;
        for (int64_t k = 0; k < nc_numel(want); k++)
            if (fabs(nc_f32(want)[k]) > global) global = fabs(nc_f32(want)[k]);
        nc_tensor_free(want);
    }
    double worst = 0;
    const char *worst_name = "";
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        if (nc_params_kind_at(p, i) != NC_PARAM_TRAINABLE) continue;
        nc_tensor *t = nc_params_at(p, i);
        char name[1024];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        nc_tensor *want = nc_test_npy(dir, name);
        if (!want) continue;
        nc_test_checks++;
        double e = nc_test_rel_err(nc_f32(t->grad), nc_f32(want), nc_numel(want));
        /* Gradients that are zero in exact arithmetic (attention key biases that
         * softmax cancels, conv biases before a training-mode BatchNorm) are
         * rounding noise on both sides. Differences below 1e-4 of the model's
         * largest gradient count as agreement for them. */
        double maxd = 0;
        for (int64_t k = 0; k < nc_numel(want); k++) {
            double dd = fabs(nc_f32(t->grad)[k] - nc_f32(want)[k]);
            maxd = dd > maxd ? dd : maxd;
        }
        if (maxd <= 1e-4 * global) e = e < rtol ? e : 0;
        if (e > worst) {
            worst = e;
            worst_name = t->name;
        }
        if (!(e <= rtol)) {
            nc_test_failures++;
            fprintf(stderr, "FAIL grad %s: relative error %.3g > %.3g (max diff %.3g)\n", t->name, e,
                    rtol, maxd);
        }
        nc_tensor_free(want);
    }
    printf("worst gradient relative error %.3g (%s)\n", worst, worst_name);
}
