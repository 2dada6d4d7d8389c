/* The backend seam: one table of kernel entry points per backend.
 *
 * The op front ends (src/ops) check shapes, allocate outputs and scratch
 * from the ctx arena, record the tape and hold the backward rules; every
 * loop over tensor data runs in a backend, reached only through this table
 * (nc_ctx_backend(ctx)->...). An entry is called once per op and loops over
 * the whole tensor itself: no per-element indirection, so the CPU loops are
 * the same compiler-vectorised, OpenMP-threaded bodies they were inline.
 *
 * Conventions, for every entry:
 *  - pointers are to the backend's memory; shapes in comments, row-major;
 *  - `th` is the front end's hint that the work is big enough to spread over
 *    threads (false in reference mode, NC_REFERENCE_KERNELS=1, so the
 *    reference runs the same loops on one thread); a backend may ignore it;
 *  - gradients are ACCUMULATED (+=) unless the entry says it writes, or
 *    takes `fresh` (true: write, the buffer holds garbage);
 *  - no allocation inside: scratch is passed in, sized as the entry says.
 * A new backend (CUDA) is one folder, src/backend/<name>/, that fills this
 * table (docs/architecture.md, "The backend seam"). */
#ifndef NC_BACKEND_BACKEND_H
#define NC_BACKEND_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/kernel_args.h"
#include "nemoc/ctx.h"

typedef enum nc_bin_kind { NC_BIN_ADD, NC_BIN_SUB, NC_BIN_MUL, NC_BIN_DIV } nc_bin_kind;

typedef enum nc_un_kind {
    NC_UN_SCALE, NC_UN_ADD_SCALAR, NC_UN_RELU, NC_UN_LEAKY_RELU, NC_UN_SILU, NC_UN_GELU,
    NC_UN_GELU_TANH, NC_UN_TANH, NC_UN_SIGMOID, NC_UN_EXP, NC_UN_LOG, NC_UN_SQRT, NC_UN_POW
} nc_un_kind;

typedef enum nc_red_kind { NC_RED_SUM, NC_RED_MEAN, NC_RED_MAX } nc_red_kind;

/* Where batch_norm's statistics come from in its forward kernel. */
typedef enum nc_bn_stats {
    NC_BN_GIVEN, /* mean/rstd already filled (synchronized batch norm) */
    NC_BN_BATCH, /* computed from x (training, or no running stats) */
    NC_BN_RUNNING /* from running_mean / running_var (eval) */
} nc_bn_stats;

typedef struct nc_bn_fwd_args {
    nc_bn_stats stats;
    const float *x; /* (N, C, L) */
    float *y;       /* (N, C, L) written */
    const float *w, *b; /* (C) or NULL */
    float *running_mean, *running_var; /* (C) or NULL */
    float *mean, *rstd; /* (C) written (read for NC_BN_GIVEN) */
    int64_t N, C, L;
    float eps, momentum;
    bool update; /* NC_BN_BATCH: update the running statistics */
} nc_bn_fwd_args;

typedef struct nc_bn_bwd_args {
    const float *x, *g; /* (N, C, L) input and output gradient */
    const float *w;     /* (C) or NULL */
    const float *mean, *rstd; /* (C) as the forward used them */
    const double *global; /* (2C): sums of g and g*xhat over all ranks, or NULL */
    float *dx, *dw, *db;  /* any may be NULL */
    int64_t N, C, L;
    double M;           /* values per channel (over all ranks when synchronized) */
    bool batch_stats;
} nc_bn_bwd_args;

typedef struct nc_ctc_args {
    const float *lp;    /* (B, T, V) log-probabilities */
    const int64_t *tg;  /* (B, S) padded targets */
    const int64_t *il, *tl; /* (B) input and target lengths */
    int64_t B, T, V, S, blank;
    double *alpha;      /* per utterance at alpha + off[b] */
    const int64_t *off; /* (B + 1) */
    double *nll;        /* (B) */
} nc_ctc_args;

