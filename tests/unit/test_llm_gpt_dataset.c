/* NeMo's GPTDataset sampling against NeMo's own code
 * (tests/ref/gen_megatron_data.py: GPTDataset, build_train_valid_test_datasets,
 * BlendableDataset and helpers.cpp, over the indexed datasets a and b):
 *  - for each case (several epochs with the last shuffled apart, one epoch,
 *    a last epoch merged into the shuffle, drop_last false, no extra token,
 *    unshuffled documents) the three cache files we write are byte-identical
 *    to NeMo's np.save output, and every sample equals NeMo's _get_text;
 *  - NeMo's cache files load and give the same samples; our own cache is
 *    reused on the second build;
 *  - get_train_valid_test_split_ boundaries for ten splits_string/size pairs;
 *  - a 0.3/0.7 blend of a and b over "8,1,1": lengths, the dataset and sample
 *    each blended index comes from, and tokens/labels equal NeMo's;
 *  - data_prefix as a dict of per-split lists (one of them blended);
 *  - corrupt caches and bad parameters are named errors. Exact equality
 *    everywhere (integers). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/fileutil.h"
#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/llm_data.h"
#include "nemoc/npy.h"
#include "nemoc/tensor.h"

static char fixture[1024];

static bool same_file(const char *a, const char *b) {
    void *x, *y;
    size_t nx, ny;
    if (nc_read_file(a, &x, &nx)) return false;
    if (nc_read_file(b, &y, &ny)) {
        nc_free(x);
        return false;
    }
    bool same = nx == ny && memcmp(x, y, nx) == 0;
    if (!same) fprintf(stderr, "  %s (%zu bytes) differs from %s (%zu bytes)\n", a, nx, b, ny);
    nc_free(x);
    nc_free(y);
    return same;
}

static int64_t num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return v ? (int64_t)v->valuedouble : -1;
}

static bool flag(const cJSON *o, const char *key) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key)); }

static const char *str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Every sample of g against <case>_samples.npy. */
static void check_samples(const nc_gpt_dataset *g, const char *case_name) {
    char name[256];
    snprintf(name, sizeof name, "%s_samples", case_name);
    nc_tensor *want = nc_test_npy(fixture, name);
    if (!want) return;
    CHECK(want->shape[0] == nc_gpt_dataset_len(g) && want->shape[1] == nc_gpt_dataset_sample_len(g));
    int32_t out[64];
    const int64_t *w = want->data;
    int bad = 0;
    for (int64_t i = 0; i < want->shape[0] && want->shape[1] <= 64; i++) {
        CHECK_OK(nc_gpt_dataset_sample(g, i, out));
        for (int64_t k = 0; k < want->shape[1]; k++)
            if (out[k] != w[i * want->shape[1] + k] && bad++ < 3)
                fprintf(stderr, "  %s sample %lld token %lld: %d, NeMo %lld\n", case_name, (long long)i,
                        (long long)k, out[k], (long long)w[i * want->shape[1] + k]);
    }
    CHECK(bad == 0);
    nc_tensor_free(want);
}

static void gpt_cases(const cJSON *cases, const char *tmp) {
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        char prefix[1100], ours[1300], theirs[1300], nemo_dir[1100];
        snprintf(prefix, sizeof prefix, "%s/%s", fixture, str(c, "data"));
        snprintf(nemo_dir, sizeof nemo_dir, "%s/idx", fixture);
        nc_indexed_dataset *d;
        CHECK_OK(nc_indexed_open(prefix, &d));
        if (!d) continue;
        nc_gpt_dataset_params p = nc_gpt_dataset_default_params();
        p.name = str(c, "split");
        p.num_samples = num(c, "num_samples");
        p.seq_length = num(c, "seq_length");
        p.seed = (uint64_t)num(c, "seed");
        p.drop_last = flag(c, "drop_last");
        p.add_extra_token = flag(c, "add_extra_token");
        p.shuffle_documents = flag(c, "shuffle_documents");
        p.index_mapping_dir = tmp;
        for (int pass = 0; pass < 3; pass++) {
            /* 0: built here; 1: our cache reused; 2: NeMo's cache files. */
            if (pass == 2) p.index_mapping_dir = nemo_dir;
            nc_gpt_dataset *g = NULL;
            CHECK_OK(nc_gpt_dataset_new(d, prefix, num(c, "begin"), num(c, "end"), &p, &g));
            if (!g) break;
            CHECK(nc_gpt_dataset_from_cache(g) == (pass > 0));
            CHECK(nc_gpt_dataset_len(g) == num(c, "len"));
            check_samples(g, str(c, "case"));
            nc_gpt_dataset_free(g);
            if (pass) continue;
            static const char *const kinds[3] = {"doc", "sample", "shuffle"};
            for (int k = 0; k < 3; k++) {
                snprintf(ours, sizeof ours, "%s/%s_%s_idx.npy", tmp, str(c, "cache"), kinds[k]);
                snprintf(theirs, sizeof theirs, "%s/%s_%s_idx.npy", nemo_dir, str(c, "cache"), kinds[k]);
                if (!same_file(ours, theirs)) nc_test_fail(__FILE__, __LINE__, "case %s: %s_idx", str(c, "case"), kinds[k]);
            }
        }
        nc_indexed_close(d);
    }
}

