/* Optimizer step throughput on a flat buffer: ms per step and the memory
 * traffic it implies, for each optimizer.
 *     build/bench/bench_optim [million_params] [steps] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nemoc/optim.h"
#include "nemoc/rng.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    double mparams = argc > 1 ? atof(argv[1]) : 16.0;
    int steps = argc > 2 ? atoi(argv[2]) : 5;
    int64_t big = (int64_t)(mparams * 1e6);
    nc_params *p = NULL;
    if (nc_params_create(&p)) return 1;
    /* one large matrix and many small vectors, like a model's weights and norms */
    nc_params_add(p, "w", NC_PARAM_TRAINABLE, NC_F32, NC_DIMS(big));
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof name, "b%d", i);
        nc_params_add(p, name, NC_PARAM_TRAINABLE, NC_F32, NC_DIMS(512));
    }
    if (nc_params_finalize(p)) return 1;
    nc_rng r;
    nc_rng_seed(&r, 1);
    int64_t n = nc_params_flat_size(p);
    nc_rng_normal(&r, nc_params_flat_data(p), n, 0, 1);
    nc_rng_normal(&r, nc_params_flat_grad(p), n, 0, 1e-2f);
    /* streams of 4 bytes read + written per element: x, g, state */
    static const struct {
        nc_optim_kind kind;
        const char *label;
        bool amsgrad;
        double bytes_per_elem;
    } runs[] = {
        {NC_OPTIM_SGD, "sgd+momentum", false, 4 * (2 + 1 + 2)},
        {NC_OPTIM_ADAM, "adam", false, 4 * (2 + 1 + 2 + 2)},
        {NC_OPTIM_ADAMW, "adamw", false, 4 * (2 + 1 + 2 + 2)},
        {NC_OPTIM_ADAMW, "adamw+amsgrad", true, 4 * (2 + 1 + 2 + 2 + 2)},
        {NC_OPTIM_NOVOGRAD, "novograd", false, 4 * (1 + 2 + 1 + 2)},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        nc_optim_params op = nc_optim_default_params(runs[i].kind);
        op.momentum = 0.9;
        op.amsgrad = runs[i].amsgrad;
        nc_optim *o = NULL;
        if (nc_optim_create(p, &op, &o)) return 1;
        nc_optim_step(o); /* touch the state pages */
        double t0 = now();
        for (int s = 0; s < steps; s++) nc_optim_step(o);
        double dt = (now() - t0) / steps;
        printf("%-14s %8.2f M params  %8.2f ms/step  %6.2f GB/s\n", runs[i].label, (double)n / 1e6,
               dt * 1e3, runs[i].bytes_per_elem * (double)n / dt / 1e9);
        nc_optim_free(o);
    }
    double t0 = now();
    double norm = nc_grad_norm(p);
    printf("grad_norm      %8.2f ms (norm %.3f)\n", (now() - t0) * 1e3, norm);
    nc_params_free(p);
    return 0;
}
