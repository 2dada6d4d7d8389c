/* llm.c's CPU GPT-2 trainer (train_gpt2.c, fetched into bench/llm.c) on the
 * shapes of bench_gpt --arch gpt2: its main() fixes B = 4, T = 64, 40 steps
 * with a validation pass every 10 and a 64-token sample every 20 steps and
 * takes no arguments, so this driver includes train_gpt2.c with TESTING
 * defined (as llm.c's own test_gpt2.c does) and runs main()'s training step
 * unchanged (dataloader_next_batch, gpt2_forward, gpt2_zero_grad,
 * gpt2_backward, gpt2_update with lr 1e-4, timed as main() times it) on
 * bench/llmc/llmc_files.py's checkpoint and token file.
 *
 *   llmc_train CHECKPOINT TOKENS [B 4] [T 256] [steps 3] [warmup 2]
 *
 * Built by bench/run.sh as llm.c's Makefile builds train_gpt2:
 * cc -Ofast -march=native -fopenmp -DOMP (not part of the CMake build). */
#define TESTING
#include "train_gpt2.c"

#include <sys/resource.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: llmc_train CHECKPOINT TOKENS [B] [T] [steps] [warmup]\n");
        return 2;
    }
    const int B = argc > 3 ? atoi(argv[3]) : 4, T = argc > 4 ? atoi(argv[4]) : 256;
    const int steps = argc > 5 ? atoi(argv[5]) : 3, warmup = argc > 6 ? atoi(argv[6]) : 2;
    if (B < 1 || T < 2 || steps < 1 || warmup < 0) return 2;
    GPT2 model;
    gpt2_build_from_checkpoint(&model, argv[1]);
    DataLoader loader;
    dataloader_init(&loader, argv[2], B, T, 0, 1, 1);
    double *t = malloc(sizeof(double) * (size_t)steps), *c = malloc(sizeof(double) * (size_t)steps);
    float loss0 = 0.0f;
    for (int step = 0; step < warmup + steps; step++) {
        double t0 = now_s(), c0 = cpu_s();
        dataloader_next_batch(&loader);
        gpt2_forward(&model, loader.inputs, loader.targets, B, T);
        gpt2_zero_grad(&model);
        gpt2_backward(&model);
        gpt2_update(&model, 1e-4f, 0.9f, 0.999f, 1e-8f, 0.0f, step + 1);
        if (step == 0) loss0 = model.mean_loss;
        if (step >= warmup) t[step - warmup] = now_s() - t0, c[step - warmup] = cpu_s() - c0;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double med = median(t, steps);
    printf("result side=llmc case=gpt2_train prec=32 median_s=%.4f cpu_s=%.3f tok_s=%.0f rss_mb=%.0f loss0=%.6f "
           "loss=%.6f\n",
           med, median(c, steps), (double)(B * T) / med, (double)ru.ru_maxrss / 1024.0, loss0, model.mean_loss);
    dataloader_free(&loader);
    gpt2_free(&model);
    free(t);
    free(c);
    return 0;
}
