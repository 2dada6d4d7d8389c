/* Char tokenizer (NeMo char models) against tests/ref/gen_char.py, which
 * runs NeMo's cleaning regexes on the real inflect and text_unidecode
 * packages: the normalised text and the ids of every line must match
 * exactly, for the 'en' parser with two label sets and the 'base' parser. */
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/tokenizer.h"
#include "text_fixture.h"

static const char *kLabelsEn[] = {" ", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
                                  "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "'",
                                  /* en2 adds: */ "-", ".", "<unk>",
                                  /* base adds (after the 28): */};
static const char *kLabelsBase[] = {" ", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
                                    "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "'", "\xc3\xa9",
                                    "\xc3\x9f", "i\xcc\x87", "\xc3\xbc", "<noise>"};

static void check_set(const char *name, const char *const *labels, int64_t n_labels, nc_char_parser parser,
                      const fx_lines *in) {
    char path[256];
    nc_char_params p = nc_char_default_params();
    p.parser = parser;
    nc_tokenizer *t = NULL;
    CHECK_OK(nc_tokenizer_char_new(labels, n_labels, &p, &t));
    if (!t) return;
    fx_lines norm, ids;
    snprintf(path, sizeof path, "tests/ref/char/%s.norm", name);
    bool ok = fx_read_lines(nc_test_src(path), &norm);
    snprintf(path, sizeof path, "tests/ref/char/%s.ids", name);
    ok = fx_read_lines(nc_test_src(path), &ids) && ok;
    CHECK(ok && norm.n == in->n && ids.n == in->n);
    nc_token_ids got = {0};
    int64_t bad = 0;
    for (int64_t i = 0; ok && norm.n == in->n && ids.n == in->n && i < in->n; i++) {
        char *text = NULL;
        nc_status st = nc_char_normalize(t, in->line[i], in->len[i], &text);
        char buf[65536];
        nc_status st2 = nc_tokenizer_encode(t, in->line[i], in->len[i], &got);
        fx_ids_str(got.ids, got.n, buf, sizeof buf);
        if (st || st2 || strcmp(text, norm.line[i]) != 0 || strcmp(buf, ids.line[i]) != 0) {
            if (bad++ < 4)
                fprintf(stderr, "%s line %lld (%s):\n  in:   %s\n  want: [%s]\n  got:  [%s]\n  ids want: %s\n  ids got:  %s\n",
                        name, (long long)i + 1, st ? nc_last_error() : "ok", in->line[i], norm.line[i],
                        text ? text : "", ids.line[i], buf);
        }
        nc_free(text);
    }
    if (bad) nc_test_fail(__FILE__, __LINE__, "%s: %lld of %lld lines differ", name, (long long)bad, (long long)in->n);
    nc_test_checks++;
    printf("  %-5s %lld lines identical to NeMo's parser\n", name, (long long)in->n);
    nc_token_ids_free(&got);
    fx_free_lines(&norm);
    fx_free_lines(&ids);
    nc_tokenizer_free(t);
}

static void check_api(void) {
    nc_tokenizer *t = NULL;
    CHECK_OK(nc_tokenizer_char_new(kLabelsEn, 28, NULL, &t));
    if (!t) return;
    CHECK(nc_tokenizer_vocab_size(t) == 28);
    nc_tokenizer_special sx = nc_tokenizer_special_ids(t);
    CHECK(sx.blank_id == 28 && sx.unk_id == -1); /* CTC blank = len(labels) */
    nc_token_ids ids = {0};
    CHECK_OK(nc_tokenizer_encode(t, "Hi, you!", -1, &ids));
    char *text = NULL;
    CHECK_OK(nc_tokenizer_decode(t, ids.ids, ids.n, &text));
    CHECK(text && strcmp(text, "hi you") == 0);
    nc_free(text);
    int32_t blank = 28;
    CHECK(nc_tokenizer_decode(t, &blank, 1, &text) == NC_ERR_INVALID_ARG);
    CHECK(nc_tokenizer_piece_to_id(t, "'") == 27 && strcmp(nc_tokenizer_id_to_piece(t, 1), "a") == 0);
    /* inflect raises for more than 36 digits: NeMo's parser returns None */
    CHECK(nc_tokenizer_encode(t, "1234567890123456789012345678901234567", -1, &ids) == NC_ERR_INVALID_ARG);
    CHECK_OK(nc_tokenizer_encode(t, "123456789012345678901234567890123456", -1, &ids));
    nc_token_ids_free(&ids);
    nc_tokenizer_free(t);
    const char *bad[] = {"a", ""};
    CHECK(nc_tokenizer_char_new(bad, 2, NULL, &t) == NC_ERR_INVALID_ARG);
}

int main(void) {
    fx_lines in;
    if (fx_read_lines(nc_test_src("tests/ref/char/inputs.txt"), &in)) {
        check_set("en", kLabelsEn, 28, NC_CHAR_PARSER_EN, &in);
        check_set("en2", kLabelsEn, 31, NC_CHAR_PARSER_EN, &in);
        check_set("base", kLabelsBase, 33, NC_CHAR_PARSER_BASE, &in);
        fx_free_lines(&in);
    }
    check_api();
    return nc_test_finish("char_tokenizer");
}
