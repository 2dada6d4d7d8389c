/* Building tokenizer vocabularies (NeMo scripts/tokenizers/
 * process_asr_text_tokenizer.py). SentencePiece models are trained by
 * Debian's spm_train, run by `nemoc tokenizer train`; WordPiece and
 * byte-level BPE vocabularies are built here. */
#ifndef NEMOC_TOKENIZER_TRAIN_H
#define NEMOC_TOKENIZER_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_wordpiece_train_params {
    int64_t vocab_size;     /* target size including the special tokens (NeMo default 1024) */
    bool lower_case;        /* BertWordPieceTokenizer(lowercase=...) (default true) */
    int64_t min_frequency;  /* a pair must occur this often to merge (HF default 2) */
    int64_t limit_alphabet; /* keep the most frequent characters (HF default 1000) */
} nc_wordpiece_train_params;

nc_wordpiece_train_params nc_wordpiece_train_default_params(void);

/* Learns a WordPiece vocabulary from text files (one sentence per line) and
 * writes it as vocab.txt (one token per line, id = line number).
 *
 * The algorithm follows HF tokenizers' WordPieceTrainer (a BPE trainer
 * with "##" continuation prefixes), which BertWordPieceTokenizer.train uses:
 *  1. words = BERT basic tokenisation of every line (lower-cased, accents
 *     stripped when lower_case), counted;
 *  2. vocabulary = [PAD] [UNK] [CLS] [SEP] [MASK], the limit_alphabet most
 *     frequent characters (sorted by code point), then the "##" forms of the
 *     characters that occur after a word's first character (sorted);
 *  3. each word starts as its characters, all but the first "##"-prefixed;
 *  4. repeatedly merge the most frequent adjacent pair (ties: the pair of
 *     smaller ids), the new token being left + right without its "##", until
 *     the vocabulary has vocab_size entries or no pair occurs
 *     min_frequency times.
 * HF iterates words in hash order, so its "##" character order and tie
 * breaks differ; the result has the same structure, not the same lines.
 * *final_size (may be NULL) receives the number of tokens written. */
nc_status nc_wordpiece_train(const char *const *files, int64_t n_files, const nc_wordpiece_train_params *p,
                             const char *vocab_path, int64_t *final_size);

/* ---- byte-level BPE (GPT-2 style) --------------------------------------- */
typedef struct nc_bpe_train_params {
    int64_t vocab_size;    /* 256 byte characters + merges + eos (default 1024) */
    int64_t min_frequency; /* a pair must occur this often to merge (default 2, as HF's ByteLevelBPETokenizer) */
    const char *eos;       /* appended as the last id (default "<|endoftext|>"; NULL: none) */
} nc_bpe_train_params;

nc_bpe_train_params nc_bpe_train_default_params(void);

/* Learns a byte-level BPE from text files and writes dir/vocab.json and
 * dir/merges.txt, the files GPT-2, Megatron (NeMo's GPT2BPETokenizer) and
 * HF's GPT2Tokenizer read, and nc_tokenizer_gpt2_load_dir too:
 *  1. every line (without its newline) is split by GPT-2's pre-tokenisation
 *     regex; the chunks are counted;
 *  2. ids 0..255 are the byte characters in GPT-2's order (encoder.json's
 *     first 256 entries);
 *  3. repeatedly the most frequent adjacent pair (ties: the smaller left
 *     id, then right id) becomes a merge and, unless that string is
 *     already an entry, a new id, until vocab_size entries (counting eos)
 *     or no pair occurs min_frequency times;
 *  4. eos last.
 * HF's BpeTrainer makes the same kind of merges; its ids differ (it sorts
 * the alphabet by character and breaks ties in its own order).
 * *final_size (may be NULL) receives the number of entries written. */
nc_status nc_bpe_train(const char *const *files, int64_t n_files, const nc_bpe_train_params *p, const char *dir,
                       int64_t *final_size);

#ifdef __cplusplus
}
#endif
#endif
