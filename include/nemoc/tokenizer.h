/* Text tokenizers for ASR/NLP targets: NeMo's three kinds behind one handle.
 *
 *   char           NeMo char models (EncDecCTCModel, EncDecRNNTModel):
 *                  vocabulary = `model.labels`, text cleaned by NeMo's 'en'
 *                  (or 'base') char parser, characters outside the labels
 *                  dropped.
 *   sentencepiece  NeMo `tokenizer.type: bpe` (dir/tokenizer.model): BPE,
 *                  unigram, char and word models, ids identical to
 *                  sentencepiece's spm_encode.
 *   wordpiece      NeMo `tokenizer.type: wpe` (dir/vocab.txt): HF BERT
 *                  basic tokenisation + greedy longest-match WordPiece.
 *   byte-level BPE GPT-2 (NeMo `library: megatron`, GPT2BPETokenizer:
 *                  vocab.json + merges.txt) and HF tokenizer.json files
 *                  with a BPE model and the ByteLevel pre-tokenizer.
 *   llama          LLaMA's SentencePiece BPE as llama-tokenizer-js
 *                  encodes it (the vocabulary and merges that package
 *                  ships): "▁" for spaces and a leading one, <0xNN> byte
 *                  fallback, <s> = 1 first.
 *
 * A loaded tokenizer is read-only: encode/decode may run concurrently from
 * many threads on one handle. The CTC blank of every kind is vocab_size
 * (NeMo appends it after the vocabulary). */
#ifndef NEMOC_TOKENIZER_H
#define NEMOC_TOKENIZER_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_tokenizer nc_tokenizer;

typedef enum nc_tokenizer_kind {
    NC_TOKENIZER_CHAR = 0,
    NC_TOKENIZER_SENTENCEPIECE = 1,
    NC_TOKENIZER_WORDPIECE = 2,
    NC_TOKENIZER_BYTE_BPE = 3,
    NC_TOKENIZER_LLAMA = 4,
} nc_tokenizer_kind;

/* A growable id list. Zero-initialise; encode reuses its memory. */
typedef struct nc_token_ids {
    int32_t *ids;
    int64_t n;
    int64_t cap;
} nc_token_ids;
void nc_token_ids_free(nc_token_ids *v);

/* Special ids; -1 where the vocabulary has no such token. */
typedef struct nc_tokenizer_special {
    int32_t unk_id;   /* sentencepiece <unk>, wordpiece [UNK] */
    int32_t bos_id;   /* sentencepiece <s> (control) */
    int32_t eos_id;   /* sentencepiece </s> (control) */
    int32_t pad_id;   /* sentencepiece <pad>, wordpiece [PAD] */
    int32_t cls_id;   /* wordpiece [CLS] */
    int32_t sep_id;   /* wordpiece [SEP] */
    int32_t mask_id;  /* wordpiece [MASK] */
    int32_t blank_id; /* CTC blank: vocab_size */
} nc_tokenizer_special;

/* ---- char ---------------------------------------------------------------- */
typedef enum nc_char_parser {
    NC_CHAR_PARSER_EN = 0,   /* parsers.py ENCharParser (NeMo's default 'en') */
    NC_CHAR_PARSER_BASE = 1, /* parsers.py CharParser ('base') */
} nc_char_parser;

typedef struct nc_char_params {
    nc_char_parser parser;
    bool normalize; /* do_normalize (default true) */
    bool lowercase; /* do_lowercase of the 'base' parser (default true; 'en' always lowercases) */
} nc_char_params;
nc_char_params nc_char_default_params(void);

/* labels[0..n): one UTF-8 string per id (multi-character labels are special
 * labels, matched only as whole words, as in NeMo). */
nc_status nc_tokenizer_char_new(const char *const *labels, int64_t n_labels, const nc_char_params *p,
                                nc_tokenizer **out);

/* The normalised text the char parser tokenises (nc_free it). */
nc_status nc_char_normalize(const nc_tokenizer *t, const char *text, int64_t len, char **out);

/* ---- sentencepiece ------------------------------------------------------ */
nc_status nc_tokenizer_spm_load(const char *model_path, nc_tokenizer **out);
/* From a serialized ModelProto in memory (copied). */
nc_status nc_tokenizer_spm_from_memory(const void *data, int64_t len, nc_tokenizer **out);

