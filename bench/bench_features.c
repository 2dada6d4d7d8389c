/* Feature extraction throughput: nemoc's log-mel featurizer against
 * PyTorch's (bench/torch/features.py, NeMo's FilterbankFeatures.forward) on
 * the same batch, both on one thread unless --threads says otherwise.
 *
 *   bench_features [--batch 32] [--seconds 10] [--repeat 5] [--threads 1]
 *                  [--python /usr/bin/python3] [--no-torch]
 *
 * The batch is written to a temporary .npy that the torch script reads; the
 * script also reports the max |diff| between its features and ours. Prints
 * seconds of audio processed per second of wall time and the ratio. */
#include <libgen.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nemoc/alloc.h"
#include "nemoc/features.h"
#include "nemoc/npy.h"
#include "nemoc/rng.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Speech-band test signal: a few gliding harmonics with an envelope, plus noise. */
static void make_batch(float *x, int64_t B, int64_t T, int sr) {
    nc_rng rng;
    nc_rng_seed(&rng, 42);
    for (int64_t b = 0; b < B; b++) {
        float *xb = x + b * T;
        nc_rng_normal(&rng, xb, T, 0.0f, 0.003f);
        const double f0 = 90.0 + 10.0 * (double)b;
        for (int64_t t = 0; t < T; t++) {
            const double s = (double)t / sr;
            const double env = 0.5 + 0.5 * sin(2 * M_PI * 3.0 * s);
            double v = 0;
            for (int h = 1; h <= 8; h++) v += sin(2 * M_PI * f0 * h * s * (1.0 + 0.05 * sin(2 * M_PI * 0.5 * s))) / h;
            xb[t] += (float)(0.1 * env * v);
        }
    }
}

int main(int argc, char **argv) {
    int64_t B = 32;
    double seconds = 10.0;
    int repeat = 5, threads = 1, run_torch = 1;
    const char *python = "/usr/bin/python3";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--python") && i + 1 < argc) python = argv[++i];
        else if (!strcmp(argv[i], "--no-torch")) run_torch = 0;
        else {
            fprintf(stderr, "usage: %s [--batch N] [--seconds S] [--repeat R] [--threads K] [--python P] [--no-torch]\n",
                    argv[0]);
            return 2;
        }
    }
    if (B <= 0 || seconds <= 0 || repeat <= 0 || threads <= 0) {
        fprintf(stderr, "bench_features: batch, seconds, repeat and threads must be positive\n");
        return 2;
    }
    omp_set_num_threads(threads);
    const int sr = 16000;
    const int64_t T = (int64_t)(seconds * sr);

    /* ASR config of NeMo's Conformer/FastConformer yamls: 25 ms / 10 ms, 80 mels, n_fft 512. */
    nc_feature_config cfg = nc_feature_default_config();
    nc_feature_config_set(&cfg, "window_size", "0.025");
    nc_feature_config_set(&cfg, "features", "80");
    nc_feature_config_set(&cfg, "n_fft", "512");
    nc_feature_config_set(&cfg, "pad_to", "0");
    nc_featurizer *f;
    if (nc_featurizer_create(&cfg, &f)) {
        fprintf(stderr, "bench_features: %s\n", nc_last_error());
        return 1;
    }
    nc_tensor *audio, *lens, *feats = NULL, *flens = NULL;
    if (nc_tensor_new(NC_F32, NC_DIMS(B, T), &audio) || nc_tensor_new(NC_I64, NC_DIMS(B), &lens)) {
        fprintf(stderr, "bench_features: out of memory\n");
        return 1;
    }
    make_batch(nc_f32(audio), B, T, sr);
    for (int64_t b = 0; b < B; b++) nc_i64(lens)[b] = T;

    double best = INFINITY;
    for (int r = 0; r < repeat + 1; r++) {
        nc_tensor_free(feats);
        nc_tensor_free(flens);
        const double t0 = now();
        if (nc_featurizer_forward(f, audio, lens, false, NULL, &feats, &flens)) {
            fprintf(stderr, "bench_features: %s\n", nc_last_error());
            return 1;
        }
        const double dt = now() - t0;
        if (r > 0 && dt < best) best = dt; /* the first run warms caches and pages */
    }
    const double audio_s = (double)B * seconds;
    const double ours = audio_s / best;
    printf("batch %lld x %.1f s at %d Hz, 80 mels, n_fft 512, %d thread(s), best of %d\n", (long long)B, seconds, sr,
           threads, repeat);
    printf("nemoc: %.4f s per batch, %.0f s of audio per second\n", best, ours);

    int rc = 0;
    if (run_torch) {
        char dir[] = "/tmp/nc_bench_featXXXXXX";
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
        char in_path[256], out_path[256], cmd[2048], src[1024];
        snprintf(in_path, sizeof in_path, "%s/audio.npy", dir);
        snprintf(out_path, sizeof out_path, "%s/feats.npy", dir);
        snprintf(src, sizeof src, "%s", __FILE__);
        if (nc_npy_save(in_path, audio) || nc_npy_save(out_path, feats)) {
            fprintf(stderr, "bench_features: %s\n", nc_last_error());
            return 1;
        }
        snprintf(cmd, sizeof cmd, "%s %s/torch/features.py --audio %s --compare %s --repeat %d --threads %d", python,
                 dirname(src), in_path, out_path, repeat, threads);
        FILE *p = popen(cmd, "r");
        double theirs = 0;
        char line[512];
        while (p && fgets(line, sizeof line, p)) {
            fputs(line, stdout);
            sscanf(line, "torch: %*f s per batch, %lf", &theirs);
        }
        rc = p ? pclose(p) : -1;
        unlink(in_path);
        unlink(out_path);
        rmdir(dir);
        if (theirs > 0) printf("ratio nemoc / torch: %.2fx\n", ours / theirs);
        else fprintf(stderr, "bench_features: torch reference did not run (%s)\n", cmd);
    }
    nc_tensor_free(feats);
    nc_tensor_free(flens);
    nc_tensor_free(audio);
    nc_tensor_free(lens);
    nc_featurizer_free(f);
    return rc == 0 ? 0 : 1;
}