static void split_cases(const cJSON *cases) {
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        int64_t idx[4];
        CHECK_OK(nc_gpt_split(str(c, "splits_string"), num(c, "size"), idx));
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "index");
        for (int k = 0; k < 4; k++)
            if (idx[k] != (int64_t)cJSON_GetArrayItem(want, k)->valuedouble)
                nc_test_fail(__FILE__, __LINE__, "split '%s' of %lld: index[%d] = %lld, NeMo %lld",
                             str(c, "splits_string"), (long long)num(c, "size"), k, (long long)idx[k],
                             (long long)cJSON_GetArrayItem(want, k)->valuedouble);
    }
    int64_t idx[4];
    CHECK_ERR(nc_gpt_split("98,2", 10, idx), NC_ERR_CONFIG, "expected 3");
    CHECK_ERR(nc_gpt_split("98,x,1", 10, idx), NC_ERR_CONFIG, "splits_string '98,x,1'");
    CHECK_ERR(nc_gpt_split("0,0,0", 10, idx), NC_ERR_CONFIG, "sum to 0");
    CHECK_ERR(nc_gpt_split("1,-1,1", 10, idx), NC_ERR_CONFIG, "non-negative");
}

static void blend(const cJSON *b, const char *tmp) {
    char pa[1100], pb[1100];
    snprintf(pa, sizeof pa, "%s/a", fixture);
    snprintf(pb, sizeof pb, "%s/b", fixture);
    const char *prefixes[4] = {"0.3", pa, "0.7", pb};
    nc_gpt_data_params p = nc_gpt_data_default_params();
    p.data_prefix = prefixes;
    p.n_prefix = 4;
    p.splits_string = str(b, "splits_string");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(b, "num_samples");
    for (int k = 0; k < 3; k++) p.num_samples[k] = (int64_t)cJSON_GetArrayItem(ns, k)->valuedouble;
    p.seq_length = num(b, "seq_length");
    p.seed = (uint64_t)num(b, "seed");
    p.index_mapping_dir = tmp;
    nc_gpt_split_data *s[3];
    CHECK_OK(nc_gpt_build_datasets(&p, s));
    static const char *const names[3] = {"train", "valid", "test"};
    const cJSON *lens = cJSON_GetObjectItemCaseSensitive(b, "len");
    for (int k = 0; k < 3; k++) {
        if (!s[k]) {
            nc_test_fail(__FILE__, __LINE__, "split %s missing", names[k]);
            continue;
        }
        int64_t n = nc_gpt_split_data_len(s[k]), L = nc_gpt_split_data_sample_len(s[k]);
        CHECK(n == (int64_t)cJSON_GetArrayItem(lens, k)->valuedouble);
        char name[64];
        snprintf(name, sizeof name, "blend_%s_samples", names[k]);
        nc_tensor *tokens = nc_test_npy(fixture, name);
        snprintf(name, sizeof name, "blend_%s_labels", names[k]);
        nc_tensor *labels = nc_test_npy(fixture, name);
        snprintf(name, sizeof name, "blend_%s_source", names[k]);
        nc_tensor *source = nc_test_npy(fixture, name);
        if (!tokens || !labels || !source || tokens->shape[0] != n || tokens->shape[1] != L - 1 || L > 64) {
            nc_test_fail(__FILE__, __LINE__, "split %s: fixture shapes", names[k]);
        } else {
            const int64_t *t = tokens->data, *l = labels->data, *src = source->data;
            int32_t out[64];
            int bad = 0;
            for (int64_t i = 0; i < n; i++) {
                int d;
                int64_t j;
                nc_gpt_split_data_source(s[k], i, &d, &j);
                bad += d != src[i] || j != src[n + i];
                CHECK_OK(nc_gpt_split_data_sample(s[k], i, out));
                for (int64_t q = 0; q < L - 1; q++) bad += out[q] != t[i * (L - 1) + q] || out[q + 1] != l[i * (L - 1) + q];
            }
            if (bad) nc_test_fail(__FILE__, __LINE__, "split %s: %d differences from NeMo's blend", names[k], bad);
        }
        nc_tensor_free(tokens);
        nc_tensor_free(labels);
        nc_tensor_free(source);
        nc_gpt_split_data_free(s[k]);
    }
    /* Bad data_prefix lists. */
    const char *odd[3] = {"0.3", pa, "0.7"};
    p.data_prefix = odd;
    p.n_prefix = 3;
    CHECK_ERR(nc_gpt_build_datasets(&p, s), NC_ERR_CONFIG, "data_prefix: 3 entries");
    const char *noweight[4] = {pa, pa, "0.7", pb};
    p.data_prefix = noweight;
    p.n_prefix = 4;
    CHECK_ERR(nc_gpt_build_datasets(&p, s), NC_ERR_CONFIG, "is not a weight");
    CHECK(s[0] == NULL && s[1] == NULL && s[2] == NULL);
}

