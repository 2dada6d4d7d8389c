/* Minimal test harness: checks that count failures, a non-zero exit on any
 * failure, tolerance comparisons that print the worst element, and paths to
 * fixtures in the source tree. */
#ifndef NC_TEST_H
#define NC_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nemoc/status.h"
#include "nemoc/tensor.h"

extern int nc_test_failures;
extern int nc_test_checks;

void nc_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CHECK(cond)                                                                \
    do {                                                                           \
        nc_test_checks++;                                                          \
        if (!(cond)) nc_test_fail(__FILE__, __LINE__, "check failed: %s", #cond); \
    } while (0)

#define CHECK_OK(expr)                                                                       \
    do {                                                                                     \
        nc_test_checks++;                                                                    \
        nc_status s_ = (expr);                                                               \
        if (s_ != NC_OK)                                                                     \
            nc_test_fail(__FILE__, __LINE__, "%s -> %s: %s", #expr, nc_status_str(s_),       \
                         nc_last_error());                                                   \
    } while (0)

/* expr fails with status `code` and a message containing `needle`. */
#define CHECK_ERR(expr, code, needle)                                                              \
    do {                                                                                           \
        nc_test_checks++;                                                                          \
        nc_status s_ = (expr);                                                                     \
        if (s_ != (code) || !strstr(nc_last_error(), (needle)))                                    \
            nc_test_fail(__FILE__, __LINE__, "%s -> %s \"%s\"; wanted %s containing \"%s\"", #expr, \
                         nc_status_str(s_), nc_last_error(), nc_status_str(code), (needle));       \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                \
    do {                                                                                     \
        nc_test_checks++;                                                                    \
        double a_ = (a), b_ = (b);                                                           \
        if (!(a_ - b_ <= (tol) && b_ - a_ <= (tol)))                                         \
            nc_test_fail(__FILE__, __LINE__, "%s = %.9g, %s = %.9g, |diff| > %g", #a, a_, #b, \
                         b_, (double)(tol));                                                 \
    } while (0)

/* |got - want| <= atol + rtol * |want| everywhere; prints the worst element. */
bool nc_test_allclose(const char *what, const float *got, const float *want, int64_t n,
                      double rtol, double atol);
/* Max |got-want| / max(|want|) over the array (relative to the array's scale). */
double nc_test_rel_err(const float *got, const float *want, int64_t n);

/* $NC_SOURCE_DIR/rel (or ./rel); static buffer, copy if kept. */
const char *nc_test_src(const char *rel);
/* A fresh empty folder under $NC_BINARY_DIR/tmp (or /tmp). */
const char *nc_test_tmpdir(const char *name);

struct nc_params;
/* Loads every tensor of `p` from <dir>/<prefix><name>.npy (shape checked,
 * dtype converted); returns the number of tensors loaded, -1 on failure. */
int nc_test_load_params(struct nc_params *p, const char *dir, const char *prefix);
/* Compares the gradient of every trainable tensor of `p` with
 * <dir>/<prefix><name>.npy: max |diff| <= rtol * max |want| per tensor. */
void nc_test_check_grads(struct nc_params *p, const char *dir, const char *prefix, double rtol);
/* Loads <dir>/<name>.npy into a new heap tensor (NULL on failure, reported). */
nc_tensor *nc_test_npy(const char *dir, const char *name);

/* Prints the summary; returns the process exit code. */
int nc_test_finish(const char *suite);

#endif
