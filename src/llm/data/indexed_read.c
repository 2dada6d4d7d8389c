/* Reader of Megatron's MMapIndexedDataset (NeMo's
 * nemo/collections/nlp/data/language_modeling/megatron/indexed_dataset.py,
 * MMapIndexedDataset.Index.__init__ and MMapIndexedDataset.get).
 *
 * NeMo trusts the header: np.frombuffer over whatever the counts say. Here
 * both files are mapped and every count, size and pointer is checked against
 * the files' lengths once at open, so a truncated or corrupt file is a named
 * error and get() can never read outside the mapping. The arrays start at
 * byte 34 of the .idx, so they are not aligned: elements are read with
 * memcpy. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io/fileutil.h"
#include "llm/data/indexed_format.h"
#include "nemoc/alloc.h"
#include "nemoc/llm_data.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the indexed dataset reader assumes a little-endian host"
#endif

struct nc_indexed_dataset {
    char *idx_path, *bin_path;
    const unsigned char *idx; /* mapping of the .idx */
    size_t idx_len;
    const unsigned char *bin; /* mapping of the .bin (NULL when empty) */
    size_t bin_len;
    int dtype, dsize;
    int64_t n, n_doc_idx, n_tokens;
    const unsigned char *sizes, *pointers, *doc_idx; /* into idx */
};

nc_idx_dtype nc_idx_best_dtype(int64_t vocab_size) {
    return vocab_size >= 0 && vocab_size < 65500 ? NC_IDX_U16 : NC_IDX_I32;
}

int nc_idx_dtype_size(int code) {
    switch (code) {
    case NC_IDX_U8:
    case NC_IDX_I8: return 1;
    case NC_IDX_I16:
    case NC_IDX_U16: return 2;
    case NC_IDX_I32: return 4;
    case NC_IDX_I64: return 8;
    default: return 0;
    }
}

static int64_t rd_i64(const unsigned char *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint64_t rd_u64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int32_t nc_indexed_size(const nc_indexed_dataset *d, int64_t i) {
    int32_t v;
    memcpy(&v, d->sizes + 4 * i, 4);
    return v;
}

int64_t nc_indexed_pointer(const nc_indexed_dataset *d, int64_t i) { return rd_i64(d->pointers + 8 * i); }
int64_t nc_indexed_doc_index(const nc_indexed_dataset *d, int64_t i) { return rd_i64(d->doc_idx + 8 * i); }
int64_t nc_indexed_len(const nc_indexed_dataset *d) { return d->n; }
int64_t nc_indexed_num_docs(const nc_indexed_dataset *d) { return d->n_doc_idx - 1; }
nc_idx_dtype nc_indexed_dtype(const nc_indexed_dataset *d) { return (nc_idx_dtype)d->dtype; }
int64_t nc_indexed_num_tokens(const nc_indexed_dataset *d) { return d->n_tokens; }

static nc_status map_file(const char *path, const char *what, const unsigned char **map, size_t *len) {
    int fd;
    int64_t size;
    nc_status s = nc_open_read(path, what, &fd, &size);
    if (s) return s;
    *len = (size_t)size;
    *map = NULL;
    if (size > 0) {
        void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            return nc_error(NC_ERR_IO, "%s '%s': cannot mmap %lld bytes", what, path, (long long)size);
        }
        *map = m;
    }
    close(fd);
    return NC_OK;
}

void nc_indexed_close(nc_indexed_dataset *d) {
    if (!d) return;
    if (d->idx) munmap((void *)d->idx, d->idx_len);
    if (d->bin) munmap((void *)d->bin, d->bin_len);
    nc_free(d->idx_path);
    nc_free(d->bin_path);
    nc_free(d);
}

