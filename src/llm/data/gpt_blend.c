/* Train/validation/test GPT datasets over one or several data prefixes, as
 * NeMo's build_train_valid_test_datasets (gpt_dataset.py) with
 * get_train_valid_test_split_ and get_datasets_weights_and_num_samples
 * (base_dataset_utils.py) and BlendableDataset (blendable_dataset.py, whose
 * indices come from helpers.cpp build_blending_indices). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/llm_data.h"
#include "nemoc/log.h"

struct nc_gpt_split_data {
    int n;     /* datasets */
    bool blend; /* a BlendableDataset (data_prefix with weights), even of one */
    nc_gpt_dataset **ds;       /* [n] */
    nc_indexed_dataset **data; /* [n], owned */
    int64_t size;
    uint8_t *dataset_index;         /* [size] */
    int64_t *dataset_sample_index;  /* [size] */
};

nc_gpt_data_params nc_gpt_data_default_params(void) {
    return (nc_gpt_data_params){.splits_string = "969,30,1", .seq_length = 2048, .seed = 1234,
                                .add_extra_token = true, .shuffle_documents = true, .validation_drop_last = true};
}

nc_status nc_gpt_split(const char *splits_string, int64_t size, int64_t index[4]) {
    /* Comma or '/' separated; exactly three numbers (NeMo raises otherwise). */
    double w[3];
    int k = 0;
    char sep = strchr(splits_string, ',') ? ',' : '/';
    const char *p = splits_string;
    for (;;) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || k == 3 || !(v >= 0) || isinf(v))
            return nc_error(NC_ERR_CONFIG, "splits_string '%s': expected 3 %s-separated non-negative numbers",
                            splits_string, sep == ',' ? "comma" : "'/'");
        w[k++] = v;
        while (*end == ' ') end++;
        if (!*end) break;
        if (*end != sep)
            return nc_error(NC_ERR_CONFIG, "splits_string '%s': expected 3 comma-separated numbers", splits_string);
        p = end + 1;
    }
    if (k != 3)
        return nc_error(NC_ERR_CONFIG, "splits_string '%s': expected 3 comma-separated values, got %d",
                        splits_string, k);
    double sum = w[0] + w[1] + w[2];
    if (!(sum > 0)) return nc_error(NC_ERR_CONFIG, "splits_string '%s': the splits sum to 0", splits_string);
    /* splits_index[k+1] = splits_index[k] + int(round(split * size)), then
     * shifted so the last is `size`. Python's round() rounds half to even,
     * as rint does in the default rounding mode. */
    index[0] = 0;
    for (int i = 0; i < 3; i++) index[i + 1] = index[i] + (int64_t)rint(w[i] / sum * (double)size);
    int64_t diff = index[3] - size;
    for (int i = 1; i < 4; i++) index[i] -= diff;
    return NC_OK;
}

void nc_gpt_split_data_free(nc_gpt_split_data *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        nc_gpt_dataset_free(s->ds ? s->ds[i] : NULL);
        nc_indexed_close(s->data ? s->data[i] : NULL);
    }
    nc_free(s->ds);
    nc_free(s->data);
    nc_free(s->dataset_index);
    nc_free(s->dataset_sample_index);
    nc_free(s);
}

int64_t nc_gpt_split_data_len(const nc_gpt_split_data *s) {
    return s->blend ? s->size : nc_gpt_dataset_len(s->ds[0]);
}

int64_t nc_gpt_split_data_sample_len(const nc_gpt_split_data *s) { return nc_gpt_dataset_sample_len(s->ds[0]); }

void nc_gpt_split_data_source(const nc_gpt_split_data *s, int64_t idx, int *dataset, int64_t *sample) {
    if (!s->blend) {
        *dataset = 0;
        *sample = idx;
        return;
    }
    *dataset = s->dataset_index[idx];
    *sample = s->dataset_sample_index[idx];
}

nc_status nc_gpt_split_data_sample(const nc_gpt_split_data *s, int64_t idx, int32_t *out) {
    if (idx < 0 || idx >= nc_gpt_split_data_len(s))
        return nc_error(NC_ERR_INVALID_ARG, "sample %lld of %lld", (long long)idx,
                        (long long)nc_gpt_split_data_len(s));
    int d;
    int64_t k;
    nc_gpt_split_data_source(s, idx, &d, &k);
    int64_t n = nc_gpt_dataset_len(s->ds[d]);
    if (k >= n) { /* BlendableDataset.__getitem__: reuse, with a warning */
        NC_WARN("blended dataset: index %lld out of bounds for dataset %d; reusing %lld", (long long)k, d,
                (long long)(k % n));
        k %= n;
    }
    return nc_gpt_dataset_sample(s->ds[d], k, out);
}

