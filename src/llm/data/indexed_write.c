/* Writer of Megatron's MMapIndexedDataset: NeMo's MMapIndexedDatasetBuilder
 * and MMapIndexedDataset.Index.writer (nemo/collections/nlp/data/
 * language_modeling/megatron/indexed_dataset.py), byte for byte:
 * add_item appends a sequence's tokens to the .bin in the dataset's dtype,
 * end_document appends len(sizes) to the document index (which starts as
 * [0]), finalize writes the header, the int32 sizes, the int64 byte
 * pointers (running sums of size * itemsize) and the int64 document index.
 * Both files go through temp files renamed into place, so an interrupted run
 * never leaves a .bin without its .idx or a torn file. */
#include <string.h>

#include "core/vec.h"
#include "io/fileutil.h"
#include "llm/data/indexed_format.h"
#include "nemoc/alloc.h"
#include "nemoc/llm_data.h"

#define BUF_BYTES (1 << 20)

struct nc_indexed_builder {
    nc_atomic_file *bin;
    char *bin_path;
    int dtype, dsize;
    int32_t *sizes;
    int64_t n, cap;
    int64_t *doc_idx;
    int64_t n_doc, cap_doc;
    unsigned char *buf; /* pending .bin bytes */
    size_t buf_n;
};

nc_status nc_indexed_builder_new(const char *bin_path, nc_idx_dtype dtype, nc_indexed_builder **out) {
    *out = NULL;
    int dsize = nc_idx_dtype_size((int)dtype);
    if (!dsize) return nc_error(NC_ERR_INVALID_ARG, "%s: dtype code %d is not a token type", bin_path, (int)dtype);
    nc_indexed_builder *b = nc_calloc(1, sizeof *b);
    if (!b) return nc_error(NC_ERR_OOM, "%s: builder", bin_path);
    b->dtype = (int)dtype;
    b->dsize = dsize;
    b->bin_path = nc_strdup(bin_path);
    b->buf = nc_malloc(BUF_BYTES);
    nc_status s = b->bin_path && b->buf ? NC_OK : nc_error(NC_ERR_OOM, "%s: builder", bin_path);
    if (!s) s = nc_vec_reserve(&b->doc_idx, &b->cap_doc, 1, sizeof *b->doc_idx);
    if (!s) s = nc_atomic_open(bin_path, &b->bin);
    if (s) {
        nc_indexed_builder_abort(b);
        return s;
    }
    b->doc_idx[b->n_doc++] = 0;
    *out = b;
    return NC_OK;
}

void nc_indexed_builder_abort(nc_indexed_builder *b) {
    if (!b) return;
    if (b->bin) nc_atomic_abort(b->bin);
    nc_free(b->bin_path);
    nc_free(b->sizes);
    nc_free(b->doc_idx);
    nc_free(b->buf);
    nc_free(b);
}

int64_t nc_indexed_builder_len(const nc_indexed_builder *b) { return b->n; }

static nc_status flush(nc_indexed_builder *b) {
    nc_status s = b->buf_n ? nc_atomic_write(b->bin, b->buf, b->buf_n) : NC_OK;
    b->buf_n = 0;
    return s;
}

/* One id in the dataset's dtype, range-checked (np.array(..., dtype) would
 * wrap silently; a wrapped id is a wrong token). */
static nc_status put(nc_indexed_builder *b, int32_t id) {
    int64_t lo, hi;
    switch (b->dtype) {
    case NC_IDX_U8: lo = 0, hi = UINT8_MAX; break;
    case NC_IDX_I8: lo = INT8_MIN, hi = INT8_MAX; break;
    case NC_IDX_I16: lo = INT16_MIN, hi = INT16_MAX; break;
    case NC_IDX_U16: lo = 0, hi = UINT16_MAX; break;
    default: lo = INT32_MIN, hi = INT32_MAX; break;
    }
    if (id < lo || id > hi)
        return nc_error(NC_ERR_INVALID_ARG, "%s: token id %d does not fit the dataset's dtype (code %d, %d bytes)",
                        b->bin_path, id, b->dtype, b->dsize);
    if (b->buf_n + 8 > BUF_BYTES) {
        nc_status s = flush(b);
        if (s) return s;
    }
    unsigned char *p = b->buf + b->buf_n;
    switch (b->dsize) {
    case 1: p[0] = (unsigned char)id; break;
    case 2: {
        uint16_t v = (uint16_t)id;
        memcpy(p, &v, 2);
        break;
    }
    case 4: memcpy(p, &id, 4); break;
    default: {
        int64_t v = id;
        memcpy(p, &v, 8);
        break;
    }
    }
    b->buf_n += (size_t)b->dsize;
    return NC_OK;
}

nc_status nc_indexed_builder_add(nc_indexed_builder *b, const int32_t *ids, int64_t n) {
    if (n < 0 || n > INT32_MAX)
        return nc_error(NC_ERR_INVALID_ARG, "%s: a sequence of %lld tokens (sizes are int32)", b->bin_path,
                        (long long)n);
    nc_status s = nc_vec_reserve(&b->sizes, &b->cap, b->n + 1, sizeof *b->sizes);
    for (int64_t i = 0; !s && i < n; i++) s = put(b, ids[i]);
    if (s) return s;
    b->sizes[b->n++] = (int32_t)n;
    return NC_OK;
}

nc_status nc_indexed_builder_end_document(nc_indexed_builder *b) {
    nc_status s = nc_vec_reserve(&b->doc_idx, &b->cap_doc, b->n_doc + 1, sizeof *b->doc_idx);
    if (s) return s;
    b->doc_idx[b->n_doc++] = b->n;
    return NC_OK;
}

static nc_status write_index(const nc_indexed_builder *b, const char *idx_path) {
    nc_atomic_file *f;
    nc_status s = nc_atomic_open(idx_path, &f);
    if (s) return s;
    unsigned char h[NC_IDX_HEADER_LEN];
    uint64_t version = 1, n = (uint64_t)b->n, nd = (uint64_t)b->n_doc;
    memcpy(h, NC_IDX_MAGIC, NC_IDX_MAGIC_LEN);
    memcpy(h + 9, &version, 8);
    h[17] = (unsigned char)b->dtype;
    memcpy(h + 18, &n, 8);
    memcpy(h + 26, &nd, 8);
    s = nc_atomic_write(f, h, sizeof h);
    if (!s) s = nc_atomic_write(f, b->sizes, (size_t)b->n * sizeof *b->sizes);
    /* pointers: _get_pointers, the byte address of each sequence. */
    int64_t ptr[512];
    int64_t address = 0;
    for (int64_t i = 0; !s && i < b->n; i += 512) {
        int64_t m = b->n - i < 512 ? b->n - i : 512;
        for (int64_t k = 0; k < m; k++) {
            ptr[k] = address;
            address += (int64_t)b->sizes[i + k] * b->dsize;
        }
        s = nc_atomic_write(f, ptr, (size_t)m * sizeof *ptr);
    }
    if (!s) s = nc_atomic_write(f, b->doc_idx, (size_t)b->n_doc * sizeof *b->doc_idx);
    if (s) {
        nc_atomic_abort(f);
        return s;
    }
    return nc_atomic_commit(f);
}

nc_status nc_indexed_builder_finalize(nc_indexed_builder *b, const char *idx_path) {
    nc_status s = flush(b);
    if (!s) {
        s = nc_atomic_commit(b->bin);
        b->bin = NULL;
    }
    if (!s) s = write_index(b, idx_path);
    nc_indexed_builder_abort(b);
    return s;
}
