/* The CPU backend's own kernels, the ones that exist only to fill the
 * backend table (cpu_backend.c); contracts are on the table entries of the
 * same name in backend/backend.h. Kernels that tests and benchmarks call
 * directly keep their headers (gemm.h, conv.h, attention.h, ...). */
#ifndef NC_BACKEND_CPU_KERNELS_H
#define NC_BACKEND_CPU_KERNELS_H

#include "backend/backend.h"

/* cpu_llm.c */
void nc_cpu_rms_norm(bool th, const float *X, const float *W, float eps, float *Y, float *rstd,
                     int64_t rows, int64_t C);
void nc_cpu_rms_norm_grad(bool th, const float *X, const float *G, const float *W, const float *rstd,
                          float *dx, float *dw, double *part, int64_t rows, int64_t C);
void nc_cpu_rope(bool th, const nc_rope_geom *g, const float *x, float *y, bool inverse, bool accumulate);
void nc_cpu_swiglu(bool th, const float *X, float *Y, int64_t rows, int64_t F);
void nc_cpu_swiglu_grad(bool th, const float *X, const float *G, float *dX, int64_t rows, int64_t F, bool acc);
int64_t nc_cpu_attn_cached_work(int64_t cap);
void nc_cpu_attn_cached(bool th, const nc_attn_cache_geom *g, const float *q, const float *K, const float *V,
                        float *out, float *work);

/* cpu_eltwise.c */
void nc_cpu_acc(bool th, float *dst, const float *src, int64_t n);
void nc_cpu_scale(bool th, float *dst, const float *src, float s, int64_t n);
void nc_cpu_acc_col_sums(bool th, float *dst, const float *src, int64_t rows, int64_t cols);
void nc_cpu_binary(bool th, nc_bin_kind k, float alpha, const float *a, const float *b, float *o,
                   int64_t n);
void nc_cpu_binary_rows(bool th, nc_bin_kind k, float alpha, const float *a, const float *b,
                        float *o, int64_t rows, int64_t nb);
void nc_cpu_binary_strided(bool th, nc_bin_kind k, float alpha, const float *a, const float *b,
                           float *o, int nd, const int64_t *shape, const int64_t *sa,
                           const int64_t *sb, int64_t n);
void nc_cpu_binary_grad(bool th, nc_bin_kind k, bool for_b, const float *g, const float *a,
                        const float *b, float *t, int64_t n);
void nc_cpu_unary(bool th, nc_un_kind k, float p, const float *x, float *y, int64_t n);
void nc_cpu_unary_grad(bool th, nc_un_kind k, float p, const float *x, const float *y,
                       const float *g, float *dx, int64_t n);
void nc_cpu_glu(bool th, const float *x, float *y, int64_t outer, int64_t hi);
void nc_cpu_glu_grad(bool th, const float *x, const float *g, float *dx, int64_t outer,
                     int64_t hi);
void nc_cpu_dropout(bool th, const float *x, const uint8_t *mask, float scale, float *y,
                    int64_t n);
void nc_cpu_dropout_grad(bool th, const float *g, const uint8_t *mask, float scale, float *dx,
                         int64_t n);
void nc_cpu_relu_inplace(bool th, float *y, int64_t n);
void nc_cpu_relu_mask(bool th, const float *y, float *dy, int64_t n);
void nc_cpu_relu_mask_bf16(bool th, const float *y, const float *dy, uint16_t *d16, int64_t n);
bool nc_cpu_all_finite(bool th, const float *p, int64_t n, uint16_t *x16);

/* cpu_fused.c */
void nc_cpu_add_dropout(bool th, const float *a, const float *b, const uint8_t *mask, bool zero,
                        float alpha, float scale, float *y, int64_t n);
void nc_cpu_add_dropout_grad(bool th, const float *g, const uint8_t *mask, bool zero, float alpha,
                             float scale, float *db, bool fresh, int64_t n);
void nc_cpu_silu_dropout(bool th, const float *x, const uint8_t *mask, float scale, float *y,
                         int64_t n);
void nc_cpu_silu_dropout_grad(bool th, const float *x, const float *g, const uint8_t *mask,
                              float scale, float *dx, bool fresh, int64_t n);
void nc_cpu_glu_mask(bool th, const float *x, const int64_t *len, int64_t B, int64_t T,
                     int64_t C, float *y);
void nc_cpu_glu_mask_grad(bool th, const float *x, const float *g, const int64_t *len, int64_t B,
                          int64_t T, int64_t C, float *dx, bool fresh);

/* cpu_reduce.c */
void nc_cpu_reduce(bool th, nc_red_kind k, const float *x, float *y, int64_t *argmax,
                   int64_t outer, int64_t n, int64_t inner);
void nc_cpu_reduce_grad(bool th, nc_red_kind k, const float *g, const int64_t *argmax, float *dx,
                        int64_t outer, int64_t n, int64_t inner);
void nc_cpu_argmax(const float *x, int64_t *y, int64_t outer, int64_t n, int64_t inner);
void nc_cpu_bias_grad(bool th, const float *dy, int64_t rows, int64_t N, float *part, float *db);

/* cpu_softmax.c */
void nc_cpu_softmax(bool th, bool reference, const float *x, float *y, int64_t outer, int64_t n,
                    int64_t inner, bool log);
void nc_cpu_softmax_grad(bool th, const float *y, const float *g, float *dx, int64_t outer,
                         int64_t n, int64_t inner, bool log);
