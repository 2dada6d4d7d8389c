/* NeMo LR schedulers against tests/ref/optim/sched_*.npy (gen_optim.py: NeMo's
 * lr_scheduler.py formulas driven through torch's _LRScheduler). Every lr
 * must match within 1e-7 relative; the keys' error checks are tested too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/npy.h"
#include "nemoc/sched.h"

/* SP() starts from NeMo's "unset" values and lets a case override them. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Winitializer-overrides"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Woverride-init"
#endif

/* Mirrors SCHED in tests/ref/gen_optim.py; unset keys keep the defaults. */
typedef struct sched_case {
    const char *file;
    nc_sched_params p;
} sched_case;

#define SP(...) ((nc_sched_params){.max_steps = -1, .warmup_steps = -1, .warmup_ratio = -1,  \
                                   .hold_steps = -1, .hold_ratio = -1, .constant_steps = -1, \
                                   .constant_ratio = -1, .min_lr = -1, .d_model = -1,       \
                                   .decay_rate = 0.5, .power = 1.0, .last_epoch = -1,       \
                                   __VA_ARGS__})

static const sched_case cases[] = {
    {"warmup_policy", SP(.name = "WarmupPolicy", .lr = 0.1, .warmup_steps = 5, .max_steps = 20, .min_lr = 1e-4)},
    {"warmup_policy_nomax", SP(.name = "WarmupPolicy", .lr = 0.1, .warmup_steps = 3)},
    {"warmup_hold", SP(.name = "WarmupHoldPolicy", .lr = 0.5, .warmup_ratio = 0.1, .hold_steps = 5,
                       .max_steps = 50, .min_lr = 1e-3)},
    {"cosine", SP(.name = "CosineAnnealing", .lr = 2.0, .warmup_steps = 10, .max_steps = 100, .min_lr = 1e-5)},
    {"cosine_ratio", SP(.name = "CosineAnnealing", .lr = 1e-3, .warmup_ratio = 0.05, .max_steps = 200)},
    {"cosine_nowarmup", SP(.name = "CosineAnnealing", .lr = 1e-3, .max_steps = 50, .min_lr = 1e-6)},
    {"cosine_constant", SP(.name = "CosineAnnealing", .lr = 2e-4, .warmup_steps = 10, .constant_steps = 20,
                           .max_steps = 100, .min_lr = 2e-5)},
    {"cosine_resume", SP(.name = "CosineAnnealing", .lr = 2.0, .warmup_steps = 10, .max_steps = 100,
                         .min_lr = 1e-5, .last_epoch = 37)},
    {"noam", SP(.name = "NoamAnnealing", .lr = 2.0, .d_model = 256, .warmup_steps = 25, .min_lr = 1e-6)},
    {"noam_nowarmup", SP(.name = "NoamAnnealing", .lr = 5.0, .d_model = 1, .min_lr = 0.5)},
    {"noam_ratio", SP(.name = "NoamAnnealing", .lr = 1.0, .d_model = 176, .warmup_ratio = 0.1, .max_steps = 300)},
    {"noam_hold", SP(.name = "NoamHoldAnnealing", .lr = 1e-3, .warmup_steps = 10, .hold_steps = 20,
                     .max_steps = 100, .decay_rate = 0.5, .min_lr = 1e-5)},
    {"inv_sqrt", SP(.name = "InverseSquareRootAnnealing", .lr = 1e-2, .warmup_steps = 10, .max_steps = 100)},
    {"poly", SP(.name = "PolynomialDecayAnnealing", .lr = 1e-2, .warmup_steps = 5, .max_steps = 50,
                .min_lr = 1e-5, .power = 2.0)},
    {"poly_cycle", SP(.name = "PolynomialDecayAnnealing", .lr = 1e-2, .warmup_steps = 5, .max_steps = 50,
                      .power = 1.0, .cycle = true)},
    {"poly_hold", SP(.name = "PolynomialHoldDecayAnnealing", .lr = 1e-2, .warmup_steps = 5, .hold_steps = 10,
                     .max_steps = 50, .power = 1.5, .min_lr = 1e-4)},
    {"poly_hold_nohold", SP(.name = "PolynomialHoldDecayAnnealing", .lr = 1e-2, .warmup_steps = 5, .max_steps = 50)},
    {"warmup_annealing", SP(.name = "WarmupAnnealing", .lr = 0.1, .warmup_ratio = 0.1, .max_steps = 50,
                            .min_lr = 0.01)},
    {"square", SP(.name = "SquareAnnealing", .lr = 0.1, .warmup_steps = 5, .max_steps = 40)},
    {"sqrt", SP(.name = "SquareRootAnnealing", .lr = 0.1, .warmup_steps = 5, .max_steps = 40, .min_lr = 1e-4)},
    {"t5", SP(.name = "T5InverseSquareRootAnnealing", .lr = 1.0, .constant_steps = 10, .max_steps = 60)},
    {"hold_linear", SP(.name = "WarmupHoldAnnealLinear", .lr = 1e-3, .warmup_steps = 5, .hold_steps = 5,
                       .max_steps = 40, .min_lr = 1e-4)},
    {"hold_1msqrt", SP(.name = "WarmupHoldAnnealOneMinusSquareRoot", .lr = 1e-3, .warmup_steps = 5,
                       .hold_steps = 5, .max_steps = 40)},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

/* The fixture stores float64 values bit-exactly as int64. */
static double *load_lrs(const char *file, int64_t *n) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/ref/optim/sched_%s.npy", file);
    nc_tensor *t = NULL;
    nc_status st = nc_npy_load(nc_test_src(rel), &t);
    if (st != NC_OK || t->dtype != NC_I64 || t->ndim != 1) {
        nc_test_fail(__FILE__, __LINE__, "cannot load %s: %s", rel, nc_last_error());
        nc_tensor_free(t);
        return NULL;
    }
    *n = t->shape[0];
    double *v = malloc((size_t)*n * sizeof(double));
    memcpy(v, t->data, (size_t)*n * sizeof(double));
    nc_tensor_free(t);
    return v;
}

