/* `nemoc llm preprocess`: NeMo's scripts/nlp_language_modeling/
 * preprocess_data_for_megatron.py (JSONL -> Megatron .bin/.idx), with its
 * argument names; `nemoc llm inspect PREFIX`: what an indexed dataset holds.
 *
 * Tokenizers come from --tokenizer-library as in NeMo's get_nmt_tokenizer;
 * each library is one row of `libraries` below (a loader from the parsed
 * flags to an nc_tokenizer), so a new library is one function and one row. */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "cli.h"
#include "nemoc/alloc.h"
#include "nemoc/llm_data.h"
#include "nemoc/tokenizer.h"

typedef struct pp_args {
    char **inputs; /* expanded */
    int n_inputs, cap_inputs;
    const char *input;
    const char *keys[32];
    int n_keys;
    const char *library, *type, *model, *vocab, *merges, *prefix, *impl;
    long workers, log_interval;
    int append_eod, preproc_folder, skip_bad;
} pp_args;

static void pp_usage(FILE *f) {
    fputs("usage: nemoc llm preprocess --input JSONL --output-prefix PREFIX --tokenizer-library LIB\n"
          "                            [--tokenizer-model M] [--json-keys text [K2 ...]] [--append-eod]\n"
          "                            [--workers N] [--dataset-impl mmap] [--log-interval N]\n"
          "                            [--preproc-folder] [--skip-bad-lines]\n\n"
          "Tokenizes the documents of JSON-lines files into Megatron's indexed dataset, as NeMo's\n"
          "scripts/nlp_language_modeling/preprocess_data_for_megatron.py: one document per line,\n"
          "<PREFIX>_<KEY>_document.bin/.idx per key (uint16 ids for vocabularies under 65500, else\n"
          "int32), readable by NeMo and Megatron (model.data.data_prefix=<PREFIX>_text_document).\n\n"
          "  --input IN              a JSONL file (.gz too); several: comma-separated, globs allowed\n"
          "  --preproc-folder        --input is a folder: every *.json and *.json.gz in it (sorted)\n"
          "  --json-keys K [K ...]   the keys to tokenize (default: text)\n"
          "  --tokenizer-library L   sentencepiece (with --tokenizer-model tokenizer.model); megatron\n"
          "                          (--tokenizer-type GPT2BPETokenizer --vocab-file vocab.json\n"
          "                          --merge-file merges.txt); huggingface (--tokenizer-type: a local\n"
          "                          tokenizer.json or its folder; BPE with ByteLevel pre-tokenizer)\n"
          "  --tokenizer-type T      GPT2BPETokenizer (megatron) or a tokenizer.json path (huggingface)\n"
          "  --vocab-file F, --merge-file F  GPT-2's vocab.json and merges.txt (megatron)\n"
          "  --append-eod            end every document with the tokenizer's eos id\n"
          "  --workers N             tokenizing threads (default 1; the output is the same for any N)\n"
          "  --dataset-impl mmap     the only format written (NeMo's default)\n"
          "  --log-interval N        a progress line every N documents (default 100)\n"
          "  --skip-bad-lines        skip (and count) lines that are not JSON objects with string\n"
          "                          values for every key, instead of stopping at the first as NeMo\n"
          "                          does; texts without tokens are skipped either way, as in NeMo\n"
          "  -h, --help              this help\n\n"
          "Not supported: --split-sentences, --keep-newlines (NLTK sentence splitting), --apply-ftfy.\n",
          f);
}

/* ---- tokenizers: one row per --tokenizer-library ------------------------- */

typedef nc_status (*tok_loader)(const pp_args *a, nc_tokenizer **out);

static nc_status load_sentencepiece(const pp_args *a, nc_tokenizer **out) {
    if (!a->model)
        return nc_error(NC_ERR_INVALID_ARG, "--tokenizer-library sentencepiece needs --tokenizer-model tokenizer.model");
    return nc_tokenizer_spm_load(a->model, out);
}

