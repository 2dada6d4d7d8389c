/* `nemoc tokenizer train`: NeMo's scripts/tokenizers/process_asr_text_tokenizer.py.
 *
 * Collects the `text` of JSONL manifests into DATA_ROOT/text_corpus/document.txt
 * (or uses --data_file), then builds
 *   spe: DATA_ROOT/tokenizer_spe_{type}_v{V}[_max_{n}][_pad][_bos][_eos]/
 *        tokenizer.model + tokenizer.vocab (Debian's spm_train, run with the
 *        flags NeMo's create_spt_model passes) and vocab.txt (NeMo's format:
 *        "▁x" -> "x", "x" -> "##x", special and user symbols left out)
 *   wpe: DATA_ROOT/tokenizer_wpe_v{V}/vocab.txt (nc_wordpiece_train)
 *   gpt2bpe: DATA_ROOT/tokenizer_gpt2bpe_v{V}/vocab.json + merges.txt, a
 *        byte-level BPE for NeMo's GPT2BPETokenizer (nc_bpe_train; case
 *        is kept, as GPT-2's tokenizer is case-sensitive).
 * As in NeMo the corpus keeps the manifests' text as is; lower-casing happens
 * in the tokenizer (spe: --normalization_rule_name=nmt_nfkc_cf; wpe: the BERT
 * normaliser) unless --no_lower_case. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "core/strbuf.h"
#include "core/vec.h"
#include "io/fileutil.h"
#include "io/spawn.h"
#include "nemoc/alloc.h"
#include "nemoc/asr_data.h"
#include "nemoc/jsonl.h"
#include "nemoc/tokenizer.h"
#include "nemoc/tokenizer_train.h"

#define TOK_MAX_VOCAB 1000000L
#define TOK_MAX_SAMPLE 1000000000L

typedef struct tok_args {
    const char *manifest, *data_file, *data_root;
    long vocab_size;
    const char *tokenizer; /* spe | wpe | gpt2bpe */
    const char *spe_type;  /* bpe | unigram | char | word */
    const char *coverage;
    int lower_case, log;
    long max_piece_len, sample_size;
    int bos, eos, pad, byte_fallback, split_digits, remove_extra_ws, large_corpus, split_by_script;
    char *user_symbols, *control_symbols; /* comma-joined, malloc'd */
} tok_args;

static void usage(FILE *f) {
    fprintf(f,
            "usage: nemoc tokenizer train (--manifest M1[,M2...] | --data_file F[,F2...]) --data_root DIR\n"
            "                             [options]\n\n"
            "Builds a NeMo ASR tokenizer (scripts/tokenizers/process_asr_text_tokenizer.py).\n\n"
            "  --manifest LIST                comma-separated JSONL manifests; their `text` fields\n"
            "                                 are collected into DATA_ROOT/text_corpus/document.txt\n"
            "  --data_file LIST               comma-separated text files, one sentence per line\n"
            "  --data_root DIR                output directory (created)\n"
            "  --vocab_size N                 vocabulary size (default 1024)\n"
            "  --tokenizer spe|wpe|gpt2bpe    SentencePiece, BERT WordPiece (default) or GPT-2 byte-level\n"
            "                                 BPE (vocab.json + merges.txt, for --type gpt2)\n"
            "  --spe_type bpe|unigram|char|word  SentencePiece model type (default bpe)\n"
            "  --spe_character_coverage X     character coverage (default 1.0; ~0.9995 for CJK)\n"
            "  --spe_max_sentencepiece_length N  longest piece (default: no limit)\n"
            "  --spe_user_defined_symbols S..  symbols always kept whole (space or comma separated)\n"
            "  --spe_control_symbols S..      control symbols (space or comma separated)\n"
            "  --spe_byte_fallback            unknown characters become <0xNN> byte pieces\n"
            "  --spe_split_digits             split numbers into single digits\n"
            "  --spe_remove_extra_whitespaces  drop leading, trailing and repeated spaces\n"
            "  --spe_no_split_by_unicode_script  let pieces cross Unicode scripts\n"
            "  --spe_bos, --spe_eos, --spe_pad  add <s>, </s>, <pad> pieces\n"
            "  --spe_sample_size N            train on N sampled sentences (default: all)\n"
            "  --spe_train_extremely_large_corpus  pass train_extremely_large_corpus to spm_train\n"
            "  --no_lower_case                keep case (default: lower-case)\n"
            "  --log                          show spm_train's log\n"
            "  -h, --help                     this help\n\n"
            "spe needs Debian's sentencepiece package (spm_train).\n");
}

