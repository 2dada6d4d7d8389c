/* Bad LLM tokenizer files are named errors (file and line, or JSON field),
 * never crashes; and the byte-level BPE trainer writes vocab.json +
 * merges.txt that load back and round-trip. */
#include <stdio.h>
#include <string.h>

#include "io/fileutil.h"
#include "llm_tok_fixture.h"
#include "nemoc/alloc.h"
#include "nemoc/tokenizer_train.h"

static const char *dir;

static const char *put(const char *name, const char *text) {
    static char p[64][4096]; /* every path stays valid for the whole test */
    static int k;
    char *o = p[k++ % 64];
    snprintf(o, 4096, "%s/%s", dir, name);
    if (nc_write_file_atomic(o, text, strlen(text))) nc_test_fail(__FILE__, __LINE__, "cannot write %s", o);
    return o;
}

/* A byte-level vocabulary: the 256 byte characters (GPT-2 ids) plus extra. */
static char *byte_vocab(const char *extra) {
    char *tiny = NULL;
    size_t n = 0;
    if (nc_read_file(nc_test_src("tests/ref/llm_tok/tiny_gpt2/vocab.json"), (void **)&tiny, &n)) return NULL;
    cJSON *j = cJSON_Parse(tiny);
    nc_free(tiny);
    cJSON *keep = cJSON_CreateObject();
    for (cJSON *e = j ? j->child : NULL; e; e = e->next)
        if (e->valuedouble < 256) cJSON_AddNumberToObject(keep, e->string, e->valuedouble);
    cJSON_Delete(j);
    char *s = cJSON_PrintUnformatted(keep);
    cJSON_Delete(keep);
    size_t l = strlen(s);
    char *o = malloc(l + strlen(extra) + 1);
    memcpy(o, s, l - 1); /* drop the closing brace */
    strcpy(o + l - 1, extra);
    free(s);
    return o;
}

static void check_gpt2_files(void) {
    nc_tokenizer *t = NULL;
    CHECK_ERR(nc_tokenizer_gpt2_load_dir(dir, &t), NC_ERR_NOT_FOUND, "neither vocab.json + merges.txt nor encoder.json");
    char *v = byte_vocab(", \"\\u0120t\": 256, \"he\": 257}");
    const char *vp = put("vocab.json", v);
    CHECK_ERR(nc_tokenizer_gpt2_load_dir(dir, &t), NC_ERR_NOT_FOUND, "merges.txt"); /* merges.txt missing */
    const char *mp = put("merges.txt", "#version: 0.2\n\xc4\xa0 t\nh e\n");
    CHECK_OK(nc_tokenizer_gpt2_load(vp, mp, &t));
    nc_token_ids ids = {0};
    if (t) CHECK_OK(nc_tokenizer_encode(t, " the", -1, &ids));
    CHECK(ids.n == 2 && ids.ids[0] == 256 && ids.ids[1] == 257);
    nc_token_ids_free(&ids);
    nc_tokenizer_free(t);
    t = NULL;
    /* merges.txt: line 3 has three entries, line 2 names a piece not in the vocabulary */
    mp = put("merges.txt", "#version: 0.2\n\xc4\xa0 t\nh e x\n");
    CHECK_ERR(nc_tokenizer_gpt2_load(vp, mp, &t), NC_ERR_FORMAT, "merges.txt' line 3: expected two entries");
    mp = put("merges.txt", "#version: 0.2\nhe y\n");
    CHECK_ERR(nc_tokenizer_gpt2_load(vp, mp, &t), NC_ERR_FORMAT, "line 2: the merge of 'he' and 'y' is not in the vocabulary");
    mp = put("merges.txt", "q zz\n");
    CHECK_ERR(nc_tokenizer_gpt2_load(vp, mp, &t), NC_ERR_FORMAT, "line 1: merge part 'zz' is not in the vocabulary");
    free(v);
    /* vocab.json: a syntax error on line 2, a string id, a repeated id, a hole, not byte-level */
    mp = put("merges.txt", "#version: 0.2\n");
    vp = put("vocab.json", "{\"a\": 0,\n \"b\" 1}");
    CHECK_ERR(nc_tokenizer_gpt2_load(vp, mp, &t), NC_ERR_FORMAT, "vocab.json': invalid JSON at line 2, column 6");
    vp = put("vocab.json", "{\"a\": \"0\"}");
    CHECK_ERR(nc_tokenizer_gpt2_load(vp, mp, &t), NC_ERR_FORMAT, "the id of 'a' is not a non-negative integer");
    vp = put("vocab.json", "{\"a\": 1e300}"); /* found by fuzz_llm_tokenizers: no undefined conversion */
    CHECK_ERR(nc_tokenizer_gpt2_load(vp, mp, &t), NC_ERR_FORMAT, "the id of 'a' is not a non-negative integer");
    vp = put("vocab.json", "{\"a\": 0, \"b\": 0}");
    CHECK_ERR(nc_tokenizer_gpt2_load(vp, mp, &t), NC_ERR_FORMAT, "id 0 is given twice");
    vp = put("vocab.json", "{\"a\": 0, \"b\": 2}");
    CHECK_ERR(nc_tokenizer_gpt2_load(vp, mp, &t), NC_ERR_FORMAT, "no vocabulary entry has id 1");
    vp = put("vocab.json", "{\"a\": 0, \"b\": 1}");
    CHECK_ERR(nc_tokenizer_gpt2_load(vp, mp, &t), NC_ERR_FORMAT, "byte 0x00 has no vocabulary entry");
    vp = put("vocab.json", "[1, 2]");
    CHECK_ERR(nc_tokenizer_gpt2_load(vp, mp, &t), NC_ERR_FORMAT, "expected a JSON object");
    CHECK(t == NULL);
}

