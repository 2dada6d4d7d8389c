/* LLM pretraining data: Megatron's indexed dataset and NeMo's GPT sampling.
 *
 *  - Indexed dataset: the `MMapIndexedDataset` of NeMo's
 *    nemo/collections/nlp/data/language_modeling/megatron/indexed_dataset.py
 *    (Megatron-LM's format): PREFIX.bin holds the token ids of every sequence
 *    back to back in one dtype; PREFIX.idx is
 *        magic "MMIDIDX\0\0" (9 bytes), version (u64 = 1), dtype code (u8),
 *        sequence count N (u64), document-index length D (u64),
 *        sizes (N x i32), pointers (N x i64, byte offsets into .bin),
 *        document index (D x i64: sequence numbers where documents start,
 *        then N), all little-endian.
 *    Files we write are byte-identical to NeMo's builder; files NeMo or
 *    Megatron write are read, memory-mapped and checked against their
 *    lengths before any access.
 *  - GPT sampling: gpt_dataset.py's GPTDataset (doc/sample/shuffle index
 *    mappings, cached as NeMo's *_doc_idx.npy, *_sample_idx.npy,
 *    *_shuffle_idx.npy), BlendableDataset's weighted blending of
 *    `data_prefix: [w1, prefix1, w2, prefix2]` and `splits_string`. */
#ifndef NEMOC_LLM_DATA_H
#define NEMOC_LLM_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/config.h"
#include "nemoc/status.h"
#include "nemoc/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- indexed dataset (.bin/.idx) ---------------------------------------- */

/* indexed_dataset.py `dtypes` codes. 6 and 7 (float64) are not token types
 * and are refused by the reader and the writer. */
typedef enum nc_idx_dtype {
    NC_IDX_U8 = 1,
    NC_IDX_I8 = 2,
    NC_IDX_I16 = 3,
    NC_IDX_I32 = 4,
    NC_IDX_I64 = 5,
    NC_IDX_U16 = 8,
} nc_idx_dtype;

/* __best_fitting_dtype: uint16 when vocab_size < 65500, else int32. */
nc_idx_dtype nc_idx_best_dtype(int64_t vocab_size);
/* Bytes per token of a dtype code (0 for codes the format does not know). */
int nc_idx_dtype_size(int code);

typedef struct nc_indexed_dataset nc_indexed_dataset;

/* Maps PREFIX.idx and PREFIX.bin. Errors name the file and what is wrong:
 * bad magic, wrong version, unknown dtype code, a header whose arrays run
 * past (or stop short of) the end of the .idx, sizes or pointers outside the
 * .bin, a document index that is not non-decreasing from 0 to N. */
nc_status nc_indexed_open(const char *prefix, nc_indexed_dataset **out);
void nc_indexed_close(nc_indexed_dataset *d);
/* Sequences (NeMo's len(dataset), `sizes.shape[0]`). */
int64_t nc_indexed_len(const nc_indexed_dataset *d);
/* Documents: len(doc_idx) - 1. */
int64_t nc_indexed_num_docs(const nc_indexed_dataset *d);
nc_idx_dtype nc_indexed_dtype(const nc_indexed_dataset *d);
int64_t nc_indexed_num_tokens(const nc_indexed_dataset *d);
/* Element i of the arrays (caller keeps i in range; the arrays are not
 * aligned in the file, so they are read through these). */
int32_t nc_indexed_size(const nc_indexed_dataset *d, int64_t i);
int64_t nc_indexed_pointer(const nc_indexed_dataset *d, int64_t i);
int64_t nc_indexed_doc_index(const nc_indexed_dataset *d, int64_t i); /* i in [0, num_docs] */
/* MMapIndexedDataset.get(i, offset, length): tokens [offset, offset+length)
 * of sequence i into out (length < 0: to the end of the sequence; *n_out, if
 * not NULL, gets the count). Ranges outside the sequence and ids that do not
 * fit int32 are errors. */
nc_status nc_indexed_get(const nc_indexed_dataset *d, int64_t i, int64_t offset, int64_t length, int32_t *out,
                         int64_t *n_out);

/* Writer: MMapIndexedDatasetBuilder. PATH.bin is written as items are added
 * (through a temp file renamed at finalize), the index at finalize. */
