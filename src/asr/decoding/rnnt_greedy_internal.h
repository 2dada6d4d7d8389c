/* Shared by the per-utterance (rnnt_greedy.c) and batched
 * (rnnt_greedy_batch.c) greedy transducer decoders: internal to the ASR
 * decoding folder. */
#ifndef NC_ASR_RNNT_GREEDY_INTERNAL_H
#define NC_ASR_RNNT_GREEDY_INTERNAL_H

#include <math.h>

#include "nemoc/rnnt_modules.h"

/* First maximum of x[0..n) (torch.max's index on CPU). */
static inline int64_t nc_rnnt_argmax(const float *x, int64_t n) {
    int64_t k = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[k]) k = i;
    return k;
}

/* log_softmax(x)[k] with x[k] the maximum: NeMo's RNN-T score term on the CPU
 * (logp = log_softmax(logits); v, k = logp.max(0)). */
static inline double nc_rnnt_logp_of_max(const float *x, int64_t n, int64_t k) {
    double lse = 0.0, mx = x[k];
    for (int64_t i = 0; i < n; i++) lse += exp((double)x[i] - mx);
    return -log(lse);
}

/* Appends (k, t) to hyp, growing its arrays (capacity in *cap); adds v to the score. */
/* Appends token k emitted at frame t (score += v); dur >= 0 (TDT) also records
 * its duration. */
nc_status nc_rnnt_hyp_push(nc_rnnt_hyp *hyp, int64_t *cap, int64_t k, int64_t t, int64_t dur, double v);

/* The batched decoder over projected frames f_all (B, T, J) (joint.enc
 * applied), after nc_rnnt_greedy_decode has checked its arguments; hyps
 * zeroed. */
nc_status nc_rnnt_greedy_batch_run(nc_ctx *ctx, const nc_rnnt_decoder *dec, const nc_rnnt_joint *joint,
                                   const float *f_all, int64_t B, int64_t T, const int64_t *lengths,
                                   const nc_rnnt_greedy_params *gp, nc_rnnt_hyp *hyps);

#endif