/* data_prefix as a dict: {train: [b], validation: [.5, a, .5, b], test: [a]}. */
static void per_split(const cJSON *c, const char *tmp) {
    char pa[1100], pb[1100];
    snprintf(pa, sizeof pa, "%s/a", fixture);
    snprintf(pb, sizeof pb, "%s/b", fixture);
    const char *train[1] = {pb}, *valid[4] = {"0.5", pa, "0.5", pb}, *test[1] = {pa};
    nc_gpt_data_params p = nc_gpt_data_default_params();
    p.split_prefix[0] = train;
    p.split_prefix[1] = valid;
    p.split_prefix[2] = test;
    p.n_split_prefix[0] = 1;
    p.n_split_prefix[1] = 4;
    p.n_split_prefix[2] = 1;
    p.splits_string = "garbage: ignored in the dict form";
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(c, "num_samples"), *lens = cJSON_GetObjectItemCaseSensitive(c, "len");
    for (int k = 0; k < 3; k++) p.num_samples[k] = (int64_t)cJSON_GetArrayItem(ns, k)->valuedouble;
    p.seq_length = num(c, "seq_length");
    p.seed = (uint64_t)num(c, "seed");
    p.validation_drop_last = false;
    p.index_mapping_dir = tmp;
    nc_gpt_split_data *s[3];
    CHECK_OK(nc_gpt_build_datasets(&p, s));
    static const char *const names[3] = {"train", "valid", "test"};
    for (int k = 0; k < 3; k++) {
        if (!s[k]) continue;
        int64_t n = nc_gpt_split_data_len(s[k]), L = nc_gpt_split_data_sample_len(s[k]);
        if (n != (int64_t)cJSON_GetArrayItem(lens, k)->valuedouble)
            nc_test_fail(__FILE__, __LINE__, "dict form, %s: %lld samples, NeMo %lld", names[k], (long long)n,
                         (long long)cJSON_GetArrayItem(lens, k)->valuedouble);
        char name[64];
        snprintf(name, sizeof name, "dict_%s_samples", names[k]);
        nc_tensor *want = nc_test_npy(fixture, name);
        int bad = 0;
        int32_t out[64];
        for (int64_t i = 0; want && L <= 64 && i < n && i < want->shape[0]; i++) {
            CHECK_OK(nc_gpt_split_data_sample(s[k], i, out));
            /* NeMo's tokens: the first seq_length ids, -1 padding shown as 0. */
            for (int64_t q = 0; q < L - 1; q++)
                bad += (out[q] < 0 ? 0 : out[q]) != ((const int64_t *)want->data)[i * (L - 1) + q];
        }
        if (!want || bad) nc_test_fail(__FILE__, __LINE__, "dict form, %s: %d differences", names[k], bad);
        nc_tensor_free(want);
        nc_gpt_split_data_free(s[k]);
    }
}

