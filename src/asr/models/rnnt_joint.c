/* RNNTJoint: the transducer joint network
 * (nemo/collections/asr/modules/rnnt.py, RNNTJoint: _joint_net_modules,
 * project_encoder, project_prednet, joint_after_projection). */
#include "nemoc/rnnt_modules.h"

#include <string.h>

static const char *const act_names[] = {"relu", "tanh", "sigmoid"};

nc_status nc_rnnt_activation_parse(const char *name, nc_rnnt_activation *out) {
    for (int i = 0; i < 3; i++) {
        if (name && strcmp(name, act_names[i]) == 0) {
            *out = (nc_rnnt_activation)i;
            return NC_OK;
        }
    }
    return nc_error(NC_ERR_CONFIG, "jointnet.activation '%s': expected one of relu, tanh, sigmoid",
                    name ? name : "(null)");
}

nc_rnnt_joint_params nc_rnnt_joint_default_params(void) {
    return (nc_rnnt_joint_params){.num_classes = 0, .num_extra_outputs = 0, .encoder_hidden = 0,
                                  .pred_hidden = 0, .joint_hidden = 640,
                                  .activation = NC_RNNT_ACT_RELU, .dropout = 0.0f};
}

nc_status nc_rnnt_joint_init(nc_rnnt_joint *j, nc_params *p, const char *prefix,
                             const nc_rnnt_joint_params *hp) {
    memset(j, 0, sizeof *j);
    const struct {
        const char *key;
        int64_t v, lo;
    } sizes[] = {{"num_classes", hp->num_classes, 1},
                 {"num_extra_outputs", hp->num_extra_outputs, 0},
                 {"jointnet.encoder_hidden", hp->encoder_hidden, 1},
                 {"jointnet.pred_hidden", hp->pred_hidden, 1},
                 {"jointnet.joint_hidden", hp->joint_hidden, 1}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].v < sizes[i].lo)
            return nc_error(NC_ERR_CONFIG, "RNNTJoint: %s must be >= %lld, got %lld", sizes[i].key,
                            (long long)sizes[i].lo, (long long)sizes[i].v);
    if ((unsigned)hp->activation > NC_RNNT_ACT_SIGMOID)
        return nc_error(NC_ERR_CONFIG, "RNNTJoint: unknown activation %d", (int)hp->activation);
    if (!(hp->dropout >= 0.0f && hp->dropout < 1.0f))
        return nc_error(NC_ERR_CONFIG, "RNNTJoint: jointnet.dropout must be in [0, 1), got %g",
                        (double)hp->dropout);
    j->hp = *hp;
    /* num_classes_with_blank = num_classes + 1, then + num_extra_outputs */
    j->n_out = hp->num_classes + 1 + hp->num_extra_outputs;
    char name[512];
    nc_status s;
    nc_nn_name(name, sizeof name, prefix, "pred");
    if ((s = nc_linear_init(&j->pred, p, name, hp->pred_hidden, hp->joint_hidden, true)) != NC_OK)
        return s;
    nc_nn_name(name, sizeof name, prefix, "enc");
    if ((s = nc_linear_init(&j->enc, p, name, hp->encoder_hidden, hp->joint_hidden, true)) != NC_OK)
        return s;
    /* joint_net = Sequential(activation, [Dropout(p) if dropout], Linear) */
    nc_nn_name(name, sizeof name, prefix, hp->dropout > 0.0f ? "joint_net.2" : "joint_net.1");
    return nc_linear_init(&j->out, p, name, hp->joint_hidden, j->n_out, true);
}

nc_tensor *nc_rnnt_joint_project_encoder(nc_ctx *ctx, const nc_rnnt_joint *j, nc_tensor *enc) {
    return nc_linear_fwd(ctx, &j->enc, enc);
}

nc_tensor *nc_rnnt_joint_project_prednet(nc_ctx *ctx, const nc_rnnt_joint *j, nc_tensor *pred) {
    return nc_linear_fwd(ctx, &j->pred, pred);
}

nc_tensor *nc_rnnt_joint_after_projection(nc_ctx *ctx, const nc_rnnt_joint *j, nc_tensor *f,
                                          nc_tensor *g) {
    if (nc_ctx_status(ctx) != NC_OK) return NULL;
    if (!f || !g || f->ndim != 3 || g->ndim != 3 || f->shape[0] != g->shape[0] ||
        f->shape[2] != j->hp.joint_hidden || g->shape[2] != j->hp.joint_hidden)
        return nc_ctx_fail(ctx, NC_ERR_SHAPE,
                           "RNNTJoint: projections must be (B, T, %lld) and (B, U, %lld)",
                           (long long)j->hp.joint_hidden, (long long)j->hp.joint_hidden);
    const int64_t B = f->shape[0], T = f->shape[1], U = g->shape[1], J = j->hp.joint_hidden;
    /* f.unsqueeze(2) + g.unsqueeze(1): (B, T, 1, J) + (B, 1, U, J) -> (B, T, U, J) */
    nc_tensor *x = nc_add(ctx, nc_reshape(ctx, f, NC_DIMS(B, T, 1, J)),
                          nc_reshape(ctx, g, NC_DIMS(B, 1, U, J)));
    switch (j->hp.activation) {
    case NC_RNNT_ACT_RELU: x = nc_relu(ctx, x); break;
    case NC_RNNT_ACT_TANH: x = nc_tanh(ctx, x); break;
    case NC_RNNT_ACT_SIGMOID: x = nc_sigmoid(ctx, x); break;
    }
    if (j->hp.dropout > 0.0f) x = nc_dropout(ctx, x, j->hp.dropout);
    return nc_linear_fwd(ctx, &j->out, x); /* (B, T, U, C) */
}

nc_tensor *nc_rnnt_joint_fwd(nc_ctx *ctx, const nc_rnnt_joint *j, nc_tensor *enc, nc_tensor *pred) {
    if (nc_ctx_status(ctx) != NC_OK) return NULL;
    if (!enc || !pred || enc->ndim != 3 || pred->ndim != 3 ||
        enc->shape[2] != j->hp.encoder_hidden || pred->shape[2] != j->hp.pred_hidden)
        return nc_ctx_fail(ctx, NC_ERR_SHAPE,
                           "RNNTJoint: inputs must be (B, T, %lld) and (B, U, %lld)",
                           (long long)j->hp.encoder_hidden, (long long)j->hp.pred_hidden);
    return nc_rnnt_joint_after_projection(ctx, j, nc_rnnt_joint_project_encoder(ctx, j, enc),
                                          nc_rnnt_joint_project_prednet(ctx, j, pred));
}
