/* WordPiece (NeMo `wpe`) against the reference tokenisations written by
 * tests/ref/gen_wpe.py (an independent Python BertTokenizer on
 * unicodedata): every id of every line of tests/ref/wpe/inputs.txt, lower-
 * cased and cased, and NeMo's ids_to_text of them, must match exactly. */
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "text_fixture.h"
#include "nemoc/alloc.h"
#include "nemoc/tokenizer.h"
#include "nemoc/tokenizer_train.h"


static void check_mode(const char *name, bool lower, const fx_lines *in) {
    char path[256];
    nc_wordpiece_params p = nc_wordpiece_default_params();
    p.lower_case = lower;
    nc_tokenizer *t = NULL;
    CHECK_OK(nc_tokenizer_wordpiece_load(nc_test_src("tests/ref/wpe/vocab.txt"), &p, &t));
    if (!t) return;
    fx_lines ids, dec;
    snprintf(path, sizeof path, "tests/ref/wpe/%s.ids", name);
    bool ok = fx_read_lines(nc_test_src(path), &ids);
    snprintf(path, sizeof path, "tests/ref/wpe/%s.decoded", name);
    ok = fx_read_lines(nc_test_src(path), &dec) && ok;
    CHECK(ok && ids.n == in->n && dec.n == in->n);
    nc_token_ids got = {0};
    int64_t bad = 0, total = 0;
    for (int64_t i = 0; ok && i < in->n && ids.n == in->n && dec.n == in->n; i++) {
        CHECK_OK(nc_tokenizer_encode(t, in->line[i], in->len[i], &got));
        /* compare as text: "id id id" */
        char buf[65536];
        int64_t o = 0;
        for (int64_t k = 0; k < got.n && o < (int64_t)sizeof buf - 16; k++)
            o += snprintf(buf + o, sizeof buf - (size_t)o, k ? " %d" : "%d", got.ids[k]);
        buf[o] = 0;
        total += got.n;
        char *text = NULL;
        nc_status st = nc_tokenizer_decode(t, got.ids, got.n, &text);
        if (strcmp(buf, ids.line[i]) != 0 || st || strcmp(text, dec.line[i]) != 0) {
            if (bad++ < 3)
                fprintf(stderr, "%s line %lld:\n  text: %s\n  want: %s\n  got:  %s\n  want text: [%s]\n  got text:  [%s]\n",
                        name, (long long)i + 1, in->line[i], ids.line[i], buf, dec.line[i], text ? text : "");
        }
        nc_free(text);
    }
    if (bad) nc_test_fail(__FILE__, __LINE__, "%s: %lld of %lld fx_lines differ", name, (long long)bad, (long long)in->n);
    nc_test_checks++;
    printf("  %-6s %lld lines, %lld ids identical\n", name, (long long)in->n, (long long)total);
    nc_token_ids_free(&got);
    fx_free_lines(&ids);
    fx_free_lines(&dec);
    nc_tokenizer_free(t);
}

static void check_api(void) {
    nc_tokenizer *t = NULL;
    CHECK_OK(nc_tokenizer_load_dir(nc_test_src("tests/ref/wpe"), "wpe", &t));
    if (!t) return;
    nc_tokenizer_special sx = nc_tokenizer_special_ids(t);
    CHECK(sx.pad_id == 0 && sx.unk_id == 1 && sx.cls_id == 2 && sx.sep_id == 3 && sx.mask_id == 4);
    CHECK(sx.bos_id == -1 && sx.eos_id == -1);
    CHECK(sx.blank_id == nc_tokenizer_vocab_size(t) && nc_tokenizer_vocab_size(t) == 701);
    CHECK(nc_tokenizer_get_kind(t) == NC_TOKENIZER_WORDPIECE);
    /* "hello" appears twice in vocab.txt: the later line wins, as in HF load_vocab */
    CHECK(nc_tokenizer_piece_to_id(t, "hello") == 700);
    CHECK(nc_tokenizer_piece_to_id(t, "no-such-token") == -1);
    CHECK(strcmp(nc_tokenizer_id_to_piece(t, 2), "[CLS]") == 0);
    int32_t bad[] = {1, 5000};
    char *text = NULL;
    CHECK(nc_tokenizer_decode(t, bad, 2, &text) == NC_ERR_INVALID_ARG);
    nc_tokenizer_free(t);

    /* A vocabulary without [UNK] is refused with a reason. */
    static const char v[] = "[PAD]\na\nb\n";
    CHECK(nc_tokenizer_wordpiece_from_memory(v, sizeof v - 1, NULL, &t) == NC_ERR_FORMAT);
    CHECK(strstr(nc_last_error(), "[UNK]") != NULL);
    CHECK(nc_tokenizer_load_dir("/nonexistent", "wpe", &t) == NC_ERR_NOT_FOUND);
    CHECK(nc_tokenizer_load_dir("/nonexistent", "xyz", &t) == NC_ERR_CONFIG);

    /* Greedy longest match: "unaffable" -> un ##aff ##able (the BERT paper's example). */
    static const char v2[] = "[UNK]\nun\n##aff\n##able\n##a\n##f\n##b\n##l\n##e\nu\n";
    CHECK_OK(nc_tokenizer_wordpiece_from_memory(v2, sizeof v2 - 1, NULL, &t));
    nc_token_ids ids = {0};
    CHECK_OK(nc_tokenizer_encode(t, "unaffable", -1, &ids));
    CHECK(ids.n == 3 && ids.ids[0] == 1 && ids.ids[1] == 2 && ids.ids[2] == 3);
    CHECK_OK(nc_tokenizer_decode(t, ids.ids, ids.n, &text));
    CHECK(text && strcmp(text, "unaffable") == 0);
    nc_free(text);
    CHECK_OK(nc_tokenizer_encode(t, "unaffablez", -1, &ids)); /* no ##z: the whole word is [UNK] */
    CHECK(ids.n == 1 && ids.ids[0] == 0);
    nc_token_ids_free(&ids);
    nc_tokenizer_free(t);
}