static void test_fixtures(void) {
    double worst_all = 0;
    for (int c = 0; c < N_CASES; c++) {
        int64_t n = 0;
        double *want = load_lrs(cases[c].file, &n);
        if (!want) continue;
        nc_sched *s = NULL;
        CHECK_OK(nc_sched_create(&cases[c].p, &s));
        if (!s) {
            free(want);
            continue;
        }
        double worst = 0;
        int64_t worst_k = 0;
        for (int64_t k = 0; k < n; k++) {
            double got = nc_sched_lr_for_step(s, k);
            double rel = fabs(got - want[k]) / fmax(fabs(want[k]), 1e-300);
            if (want[k] == 0) rel = fabs(got);
            if (!(rel <= worst)) {
                worst = rel;
                worst_k = k;
            }
            /* the pure function at last_epoch = k + last_epoch + 1 is the same value */
            if (nc_sched_lr(s, k + cases[c].p.last_epoch + 1) != got) worst = INFINITY;
        }
        nc_test_checks++;
        if (!(worst <= 1e-7))
            nc_test_fail(__FILE__, __LINE__, "%s: step %lld rel err %.3g (got %.17g want %.17g)",
                         cases[c].file, (long long)worst_k, worst, nc_sched_lr_for_step(s, worst_k),
                         want[worst_k]);
        if (worst > worst_all) worst_all = worst;
        nc_sched_free(s);
        free(want);
    }
    printf("sched: %d cases, worst relative error %.3g\n", N_CASES, worst_all);
}

static void test_resolved(void) {
    nc_sched *s = NULL;
    nc_sched_params p = SP(.name = "WarmupHoldPolicy", .lr = 1, .warmup_ratio = 0.1, .hold_ratio = 0.25,
                           .max_steps = 99);
    CHECK_OK(nc_sched_create(&p, &s));
    if (s) {
        CHECK(nc_sched_warmup_steps(s) == 9);    /* int(0.1 * 99) */
        CHECK(nc_sched_hold_steps(s) == 24 + 9); /* int(0.25 * 99) + warmup */
        CHECK(strcmp(nc_sched_name(s), "WarmupHoldPolicy") == 0);
        nc_sched_free(s);
    }
    /* defaults of the struct are NeMo's: every key unset */
    nc_sched_params d = nc_sched_default_params();
    CHECK(d.warmup_steps == -1 && d.warmup_ratio < 0 && d.last_epoch == -1 && d.max_steps == -1);
    d.name = "CosineAnnealing";
    d.max_steps = 10;
    CHECK_OK(nc_sched_create(&d, &s));
    if (s) {
        CHECK_NEAR(nc_sched_lr(s, 0), 1e-3, 0); /* no warmup: cos(0) = 1 */
        CHECK_NEAR(nc_sched_lr(s, 10), 0, 1e-18);
        CHECK_NEAR(nc_sched_lr(s, 11), 0, 0); /* past max_steps: min_lr */
        nc_sched_free(s);
    }
    CHECK(nc_sched_known("NoamAnnealing") && !nc_sched_known("StepLR"));
}

static void expect_config_error(nc_sched_params p, const char *what) {
    nc_sched *s = NULL;
    nc_status st = nc_sched_create(&p, &s);
    nc_test_checks++;
    if (st != NC_ERR_CONFIG || s)
        nc_test_fail(__FILE__, __LINE__, "%s: expected a config error, got %s", what, nc_status_str(st));
    nc_sched_free(s);
}

static void test_errors(void) {
    expect_config_error(SP(.name = "CosineAnnealingX", .lr = 1, .max_steps = 10), "unknown name");
    expect_config_error(SP(.name = NULL, .lr = 1, .max_steps = 10), "no name");
    expect_config_error(SP(.name = "CosineAnnealing", .lr = 1), "cosine without max_steps");
    expect_config_error(SP(.name = "CosineAnnealing", .lr = 1, .max_steps = 10, .warmup_steps = 2,
                           .warmup_ratio = 0.1),
                        "warmup_steps and warmup_ratio");
    expect_config_error(SP(.name = "WarmupPolicy", .lr = 1, .warmup_ratio = 0.1), "ratio without max_steps");
    expect_config_error(SP(.name = "CosineAnnealing", .lr = 1e-6, .max_steps = 10, .min_lr = 1e-5),
                        "lr below min_lr");
    expect_config_error(SP(.name = "CosineAnnealing", .lr = 1, .max_steps = 10, .hold_steps = 3),
                        "hold_steps for cosine");
    expect_config_error(SP(.name = "NoamAnnealing", .lr = 1, .warmup_steps = 3), "noam without d_model");
    expect_config_error(SP(.name = "NoamHoldAnnealing", .lr = 1, .max_steps = 10), "noam hold without warmup");
    expect_config_error(SP(.name = "T5InverseSquareRootAnnealing", .lr = 1, .max_steps = 10,
                           .constant_ratio = 0.1),
                        "t5 with a ratio");
    expect_config_error(SP(.name = "WarmupPolicy", .lr = -1, .max_steps = 10), "negative lr");
    expect_config_error(SP(.name = "WarmupPolicy", .lr = 1, .max_steps = 10, .last_epoch = -2), "last_epoch");
    CHECK(strstr(nc_last_error(), "last_epoch") != NULL);
}

int main(void) {
    test_fixtures();
    test_resolved();
    test_errors();
    return nc_test_finish("test_sched");
}