static char *join_append(char *old, const char *add) {
    size_t a = old ? strlen(old) : 0, b = strlen(add);
    char *s = malloc(a + b + 2);
    if (!s) return old;
    if (old) memcpy(s, old, a);
    if (a) s[a++] = ',';
    memcpy(s + a, add, b + 1);
    free(old);
    return s;
}

/* argparse-style: "--opt value" or "--opt=value"; list options take every
 * following argument up to the next "--option". Returns 0, 1 (help) or 2. */
static int parse(int argc, char **argv, tok_args *a) {
    *a = (tok_args){.vocab_size = 1024, .tokenizer = "wpe", .spe_type = "bpe", .coverage = "1.0", .lower_case = 1,
                    .max_piece_len = -1, .sample_size = -1, .split_by_script = 1};
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i], *val = NULL;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return 1;
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "nemoc tokenizer train: unexpected argument '%s'\n", arg);
            return 2;
        }
        char name[64];
        nc_cli_split_opt(arg, name, sizeof name, &val);
        const struct {
            const char *opt;
            int *field;
            int value;
        } flags[] = {
            {.opt = "--no_lower_case", .field = &a->lower_case, .value = 0},
            {.opt = "--log", .field = &a->log, .value = 1},
            {.opt = "--spe_bos", .field = &a->bos, .value = 1},
            {.opt = "--spe_eos", .field = &a->eos, .value = 1},
            {.opt = "--spe_pad", .field = &a->pad, .value = 1},
            {.opt = "--spe_byte_fallback", .field = &a->byte_fallback, .value = 1},
            {.opt = "--spe_split_digits", .field = &a->split_digits, .value = 1},
            {.opt = "--spe_remove_extra_whitespaces", .field = &a->remove_extra_ws, .value = 1},
            {.opt = "--spe_train_extremely_large_corpus", .field = &a->large_corpus, .value = 1},
            {.opt = "--spe_no_split_by_unicode_script", .field = &a->split_by_script, .value = 0},
        };
        size_t f = 0;
        while (f < sizeof flags / sizeof flags[0] && strcmp(name, flags[f].opt) != 0) f++;
        if (f < sizeof flags / sizeof flags[0]) {
            if (val) {
                fprintf(stderr, "nemoc tokenizer train: %s takes no value\n", flags[f].opt);
                return 2;
            }
            *flags[f].field = flags[f].value;
            continue;
        }
        if (!strcmp(name, "--spe_user_defined_symbols") || !strcmp(name, "--spe_control_symbols")) {
            char **dst = name[6] == 'u' ? &a->user_symbols : &a->control_symbols;
            int got = 0;
            if (val && *val) {
                *dst = join_append(*dst, val);
                got++;
            }
            while (!val && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                *dst = join_append(*dst, argv[++i]);
                got++;
            }
            if (!got) {
                fprintf(stderr, "nemoc tokenizer train: %s needs at least one symbol\n", name);
                return 2;
            }
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "nemoc tokenizer train: %s needs a value\n", name);
                return 2;
            }
            val = argv[++i];
        }
        char *end = NULL;
        if (!strcmp(name, "--manifest")) a->manifest = val;
        else if (!strcmp(name, "--data_file")) a->data_file = val;
        else if (!strcmp(name, "--data_root")) a->data_root = val;
        else if (!strcmp(name, "--tokenizer")) a->tokenizer = val;
        else if (!strcmp(name, "--spe_type")) a->spe_type = val;
        else if (!strcmp(name, "--spe_character_coverage")) {
            a->coverage = val;
            double c = strtod(val, &end);
            if (*end || !(c > 0 && c <= 1)) {
                fprintf(stderr, "nemoc tokenizer train: --spe_character_coverage must be in (0, 1], got '%s'\n", val);
                return 2;
            }
        } else if (!strcmp(name, "--vocab_size") || !strcmp(name, "--spe_max_sentencepiece_length") ||
                   !strcmp(name, "--spe_sample_size")) {
            errno = 0;
            long v = strtol(val, &end, 10);
            if (*end || end == val || errno == ERANGE) {
                fprintf(stderr, "nemoc tokenizer train: %s needs an integer, got '%s'\n", name, val);
                return 2;
            }
            /* Token ids are int32 and vocabularies of real tokenizers stay
             * below a few hundred thousand pieces; sample sizes count lines. */
            const long max = name[2] == 'v' ? TOK_MAX_VOCAB : name[6] == 'm' ? 1024 : TOK_MAX_SAMPLE;
            if (v > max) {
                fprintf(stderr, "nemoc tokenizer train: %s=%ld is out of range (at most %ld)\n", name, v, max);
                return 2;
            }
            if (name[2] == 'v') a->vocab_size = v;
            else if (name[6] == 'm') a->max_piece_len = v;
            else a->sample_size = v;
        } else {
            fprintf(stderr, "nemoc tokenizer train: unknown option '%s' (see --help)\n", name);
            return 2;
        }
    }
    if (!!a->manifest == !!a->data_file) {
        fprintf(stderr, "nemoc tokenizer train: give exactly one of --manifest and --data_file\n");
        return 2;
    }
    if (!a->data_root) {
        fprintf(stderr, "nemoc tokenizer train: --data_root is required\n");
        return 2;
    }
    if (strcmp(a->tokenizer, "spe") && strcmp(a->tokenizer, "wpe") && strcmp(a->tokenizer, "gpt2bpe")) {
        fprintf(stderr, "nemoc tokenizer train: --tokenizer must be spe, wpe or gpt2bpe, got '%s'\n", a->tokenizer);
        return 2;
    }
    const char *types[] = {"bpe", "unigram", "char", "word"};
    int ok = 0;
    for (int k = 0; k < 4; k++) ok |= !strcmp(a->spe_type, types[k]);
    if (!ok) {
        fprintf(stderr, "nemoc tokenizer train: --spe_type must be bpe, unigram, char or word, got '%s'\n", a->spe_type);
        return 2;
    }
    if (a->vocab_size <= 0) {
        fprintf(stderr, "nemoc tokenizer train: --vocab_size must be positive\n");
        return 2;
    }
    return 0;
}

