/* Pieces of the transducer losses (ops_rnnt.c) shared with the fused
 * joint + loss (ops_rnnt_joint.c). Not public. */
#ifndef NC_OPS_RNNT_INTERNAL_H
#define NC_OPS_RNNT_INTERNAL_H

#include "ops/ops_internal.h" /* the backend seam (nc_rnnt_arc) */
#include "nemoc/rnnt.h"

/* d reduced / d loss_b (RNNTLoss.reduce) given the incoming gradient g
 * (g[b] for NC_LOSS_NONE, else g[0]); sum_tl the batch's target total. */
double nc_rnnt_loss_scale(nc_loss_reduction red, const float *g, int64_t b, int64_t B,
                          const int64_t *tl, int64_t sum_tl);

/* The options of p that do not depend on the data, for C logits; sets the
 * token-logit count *Vt and *blank. False with the ctx failed. */
bool nc_rnnt_check_params(nc_ctx *ctx, nc_transducer_kind k, const nc_rnnt_params *p, int64_t C,
                          int64_t *Vt, int64_t *blank);

/* targets (B, U), lengths (B) against x: the logits (B, T, U + 1, C) or a
 * (B, T, J) encoder projection; labels in range and not blanks. */
bool nc_rnnt_check_inputs(nc_ctx *ctx, nc_transducer_kind k, const nc_tensor *x,
                          const nc_tensor *tg, const nc_tensor *il, const nc_tensor *tl,
                          int64_t Vt, int64_t blank, int64_t n_big);

/* The lattice's arcs for kind k (scratch); the count, or -1 (ctx failed). */
int64_t nc_rnnt_make_arcs(nc_ctx *ctx, nc_transducer_kind k, const nc_rnnt_params *p,
                          int64_t blank, nc_rnnt_arc **out);

/* The reduced loss tensor from the log-likelihoods ll (B): scalar, or (B)
 * for NC_LOSS_NONE; cost_b = -(1 + lambda) ll_b as NeMo reports it. */
nc_tensor *nc_rnnt_reduced_loss(nc_ctx *ctx, nc_loss_reduction red, const double *ll,
                                double lambda, const int64_t *tl, int64_t B);

#endif
