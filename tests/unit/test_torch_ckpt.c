/* torch.save reader: checkpoints written by torch 1.13 (tests/ref/gen_torch_ckpt.py)
 * compared bit for bit with their expected values, selection of sub-dicts,
 * refusal of globals outside the allow-list, malformed archives and pickles
 * (clear errors, no crash), and every out-of-memory path. */
#include <stdlib.h>
#include <string.h>

#include "ckpt_fixture.h"
#include "io/fileutil.h"

static void load_case(const char *file, const char *kase, const nc_torch_read_params *p) {
    nc_tensor_list l = {0};
    nc_status st = nc_torch_ckpt_load(ckpt_ref(file), p, &l);
    CHECK_OK(st);
    if (!st) ckpt_check_case(&l, kase);
    nc_tensor_list_clear(&l);
}

/* Loads from memory and expects failure with `code` and `needle` in the message. */
static void expect_error(const void *buf, size_t len, const nc_torch_read_params *p, nc_status code,
                         const char *needle, int line) {
    nc_tensor_list l = {0};
    nc_status st = nc_torch_ckpt_load_mem(buf, len, "bad.pt", p, &l);
    nc_test_checks++;
    if (st != code || !strstr(nc_last_error(), needle))
        nc_test_fail(__FILE__, line, "got %s '%s', want %s containing '%s'", nc_status_str(st), nc_last_error(),
                     nc_status_str(code), needle);
    if (l.n != 0) nc_test_fail(__FILE__, line, "a failed load left %lld tensors", (long long)l.n);
    nc_tensor_list_clear(&l);
}

#define EXPECT_ERR(buf, len, p, code, needle) expect_error(buf, len, p, code, needle, __LINE__)

static void fixtures(void) {
    load_case("plain.pt", "plain", NULL);
    load_case("views.pt", "views", NULL);
    load_case("module.pt", "module", NULL);
    load_case("param.pt", "param", NULL);
    load_case("lightning.ckpt", "lightning", NULL);
    load_case("proto4.pt", "proto4", NULL);
    load_case("deflate.pt", "deflate", NULL);
    load_case("bigendian.pt", "bigendian", NULL);
    load_case("writer_ref.pt", "writer_ref", NULL);

    nc_torch_read_params all = nc_torch_read_default_params();
    all.select = "";
    load_case("lightning.ckpt", "lightning_all", &all);
    all.select = "state_dict";
    load_case("lightning.ckpt", "lightning", &all);

    /* A nested selection by dict keys and list index. */
    nc_tensor_list l = {0};
    all.select = "optimizer_states.0.state.1";
    CHECK_OK(nc_torch_ckpt_load(ckpt_ref("lightning.ckpt"), &all, &l));
    CHECK(l.n == 3 && nc_tensor_list_find(&l, "exp_avg_sq") && nc_tensor_list_find(&l, "step"));
    CHECK(!nc_tensor_list_find(&l, "exp_avg_sq2"));
    nc_tensor_list_clear(&l);
    all.select = "optimizer_states.0.nope";
    CHECK(nc_torch_ckpt_load(ckpt_ref("lightning.ckpt"), &all, &l) == NC_ERR_NOT_FOUND);
    CHECK(strstr(nc_last_error(), "'nope'") != NULL);
    all.select = "epoch";
    CHECK(nc_torch_ckpt_load(ckpt_ref("lightning.ckpt"), &all, &l) == NC_ERR_FORMAT);
    CHECK(strstr(nc_last_error(), "holds a int") != NULL);

    /* argparse.Namespace is refused by default and an opaque value when allowed. */
    CHECK(nc_torch_ckpt_load(ckpt_ref("unknown_global.pt"), NULL, &l) == NC_ERR_UNSUPPORTED);
    CHECK(strstr(nc_last_error(), "'argparse.Namespace' is not allowed") != NULL);
    nc_torch_read_params lenient = nc_torch_read_default_params();
    lenient.allow_unknown_globals = true;
    load_case("unknown_global.pt", "unknown_global", &lenient);

    CHECK(nc_torch_ckpt_load(ckpt_ref("legacy.pt"), NULL, &l) == NC_ERR_UNSUPPORTED);
    CHECK(strstr(nc_last_error(), "legacy") != NULL);
    CHECK(nc_torch_ckpt_load(ckpt_ref("model.nemo"), NULL, &l) == NC_ERR_UNSUPPORTED);
    CHECK(strstr(nc_last_error(), "tar archive") != NULL);
    CHECK(nc_torch_ckpt_load(ckpt_ref("no_such.pt"), NULL, &l) == NC_ERR_NOT_FOUND);

    /* Loading appends to a list that already holds tensors. */
    CHECK_OK(nc_torch_ckpt_load(ckpt_ref("param.pt"), NULL, &l));
    CHECK_OK(nc_torch_ckpt_load(ckpt_ref("proto4.pt"), NULL, &l));
    CHECK(l.n == 3 && !strcmp(l.items[0].name, "p") && !strcmp(l.items[2].name, "b"));
    CHECK(l.items[0].tensor->name == l.items[0].name);
    /* ... and a failing load leaves it as it was. */
    CHECK(nc_torch_ckpt_load(ckpt_ref("legacy.pt"), NULL, &l) != NC_OK);
    CHECK(l.n == 3);
    nc_tensor_list_clear(&l);
    CHECK(l.n == 0 && l.items == NULL);
}

