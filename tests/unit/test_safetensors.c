/* safetensors: known-answer bytes from the reference implementation's own
 * tests, fixtures written by tests/ref/gen_safetensors.py following the
 * Python library's layout rules (our writer must reproduce them byte for
 * byte), round trips, and corrupt or truncated files refused with clear
 * messages. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fileutil.h"
#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/safetensors.h"

static nc_tensor *mk(nc_dtype dt, int ndim, const int64_t *shape, const void *data) {
    nc_tensor *t = NULL;
    if (nc_tensor_new(dt, ndim, shape, &t) != NC_OK) return NULL;
    if (data) memcpy(t->data, data, nc_nbytes(t));
    return t;
}

static bool bytes_eq(const void *a, size_t la, const void *b, size_t lb) {
    if (la != lb) {
        fprintf(stderr, "length %zu vs %zu\n", la, lb);
        return false;
    }
    for (size_t i = 0; i < la; i++)
        if (((const unsigned char *)a)[i] != ((const unsigned char *)b)[i]) {
            fprintf(stderr, "first difference at byte %zu\n", i);
            return false;
        }
    return true;
}

/* Byte vectors from safetensors/src/tensor.rs tests (test_empty,
 * test_serialization, test_serialization_forced_alignement). */
static void test_known_answers(void) {
    void *buf;
    size_t len;
    CHECK_OK(nc_st_serialize(NULL, 0, NULL, &buf, &len));
    static const unsigned char empty[] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    CHECK(bytes_eq(buf, len, empty, sizeof empty));
    nc_free(buf);
    const char *meta[] = {"framework", "pt", NULL};
    CHECK_OK(nc_st_serialize(NULL, 0, meta, &buf, &len));
    static const char empty_meta[] = "{\"__metadata__\":{\"framework\":\"pt\"}}     ";
    CHECK(len == 48 && ((unsigned char *)buf)[0] == 40 && !memcmp((char *)buf + 8, empty_meta, 40));
    nc_free(buf);

    float v[6] = {0, 1, 2, 3, 4, 5};
    nc_tensor *t = mk(NC_F32, NC_DIMS(1, 2, 3), v);
    nc_st_entry e = {.name = "attn.0", .tensor = t};
    CHECK_OK(nc_st_serialize(&e, 1, NULL, &buf, &len));
    const char *h1 = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
    CHECK(len == 8 + 64 + 24 && ((unsigned char *)buf)[0] == 64 && !memcmp((char *)buf + 8, h1, 64));
    CHECK(!memcmp((char *)buf + 72, v, 24));
    nc_free(buf);
    nc_tensor_free(t);

    t = mk(NC_F32, NC_DIMS(1, 1, 2, 3), v);
    e = (nc_st_entry){.name = "attn0", .tensor = t};
    CHECK_OK(nc_st_serialize(&e, 1, NULL, &buf, &len));
    const char *h2 = "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ";
    CHECK(len == 8 + 72 + 24 && ((unsigned char *)buf)[0] == 72 && !memcmp((char *)buf + 8, h2, 72));
    nc_st_file *f = NULL;
    CHECK_OK(nc_st_parse(buf, len, "mem", &f));
    if (f) {
        const nc_st_info *in = nc_st_find(f, "attn0");
        CHECK(in && in->nbytes == 24 && (uintptr_t)in->data % 4 == 0 && in->data == (char *)buf + 80);
        nc_st_close(f);
    }
    nc_free(buf);
    nc_tensor_free(t);
}

/* The tensors gen_safetensors.py writes into mixed.safetensors. */
typedef struct fixture {
    nc_tensor *t[11];
    nc_st_entry e[11];
} fixture;