/* Caches that do not fit the data, and parameters NeMo cannot take. */
static void bad_caches(const char *tmp) {
    char prefix[1100], base[1300], path[1400];
    snprintf(prefix, sizeof prefix, "%s/a", fixture);
    nc_indexed_dataset *d;
    CHECK_OK(nc_indexed_open(prefix, &d));
    if (!d) return;
    nc_gpt_dataset_params p = nc_gpt_dataset_default_params();
    p.num_samples = 12;
    p.seq_length = 4;
    p.seed = 9;
    p.index_mapping_dir = tmp;
    nc_gpt_dataset *g = NULL;
    CHECK_OK(nc_gpt_dataset_new(d, prefix, 0, 10, &p, &g));
    int64_t n_rows = 0;
    if (g) nc_gpt_dataset_sample_idx(g, &n_rows);
    int32_t out[8];
    if (g) CHECK_ERR(nc_gpt_dataset_sample(g, nc_gpt_dataset_len(g), out), NC_ERR_INVALID_ARG, "sample");
    nc_gpt_dataset_free(g);
    snprintf(base, sizeof base, "%s/a_train_indexmap_12ns_4sl_9s", tmp);
    /* A shuffle entry past the samples. */
    snprintf(path, sizeof path, "%s_shuffle_idx.npy", base);
    uint32_t sh[3] = {0, 1, 999};
    int64_t three = 3, two = 2;
    CHECK_OK(nc_npy_save_raw(path, "<u4", 1, &three, sh));
    CHECK_ERR(nc_gpt_dataset_new(d, prefix, 0, 10, &p, &g), NC_ERR_FORMAT, "entry 2 is sample 999");
    /* A document index naming documents outside the split. */
    int32_t docs[2] = {0, 57};
    snprintf(path, sizeof path, "%s_doc_idx.npy", base);
    CHECK_OK(nc_npy_save_raw(path, "<i4", 1, &two, docs));
    CHECK_ERR(nc_gpt_dataset_new(d, prefix, 0, 10, &p, &g), NC_ERR_FORMAT, "document 57");
    /* A sample index of the wrong dtype. */
    snprintf(path, sizeof path, "%s_doc_idx.npy", base);
    int64_t docs64[2] = {0, 1};
    CHECK_OK(nc_npy_save_raw(path, "<i8", 1, &two, docs64));
    CHECK_ERR(nc_gpt_dataset_new(d, prefix, 0, 10, &p, &g), NC_ERR_FORMAT, "dtype '<i8'");
    /* Parameters. */
    p.index_mapping_dir = tmp;
    p.seed = 1ull << 32;
    CHECK_ERR(nc_gpt_dataset_new(d, prefix, 0, 10, &p, &g), NC_ERR_CONFIG, "below 2^32");
    p.seed = 1;
    p.seq_length = 1;
    CHECK_ERR(nc_gpt_dataset_new(d, prefix, 0, 10, &p, &g), NC_ERR_INVALID_ARG, "seq_length 1");
    p.seq_length = 4;
    CHECK_ERR(nc_gpt_dataset_new(d, prefix, 5, 5, &p, &g), NC_ERR_INVALID_ARG, "documents [5, 5)");
    CHECK_ERR(nc_gpt_dataset_new(d, prefix, 0, 1000, &p, &g), NC_ERR_INVALID_ARG, "documents [0, 1000)");
    nc_indexed_close(d);
}

int main(void) {
    snprintf(fixture, sizeof fixture, "%s", nc_test_src("tests/ref/megatron_data"));
    char path[1200];
    snprintf(path, sizeof path, "%s/cases.json", fixture);
    void *buf;
    size_t len;
    CHECK_OK(nc_read_file(path, &buf, &len));
    cJSON *cases = cJSON_ParseWithLength(buf, len);
    nc_free(buf);
    CHECK(cases != NULL);
    if (!cases) return nc_test_finish("llm_gpt_dataset");
    gpt_cases(cJSON_GetObjectItemCaseSensitive(cases, "gpt"), nc_test_tmpdir("llm_gpt_cases"));
    split_cases(cJSON_GetObjectItemCaseSensitive(cases, "splits"));
    blend(cJSON_GetObjectItemCaseSensitive(cases, "blend"), nc_test_tmpdir("llm_gpt_blend"));
    per_split(cJSON_GetObjectItemCaseSensitive(cases, "per_split"), nc_test_tmpdir("llm_gpt_dict"));
    bad_caches(nc_test_tmpdir("llm_gpt_bad"));
    cJSON_Delete(cases);
    return nc_test_finish("llm_gpt_dataset");
}