/* One kind of transducer transition out of lattice node (t, u): emit token
 * `tok` (tok < 0: the target label y_u, moving to u + 1; else a blank,
 * staying at u) and advance `dur` frames; `didx` >= 0 adds the log-prob of
 * duration logit didx (TDT). RNN-T is {label, 0}, {blank, 1}. */
typedef struct nc_rnnt_arc {
    int64_t tok, dur, didx;
} nc_rnnt_arc;
/* The most arcs a lattice may have (TDT: 2 per duration but 0's; multi-blank:
 * 2 + big blanks); the gradient keeps one occupancy per arc on the stack. */
#define NC_RNNT_MAX_ARCS 64

typedef struct nc_rnnt_args {
    const float *x;         /* (B, T, U1, C) logits */
    const int64_t *tg;      /* (B, U1 - 1) padded targets */
    const int64_t *il, *tl; /* (B) input and target lengths */
    int64_t B, T, U1, C, Vt; /* token logits [0, Vt), duration logits [Vt, C) */
    const nc_rnnt_arc *arcs;
    int64_t n_arcs;
    double sigma;           /* subtracted from every token log-prob */
    const int64_t *off;     /* (B + 1): utterance b's (il, tl + 1) node tables at off[b] */
    double *den;            /* token log-normaliser per node */
    double *dden;           /* duration log-normaliser per node; NULL: durations unused */
    double *alpha, *beta;   /* per node; beta filled by rnnt_grad */
    double *ll;             /* (B) log-likelihoods */
} nc_rnnt_args;

/* The joint's broadcast sum for a sub-batch: utterance b's encoder rows at
 * f + b * f_stride (T rows of J), prediction rows at g + b * g_stride (U1 rows). */
typedef struct nc_joint_args {
    const float *f, *g;
    int64_t f_stride, g_stride;
    int64_t B, T, U1, J;
    nc_un_kind act; /* NC_UN_RELU, NC_UN_TANH or NC_UN_SIGMOID */
} nc_joint_args;