static void fixture_make(fixture *fx) {
    float w[6] = {-1, -0.5f, 0, 0.5f, 1, 1.5f}, bias[3] = {0.25f, -0.5f, 1}, sc = 3.5f, two = 2;
    uint16_t bf[4] = {nc_f32_to_bf16(1), nc_f32_to_bf16(-2.5f), nc_f32_to_bf16(0.15625f), nc_f32_to_bf16(1024)};
    uint16_t hf[3] = {nc_f32_to_f16(0.5f), nc_f32_to_f16(-1.25f), nc_f32_to_f16(65504)};
    int64_t steps[2] = {1, -(1LL << 40)};
    int32_t ids[4] = {0, 1, -7, 2147483647};
    uint8_t mask[3] = {1, 0, 1}, by[4] = {0, 255, 17, 3};
    fx->t[0] = mk(NC_F32, NC_DIMS(2, 3), w);
    fx->t[1] = mk(NC_F32, NC_DIMS(3), bias);
    fx->t[2] = mk(NC_BF16, NC_DIMS(2, 2), bf);
    fx->t[3] = mk(NC_F16, NC_DIMS(3), hf);
    fx->t[4] = mk(NC_I64, NC_DIMS(2), steps);
    fx->t[5] = mk(NC_I32, NC_DIMS(4), ids);
    fx->t[6] = mk(NC_U8, NC_DIMS(3), mask);
    fx->t[7] = mk(NC_U8, NC_DIMS(2, 2), by);
    fx->t[8] = mk(NC_F32, 0, NULL, &sc);
    fx->t[9] = mk(NC_F32, NC_DIMS(0, 4), NULL);
    fx->t[10] = mk(NC_F32, NC_DIMS(1), &two);
    const char *names[11] = {"encoder.weight", "encoder.bias", "emb.bf16", "half", "steps", "ids", "mask",
                             "bytes", "scalar", "empty", "weird \"name\"\n\x01"};
    for (int i = 0; i < 11; i++) fx->e[i] = (nc_st_entry){.name = names[i], .tensor = fx->t[i], .as_bool = i == 6};
}

static void fixture_free(fixture *fx) {
    for (int i = 0; i < 11; i++) nc_tensor_free(fx->t[i]);
}

/* Every tensor of f matches the fixture values, with the right dtype. */
static void check_contents(const nc_st_file *f, const fixture *fx) {
    CHECK(nc_st_count(f) == 11);
    for (int i = 0; i < 11; i++) {
        nc_tensor v;
        CHECK_OK(nc_st_get(f, fx->e[i].name, &v));
        CHECK(v.dtype == fx->t[i]->dtype && nc_same_shape(&v, fx->t[i]));
        CHECK(!memcmp(v.data, fx->t[i]->data, nc_nbytes(fx->t[i])));
        CHECK(!strcmp(v.name, fx->e[i].name));
        const nc_st_info *in = nc_st_find(f, fx->e[i].name);
        CHECK(in && in->data == v.data && (uintptr_t)in->data % nc_dtype_size(v.dtype) == 0);
    }
    CHECK(nc_st_find(f, "mask")->dtype == NC_ST_BOOL);
    CHECK(nc_st_find(f, "bytes")->dtype == NC_ST_U8);
    CHECK(nc_st_find(f, "scalar")->ndim == 0);
    /* Data order: dtype alignment descending, then name. */
    const char *order[11] = {"steps", "empty", "encoder.bias", "encoder.weight", "scalar", "weird \"name\"\n\x01",
                             "ids", "emb.bf16", "half", "bytes", "mask"};
    for (int i = 0; i < 11; i++) CHECK(!strcmp(nc_st_at(f, i)->name, order[i]));
}

