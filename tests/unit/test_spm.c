/* SentencePiece tokenizer against Debian's spm_encode/spm_decode 0.1.97.
 *
 * Fixtures (tests/ref/gen_spm.sh): 14 small models (BPE, unigram, char, word;
 * nmt_nfkc, nmt_nfkc_cf and identity normalisation; byte fallback,
 * user-defined symbols, character_coverage < 1, whitespace-as-suffix, no
 * dummy prefix), a test corpus of mixed text, and per model the reference
 * ids and decoded text of every line. Tolerance: none — every id of every
 * line and every decoded byte must be identical. Also: corrupt and truncated
 * model files must fail cleanly (run under ASan to catch bad reads). */
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "text_fixture.h"
#include "nemoc/alloc.h"
#include "nemoc/tokenizer.h"

static const char *kModels[] = {
    "bpe_v128_cf",      "unigram_v256_cf",     "bpe_v1024",        "unigram_v1024_nfkc",
    "bpe_v512_bytefb",  "unigram_v512_bytefb", "bpe_v256_uds",     "unigram_v256_uds",
    "unigram_v512_cov", "bpe_v256_cov",        "bpe_v256_suffix",  "unigram_v256_nodummy",
    "char_cf",          "word_v1024",
};


static int64_t parse_ids(const char *s, int32_t *ids, int64_t cap) {
    int64_t n = 0;
    while (*s) {
        char *e;
        long v = strtol(s, &e, 10);
        if (e == s) break;
        if (n < cap) ids[n] = (int32_t)v;
        n++;
        s = e;
    }
    return n;
}

static void check_model(const char *name, const fx_lines *corpus) {
    char path[512];
    snprintf(path, sizeof path, "tests/ref/spm/%s.model", name);
    nc_tokenizer *t = NULL;
    CHECK_OK(nc_tokenizer_spm_load(nc_test_src(path), &t));
    if (!t) return;
    fx_lines ids, dec;
    snprintf(path, sizeof path, "tests/ref/spm/%s.ids", name);
    bool ok = fx_read_lines(nc_test_src(path), &ids);
    snprintf(path, sizeof path, "tests/ref/spm/%s.decoded", name);
    ok = fx_read_lines(nc_test_src(path), &dec) && ok;
    CHECK(ok && ids.n == corpus->n && dec.n == corpus->n);
    if (!ok || ids.n != corpus->n || dec.n != corpus->n) {
        nc_tokenizer_free(t);
        return;
    }
    nc_token_ids got = {0};
    int32_t *want = malloc(65536 * sizeof *want);
    int64_t bad_enc = 0, bad_dec = 0, bad_rt = 0, total_ids = 0;
    for (int64_t i = 0; i < corpus->n; i++) {
        int64_t nw = parse_ids(ids.line[i], want, 65536);
        nc_status st = nc_tokenizer_encode(t, corpus->line[i], corpus->len[i], &got);
        total_ids += nw;
        if (st || got.n != nw || memcmp(got.ids, want, (size_t)nw * sizeof *want) != 0) {
            if (bad_enc++ < 3) {
                fprintf(stderr, "%s line %lld: encode mismatch (%s)\n  text: %s\n  want: %s\n  got: ", name,
                        (long long)i + 1, st ? nc_last_error() : "ok", corpus->line[i], ids.line[i]);
                for (int64_t k = 0; k < got.n; k++) fprintf(stderr, "%d ", got.ids[k]);
                fprintf(stderr, "\n");
            }
        }
        char *text = NULL;
        st = nc_tokenizer_decode(t, want, nw, &text);
        if (st || strlen(text) != (size_t)dec.len[i] || memcmp(text, dec.line[i], (size_t)dec.len[i]) != 0) {
            if (bad_dec++ < 3)
                fprintf(stderr, "%s line %lld: decode mismatch (%s)\n  want: [%s]\n  got:  [%s]\n", name,
                        (long long)i + 1, st ? nc_last_error() : "ok", dec.line[i], text ? text : "");
        }
        nc_free(text);
        /* decode(encode(x)) equals spm_decode's text */
        text = NULL;
        st = nc_tokenizer_decode(t, got.ids, got.n, &text);
        if (st || strcmp(text, dec.line[i]) != 0) bad_rt++;
        nc_free(text);
    }
    if (bad_enc || bad_dec || bad_rt)
        nc_test_fail(__FILE__, __LINE__, "%s: %lld encode, %lld decode, %lld round-trip mismatches of %lld lines", name,
                     (long long)bad_enc, (long long)bad_dec, (long long)bad_rt, (long long)corpus->n);
    nc_test_checks++;
    printf("  %-22s %5lld lines, %6lld ids identical, vocab %lld\n", name, (long long)corpus->n,
           (long long)total_ids, (long long)nc_tokenizer_vocab_size(t));
    free(want);
    nc_token_ids_free(&got);
    fx_free_lines(&ids);
    fx_free_lines(&dec);
    nc_tokenizer_free(t);
}

static bool read_blob(const char *rel, unsigned char **buf, long *len) {
    FILE *f = fopen(nc_test_src(rel), "rb");
    *buf = NULL;
    *len = 0;
    if (!f) return false;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)*len);
    bool ok = fread(*buf, 1, (size_t)*len, f) == (size_t)*len;
    fclose(f);
    return ok;
}

/* Every truncation and many random corruptions must load or fail cleanly;
 * whatever loads must encode and decode without faults. */