/* Header and array lengths against the .idx's size. */
static nc_status check_header(nc_indexed_dataset *d) {
    const char *f = d->idx_path;
    if (d->idx_len < NC_IDX_MAGIC_LEN || memcmp(d->idx, NC_IDX_MAGIC, NC_IDX_MAGIC_LEN) != 0) {
        if (d->idx_len >= 8 && memcmp(d->idx, "TNTIDX\0\0", 8) == 0)
            return nc_error(NC_ERR_UNSUPPORTED,
                            "%s: a 'cached'/'lazy' IndexedDataset (magic TNTIDX), not mmap: rerun the "
                            "preprocessing with --dataset-impl mmap",
                            f);
        return nc_error(NC_ERR_FORMAT, "%s: bad magic (not a Megatron MMapIndexedDataset index, "
                                       "which starts with \"MMIDIDX\\0\\0\")",
                        f);
    }
    if (d->idx_len < NC_IDX_HEADER_LEN)
        return nc_error(NC_ERR_FORMAT, "%s: truncated file (%zu bytes, the header alone is %d)", f, d->idx_len,
                        NC_IDX_HEADER_LEN);
    uint64_t version = rd_u64(d->idx + 9);
    if (version != 1)
        return nc_error(NC_ERR_FORMAT, "%s: wrong version %llu (only version 1 exists)", f,
                        (unsigned long long)version);
    d->dtype = d->idx[17];
    d->dsize = nc_idx_dtype_size(d->dtype);
    if (!d->dsize)
        return nc_error(d->dtype == 6 || d->dtype == 7 ? NC_ERR_UNSUPPORTED : NC_ERR_FORMAT,
                        "%s: dtype code %d is not a token type (known: 1 uint8, 2 int8, 3 int16, 4 int32, "
                        "5 int64, 8 uint16)",
                        f, d->dtype);
    uint64_t n = rd_u64(d->idx + 18), nd = rd_u64(d->idx + 26);
    /* 12 bytes per sequence and 8 per document-index entry must be what the
     * file holds after the header; counts too large to multiply are the same
     * error (they cannot fit any file). */
    uint64_t avail = (uint64_t)(d->idx_len - NC_IDX_HEADER_LEN);
    if (n > avail / 12 || nd > (avail - n * 12) / 8)
        return nc_error(NC_ERR_FORMAT,
                        "%s: truncated file: the header announces %llu sequences and %llu document-index "
                        "entries, but only %llu bytes follow it (12 per sequence and 8 per entry needed)",
                        f, (unsigned long long)n, (unsigned long long)nd, (unsigned long long)avail);
    if (n * 12 + nd * 8 != avail)
        return nc_error(NC_ERR_FORMAT,
                        "%s: %llu bytes after the arrays the header announces (%llu sequences, %llu "
                        "document-index entries); multimodal sequence modes are not supported",
                        f, (unsigned long long)(avail - n * 12 - nd * 8), (unsigned long long)n,
                        (unsigned long long)nd);
    if (nd < 1) return nc_error(NC_ERR_FORMAT, "%s: empty document index (it holds at least the 0 entry)", f);
    d->n = (int64_t)n;
    d->n_doc_idx = (int64_t)nd;
    d->sizes = d->idx + NC_IDX_HEADER_LEN;
    d->pointers = d->sizes + 4 * n;
    d->doc_idx = d->pointers + 8 * n;
    return NC_OK;
}

/* Every sequence inside the .bin; the document index non-decreasing 0..n. */
static nc_status check_arrays(nc_indexed_dataset *d) {
    int64_t tokens = 0;
    for (int64_t i = 0; i < d->n; i++) {
        int32_t sz = nc_indexed_size(d, i);
        int64_t ptr = nc_indexed_pointer(d, i);
        if (sz < 0) return nc_error(NC_ERR_FORMAT, "%s: sequence %lld has a negative size %d", d->idx_path, (long long)i, sz);
        if (ptr < 0 || (uint64_t)ptr > d->bin_len || (uint64_t)sz * (uint64_t)d->dsize > d->bin_len - (uint64_t)ptr)
            return nc_error(NC_ERR_FORMAT,
                            "%s: sequence %lld (pointer %lld, %d tokens of %d bytes) lies beyond the end of "
                            "%s (%zu bytes): pointers beyond .bin (truncated or mismatched .bin?)",
                            d->idx_path, (long long)i, (long long)ptr, sz, d->dsize, d->bin_path, d->bin_len);
        tokens += sz;
    }
    d->n_tokens = tokens;
    if (nc_indexed_doc_index(d, 0) != 0)
        return nc_error(NC_ERR_FORMAT, "%s: the document index starts at %lld, not 0", d->idx_path,
                        (long long)nc_indexed_doc_index(d, 0));
    for (int64_t i = 1; i < d->n_doc_idx; i++) {
        int64_t a = nc_indexed_doc_index(d, i - 1), b = nc_indexed_doc_index(d, i);
        if (b < a || b > d->n)
            return nc_error(NC_ERR_FORMAT,
                            "%s: document index entry %lld is %lld (after %lld; sequences: %lld): not "
                            "non-decreasing within [0, %lld]",
                            d->idx_path, (long long)i, (long long)b, (long long)a, (long long)d->n, (long long)d->n);
    }
    return NC_OK;
}

