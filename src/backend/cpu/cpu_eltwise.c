/* Element-wise kernels: accumulation, binary and unary ops, GLU, dropout,
 * ReLU masks, finiteness. Each kernel switches on its kind outside the
 * loops, so every loop body is a plain vectorisable expression; `th`
 * threads a loop over OpenMP (backend.h has the table's conventions). */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/vmath.h"
#include "nemoc/tensor.h"

void nc_cpu_acc(bool th, float *dst, const float *src, int64_t n) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

void nc_cpu_scale(bool th, float *dst, const float *src, float s, int64_t n) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t i = 0; i < n; i++) dst[i] = s * src[i];
}

void nc_cpu_acc_col_sums(bool th, float *gi, const float *g, int64_t rows, int64_t n_in) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t j = 0; j < n_in; j++) {
        double s = 0;
        for (int64_t r = 0; r < rows; r++) s += g[r * n_in + j];
        gi[j] += (float)s;
    }
}

static inline float bin_apply(nc_bin_kind k, float a, float b, float alpha) {
    switch (k) {
    case NC_BIN_ADD: return a + alpha * b;
    case NC_BIN_SUB: return a - alpha * b;
    case NC_BIN_MUL: return a * b;
    default: return a / b;
    }
}

void nc_cpu_binary(bool th, nc_bin_kind k, float alpha, const float *A, const float *B, float *O,
                   int64_t n) {
    switch (k) { /* switch outside the loop so each body vectorises */
    case NC_BIN_ADD:
#pragma omp parallel for if (th) schedule(static)
        for (int64_t i = 0; i < n; i++) O[i] = A[i] + alpha * B[i];
        break;
    case NC_BIN_SUB:
#pragma omp parallel for if (th) schedule(static)
        for (int64_t i = 0; i < n; i++) O[i] = A[i] - alpha * B[i];
        break;
    case NC_BIN_MUL:
#pragma omp parallel for if (th) schedule(static)
        for (int64_t i = 0; i < n; i++) O[i] = A[i] * B[i];
        break;
    case NC_BIN_DIV:
#pragma omp parallel for if (th) schedule(static)
        for (int64_t i = 0; i < n; i++) O[i] = A[i] / B[i];
        break;
    }
}

void nc_cpu_binary_rows(bool th, nc_bin_kind k, float alpha, const float *A, const float *B,
                        float *O, int64_t rows, int64_t nb) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < nb; j++) O[r * nb + j] = bin_apply(k, A[r * nb + j], B[j], alpha);
}

void nc_cpu_binary_strided(bool th, nc_bin_kind k, float alpha, const float *A, const float *B,
                           float *O, int nd, const int64_t *shape, const int64_t *sa,
                           const int64_t *sb, int64_t n) {
    int64_t inner = nd ? shape[nd - 1] : 1;
    int64_t rows = inner ? n / inner : 0;
    int64_t ia_in = nd ? sa[nd - 1] : 0, ib_in = nd ? sb[nd - 1] : 0;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t rem = r, oa = 0, ob = 0;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t i = rem % shape[d];
            rem /= shape[d];
            oa += i * sa[d];
            ob += i * sb[d];
        }
        for (int64_t j = 0; j < inner; j++)
            O[r * inner + j] = bin_apply(k, A[oa + j * ia_in], B[ob + j * ib_in], alpha);
    }
}

void nc_cpu_binary_grad(bool th, nc_bin_kind k, bool for_b, const float *g, const float *A,
                        const float *B, float *t, int64_t N) {
    if (!for_b) {
        if (k == NC_BIN_MUL) {
#pragma omp parallel for if (th) schedule(static)
            for (int64_t i = 0; i < N; i++) t[i] = g[i] * B[i];
        } else {
#pragma omp parallel for if (th) schedule(static)
            for (int64_t i = 0; i < N; i++) t[i] = g[i] / B[i];
        }
    } else {
        if (k == NC_BIN_MUL) {
#pragma omp parallel for if (th) schedule(static)
            for (int64_t i = 0; i < N; i++) t[i] = g[i] * A[i];
        } else { /* d(a/b)/db = -a / b^2 */
#pragma omp parallel for if (th) schedule(static)
            for (int64_t i = 0; i < N; i++) t[i] = -g[i] * A[i] / (B[i] * B[i]);
        }
    }
}

