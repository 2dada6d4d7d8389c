/* GPTDataset's index mappings, built as NeMo builds them
 * (nemo/collections/nlp/data/language_modeling/megatron/gpt_dataset.py:
 * _build_index_mappings, _num_epochs, _build_doc_idx, _build_shuffle_idx;
 * helpers.cpp: build_sample_idx), so the same seed gives the same samples
 * in the same order as NeMo, and NeMo's cached .npy files can be read.
 *
 * The randomness is numpy's np.random.RandomState(seed): legacy integer
 * seeding is mt19937's init_genrand (the seeding nc_rng shares with torch),
 * and RandomState.shuffle of a 1-D array is a Fisher-Yates pass from the
 * end with numpy's random_interval (numpy/random/src/distributions:
 * masked rejection sampling on 32-bit draws, 64-bit ones past 2^32). */
#include "llm/data/gpt_index.h"

#include <math.h>
#include <string.h>

#include "nemoc/alloc.h"

static uint64_t random_interval(nc_rng *r, uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    uint64_t v;
    if (max <= 0xffffffffu) {
        while ((v = (nc_rng_u32(r) & mask)) > max) {
        }
    } else {
        while ((v = (nc_rng_u64(r) & mask)) > max) {
        }
    }
    return v;
}

void nc_np_shuffle_i32(nc_rng *r, int32_t *x, int64_t n) {
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)random_interval(r, (uint64_t)i);
        int32_t t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

void nc_np_shuffle_i64(nc_rng *r, int64_t *x, int64_t n) {
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)random_interval(r, (uint64_t)i);
        int64_t t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

int64_t nc_gpt_num_epochs(int64_t tokens_per_epoch, int64_t seq_length, int64_t num_samples, int add_extra) {
    /* _num_epochs loops until (epochs * tokens - 1) // seq_length >=
     * num_samples (-1: each sample takes seq_length + 1 tokens, but its last
     * token is the next sample's first). For integers that is
     * epochs * tokens >= num_samples * seq_length + 1: the smallest such
     * epochs (at least one), without looping. Callers bound num_samples. */
    int64_t need = num_samples * seq_length + add_extra;
    int64_t epochs = (need + tokens_per_epoch - 1) / tokens_per_epoch;
    return epochs < 1 ? 1 : epochs;
}

void nc_gpt_index_free(nc_gpt_index *g) {
    nc_free(g->doc_idx);
    nc_free(g->sample_idx);
    nc_free(g->shuffle_idx);
    memset(g, 0, sizeof *g);
}

/* _build_doc_idx with separate_last_epoch false: the documents once per
 * epoch, epoch after epoch, then one shuffle of the whole array. */
static void doc_idx_epochs(int32_t *dst, int64_t begin, int64_t end, int64_t epochs, nc_rng *r, bool shuffle) {
    int64_t n = end - begin;
    for (int64_t e = 0; e < epochs; e++)
        for (int64_t i = 0; i < n; i++) dst[e * n + i] = (int32_t)(begin + i);
    if (shuffle) nc_np_shuffle_i32(r, dst, epochs * n);
}

/* helpers.cpp build_sample_idx, with its integer types (int32 lengths and
 * offsets, a float ceil when drop_last is false). */
static nc_status sample_idx_build(const nc_indexed_dataset *data, const int32_t *doc_idx, int64_t n_doc,
                                  int32_t seq_length, int64_t num_epochs, int64_t tokens_per_epoch, bool drop_last,
                                  int add_extra, int32_t **out, int64_t *rows) {
    int64_t num_samples;
    if (!drop_last)
        num_samples = (int64_t)ceil((float)(num_epochs * tokens_per_epoch - add_extra) / (float)seq_length);
    else
        num_samples = (num_epochs * tokens_per_epoch - add_extra) / seq_length;
    int32_t *s = nc_malloc((size_t)(num_samples + 1) * 2 * sizeof *s);
    if (!s) return nc_error(NC_ERR_OOM, "sample index of %lld samples", (long long)num_samples);
    int64_t sample = 0, di = 0;
    int32_t doc_offset = 0;
    s[0] = 0;
    s[1] = 0;
    sample++;
    while (sample <= num_samples) {
        int32_t remaining = seq_length + add_extra;
        while (remaining != 0) {
            int32_t doc_length = nc_indexed_size(data, doc_idx[di]) - doc_offset;
            remaining -= doc_length;
            if (remaining <= 0) {
                doc_offset += remaining + doc_length - add_extra;
                remaining = 0;
            } else {
                if (di == n_doc - 1) {
                    if (sample != num_samples) {
                        nc_free(s);
                        return nc_error(NC_ERR_INTERNAL, "sample index: documents ran out at sample %lld of %lld",
                                        (long long)sample, (long long)num_samples);
                    }
                    doc_offset = nc_indexed_size(data, doc_idx[di]) - add_extra;
                    break;
                }
                di++;
                doc_offset = 0;
            }
        }
        s[2 * sample] = (int32_t)di;
        s[2 * sample + 1] = doc_offset;
        sample++;
    }
    *out = s;
    *rows = num_samples + 1;
    return NC_OK;
}

