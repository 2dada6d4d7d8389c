/* .nemo archives: files made by Python's tarfile the way NeMo's
 * SaveRestoreConnector makes them (uncompressed with pax headers, and the
 * legacy gzip form) read member by member; nemoc-written .nemo files read
 * back and, when /usr/bin/python3 has torch, unpack and load as NeMo does;
 * artifact names; malformed archives and failed writes. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_fixture.h"
#include "io/fileutil.h"
#include "nemoc/nemo_archive.h"

static void *slurp(const char *path, size_t *len) {
    void *b = NULL;
    CHECK_OK(nc_read_file(path, &b, len));
    return b;
}

static void same_bytes(const void *a, size_t alen, const char *file, const char *what) {
    size_t blen = 0;
    void *b = slurp(file, &blen);
    nc_test_checks++;
    if (!b || alen != blen || memcmp(a, b, alen) != 0)
        nc_test_fail(__FILE__, __LINE__, "%s: %zu bytes differ from %s (%zu bytes)", what, alen, file, blen);
    nc_free(b);
}

static char *vocab_member(void) {
    static char name[512];
    size_t len;
    char *b = slurp(ckpt_ref("expect/vocab_member.txt"), &len);
    snprintf(name, sizeof name, "%s", b ? b : "");
    name[strcspn(name, "\n")] = 0;
    nc_free(b);
    return name;
}

/* Everything a NeMo-made .nemo holds, read through handle n. */
static void check_nemo(nc_nemo *n, bool with_vocab, const char *config) {
    const char *tok = "0123456789abcdef0123456789abcdef_tokenizer.model";
    CHECK(nc_nemo_count(n) == (with_vocab ? 5 : 4));
    const nc_nemo_member *m = nc_nemo_find(n, "model_config.yaml");
    CHECK(m && m->is_file && !strcmp(m->name, "./model_config.yaml") && !strcmp(m->path, "model_config.yaml"));
    CHECK(nc_nemo_find(n, "./model_config.yaml") == m);
    CHECK(nc_nemo_find(n, "nemo:0123456789abcdef0123456789abcdef_tokenizer.model") != NULL);
    CHECK(nc_nemo_find(n, "missing.txt") == NULL);
    const nc_nemo_member *dot = nc_nemo_member_at(n, 0);
    CHECK(dot && !dot->is_file);
    CHECK(nc_nemo_member_at(n, 99) == NULL);

    char *yaml = NULL;
    size_t len = 0;
    CHECK_OK(nc_nemo_read_config(n, &yaml, &len));
    if (yaml) {
        same_bytes(yaml, len, ckpt_ref(config), "model_config.yaml");
        CHECK(strlen(yaml) == len && strstr(yaml, "model_path: nemo:") != NULL);
    }
    nc_free(yaml);
    void *b = NULL;
    CHECK_OK(nc_nemo_read(n, tok, &b, &len));
    if (b) same_bytes(b, len, ckpt_ref("expect/tokenizer.model"), "tokenizer.model");
    nc_free(b);
    if (with_vocab) { /* a name over 100 bytes: stored behind a pax header */
        CHECK_OK(nc_nemo_read(n, vocab_member(), &b, &len));
        if (b) same_bytes(b, len, ckpt_ref("expect/vocab.txt"), "vocab");
        nc_free(b);
    }
    CHECK(nc_nemo_read(n, ".", &b, &len) == NC_ERR_FORMAT);
    CHECK(strstr(nc_last_error(), "not a regular file") != NULL);
    CHECK(nc_nemo_read(n, "nope", &b, &len) == NC_ERR_NOT_FOUND);

    nc_tensor_list l = {0};
    CHECK_OK(nc_nemo_load_weights(n, NULL, NULL, &l));
    ckpt_check_case(&l, "module");
    nc_tensor_list_clear(&l);

    const char *dir = nc_test_tmpdir("nemo_extract");
    CHECK_OK(nc_nemo_extract(n, tok, dir));
    char path[4096];
    snprintf(path, sizeof path, "%.3000s/%s", dir, tok);
    void *x = slurp(path, &len);
    if (x) same_bytes(x, len, ckpt_ref("expect/tokenizer.model"), "extracted tokenizer");
    nc_free(x);
    CHECK_OK(nc_nemo_extract(n, "model_weights.ckpt", dir));
    snprintf(path, sizeof path, "%.3000s/model_weights.ckpt", dir);
    CHECK_OK(nc_torch_ckpt_load(path, NULL, &l));
    ckpt_check_case(&l, "module");
    nc_tensor_list_clear(&l);
    CHECK(nc_nemo_extract(n, ".", dir) != NC_OK);
}

