/* The index mappings of NeMo's GPTDataset (gpt_dataset.py and the
 * build_sample_idx of helpers.cpp), as plain functions. Not public. */
#ifndef NC_LLM_DATA_GPT_INDEX_H
#define NC_LLM_DATA_GPT_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/llm_data.h"
#include "nemoc/rng.h"
#include "nemoc/status.h"

/* numpy's RandomState(seed).shuffle of a 1-D array: Fisher-Yates from the
 * last element down, j = random_interval(i) over mt19937 seeded like
 * RandomState's legacy integer seeding (init_genrand, as torch seeds it). */
void nc_np_shuffle_i32(nc_rng *r, int32_t *x, int64_t n);
void nc_np_shuffle_i64(nc_rng *r, int64_t *x, int64_t n);

/* _num_epochs: epochs needed for num_samples samples. */
int64_t nc_gpt_num_epochs(int64_t tokens_per_epoch, int64_t seq_length, int64_t num_samples, int add_extra);

typedef struct nc_gpt_index {
    int32_t *doc_idx; /* (n_doc) */
    int64_t n_doc;
    int32_t *sample_idx; /* (n_sample + 1, 2): doc_idx position, offset */
    int64_t n_sample_rows;
    int64_t *shuffle_idx; /* (n_shuffle) */
    int64_t n_shuffle;
    bool shuffle_u32; /* NeMo stores it as uint32 (int64 when it would not fit) */
} nc_gpt_index;

/* _build_index_mappings without the files: builds all three mappings for
 * sequences [begin, end) with one RandomState(seed) shared in NeMo's order
 * (doc-idx shuffles, then shuffle-idx). sizes(i) reads the sequence sizes. */
nc_status nc_gpt_index_build(const nc_indexed_dataset *data, int64_t begin, int64_t end, int64_t num_samples,
                             int64_t seq_length, uint64_t seed, bool drop_last, int add_extra, bool shuffle_docs,
                             nc_gpt_index *out);
void nc_gpt_index_free(nc_gpt_index *g);

#endif
