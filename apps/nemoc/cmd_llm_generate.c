/* `nemoc llm generate`: NeMo's examples/nlp/language_modeling/
 * megatron_gpt_eval.py for a model file, with its `inference:` keys.
 *
 *   nemoc llm generate model=M.nemo prompts='["text one","text two"]' [options]
 *
 * Prompts are text (prompt=, prompts=, prompts_file= one per line) or token
 * ids (prompt_ids="1 2 3", for models without a tokenizer and for exact
 * comparisons). Tokens stream to stdout as they come for one prompt; a batch
 * prints each continuation when done. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nemoc/alloc.h"
#include "nemoc/collections.h"
#include "nemoc/llm_gpt.h"
#include "nemoc/tokenizer.h"

static void usage(void) {
    puts("usage: nemoc llm generate model=M.nemo (prompt=TEXT | prompts=[T1,T2] | prompts_file=F | prompt_ids=\"1 2 3\")\n"
         "                          [options]\n\n"
         "Continues prompts with a GPT model (megatron_gpt_eval.py). Options (also as inference.KEY):\n"
         "  model=PATH | gpt_model_file=PATH   .nemo or nemoc .ckpt of a MegatronGPTModel\n"
         "  tokens_to_generate=30 (max_new_tokens)  min_tokens_to_generate=0\n"
         "  greedy=false  temperature=1.0  top_k=0  top_p=0.9  repetition_penalty=1.2\n"
         "  add_BOS=false              prepend the tokenizer's bos id\n"
         "  end_strings=[\"<|endoftext|>\"]  stop when the continuation contains one\n"
         "  print_ids=false            print token ids instead of text\n"
         "  seed=1234                  sampling seed\n"
         "  stream=true                print tokens as they come (one prompt)\n"
         "  precision=32|bf16          bf16: weights read as bf16 copies made once (faster decoding)\n"
         "Speed (prompt tokens/s, generated tokens/s) goes to stderr.");
}

static int fail(const char *what) {
    fprintf(stderr, "nemoc llm generate: %s: %s\n", what, nc_last_error());
    return 1;
}

static const char *const keys[] = {
    "model", "gpt_model_file", "model_path", "prompt", "prompts", "prompts_file", "prompt_ids", "tokens_to_generate",
    "max_new_tokens", "min_tokens_to_generate", "greedy", "temperature", "top_k", "top_p", "repetition_penalty",
    "add_BOS", "end_strings", "print_ids", "seed", "stream", "inference", "compute_logprob", "all_probs",
    "trainer", "tensor_model_parallel_size", "pipeline_model_parallel_size", "precision", NULL};

/* key, or inference.key */
static const char *pick_key(const nc_cfg *a, const char *key, char *buf, size_t cap) {
    snprintf(buf, cap, "inference.%s", key);
    return nc_cfg_has(a, buf) ? buf : key;
}

typedef struct stream_ctx {
    bool ids, on;
} stream_ctx;

static int on_token(void *user, int64_t b, int32_t id, const char *piece) {
    (void)b;
    stream_ctx *sc = user;
    if (!sc->on) return 0;
    if (sc->ids || !piece) {
        printf("%d ", id);
    } else {
        /* sentencepiece / byte-level pieces: decode spaces for the live view */
        for (const char *p = piece; *p; p++) {
            if (!strncmp(p, "\xe2\x96\x81", 3)) { putchar(' '); p += 2; }
            else if (!strncmp(p, "\xc4\xa0", 2)) { putchar(' '); p += 1; }
            else if (!strncmp(p, "\xc4\x8a", 2)) { putchar('\n'); p += 1; }
            else putchar(*p);
        }
    }
    fflush(stdout);
    return 0;
}