/* ---- wordpiece ---------------------------------------------------------- */
typedef struct nc_wordpiece_params {
    /* BasicTokenizer do_lower_case. Default false: NeMo builds `wpe`
     * tokenizers with AutoTokenizer('bert-base-cased', vocab_file=...), whose
     * config has do_lower_case=False (nemo/collections/asr/parts/mixins/mixins.py). */
    bool lower_case;
    int strip_accents;           /* -1: follow lower_case (HF None), 0: never, 1: always */
    bool tokenize_chinese_chars; /* default true */
    int64_t max_input_chars_per_word; /* default 100 */
} nc_wordpiece_params;
nc_wordpiece_params nc_wordpiece_default_params(void);

nc_status nc_tokenizer_wordpiece_load(const char *vocab_path, const nc_wordpiece_params *p,
                                      nc_tokenizer **out);
/* From vocab.txt contents (one token per line). */
nc_status nc_tokenizer_wordpiece_from_memory(const char *vocab, int64_t len, const nc_wordpiece_params *p,
                                             nc_tokenizer **out);

/* ---- byte-level BPE ------------------------------------------------------ */
/* GPT-2: vocab.json ({"piece": id}) + merges.txt ("left right" per line).
 * "<|endoftext|>" is eos = bos (50256 for GPT-2) and, as in NeMo's
 * GPT2BPETokenizer (HF GPT2Tokenizer), one id wherever the text holds it. */
nc_status nc_tokenizer_gpt2_load(const char *vocab_json, const char *merges_txt, nc_tokenizer **out);
/* dir/vocab.json + dir/merges.txt, or GPT-2's dir/encoder.json + dir/vocab.bpe. */
nc_status nc_tokenizer_gpt2_load_dir(const char *dir, nc_tokenizer **out);
/* HF tokenizer.json (a file, or a folder holding one): model.type "BPE",
 * normalizer null or NFC, pre_tokenizer and decoder ByteLevel. Its
 * added_tokens are matched in the text before pre-tokenisation. Any other
 * model, normalizer, pre-tokenizer, decoder or post-processor is refused
 * with an error naming the field. */
nc_status nc_tokenizer_hf_load(const char *path, nc_tokenizer **out);

/* ---- llama (llama-tokenizer-js) ----------------------------------------- */
typedef struct nc_llama_params {
    bool add_bos;             /* <s> (id 1) first (default true) */
    bool add_preceding_space; /* a leading "▁" (default true) */
} nc_llama_params;
nc_llama_params nc_llama_default_params(void);
/* The package's llama-tokenizer.js (or its folder): the base64 vocabulary
 * (32000 pieces, id = line) and merges (pairs of little-endian uint16 ids)
 * it embeds. */
nc_status nc_tokenizer_llama_js_load(const char *path, const nc_llama_params *p, nc_tokenizer **out);

/* ---- NeMo's model.tokenizer {dir, type} ---------------------------------- */
/* type "bpe": dir/tokenizer.model; "wpe": dir/vocab.txt; "gpt2": as
 * nc_tokenizer_gpt2_load_dir; "hf": dir/tokenizer.json (dir may be the file);
 * "llama": dir/llama-tokenizer.js (dir may be the file). */
nc_status nc_tokenizer_load_dir(const char *dir, const char *type, nc_tokenizer **out);

/* ---- common -------------------------------------------------------------- */
void nc_tokenizer_free(nc_tokenizer *t);
nc_tokenizer_kind nc_tokenizer_get_kind(const nc_tokenizer *t);
int64_t nc_tokenizer_vocab_size(const nc_tokenizer *t);
nc_tokenizer_special nc_tokenizer_special_ids(const nc_tokenizer *t);

/* text[0..len) (len < 0: NUL-terminated) -> ids, replacing out's contents. */
nc_status nc_tokenizer_encode(const nc_tokenizer *t, const char *text, int64_t len, nc_token_ids *out);
/* ids -> text (nc_free it). Ids outside the vocabulary are an error. */
nc_status nc_tokenizer_decode(const nc_tokenizer *t, const int32_t *ids, int64_t n, char **text);

/* The vocabulary entry of id (NULL when out of range); valid while t lives. */
const char *nc_tokenizer_id_to_piece(const nc_tokenizer *t, int32_t id);
/* The id of an exact vocabulary entry: -1 when absent, except sentencepiece,
 * which answers its unk id (as SentencePieceProcessor::PieceToId). */
int32_t nc_tokenizer_piece_to_id(const nc_tokenizer *t, const char *piece);

#ifdef __cplusplus
}
#endif
#endif