/* helpers.cpp build_blending_indices: each sample goes to the dataset whose
 * count lags its weight the most (the first such on ties). */
static void blending_indices(const double *w, int n, int64_t size, uint8_t *di, int64_t *dsi) {
    int64_t cur[256] = {0};
    for (int64_t i = 0; i < size; i++) {
        double x = i > 1 ? (double)i : 1.0;
        int best = 0;
        double best_err = w[0] * x - (double)cur[0];
        for (int d = 1; d < n; d++) {
            double e = w[d] * x - (double)cur[d];
            if (e > best_err) {
                best_err = e;
                best = d;
            }
        }
        di[i] = (uint8_t)best;
        dsi[i] = cur[best]++;
    }
}

static nc_status parse_weight(const char *s, double *w) {
    char *end;
    errno = 0;
    *w = strtod(s, &end);
    while (*end == ' ') end++;
    if (end == s || *end || errno || !(*w >= 0) || isinf(*w))
        return nc_error(NC_ERR_CONFIG, "data_prefix: '%s' is not a weight (expected [w1, prefix1, w2, prefix2, ...])",
                        s);
    return NC_OK;
}

/* Weights of a [w1, p1, w2, p2, ...] list (or one prefix: weight 1),
 * normalised. Returns the number of datasets. */
static nc_status list_weights(const char *const *list, int n, const char *key, double *w, int *np) {
    if (n < 1 || (n > 1 && n % 2))
        return nc_error(NC_ERR_CONFIG, "%s: %d entries; expected one prefix or [w1, prefix1, w2, prefix2, ...]", key,
                        n);
    *np = n == 1 ? 1 : n / 2;
    if (*np > 254) return nc_error(NC_ERR_CONFIG, "%s: %d datasets (BlendableDataset takes < 255)", key, *np);
    double sum = 0;
    for (int i = 0; i < *np; i++) {
        w[i] = 1.0;
        if (n > 1) {
            nc_status s = parse_weight(list[2 * i], &w[i]);
            if (s) return nc_error_prefix(s, "%s", key);
        }
        sum += w[i];
    }
    if (!(sum > 0)) return nc_error(NC_ERR_CONFIG, "%s: the weights sum to 0", key);
    for (int i = 0; i < *np; i++) w[i] /= sum;
    return NC_OK;
}

static nc_status split_new(int np, bool blend, nc_gpt_split_data **out) {
    nc_gpt_split_data *sd = nc_calloc(1, sizeof *sd);
    if (!sd) return nc_error(NC_ERR_OOM, "GPT datasets");
    sd->n = np;
    sd->blend = blend;
    sd->ds = nc_calloc((size_t)np, sizeof *sd->ds);
    sd->data = nc_calloc((size_t)np, sizeof *sd->data);
    *out = sd;
    if (!sd->ds || !sd->data) return nc_error(NC_ERR_OOM, "GPT datasets");
    return NC_OK;
}

/* GPTDataset i of split k over sequences [b, e) of `data` (which sd takes). */
static nc_status add_dataset(const nc_gpt_data_params *p, nc_gpt_split_data *sd, int i, int k, const char *prefix,
                             nc_indexed_dataset *data, int64_t b, int64_t e, double w) {
    static const char *const names[3] = {"train", "valid", "test"};
    sd->data[i] = data;
    nc_gpt_dataset_params dp = nc_gpt_dataset_default_params();
    dp.name = names[k];
    /* int(math.ceil(num_samples * weight * 1.005)) per blended dataset:
     * 0.5% more so that the blend does not run short. */
    dp.num_samples = sd->blend ? (int64_t)ceil((double)p->num_samples[k] * w * 1.005) : p->num_samples[k];
    dp.seq_length = p->seq_length;
    dp.seed = p->seed;
    dp.drop_last = k == 1 ? p->validation_drop_last : true;
    dp.add_extra_token = p->add_extra_token;
    dp.shuffle_documents = p->shuffle_documents;
    dp.index_mapping_dir = p->index_mapping_dir;
    sd->size += dp.num_samples;
    return nc_gpt_dataset_new(data, prefix, b, e, &dp, &sd->ds[i]);
}

/* The list form: prefix i split by splits_string into every non-empty
 * split. Each split owns its own mapping of the files (the kernel shares the
 * pages; only the open-time checks are repeated), so splits are freed
 * independently. */