/* NeMo's megatron library: GPT2BPETokenizer with --vocab-file/--merge-file
 * (GPT-2's vocab.json/merges.txt, or encoder.json/vocab.bpe). Its other
 * types (BERT word pieces) are not LLM tokenizers nemoc trains with. */
static nc_status load_megatron(const pp_args *a, nc_tokenizer **out) {
    if (!a->type || strcmp(a->type, "GPT2BPETokenizer") != 0)
        return nc_error(NC_ERR_UNSUPPORTED, "--tokenizer-library megatron: --tokenizer-type '%s': only GPT2BPETokenizer",
                        a->type ? a->type : "");
    if (!a->vocab || !a->merges)
        return nc_error(NC_ERR_INVALID_ARG, "--tokenizer-type GPT2BPETokenizer needs --vocab-file and --merge-file");
    return nc_tokenizer_gpt2_load(a->vocab, a->merges, out);
}

/* NeMo's huggingface library: AutoTokenizer(--tokenizer-type). Nothing is
 * downloaded, so the type is a local tokenizer.json or a folder holding one
 * (what AutoTokenizer accepts as a local pretrained_model_name). */
static nc_status load_huggingface(const pp_args *a, nc_tokenizer **out) {
    if (!a->type)
        return nc_error(NC_ERR_INVALID_ARG, "--tokenizer-library huggingface needs --tokenizer-type: a tokenizer.json "
                                            "file or a folder holding one (nothing is downloaded)");
    return nc_tokenizer_hf_load(a->type, out);
}

static const struct {
    const char *library;
    tok_loader load; /* NULL: a library NeMo has and nemoc does not */
    const char *missing;
} libraries[] = {
    {"sentencepiece", load_sentencepiece, NULL},
    {"megatron", load_megatron, NULL},
    {"huggingface", load_huggingface, NULL},
    {"yttm", NULL, "YouTokenToMe models are not supported"},
};

static nc_status load_tokenizer(const pp_args *a, nc_tokenizer **out) {
    for (size_t i = 0; i < sizeof libraries / sizeof libraries[0]; i++) {
        if (strcmp(a->library, libraries[i].library) != 0) continue;
        if (!libraries[i].load)
            return nc_error(NC_ERR_UNSUPPORTED, "--tokenizer-library %s: %s", a->library, libraries[i].missing);
        return libraries[i].load(a, out);
    }
    return nc_error(NC_ERR_INVALID_ARG, "--tokenizer-library '%s': expected sentencepiece, megatron, huggingface or yttm",
                    a->library);
}

/* ---- arguments ------------------------------------------------------------ */

static int add_input(pp_args *a, const char *path) {
    if (a->n_inputs == a->cap_inputs) {
        int cap = a->cap_inputs ? 2 * a->cap_inputs : 16;
        char **v = realloc(a->inputs, (size_t)cap * sizeof *v);
        if (!v) return -1;
        a->inputs = v;
        a->cap_inputs = cap;
    }
    a->inputs[a->n_inputs] = strdup(path);
    return a->inputs[a->n_inputs++] ? 0 : -1;
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

/* --input: a comma-separated list of files or globs; a glob that matches
 * nothing stays as written (and fails to open with its name). */
static int expand_inputs(pp_args *a) {
    if (a->preproc_folder) {
        DIR *d = opendir(a->input);
        if (!d) {
            fprintf(stderr, "nemoc llm preprocess: --input '%s' with --preproc-folder: %s\n", a->input, strerror(errno));
            return 2;
        }
        struct dirent *e;
        int first = a->n_inputs;
        while ((e = readdir(d))) {
            size_t n = strlen(e->d_name);
            if ((n > 5 && !strcmp(e->d_name + n - 5, ".json")) || (n > 8 && !strcmp(e->d_name + n - 8, ".json.gz"))) {
                char path[PATH_MAX];
                snprintf(path, sizeof path, "%s/%s", a->input, e->d_name);
                if (add_input(a, path)) break;
            }
        }
        closedir(d);
        qsort(a->inputs + first, (size_t)(a->n_inputs - first), sizeof *a->inputs, cmp_str);
        if (a->n_inputs == first) {
            fprintf(stderr, "nemoc llm preprocess: no .json or .json.gz files in folder '%s'\n", a->input);
            return 2;
        }
        return 0;
    }
    char *list = strdup(a->input), *save = NULL;
    if (!list) {
        fprintf(stderr, "nemoc llm preprocess: out of memory\n");
        return 2;
    }
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        glob_t g;
        if (strpbrk(item, "*?[") && glob(item, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) add_input(a, g.gl_pathv[i]);
            globfree(&g);
        } else {
            add_input(a, item);
        }
    }
    free(list);
    if (!a->n_inputs) {
        fprintf(stderr, "nemoc llm preprocess: --input names no file\n");
        return 2;
    }
    return 0;
}

