/* Helpers shared by the CTC decoders (ctc_decoding.c, ctc_beam.c). Not public. */
#ifndef NC_ASR_CTC_DECODING_INTERNAL_H
#define NC_ASR_CTC_DECODING_INTERNAL_H

#include "nemoc/ctc_decoding.h"

/* Checks log_probs (B, T, V) f32, lengths (B) i64 in [0, T] or NULL, and
 * 0 <= blank < V; names the decoder `who` in the error. */
nc_status nc_ctc_decode_check(const char *who, const nc_tensor *log_probs,
                              const nc_tensor *lengths, int64_t blank);

/* Length of utterance b (T when lengths is NULL). */
static inline int64_t nc_ctc_len(const nc_tensor *lengths, int64_t b, int64_t T) {
    return lengths ? ((const int64_t *)lengths->data)[b] : T;
}

#endif