typedef struct nc_indexed_builder nc_indexed_builder;
nc_status nc_indexed_builder_new(const char *bin_path, nc_idx_dtype dtype, nc_indexed_builder **out);
/* One sequence (add_item); ids outside the dtype's range are an error. */
nc_status nc_indexed_builder_add(nc_indexed_builder *b, const int32_t *ids, int64_t n);
/* end_document: the sequences added since the last call form a document. */
nc_status nc_indexed_builder_end_document(nc_indexed_builder *b);
int64_t nc_indexed_builder_len(const nc_indexed_builder *b);
/* Commits the .bin and writes idx_path; frees b either way. */
nc_status nc_indexed_builder_finalize(nc_indexed_builder *b, const char *idx_path);
/* Discards everything written; frees b. */
void nc_indexed_builder_abort(nc_indexed_builder *b);

/* ---- preprocessing (preprocess_data_for_megatron.py) --------------------- */

typedef struct nc_llm_preprocess_params {
    const char *const *inputs; /* JSONL files (gzip-compressed ones too) */
    int n_inputs;
    const char *const *json_keys; /* default {"text"} when n_keys is 0 */
    int n_keys;
    const char *output_prefix; /* writes <prefix>_<key>_document.bin/.idx */
    const nc_tokenizer *tokenizer;
    bool append_eod;     /* the tokenizer's eos id after each document */
    int workers;         /* tokenizing threads (the output never depends on it) */
    bool skip_bad_lines; /* count and skip bad lines instead of failing (NeMo fails) */
    int64_t log_interval; /* lines between progress calls (NeMo --log-interval 100) */
    /* Progress: lines done, input bytes done, seconds since the start. */
    void (*progress)(int64_t lines, int64_t bytes, double seconds, void *user_data);
    void *user_data;
} nc_llm_preprocess_params;

nc_llm_preprocess_params nc_llm_preprocess_default_params(void);

typedef struct nc_llm_preprocess_stats {
    int64_t lines;       /* JSON lines read (blank lines not counted) */
    int64_t bytes;       /* input bytes read */
    int64_t docs;        /* documents written, all keys together */
    int64_t tokens;      /* tokens written, all keys together */
    int64_t empty;       /* (line, key) texts that gave no tokens: skipped, as NeMo does */
    int64_t bad;         /* lines skipped as bad (skip_bad_lines) */
    char first_bad[256]; /* "file:line: why" of the first bad line skipped */
    double seconds;
} nc_llm_preprocess_stats;

nc_status nc_llm_preprocess(const nc_llm_preprocess_params *p, nc_llm_preprocess_stats *stats);

/* ---- GPT sampling (gpt_dataset.py) --------------------------------------- */

/* get_train_valid_test_split_: "98,1,1" (or "98/1/1") over `size`
 * documents -> index[4] with [index[k], index[k+1]) the k-th split. */
nc_status nc_gpt_split(const char *splits_string, int64_t size, int64_t index[4]);

typedef struct nc_gpt_dataset_params {
    const char *name;         /* "train", "valid", "test": part of the cache names */
    int64_t num_samples;
    int64_t seq_length;
    uint64_t seed;
    bool drop_last;           /* default true (validation_drop_last for "valid") */
    bool add_extra_token;     /* seq_length + 1 tokens per sample (default; false:
                                 no_seqlen_plus_one_input_tokens) */
    bool shuffle_documents;   /* default true */
    const char *index_mapping_dir; /* NULL: the caches go next to the data */
} nc_gpt_dataset_params;

nc_gpt_dataset_params nc_gpt_dataset_default_params(void);

typedef struct nc_gpt_dataset nc_gpt_dataset;

/* GPTDataset over sequences [doc_begin, doc_end) of an open indexed dataset
 * (borrowed: it must outlive the GPT dataset). data_prefix names the cache
 * files: <dir or prefix>_<name>_indexmap_<N>ns_<L>sl_<S>s_{doc,sample,shuffle}_idx.npy.
 * Caches that exist are loaded (and checked against the data); missing ones
 * are built exactly as NeMo builds them (numpy RandomState(seed) shuffles,
 * helpers.cpp build_sample_idx) and saved. */