nc_status nc_gpt_index_build(const nc_indexed_dataset *data, int64_t begin, int64_t end, int64_t num_samples,
                             int64_t seq_length, uint64_t seed, bool drop_last, int add_extra, bool shuffle_docs,
                             nc_gpt_index *out) {
    memset(out, 0, sizeof *out);
    int64_t n = end - begin;
    int64_t tokens_per_epoch = 0;
    for (int64_t i = begin; i < end; i++) tokens_per_epoch += nc_indexed_size(data, i);
    /* helpers.cpp asserts these; a dataset without tokens would make
     * _num_epochs loop for ever. */
    if (n < 1 || tokens_per_epoch <= 1)
        return nc_error(NC_ERR_INVALID_ARG, "%lld documents with %lld tokens: nothing to sample from",
                        (long long)n, (long long)tokens_per_epoch);
    if (seq_length <= 1 || seq_length > INT32_MAX / 2)
        return nc_error(NC_ERR_INVALID_ARG, "seq_length %lld: must be in [2, 2^30)", (long long)seq_length);
    if (num_samples < 0 || num_samples > (INT64_MAX / 2) / seq_length)
        return nc_error(NC_ERR_INVALID_ARG, "num_samples %lld: out of range", (long long)num_samples);
    int64_t num_epochs = nc_gpt_num_epochs(tokens_per_epoch, seq_length, num_samples, add_extra);
    if (num_epochs > INT32_MAX / n)
        return nc_error(NC_ERR_INVALID_ARG, "%lld epochs of %lld documents do not fit an int32 document index",
                        (long long)num_epochs, (long long)n);
    nc_rng r;
    nc_rng_seed(&r, seed & 0xffffffffu);
    /* Whether the last epoch is shuffled apart from the others. */
    bool separate_last = false;
    int64_t from_epochs_minus_one = 0;
    if (num_epochs > 1) {
        from_epochs_minus_one = ((num_epochs - 1) * tokens_per_epoch - add_extra) / seq_length;
        int64_t last_epoch_samples = num_samples - from_epochs_minus_one;
        int64_t per_epoch = (tokens_per_epoch - add_extra) / seq_length;
        /* NeMo asserts both; they hold by construction of num_epochs. */
        if (last_epoch_samples < 0 || last_epoch_samples > per_epoch + 1)
            return nc_error(NC_ERR_INTERNAL, "last epoch of %lld samples (%lld per epoch)",
                            (long long)last_epoch_samples, (long long)per_epoch);
        /* int(0.80 * num_samples_per_epoch): the 80% rule of gpt_dataset.py. */
        separate_last = last_epoch_samples < (int64_t)(0.80 * (double)per_epoch);
    }
    out->n_doc = num_epochs * n;
    out->doc_idx = nc_malloc((size_t)out->n_doc * sizeof *out->doc_idx);
    if (!out->doc_idx) return nc_error(NC_ERR_OOM, "document index of %lld entries", (long long)out->n_doc);
    if (!separate_last) {
        doc_idx_epochs(out->doc_idx, begin, end, num_epochs, &r, shuffle_docs);
    } else {
        doc_idx_epochs(out->doc_idx, begin, end, num_epochs - 1, &r, shuffle_docs);
        doc_idx_epochs(out->doc_idx + (num_epochs - 1) * n, begin, end, 1, &r, shuffle_docs);
    }
    nc_status s = sample_idx_build(data, out->doc_idx, out->n_doc, (int32_t)seq_length, num_epochs,
                                   tokens_per_epoch, drop_last, add_extra, &out->sample_idx, &out->n_sample_rows);
    if (s) {
        nc_gpt_index_free(out);
        return s;
    }
    /* _build_shuffle_idx: [0, first) shuffled, then [first, total) shuffled
     * on its own when the last epoch is separate. */
    int64_t total = out->n_sample_rows - 1;
    int64_t first = separate_last ? from_epochs_minus_one : total;
    out->n_shuffle = total;
    out->shuffle_u32 = total < (int64_t)UINT32_MAX - 1;
    out->shuffle_idx = nc_malloc((size_t)(total ? total : 1) * sizeof *out->shuffle_idx);
    if (!out->shuffle_idx) {
        nc_gpt_index_free(out);
        return nc_error(NC_ERR_OOM, "shuffle index of %lld entries", (long long)total);
    }
    for (int64_t i = 0; i < total; i++) out->shuffle_idx[i] = i;
    nc_np_shuffle_i64(&r, out->shuffle_idx, first);
    if (first < total) nc_np_shuffle_i64(&r, out->shuffle_idx + first, total - first);
    return NC_OK;
}