/* mkdir -p, reporting a failure on stderr. */
static int mkdirs(const char *path) {
    if (nc_mkdir_p(path) == NC_OK) return 0;
    fprintf(stderr, "nemoc tokenizer train: %s\n", nc_last_error());
    return -1;
}

/* Reports the library's last error on stderr; returns -1. */
static int lib_fail(void) {
    fprintf(stderr, "nemoc tokenizer train: %s\n", nc_last_error());
    return -1;
}

/* The `text` fields of one manifest into the corpus writer, through the
 * manifest reader's JSONL rules (regular files only, bounded lines, raw
 * control characters and \u0000 refused, duplicate keys as Python). */
static int copy_texts(const char *m, nc_atomic_file *w, long *n_lines) {
    nc_jsonl_opts jo = nc_jsonl_default_opts();
    jo.max_line_bytes = NC_MANIFEST_MAX_LINE_BYTES;
    nc_jsonl_reader *r = NULL;
    if (nc_check_readable(m, "manifest") || nc_jsonl_open(m, &jo, &r)) return lib_fail();
    int rc = 0;
    for (cJSON *j = NULL; !rc;) {
        if (nc_jsonl_next(r, &j)) {
            rc = lib_fail();
            break;
        }
        if (!j) break;
        cJSON *text = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "text") : NULL;
        if (!cJSON_IsString(text)) {
            fprintf(stderr, "nemoc tokenizer train: %s:%lld: %s\n", m, (long long)nc_jsonl_line(r),
                    cJSON_IsObject(j) ? "no string field \"text\"" : "not a JSON object");
            rc = -1;
        } else if (nc_atomic_write(w, text->valuestring, strlen(text->valuestring)) || nc_atomic_write(w, "\n", 1)) {
            rc = lib_fail();
        } else {
            (*n_lines)++;
        }
        cJSON_Delete(j);
    }
    nc_jsonl_close(r);
    return rc;
}

