/* NeMo's GPTDataset (nemo/collections/nlp/data/language_modeling/megatron/
 * gpt_dataset.py): the three index mappings, cached next to the data under
 * NeMo's file names (so NeMo reads ours and we read NeMo's), and _get_text,
 * which concatenates documents across boundaries into samples of
 * seq_length + 1 tokens.
 *
 * A cache that exists is loaded like np.load would, then checked against
 * the data (every document number, sample boundary and shuffle entry in
 * range) so a stale or corrupt cache is a named error, never an
 * out-of-bounds read. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io/fileutil.h"
#include "llm/data/gpt_index.h"
#include "nemoc/alloc.h"
#include "nemoc/llm_data.h"
#include "nemoc/log.h"
#include "nemoc/npy.h"

struct nc_gpt_dataset {
    const nc_indexed_dataset *data;
    nc_gpt_index ix;
    int64_t seq_length;
    int add_extra;
    int64_t begin, end;
    bool from_cache;
    char *name;
};

nc_gpt_dataset_params nc_gpt_dataset_default_params(void) {
    return (nc_gpt_dataset_params){.name = "train", .seq_length = 2048, .seed = 1234, .drop_last = true,
                                   .add_extra_token = true, .shuffle_documents = true};
}

int64_t nc_gpt_dataset_len(const nc_gpt_dataset *g) { return g->ix.n_sample_rows - 1; }
int64_t nc_gpt_dataset_sample_len(const nc_gpt_dataset *g) { return g->seq_length + g->add_extra; }
bool nc_gpt_dataset_from_cache(const nc_gpt_dataset *g) { return g->from_cache; }
int64_t nc_gpt_dataset_shuffle_idx(const nc_gpt_dataset *g, int64_t i) { return g->ix.shuffle_idx[i]; }

const int32_t *nc_gpt_dataset_doc_idx(const nc_gpt_dataset *g, int64_t *n) {
    *n = g->ix.n_doc;
    return g->ix.doc_idx;
}

const int32_t *nc_gpt_dataset_sample_idx(const nc_gpt_dataset *g, int64_t *n) {
    *n = g->ix.n_sample_rows;
    return g->ix.sample_idx;
}

void nc_gpt_dataset_free(nc_gpt_dataset *g) {
    if (!g) return;
    nc_gpt_index_free(&g->ix);
    nc_free(g->name);
    nc_free(g);
}

/* ---- the cache files -------------------------------------------------------- */

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Loads a .npy of one of the descrs allowed, as int32 or int64 elements. */
static nc_status load_array(const char *path, const char *const *descrs, int ndim, int64_t cols, void **out,
                            int64_t *rows, bool *is_u32) {
    void *buf;
    size_t len;
    nc_status s = nc_read_file(path, &buf, &len);
    if (s) return s;
    nc_npy_info info;
    s = nc_npy_parse_info(buf, len, path, &info);
    int which = -1;
    for (int i = 0; !s && descrs[i]; i++)
        if (!strcmp(info.descr, descrs[i])) which = i;
    if (!s && which < 0) s = nc_error(NC_ERR_FORMAT, "%s: dtype '%s' is not what NeMo writes here", path, info.descr);
    if (!s && (info.ndim != ndim || (ndim == 2 && info.shape[1] != cols)))
        s = nc_error(NC_ERR_FORMAT, "%s: shape of %d dimensions, expected %s", path, info.ndim,
                     ndim == 2 ? "(n, 2)" : "(n,)");
    if (s) {
        nc_free(buf);
        return s;
    }
    const unsigned char *src = (const unsigned char *)buf + info.data_offset;
    int64_t n = info.shape[0] * (ndim == 2 ? cols : 1);
    *rows = info.shape[0];
    if (is_u32) *is_u32 = !strcmp(info.descr, "<u4");
    /* int32 arrays stay int32; the shuffle index widens to int64. */
    bool wide = !strcmp(descrs[0], "<u4");
    void *dst = nc_malloc((size_t)(n ? n : 1) * (wide ? 8 : 4));
    if (!dst) {
        nc_free(buf);
        return nc_error(NC_ERR_OOM, "%s: %lld elements", path, (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        if (!wide) {
            memcpy((int32_t *)dst + i, src + 4 * i, 4);
        } else if (info.item_size == 4) {
            uint32_t v;
            memcpy(&v, src + 4 * i, 4);
            ((int64_t *)dst)[i] = v;
        } else {
            memcpy((int64_t *)dst + i, src + 8 * i, 8);
        }
    }
    nc_free(buf);
    *out = dst;
    return NC_OK;
}

/* Every entry of a loaded cache in range for this data and these bounds. */
static nc_status check_cache(const nc_gpt_dataset *g, const char *prefix) {
    const nc_gpt_index *x = &g->ix;
    for (int64_t i = 0; i < x->n_doc; i++)
        if (x->doc_idx[i] < g->begin || x->doc_idx[i] >= g->end)
            return nc_error(NC_ERR_FORMAT, "%s_doc_idx.npy: entry %lld is document %d, outside [%lld, %lld)",
                            prefix, (long long)i, x->doc_idx[i], (long long)g->begin, (long long)g->end);
    if (x->n_sample_rows < 1) return nc_error(NC_ERR_FORMAT, "%s_sample_idx.npy: no rows", prefix);
    for (int64_t i = 0; i < x->n_sample_rows; i++) {
        int32_t d = x->sample_idx[2 * i], off = x->sample_idx[2 * i + 1];
        if (d < 0 || d >= x->n_doc || off < 0 || off > nc_indexed_size(g->data, x->doc_idx[d]) ||
            (i && (d < x->sample_idx[2 * i - 2] || (d == x->sample_idx[2 * i - 2] && off < x->sample_idx[2 * i - 1]))))
            return nc_error(NC_ERR_FORMAT,
                            "%s_sample_idx.npy: row %lld (%d, %d) does not fit the document index and the data "
                            "(a stale cache? delete the three _idx.npy files to rebuild them)",
                            prefix, (long long)i, d, off);
    }
    if (x->n_shuffle > x->n_sample_rows - 1)
        return nc_error(NC_ERR_FORMAT, "%s_shuffle_idx.npy: %lld entries for %lld samples", prefix,
                        (long long)x->n_shuffle, (long long)(x->n_sample_rows - 1));
    for (int64_t i = 0; i < x->n_shuffle; i++)
        if (x->shuffle_idx[i] < 0 || x->shuffle_idx[i] >= x->n_sample_rows - 1)
            return nc_error(NC_ERR_FORMAT, "%s_shuffle_idx.npy: entry %lld is sample %lld of %lld", prefix,
                            (long long)i, (long long)x->shuffle_idx[i], (long long)(x->n_sample_rows - 1));
    return NC_OK;
}

static nc_status load_cache(nc_gpt_dataset *g, const char *base) {
    char path[4200];
    static const char *const i4[] = {"<i4", NULL}, *const sh[] = {"<u4", "<i8", NULL};
    int64_t rows;
    void *p;
    snprintf(path, sizeof path, "%s_doc_idx.npy", base);
    nc_status s = load_array(path, i4, 1, 1, &p, &g->ix.n_doc, NULL);
    if (s) return s;
    g->ix.doc_idx = p;
    snprintf(path, sizeof path, "%s_sample_idx.npy", base);
    s = load_array(path, i4, 2, 2, &p, &g->ix.n_sample_rows, NULL);
    if (s) return s;
    g->ix.sample_idx = p;
    snprintf(path, sizeof path, "%s_shuffle_idx.npy", base);
    s = load_array(path, sh, 1, 1, &p, &rows, &g->ix.shuffle_u32);
    if (s) return s;
    g->ix.shuffle_idx = p;
    g->ix.n_shuffle = rows;
    return check_cache(g, base);
}

static nc_status save_cache(const nc_gpt_dataset *g, const char *base) {
    char path[4200];
    const nc_gpt_index *x = &g->ix;
    int64_t shape[2] = {x->n_doc, 2};
    snprintf(path, sizeof path, "%s_doc_idx.npy", base);
    nc_status s = nc_npy_save_raw(path, "<i4", 1, shape, x->doc_idx);
    if (s) return s;
    shape[0] = x->n_sample_rows;
    snprintf(path, sizeof path, "%s_sample_idx.npy", base);
    s = nc_npy_save_raw(path, "<i4", 2, shape, x->sample_idx);
    if (s) return s;
    shape[0] = x->n_shuffle;
    snprintf(path, sizeof path, "%s_shuffle_idx.npy", base);
    if (!x->shuffle_u32) return nc_npy_save_raw(path, "<i8", 1, shape, x->shuffle_idx);
    uint32_t *u = nc_malloc((size_t)(x->n_shuffle ? x->n_shuffle : 1) * sizeof *u);
    if (!u) return nc_error(NC_ERR_OOM, "%s", path);
    for (int64_t i = 0; i < x->n_shuffle; i++) u[i] = (uint32_t)x->shuffle_idx[i];
    s = nc_npy_save_raw(path, "<u4", 1, shape, u);
    nc_free(u);
    return s;
}

/* _build_index_mappings' file names:
 * <dir/basename(prefix) or prefix>_<name>_indexmap_<N>ns_<L>sl_<S>s. */
static void cache_base(char *dst, size_t cap, const char *prefix, const nc_gpt_dataset_params *p) {
    const char *base = prefix;
    char tmp[4096];
    if (p->index_mapping_dir) {
        const char *slash = strrchr(prefix, '/');
        snprintf(tmp, sizeof tmp, "%s/%s", p->index_mapping_dir, slash ? slash + 1 : prefix);
        base = tmp;
    }
    snprintf(dst, cap, "%s_%s_indexmap_%lldns_%lldsl_%llus", base, p->name, (long long)p->num_samples,
             (long long)p->seq_length, (unsigned long long)p->seed);
}

nc_status nc_gpt_dataset_new(const nc_indexed_dataset *data, const char *data_prefix, int64_t doc_begin,
                             int64_t doc_end, const nc_gpt_dataset_params *p, nc_gpt_dataset **out) {
    *out = NULL;
    if (doc_begin < 0 || doc_end > nc_indexed_len(data) || doc_begin >= doc_end)
        return nc_error(NC_ERR_INVALID_ARG, "%s: documents [%lld, %lld) of %lld", data_prefix, (long long)doc_begin,
                        (long long)doc_end, (long long)nc_indexed_len(data));
    if (p->seed > 0xffffffffu)
        return nc_error(NC_ERR_CONFIG, "seed %llu: numpy's RandomState takes seeds below 2^32",
                        (unsigned long long)p->seed);
    if (!p->name || !*p->name || strchr(p->name, '/'))
        return nc_error(NC_ERR_INVALID_ARG, "dataset name '%s'", p->name ? p->name : "");
    if (strlen(data_prefix) > 3000) return nc_error(NC_ERR_INVALID_ARG, "data prefix too long");
    nc_gpt_dataset *g = nc_calloc(1, sizeof *g);
    if (!g) return nc_error(NC_ERR_OOM, "GPT dataset");
    g->data = data;
    g->seq_length = p->seq_length;
    g->add_extra = p->add_extra_token ? 1 : 0;
    g->begin = doc_begin;
    g->end = doc_end;
    g->name = nc_strdup(p->name);
    char base[4200];
    cache_base(base, sizeof base, data_prefix, p);
    char f1[4300], f2[4300], f3[4300];
    snprintf(f1, sizeof f1, "%s_doc_idx.npy", base);
    snprintf(f2, sizeof f2, "%s_sample_idx.npy", base);
    snprintf(f3, sizeof f3, "%s_shuffle_idx.npy", base);
    nc_status s = g->name ? NC_OK : nc_error(NC_ERR_OOM, "GPT dataset");
    if (!s && exists(f1) && exists(f2) && exists(f3)) {
        g->from_cache = true;
        s = load_cache(g, base);
        if (!s && p->seq_length < 2) s = nc_error(NC_ERR_INVALID_ARG, "seq_length %lld", (long long)p->seq_length);
    } else if (!s) {
        NC_INFO("%s: building the %s index mappings (%lld samples of %lld tokens) into %s_*.npy", data_prefix,
                p->name, (long long)p->num_samples, (long long)p->seq_length, base);
        s = nc_gpt_index_build(data, doc_begin, doc_end, p->num_samples, p->seq_length, p->seed, p->drop_last,
                               g->add_extra, p->shuffle_documents, &g->ix);
        if (!s && p->index_mapping_dir) s = nc_mkdir_p(p->index_mapping_dir);
        if (!s) s = save_cache(g, base);
    }
    if (s) {
        nc_gpt_dataset_free(g);
        return nc_error_prefix(s, "GPT dataset '%s' (%s)", data_prefix, p->name);
    }
    *out = g;
    return NC_OK;
}

/* Appends tokens [off, off + length) of the document at doc_idx position
 * `pos` (length < 0: to its end) to out[*n..want). */
static nc_status take(const nc_gpt_dataset *g, int64_t idx, int32_t pos, int64_t off, int64_t length, int32_t *out,
                      int64_t *n, int64_t want) {
    int64_t doc = g->ix.doc_idx[pos], got;
    if (length < 0) length = nc_indexed_size(g->data, doc) - off;
    if (length > want - *n)
        return nc_error(NC_ERR_FORMAT, "GPT dataset %s: sample %lld spans more than %lld tokens (stale index cache?)",
                        g->name, (long long)idx, (long long)want);
    nc_status s = nc_indexed_get(g->data, doc, off, length, out + *n, &got);
    if (s) return s;
    *n += got;
    return NC_OK;
}

/* _get_text. */
nc_status nc_gpt_dataset_sample(const nc_gpt_dataset *g, int64_t idx, int32_t *out) {
    int64_t len = nc_gpt_dataset_len(g), want = g->seq_length + g->add_extra;
    if (idx < 0 || idx >= len || idx >= g->ix.n_shuffle)
        return nc_error(NC_ERR_INVALID_ARG, "GPT dataset %s: sample %lld of %lld", g->name, (long long)idx,
                        (long long)len);
    int64_t i = g->ix.shuffle_idx[idx];
    int32_t df = g->ix.sample_idx[2 * i], dl = g->ix.sample_idx[2 * i + 2];
    int32_t of = g->ix.sample_idx[2 * i + 1], ol = g->ix.sample_idx[2 * i + 3];
    int64_t n = 0;
    nc_status s;
    if (df == dl) {
        s = take(g, idx, df, of, ol - of + g->add_extra, out, &n, want);
    } else {
        /* The rest of the first document, the ones between, the head of the last. */
        s = take(g, idx, df, of, -1, out, &n, want);
        for (int32_t d = df + 1; !s && d < dl; d++) s = take(g, idx, d, 0, -1, out, &n, want);
        if (!s) s = take(g, idx, dl, 0, ol + g->add_extra, out, &n, want);
    }
    if (s) return s;
    /* A short sample (the last one without drop_last) is padded with -1. */
    for (; n < want; n++) out[n] = -1;
    return NC_OK;
}