/* One handle, members read from several threads at once (gzip: each read
 * decompresses again through its own libarchive reader). */
static void concurrent_reads(nc_nemo *n) {
    size_t tlen, clen;
    void *tok = slurp(ckpt_ref("expect/tokenizer.model"), &tlen);
    void *cfg = slurp(ckpt_ref("expect/model_config_gz.yaml"), &clen);
    int bad = 0;
#pragma omp parallel for reduction(+ : bad) num_threads(4) schedule(static, 1)
    for (int i = 0; i < 16; i++) {
        void *b = NULL;
        size_t len = 0;
        bool t = i % 2;
        if (nc_nemo_read(n, t ? "0123456789abcdef0123456789abcdef_tokenizer.model" : "model_config.yaml", &b, &len))
            bad++;
        else
            bad += len != (t ? tlen : clen) || memcmp(b, t ? tok : cfg, len) != 0;
        nc_free(b);
    }
    CHECK(bad == 0);
    nc_free(tok);
    nc_free(cfg);
}

static void read_fixtures(void) {
    nc_nemo *n = NULL;
    CHECK_OK(nc_nemo_open(ckpt_ref("model.nemo"), &n));
    if (n) {
        CHECK(!nc_nemo_compressed(n));
        check_nemo(n, true, "expect/model_config.yaml");
        nc_nemo_close(n);
    }
    CHECK_OK(nc_nemo_open(ckpt_ref("legacy_gz.nemo"), &n));
    if (n) {
        CHECK(nc_nemo_compressed(n));
        check_nemo(n, false, "expect/model_config_gz.yaml");
        concurrent_reads(n);
        nc_nemo_close(n);
    }
    size_t len;
    void *img = slurp(ckpt_ref("model.nemo"), &len);
    CHECK_OK(nc_nemo_open_mem(img, len, "model.nemo (memory)", &n));
    if (n) {
        check_nemo(n, true, "expect/model_config.yaml");
        nc_nemo_close(n);
    }

    /* Cut short anywhere: an error when opening or reading, never a crash. */
    int opened = 0;
    for (size_t cut = 0; cut < len; cut += 97) {
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, img, cut);
        if (nc_nemo_open_mem(copy, cut, "cut.nemo", &n) == NC_OK) {
            opened++;
            nc_tensor_list l = {0};
            nc_nemo_load_weights(n, NULL, NULL, &l);
            nc_tensor_list_clear(&l);
            for (int64_t i = 0; i < nc_nemo_count(n); i++) {
                void *b = NULL;
                size_t bl;
                if (nc_nemo_read(n, nc_nemo_member_at(n, i)->name, &b, &bl) == NC_OK) nc_free(b);
            }
            nc_nemo_close(n);
        }
        free(copy);
    }
    printf("truncated .nemo images that still index: %d\n", opened);
    nc_free(img);

    CHECK(nc_nemo_open(ckpt_ref("nope.nemo"), &n) == NC_ERR_NOT_FOUND);
    CHECK(nc_nemo_open(ckpt_ref("plain.pt"), &n) == NC_ERR_FORMAT);
    CHECK(n == NULL);
    CHECK(nc_nemo_open_mem("garbage", 7, "g.nemo", &n) == NC_ERR_FORMAT);
}

