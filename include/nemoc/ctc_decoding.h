/* CTC decoding: greedy (NeMo's `greedy_batch`), prefix beam search without a
 * language model (NeMo's `beam` strategy with no LM), token offsets in frames
 * as NeMo's Hypothesis.timestamp['char'], and word timestamps as
 * `transcribe(..., timestamps=True)` returns them.
 *
 * Everything works on token ids; turning ids into text is the tokenizer's job.
 * Word boundaries come from a per-vocabulary array of token kinds (a space
 * label for character models, a leading U+2581 "▁" for SentencePiece), so this
 * module needs no tokenizer. Frame offsets become seconds by multiplying with
 * the encoder frame stride: window_stride * subsampling_factor (0.01 * 4 =
 * 40 ms for Conformer, 0.01 * 8 = 80 ms for FastConformer). */
#ifndef NEMOC_CTC_DECODING_H
#define NEMOC_CTC_DECODING_H

#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"
#include "nemoc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One emitted (collapsed, non-blank) token. */
typedef struct nc_ctc_token {
    int64_t id;
    /* Frame at which the token was emitted: greedy, the first frame of its run
     * of repeats (NeMo's Hypothesis.timestamp, de-duplicated); beam search,
     * the last frame at which emitting this token (as a new label) carried
     * more probability than the prefix already had, i.e. the frame of its
     * dominant emission. */
    int64_t frame;
    /* Greedy: last frame of the run (inclusive). Beam search: equals frame. */
    int64_t last_frame;
    /* NeMo's char/subword offsets (ctc_decoding.py, _compute_offsets):
     * end_offset is this token's emission frame, start_offset the previous
     * token's emission frame, and max(0, frame - 1) for the first token. */
    int64_t start_offset, end_offset;
} nc_ctc_token;

typedef struct nc_ctc_hyp {
    nc_ctc_token *tokens; /* n_tokens entries, nc_malloc'ed; NULL when empty */
    int64_t n_tokens;
    /* Greedy: sum of the argmax log-probs over non-blank frames (NeMo's
     * GreedyCTCInfer score). Beam search: log P(prefix | x), summed over all
     * alignments that collapse to it. */
    double score;
} nc_ctc_hyp;

typedef struct nc_ctc_nbest {
    nc_ctc_hyp *hyps; /* n entries, best first */
    int64_t n;
} nc_ctc_nbest;

void nc_ctc_hyp_free(nc_ctc_hyp *h);    /* frees tokens, leaves an empty hypothesis */
void nc_ctc_nbest_free(nc_ctc_nbest *nb);

/* Greedy decoding of a batch: per frame argmax (first maximal index, as
 * torch.argmax), collapse repeats, drop blanks.
 *   log_probs (B, T, V) float32 (log-probabilities or logits; argmax is the same,
 *             the score is only meaningful for log-probabilities)
 *   lengths   (B) int64 in [0, T], or NULL for T everywhere
 * Fills hyps[0..B) (the caller frees each with nc_ctc_hyp_free). On failure
 * every hyps[b] is left empty. */
nc_status nc_ctc_greedy_decode(const nc_tensor *log_probs, const nc_tensor *lengths,
                               int64_t blank, nc_ctc_hyp *hyps);

/* Prefix beam search (Hannun et al. 2014, "First-Pass Large Vocabulary
 * Continuous Speech Recognition using Bi-Directional Recurrent DNNs",
 * Algorithm 1, without the language model), in log space: each prefix keeps
 * the probability of alignments ending in blank and ending in its last label. */
typedef struct nc_ctc_beam_params {
    int64_t beam_size;    /* prefixes kept after each frame (NeMo beam.beam_size) */
    /* Per frame, labels whose log-prob is below the frame's best label minus
     * this are not used to extend prefixes (flashlight's beam_threshold; NeMo
     * default 20). <= 0 disables the cut. */
    float token_threshold;
    /* At most this many best labels per frame extend prefixes (flashlight's
     * beam_size_token); 0 = no limit. */
    int64_t max_tokens_per_frame;
} nc_ctc_beam_params;

/* beam_size 4, token_threshold 20, max_tokens_per_frame 0. */
nc_ctc_beam_params nc_ctc_beam_default_params(void);

/* Beam search over a batch (same inputs as greedy; log_probs must be
 * log-probabilities). Fills out[0..B): each an n-best list of up to
 * beam_size hypotheses sorted by score, best first (caller frees each with
 * nc_ctc_nbest_free). With beam_size at least the number of distinct
 * prefixes and no pruning, the scores are the exact prefix log-probabilities. */
nc_status nc_ctc_beam_decode(const nc_tensor *log_probs, const nc_tensor *lengths,
                             int64_t blank, const nc_ctc_beam_params *p, nc_ctc_nbest *out);

/* Fills start_offset / end_offset of every token from the tokens' frames,
 * as NeMo's _compute_offsets. Both decoders call it; exposed for callers
 * that build hypotheses themselves. */
void nc_ctc_fill_offsets(nc_ctc_hyp *h);

/* ---- word timestamps ---- */

typedef enum nc_ctc_token_kind {
    NC_CTC_TOKEN_PLAIN = 0,      /* continues the current word (or starts one after a delimiter) */
    NC_CTC_TOKEN_WORD_START = 1, /* begins a new word and belongs to it (SentencePiece "▁the") */
    NC_CTC_TOKEN_DELIMITER = 2,  /* ends the current word and belongs to none (char models' " ") */
} nc_ctc_token_kind;

/* kinds[v] for a vocabulary given as pieces: exactly " " is a delimiter, a
 * piece starting with U+2581 starts a word, anything else is plain. Blank or
 * NULL pieces are plain. (WordPiece vocabularies, where words start at tokens
 * without "##", fill the array themselves.) */
void nc_ctc_token_kinds(const char *const *pieces, int64_t V, uint8_t *kinds);

typedef struct nc_ctc_word {
    int64_t first_token, last_token; /* inclusive range in the hypothesis' tokens */
    int64_t start_offset, end_offset; /* frames, from the tokens' NeMo offsets */
    double start, end;                /* seconds: offset * frame_stride */
} nc_ctc_word;

/* Groups a hypothesis' tokens into words as NeMo's get_words_offsets
 * (nemo/collections/asr/parts/utils/timestamp_utils.py, without punctuation
 * refinement): a word runs from its first token to the token before the next
 * word start or delimiter; its start_offset is its first token's start_offset
 * and its end_offset its last token's end_offset, except that NeMo gives the
 * first word the start_offset of the hypothesis' first token even when that
 * token is a delimiter. kinds has V entries; frame_stride is in seconds.
 * *words is nc_malloc'ed (NULL when no word), free with nc_free. */
nc_status nc_ctc_word_offsets(const nc_ctc_hyp *h, const uint8_t *kinds, int64_t V,
                              double frame_stride, nc_ctc_word **words, int64_t *n_words);

/* Text of a word: its tokens' pieces concatenated, each U+2581 read as a
 * space, leading and trailing spaces dropped. Fails with NC_ERR_INVALID_ARG
 * when buf (cap bytes, NUL included) is too small. */
nc_status nc_ctc_word_text(const nc_ctc_hyp *h, const nc_ctc_word *w, const char *const *pieces,
                           int64_t V, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