static int parse_long(const char *name, const char *val, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (*end || end == val || errno || v < lo || v > hi) {
        fprintf(stderr, "nemoc llm preprocess: %s needs an integer in [%ld, %ld], got '%s'\n", name, lo, hi, val);
        return 2;
    }
    *out = v;
    return 0;
}

/* argparse-style "--opt value" or "--opt=value"; --json-keys takes every
 * following argument up to the next option. Returns 0, 1 (help) or 2. */
static int pp_parse(int argc, char **argv, pp_args *a) {
    *a = (pp_args){.workers = 1, .log_interval = 100, .impl = "mmap"};
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i], *val = NULL;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return 1;
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "nemoc llm preprocess: unexpected argument '%s'\n", arg);
            return 2;
        }
        char name[64];
        nc_cli_split_opt(arg, name, sizeof name, &val);
        int *flag = !strcmp(name, "--append-eod")       ? &a->append_eod
                    : !strcmp(name, "--preproc-folder") ? &a->preproc_folder
                    : !strcmp(name, "--skip-bad-lines") ? &a->skip_bad
                                                        : NULL;
        if (flag) {
            if (val) {
                fprintf(stderr, "nemoc llm preprocess: %s takes no value\n", name);
                return 2;
            }
            *flag = 1;
            continue;
        }
        if (!strcmp(name, "--split-sentences") || !strcmp(name, "--keep-newlines") || !strcmp(name, "--apply-ftfy")) {
            fprintf(stderr,
                    "nemoc llm preprocess: %s is not supported (NLTK sentence splitting and ftfy are Python "
                    "libraries nemoc does not mirror); documents are whole lines\n",
                    name);
            return 2;
        }
        if (!strcmp(name, "--json-keys")) {
            a->n_keys = 0;
            if (val && *val) a->keys[a->n_keys++] = val;
            while (!val && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                if (a->n_keys == 32) {
                    fprintf(stderr, "nemoc llm preprocess: --json-keys: at most 32 keys\n");
                    return 2;
                }
                a->keys[a->n_keys++] = argv[++i];
            }
            if (!a->n_keys) {
                fprintf(stderr, "nemoc llm preprocess: --json-keys needs at least one key\n");
                return 2;
            }
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "nemoc llm preprocess: %s needs a value\n", name);
                return 2;
            }
            val = argv[++i];
        }
        if (!strcmp(name, "--input")) a->input = val;
        else if (!strcmp(name, "--output-prefix")) a->prefix = val;
        else if (!strcmp(name, "--tokenizer-library")) a->library = val;
        else if (!strcmp(name, "--tokenizer-type")) a->type = val;
        else if (!strcmp(name, "--tokenizer-model")) a->model = val;
        else if (!strcmp(name, "--vocab-file")) a->vocab = val;
        else if (!strcmp(name, "--merge-file")) a->merges = val;
        else if (!strcmp(name, "--dataset-impl")) a->impl = val;
        else if (!strcmp(name, "--workers")) {
            if (parse_long(name, val, 1, 256, &a->workers)) return 2;
        } else if (!strcmp(name, "--log-interval")) {
            if (parse_long(name, val, 1, LONG_MAX, &a->log_interval)) return 2;
        } else {
            fprintf(stderr, "nemoc llm preprocess: unknown option '%s' (see --help)\n", name);
            return 2;
        }
    }
    const char *missing = !a->input ? "--input" : !a->prefix ? "--output-prefix" : !a->library ? "--tokenizer-library" : NULL;
    if (missing) {
        fprintf(stderr, "nemoc llm preprocess: %s is required (see --help)\n", missing);
        return 2;
    }
    if (strcmp(a->impl, "mmap") != 0) {
        fprintf(stderr, "nemoc llm preprocess: --dataset-impl %s: only mmap (MMapIndexedDataset) is written; "
                        "lazy and cached are legacy formats NeMo's GPT training does not use\n",
                a->impl);
        return 2;
    }
    return expand_inputs(a);
}

