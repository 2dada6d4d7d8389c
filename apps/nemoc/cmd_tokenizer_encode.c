/* `nemoc tokenizer encode`: ids of each stdin line, like spm_encode
 * --output_format=id (or --decode: text of each line of ids), for every
 * tokenizer type: NeMo's ASR `bpe` (SentencePiece) and `wpe` (WordPiece),
 * and the LLM ones: `gpt2` (Megatron GPT2BPETokenizer, vocab.json +
 * merges.txt), `hf` (tokenizer.json, byte-level BPE) and `llama` (the
 * vocabulary shipped in the npm package llama-tokenizer-js). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/vec.h"
#include "nemoc/alloc.h"
#include "nemoc/tokenizer.h"

static void usage(void) {
    printf("usage: nemoc tokenizer encode [--type T] (DIR | --dir DIR | --model tokenizer.model)\n"
           "                              [--decode] [--no_bos]\n\n"
           "Reads text lines from stdin and prints their token ids (space-separated, one line\n"
           "each), as spm_encode --output_format=id. With --decode, reads id lines and prints text.\n"
           "  DIR, --dir DIR  the tokenizer's folder (or file, for hf and llama)\n"
           "  --type T        bpe    DIR/tokenizer.model (NeMo ASR, SentencePiece; default)\n"
           "                  wpe    DIR/vocab.txt (NeMo ASR, WordPiece)\n"
           "                  gpt2   DIR/vocab.json + DIR/merges.txt, or GPT-2's encoder.json +\n"
           "                         vocab.bpe (NeMo library: megatron, GPT2BPETokenizer)\n"
           "                  hf     DIR/tokenizer.json or that file (byte-level BPE)\n"
           "                  llama  DIR/llama-tokenizer.js or that file (npm llama-tokenizer-js)\n"
           "  --model FILE    a SentencePiece model file\n"
           "  --no_bos        llama: no <s> (id 1) before each line\n");
}

static int decode_line(const nc_tokenizer *t, char *line, long long lineno, nc_token_ids *ids) {
    /* Ids are checked by value against the vocabulary before any narrowing:
     * 4294967311 must not wrap to 15. */
    const int64_t V = nc_tokenizer_vocab_size(t);
    ids->n = 0;
    for (char *s = line, *e;; s = e) {
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        if (!*s) break;
        errno = 0;
        long long v = strtoll(s, &e, 10);
        if (e == s || (*e && *e != ' ' && *e != '\t' && *e != '\r')) {
            int k = 0;
            while (s[k] && s[k] != ' ' && s[k] != '\t' && k < 40) k++;
            fprintf(stderr, "nemoc tokenizer encode: stdin:%lld: '%.*s' is not a token id (an integer)\n", lineno, k, s);
            return 1;
        }
        if (errno == ERANGE || v < 0 || v >= V) {
            fprintf(stderr, "nemoc tokenizer encode: stdin:%lld: id %.*s is outside the vocabulary (ids 0 to %lld)\n",
                    lineno, (int)(e - s), s, (long long)V - 1);
            return 1;
        }
        if (nc_vec_reserve(&ids->ids, &ids->cap, ids->n + 1, sizeof *ids->ids)) {
            fprintf(stderr, "nemoc tokenizer encode: %s\n", nc_last_error());
            return 1;
        }
        ids->ids[ids->n++] = (int32_t)v;
    }
    char *text = NULL;
    if (nc_tokenizer_decode(t, ids->ids, ids->n, &text) != NC_OK) {
        fprintf(stderr, "nemoc tokenizer encode: %s\n", nc_last_error());
        return 1;
    }
    printf("%s\n", text);
    nc_free(text);
    return 0;
}

int nc_cmd_tokenizer_encode(int argc, char **argv) {
    const char *dir = NULL, *type = "bpe", *model = NULL;
    int decode = 0, no_bos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage();
            return 0;
        }
        if (!strcmp(argv[i], "--decode")) decode = 1;
        else if (!strcmp(argv[i], "--no_bos")) no_bos = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--dir")) dir = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--type")) type = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--model")) model = argv[++i];
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else {
            fprintf(stderr, "nemoc tokenizer encode: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    static const char *const types[] = {"bpe", "wpe", "gpt2", "hf", "llama"};
    int known = 0;
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) known |= !strcmp(type, types[k]);
    if (!known) {
        fprintf(stderr, "nemoc tokenizer encode: unknown --type '%s' (bpe, wpe, gpt2, hf or llama)\n", type);
        return 2;
    }
    if (!dir == !model) {
        fprintf(stderr, "nemoc tokenizer encode: give DIR (or --dir) or --model\n");
        return 2;
    }
    nc_tokenizer *t = NULL;
    nc_status st;
    if (model) {
        st = nc_tokenizer_spm_load(model, &t);
    } else if (!strcmp(type, "llama")) {
        nc_llama_params p = nc_llama_default_params();
        p.add_bos = !no_bos;
        st = nc_tokenizer_llama_js_load(dir, &p, &t);
    } else {
        st = nc_tokenizer_load_dir(dir, type, &t);
    }
    if (st) {
        fprintf(stderr, "nemoc tokenizer encode: %s\n", nc_last_error());
        return 1;
    }
    nc_token_ids ids = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    long long lineno = 0;
    while (!rc && (n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
        lineno++;
        if (decode) {
            rc = decode_line(t, line, lineno, &ids);
            continue;
        }
        if (nc_tokenizer_encode(t, line, n, &ids) != NC_OK) {
            fprintf(stderr, "nemoc tokenizer encode: %s\n", nc_last_error());
            rc = 1;
            break;
        }
        for (int64_t k = 0; k < ids.n; k++) printf(k ? " %d" : "%d", ids.ids[k]);
        printf("\n");
    }
    free(line);
    nc_token_ids_free(&ids);
    nc_tokenizer_free(t);
    return rc;
}
