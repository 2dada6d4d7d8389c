/* Encode throughput of the LLM tokenizers: MB of text per second over a
 * text file (default data/text/sentences.txt), one nc_tokenizer_encode per
 * line, as `nemoc tokenizer encode` and data preprocessing call it. Load
 * time is reported apart. Single thread; CPU time as well as wall time,
 * since the development machine is shared.
 * Usage: bench_tokenizers TYPE PATH [TEXT_FILE] [REPEATS]
 *   TYPE gpt2|hf|llama|bpe|wpe, PATH as `nemoc tokenizer encode --type TYPE PATH`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "nemoc/tokenizer.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_tokenizers TYPE PATH [TEXT_FILE] [REPEATS]\n");
        return 2;
    }
    const char *text_path = argc > 3 ? argv[3] : "data/text/sentences.txt";
    int reps = argc > 4 ? atoi(argv[4]) : 5;
    FILE *f = fopen(text_path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", text_path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) return 1;
    fclose(f);
    buf[size] = 0;
    double t0 = bench_now();
    nc_tokenizer *t = NULL;
    if (nc_tokenizer_load_dir(argv[2], argv[1], &t)) {
        fprintf(stderr, "%s\n", nc_last_error());
        return 1;
    }
    double load = bench_now() - t0;
    nc_token_ids ids = {0};
    double walls[64];
    double cpu0 = bench_cpu_s();
    long long n_ids = 0;
    if (reps > 64) reps = 64;
    for (int r = 0; r < reps; r++) {
        double s = bench_now();
        n_ids = 0;
        for (char *p = buf, *end = buf + size; p < end;) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            char *e = nl ? nl : end;
            if (nc_tokenizer_encode(t, p, e - p, &ids)) {
                fprintf(stderr, "%s\n", nc_last_error());
                return 1;
            }
            n_ids += ids.n;
            p = nl ? nl + 1 : end;
        }
        walls[r] = bench_now() - s;
    }
    double cpu = (bench_cpu_s() - cpu0) / reps;
    double wall = bench_median(walls, reps);
    printf("%s: load %.3f s; %ld bytes -> %lld ids; encode %.2f MB/s (median wall of %d), %.2f MB/s per CPU second\n",
           argv[1], load, size, n_ids, size / wall / 1e6, reps, size / cpu / 1e6);
    nc_token_ids_free(&ids);
    nc_tokenizer_free(t);
    free(buf);
    return 0;
}