static void pp_progress(int64_t lines, int64_t bytes, double seconds, void *user_data) {
    (void)user_data;
    double s = seconds > 1e-9 ? seconds : 1e-9;
    fprintf(stderr, "Processed %lld documents (%.1f docs/s, %.2f MB/s).\n", (long long)lines, (double)lines / s,
            (double)bytes / s / 1024 / 1024);
}

int nc_cmd_llm_preprocess(int argc, char **argv) {
    pp_args a;
    int rc = pp_parse(argc, argv, &a);
    if (rc == 1) {
        pp_usage(stdout);
        return 0;
    }
    nc_tokenizer *tok = NULL;
    if (!rc && load_tokenizer(&a, &tok)) {
        fprintf(stderr, "nemoc llm preprocess: %s\n", nc_last_error());
        rc = 1;
    }
    if (!rc) {
        nc_llm_preprocess_params p = nc_llm_preprocess_default_params();
        static const char *const text_key[] = {"text"};
        p.inputs = (const char *const *)a.inputs;
        p.n_inputs = a.n_inputs;
        p.json_keys = a.n_keys ? a.keys : text_key;
        p.n_keys = a.n_keys ? a.n_keys : 1;
        p.output_prefix = a.prefix;
        p.tokenizer = tok;
        p.append_eod = a.append_eod;
        p.workers = (int)a.workers;
        p.skip_bad_lines = a.skip_bad;
        p.log_interval = a.log_interval;
        p.progress = pp_progress;
        int64_t vocab = nc_tokenizer_vocab_size(tok);
        printf("Vocab size: %lld\nOutput prefix: %s\n", (long long)vocab, a.prefix);
        fflush(stdout);
        nc_llm_preprocess_stats st;
        if (nc_llm_preprocess(&p, &st)) {
            fprintf(stderr, "nemoc llm preprocess: %s\n", nc_last_error());
            rc = 1;
        } else {
            double s = st.seconds > 1e-9 ? st.seconds : 1e-9;
            for (int k = 0; k < p.n_keys; k++)
                printf("wrote %s_%s_document.bin/.idx (%s ids)\n", a.prefix, p.json_keys[k],
                       nc_idx_best_dtype(vocab) == NC_IDX_U16 ? "uint16" : "int32");
            printf("%lld lines, %lld documents, %lld tokens in %.2f s (%.1f docs/s, %.2f MB/s, %d worker%s)\n",
                   (long long)st.lines, (long long)st.docs, (long long)st.tokens, st.seconds, (double)st.lines / s,
                   (double)st.bytes / s / 1024 / 1024, p.workers, p.workers == 1 ? "" : "s");
            if (st.empty)
                fprintf(stderr, "nemoc llm preprocess: warning: %lld texts gave no tokens and were skipped (as NeMo "
                                "skips them)\n",
                        (long long)st.empty);
            if (st.bad)
                fprintf(stderr, "nemoc llm preprocess: warning: %lld bad lines skipped; the first: %s\n",
                        (long long)st.bad, st.first_bad);
        }
    }
    nc_tokenizer_free(tok);
    for (int i = 0; i < a.n_inputs; i++) free(a.inputs[i]);
    free(a.inputs);
    return rc;
}