/* NeMo __build_document_from_manifests: one line per manifest entry, the
 * `text` field verbatim; an existing document.txt is reused. Written
 * atomically (a temp name nobody can predict, renamed when complete). */
static int build_document(const tok_args *a, const char *out) {
    char *dir = nc_strdupf("%s/text_corpus", a->data_root);
    int made = dir ? mkdirs(dir) : -1;
    nc_free(dir);
    if (made != 0) return -1;
    if (access(out, F_OK) == 0) {
        fprintf(stderr, "Corpus already exists at path : %s (delete it to rebuild from the manifests)\n", out);
        return 0;
    }
    nc_atomic_file *w;
    if (nc_atomic_open(out, &w)) return lib_fail();
    char *list = nc_strdup(a->manifest);
    long n_lines = 0;
    int rc = list ? 0 : -1;
    if (!list) fprintf(stderr, "nemoc tokenizer train: out of memory\n");
    char *save = NULL;
    for (char *m = list ? strtok_r(list, ",", &save) : NULL; m && !rc; m = strtok_r(NULL, ",", &save)) {
        rc = copy_texts(m, w, &n_lines);
        if (!rc && a->log) fprintf(stderr, "Finished extracting manifest : %s\n", m);
    }
    nc_free(list);
    if (rc) nc_atomic_abort(w);
    else if (nc_atomic_commit(w)) rc = lib_fail();
    if (!rc && a->log) fprintf(stderr, "Finished extracting all manifests ! Number of sentences : %ld\n", n_lines);
    return rc;
}

/* Runs argv; its output goes to the terminal with --log, else to log_path
 * (shown on failure). Returns the exit status, 127 when the program is not
 * on PATH, 128 + signal when killed, or -1 when it could not be run. */
static int run_child(char *const argv[], int show, const char *log_path) {
    nc_spawn_result r;
    nc_status st = nc_spawn_run_logged((const char *const *)argv, show ? NULL : log_path, &r);
    if (st == NC_ERR_NOT_FOUND) return 127;
    if (st) {
        fprintf(stderr, "nemoc tokenizer train: %s\n", nc_last_error());
        return -1;
    }
    return r.term_signal ? 128 + r.term_signal : r.exit_code;
}

