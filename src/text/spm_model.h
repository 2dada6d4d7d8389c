/* SentencePiece: the parsed ModelProto and the processor built from it.
 * Not public; the tokenizer interface (nemoc/tokenizer.h) wraps it.
 *
 * Field numbers and proto2 defaults follow sentencepiece_model.proto
 * (sentencepiece 0.1.97, the version Debian ships and the fixtures use). */
#ifndef NC_TEXT_SPM_MODEL_H
#define NC_TEXT_SPM_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/status.h"
#include "nemoc/tokenizer.h"
#include "text/piece_trie.h"
#include "core/strbuf.h"

typedef enum spm_piece_type {
    SPM_NORMAL = 1,
    SPM_UNKNOWN = 2,
    SPM_CONTROL = 3,
    SPM_USER_DEFINED = 4,
    SPM_UNUSED = 5,
    SPM_BYTE = 6,
} spm_piece_type;

typedef enum spm_model_type {
    SPM_MODEL_UNIGRAM = 1,
    SPM_MODEL_BPE = 2,
    SPM_MODEL_WORD = 3,
    SPM_MODEL_CHAR = 4,
} spm_model_type;

typedef struct spm_piece {
    const char *s; /* NUL-terminated, in spm_model.pool */
    int32_t len;
    float score;
    uint8_t type; /* spm_piece_type */
} spm_piece;

typedef struct spm_normalizer_spec {
    bool present;
    const char *name;          /* NUL-terminated copy, "" when absent */
    const uint8_t *charsmap;   /* precompiled_charsmap bytes (inside the model's blob) */
    int64_t charsmap_len;
    bool add_dummy_prefix;         /* default true */
    bool remove_extra_whitespaces; /* default true */
    bool escape_whitespaces;       /* default true */
} spm_normalizer_spec;

typedef struct spm_trainer_spec {
    spm_model_type model_type; /* default UNIGRAM */
    int32_t vocab_size;
    bool byte_fallback;
    bool treat_whitespace_as_suffix;
    bool allow_whitespace_only_pieces;
    bool split_digits;
    int32_t unk_id, bos_id, eos_id, pad_id; /* 0, 1, 2, -1 */
    const char *unk_piece, *bos_piece, *eos_piece, *pad_piece;
    const char *unk_surface; /* " \u2047 " unless set */
} spm_trainer_spec;

typedef struct spm_model {
    uint8_t *blob; /* the serialized ModelProto (owned) */
    int64_t blob_len;
    char *pool;    /* NUL-terminated copies of every string field */
    spm_piece *pieces;
    int64_t n_pieces;
    spm_trainer_spec trainer;
    spm_normalizer_spec normalizer;
    spm_normalizer_spec denormalizer;
} spm_model;

/* Parses a serialized ModelProto; takes ownership of blob (nc_malloc'd)
 * even on failure. */
nc_status spm_model_parse(uint8_t *blob, int64_t len, spm_model *m);
void spm_model_free(spm_model *m);

/* The precompiled charsmap: a Darts-clone double array over the source
 * strings whose leaves index NUL-separated replacement strings. */
typedef struct spm_charsmap {
    uint32_t *units; /* owned, aligned copy of the trie units */
    int64_t n_units;
    const char *normalized; /* replacement strings (inside the model blob) */
    int64_t normalized_len;
} spm_charsmap;

typedef struct spm_normalizer {
    const spm_normalizer_spec *spec;
    spm_charsmap cm;            /* n_units == 0: no charsmap */
    const nc_trie *user_defined; /* user-defined symbols pass through unnormalised; may be NULL */
    bool ws_as_suffix;
} spm_normalizer;

nc_status spm_normalizer_init(spm_normalizer *n, const spm_normalizer_spec *spec,
                              const nc_trie *user_defined, bool ws_as_suffix);
void spm_normalizer_free(spm_normalizer *n);
/* Normalises text into out (cleared first): normalizer.cc Normalize(). */
nc_status spm_normalize(const spm_normalizer *n, const char *text, int64_t len, nc_strbuf *out);

/* The processor: the model plus the lookup structures of
 * model_interface.cc InitializePieces() and the normaliser. */
typedef struct spm {
    spm_model m;
    nc_trie normal;       /* NORMAL, USER_DEFINED and UNUSED pieces -> id */
    nc_trie reserved;     /* CONTROL, UNKNOWN and BYTE pieces -> id */
    nc_trie user_defined; /* USER_DEFINED pieces (value unused) */
    int32_t unk_id;       /* the UNKNOWN piece */
    int32_t byte_id[256]; /* byte_fallback: id of <0xNN>, else -1 */
    float min_score, max_score; /* over NORMAL pieces (unigram) */
    spm_normalizer norm;
    spm_normalizer denorm;
    bool has_denorm;
} spm;

/* One segment of the normalised text with its id. */
typedef struct spm_seg {
    int64_t begin; /* byte offset into the normalised string */
    int32_t len;
    int32_t id;
} spm_seg;

typedef struct spm_segs {
    spm_seg *v;
    int64_t n, cap;
} spm_segs;

nc_status spm_segs_push(spm_segs *s, int64_t begin, int64_t len, int32_t id);
void spm_segs_free(spm_segs *s);

nc_status spm_init(spm *sp, uint8_t *blob, int64_t len);
void spm_free(spm *sp);

/* PieceToId: reserved pieces first, then normal ones, else the unk id. */
int32_t spm_piece_to_id(const spm *sp, const char *s, int64_t len);

/* The model algorithms over the normalised string (model Encode()). */
nc_status spm_encode_bpe(const spm *sp, const char *s, int64_t len, spm_segs *out);
nc_status spm_encode_unigram(const spm *sp, const char *s, int64_t len, spm_segs *out);
nc_status spm_encode_char(const spm *sp, const char *s, int64_t len, spm_segs *out);
nc_status spm_encode_word(const spm *sp, const char *s, int64_t len, spm_segs *out);

/* Text -> ids: normalise, segment, then merge unknown runs or split them
 * into byte pieces. norm and segs are caller-owned scratch. */
nc_status spm_encode_ids(const spm *sp, const char *text, int64_t len, nc_strbuf *norm, spm_segs *segs,
                         nc_token_ids *out);
/* Ids -> text into out (cleared first). */
nc_status spm_decode_ids(const spm *sp, const int32_t *ids, int64_t n, nc_strbuf *out);

/* Length of the user-defined symbol at s, or one character: PrefixMatcher. */
int64_t spm_prefix_match(const nc_trie *user_defined, const char *s, int64_t len, bool *found);

#endif
