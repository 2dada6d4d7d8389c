/* libFuzzer target: arbitrary bytes as text for the byte-level BPE
 * tokenizers (the cut GPT-2 of tests/ref/llm_tok/tiny_gpt2 as vocab.json +
 * merges.txt and as tokenizer.json), where decode(encode(x)) must give x
 * back byte for byte; and as a merges.txt, a tokenizer.json and a
 * llama-tokenizer.js to load.
 * Errors are fine; faults and lost bytes are not. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nemoc/alloc.h"
#include "nemoc/tokenizer.h"

static nc_tokenizer *gpt2, *hf;
static char tiny[4096], tmp_merges[256], tmp_json[256], tmp_js[256];

static void setup(void) {
    /* tests/fuzz/<this file> -> tests/ref/llm_tok/tiny_gpt2 */
    snprintf(tiny, sizeof tiny, "%s", __FILE__);
    char *slash = strrchr(tiny, '/');
    snprintf(slash ? slash + 1 : tiny, sizeof tiny - (size_t)(slash ? slash + 1 - tiny : 0), "../ref/llm_tok/tiny_gpt2");
    if (nc_tokenizer_gpt2_load_dir(tiny, &gpt2) || nc_tokenizer_hf_load(tiny, &hf)) {
        fprintf(stderr, "fuzz_llm_tokenizers: %s\n", nc_last_error());
        abort();
    }
    snprintf(tmp_merges, sizeof tmp_merges, "/tmp/nc_fuzz_llm.%ld.merges.txt", (long)getpid());
    snprintf(tmp_json, sizeof tmp_json, "/tmp/nc_fuzz_llm.%ld.tokenizer.json", (long)getpid());
    snprintf(tmp_js, sizeof tmp_js, "/tmp/nc_fuzz_llm.%ld.llama-tokenizer.js", (long)getpid());
}

static void round_trip(const nc_tokenizer *t, const uint8_t *data, size_t size) {
    nc_token_ids ids = {0};
    char *out = NULL;
    if (nc_tokenizer_encode(t, (const char *)data, (int64_t)size, &ids) == NC_OK &&
        nc_tokenizer_decode(t, ids.ids, ids.n, &out) == NC_OK) {
        if (strlen(out) != size || memcmp(out, data, size) != 0) abort(); /* byte-level BPE loses nothing */
    }
    nc_free(out);
    nc_token_ids_free(&ids);
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (size) fwrite(data, 1, size, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!gpt2) setup();
    if (!memchr(data, 0, size)) { /* text has no NUL bytes (decode returns a C string) */
        round_trip(gpt2, data, size);
        round_trip(hf, data, size);
    }
    char vocab[4200];
    snprintf(vocab, sizeof vocab, "%s/vocab.json", tiny);
    write_file(tmp_merges, data, size);
    nc_tokenizer *t = NULL;
    if (nc_tokenizer_gpt2_load(vocab, tmp_merges, &t) == NC_OK) round_trip(t, (const uint8_t *)"the quick brown fox", 19);
    nc_tokenizer_free(t);
    t = NULL;
    write_file(tmp_json, data, size);
    if (nc_tokenizer_hf_load(tmp_json, &t) == NC_OK) {
        nc_token_ids ids = {0};
        if (nc_tokenizer_encode(t, "the quick <|endoftext|> fox", -1, &ids) == NC_OK) {
            char *out = NULL;
            if (nc_tokenizer_decode(t, ids.ids, ids.n, &out) == NC_OK) nc_free(out);
        }
        nc_token_ids_free(&ids);
    }
    nc_tokenizer_free(t);
    t = NULL;
    write_file(tmp_js, data, size);
    if (nc_tokenizer_llama_js_load(tmp_js, NULL, &t) == NC_OK) { /* a vocabulary without <0xNN> may not round-trip */
        nc_token_ids ids = {0};
        char *out = NULL;
        if (nc_tokenizer_encode(t, "the quick \xf0\x9f\xa6\x99 fox", -1, &ids) == NC_OK &&
            nc_tokenizer_decode(t, ids.ids, ids.n, &out) == NC_OK)
            nc_free(out);
        nc_token_ids_free(&ids);
    }
    nc_tokenizer_free(t);
    return 0;
}