static nc_status build_prefix(const nc_gpt_data_params *p, int i, const double *w, nc_gpt_split_data *out[3]) {
    const char *prefix = p->n_prefix == 1 ? p->data_prefix[0] : p->data_prefix[2 * i + 1];
    nc_indexed_dataset *first;
    nc_status s = nc_indexed_open(prefix, &first);
    if (s) return s;
    int64_t split[4];
    s = nc_gpt_split(p->splits_string, nc_indexed_len(first), split);
    bool used = false;
    for (int k = 0; k < 3 && !s; k++) {
        if (split[k + 1] <= split[k]) continue; /* an empty split: no dataset */
        nc_indexed_dataset *data = first;
        if (used) s = nc_indexed_open(prefix, &data);
        used = true;
        if (!s) s = add_dataset(p, out[k], i, k, prefix, data, split[k], split[k + 1], w[i]);
    }
    if (!used) nc_indexed_close(first);
    return s;
}

/* The blend indices of every split, once its datasets exist; an empty
 * split is dropped. */
static nc_status finish_splits(const nc_gpt_data_params *p, nc_gpt_split_data *out[3], const double w[3][256]) {
    static const char *const names[3] = {"train", "validation", "test"};
    for (int k = 0; k < 3; k++) {
        if (!out[k]) continue;
        int present = 0;
        for (int i = 0; i < out[k]->n; i++) present += out[k]->ds[i] != NULL;
        /* A split empty for some prefixes only cannot be blended with the
         * weights given (NeMo's BlendableDataset asserts on it). */
        if (present && present < out[k]->n)
            return nc_error(NC_ERR_CONFIG, "splits_string '%s': the %s split is empty for some data_prefix entries only",
                            p->splits_string, names[k]);
        if (!present) {
            nc_gpt_split_data_free(out[k]);
            out[k] = NULL;
        } else if (out[k]->blend) {
            int64_t n = out[k]->size ? out[k]->size : 1;
            out[k]->dataset_index = nc_malloc((size_t)n);
            out[k]->dataset_sample_index = nc_malloc((size_t)n * sizeof(int64_t));
            if (!out[k]->dataset_index || !out[k]->dataset_sample_index) return nc_error(NC_ERR_OOM, "blend indices");
            blending_indices(w[k], out[k]->n, out[k]->size, out[k]->dataset_index, out[k]->dataset_sample_index);
        }
    }
    return NC_OK;
}

/* The dict form (data_prefix: {train: [...], validation: [...], test: [...]}):
 * each split its own prefixes, every document of them, no splits_string. */
static nc_status build_per_split(const nc_gpt_data_params *p, nc_gpt_split_data *out[3], double w[3][256]) {
    static const char *const keys[3] = {"data_prefix.train", "data_prefix.validation", "data_prefix.test"};
    nc_status s = NC_OK;
    for (int k = 0; k < 3 && !s; k++) {
        int np;
        const char *const *list = p->split_prefix[k];
        int n = p->n_split_prefix[k];
        s = list_weights(list, n, keys[k], w[k], &np);
        if (!s) s = split_new(np, n > 1, &out[k]);
        for (int i = 0; i < np && !s; i++) {
            const char *prefix = n == 1 ? list[0] : list[2 * i + 1];
            nc_indexed_dataset *data;
            s = nc_indexed_open(prefix, &data);
            if (!s) s = add_dataset(p, out[k], i, k, prefix, data, 0, nc_indexed_len(data), w[k][i]);
        }
        /* build_dataset blends into exactly num_samples (the list form into
         * the sum of the per-dataset counts). */
        if (!s) out[k]->size = p->num_samples[k];
    }
    return s;
}

nc_status nc_gpt_build_datasets(const nc_gpt_data_params *p, nc_gpt_split_data *out[3]) {
    out[0] = out[1] = out[2] = NULL;
    double w[3][256];
    nc_status s;
    if (p->n_split_prefix[0] || p->n_split_prefix[1] || p->n_split_prefix[2]) {
        s = build_per_split(p, out, w);
    } else {
        int np;
        s = list_weights(p->data_prefix, p->n_prefix, "data_prefix", w[0], &np);
        memcpy(w[1], w[0], sizeof w[0]);
        memcpy(w[2], w[0], sizeof w[0]);
        for (int k = 0; k < 3 && !s; k++) s = split_new(np, p->n_prefix > 1, &out[k]);
        for (int i = 0; i < np && !s; i++) s = build_prefix(p, i, w[0], out);
    }
    if (!s) s = finish_splits(p, out, (const double(*)[256])w);
    if (s) {
        for (int k = 0; k < 3; k++) {
            nc_gpt_split_data_free(out[k]);
            out[k] = NULL;
        }
    }
    return s;
}
