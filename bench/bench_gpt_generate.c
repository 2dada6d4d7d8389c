/* Batch-1 greedy generation with MegatronGPTModel through nc_gpt_generate
 * (the KV-cache path `nemoc llm generate` runs), the nemoc side of
 * bench/torch/gpt_generate.py: a random prompt of --prompt tokens, then
 * --new greedy tokens. Reports prompt (prefill) tokens/s, decode tokens/s
 * and the memory-bandwidth limit of decoding: at batch 1 every decode step
 * streams all the weights it multiplies by (fp32) from memory once, so
 * tokens/s cannot exceed bandwidth / weight bytes per token. The bandwidth
 * is measured here with STREAM's copy and triad loops (McCalpin; read +
 * write bytes counted, arrays far larger than the caches, OpenMP threads as
 * nemoc's kernels use them); the limit takes the larger.
 *
 *   bench_gpt_generate [--arch gpt2|llama] [--layers N] [--prompt 128] [--prec 32|bf16]
 *                      [--new 128] [--repeats 3] [--save DIR]
 *
 * Timing: prompt_s is the prefill of the prompt through the first token's
 * logits; decode tokens/s is (new - 1) / decode_s, each later token one
 * forward of one position (the twin counts the same). --save DIR writes the
 * weights, prompt.npy and the greedy ids gen.npy for the twin. Shapes in
 * bench_gpt_arch.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_gpt_arch.h"
#include "bench_util.h"
#include "nemoc/rng.h"

/* Best of 5 passes of STREAM copy (a = b: 2 x 4 bytes per element) and
 * triad (a = b + s c: 3 x 4 bytes) over n floats, in GB/s. */
static void stream_bw(int64_t n, double *copy_gbs, double *triad_gbs) {
    float *x = nc_malloc((size_t)n * sizeof(float)), *y = nc_malloc((size_t)n * sizeof(float));
    float *z = nc_malloc((size_t)n * sizeof(float));
    *copy_gbs = *triad_gbs = 0;
    if (!x || !y || !z) goto out;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) x[i] = 0.0f, y[i] = 1.0f, z[i] = 2.0f; /* first touch per thread */
    for (int pass = 0; pass < 5; pass++) {
        double t0 = bench_now();
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) x[i] = y[i];
        double t1 = bench_now();
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) x[i] = y[i] + 0.5f * z[i];
        double t2 = bench_now();
        double c = 8.0 * (double)n / (t1 - t0) * 1e-9, t = 12.0 * (double)n / (t2 - t1) * 1e-9;
        if (c > *copy_gbs) *copy_gbs = c;
        if (t > *triad_gbs) *triad_gbs = t;
    }
    if (x[n / 2] != 2.0f) fprintf(stderr, "stream: unexpected value %g\n", (double)x[n / 2]);
out:
    nc_free(x), nc_free(y), nc_free(z);
}

/* Bytes of weights one decode step reads (fp32): every matrix and vector,
 * one row of each embedding table, and the word embeddings in full when the
 * head is tied to them. */
static double weight_bytes_per_token(const nc_model *m, const bench_arch *a) {
    double b = 0;
    for (int64_t i = 0; i < nc_params_count(m->params); i++) {
        const nc_tensor *t = nc_params_at(m->params, i);
        const bool emb = strstr(t->name, "word_embeddings") || strstr(t->name, "position_embeddings");
        const bool full = !emb || (a->tied && strstr(t->name, "word_embeddings"));
        b += 4.0 * (double)(full ? nc_numel(t) : t->shape[1]);
    }
    return b;
}

