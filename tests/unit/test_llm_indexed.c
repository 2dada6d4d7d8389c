/* Megatron's MMapIndexedDataset against files NeMo's own
 * MMapIndexedDatasetBuilder wrote (tests/ref/gen_megatron_data.py):
 * a.bin/.idx (uint16, documents of several sequences, one empty) and
 * b.bin/.idx (int32, ids up to 69999). The reader gives back every count,
 * size, pointer, document-index entry and token NeMo wrote; the writer, fed
 * the same items, produces the same bytes. Then corrupt files: each is a
 * named error at open, never a read outside the files. */
#include <stdlib.h>
#include <string.h>

#include "io/fileutil.h"
#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/llm_data.h"
#include "nemoc/tensor.h"

static char fixture[1024];

static bool same_file(const char *a, const char *b) {
    void *x, *y;
    size_t nx, ny;
    if (nc_read_file(a, &x, &nx) || nc_read_file(b, &y, &ny)) return false;
    bool same = nx == ny && memcmp(x, y, nx) == 0;
    if (!same) fprintf(stderr, "  %s (%zu bytes) differs from %s (%zu bytes)\n", a, nx, b, ny);
    nc_free(x);
    nc_free(y);
    return same;
}

/* Reads back dataset `name` and rewrites it with the builder. */
static void roundtrip(const char *name, nc_idx_dtype dtype, const char *tmp) {
    char prefix[1100], path[1200], out[1200];
    snprintf(prefix, sizeof prefix, "%s/%s", fixture, name);
    snprintf(path, sizeof path, "%s_tokens", name);
    nc_tensor *tokens = nc_test_npy(fixture, path);
    snprintf(path, sizeof path, "%s_sizes", name);
    nc_tensor *sizes = nc_test_npy(fixture, path);
    snprintf(path, sizeof path, "%s_doc_idx", name);
    nc_tensor *doc_idx = nc_test_npy(fixture, path);
    if (!tokens || !sizes || !doc_idx) return;
    const int32_t *tk = tokens->data;
    const int64_t *sz = sizes->data, *di = doc_idx->data;
    int64_t n = sizes->shape[0], nd = doc_idx->shape[0];

    nc_indexed_dataset *d;
    CHECK_OK(nc_indexed_open(prefix, &d));
    if (!d) return;
    CHECK(nc_indexed_len(d) == n);
    CHECK(nc_indexed_num_docs(d) == nd - 1);
    CHECK(nc_indexed_dtype(d) == dtype);
    CHECK(nc_indexed_num_tokens(d) == tokens->shape[0]);
    int32_t buf[64];
    int64_t at = 0, ptr = 0, got = -1;
    for (int64_t i = 0; i < n; i++) {
        CHECK(nc_indexed_size(d, i) == sz[i]);
        CHECK(nc_indexed_pointer(d, i) == ptr);
        ptr += sz[i] * nc_idx_dtype_size(dtype);
        CHECK_OK(nc_indexed_get(d, i, 0, -1, buf, &got));
        CHECK(got == sz[i] && memcmp(buf, tk + at, (size_t)got * 4) == 0);
        if (sz[i] >= 3) { /* get(i, offset=1, length=2) */
            CHECK_OK(nc_indexed_get(d, i, 1, 2, buf, &got));
            CHECK(got == 2 && buf[0] == tk[at + 1] && buf[1] == tk[at + 2]);
        }
        at += sz[i];
    }
    for (int64_t i = 0; i < nd; i++) CHECK(nc_indexed_doc_index(d, i) == di[i]);
    CHECK_ERR(nc_indexed_get(d, n, 0, -1, buf, NULL), NC_ERR_INVALID_ARG, "out of range");
    CHECK_ERR(nc_indexed_get(d, 0, 0, sz[0] + 1, buf, NULL), NC_ERR_INVALID_ARG, "of sequence 0");
    nc_indexed_close(d);

    /* The builder, fed the same items and document ends, writes the same bytes. */
    nc_indexed_builder *b;
    snprintf(path, sizeof path, "%s/%s.bin", tmp, name);
    CHECK_OK(nc_indexed_builder_new(path, dtype, &b));
    at = 0;
    int64_t next_doc = 1;
    for (int64_t i = 0; i < n; i++) {
        CHECK_OK(nc_indexed_builder_add(b, tk + at, sz[i]));
        at += sz[i];
        while (next_doc < nd && di[next_doc] == i + 1) {
            CHECK_OK(nc_indexed_builder_end_document(b));
            next_doc++;
        }
    }
    CHECK(nc_indexed_builder_len(b) == n);
    snprintf(out, sizeof out, "%s/%s.idx", tmp, name);
    CHECK_OK(nc_indexed_builder_finalize(b, out));
    snprintf(path, sizeof path, "%s.idx", prefix);
    CHECK(same_file(out, path));
    snprintf(out, sizeof out, "%s/%s.bin", tmp, name);
    snprintf(path, sizeof path, "%s.bin", prefix);
    CHECK(same_file(out, path));
    nc_tensor_free(tokens);
    nc_tensor_free(sizes);
    nc_tensor_free(doc_idx);
}