/* Truncating a real checkpoint anywhere gives an error, never a crash. */
static void truncations(void) {
    void *buf;
    size_t len;
    CHECK_OK(nc_read_file(ckpt_ref("views.pt"), &buf, &len));
    int bad = 0;
    for (size_t n = 0; n < len; n += 7) {
        nc_tensor_list l = {0};
        unsigned char *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
        memcpy(copy, buf, n);
        nc_status st = nc_torch_ckpt_load_mem(copy, n, "cut.pt", NULL, &l);
        bad += st == NC_OK || l.n != 0 || !nc_last_error()[0];
        nc_tensor_list_clear(&l);
        free(copy);
    }
    CHECK(bad == 0);
    /* Flipping bytes: errors (often CRC) or a successful load, never a crash. */
    unsigned char *copy = malloc(len);
    for (size_t k = 0; k < len; k += 3) {
        memcpy(copy, buf, len);
        copy[k] ^= 0x5a;
        nc_tensor_list l = {0};
        nc_torch_ckpt_load_mem(copy, len, "flip.pt", NULL, &l);
        nc_tensor_list_clear(&l);
    }
    free(copy);
    nc_free(buf);
}

/* Hand-written pickles inside a well-formed zip. */
#define PK(s) s, sizeof(s) - 1
#define REBUILD "ctorch._utils\n_rebuild_tensor_v2\n"
#define ODICT "ccollections\nOrderedDict\n"

static void zip_error(const char *pkl, size_t plen, int n, const char *const *keys, const void *const *datas,
                      const size_t *lens, nc_status code, const char *needle, int line) {
    ckpt_buf z = ckpt_make_zip(pkl, plen, n, keys, datas, lens);
    expect_error(z.b, z.n, NULL, code, needle, line);
    free(z.b);
}

#define ZIP_ERR(pkl, code, needle) zip_error(PK(pkl), 1, keys, datas, lens, code, needle, __LINE__)