void nc_cpu_cross_entropy_grad(bool th, const float *logp, const int64_t *tg, const float *g,
                               bool per_row, float denom, int64_t ignore_index, float eps,
                               float *dx, int64_t N, int64_t C);

/* cpu_ctc.c */
void nc_cpu_ctc_alpha(bool th, const nc_ctc_args *a, bool keep);
void nc_cpu_ctc_grad(bool th, const nc_ctc_args *a, const double *gscale, bool zero_infinity,
                     double *work, float *dx);

/* cpu_rnnt.c */
void nc_cpu_rnnt_forward(bool th, const nc_rnnt_args *a);
void nc_cpu_rnnt_grad(bool th, const nc_rnnt_args *a, const double *gscale, double lambda,
                      double clamp, float *dx);
/* cpu_rnnt_joint.c */
void nc_cpu_rnnt_joint_act(bool th, const nc_joint_args *a, float *h);
void nc_cpu_rnnt_joint_act_grad(bool th, const nc_joint_args *a, const float *h,
                                const uint8_t *mask, float scale, float *dh, float *df,
                                float *dg);

/* cpu_norm.c */
void nc_cpu_layer_norm(bool th, const float *x, const float *w, const float *b, float eps,
                       float *y, float *mean, float *rstd, int64_t rows, int64_t C);
void nc_cpu_layer_norm_grad(bool th, const float *x, const float *g, const float *w,
                            const float *mean, const float *rstd, float *dx, float *dw,
                            float *db, double *part, int64_t rows, int64_t C);
void nc_cpu_batch_norm(bool th, const nc_bn_fwd_args *a);
void nc_cpu_batch_norm_grad(bool th, const nc_bn_bwd_args *a);
void nc_cpu_bn_channel_sums(const float *x, int64_t N, int64_t C, int64_t L, double *sums);
void nc_cpu_bn_channel_sumsq(const float *x, int64_t N, int64_t C, int64_t L, double m_total,
                             double *acc, float *mean);
void nc_cpu_bn_grad_sums(const float *x, const float *g, const float *mean, const float *rstd,
                         int64_t N, int64_t C, int64_t L, double *out);
void nc_cpu_group_norm(bool th, const float *x, const float *w, const float *b, float eps,
                       float *y, float *mean, float *rstd, int64_t N, int64_t C, int64_t L,
                       int64_t G);
void nc_cpu_group_norm_grad(bool th, const float *x, const float *g, const float *w,
                            const float *mean, const float *rstd, float *dx, float *dw,
                            float *db, int64_t N, int64_t C, int64_t L, int64_t G);

/* cpu_norm_cl.c */
void nc_cpu_bncl_sums(bool th, int mode, const float *x, const float *d, const float *mean,
                      const float *rstd, int64_t rows, int64_t C, float *part, double *out);
void nc_cpu_bncl_apply(bool th, const float *x, const float *mean, const float *rstd,
                       const float *w, const float *b, bool silu, float *y, int64_t rows,
                       int64_t C);
void nc_cpu_bncl_silu_grad(bool th, const float *x, const float *g, const float *mean,
                           const float *rstd, const float *w, const float *b, float *dz,
                           int64_t rows, int64_t C);
void nc_cpu_bncl_dx(bool th, const float *x, const float *d, const float *mean,
                    const float *rstd, const float *coef, float *dx, bool fresh, int64_t rows,
                    int64_t C);

/* cpu_shape.c */
void nc_cpu_permute(bool th, const void *src, void *dst, int nd, const int64_t *shape,
                    const int *perm, size_t esz, bool inverse_add);
void nc_cpu_slice_grad(bool th, const float *g, float *dx, int64_t outer, int64_t n_in,
                       int64_t n_out, int64_t inner, int64_t start, int64_t step);
void nc_cpu_pad(bool th, const float *x, float *y, int64_t outer, int64_t n, int64_t n_out,
                int64_t inner, int64_t left, float value);
void nc_cpu_rel_shift(bool th, const float *x, float *y, int64_t rows, int64_t T);
void nc_cpu_rel_shift_grad(bool th, const float *g, float *dx, int64_t rows, int64_t T);

/* cpu_index.c */
void nc_cpu_gather(bool th, const void *x, const int64_t *idx, const int64_t *xo,
                   const int64_t *xi, int64_t xstride, void *y, size_t esz, int64_t outer,
                   int64_t n, int64_t inner);
void nc_cpu_gather_grad(bool th, const float *g, const int64_t *idx, const int64_t *xo,
                        const int64_t *xi, int64_t xstride, float *dx, int64_t outer, int64_t n,
                        int64_t inner);
void nc_cpu_masked_fill(bool th, const float *x, const uint8_t *mask, const int64_t *mst, int nd,
                        const int64_t *shape, float value, float *y);
void nc_cpu_masked_fill_grad(bool th, const float *g, const uint8_t *mask, const int64_t *mst,
                             int nd, const int64_t *shape, float *dx);
void nc_cpu_embedding(bool th, const float *w, const int64_t *idx, float *y, int64_t n, int64_t D);
void nc_cpu_embedding_grad(bool th, const float *g, const int64_t *idx, int64_t padding_idx,
                           float *dw, int64_t n, int64_t D);

/* lstm_cell.c */
void nc_cpu_lstm_gate_bias(bool th, const float *b_ih, const float *b_hh, float *G, int64_t rows,
                           int64_t G4);
void nc_cpu_lstm_bias_grad(bool th, const float *dA, float *db_ih, float *db_hh, int64_t rows,
                           int64_t G4);

#endif