/* Writes <tmp>/bad.idx as a's index edited by `edit`, and a's .bin cut to
 * bin_len bytes (-1: whole), then expects open to fail with `needle`. */
static void corrupt(const char *tmp, long idx_len, long at, const void *bytes, size_t nb, long bin_len,
                    nc_status code, const char *needle) {
    char src[1100], dst[1100], prefix[1100];
    void *idx, *bin;
    size_t ni, nbin;
    snprintf(src, sizeof src, "%s/a.idx", fixture);
    if (nc_read_file(src, &idx, &ni)) return;
    snprintf(src, sizeof src, "%s/a.bin", fixture);
    if (nc_read_file(src, &bin, &nbin)) return;
    if (at >= 0) memcpy((char *)idx + at, bytes, nb);
    snprintf(dst, sizeof dst, "%s/bad.idx", tmp);
    CHECK_OK(nc_write_file_atomic(dst, idx, idx_len < 0 ? ni : (size_t)idx_len));
    snprintf(dst, sizeof dst, "%s/bad.bin", tmp);
    CHECK_OK(nc_write_file_atomic(dst, bin, bin_len < 0 ? nbin : (size_t)bin_len));
    snprintf(prefix, sizeof prefix, "%s/bad", tmp);
    nc_indexed_dataset *d = NULL;
    CHECK_ERR(nc_indexed_open(prefix, &d), code, needle);
    CHECK(d == NULL);
    nc_indexed_close(d);
    nc_free(idx);
    nc_free(bin);
}