static void check_hf_files(void) {
    char *tiny = NULL;
    size_t n = 0;
    CHECK_OK(nc_read_file(nc_test_src("tests/ref/llm_tok/tiny_gpt2/tokenizer.json"), (void **)&tiny, &n));
    cJSON *good = tiny ? cJSON_Parse(tiny) : NULL;
    nc_free(tiny);
    if (!good) return;
    static const struct {
        const char *field, *json, *needle;
    } cases[] = {
        {"normalizer", "{\"type\": \"NFKC\"}", "field normalizer: type 'NFKC' is not supported"},
        {"pre_tokenizer", "{\"type\": \"Metaspace\"}", "field pre_tokenizer: type 'Metaspace' is not supported"},
        {"pre_tokenizer", "null", "field pre_tokenizer: null is not supported"},
        {"decoder", "{\"type\": \"WordPiece\"}", "field decoder: type 'WordPiece'"},
        {"post_processor", "{\"type\": \"TemplateProcessing\"}", "field post_processor: type 'TemplateProcessing'"},
        {"truncation", "{\"max_length\": 8}", "field truncation"},
        {"added_tokens", "[{\"id\": 756, \"content\": \"<|endoftext|>\", \"lstrip\": true}]",
         "field added_tokens[0].lstrip: true is not supported"},
        {"added_tokens", "[{\"id\": 5, \"content\": \"<|endoftext|>\"}]", "id 5 is '&' in the model vocabulary"},
        {"added_tokens", "[{\"id\": -1e300, \"content\": \"x\"}]", "field added_tokens[0]: needs an integer \"id\""},
        {"model", "{\"type\": \"WordPiece\", \"vocab\": {}}", "field model.type: 'WordPiece' is not supported"},
        {"model", "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}", "field model.merges[0]: expected"},
    };
    const char *path = NULL;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        cJSON *j = cJSON_Duplicate(good, 1);
        cJSON_ReplaceItemInObject(j, cases[k].field, cJSON_Parse(cases[k].json));
        char *s = cJSON_Print(j);
        path = put("tokenizer.json", s);
        nc_tokenizer *t = NULL;
        nc_status st = nc_tokenizer_hf_load(dir, &t);
        nc_test_checks++;
        if (st == NC_OK || !strstr(nc_last_error(), cases[k].needle) || !strstr(nc_last_error(), "tokenizer.json"))
            nc_test_fail(__FILE__, __LINE__, "%s=%s: got \"%s\", wanted \"%s\"", cases[k].field, cases[k].json,
                         st ? nc_last_error() : "OK", cases[k].needle);
        nc_tokenizer_free(t);
        free(s);
        cJSON_Delete(j);
    }
    /* the merges as ["a", "b"] pairs (tokenizers >= 0.20) and add_prefix_space */
    cJSON *j = cJSON_Duplicate(good, 1);
    cJSON *model = cJSON_GetObjectItem(j, "model"), *pairs = cJSON_CreateArray();
    for (cJSON *m = cJSON_GetObjectItem(model, "merges")->child; m; m = m->next) {
        char a[64], b[64];
        if (sscanf(m->valuestring, "%63s %63s", a, b) != 2) continue;
        const char *ab[2] = {a, b};
        cJSON_AddItemToArray(pairs, cJSON_CreateStringArray(ab, 2));
    }
    cJSON_ReplaceItemInObject(model, "merges", pairs);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "pre_tokenizer"), "add_prefix_space", cJSON_CreateTrue());
    char *s = cJSON_Print(j);
    path = put("tokenizer.json", s);
    nc_tokenizer *t = NULL, *g = NULL;
    CHECK_OK(nc_tokenizer_hf_load(path, &t));
    CHECK_OK(nc_tokenizer_gpt2_load_dir(nc_test_src("tests/ref/llm_tok/tiny_gpt2"), &g));
    nc_token_ids a = {0}, b = {0};
    if (t && g) {
        CHECK_OK(nc_tokenizer_encode(t, "the end<|endoftext|>and", -1, &a));
        CHECK_OK(nc_tokenizer_encode(g, " the end", -1, &b)); /* the prefix space, per segment */
        CHECK(a.n > b.n && !memcmp(a.ids, b.ids, (size_t)b.n * sizeof *b.ids) && a.ids[b.n] == 756);
        CHECK_OK(nc_tokenizer_encode(g, " and", -1, &b));
        CHECK(a.n >= b.n && !memcmp(a.ids + a.n - b.n, b.ids, (size_t)b.n * sizeof *b.ids));
    }
    nc_token_ids_free(&a);
    nc_token_ids_free(&b);
    nc_tokenizer_free(t);
    nc_tokenizer_free(g);
    free(s);
    cJSON_Delete(j);
    cJSON_Delete(good);
    path = put("tokenizer.json", "{\"model\": {\"type\": \"BPE\",\n\n  \"vocab\": {\"a\" 0}}}");
    CHECK_ERR(nc_tokenizer_hf_load(path, &t), NC_ERR_FORMAT, "invalid JSON at line 3");
}