static void artifact_names(void) {
    char a[128], b[128];
    CHECK_OK(nc_nemo_artifact_name("/some/dir/tokenizer.model", a, sizeof a));
    CHECK_OK(nc_nemo_artifact_name("tokenizer.model", b, sizeof b));
    CHECK(strlen(a) == 33 + strlen("tokenizer.model") && !strcmp(a + 32, "_tokenizer.model"));
    int hex = 0;
    for (int i = 0; i < 32; i++) hex += (a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f');
    CHECK(hex == 32);
    CHECK(a[12] == '4' && strchr("89ab", a[16]) != NULL); /* uuid4 version and variant */
    CHECK(memcmp(a, b, 32) != 0);
    CHECK(nc_nemo_artifact_name("x/tokenizer.model", a, 40) == NC_ERR_INVALID_ARG);
    CHECK(nc_nemo_artifact_name("dir/", a, sizeof a) == NC_ERR_INVALID_ARG);
}

static void write_and_read_back(void) {
    const char *dir = nc_test_tmpdir("nemo_write");
    char out[4096], edir[4096], tok_name[128], arts[4096], longfile[4096];
    snprintf(out, sizeof out, "%.3000s/model.nemo", dir);
    snprintf(edir, sizeof edir, "%.3000s/expect", dir);
    mkdir(edir, 0755);

    nc_tensor_list w = {0};
    CHECK_OK(nc_torch_ckpt_load(ckpt_ref("module.pt"), NULL, &w));
    CHECK_OK(nc_nemo_artifact_name(ckpt_ref("expect/tokenizer.model"), tok_name, sizeof tok_name));
    char long_name[300];
    snprintf(long_name, sizeof long_name, "%s", vocab_member());
    static const char vocab_bytes[] = "a\nb\nc\n";
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "target: x.Y\ntokenizer:\n  model_path: nemo:%s\n  vocab_path: nemo:%s\n", tok_name, long_name);
    nc_nemo_artifact art[2] = {
        {.name = tok_name, .path = ckpt_ref("expect/tokenizer.model")},
        {.name = long_name, .data = vocab_bytes, .len = sizeof vocab_bytes - 1},
    };
    char tok_path[4096];
    snprintf(tok_path, sizeof tok_path, "%s", ckpt_ref("expect/tokenizer.model"));
    art[0].path = tok_path;
    nc_nemo_contents c = {.config_yaml = cfg, .tensors = w.items, .n_tensors = w.n, .artifacts = art, .n_artifacts = 2};
    CHECK_OK(nc_nemo_save(out, &c));

    nc_nemo *n = NULL;
    CHECK_OK(nc_nemo_open(out, &n));
    if (n) {
        CHECK(!nc_nemo_compressed(n) && nc_nemo_count(n) == 5);
        int under_dot = 0;
        for (int64_t i = 0; i < nc_nemo_count(n); i++) under_dot += !strncmp(nc_nemo_member_at(n, i)->name, "./", 2);
        CHECK(under_dot == 5);
        char *yaml = NULL;
        size_t len;
        CHECK_OK(nc_nemo_read_config(n, &yaml, &len));
        CHECK(yaml && len == strlen(cfg) && !strcmp(yaml, cfg));
        nc_free(yaml);
        void *b = NULL;
        CHECK_OK(nc_nemo_read(n, tok_name, &b, &len));
        if (b) same_bytes(b, len, tok_path, "written tokenizer");
        nc_free(b);
        CHECK_OK(nc_nemo_read(n, long_name, &b, &len));
        CHECK(b && len == sizeof vocab_bytes - 1 && !memcmp(b, vocab_bytes, len));
        nc_free(b);
        nc_tensor_list back = {0};
        CHECK_OK(nc_nemo_load_weights(n, NULL, NULL, &back));
        ckpt_check_case(&back, "module");
        nc_tensor_list_clear(&back);
        nc_nemo_close(n);
    }

    if (ckpt_have_torch()) {
        char p[4096];
        snprintf(p, sizeof p, "%.3000s/model_config.yaml", edir);
        CHECK_OK(nc_write_file_atomic(p, cfg, strlen(cfg)));
        snprintf(longfile, sizeof longfile, "%.3000s/vocab.bin", dir);
        CHECK_OK(nc_write_file_atomic(longfile, vocab_bytes, sizeof vocab_bytes - 1));
        snprintf(arts, sizeof arts, "%.100s\t%.900s\n%.300s\t%.900s\n", tok_name, tok_path, long_name, longfile);
        snprintf(p, sizeof p, "%.3000s/artifacts.txt", edir);
        CHECK_OK(nc_write_file_atomic(p, arts, strlen(arts)));
        ckpt_write_expect(w.items, w.n, edir);
        CHECK(ckpt_run_check("nemo", out, edir) == 0);
    } else {
        printf("torch/tarfile cross-check of %s: skipped (/usr/bin/python3 has no torch)\n", out);
    }

    /* Bad contents are refused before anything is written. */
    char bad_path[4096];
    snprintf(bad_path, sizeof bad_path, "%.3000s/bad.nemo", dir);
    nc_nemo_artifact bad[2] = {{.name = "a/b", .data = "x", .len = 1}, {.name = "x", .data = "x", .len = 1}};
    c.artifacts = bad;
    c.n_artifacts = 1;
    CHECK(nc_nemo_save(bad_path, &c) == NC_ERR_INVALID_ARG);
    bad[0].name = "model_weights.ckpt";
    CHECK(nc_nemo_save(bad_path, &c) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "reserved") != NULL);
    bad[0].name = "x";
    c.n_artifacts = 2;
    CHECK(nc_nemo_save(bad_path, &c) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "twice") != NULL);
    bad[0] = (nc_nemo_artifact){.name = "y", .path = "/nonexistent/file"};
    c.n_artifacts = 1;
    CHECK(nc_nemo_save(bad_path, &c) == NC_ERR_NOT_FOUND);
    CHECK(access(bad_path, F_OK) != 0);

    /* A full disk: error, and the earlier .nemo is untouched. */
    size_t blen, alen;
    void *before = slurp(out, &blen);
    c.artifacts = art;
    c.n_artifacts = 2;
    nc_io_fail_write_after(1); /* the archive goes out in one 10240-byte record */
    CHECK(nc_nemo_save(out, &c) == NC_ERR_IO);
    nc_io_fail_write_after(0);
    void *after = slurp(out, &alen);
    CHECK(before && after && alen == blen && !memcmp(before, after, blen));
    nc_free(before);
    nc_free(after);
    nc_tensor_list_clear(&w);
}

