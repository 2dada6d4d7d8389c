/* The CPU backend: its table of kernel entry points (backend/backend.h).
 * Every entry is a function of this folder; the table is constant data, so
 * picking the backend costs one pointer load per op. */
#include <omp.h>

#include "backend/cpu/attention.h"
#include "backend/cpu/attention_tiled.h"
#include "backend/cpu/conv.h"
#include "backend/cpu/conv_dw_tc.h"
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/gemm.h"
#include "backend/cpu/lstm_cell.h"
#include "backend/cpu/pool.h"

/* one share of scratch per OpenMP thread (one for the single-threaded reference) */
static int64_t attn_work_floats(const nc_attn_geom *g, const nc_attn_exec *e, bool backward) {
    const int64_t nt = e->reference ? 1 : omp_get_max_threads();
    return nt * nc_attn_work_floats(g, backward);
}
static int64_t attn_tiled_work_floats(const nc_attn_geom *g, const nc_attn_exec *e,
                                      bool backward) {
    const int64_t nt = e->reference ? 1 : omp_get_max_threads();
    return nt * nc_attn_tiled_work_floats(g, backward);
}

static const nc_backend cpu = {
    .name = "cpu",
    .gemm = nc_cpu_gemm,

    .acc = nc_cpu_acc,
    .scale = nc_cpu_scale,
    .acc_col_sums = nc_cpu_acc_col_sums,
    .binary = nc_cpu_binary,
    .binary_rows = nc_cpu_binary_rows,
    .binary_strided = nc_cpu_binary_strided,
    .binary_grad = nc_cpu_binary_grad,
    .unary = nc_cpu_unary,
    .unary_grad = nc_cpu_unary_grad,
    .glu = nc_cpu_glu,
    .glu_grad = nc_cpu_glu_grad,
    .dropout = nc_cpu_dropout,
    .dropout_grad = nc_cpu_dropout_grad,
    .relu_inplace = nc_cpu_relu_inplace,
    .relu_mask = nc_cpu_relu_mask,
    .relu_mask_bf16 = nc_cpu_relu_mask_bf16,
    .all_finite = nc_cpu_all_finite,

    .add_dropout = nc_cpu_add_dropout,
    .add_dropout_grad = nc_cpu_add_dropout_grad,
    .silu_dropout = nc_cpu_silu_dropout,
    .silu_dropout_grad = nc_cpu_silu_dropout_grad,
    .glu_mask = nc_cpu_glu_mask,
    .glu_mask_grad = nc_cpu_glu_mask_grad,

    .reduce = nc_cpu_reduce,
    .reduce_grad = nc_cpu_reduce_grad,
    .argmax = nc_cpu_argmax,
    .bias_grad = nc_cpu_bias_grad,

    .softmax = nc_cpu_softmax,
    .softmax_grad = nc_cpu_softmax_grad,
    .cross_entropy_grad = nc_cpu_cross_entropy_grad,
    .ctc_alpha = nc_cpu_ctc_alpha,
    .ctc_grad = nc_cpu_ctc_grad,
    .rnnt_forward = nc_cpu_rnnt_forward,
    .rnnt_grad = nc_cpu_rnnt_grad,
    .rnnt_joint_act = nc_cpu_rnnt_joint_act,
    .rnnt_joint_act_grad = nc_cpu_rnnt_joint_act_grad,

    .layer_norm = nc_cpu_layer_norm,
    .layer_norm_grad = nc_cpu_layer_norm_grad,
    .rms_norm = nc_cpu_rms_norm,
    .rms_norm_grad = nc_cpu_rms_norm_grad,
    .rope = nc_cpu_rope,
    .swiglu = nc_cpu_swiglu,
    .swiglu_grad = nc_cpu_swiglu_grad,
    .attn_cached_work = nc_cpu_attn_cached_work,
    .attn_cached = nc_cpu_attn_cached,
    .batch_norm = nc_cpu_batch_norm,
    .batch_norm_grad = nc_cpu_batch_norm_grad,
    .bn_channel_sums = nc_cpu_bn_channel_sums,
    .bn_channel_sumsq = nc_cpu_bn_channel_sumsq,
    .bn_grad_sums = nc_cpu_bn_grad_sums,
    .group_norm = nc_cpu_group_norm,
    .group_norm_grad = nc_cpu_group_norm_grad,
    .bncl_sums = nc_cpu_bncl_sums,
    .bncl_apply = nc_cpu_bncl_apply,
    .bncl_silu_grad = nc_cpu_bncl_silu_grad,
    .bncl_dx = nc_cpu_bncl_dx,

    .permute = nc_cpu_permute,
    .slice_grad = nc_cpu_slice_grad,
    .pad = nc_cpu_pad,
    .rel_shift = nc_cpu_rel_shift,
    .rel_shift_grad = nc_cpu_rel_shift_grad,
    .gather = nc_cpu_gather,
    .gather_grad = nc_cpu_gather_grad,
    .masked_fill = nc_cpu_masked_fill,
    .masked_fill_grad = nc_cpu_masked_fill_grad,
    .embedding = nc_cpu_embedding,
    .embedding_grad = nc_cpu_embedding_grad,

    .conv_work_floats = nc_conv_work_floats,
    .conv_forward = nc_conv_forward,
    .conv_backward_data = nc_conv_backward_data,
    .conv_backward_weight = nc_conv_backward_weight,
    .conv_backward_bias = nc_conv_backward_bias,
    .conv_fill_bias = nc_conv_fill_bias,
    .conv_cl_available = nc_conv_cl_available,
    .conv_cl_work_bytes = nc_conv_cl_work_bytes,
    .conv_cl_forward = nc_conv_cl_forward,
    .conv_cl_backward_data = nc_conv_cl_backward_data,
    .conv_cl_backward_weights = nc_conv_cl_backward_weights,
    .dwtc_forward = nc_dwtc_forward,
    .dwtc_backward_data = nc_dwtc_backward_data,
    .dwtc_weight_blocks = nc_dwtc_weight_blocks,
    .dwtc_backward_weight = nc_dwtc_backward_weight,

    .attn_work_floats = attn_work_floats,
    .attn_forward = nc_attn_forward,
    .attn_backward = nc_attn_backward,
    .attn_tiled_work_floats = attn_tiled_work_floats,
    .attn_tiled_forward = nc_attn_tiled_forward,
    .attn_tiled_backward = nc_attn_tiled_backward,

    .lstm_gate_bias = nc_cpu_lstm_gate_bias,
    .lstm_bias_grad = nc_cpu_lstm_bias_grad,
    .lstm_cell_forward = nc_lstm_cell_forward,
    .lstm_cell_backward = nc_lstm_cell_backward,

    .max_pool1d = nc_max_pool1d_forward,
    .max_pool1d_grad = nc_max_pool1d_backward,
    .avg_pool1d = nc_avg_pool1d_forward,
    .avg_pool1d_grad = nc_avg_pool1d_backward,
};

const nc_backend *nc_backend_cpu(void) { return &cpu; }