typedef struct nc_backend {
    const char *name;

    /* ---- gemm (kernel_args.h) ---- */
    nc_status (*gemm)(nc_gemm_engine engine, nc_precision prec, bool reference,
                      const nc_gemm_args *g);

    /* ---- element-wise (cpu_eltwise.c) ---- */
    /* dst (n) += src */
    void (*acc)(bool th, float *dst, const float *src, int64_t n);
    /* dst (n) = s * src */
    void (*scale)(bool th, float *dst, const float *src, float s, int64_t n);
    /* dst (cols) += column sums of src (rows, cols), summed in double */
    void (*acc_col_sums)(bool th, float *dst, const float *src, int64_t rows, int64_t cols);
    /* o (n) = a op (alpha *) b, all of one shape */
    void (*binary)(bool th, nc_bin_kind k, float alpha, const float *a, const float *b, float *o,
                   int64_t n);
    /* o (rows, nb) = a (rows, nb) op b (nb) */
    void (*binary_rows)(bool th, nc_bin_kind k, float alpha, const float *a, const float *b,
                        float *o, int64_t rows, int64_t nb);
    /* o (shape) = a op b with element strides sa, sb (0 on broadcast dims) */
    void (*binary_strided)(bool th, nc_bin_kind k, float alpha, const float *a, const float *b,
                           float *o, int nd, const int64_t *shape, const int64_t *sa,
                           const int64_t *sb, int64_t n);
    /* mul/div backward, written into t (n): for a, t = g * b or g / b; for b,
     * t = g * a or -g * a / b^2 */
    void (*binary_grad)(bool th, nc_bin_kind k, bool for_b, const float *g, const float *a,
                        const float *b, float *t, int64_t n);
    void (*unary)(bool th, nc_un_kind k, float p, const float *x, float *y, int64_t n);
    /* dx += dy/dx * g, from x and the forward's output y */
    void (*unary_grad)(bool th, nc_un_kind k, float p, const float *x, const float *y,
                       const float *g, float *dx, int64_t n);
    /* GLU over (outer, 2, hi): y (outer, hi) = a * sigmoid(b) */
    void (*glu)(bool th, const float *x, float *y, int64_t outer, int64_t hi);
    void (*glu_grad)(bool th, const float *x, const float *g, float *dx, int64_t outer,
                     int64_t hi);
    /* y = x * (mask ? scale : 0); mask NULL: y = x * 0 (p == 1, NaN stays NaN) */
    void (*dropout)(bool th, const float *x, const uint8_t *mask, float scale, float *y,
                    int64_t n);
    void (*dropout_grad)(bool th, const float *g, const uint8_t *mask, float scale, float *dx,
                         int64_t n);
    /* y (n) = relu(y) in place (NaN passes) */
    void (*relu_inplace)(bool th, float *y, int64_t n);
    /* dy (n) = y > 0 ? dy : 0 in place */
    void (*relu_mask)(bool th, const float *y, float *dy, int64_t n);
    /* d16 (n) = bf16(y > 0 ? dy : 0) */
    void (*relu_mask_bf16)(bool th, const float *y, const float *dy, uint16_t *d16, int64_t n);
    /* whether p (n) holds no NaN or inf; with x16, converts p to bf16 into it too */
    bool (*all_finite)(bool th, const float *p, int64_t n, uint16_t *x16);

    /* ---- fused element-wise (cpu_fused.c) ---- */
    /* y = a + alpha * b * noise, noise = mask ? scale : 0; mask NULL: noise =
     * 0 when zero (p == 1), else 1 */
    void (*add_dropout)(bool th, const float *a, const float *b, const uint8_t *mask, bool zero,
                        float alpha, float scale, float *y, int64_t n);
    /* db (fresh: =) alpha * g * noise, as above */
    void (*add_dropout_grad)(bool th, const float *g, const uint8_t *mask, bool zero, float alpha,
                             float scale, float *db, bool fresh, int64_t n);
    /* y = silu(x) * (mask ? scale : 0), or silu(x) when mask is NULL */
    void (*silu_dropout)(bool th, const float *x, const uint8_t *mask, float scale, float *y,
                         int64_t n);
    void (*silu_dropout_grad)(bool th, const float *x, const float *g, const uint8_t *mask,
                              float scale, float *dx, bool fresh, int64_t n);
    /* x (B, T, 2C) -> y (B, T, C) = a * sigmoid(b), rows t >= len[b] zero (len NULL: none) */
    void (*glu_mask)(bool th, const float *x, const int64_t *len, int64_t B, int64_t T,
                     int64_t C, float *y);
    void (*glu_mask_grad)(bool th, const float *x, const float *g, const int64_t *len, int64_t B,
                          int64_t T, int64_t C, float *dx, bool fresh);

    /* ---- reductions (cpu_reduce.c) ---- */
    /* y (outer, inner) = reduce over n of x (outer, n, inner); max also writes argmax */
    void (*reduce)(bool th, nc_red_kind k, const float *x, float *y, int64_t *argmax,
                   int64_t outer, int64_t n, int64_t inner);
    void (*reduce_grad)(bool th, nc_red_kind k, const float *g, const int64_t *argmax, float *dx,
                        int64_t outer, int64_t n, int64_t inner);
    /* y (outer, inner) = first index of the maximum over n */
    void (*argmax)(const float *x, int64_t *y, int64_t outer, int64_t n, int64_t inner);
    /* db (N) += column sums of dy (rows, N) in fixed 64-row blocks; part:
     * ceil(rows / 64) * N floats (thread-count independent) */
    void (*bias_grad)(bool th, const float *dy, int64_t rows, int64_t N, float *part, float *db);

    /* ---- softmax and losses (cpu_softmax.c) ---- */
    /* y = (log_)softmax of x (outer, n, inner) over n */
    void (*softmax)(bool th, bool reference, const float *x, float *y, int64_t outer, int64_t n,
                    int64_t inner, bool log);
    void (*softmax_grad)(bool th, const float *y, const float *g, float *dx, int64_t outer,
                         int64_t n, int64_t inner, bool log);
    /* cross-entropy backward from logp (N, C): dx += gscale_i * (softmax - q) */
    void (*cross_entropy_grad)(bool th, const float *logp, const int64_t *tg, const float *g,
                               bool per_row, float denom, int64_t ignore_index, float eps,
                               float *dx, int64_t N, int64_t C);
    /* CTC alpha recursion per utterance into a->nll (keep: whole table) */
    void (*ctc_alpha)(bool th, const nc_ctc_args *a, bool keep);
    /* CTC gradient into dx (B, T, V); gscale (B) d loss / d nll_b; skip
     * utterances with infinite nll when zero_infinity; work: B * (2 (2S+1) + V) doubles */
    void (*ctc_grad)(bool th, const nc_ctc_args *a, const double *gscale, bool zero_infinity,
                     double *work, float *dx);
    /* transducer: normalisers, alpha recursion and a->ll for every utterance */
    void (*rnnt_forward)(bool th, const nc_rnnt_args *a);
    /* transducer: beta recursion, then dx (B, T, U1, C) written (=, padding 0;
     * dx may be a->x itself, the logits overwritten by their gradient):
     * gscale (B) d loss / d (-ll_b), FastEmit lambda, clamp (<= 0 off) */
    void (*rnnt_grad)(bool th, const nc_rnnt_args *a, const double *gscale, double lambda,
                      double clamp, float *dx);
    /* transducer joint (cpu_rnnt_joint.c): h (B, T, U1, J) = act(f[b, t] + g[b, u]) */
    void (*rnnt_joint_act)(bool th, const nc_joint_args *a, float *h);
    /* dh (B, T, U1, J): in, d loss / d dropout(h) (mask NULL: no dropout); out,
     * d loss / d (f + g); then df[b, t] += sum_u and dg[b, u] += sum_t of it,
     * at the strides of f and g */
    void (*rnnt_joint_act_grad)(bool th, const nc_joint_args *a, const float *h,
                                const uint8_t *mask, float scale, float *dh, float *df,
                                float *dg);

    /* ---- normalisation (cpu_norm.c, cpu_norm_cl.c) ---- */
    /* x (rows, C): y, mean/rstd (rows) written */
    void (*layer_norm)(bool th, const float *x, const float *w, const float *b, float eps,
                       float *y, float *mean, float *rstd, int64_t rows, int64_t C);
    /* part: 2 * C * ceil(rows / 32) doubles when dw or db is wanted */
    void (*layer_norm_grad)(bool th, const float *x, const float *g, const float *w,
                            const float *mean, const float *rstd, float *dx, float *dw,
                            float *db, double *part, int64_t rows, int64_t C);
    /* RMSNorm over rows (cpu_llm.c): y, rstd (rows) written; part: C *
     * ceil(rows / 32) doubles when dw is wanted; gradients accumulate */
    void (*rms_norm)(bool th, const float *x, const float *w, float eps, float *y, float *rstd,
                     int64_t rows, int64_t C);
    void (*rms_norm_grad)(bool th, const float *x, const float *g, const float *w,
                          const float *rstd, float *dx, float *dw, double *part, int64_t rows,
                          int64_t C);
    /* y = rotate(x) (inverse: the transpose, for backward); accumulate: y += */
    void (*rope)(bool th, const nc_rope_geom *g, const float *x, float *y, bool inverse,
                 bool accumulate);
    /* x (rows, 2F) -> y (rows, F) = silu(x[:, :F]) * x[:, F:]; grad added into dx (acc) or written */
    void (*swiglu)(bool th, const float *x, float *y, int64_t rows, int64_t F);
    void (*swiglu_grad)(bool th, const float *x, const float *g, float *dx, int64_t rows, int64_t F, bool acc);
    /* generation attention over a cache (cpu_llm.c); work: attn_cached_work(cap) floats */
    int64_t (*attn_cached_work)(int64_t cap);
    void (*attn_cached)(bool th, const nc_attn_cache_geom *g, const float *q, const float *k,
                        const float *v, float *out, float *work);
    void (*batch_norm)(bool th, const nc_bn_fwd_args *a);
    void (*batch_norm_grad)(bool th, const nc_bn_bwd_args *a);
    /* synchronized batch norm helpers (single-threaded, (N, C, L)):
     * sums[c] = sum of x over n, l */
    void (*bn_channel_sums)(const float *x, int64_t N, int64_t C, int64_t L, double *sums);
    /* in: acc[c] = global sum; out: mean[c] = acc[c] / m_total, acc[c] = centred sum of squares */
    void (*bn_channel_sumsq)(const float *x, int64_t N, int64_t C, int64_t L, double m_total,
                             double *acc, float *mean);
    /* out[c] = sum g, out[C + c] = sum g * xhat */
    void (*bn_grad_sums)(const float *x, const float *g, const float *mean, const float *rstd,
                         int64_t N, int64_t C, int64_t L, double *out);
    /* groups of x (N, G, C/G, L): y, mean/rstd (N * G) written */
    void (*group_norm)(bool th, const float *x, const float *w, const float *b, float eps,
                       float *y, float *mean, float *rstd, int64_t N, int64_t C, int64_t L,
                       int64_t G);
    void (*group_norm_grad)(bool th, const float *x, const float *g, const float *w,
                            const float *mean, const float *rstd, float *dx, float *dw,
                            float *db, int64_t N, int64_t C, int64_t L, int64_t G);
    /* channels-last (rows, C): out (C, or 2C for mode 2) = block sums of
     * mode 0: x, 1: (x - mean)^2, 2: (d, d * xhat); part: ceil(rows/32) * width floats */
    void (*bncl_sums)(bool th, int mode, const float *x, const float *d, const float *mean,
                      const float *rstd, int64_t rows, int64_t C, float *part, double *out);
    /* y = [silu]((x - mean) * rstd * w + b) */
    void (*bncl_apply)(bool th, const float *x, const float *mean, const float *rstd,
                       const float *w, const float *b, bool silu, float *y, int64_t rows,
                       int64_t C);
    /* dz (rows, C) = g * silu'(z), z recomputed from x */
    void (*bncl_silu_grad)(bool th, const float *x, const float *g, const float *mean,
                           const float *rstd, const float *w, const float *b, float *dz,
                           int64_t rows, int64_t C);
    /* dx (fresh: =) k * (d - a - xhat * bb), coef = [a | bb | k] (3C) */
    void (*bncl_dx)(bool th, const float *x, const float *d, const float *mean,
                    const float *rstd, const float *coef, float *dx, bool fresh, int64_t rows,
                    int64_t C);

    /* ---- layout and indexing (cpu_shape.c, cpu_index.c) ---- */
    /* dst (shape permuted by perm) = src (shape), elements of esz bytes;
     * inverse_add: dst (shape, floats) += src (permuted) */
    void (*permute)(bool th, const void *src, void *dst, int nd, const int64_t *shape,
                    const int *perm, size_t esz, bool inverse_add);
    /* dx (outer, n_in, inner) rows start + j * step += g (outer, n_out, inner) */
    void (*slice_grad)(bool th, const float *g, float *dx, int64_t outer, int64_t n_in,
                       int64_t n_out, int64_t inner, int64_t start, int64_t step);
    /* y (outer, n_out, inner) = x shifted by left along n, value outside */
    void (*pad)(bool th, const float *x, float *y, int64_t outer, int64_t n, int64_t n_out,
                int64_t inner, int64_t left, float value);
    /* y (rows, T, T): y[i][j] = x (rows, T, 2T-1)[i][j + T-1-i]; and its gradient */
    void (*rel_shift)(bool th, const float *x, float *y, int64_t rows, int64_t T);
    void (*rel_shift_grad)(bool th, const float *g, float *dx, int64_t rows, int64_t T);
    /* y[(o, j, i)] = x[xo[o] + idx * xstride + xi[i]], elements of esz (4 or 8) bytes */
    void (*gather)(bool th, const void *x, const int64_t *idx, const int64_t *xo,
                   const int64_t *xi, int64_t xstride, void *y, size_t esz, int64_t outer,
                   int64_t n, int64_t inner);
    void (*gather_grad)(bool th, const float *g, const int64_t *idx, const int64_t *xo,
                        const int64_t *xi, int64_t xstride, float *dx, int64_t outer, int64_t n,
                        int64_t inner);
    /* x (shape, nd dims) rows of the last dim; mask (u8) with strides mst in x's shape */
    void (*masked_fill)(bool th, const float *x, const uint8_t *mask, const int64_t *mst,
                        int nd, const int64_t *shape, float value, float *y);
    void (*masked_fill_grad)(bool th, const float *g, const uint8_t *mask, const int64_t *mst,
                             int nd, const int64_t *shape, float *dx);
    /* y (n, D) = w[idx] */
    void (*embedding)(bool th, const float *w, const int64_t *idx, float *y, int64_t n,
                      int64_t D);
    /* dw[idx] += g (n, D), padding_idx rows skipped */
    void (*embedding_grad)(bool th, const float *g, const int64_t *idx, int64_t padding_idx,
                           float *dw, int64_t n, int64_t D);

    /* ---- convolution (kernel_args.h; contracts in backend/cpu/conv.h) ---- */
    int64_t (*conv_work_floats)(const nc_conv_geom *g, nc_conv_pass pass, const nc_conv_exec *e);
    nc_status (*conv_forward)(const nc_conv_geom *g, const nc_conv_exec *e, const float *x,
                              const float *w, float *y);
    nc_status (*conv_backward_data)(const nc_conv_geom *g, const nc_conv_exec *e, const float *dy,
                                    const float *w, float *dx);
    nc_status (*conv_backward_weight)(const nc_conv_geom *g, const nc_conv_exec *e,
                                      const float *dy, const float *x, float *dw);
    void (*conv_backward_bias)(int64_t N, int64_t C, int64_t P, bool threads, const float *dy,
                               float *db);
    void (*conv_fill_bias)(int64_t N, int64_t C, int64_t P, bool threads, const float *bias,
                           float *y);
    /* channels-last 2-D: the capability query (supports_op) and its three passes */
    bool (*conv_cl_available)(const nc_conv_geom *g, bool bf16, bool relu, bool bias);
    size_t (*conv_cl_work_bytes)(const nc_conv_geom *g, bool bf16, bool relu, bool bias,
                                 nc_conv_pass pass);
    nc_status (*conv_cl_forward)(const nc_conv_geom *g, bool bf16, bool relu, const void *x,
                                 const float *w, const float *bias, float *y, void *work);
    nc_status (*conv_cl_backward_data)(const nc_conv_geom *g, bool bf16, bool relu, bool bias,
                                       const void *dy, const float *w, float *dx, void *work);
    nc_status (*conv_cl_backward_weights)(const nc_conv_geom *g, bool bf16, bool relu, bool bias,
                                          const void *x, const void *dy, float *dw, float *db,
                                          void *work);
    /* depthwise time conv in (B, T, C) (contracts in backend/cpu/conv_dw_tc.h) */
    void (*dwtc_forward)(const nc_dwtc_geom *g, bool threads, const float *x, const float *wt,
                         const float *bias, float *y);
    void (*dwtc_backward_data)(const nc_dwtc_geom *g, bool threads, const float *dy,
                               const float *wt, float *wflip, float *dx, bool accumulate);
    int64_t (*dwtc_weight_blocks)(const nc_dwtc_geom *g);
    void (*dwtc_backward_weight)(const nc_dwtc_geom *g, bool threads, const float *dy,
                                 const float *x, float *part, float *dw, float *db);

    /* ---- attention (contracts in backend/cpu/attention.h) ---- */
    /* scratch floats for a whole pass, every thread's share included */
    int64_t (*attn_work_floats)(const nc_attn_geom *g, const nc_attn_exec *e, bool backward);
    void (*attn_forward)(const nc_attn_geom *g, const nc_attn_exec *e, const float *q,
                         const float *k, const float *v, const float *p, const float *bu,
                         const float *bv, float *probs, float *out, float *work);
    void (*attn_backward)(const nc_attn_geom *g, const nc_attn_exec *e, const float *q,
                          const float *k, const float *v, const float *p, const float *bu,
                          const float *bv, const float *probs, const float *dout, float *dq,
                          float *dk, float *dv, float *dp, float *dbu, float *dbv,
                          float *dp_part, float *bias_part, float *work);
    /* tiled (flash-style) form without positions: keeps lse (B, H, T), not
     * the probabilities (contracts in backend/cpu/attention_tiled.h) */
    int64_t (*attn_tiled_work_floats)(const nc_attn_geom *g, const nc_attn_exec *e,
                                      bool backward);
    void (*attn_tiled_forward)(const nc_attn_geom *g, const nc_attn_exec *e, const float *q,
                               const float *k, const float *v, float *out, float *lse,
                               float *work);
    void (*attn_tiled_backward)(const nc_attn_geom *g, const nc_attn_exec *e, const float *q,
                                const float *k, const float *v, const float *out,
                                const float *lse, const float *dout, float *dq, float *dk,
                                float *dv, float *work);

    /* ---- LSTM (contracts in backend/cpu/lstm_cell.h) ---- */
    /* G (rows, G4) = b_ih + b_hh (either may be NULL) */
    void (*lstm_gate_bias)(bool th, const float *b_ih, const float *b_hh, float *G, int64_t rows,
                           int64_t G4);
    /* db_ih, db_hh (G4) += column sums of dA (rows, G4); either may be NULL */
    void (*lstm_bias_grad)(bool th, const float *dA, float *db_ih, float *db_hh, int64_t rows,
                           int64_t G4);
    void (*lstm_cell_forward)(int64_t B, int64_t H, bool threads, float *gates,
                              const float *c_prev, float *c, float *h);
    void (*lstm_cell_backward)(int64_t B, int64_t H, bool threads, const float *gates,
                               const float *c, const float *c_prev, const float *dy,
                               const float *dh_next, float *dc_next, float *dgates);

    /* ---- pooling (contracts in backend/cpu/pool.h) ---- */
    void (*max_pool1d)(const nc_pool1d_geom *g, bool threads, const float *x, float *y,
                       int64_t *arg);
    void (*max_pool1d_grad)(const nc_pool1d_geom *g, bool threads, const float *dy,
                            const int64_t *arg, float *dx);
    void (*avg_pool1d)(const nc_pool1d_geom *g, bool count_include_pad, bool threads,
                       const float *x, float *y);
    void (*avg_pool1d_grad)(const nc_pool1d_geom *g, bool count_include_pad, bool threads,
                            const float *dy, float *dx);
} nc_backend;

/* The CPU backend's table (src/backend/cpu/cpu_backend.c). */
const nc_backend *nc_backend_cpu(void);

/* The table a ctx's ops run on: the CPU's for every ctx today; a device ctx
 * would return its device's table here. */
const nc_backend *nc_ctx_backend(const nc_ctx *ctx);

#endif