static void check_corrupt(void) {
    unsigned char *buf = NULL;
    long len = 0;
    CHECK(read_blob("tests/ref/spm/bpe_v256_uds.model", &buf, &len));
    if (!buf) return;
    int64_t failed = 0, loaded = 0;
    nc_token_ids ids = {0};
    for (long cut = 0; cut < len; cut++) {
        nc_tokenizer *t = NULL;
        nc_status st = nc_tokenizer_spm_from_memory(buf, cut, &t);
        if (st) {
            failed++;
            CHECK(strlen(nc_last_error()) > 0);
            CHECK(t == NULL);
        } else {
            loaded++;
            CHECK_OK(nc_tokenizer_encode(t, "hello <sep> wörld 123", -1, &ids));
            nc_tokenizer_free(t);
        }
    }
    printf("  truncations: %lld rejected, %lld loaded (a prefix ending on a field boundary is a valid proto)\n",
           (long long)failed, (long long)loaded);
    CHECK(failed > len / 2);

    unsigned char *mut = malloc((size_t)len);
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    int64_t rejected = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(mut, buf, (size_t)len);
        for (int k = 0; k < 1 + round % 4; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            long pos = (long)((rng >> 33) % (uint64_t)len);
            mut[pos] = (unsigned char)(rng >> 17);
        }
        nc_tokenizer *t = NULL;
        if (nc_tokenizer_spm_from_memory(mut, len, &t) != NC_OK) {
            rejected++;
            continue;
        }
        if (nc_tokenizer_encode(t, "Hello <sep> wörld 123 \xff!", -1, &ids) == NC_OK) {
            char *text = NULL;
            if (nc_tokenizer_decode(t, ids.ids, ids.n, &text) == NC_OK) nc_free(text);
        }
        nc_tokenizer_free(t);
    }
    printf("  corruptions: %lld of 3000 rejected, the rest loaded and ran\n", (long long)rejected);
    nc_token_ids_free(&ids);
    free(mut);
    free(buf);

    nc_tokenizer *t = NULL;
    CHECK(nc_tokenizer_spm_load("/nonexistent/tokenizer.model", &t) == NC_ERR_NOT_FOUND);
    CHECK(strstr(nc_last_error(), "/nonexistent/tokenizer.model") != NULL);
    static const char junk[] = "this is not a protobuf";
    CHECK(nc_tokenizer_spm_from_memory(junk, sizeof junk - 1, &t) == NC_ERR_FORMAT);
    CHECK(t == NULL);
}

static void check_api(void) {
    nc_tokenizer *t = NULL;
    CHECK_OK(nc_tokenizer_spm_load(nc_test_src("tests/ref/spm/bpe_v128_cf.model"), &t));
    if (!t) return;
    /* NeMo's flags: no <s>/</s>; <unk> is id 0; blank is vocab_size. */
    nc_tokenizer_special sx = nc_tokenizer_special_ids(t);
    CHECK(sx.unk_id == 0 && sx.bos_id == -1 && sx.eos_id == -1 && sx.pad_id == -1);
    CHECK(sx.blank_id == nc_tokenizer_vocab_size(t));
    CHECK(nc_tokenizer_get_kind(t) == NC_TOKENIZER_SENTENCEPIECE);
    for (int32_t id = 0; id < nc_tokenizer_vocab_size(t); id++) {
        const char *p = nc_tokenizer_id_to_piece(t, id);
        CHECK(p && nc_tokenizer_piece_to_id(t, p) == id);
    }
    CHECK(nc_tokenizer_id_to_piece(t, -1) == NULL);
    CHECK(nc_tokenizer_id_to_piece(t, (int32_t)nc_tokenizer_vocab_size(t)) == NULL);
    CHECK(nc_tokenizer_piece_to_id(t, "no-such-piece") == 0); /* unk, as spm */
    int32_t bad[] = {3, 4, 1000};
    char *text = NULL;
    CHECK(nc_tokenizer_decode(t, bad, 3, &text) == NC_ERR_INVALID_ARG && text == NULL);
    nc_token_ids ids = {0};
    CHECK_OK(nc_tokenizer_encode(t, "", 0, &ids));
    CHECK(ids.n == 0);
    nc_tokenizer_free(t);

    /* Byte pieces that do not form UTF-8 decode to U+FFFD per byte. */
    CHECK_OK(nc_tokenizer_spm_load(nc_test_src("tests/ref/spm/bpe_v1024.model"), &t));
    if (!t) return;
    sx = nc_tokenizer_special_ids(t);
    CHECK(sx.unk_id == 0 && sx.bos_id == 1 && sx.eos_id == 2);
    nc_tokenizer_free(t);
    CHECK_OK(nc_tokenizer_spm_load(nc_test_src("tests/ref/spm/bpe_v512_bytefb.model"), &t));
    if (!t) return;
    int32_t b_e6 = nc_tokenizer_piece_to_id(t, "<0xE6>"), b_97 = nc_tokenizer_piece_to_id(t, "<0x97>");
    int32_t b_a5 = nc_tokenizer_piece_to_id(t, "<0xA5>"), a = nc_tokenizer_piece_to_id(t, "a");
    int32_t seq[] = {b_e6, b_97, a, b_e6, b_97, b_a5};
    CHECK_OK(nc_tokenizer_decode(t, seq, 6, &text));
    CHECK(text && strcmp(text, "\xef\xbf\xbd\xef\xbf\xbd" "a" "\xe6\x97\xa5") == 0);
    nc_free(text);
    nc_token_ids_free(&ids);
    nc_tokenizer_free(t);
}

int main(void) {
    fx_lines corpus;
    if (fx_read_lines(nc_test_src("tests/ref/spm/test_corpus.txt"), &corpus)) {
        for (size_t i = 0; i < sizeof kModels / sizeof kModels[0]; i++) check_model(kModels[i], &corpus);
        fx_free_lines(&corpus);
    }
    check_api();
    check_corrupt();
    return nc_test_finish("spm");
}