static void test_fixture(void) {
    fixture fx;
    fixture_make(&fx);
    nc_st_file *f = NULL;
    CHECK_OK(nc_st_open(nc_test_src("tests/ref/safetensors/mixed.safetensors"), &f));
    if (f) {
        check_contents(f, &fx);
        CHECK(nc_st_metadata_count(f) == 2);
        CHECK(!strcmp(nc_st_metadata_get(f, "format"), "pt"));
        CHECK(!strcmp(nc_st_metadata_get(f, "note"), "h\xc3\xa9llo \"q\""));
        CHECK(!strcmp(nc_st_metadata_key(f, 1), "note"));
        CHECK(nc_st_metadata_get(f, "nope") == NULL);
        nc_tensor v;
        CHECK_ERR(nc_st_get(f, "encoder.weigth", &v), NC_ERR_NOT_FOUND, "no tensor named 'encoder.weigth'");
        nc_st_close(f);
    }
    /* Our writer reproduces the Python layout byte for byte. */
    void *want;
    size_t want_len;
    CHECK_OK(nc_read_file(nc_test_src("tests/ref/safetensors/mixed.safetensors"), &want, &want_len));
    const char *meta[] = {"note", "h\xc3\xa9llo \"q\"", "format", "pt", NULL};
    void *got;
    size_t got_len;
    CHECK_OK(nc_st_serialize(fx.e, 11, meta, &got, &got_len));
    CHECK(bytes_eq(got, got_len, want, want_len));
    nc_free(got);
    nc_free(want);

    /* Atomic save, then load back. */
    const char *dir = nc_test_tmpdir("st");
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_OK(nc_st_save(path, fx.e, 11, meta));
    CHECK_OK(nc_st_open(path, &f));
    if (f) {
        check_contents(f, &fx);
        nc_st_close(f);
    }
    /* A write that fails part way leaves the old file and no temp file. */
    nc_io_fail_write_after(2);
    CHECK_ERR(nc_st_save(path, fx.e, 3, NULL), NC_ERR_IO, "No space left on device");
    nc_io_fail_write_after(0);
    CHECK_OK(nc_st_open(path, &f));
    if (f) {
        CHECK(nc_st_count(f) == 11);
        nc_st_close(f);
    }
    DIR *d = opendir(dir); /* no "model.safetensors.tmp.<pid>.<random>" left */
    CHECK(d != NULL);
    for (struct dirent *de; d && (de = readdir(d));) CHECK(strncmp(de->d_name, "model.safetensors.tmp.", 22) != 0);
    if (d) closedir(d);

    /* Writer argument errors. */
    nc_st_entry dup[2] = {fx.e[0], fx.e[0]};
    CHECK_ERR(nc_st_serialize(dup, 2, NULL, &got, &got_len), NC_ERR_INVALID_ARG, "tensor 'encoder.weight' given twice");
    dup[1] = fx.e[1];
    dup[1].name = "encoder.weight";
    dup[1].tensor = fx.t[5];
    CHECK_ERR(nc_st_serialize(dup, 2, NULL, &got, &got_len), NC_ERR_INVALID_ARG, "given twice");
    nc_st_entry bad = {.name = "__metadata__", .tensor = fx.t[0]};
    CHECK_ERR(nc_st_serialize(&bad, 1, NULL, &got, &got_len), NC_ERR_INVALID_ARG, "reserved");
    bad = (nc_st_entry){.name = "b", .tensor = fx.t[0], .as_bool = true};
    CHECK_ERR(nc_st_serialize(&bad, 1, NULL, &got, &got_len), NC_ERR_DTYPE, "BOOL needs uint8");
    fixture_free(&fx);
}

static void test_other_fixtures(void) {
    nc_st_file *f = NULL;
    CHECK_OK(nc_st_open(nc_test_src("tests/ref/safetensors/with_f64.safetensors"), &f));
    if (f) {
        CHECK(nc_st_count(f) == 13);
        const nc_st_info *d = nc_st_find(f, "double");
        CHECK(d && d->dtype == NC_ST_F64 && d->nbytes == 16 && !strcmp(nc_st_dtype_name(d->dtype), "F64"));
        if (d) {
            double x[2];
            memcpy(x, d->data, 16);
            CHECK(x[0] == 0.1 && x[1] == -3.0);
        }
        nc_tensor v;
        CHECK_ERR(nc_st_get(f, "double", &v), NC_ERR_DTYPE, "tensor 'double' is F64");
        CHECK_ERR(nc_st_get(f, "small", &v), NC_ERR_DTYPE, "is I8");
        CHECK_OK(nc_st_get(f, "ids", &v));
        nc_st_close(f);
    }
    /* Header in name order, no padding: F32 bytes at an odd offset are
     * served from an aligned copy. */
    CHECK_OK(nc_st_open(nc_test_src("tests/ref/safetensors/legacy.safetensors"), &f));
    if (f) {
        nc_tensor a;
        CHECK_OK(nc_st_get(f, "a", &a));
        CHECK((uintptr_t)a.data % 4 == 0 && nc_f32(&a)[0] == 1.5f && nc_f32(&a)[1] == -2.0f);
        CHECK(!strcmp(nc_st_at(f, 0)->name, "b") && nc_st_at(f, 1)->offset == 3);
        nc_st_close(f);
    }
    CHECK_ERR(nc_st_open("/nonexistent/m.safetensors", &f), NC_ERR_NOT_FOUND, "/nonexistent/m.safetensors");
}