int nc_cmd_llm_generate(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        }
    nc_cfg *a = NULL;
    if (nc_cfg_parse("{}", 2, "arguments", &a)) return fail("arguments");
    for (int i = 1; i < argc; i++) {
        char *o = nc_malloc(strlen(argv[i]) + 3);
        if (!o) return fail("arguments");
        sprintf(o, "++%s", argv[i][0] == '+' ? argv[i] + strspn(argv[i], "+") : argv[i]);
        nc_status s = nc_cfg_apply_override(a, o);
        nc_free(o);
        if (s) {
            nc_cfg_free(a);
            return fail("arguments");
        }
    }
    int rc = 1;
    nc_model *m = NULL;
    int64_t B = 0;
    int32_t **prompts = NULL, **out = NULL;
    int64_t *plen = NULL, *olen = NULL;
    const char **texts = NULL;
    char *file_buf = NULL;
    nc_token_ids tids = {0};
    const char *path = NULL, *ids_text = NULL, *one = NULL, *pfile = NULL;
    char kb[128];
    nc_gen_params gp = nc_gen_default_params();
    bool print_ids = false, add_bos = false, stream = true;
    int64_t seed = 1234;
    const char **ends = NULL;
    int64_t n_ends = 0;
    if (nc_cfg_check_keys(a, "", keys) || nc_cfg_get_str_or(a, "model", NULL, &path) ||
        (!path && nc_cfg_get_str_or(a, "gpt_model_file", NULL, &path)) ||
        (!path && nc_cfg_get_str_or(a, "model_path", NULL, &path)) ||
        nc_cfg_get_str_or(a, "prompt_ids", NULL, &ids_text) || nc_cfg_get_str_or(a, "prompt", NULL, &one) ||
        nc_cfg_get_str_or(a, "prompts_file", NULL, &pfile) ||
        nc_cfg_get_int_in_or(a, pick_key(a, "tokens_to_generate", kb, sizeof kb), 30, 0, 1 << 20, &gp.max_new_tokens) ||
        nc_cfg_get_int_in_or(a, "max_new_tokens", gp.max_new_tokens, 0, 1 << 20, &gp.max_new_tokens) ||
        nc_cfg_get_int_in_or(a, pick_key(a, "min_tokens_to_generate", kb, sizeof kb), 0, 0, 1 << 20, &gp.min_new_tokens) ||
        nc_cfg_get_bool_or(a, pick_key(a, "greedy", kb, sizeof kb), false, &gp.greedy) ||
        nc_cfg_get_float_in_or(a, pick_key(a, "temperature", kb, sizeof kb), 1.0, 1e-6, 1e6, &gp.temperature) ||
        nc_cfg_get_int_in_or(a, pick_key(a, "top_k", kb, sizeof kb), 0, 0, 1 << 24, &gp.top_k) ||
        nc_cfg_get_float_in_or(a, pick_key(a, "top_p", kb, sizeof kb), 0.9, 0, 1, &gp.top_p) ||
        nc_cfg_get_float_in_or(a, pick_key(a, "repetition_penalty", kb, sizeof kb), 1.2, 1e-6, 1e6,
                               &gp.repetition_penalty) ||
        nc_cfg_get_bool_or(a, pick_key(a, "add_BOS", kb, sizeof kb), false, &add_bos) ||
        nc_cfg_get_bool_or(a, "print_ids", false, &print_ids) || nc_cfg_get_bool_or(a, "stream", true, &stream) ||
        nc_cfg_get_int_in_or(a, "seed", 1234, 0, INT64_MAX, &seed)) {
        fail("arguments");
        goto done;
    }
    gp.seed = (uint64_t)seed;
    const char *prec = "32";
    if (nc_cfg_get_str_or(a, nc_cfg_has(a, "trainer.precision") ? "trainer.precision" : "precision", "32", &prec)) {
        fail("precision");
        goto done;
    }
    if (!strcmp(prec, "bf16") || !strcmp(prec, "bf16-mixed")) gp.bf16 = true;
    else if (strcmp(prec, "32") && strcmp(prec, "32-true")) {
        fprintf(stderr, "nemoc llm generate: precision '%s': expected 32 or bf16\n", prec);
        goto done;
    }
    if (nc_cfg_has(a, pick_key(a, "end_strings", kb, sizeof kb)) &&
        nc_cfg_get_str_list(a, pick_key(a, "end_strings", kb, sizeof kb), &ends, &n_ends)) {
        fail("end_strings");
        goto done;
    }
    if (!path) {
        fprintf(stderr, "nemoc llm generate: model=PATH is required (see --help)\n");
        rc = 2;
        goto done;
    }
    if (nc_register_collections() || nc_model_load(path, &m) || nc_model_expect(m, "llm", false, "a language model", path)) {
        fail(path);
        goto done;
    }
    const nc_tokenizer *tok = nc_gpt_tokenizer(m);
    /* the prompts as text or ids */
    int64_t n_text = 0;
    if (ids_text) {
        B = 1;
    } else if (one) {
        texts = nc_malloc(sizeof *texts);
        if (texts) texts[0] = one;
        n_text = B = 1;
    } else if (pfile) {
        FILE *f = fopen(pfile, "rb");
        if (!f) {
            fprintf(stderr, "nemoc llm generate: prompts_file '%s': cannot open\n", pfile);
            goto done;
        }
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        file_buf = sz >= 0 && sz < (1L << 28) ? nc_malloc((size_t)sz + 1) : NULL;
        size_t got = file_buf ? fread(file_buf, 1, (size_t)sz, f) : 0;
        fclose(f);
        if (!file_buf || got != (size_t)sz) {
            fprintf(stderr, "nemoc llm generate: prompts_file '%s': unreadable or larger than 256 MiB\n", pfile);
            goto done;
        }
        file_buf[sz] = 0;
        for (char *p = file_buf; *p; p++) n_text += *p == '\n';
        n_text += sz > 0 && file_buf[sz - 1] != '\n';
        texts = nc_calloc((size_t)(n_text ? n_text : 1), sizeof *texts);
        int64_t k = 0;
        for (char *p = strtok(file_buf, "\n"); p && texts; p = strtok(NULL, "\n")) texts[k++] = p;
        n_text = B = k;
    } else if (nc_cfg_has(a, "prompts")) {
        if (nc_cfg_get_str_list(a, "prompts", &texts, &n_text)) {
            fail("prompts");
            goto done;
        }
        B = n_text;
    }
    if (B < 1) {
        fprintf(stderr, "nemoc llm generate: no prompt (prompt=, prompts=, prompts_file= or prompt_ids=)\n");
        rc = 2;
        goto done;
    }
    if (n_text && !tok) {
        fprintf(stderr, "nemoc llm generate: %s has no tokenizer: give prompt_ids=\"...\" and print_ids=true\n", path);
        goto done;
    }
    prompts = nc_calloc((size_t)B, sizeof *prompts);
    out = nc_calloc((size_t)B, sizeof *out);
    plen = nc_calloc((size_t)B, sizeof *plen);
    olen = nc_calloc((size_t)B, sizeof *olen);
    if (!prompts || !out || !plen || !olen) goto done;
    for (int64_t b = 0; b < B; b++) {
        int64_t n = 0;
        if (ids_text) {
            prompts[b] = nc_malloc((strlen(ids_text) / 2 + 2) * sizeof(int32_t));
            if (!prompts[b]) goto done;
            for (char *e, *p = (char *)ids_text;; p = e) {
                long v = strtol(p, &e, 10);
                if (e == p) break;
                prompts[b][n++] = (int32_t)v;
            }
        } else {
            if (nc_tokenizer_encode(tok, texts[b], -1, &tids)) {
                fail("tokenizing the prompt");
                goto done;
            }
            prompts[b] = nc_malloc((size_t)(tids.n + 2) * sizeof(int32_t));
            if (!prompts[b]) goto done;
            nc_tokenizer_special sp = nc_tokenizer_special_ids(tok);
            int32_t bos = sp.bos_id >= 0 ? sp.bos_id : nc_tokenizer_piece_to_id(tok, "<|endoftext|>");
            if (add_bos && bos >= 0) prompts[b][n++] = bos;
            memcpy(prompts[b] + n, tids.ids, (size_t)tids.n * sizeof(int32_t));
            n += tids.n;
        }
        plen[b] = n;
    }
    const char **stop = NULL;
    if (n_ends) {
        stop = nc_calloc((size_t)n_ends + 1, sizeof *stop);
        if (!stop) goto done;
        memcpy(stop, ends, (size_t)n_ends * sizeof *stop);
        gp.stop_strings = stop;
    }
    stream_ctx sc = {.ids = print_ids || !tok, .on = stream && B == 1};
    if (sc.on && !print_ids && texts) printf("%s", texts[0]);
    nc_gen_stats st;
    nc_status s = nc_gpt_generate(m, B, (const int32_t *const *)prompts, plen, &gp, on_token, &sc, out, olen, &st);
    nc_free(stop);
    if (s) {
        if (sc.on) putchar('\n');
        fail("generating");
        goto done;
    }
    if (sc.on) putchar('\n');
    for (int64_t b = 0; b < B && !sc.on; b++) {
        if (print_ids || !tok) {
            for (int64_t i = 0; i < olen[b]; i++) printf("%s%d", i ? " " : "", out[b][i]);
            putchar('\n');
        } else {
            /* the prompt and its continuation decoded together, as NeMo's
             * generate returns them (a separate decode would lose the space
             * a continuation's first piece carries) */
            int32_t *all = nc_malloc((size_t)(plen[b] + olen[b] + 1) * sizeof(int32_t));
            char *t = NULL;
            if (all) {
                memcpy(all, prompts[b], (size_t)plen[b] * sizeof(int32_t));
                memcpy(all + plen[b], out[b], (size_t)olen[b] * sizeof(int32_t));
            }
            if (!all || nc_tokenizer_decode(tok, all, plen[b] + olen[b], &t)) {
                nc_free(all);
                fail("decoding");
                goto done;
            }
            nc_free(all);
            printf("%s\n", t);
            nc_free(t);
        }
    }
    fflush(stdout);
    fprintf(stderr, "prompt: %lld tokens in %.3f s (%.1f tok/s); generated %lld tokens in %.3f s (%.1f tok/s)\n",
            (long long)st.prompt_tokens, st.prompt_s, st.prompt_s > 0 ? (double)st.prompt_tokens / st.prompt_s : 0.0,
            (long long)st.new_tokens, st.decode_s, st.decode_s > 0 ? (double)st.new_tokens / st.decode_s : 0.0);
    rc = 0;
done:
    for (int64_t b = 0; b < B; b++) {
        if (prompts) nc_free(prompts[b]);
        if (out) nc_free(out[b]);
    }
    nc_free(prompts), nc_free(out), nc_free(plen), nc_free(olen);
    nc_free(texts);
    nc_free(ends);
    nc_free(file_buf);
    nc_token_ids_free(&tids);
    nc_model_free(m);
    nc_cfg_free(a);
    return rc;
}
