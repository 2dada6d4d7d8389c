/* The list of ops that record a backward. tests/unit/test_gradcheck.c fails
 * when an op here has no finite-difference case, so a new op is not done
 * until it is listed and tested. Add names in the family's block. */
#include "nemoc/ops.h"

static const char *const names[] = {
    /* ops_matmul.c */
    "matmul", "linear",
    /* ops_binary.c */
    "add", "sub", "mul", "div", "add_scaled",
    /* ops_unary.c */
    "scale", "add_scalar", "relu", "leaky_relu", "silu", "gelu", "gelu_tanh", "tanh", "sigmoid",
    "exp", "log", "sqrt", "pow", "glu",
    /* ops_reduce.c */
    "sum", "mean", "max",
    /* ops_shape.c */
    "reshape", "permute", "slice", "concat", "pad", "contiguous_copy", "cast",
    /* ops_attention.c */
    "rel_shift", "attention",
    /* ops_softmax.c */
    "softmax", "log_softmax", "cross_entropy", "mse_loss",
    /* ops_ctc.c, ops_rnnt.c */
    "ctc_loss", "rnnt_loss", "tdt_loss", "multiblank_rnnt_loss",
    /* ops_norm.c, ops_dropout.c */
    "layer_norm", "batch_norm", "group_norm", "dropout",
    /* ops_index.c */
    "gather", "masked_fill", "embedding",
    /* ops_conv.c, ops_pool.c, ops_lstm.c */
    "conv1d", "conv2d", "conv2d_relu", "conv2d_cl", "conv_transpose1d", "max_pool1d", "avg_pool1d", "lstm",
    /* ops_fused.c, ops_norm_cl.c */
    "add_dropout", "silu_dropout", "glu_mask", "dwconv1d_tc", "batch_norm_cl",
    /* ops_llm.c */
    "rms_norm", "rope", "swiglu",
    /* ops_checkpoint.c */
    "checkpoint",
};

const char *const *nc_op_names(int *count) {
    *count = (int)(sizeof names / sizeof names[0]);
    return names;
}
