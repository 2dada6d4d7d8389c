/* The element-wise halves of the fused transducer joint + loss
 * (nc_rnnt_joint_loss, src/ops/ops_rnnt_joint.c): the broadcast sum and
 * activation of RNNTJoint.joint_after_projection
 * (nemo/collections/asr/modules/rnnt.py), and its backward reduced straight
 * into the two projections' gradients, so the (T, U1, J) activation
 * gradient of a sub-batch never becomes a tensor of its own. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/vmath.h"

static inline float act1(nc_un_kind k, float z) {
    switch (k) {
    case NC_UN_RELU: return z > 0.0f ? z : (z == z ? 0.0f : z); /* NaN passes, as torch.relu */
    case NC_UN_TANH: return tanhf(z);
    default: return 1.0f / (1.0f + nc_expf1(-z)); /* not reached: sigmoid is vectorised */
    }
}

void nc_cpu_rnnt_joint_act(bool th, const nc_joint_args *a, float *h) {
    const int64_t B = a->B, T = a->T, U1 = a->U1, J = a->J;
#pragma omp parallel for collapse(2) schedule(static) if (th)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            const float *f = a->f + b * a->f_stride + t * J;
            float *row = h + ((b * T + t) * U1) * J;
            for (int64_t u = 0; u < U1; u++) {
                const float *g = a->g + b * a->g_stride + u * J;
                float *o = row + u * J;
                if (a->act == NC_UN_RELU) {
                    for (int64_t j = 0; j < J; j++) {
                        float z = f[j] + g[j];
                        o[j] = z > 0.0f ? z : (z == z ? 0.0f : z);
                    }
                } else if (a->act == NC_UN_SIGMOID) {
                    for (int64_t j = 0; j < J; j++) o[j] = f[j] + g[j];
                    nc_vsigmoid(o, o, J); /* as nc_sigmoid's kernel */
                } else {
                    for (int64_t j = 0; j < J; j++) o[j] = act1(a->act, f[j] + g[j]);
                }
            }
        }
    }
}

/* dz = dh * keep * act'(h), from the activation's output as torch's
 * threshold/tanh/sigmoid backward do. */
static inline float dact(nc_un_kind k, float h, float d) {
    switch (k) {
    case NC_UN_RELU: return h <= 0.0f ? 0.0f : d;
    case NC_UN_TANH: return d * (1.0f - h * h);
    default: return d * h * (1.0f - h);
    }
}

void nc_cpu_rnnt_joint_act_grad(bool th, const nc_joint_args *a, const float *h,
                                const uint8_t *mask, float scale, float *dh, float *df,
                                float *dg) {
    const int64_t B = a->B, T = a->T, U1 = a->U1, J = a->J;
    /* dh -> dz in place, and df[b, t] += sum_u dz: one pass over (b, t) rows */
#pragma omp parallel for collapse(2) schedule(static) if (th)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            const int64_t r0 = (b * T + t) * U1 * J;
            float *o = df + b * a->f_stride + t * J;
            for (int64_t u = 0; u < U1; u++) {
                float *d = dh + r0 + u * J;
                const float *hv = h + r0 + u * J;
                if (mask) {
                    const uint8_t *m = mask + r0 + u * J;
                    for (int64_t j = 0; j < J; j++) d[j] = dact(a->act, hv[j], m[j] ? d[j] * scale : 0.0f);
                } else {
                    for (int64_t j = 0; j < J; j++) d[j] = dact(a->act, hv[j], d[j]);
                }
                for (int64_t j = 0; j < J; j++) o[j] += d[j];
            }
        }
    }
    /* dg[b, u] += sum_t dz */
#pragma omp parallel for collapse(2) schedule(static) if (th)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t u = 0; u < U1; u++) {
            float *o = dg + b * a->g_stride + u * J;
            for (int64_t t = 0; t < T; t++) {
                const float *d = dh + ((b * T + t) * U1 + u) * J;
                for (int64_t j = 0; j < J; j++) o[j] += d[j];
            }
        }
    }
}