nc_status nc_gpt_dataset_new(const nc_indexed_dataset *data, const char *data_prefix, int64_t doc_begin,
                             int64_t doc_end, const nc_gpt_dataset_params *p, nc_gpt_dataset **out);
void nc_gpt_dataset_free(nc_gpt_dataset *g);
/* len(dataset) = sample_idx.shape[0] - 1. */
int64_t nc_gpt_dataset_len(const nc_gpt_dataset *g);
/* _get_text(idx): seq_length + add_extra_token ids into out (a short last
 * sample is padded with -1, as NeMo pads it). */
nc_status nc_gpt_dataset_sample(const nc_gpt_dataset *g, int64_t idx, int32_t *out);
int64_t nc_gpt_dataset_sample_len(const nc_gpt_dataset *g);
/* The mappings (for tests and tools): doc_idx (int32, n), sample_idx (int32,
 * (n, 2)), shuffle_idx (n; uint32 as NeMo stores it, widened). */
const int32_t *nc_gpt_dataset_doc_idx(const nc_gpt_dataset *g, int64_t *n);
const int32_t *nc_gpt_dataset_sample_idx(const nc_gpt_dataset *g, int64_t *n);
int64_t nc_gpt_dataset_shuffle_idx(const nc_gpt_dataset *g, int64_t i);
bool nc_gpt_dataset_from_cache(const nc_gpt_dataset *g);

/* ---- train/valid/test over one or several data prefixes ------------------- */

typedef struct nc_gpt_data_params {
    /* data_prefix: one prefix, or weights and prefixes [w1, p1, w2, p2, ...]
     * (n_prefix strings; the weights as written in the config). */
    const char *const *data_prefix;
    int n_prefix;
    /* Or NeMo's dict form {train: ..., validation: ..., test: ...}: a list
     * per split (same syntax), every document used, splits_string ignored.
     * Used when any n_split_prefix is non-zero. */
    const char *const *split_prefix[3];
    int n_split_prefix[3];
    const char *splits_string; /* "98,1,1" */
    int64_t num_samples[3];    /* train, valid, test */
    int64_t seq_length;
    uint64_t seed;
    bool add_extra_token;
    bool shuffle_documents;
    bool validation_drop_last;
    const char *index_mapping_dir;
} nc_gpt_data_params;

nc_gpt_data_params nc_gpt_data_default_params(void);

/* From a NeMo model config (the `model:` node of megatron_gpt_config.yaml):
 * data.data_prefix (a prefix, [w1, p1, ...] or {train, validation, test}),
 * data.data_impl (mmap), data.splits_string, data.seq_length (else
 * encoder_seq_length), seed, data.index_mapping_dir,
 * data.no_seqlen_plus_one_input_tokens, data.shuffle_documents,
 * data.validation_drop_last. Errors name the key. num_samples stay 0 for the
 * trainer to fill (NeMo: max_steps * global_batch_size, ...). Strings point
 * into the config, which must outlive p; free the lists with
 * nc_gpt_data_params_free. */
nc_status nc_gpt_data_params_from_cfg(const nc_cfg *model, nc_gpt_data_params *p);
void nc_gpt_data_params_free(nc_gpt_data_params *p);

/* One split: a GPTDataset, or a BlendableDataset of one per prefix. */
typedef struct nc_gpt_split_data nc_gpt_split_data;

/* build_train_valid_test_datasets: out[k] is NULL for an empty split. */
nc_status nc_gpt_build_datasets(const nc_gpt_data_params *p, nc_gpt_split_data *out[3]);
void nc_gpt_split_data_free(nc_gpt_split_data *s);
int64_t nc_gpt_split_data_len(const nc_gpt_split_data *s);
int64_t nc_gpt_split_data_sample_len(const nc_gpt_split_data *s);
/* BlendableDataset.__getitem__ (an index past a dataset's end wraps, as
 * NeMo's does, with a warning); for one prefix the GPTDataset's sample. */
nc_status nc_gpt_split_data_sample(const nc_gpt_split_data *s, int64_t idx, int32_t *out);
/* Which dataset and which of its samples blended sample idx is. */
void nc_gpt_split_data_source(const nc_gpt_split_data *s, int64_t idx, int *dataset, int64_t *sample);

#ifdef __cplusplus
}
#endif

#endif
