/* The byte-level BPE model behind the GPT-2 (`--type gpt2`, NeMo's
 * GPT2BPETokenizer) and HF tokenizer.json (`--type hf`) tokenizers:
 * vocabulary, merge ranks, added tokens, and the encoder. Not public.
 *
 * Encoding mirrors openai/gpt-2 src/encoder.py (and HF tokenizers'
 * models/bpe with the ByteLevel pre-tokenizer): split the text at added
 * tokens (and NFC-normalise between them, HF only), pre-tokenise each remaining segment with GPT-2's regex,
 * map the bytes of each chunk to their byte characters, then repeatedly
 * merge the adjacent pair of lowest rank (every occurrence, left to right)
 * until no ranked pair is left. A chunk is short, so the merge loop is the
 * plain O(n^2)-per-chunk one, with no cache: the model stays read-only and
 * one handle serves many threads. Chunks longer than NC_BPE_LONG_CHUNK bytes
 * (a hostile line of one letter repeated) take HF tokenizers' O(n log n)
 * heap of (rank, position) instead, which merges in the same order whenever
 * the merges are ordered (true of every trained merges file). */
#define NC_BPE_LONG_CHUNK 256
#ifndef NC_TEXT_BPE_MODEL_H
#define NC_TEXT_BPE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "nemoc/tokenizer.h"
#include "text/piece_trie.h"

typedef struct nc_bpe_merge {
    uint64_t key;   /* left id << 32 | right id */
    int32_t rank;   /* -1: empty slot */
    int32_t merged; /* id of left + right */
} nc_bpe_merge;

typedef struct nc_bpe {
    char **piece;      /* per id, NUL-terminated (nc_malloc'd); NULL: no entry yet */
    int64_t n_ids, cap_ids;
    nc_trie vocab;     /* piece -> id: model vocabulary and added tokens */
    char *dec;         /* decoded bytes of id i: dec[dec_off[i] .. dec_off[i + 1]) */
    int64_t *dec_off;
    nc_bpe_merge *merges; /* open-addressing hash, capacity a power of two */
    int64_t n_merges, cap_merges;
    int32_t byte_id[256]; /* id of each byte's character */
    nc_trie added[2];  /* HF added tokens: [0] normalized=false, [1] normalized=true */
    int64_t n_added[2];
    bool ordered;          /* every merge only uses bytes and results of earlier merges (see bpe_model.c) */
    bool ignore_merges;    /* HF model.ignore_merges: a chunk in the vocabulary is one id */
    bool nfc;              /* HF normalizer {"type": "NFC"} (GPT-NeoX, Pythia) */
    bool add_prefix_space; /* HF ByteLevel add_prefix_space */
    bool use_regex;        /* HF ByteLevel use_regex (GPT-2: always) */
    int32_t eos_id;        /* <|endoftext|>, or -1 */
} nc_bpe;

void nc_bpe_init(nc_bpe *m);
void nc_bpe_free(nc_bpe *m);

/* Vocabulary entry id -> piece. `where` names the file (and line or field)
 * for errors: a repeated id or piece is a format error. */
nc_status nc_bpe_set_piece(nc_bpe *m, int64_t id, const char *piece, int64_t len, const char *where);
/* Merge "a b" of rank `rank`: both parts and a + b must be vocabulary
 * entries (as HF's BPE builder requires); a repeated pair takes the later
 * rank, as Python's dict(zip(merges, range(...))). */
nc_status nc_bpe_add_merge(nc_bpe *m, const char *a, int64_t al, const char *b, int64_t bl, int32_t rank,
                           const char *where);
/* An HF added token (content -> id, the id may lie past the model's
 * vocabulary); `normalized` picks HF's second matching pass. */
nc_status nc_bpe_add_token(nc_bpe *m, const char *content, int32_t id, bool normalized, const char *where);
/* After all entries: every id below n_ids has a piece, every byte has its
 * character in the vocabulary, decoded bytes are precomputed. */
nc_status nc_bpe_finish(nc_bpe *m, const char *what);

nc_status nc_bpe_encode(const nc_bpe *m, const char *text, int64_t len, nc_token_ids *out);
nc_status nc_bpe_decode(const nc_bpe *m, const int32_t *ids, int64_t n, nc_strbuf *out);

/* The entries of a JSON object {"piece": id, ...} (vocab.json, HF
 * model.vocab); `where` names the file or field for errors. */
struct cJSON;
nc_status nc_bpe_vocab_from_json(nc_bpe *m, const struct cJSON *vocab, const char *where);
/* Parses a whole JSON file (what: "vocab.json", "tokenizer.json"); a syntax
 * error names the file, line and column. cJSON_Delete the result. */
nc_status nc_bpe_read_json(const char *path, const char *what, struct cJSON **out);

/* Wraps a finished heap model in a tokenizer handle (freed on failure). */
nc_status nc_bpe_wrap(nc_bpe *m, nc_tokenizer **out);

#endif
