/* Word and character error rates.
 *
 * Semantics of NeMo's word_error_rate / word_error_rate_detail and of the
 * WER metric's update() (nemo/collections/asr/metrics/wer.py): words are
 * Python's str.split() (runs of Unicode whitespace, nothing else is
 * normalised: case and punctuation count), characters are list(str)
 * (Unicode code points, spaces included). The error count of a pair is the
 * Levenshtein distance, split into substitutions, deletions and insertions
 * as jiwer reports them; a corpus rate is sum(S + D + I) / sum(reference
 * length), so counts from many utterances or ranks are summed first and
 * divided once. Texts are UTF-8; a byte that does not start a valid sequence
 * counts as one character. Arguments put the reference first, as jiwer. */
#ifndef NEMOC_WER_H
#define NEMOC_WER_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_edit_counts {
    int64_t substitutions;
    int64_t deletions;  /* reference units missing from the hypothesis */
    int64_t insertions; /* hypothesis units not in the reference */
    int64_t ref_len;    /* reference words (or characters): the denominator */
    int64_t hyp_len;
} nc_edit_counts;

/* Counts for one pair. With several optimal alignments, a match or
 * substitution is preferred over a deletion, and a deletion over an
 * insertion (the total is the same for all). */
nc_status nc_wer_counts(const char *ref, const char *hyp, nc_edit_counts *out);
nc_status nc_cer_counts(const char *ref, const char *hyp, nc_edit_counts *out);

/* acc += c, field by field. */
void nc_edit_counts_add(nc_edit_counts *acc, const nc_edit_counts *c);
/* S + D + I. */
int64_t nc_edit_errors(const nc_edit_counts *c);
/* (S + D + I) / ref_len; +inf when ref_len is 0 (NeMo's word_error_rate). */
double nc_edit_rate(const nc_edit_counts *c);

/* Flat form for summing across ranks with one all-reduce of int64s. */
#define NC_EDIT_COUNTS_N 5
void nc_edit_counts_pack(const nc_edit_counts *c, int64_t v[NC_EDIT_COUNTS_N]);
void nc_edit_counts_unpack(const int64_t v[NC_EDIT_COUNTS_N], nc_edit_counts *c);

/* Corpus rate over n pairs (refs[i], hyps[i]): word level, or character
 * level with use_cer. Writes the rate to *rate and, when totals is not
 * NULL, the summed counts. */
nc_status nc_error_rate(const char *const *refs, const char *const *hyps, int64_t n, bool use_cer,
                        double *rate, nc_edit_counts *totals);

#ifdef __cplusplus
}
#endif
#endif