static void bad_files(const char *tmp) {
    int64_t v;
    corrupt(tmp, 0, -1, NULL, 0, -1, NC_ERR_FORMAT, "bad magic");
    corrupt(tmp, 20, -1, NULL, 0, -1, NC_ERR_FORMAT, "truncated file");
    corrupt(tmp, 200, -1, NULL, 0, -1, NC_ERR_FORMAT, "truncated file");
    corrupt(tmp, -1, 0, "MMIDIDY", 7, -1, NC_ERR_FORMAT, "bad magic");
    corrupt(tmp, -1, 0, "TNTIDX\0\0", 8, -1, NC_ERR_UNSUPPORTED, "--dataset-impl mmap");
    v = 2;
    corrupt(tmp, -1, 9, &v, 8, -1, NC_ERR_FORMAT, "wrong version 2");
    corrupt(tmp, -1, 17, "\x06", 1, -1, NC_ERR_UNSUPPORTED, "dtype code 6");
    corrupt(tmp, -1, 17, "\x63", 1, -1, NC_ERR_FORMAT, "dtype code 99");
    v = (int64_t)1 << 60; /* a sequence count that overflows any size */
    corrupt(tmp, -1, 18, &v, 8, -1, NC_ERR_FORMAT, "truncated file");
    v = 1;
    corrupt(tmp, -1, 26, &v, 8, -1, NC_ERR_FORMAT, "bytes after the arrays");
    corrupt(tmp, -1, -1, NULL, 0, 10, NC_ERR_FORMAT, "pointers beyond .bin");
    v = -4;
    corrupt(tmp, -1, 34 + 4, &v, 4, -1, NC_ERR_FORMAT, "negative size");
    /* The first pointer (after the sizes) moved past the end of the .bin. */
    {
        char p[1100];
        snprintf(p, sizeof p, "%s/a", fixture);
        nc_indexed_dataset *d;
        CHECK_OK(nc_indexed_open(p, &d));
        int64_t n = d ? nc_indexed_len(d) : 0, nd = d ? nc_indexed_num_docs(d) + 1 : 0;
        nc_indexed_close(d);
        v = 1 << 20;
        corrupt(tmp, -1, 34 + 4 * n, &v, 8, -1, NC_ERR_FORMAT, "pointers beyond .bin");
        v = n + 1; /* the last document-index entry past the sequences */
        corrupt(tmp, -1, 34 + 12 * n + 8 * (nd - 1), &v, 8, -1, NC_ERR_FORMAT, "not non-decreasing");
        v = 5;
        corrupt(tmp, -1, 34 + 12 * n, &v, 8, -1, NC_ERR_FORMAT, "starts at 5");
    }
    char p[1100];
    snprintf(p, sizeof p, "%s/missing", tmp);
    nc_indexed_dataset *d;
    CHECK_ERR(nc_indexed_open(p, &d), NC_ERR_NOT_FOUND, "missing.idx");

    /* The writer refuses ids its dtype cannot hold. */
    nc_indexed_builder *b;
    snprintf(p, sizeof p, "%s/w.bin", tmp);
    CHECK_OK(nc_indexed_builder_new(p, NC_IDX_U16, &b));
    int32_t ids[2] = {5, 70000};
    CHECK_ERR(nc_indexed_builder_add(b, ids, 2), NC_ERR_INVALID_ARG, "token id 70000");
    nc_indexed_builder_abort(b);
    CHECK_ERR(nc_indexed_builder_new(p, (nc_idx_dtype)6, &b), NC_ERR_INVALID_ARG, "dtype code 6");
    /* best_fitting_dtype */
    CHECK(nc_idx_best_dtype(65499) == NC_IDX_U16);
    CHECK(nc_idx_best_dtype(65500) == NC_IDX_I32);
    CHECK(nc_idx_best_dtype(50257) == NC_IDX_U16);
}

/* An empty dataset (no sequences, document index [0]) round-trips. */
static void empty_dataset(const char *tmp) {
    char p[1100], q[1100];
    nc_indexed_builder *b;
    snprintf(p, sizeof p, "%s/empty.bin", tmp);
    CHECK_OK(nc_indexed_builder_new(p, NC_IDX_I32, &b));
    snprintf(q, sizeof q, "%s/empty.idx", tmp);
    CHECK_OK(nc_indexed_builder_finalize(b, q));
    snprintf(p, sizeof p, "%s/empty", tmp);
    nc_indexed_dataset *d;
    CHECK_OK(nc_indexed_open(p, &d));
    if (d) CHECK(nc_indexed_len(d) == 0 && nc_indexed_num_docs(d) == 0);
    nc_indexed_close(d);
}

int main(void) {
    snprintf(fixture, sizeof fixture, "%s", nc_test_src("tests/ref/megatron_data"));
    const char *tmp = nc_test_tmpdir("llm_indexed");
    roundtrip("a", NC_IDX_U16, tmp);
    roundtrip("b", NC_IDX_I32, tmp);
    bad_files(tmp);
    empty_dataset(tmp);
    return nc_test_finish("llm_indexed");
}