/* exp-based activations run in blocks through the vector kernels of
 * vmath.h (libm's expf does not vectorise). */
enum { VBLK = 1024 };
static inline int64_t blk(int64_t n, int64_t b0) { return n - b0 < VBLK ? n - b0 : VBLK; }


void nc_cpu_unary(bool par, nc_un_kind k, float p, const float *x, float *y, int64_t n) {
    switch (k) {
    case NC_UN_SCALE:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = p * x[i];
        break;
    case NC_UN_ADD_SCALAR:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] + p;
        break;
    case NC_UN_RELU:
#pragma omp parallel for if (par) schedule(static)
        /* NaN passes through, as torch.relu (clamp_min) does: a NaN input must
         * reach the loss so the trainer skips the step instead of training on zeros. */
        for (int64_t i = 0; i < n; i++) y[i] = x[i] <= 0 ? 0.0f : x[i];
        break;
    case NC_UN_LEAKY_RELU:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : p * x[i];
        break;
    case NC_UN_SILU:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) nc_vsilu(y + b0, x + b0, blk(n, b0));
        break;
    case NC_UN_GELU:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) nc_vgelu(y + b0, x + b0, blk(n, b0));
        break;
    case NC_UN_GELU_TANH:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) nc_vgelu_tanh(y + b0, x + b0, blk(n, b0));
        break;
    case NC_UN_TANH:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    case NC_UN_SIGMOID:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) nc_vsigmoid(y + b0, x + b0, blk(n, b0));
        break;
    case NC_UN_EXP:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) nc_vexp(y + b0, x + b0, blk(n, b0));
        break;
    case NC_UN_LOG:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = logf(x[i]);
        break;
    case NC_UN_SQRT:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = sqrtf(x[i]);
        break;
    case NC_UN_POW:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = powf(x[i], p);
        break;
    }
}

void nc_cpu_unary_grad(bool par, nc_un_kind k, float p, const float *x, const float *y,
                       const float *g, float *dx, int64_t n) {
    switch (k) {
    case NC_UN_SCALE:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += p * g[i];
        break;
    case NC_UN_ADD_SCALAR:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i];
        break;
    case NC_UN_RELU:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += x[i] <= 0 ? 0.0f : g[i]; /* torch threshold_backward */
        break;
    case NC_UN_LEAKY_RELU:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0 ? g[i] : p * g[i];
        break;
    case NC_UN_SILU: /* d/dx x*s(x) = s(x) (1 + x (1 - s(x))) */
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) {
            float sg[VBLK];
            const int64_t m = blk(n, b0);
            nc_vsigmoid(sg, x + b0, m);
            for (int64_t i = 0; i < m; i++)
                dx[b0 + i] += g[b0 + i] * sg[i] * (1.0f + x[b0 + i] * (1.0f - sg[i]));
        }
        break;
    case NC_UN_GELU: /* Phi(x) + x phi(x) */
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) {
            float dg[VBLK];
            const int64_t m = blk(n, b0);
            nc_vgelu_deriv(dg, x + b0, m);
            for (int64_t i = 0; i < m; i++) dx[b0 + i] += g[b0 + i] * dg[i];
        }
        break;
    case NC_UN_GELU_TANH:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) {
            float dg[VBLK];
            const int64_t m = blk(n, b0);
            nc_vgelu_tanh_deriv(dg, x + b0, m);
            for (int64_t i = 0; i < m; i++) dx[b0 + i] += g[b0 + i] * dg[i];
        }
        break;
    case NC_UN_TANH:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] * (1.0f - y[i] * y[i]);
        break;
    case NC_UN_SIGMOID:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] * y[i] * (1.0f - y[i]);
        break;
    case NC_UN_EXP:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] * y[i];
        break;
    case NC_UN_LOG:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] / x[i];
        break;
    case NC_UN_SQRT:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] * 0.5f / y[i];
        break;
    case NC_UN_POW:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] * p * powf(x[i], p - 1.0f);
        break;
    }
}