/* Frames a header (as given) and `data_len` zero bytes into a file image. */
static nc_status parse_with(const char *hdr, size_t data_len, size_t extra, nc_st_file **f) {
    size_t hl = strlen(hdr), len = 8 + hl + data_len;
    unsigned char *b = calloc(1, len + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((hl + extra) >> (8 * i));
    memcpy(b + 8, hdr, hl);
    nc_status s = nc_st_parse(b, len, "bad.safetensors", f);
    nc_st_close(*f);
    *f = NULL;
    free(b);
    return s;
}

static void test_corrupt(void) {
    nc_st_file *f = NULL;
    CHECK_ERR(nc_st_parse("abc", 3, "tiny.safetensors", &f), NC_ERR_FORMAT, "tiny.safetensors: 3 bytes is too small");
    unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    CHECK_ERR(nc_st_parse(huge, 16, "h.safetensors", &f), NC_ERR_FORMAT, "over the 100 MB limit");
    CHECK_ERR(parse_with("{}", 0, 100, &f), NC_ERR_FORMAT, "header length 102 runs past the end of the file");
    CHECK_ERR(parse_with("[1, 2]  ", 0, 0, &f), NC_ERR_FORMAT, "does not start with '{'");
    CHECK_ERR(parse_with("{\"a\": }", 0, 0, &f), NC_ERR_FORMAT, "header is not valid JSON");
    CHECK_ERR(parse_with("{} x", 0, 0, &f), NC_ERR_FORMAT, "unexpected bytes after the JSON header");
    CHECK_ERR(parse_with("{\"\xff\": 1}", 0, 0, &f), NC_ERR_FORMAT, "not valid UTF-8");
    CHECK_ERR(parse_with("{\"w\": 5}", 0, 0, &f), NC_ERR_FORMAT, "tensor 'w': entry is not a JSON object");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4, 0, &f), NC_ERR_FORMAT, "needs \"dtype\"");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F33\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, 0, &f),
              NC_ERR_FORMAT, "tensor 'w': unknown dtype 'F33'");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4, 0, &f),
              NC_ERR_FORMAT, "shape entries must be non-negative integers");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", 4, 0, &f),
              NC_ERR_FORMAT, "shape entries");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4, 0, &f),
              NC_ERR_FORMAT, "data_offsets must be two");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", 4, 0, &f),
              NC_ERR_FORMAT, "end before they begin");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 12]}}", 12, 0, &f),
              NC_ERR_FORMAT, "tensor 'w': data_offsets [0, 12] hold 12 bytes but F32 (2, 2) needs 16");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 4]}}",
                         4, 0, &f),
              NC_ERR_FORMAT, "needs 18446744073709551615");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                         " \"v\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [2, 6]}}",
                         6, 0, &f),
              NC_ERR_FORMAT, "tensor 'v' (bytes 2..6) overlaps the tensor before it");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8, 0, &f),
              NC_ERR_FORMAT, "tensor 'w' starts at byte 4 of the data, leaving a gap");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 2, 0, &f),
              NC_ERR_FORMAT, "describes 4 data bytes but the file holds 2 (truncated file?)");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 9, 0, &f),
              NC_ERR_FORMAT, "(trailing bytes)");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
                         " \"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}",
                         2, 0, &f),
              NC_ERR_FORMAT, "tensor 'w' appears twice");
    CHECK_ERR(parse_with("{\"__metadata__\": {\"a\": 1}}", 0, 0, &f), NC_ERR_FORMAT, "__metadata__ value of 'a' is not a string");
    CHECK_ERR(parse_with("{\"__metadata__\": [1]}", 0, 0, &f), NC_ERR_FORMAT, "__metadata__ is not a JSON object");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 1]}}", 1, 0, &f),
              NC_ERR_UNSUPPORTED, "tensor 'w' has 9 dimensions");
    CHECK_ERR(parse_with("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 1e300]}}", 4, 0, &f),
              NC_ERR_FORMAT, "data_offsets must be two non-negative integers");

    /* Every truncation of a valid file is refused cleanly. */
    void *img;
    size_t len;
    CHECK_OK(nc_read_file(nc_test_src("tests/ref/safetensors/mixed.safetensors"), &img, &len));
    int refused = 0;
    for (size_t cut = 0; cut < len; cut++) {
        void *copy = malloc(cut ? cut : 1);
        memcpy(copy, img, cut);
        nc_status s = nc_st_parse(copy, cut, "cut", &f);
        refused += s == NC_ERR_FORMAT;
        nc_st_close(f);
        f = NULL;
        free(copy);
    }
    CHECK(refused == (int)len);
    nc_free(img);
}

int main(void) {
    test_known_answers();
    test_fixture();
    test_other_fixtures();
    test_corrupt();
    return nc_test_finish("test_safetensors");
}
