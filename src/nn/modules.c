/* Basic modules: naming, linear, norms, conv, embedding. Initialisers
 * follow torch.nn's reset_parameters (kaiming_uniform_(a=sqrt(5)) gives
 * bound 1/sqrt(fan_in) for weights and biases alike). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nemoc/nn.h"

const char *nc_nn_name(char *buf, size_t len, const char *prefix, const char *suffix) {
    if (prefix && prefix[0])
        snprintf(buf, len, "%s.%s", prefix, suffix);
    else
        snprintf(buf, len, "%s", suffix);
    return buf;
}

static nc_tensor *declare(nc_params *p, const char *prefix, const char *suffix, nc_param_kind kind,
                          nc_dtype dt, int ndim, const int64_t *shape, nc_init init) {
    char name[512];
    nc_tensor *t = nc_params_add(p, nc_nn_name(name, sizeof name, prefix, suffix), kind, dt, ndim,
                                 shape);
    if (t) nc_params_set_init(p, t, init);
    return t;
}

nc_tensor *nc_nn_param(nc_params *p, const char *prefix, const char *suffix, int ndim,
                       const int64_t *shape, nc_init init) {
    return declare(p, prefix, suffix, NC_PARAM_TRAINABLE, NC_F32, ndim, shape, init);
}

nc_tensor *nc_nn_buffer(nc_params *p, const char *prefix, const char *suffix, nc_dtype dt,
                        int ndim, const int64_t *shape, nc_init init) {
    return declare(p, prefix, suffix, NC_PARAM_BUFFER, dt, ndim, shape, init);
}

static nc_init fan_in_uniform(int64_t fan_in) {
    float b = fan_in > 0 ? 1.0f / sqrtf((float)fan_in) : 0.0f;
    return (nc_init){.kind = NC_INIT_UNIFORM, .a = -b, .b = b};
}

static const nc_init ONES = {.kind = NC_INIT_CONST, .a = 1.0f};
static const nc_init ZEROS = {.kind = NC_INIT_ZEROS};

nc_status nc_linear_init(nc_linear_m *m, nc_params *p, const char *prefix, int64_t in, int64_t out,
                         bool bias) {
    m->weight = nc_nn_param(p, prefix, "weight", NC_DIMS(out, in), fan_in_uniform(in));
    m->bias = bias ? nc_nn_param(p, prefix, "bias", NC_DIMS(out), fan_in_uniform(in)) : NULL;
    return (!m->weight || (bias && !m->bias)) ? NC_ERR_INVALID_ARG : NC_OK;
}

nc_tensor *nc_linear_fwd(nc_ctx *ctx, const nc_linear_m *m, nc_tensor *x) {
    return nc_linear(ctx, x, m->weight, m->bias);
}

nc_status nc_layer_norm_init(nc_layer_norm_m *m, nc_params *p, const char *prefix, int64_t dim,
                             float eps) {
    m->weight = nc_nn_param(p, prefix, "weight", NC_DIMS(dim), ONES);
    m->bias = nc_nn_param(p, prefix, "bias", NC_DIMS(dim), ZEROS);
    m->eps = eps;
    return (!m->weight || !m->bias) ? NC_ERR_INVALID_ARG : NC_OK;
}

nc_tensor *nc_layer_norm_fwd(nc_ctx *ctx, const nc_layer_norm_m *m, nc_tensor *x) {
    return nc_layer_norm(ctx, x, m->weight, m->bias, m->eps);
}

nc_status nc_batch_norm_init(nc_batch_norm_m *m, nc_params *p, const char *prefix, int64_t channels,
                             float momentum, float eps) {
    m->weight = nc_nn_param(p, prefix, "weight", NC_DIMS(channels), ONES);
    m->bias = nc_nn_param(p, prefix, "bias", NC_DIMS(channels), ZEROS);
    m->running_mean = nc_nn_buffer(p, prefix, "running_mean", NC_F32, NC_DIMS(channels), ZEROS);
    m->running_var = nc_nn_buffer(p, prefix, "running_var", NC_F32, NC_DIMS(channels), ONES);
    m->num_batches_tracked =
        nc_nn_buffer(p, prefix, "num_batches_tracked", NC_I64, 0, NULL, ZEROS);
    m->momentum = momentum;
    m->eps = eps;
    return (!m->weight || !m->bias || !m->running_mean || !m->running_var ||
            !m->num_batches_tracked)
               ? NC_ERR_INVALID_ARG
               : NC_OK;
}

nc_tensor *nc_batch_norm_fwd(nc_ctx *ctx, const nc_batch_norm_m *m, nc_tensor *x) {
    return nc_batch_norm(ctx, x, m->weight, m->bias, m->running_mean, m->running_var,
                         m->num_batches_tracked, m->momentum, m->eps);
}

static nc_status conv_init(nc_conv_m *m, nc_params *p, const char *prefix, int dims, int64_t cin,
                           int64_t cout, int64_t kernel, const nc_conv_params *cp, bool bias) {
    m->cp = cp ? *cp : nc_conv_default_params();
    m->dims = dims;
    int64_t g = m->cp.groups > 0 ? m->cp.groups : 1;
    if (cin % g || cout % g)
        return nc_error(NC_ERR_INVALID_ARG, "%s: channels %lld -> %lld not divisible by groups %lld",
                        prefix, (long long)cin, (long long)cout, (long long)g);
    int64_t fan_in = cin / g * kernel * (dims == 2 ? kernel : 1);
    m->weight = dims == 1 ? nc_nn_param(p, prefix, "weight", NC_DIMS(cout, cin / g, kernel),
                                        fan_in_uniform(fan_in))
                          : nc_nn_param(p, prefix, "weight", NC_DIMS(cout, cin / g, kernel, kernel),
                                        fan_in_uniform(fan_in));
    m->bias = bias ? nc_nn_param(p, prefix, "bias", NC_DIMS(cout), fan_in_uniform(fan_in)) : NULL;
    return (!m->weight || (bias && !m->bias)) ? NC_ERR_INVALID_ARG : NC_OK;
}

nc_status nc_conv1d_init(nc_conv_m *m, nc_params *p, const char *prefix, int64_t cin, int64_t cout,
                         int64_t kernel, const nc_conv_params *cp, bool bias) {
    return conv_init(m, p, prefix, 1, cin, cout, kernel, cp, bias);
}

nc_status nc_conv2d_init(nc_conv_m *m, nc_params *p, const char *prefix, int64_t cin, int64_t cout,
                         int64_t kernel, const nc_conv_params *cp, bool bias) {
    return conv_init(m, p, prefix, 2, cin, cout, kernel, cp, bias);
}

nc_tensor *nc_conv_fwd(nc_ctx *ctx, const nc_conv_m *m, nc_tensor *x) {
    return m->dims == 1 ? nc_conv1d(ctx, x, m->weight, m->bias, &m->cp)
                        : nc_conv2d(ctx, x, m->weight, m->bias, &m->cp);
}

nc_status nc_embedding_init(nc_embedding_m *m, nc_params *p, const char *prefix, int64_t num,
                            int64_t dim, int64_t padding_idx) {
    m->weight = nc_nn_param(p, prefix, "weight", NC_DIMS(num, dim),
                            (nc_init){.kind = NC_INIT_NORMAL, .a = 0.0f, .b = 1.0f});
    m->padding_idx = padding_idx;
    return m->weight ? NC_OK : NC_ERR_INVALID_ARG;
}

nc_tensor *nc_embedding_fwd(nc_ctx *ctx, const nc_embedding_m *m, nc_tensor *idx) {
    return nc_embedding(ctx, m->weight, idx, m->padding_idx);
}