static void check_llama_files(void) {
    nc_tokenizer *t = NULL;
    CHECK_ERR(nc_tokenizer_llama_js_load(dir, NULL, &t), NC_ERR_NOT_FOUND, "llama-tokenizer.js");
    const char *p = put("llama-tokenizer.js", "export default 1;\n");
    CHECK_ERR(nc_tokenizer_llama_js_load(p, NULL, &t), NC_ERR_FORMAT, "no 'llama_vocab_base64 = \"...\"' string");
    p = put("llama-tokenizer.js", "const llama_vocab_base64 = \"PHVuaz4K*\";\nconst llama_merges_binary = \"\";\n");
    CHECK_ERR(nc_tokenizer_llama_js_load(p, NULL, &t), NC_ERR_FORMAT, "llama_vocab_base64: character 8 is not base64");
    /* "<unk>\n<s>\n</s>": a valid vocabulary, but not LLaMA's (no "▁" at 29871) */
    p = put("llama-tokenizer.js", "const llama_vocab_base64 = \"PHVuaz4KPHM+Cjwvcz4=\";\nconst llama_merges_binary = \"\";\n");
    CHECK_ERR(nc_tokenizer_llama_js_load(p, NULL, &t), NC_ERR_FORMAT, "piece 29871");
    CHECK(t == NULL);
    CHECK_ERR(nc_tokenizer_load_dir(dir, "gpt3", &t), NC_ERR_CONFIG, "'bpe', 'wpe', 'gpt2', 'hf' or 'llama', got 'gpt3'");
}

static void check_train(void) {
    const char *corpus = nc_test_src("tests/ref/spm/test_corpus.txt");
    nc_bpe_train_params p = nc_bpe_train_default_params();
    p.vocab_size = 600;
    int64_t size = 0;
    CHECK_OK(nc_bpe_train(&corpus, 1, &p, dir, &size));
    CHECK(size == 600);
    nc_tokenizer *t = NULL;
    CHECK_OK(nc_tokenizer_gpt2_load_dir(dir, &t));
    if (!t) return;
    CHECK(nc_tokenizer_vocab_size(t) == 600 && nc_tokenizer_special_ids(t).eos_id == 599);
    CHECK(!strcmp(nc_tokenizer_id_to_piece(t, 0), "!") && !strcmp(nc_tokenizer_id_to_piece(t, 599), "<|endoftext|>"));
    /* the ids of GPT-2's byte characters are GPT-2's */
    CHECK(nc_tokenizer_piece_to_id(t, "\xc4\xa0") == 220 && nc_tokenizer_piece_to_id(t, "\xc4\x8a") == 198);
    FILE *f = fopen(corpus, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t bad = 0, n_ids = 0, n_bytes = 0;
    nc_token_ids ids = {0};
    while (f && (n = getline(&line, &cap, f)) >= 0) {
        CHECK_OK(nc_tokenizer_encode(t, line, n, &ids));
        char *back = NULL;
        CHECK_OK(nc_tokenizer_decode(t, ids.ids, ids.n, &back));
        bad += !back || (ssize_t)strlen(back) != n || memcmp(back, line, (size_t)n) != 0;
        n_ids += ids.n;
        n_bytes += n;
        nc_free(back);
    }
    if (f) fclose(f);
    free(line);
    CHECK(bad == 0);
    CHECK(n_ids > 0 && n_ids * 2 < n_bytes); /* 344 merges compress the corpus it learned from */
    printf("  trained 600 entries: %lld bytes -> %lld ids, every line round-trips\n", (long long)n_bytes, (long long)n_ids);
    nc_token_ids_free(&ids);
    nc_tokenizer_free(t);
    p.vocab_size = 100;
    CHECK_ERR(nc_bpe_train(&corpus, 1, &p, dir, NULL), NC_ERR_INVALID_ARG, "below the 257 byte and special entries");
    const char *empty = put("empty.txt", "");
    p.vocab_size = 300;
    CHECK_ERR(nc_bpe_train(&empty, 1, &p, dir, NULL), NC_ERR_INVALID_ARG, "the corpus has no text");
}

int main(void) {
    dir = nc_test_tmpdir("llm_tok_files");
    check_gpt2_files();
    check_hf_files();
    check_llama_files();
    dir = nc_test_tmpdir("llm_tok_train");
    check_train();
    return nc_test_finish("llm_tokenizers_files");
}