static void bad_pickles(void) {
    float four[4] = {1, 2, 3, 4};
    const char *keys[] = {"0"};
    const void *datas[] = {four};
    size_t lens[] = {sizeof four};

    /* A good one first: {'w': tensor of 4 floats, shape (2, 2), stride (1, 2)}. */
    const char good[] = "\x80\x02}X\x01\x00\x00\x00w" REBUILD
                        "((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x04tQ"
                        "K\x00K\x02K\x02\x86K\x01K\x02\x86\x89" ODICT ")RtRs.";
    ckpt_buf z = ckpt_make_zip(PK(good), 1, keys, datas, lens);
    nc_tensor_list l = {0};
    CHECK_OK(nc_torch_ckpt_load_mem(z.b, z.n, "good.pt", NULL, &l));
    CHECK(l.n == 1 && l.items[0].tensor->ndim == 2);
    if (l.n == 1) { /* the transposed view, materialised */
        const float *v = nc_f32(l.items[0].tensor);
        CHECK(v[0] == 1 && v[1] == 3 && v[2] == 2 && v[3] == 4);
    }
    nc_tensor_list_clear(&l);
    free(z.b);

    ZIP_ERR("\x80\x02\xff.", NC_ERR_UNSUPPORTED, "unsupported pickle opcode 0xff");
    ZIP_ERR("\x80\x02I01\n.", NC_ERR_UNSUPPORTED, "opcode 0x49 ('I')");
    ZIP_ERR("\x80\x02\x80\x07.", NC_ERR_UNSUPPORTED, "protocol 7");
    ZIP_ERR("\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00lsq\x00\x85R.", NC_ERR_UNSUPPORTED, "'os.system' is not allowed");
    ZIP_ERR("\x80\x02X\x02\x00\x00\x00osX\x06\x00\x00\x00system\x93.", NC_ERR_UNSUPPORTED, "'os.system'");
    ZIP_ERR("\x80\x02" "ctorch.storage\n_load_from_bytes\n.", NC_ERR_UNSUPPORTED, "_load_from_bytes' is refused");
    ZIP_ERR("\x80\x02" "c__builtin__\neval\n.", NC_ERR_UNSUPPORTED, "__builtin__.eval");
    ZIP_ERR("\x80\x02" "cos\nsys\ntem\n.", NC_ERR_UNSUPPORTED, "'os.sys'");
    ZIP_ERR("\x80\x02" "cos", NC_ERR_FORMAT, "not newline-terminated");
    ZIP_ERR("\x80\x02}", NC_ERR_FORMAT, "ends without STOP");
    ZIP_ERR("\x80\x02t.", NC_ERR_FORMAT, "no MARK");
    ZIP_ERR("\x80\x02\x86.", NC_ERR_FORMAT, "stack underflow");
    ZIP_ERR("\x80\x02(.", NC_ERR_FORMAT, "STOP with an empty stack");
    ZIP_ERR("\x80\x02K\x05.", NC_ERR_FORMAT, "holds a int");
    ZIP_ERR("\x80\x02h\x03.", NC_ERR_FORMAT, "memo entry 3 was never stored");
    ZIP_ERR("\x80\x02}r\xf0\xff\xff\xff.", NC_ERR_FORMAT, "memo index 4294967280 is impossible");
    ZIP_ERR("\x80\x02X\xff\xff\xff\x7f", NC_ERR_FORMAT, "truncated");
    ZIP_ERR("\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.", NC_ERR_UNSUPPORTED, "does not fit 64 bits");
    ZIP_ERR("\x80\x02K\x01K\x02K\x03s.", NC_ERR_FORMAT, "SETITEM(S) on a int");
    ZIP_ERR("\x80\x02}K\x01K\x02K\x03\x87R.", NC_ERR_FORMAT, "cannot call a dict");
    ZIP_ERR("\x80\x02K\x01}b.", NC_ERR_FORMAT, "BUILD on a int");
    ZIP_ERR("\x80\x02X\x01\x00\x00\x00xQ.", NC_ERR_FORMAT, "persistent id is a str");
    ZIP_ERR("\x80\x02(X\x07\x00\x00\x00pickledK\x01K\x02K\x03K\x04tQ.", NC_ERR_UNSUPPORTED, "expected 'storage'");
    /* Self-containing list: the flattening depth limit stops it. */
    ZIP_ERR("\x80\x02]q\x00h\x00" "a.", NC_ERR_FORMAT, "nested deeper than 64");

    /* 40 levels of [prev, prev]: 2^40 paths through 40 lists. */
    char dag[5 + 40 * 9 + 1], *q = dag;
    memcpy(q, "\x80\x02]q\x00", 5);
    q += 5;
    for (int i = 1; i <= 40; i++) {
        unsigned char step[9] = {']', '(', 'h', (unsigned char)(i - 1), 'h', (unsigned char)(i - 1), 'e', 'q', (unsigned char)i};
        memcpy(q, step, 9);
        q += 9;
    }
    *q++ = '.';
    zip_error(dag, (size_t)(q - dag), 1, keys, datas, lens, NC_ERR_FORMAT, "flattening them explodes", __LINE__);

    /* Tensor views that do not fit their storage. */
    ZIP_ERR("\x80\x02}X\x01\x00\x00\x00w" REBUILD
            "((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x04tQ"
            "K\x01K\x02K\x02\x86K\x02K\x01\x86\x89}tRs.",
            NC_ERR_FORMAT, "tensor 'w' (size (2, 2), offset 1) reaches element 4 of storage '0', which has 4");
    ZIP_ERR("\x80\x02}X\x01\x00\x00\x00w" REBUILD
            "((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x04tQ"
            "K\x00\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40\x86K\x01K\x01\x86\x89}tRs.",
            NC_ERR_FORMAT, "size or stride overflows");
    ZIP_ERR("\x80\x02}X\x01\x00\x00\x00w" REBUILD
            "((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpu"
            "\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x10tQK\x00K\x04\x85K\x01\x85\x89}tRs.",
            NC_ERR_FORMAT, "declares 1152921504606846976 float32 elements but its record holds 16 bytes");
    ZIP_ERR("\x80\x02}X\x01\x00\x00\x00w" REBUILD
            "((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "5X\x03\x00\x00\x00" "cpuK\x04tQ"
            "K\x00K\x04\x85K\x01\x85\x89}tRs.",
            NC_ERR_FORMAT, "needs storage record 'archive/data/5', which is missing");
    ZIP_ERR("\x80\x02}X\x01\x00\x00\x00w" REBUILD
            "((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x04\x00\x00\x00../0X\x03\x00\x00\x00" "cpuK\x04tQ"
            "K\x00K\x04\x85K\x01\x85\x89}tRs.",
            NC_ERR_FORMAT, "bad storage key");
    ZIP_ERR("\x80\x02}X\x01\x00\x00\x00w" REBUILD
            "((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x04tQ"
            "K\x00(K\x01K\x01K\x01K\x01K\x01K\x01K\x01K\x01K\x01t(K\x01K\x01K\x01K\x01K\x01K\x01K\x01K\x01K\x01t\x89}tRs.",
            NC_ERR_UNSUPPORTED, "9 dimensions");
    ZIP_ERR("\x80\x02}X\x01\x00\x00\x00w" REBUILD
            "((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x04tQ"
            "K\x00K\x04\x85\x89}tRs.",
            NC_ERR_FORMAT, "takes 6 or 7 arguments, got 5");

    /* Zip-level damage. */
    EXPECT_ERR("PK\x05\x06", 4, NULL, NC_ERR_FORMAT, "too short");
    unsigned char eocd[22] = {0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 1, 0, 1, 0, 46, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_ERR(eocd, sizeof eocd, NULL, NC_ERR_FORMAT, "lies outside the file");
    unsigned char junk[100] = {0};
    EXPECT_ERR(junk, sizeof junk, NULL, NC_ERR_FORMAT, "no end-of-central-directory");

    /* A storage byte flipped: the CRC catches it; without the check it loads. */
    z = ckpt_make_zip(PK(good), 1, keys, datas, lens);
    for (size_t k = 0; k + 16 <= z.n; k++)
        if (!memcmp(z.b + k, four, 16)) {
            z.b[k + 5] ^= 1;
            break;
        }
    EXPECT_ERR(z.b, z.n, NULL, NC_ERR_FORMAT, "CRC-32 mismatch in 'archive/data/0'");
    nc_torch_read_params nocrc = nc_torch_read_default_params();
    nocrc.verify_crc = false;
    CHECK_OK(nc_torch_ckpt_load_mem(z.b, z.n, "flipped.pt", &nocrc, &l));
    CHECK(l.n == 1 && nc_f32(l.items[0].tensor)[0] == 1 && nc_f32(l.items[0].tensor)[2] != 2);
    nc_tensor_list_clear(&l);
    free(z.b);
}

/* Every allocation of a load fails in turn: a clean error, nothing leaked. */
static void oom_paths(void) {
    void *buf;
    size_t len;
    CHECK_OK(nc_read_file(ckpt_ref("views.pt"), &buf, &len));
    int failures = 0, leaks = 0, n_runs = 0;
    for (int64_t k = 1; k < 10000; k++) {
        nc_debug_alloc dbg = {.fail_at = k};
        nc_allocator dalloc = nc_debug_allocator(&dbg);
        nc_allocator prev = nc_set_allocator(&dalloc);
        nc_tensor_list l = {0};
        nc_status st = nc_torch_ckpt_load_mem(buf, len, "views.pt", NULL, &l);
        nc_tensor_list_clear(&l);
        nc_set_allocator(&prev);
        n_runs++;
        leaks += dbg.live_blocks != 0;
        if (dbg.n_failed == 0) {
            CHECK_OK(st);
            break;
        }
        failures += st != NC_ERR_OOM;
    }
    printf("oom: %d allocation points checked\n", n_runs);
    CHECK(n_runs > 10);
    CHECK(failures == 0);
    CHECK(leaks == 0);
    nc_free(buf);
}

int main(void) {
    fixtures();
    truncations();
    bad_pickles();
    oom_paths();
    return nc_test_finish("torch_ckpt");
}