void nc_cpu_glu(bool th, const float *X, float *Y, int64_t outer, int64_t hi) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t o = 0; o < outer; o++) {
        const float *a = X + o * 2 * hi, *b = a + hi;
        float *yo = Y + o * hi;
        nc_vsigmoid(yo, b, hi);
        for (int64_t i = 0; i < hi; i++) yo[i] *= a[i];
    }
}

void nc_cpu_glu_grad(bool th, const float *x, const float *g, float *dx, int64_t outer,
                     int64_t hi) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t o = 0; o < outer; o++) {
        const float *a = x + o * 2 * hi, *b = a + hi;
        float *da = dx + o * 2 * hi, *db = da + hi;
        const float *go = g + o * hi;
        for (int64_t b0 = 0; b0 < hi; b0 += VBLK) {
            float sg[VBLK];
            const int64_t m = blk(hi, b0);
            nc_vsigmoid(sg, b + b0, m);
            for (int64_t i = 0; i < m; i++) {
                da[b0 + i] += go[b0 + i] * sg[i];
                db[b0 + i] += go[b0 + i] * a[b0 + i] * sg[i] * (1.0f - sg[i]);
            }
        }
    }
}

void nc_cpu_dropout(bool th, const float *X, const uint8_t *mask, float scale, float *Y,
                    int64_t n) {
    if (!mask) {
        /* torch multiplies by a zero scalar: NaN/inf inputs give NaN, as there */
#pragma omp parallel for if (th) schedule(static)
        for (int64_t i = 0; i < n; i++) Y[i] = X[i] * 0.0f;
    } else {
#pragma omp parallel for if (th) schedule(static)
        for (int64_t i = 0; i < n; i++) Y[i] = X[i] * (mask[i] ? scale : 0.0f);
    }
}

void nc_cpu_dropout_grad(bool th, const float *g, const uint8_t *m, float sc, float *dx,
                         int64_t n) {
    /* forward: out = x * noise, noise = mask ? 1/(1-p) : 0 (all 0 when p == 1) */
#pragma omp parallel for if (th) schedule(static)
    for (int64_t i = 0; i < n; i++) dx[i] += m ? g[i] * (m[i] ? sc : 0.0f) : g[i] * 0.0f;
}

void nc_cpu_relu_inplace(bool th, float *Y, int64_t ny) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t i = 0; i < ny; i++) Y[i] = Y[i] <= 0.0f ? 0.0f : Y[i]; /* NaN passes, as nc_relu */
}

void nc_cpu_relu_mask(bool th, const float *y, float *dy, int64_t ny) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t i = 0; i < ny; i++) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void nc_cpu_relu_mask_bf16(bool th, const float *y, const float *dy, uint16_t *d16, int64_t ny) {
    /* the ReLU mask and the conversion in one pass, a block of masked floats
     * at a time through the stack (the first subsampling conv's dy is 180 MB
     * in the Conformer benchmark) */
    enum { BLK = 4096 };
#pragma omp parallel for if (th) schedule(static)
    for (int64_t b0 = 0; b0 < ny; b0 += BLK) {
        float t[BLK];
        const int64_t nb = ny - b0 < BLK ? ny - b0 : BLK;
        for (int64_t i = 0; i < nb; i++) t[i] = y[b0 + i] > 0.0f ? dy[b0 + i] : 0.0f;
        nc_convert_f32_to_bf16(t, d16 + b0, nb);
    }
}

/* NaN and +-inf are the floats whose exponent bits are all ones: an integer
 * OR-reduction, which vectorises without reassociating floats. */
static bool finite_run(const float *p, int64_t n) {
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, p + i, sizeof b);
        bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u);
    }
    return bad == 0;
}

/* a block at a time, converted while it is in cache */
bool nc_cpu_all_finite(bool th, const float *p, int64_t n, uint16_t *x16) {
    enum { BLK = 16384 };
    bool ok = true;
#pragma omp parallel for if (th) reduction(&& : ok) schedule(static)
    for (int64_t b0 = 0; b0 < n; b0 += BLK) {
        const int64_t nb = n - b0 < BLK ? n - b0 : BLK;
        ok = finite_run(p + b0, nb) && ok;
        if (x16) nc_convert_f32_to_bf16(p + b0, x16 + b0, nb);
    }
    return ok;
}