/* Every nemoc allocation of open + load fails in turn: clean errors, no leaks. */
static void oom_paths(void) {
    size_t len;
    void *img = slurp(ckpt_ref("model.nemo"), &len);
    int n_runs = 0, bad = 0, leaks = 0;
    for (int64_t k = 1; k < 10000 && img; k++) {
        nc_debug_alloc dbg = {.fail_at = k};
        nc_allocator da = nc_debug_allocator(&dbg), prev = nc_set_allocator(&da);
        nc_nemo *n = NULL;
        nc_tensor_list l = {0};
        nc_status st = nc_nemo_open_mem(img, len, "model.nemo", &n);
        if (!st) st = nc_nemo_load_weights(n, NULL, NULL, &l);
        nc_tensor_list_clear(&l);
        nc_nemo_close(n);
        nc_set_allocator(&prev);
        n_runs++;
        leaks += dbg.live_blocks != 0;
        if (!dbg.n_failed) {
            CHECK_OK(st);
            break;
        }
        bad += st != NC_ERR_OOM;
    }
    CHECK(n_runs > 10 && bad == 0 && leaks == 0);
    nc_free(img);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    read_fixtures();
    artifact_names();
    write_and_read_back();
    oom_paths();
    return nc_test_finish("nemo_archive");
}