/* NeMo create_spt_model: vocab.txt from tokenizer.vocab. */
static int write_nemo_vocab(const char *dir, const tok_args *a) {
    char *in_path = nc_strdupf("%s/tokenizer.vocab", dir), *out_path = nc_strdupf("%s/vocab.txt", dir);
    FILE *r = NULL;
    if (!in_path || !out_path || nc_fopen_read(in_path, "spm_train vocabulary", &r)) {
        fprintf(stderr, "nemoc tokenizer train: cannot convert %s/tokenizer.vocab to %s/vocab.txt: %s\n", dir, dir,
                nc_last_error());
        nc_free(in_path);
        nc_free(out_path);
        return -1;
    }
    nc_free(in_path);
    char *line = NULL, *skip = NULL;
    size_t cap = 0;
    skip = join_append(skip, "<s>,</s>,<pad>,<unk>");
    if (a->control_symbols) skip = join_append(skip, a->control_symbols);
    if (a->user_symbols) skip = join_append(skip, a->user_symbols);
    nc_strbuf w = {0};
    ssize_t n;
    while ((n = getline(&line, &cap, r)) >= 0) {
        char *tab = strchr(line, '\t');
        if (tab) *tab = 0;
        else if (n > 0 && line[n - 1] == '\n') line[n - 1] = 0;
        int special = 0;
        for (char *s = skip; s && *s && !special;) {
            char *c = strchr(s, ',');
            size_t l = c ? (size_t)(c - s) : strlen(s);
            special = strlen(line) == l && !strncmp(line, s, l);
            s = c ? c + 1 : NULL;
        }
        if (special) continue;
        static const char ws[] = "\xe2\x96\x81";
        if (!strncmp(line, ws, 3)) nc_sb_appendf(&w, "%s\n", line[3] ? line + 3 : ws); /* "▁" alone stays "▁" */
        else nc_sb_appendf(&w, "##%s\n", line);
    }
    int rc = 0;
    if (ferror(r) || w.oom) {
        fprintf(stderr, "nemoc tokenizer train: cannot convert %s/tokenizer.vocab: %s\n", dir,
                w.oom ? "out of memory" : "read error");
        rc = -1;
    } else if (nc_write_file_atomic(out_path, w.p ? w.p : "", w.n)) {
        rc = lib_fail();
    }
    free(line);
    free(skip);
    fclose(r);
    nc_sb_free(&w);
    nc_free(out_path);
    return rc;
}

/* spm_train's argument vector: fixed strings, or formatted ones kept in opt. */
typedef struct spm_argv {
    char *opt[16]; /* nc_malloc'd, any length */
    int n_opt;
    bool oom;
    char *argv[40];
    int argc;
} spm_argv;

static void arg_fixed(spm_argv *v, const char *s) { v->argv[v->argc++] = (char *)s; }