nc_status nc_indexed_open(const char *prefix, nc_indexed_dataset **out) {
    *out = NULL;
    nc_indexed_dataset *d = nc_calloc(1, sizeof *d);
    if (!d) return nc_error(NC_ERR_OOM, "indexed dataset '%s'", prefix);
    size_t pl = strlen(prefix);
    d->idx_path = nc_malloc(pl + 5);
    d->bin_path = nc_malloc(pl + 5);
    if (!d->idx_path || !d->bin_path) {
        nc_indexed_close(d);
        return nc_error(NC_ERR_OOM, "indexed dataset '%s'", prefix);
    }
    snprintf(d->idx_path, pl + 5, "%s.idx", prefix);
    snprintf(d->bin_path, pl + 5, "%s.bin", prefix);
    nc_status s = map_file(d->idx_path, "index file", &d->idx, &d->idx_len);
    if (!s) s = map_file(d->bin_path, "data file", &d->bin, &d->bin_len);
    if (!s) s = check_header(d);
    if (!s) s = check_arrays(d);
    if (s) {
        nc_indexed_close(d);
        return s;
    }
    *out = d;
    return NC_OK;
}

nc_status nc_indexed_get(const nc_indexed_dataset *d, int64_t i, int64_t offset, int64_t length, int32_t *out,
                         int64_t *n_out) {
    if (i < 0 || i >= d->n)
        return nc_error(NC_ERR_INVALID_ARG, "%s: sequence %lld out of range (%lld sequences)", d->idx_path,
                        (long long)i, (long long)d->n);
    int64_t size = nc_indexed_size(d, i);
    if (length < 0) length = size - offset;
    if (offset < 0 || length < 0 || offset + length > size)
        return nc_error(NC_ERR_INVALID_ARG, "%s: tokens [%lld, %lld) of sequence %lld, which has %lld",
                        d->idx_path, (long long)offset, (long long)(offset + length), (long long)i, (long long)size);
    const unsigned char *p = d->bin + nc_indexed_pointer(d, i) + offset * d->dsize;
    for (int64_t k = 0; k < length; k++, p += d->dsize) {
        int64_t v;
        switch (d->dtype) {
        case NC_IDX_U8: v = p[0]; break;
        case NC_IDX_I8: v = (int8_t)p[0]; break;
        case NC_IDX_I16: {
            int16_t x;
            memcpy(&x, p, 2);
            v = x;
            break;
        }
        case NC_IDX_U16: {
            uint16_t x;
            memcpy(&x, p, 2);
            v = x;
            break;
        }
        case NC_IDX_I32: {
            int32_t x;
            memcpy(&x, p, 4);
            v = x;
            break;
        }
        default: memcpy(&v, p, 8); break;
        }
        if (v < INT32_MIN || v > INT32_MAX)
            return nc_error(NC_ERR_FORMAT, "%s: token %lld of sequence %lld is %lld, outside int32", d->bin_path,
                            (long long)(offset + k), (long long)i, (long long)v);
        out[k] = (int32_t)v;
    }
    if (n_out) *n_out = length;
    return NC_OK;
}