/* ---- inspect ------------------------------------------------------------------ */

static void inspect_usage(FILE *f) {
    fputs("usage: nemoc llm inspect PREFIX [--count N] [--tokens N] [--tokenizer-model M]\n\n"
          "Prints what a Megatron indexed dataset PREFIX.bin/.idx holds: its dtype and its sequence,\n"
          "document and token counts, then the first N documents (default 3): their first tokens\n"
          "(default 16) and, with a SentencePiece --tokenizer-model, their text.\n",
          f);
}

int nc_cmd_llm_inspect(int argc, char **argv) {
    const char *prefix = NULL, *model = NULL;
    long count = 3, ntok = 16;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            inspect_usage(stdout);
            return 0;
        }
        if (!strcmp(arg, "--count") || !strcmp(arg, "--tokens") || !strcmp(arg, "--tokenizer-model")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "nemoc llm inspect: %s needs a value\n", arg);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(arg, "--tokenizer-model")) model = v;
            else if (parse_long(arg, v, 0, 1L << 30, !strcmp(arg, "--count") ? &count : &ntok)) return 2;
        } else if (arg[0] == '-' || prefix) {
            fprintf(stderr, "nemoc llm inspect: unexpected argument '%s' (see --help)\n", arg);
            return 2;
        } else {
            prefix = arg;
        }
    }
    if (!prefix) {
        inspect_usage(stderr);
        return 2;
    }
    /* "x_text_document.bin" or ".idx" names the same dataset as its prefix. */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", prefix);
    size_t n = strlen(p);
    if (n > 4 && (!strcmp(p + n - 4, ".bin") || !strcmp(p + n - 4, ".idx"))) p[n - 4] = 0;
    nc_indexed_dataset *d = NULL;
    nc_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    int rc = 0;
    if (nc_indexed_open(p, &d) || (model && nc_tokenizer_spm_load(model, &tok))) {
        fprintf(stderr, "nemoc llm inspect: %s\n", nc_last_error());
        rc = 1;
        goto done;
    }
    static const char *const dtype_names[9] = {"?", "uint8", "int8", "int16", "int32", "int64", "?", "?", "uint16"};
    printf("%s: dtype %s, %lld sequences, %lld documents, %lld tokens\n", p, dtype_names[nc_indexed_dtype(d)],
           (long long)nc_indexed_len(d), (long long)nc_indexed_num_docs(d), (long long)nc_indexed_num_tokens(d));
    for (int64_t doc = 0; doc < count && doc < nc_indexed_num_docs(d); doc++) {
        int64_t s0 = nc_indexed_doc_index(d, doc), s1 = nc_indexed_doc_index(d, doc + 1), len = 0;
        for (int64_t s = s0; s < s1; s++) len += nc_indexed_size(d, s);
        printf("document %lld: %lld sequence%s, %lld tokens:", (long long)doc, (long long)(s1 - s0),
               s1 - s0 == 1 ? "" : "s", (long long)len);
        nc_free(ids);
        ids = nc_malloc((size_t)(len ? len : 1) * sizeof *ids);
        int64_t at = 0, got;
        for (int64_t s = s0; ids && s < s1; s++, at += got)
            if (nc_indexed_get(d, s, 0, -1, ids + at, &got)) {
                fprintf(stderr, "nemoc llm inspect: %s\n", nc_last_error());
                rc = 1;
                goto done;
            }
        for (int64_t k = 0; ids && k < len && k < ntok; k++) printf(" %d", ids[k]);
        printf("%s\n", len > ntok ? " ..." : "");
        char *text = NULL;
        if (tok && ids && !nc_tokenizer_decode(tok, ids, len, &text)) printf("  text: %s\n", text);
        nc_free(text);
    }
done:
    nc_free(ids);
    nc_tokenizer_free(tok);
    nc_indexed_close(d);
    return rc;
}