static void arg_fmt(spm_argv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg_fmt(spm_argv *v, const char *fmt, ...) {
    nc_strbuf b = {0};
    va_list ap;
    va_start(ap, fmt);
    nc_sb_vappendf(&b, fmt, ap);
    va_end(ap);
    char *opt = nc_sb_take(&b);
    if (!opt) v->oom = true;
    v->opt[v->n_opt++] = opt;
    v->argv[v->argc++] = opt ? opt : (char *)"";
}

/* spm_train gets the corpus files by name: each must be a regular file
 * (a FIFO would block spm_train, /dev/zero would never end). */
static int check_corpus(const char *list) {
    char *copy = nc_strdup(list), *save = NULL;
    if (!copy) return lib_fail();
    int rc = 0;
    for (char *f = strtok_r(copy, ",", &save); f && !rc; f = strtok_r(NULL, ",", &save))
        if (nc_check_readable(f, "text corpus")) rc = lib_fail();
    nc_free(copy);
    return rc;
}

static int train_spe_in(const tok_args *a, const char *text_path, const char *dir, const char *model,
                        const char *log_path, spm_argv *vp) {
    if (access(model, F_OK) == 0) {
        fprintf(stderr, "warning: Model file already exists, overriding old model file !\n");
        unlink(model);
    }
    /* create_spt_model's flags, in its order */
    spm_argv v = *vp;
    arg_fixed(&v, "spm_train");
    arg_fmt(&v, "--input=%s", text_path);
    arg_fmt(&v, "--model_prefix=%s/tokenizer", dir);
    arg_fmt(&v, "--vocab_size=%ld", a->vocab_size);
    arg_fixed(&v, "--shuffle_input_sentence=true");
    arg_fixed(&v, "--hard_vocab_limit=false");
    arg_fmt(&v, "--model_type=%s", a->spe_type);
    arg_fmt(&v, "--character_coverage=%s", a->coverage);
    int pad_id = 3;
    if (!a->bos) {
        pad_id--;
        arg_fixed(&v, "--bos_id=-1");
    }
    if (!a->eos) {
        pad_id--;
        arg_fixed(&v, "--eos_id=-1");
    }
    if (a->pad) arg_fmt(&v, "--pad_id=%d", pad_id);
    if (a->control_symbols) arg_fmt(&v, "--control_symbols=%s", a->control_symbols);
    if (a->user_symbols) arg_fmt(&v, "--user_defined_symbols=%s", a->user_symbols);
    if (a->lower_case) arg_fixed(&v, "--normalization_rule_name=nmt_nfkc_cf");
    if (a->sample_size > 0) arg_fmt(&v, "--input_sentence_size=%ld", a->sample_size);
    if (a->large_corpus) arg_fixed(&v, "--train_extremely_large_corpus=true");
    if (a->max_piece_len >= 0) arg_fmt(&v, "--max_sentencepiece_length=%ld", a->max_piece_len);
    if (a->byte_fallback) arg_fixed(&v, "--byte_fallback=true");
    if (a->split_digits) arg_fixed(&v, "--split_digits=true");
    if (!a->split_by_script) arg_fixed(&v, "--split_by_unicode_script=false");
    if (!a->remove_extra_ws) arg_fixed(&v, "--remove_extra_whitespaces=false");
    v.argv[v.argc] = NULL;
    *vp = v; /* the caller frees the formatted options */
    if (v.oom) {
        fprintf(stderr, "nemoc tokenizer train: out of memory\n");
        return 1;
    }
    int rc = run_child(v.argv, a->log, log_path);
    if (rc != 0) {
        if (rc == 127)
            fprintf(stderr, "nemoc tokenizer train: spm_train not found on PATH; install Debian's sentencepiece "
                            "package (apt-get install sentencepiece)\n");
        else {
            fprintf(stderr, "nemoc tokenizer train: spm_train failed (exit %d)", rc);
            FILE *l = NULL;
            if (!a->log && nc_fopen_read(log_path, "spm_train log", &l)) l = NULL;
            if (l) {
                fprintf(stderr, "; its log:\n");
                char buf[4096];
                size_t got;
                while ((got = fread(buf, 1, sizeof buf, l)) > 0) fwrite(buf, 1, got, stderr);
                fclose(l);
            } else {
                fprintf(stderr, "\n");
            }
        }
        unlink(log_path);
        return 1;
    }
    unlink(log_path);
    if (write_nemo_vocab(dir, a) != 0) return 1;
    /* The C encoder must accept what was written. */
    nc_tokenizer *t = NULL;
    if (nc_tokenizer_spm_load(model, &t) != NC_OK) {
        fprintf(stderr, "nemoc tokenizer train: %s\n", nc_last_error());
        return 1;
    }
    if (a->log) fprintf(stderr, "Loaded %s: %lld pieces\n", model, (long long)nc_tokenizer_vocab_size(t));
    nc_tokenizer_free(t);
    printf("Serialized tokenizer at location : %s\n", dir);
    return 0;
}

static int train_spe(const tok_args *a, const char *text_path) {
    nc_strbuf dir = {0};
    nc_sb_appendf(&dir, "%s/tokenizer_spe_%s_v%ld", a->data_root, a->spe_type, a->vocab_size);
    if (a->max_piece_len > 0) nc_sb_appendf(&dir, "_max_%ld", a->max_piece_len);
    if (a->pad) nc_sb_puts(&dir, "_pad");
    if (a->bos) nc_sb_puts(&dir, "_bos");
    if (a->eos) nc_sb_puts(&dir, "_eos");
    char *model = nc_strdupf("%s/tokenizer.model", nc_sb_str(&dir));
    char *log_path = NULL;
    spm_argv v = {.n_opt = 0};
    int rc = 1, fd = -1;
    if (dir.oom || !model) {
        fprintf(stderr, "nemoc tokenizer train: out of memory\n");
    } else if (check_corpus(text_path) == 0 && mkdirs(dir.p) == 0) {
        /* spm_train's output goes to a fresh temp file beside the model (a
         * fixed name could be a planted link or FIFO); removed either way. */
        if (nc_temp_file(dir.p, ".spm_train.log.", &log_path, &fd)) {
            lib_fail();
        } else {
            close(fd);
            rc = train_spe_in(a, text_path, dir.p, model, log_path, &v);
        }
    }
    for (int i = 0; i < v.n_opt; i++) nc_free(v.opt[i]);
    nc_free(model);
    nc_free(log_path);
    nc_sb_free(&dir);
    return rc;
}

/* wpe and gpt2bpe: vocabularies built by the library, not by a program. */
static int train_in_c(const tok_args *a, const char *text_path) {
    bool bbpe = !strcmp(a->tokenizer, "gpt2bpe");
    char *dir = nc_strdupf("%s/tokenizer_%s_v%ld", a->data_root, bbpe ? "gpt2bpe" : "wpe", a->vocab_size);
    char *vocab = dir ? nc_strdupf("%s/vocab.txt", dir) : NULL;
    char *list = nc_strdup(text_path);
    const char **files = NULL; /* the comma-separated data files, any number */
    int64_t nf = 0, cap = 0, size = 0;
    nc_status st = dir && vocab && list ? NC_OK : NC_ERR_OOM;
    int rc = st ? 1 : mkdirs(dir) != 0; /* mkdirs reports its own failure */
    for (char *f = rc ? NULL : strtok(list, ","); f && !st; f = strtok(NULL, ",")) {
        st = nc_vec_reserve(&files, &cap, nf + 1, sizeof *files);
        if (!st) files[nf++] = f;
    }
    if (!rc && !st && bbpe) {
        nc_bpe_train_params p = nc_bpe_train_default_params();
        p.vocab_size = a->vocab_size;
        st = nc_bpe_train(files, nf, &p, dir, &size);
        nc_tokenizer *t = NULL; /* what was written must load */
        if (!st) st = nc_tokenizer_gpt2_load_dir(dir, &t);
        nc_tokenizer_free(t);
    } else if (!rc && !st) {
        nc_wordpiece_train_params p = nc_wordpiece_train_default_params();
        p.vocab_size = a->vocab_size;
        p.lower_case = a->lower_case;
        st = nc_wordpiece_train(files, nf, &p, vocab, &size);
    }
    if (st) {
        fprintf(stderr, "nemoc tokenizer train: %s\n", nc_last_error());
        rc = 1;
    } else if (!rc) {
        if (a->log) fprintf(stderr, "%s vocabulary: %lld tokens\n", bbpe ? "Byte-level BPE" : "WordPiece", (long long)size);
        printf("Serialized tokenizer at location : %s\n", dir);
    }
    nc_free(files);
    nc_free(list);
    nc_free(vocab);
    nc_free(dir);
    return rc;
}

int nc_cmd_tokenizer_train(int argc, char **argv) {
    tok_args a;
    int pr = parse(argc, argv, &a);
    if (pr == 1) {
        usage(stdout);
        return 0;
    }
    int rc = 2;
    if (pr == 0) {
        rc = 1;
        char *doc = a.manifest ? nc_strdupf("%s/text_corpus/document.txt", a.data_root) : NULL;
        const char *text = a.data_file;
        if (a.manifest && !doc) {
            fprintf(stderr, "nemoc tokenizer train: out of memory\n");
        } else if (mkdirs(a.data_root) != 0 || (a.manifest && build_document(&a, doc) != 0)) {
            /* reported */
        } else {
            if (a.manifest) text = doc;
            rc = !strcmp(a.tokenizer, "spe") ? train_spe(&a, text) : train_in_c(&a, text);
        }
        nc_free(doc);
    }
    free(a.user_symbols);
    free(a.control_symbols);
    return rc;
}