/* The trainer on a corpus small enough to follow by hand. */
static void check_train(void) {
    const char *dir = nc_test_tmpdir("wpe_train");
    char corpus[4200], vocab[4200];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", dir);
    FILE *f = fopen(corpus, "w");
    CHECK(f != NULL);
    if (!f) return;
    /* words: "ab" x3, "abc" x2 (upper case and punctuation normalised away) */
    fputs("AB ab\nabc, ab\n\tABC\n", f);
    fclose(f);
    const char *files[] = {corpus};
    nc_wordpiece_train_params p = nc_wordpiece_train_default_params();
    p.vocab_size = 20;
    int64_t size = 0;
    CHECK_OK(nc_wordpiece_train(files, 1, &p, vocab, &size));
    /* specials; alphabet a b c and "," (sorted); ## forms of inner chars;
     * merges: (a, ##b) x5 -> "ab", then (ab, ##c) x2 -> "abc" */
    static const char want[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n,\na\nb\nc\n##b\n##c\nab\nabc\n";
    fx_lines got;
    if (fx_read_lines(vocab, &got)) {
        char all[512] = "";
        for (int64_t i = 0; i < got.n; i++) {
            strcat(all, got.line[i]);
            strcat(all, "\n");
        }
        if (strcmp(all, want) != 0) nc_test_fail(__FILE__, __LINE__, "trained vocab:\n%s", all);
        nc_test_checks++;
        fx_free_lines(&got);
    }
    CHECK(size == 13);
    /* min_frequency 3 stops after the first merge */
    p.min_frequency = 3;
    CHECK_OK(nc_wordpiece_train(files, 1, &p, vocab, &size));
    CHECK(size == 12);
    /* the result loads and splits as trained: ABC -> ab ##c; cab -> [UNK]
     * (no "##a": 'a' never follows another character in the corpus) */
    nc_tokenizer *t = NULL;
    nc_wordpiece_params wp = nc_wordpiece_default_params();
    wp.lower_case = true;
    CHECK_OK(nc_tokenizer_wordpiece_load(vocab, &wp, &t));
    nc_token_ids ids = {0};
    CHECK_OK(nc_tokenizer_encode(t, "ABC cab", -1, &ids));
    CHECK(ids.n == 3 && ids.ids[0] == 11 && ids.ids[1] == 10 && ids.ids[2] == 1);
    nc_token_ids_free(&ids);
    nc_tokenizer_free(t);
    const char *missing[] = {"/nonexistent/corpus.txt"};
    CHECK(nc_wordpiece_train(missing, 1, &p, vocab, &size) == NC_ERR_NOT_FOUND);
}

int main(void) {
    fx_lines in;
    if (fx_read_lines(nc_test_src("tests/ref/wpe/inputs.txt"), &in)) {
        check_mode("lower", true, &in);
        check_mode("cased", false, &in);
        fx_free_lines(&in);
    }
    check_api();
    check_train();
    return nc_test_finish("wordpiece");
}