int main(int argc, char **argv) {
    bool bf16 = false;
    const char *arch = "gpt2", *save = NULL;
    int64_t layers = 0, P = 128, N = 128;
    int repeats = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--arch")) arch = v;
        else if (!strcmp(k, "--layers")) layers = atoll(v);
        else if (!strcmp(k, "--prompt")) P = atoll(v);
        else if (!strcmp(k, "--new")) N = atoll(v);
        else if (!strcmp(k, "--repeats")) repeats = atoi(v);
        else if (!strcmp(k, "--save")) save = v;
        else if (!strcmp(k, "--prec")) bf16 = !strcmp(v, "bf16");
        else { fprintf(stderr, "unknown option %s\n", k); return 2; }
    }
    if (argc % 2 == 0) { fprintf(stderr, "%s needs a value\n", argv[argc - 1]); return 2; }
    const bench_arch *a = bench_arch_find(arch);
    if (!a || P < 1 || N < 2 || repeats < 1) { fprintf(stderr, "bad --arch or sizes\n"); return 2; }
    const int64_t L = layers > 0 ? layers : a->layers;
    nc_model *m = NULL;
    if (bench_arch_build(a, L, P + N, 0.0, &m)) { fprintf(stderr, "model: %s\n", nc_last_error()); return 1; }
    nc_rng rng;
    nc_rng_seed(&rng, 7);
    int64_t *p64 = nc_malloc((size_t)P * sizeof(int64_t));
    int32_t *prompt = nc_malloc((size_t)P * sizeof(int32_t));
    if (!p64 || !prompt) return 1;
    nc_rng_randint(&rng, p64, P, 0, a->vocab);
    for (int64_t i = 0; i < P; i++) prompt[i] = (int32_t)p64[i];

    nc_gen_params gp = nc_gen_default_params();
    gp.bf16 = bf16; /* weights read from bf16 copies made once */
    gp.greedy = true;
    gp.max_new_tokens = N;
    gp.stop_at_eos = false;
    gp.repetition_penalty = 1.0;
    double *tp = nc_malloc((size_t)repeats * sizeof(double)), *td = nc_malloc((size_t)repeats * sizeof(double));
    int32_t *first = NULL;
    for (int r = -1; r < repeats; r++) { /* r = -1: warm-up (page faults, first-touch of the arenas) */
        const int32_t *ids[1] = {prompt};
        int32_t *out[1] = {NULL};
        int64_t n_out[1] = {0};
        nc_gen_stats st;
        if (nc_gpt_generate(m, 1, ids, &P, &gp, NULL, NULL, out, n_out, &st)) {
            fprintf(stderr, "generate: %s\n", nc_last_error());
            return 1;
        }
        if (n_out[0] != N) { fprintf(stderr, "generate: %lld of %lld tokens\n", (long long)n_out[0], (long long)N); return 1; }
        if (r < 0) first = out[0];
        else {
            if (memcmp(first, out[0], (size_t)N * sizeof(int32_t))) fprintf(stderr, "greedy ids differ between runs\n");
            nc_free(out[0]);
            tp[r] = st.prompt_s, td[r] = st.decode_s;
        }
    }
    if (save) {
        int64_t *g64 = nc_malloc((size_t)N * sizeof(int64_t));
        for (int64_t i = 0; i < N; i++) g64[i] = first[i];
        nc_status s = bench_save_weights(m, save);
        if (!s) s = bench_save_ids(save, "prompt.npy", p64, P, 0);
        if (!s) s = bench_save_ids(save, "gen.npy", g64, N, 0);
        nc_free(g64);
        if (s) { fprintf(stderr, "save: %s\n", nc_last_error()); return 1; }
    }
    const double ps = bench_median(tp, repeats), ds = bench_median(td, repeats);
    const double rss = bench_max_rss_mb(); /* before the bandwidth arrays */
    double copy, triad;
    stream_bw((int64_t)1 << 26, &copy, &triad); /* 3 x 256 MiB */
    /* bf16: every weight matrix is read as a 2-byte copy (the embedding rows
     * looked up stay fp32, a few KB) */
    const double bw = copy > triad ? copy : triad, wb = weight_bytes_per_token(m, a) / (bf16 ? 2.0 : 1.0);
    const double kv = 2.0 * (double)L * (double)(P + N / 2) * (double)(a->groups * (a->hidden / a->heads)) * 4.0;
    const double dec = (double)(N - 1) / ds, limit = bw * 1e9 / wb;
    printf("result side=nemoc case=gen_%s prompt=%lld new=%lld prompt_s=%.4f prompt_tok_s=%.1f decode_s=%.4f "
           "decode_tok_s=%.2f copy_gbs=%.1f triad_gbs=%.1f weight_mb=%.1f kv_mb=%.1f limit_tok_s=%.2f share=%.3f "
           "rss_mb=%.0f\n",
           a->name, (long long)P, (long long)N, ps, (double)P / ps, ds, dec, copy, triad, wb / 1048576.0,
           kv / 1048576.0, limit, dec / limit, rss);
    printf("ids:");
    for (int64_t i = 0; i < (N < 16 ? N : 16); i++) printf(" %d", first[i]);
    printf("\n");
    nc_free(first), nc_free(p64), nc_free(prompt), nc_free(tp), nc_free(td);
    nc_model_free(m);
    return 0;
}
