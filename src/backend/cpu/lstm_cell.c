/* LSTM cell forward and backward, point-wise over (B, H).
 * Forward as torch.nn.LSTM documents it:
 *   i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
 *   c' = f * c + i * g,  h' = o * tanh(c')
 * and the layer's point-wise loops around it: gate bias fill, bias gradient. */
#include "backend/cpu/lstm_cell.h"
#include "backend/cpu/cpu_kernels.h"

#include <math.h>
#include <stddef.h>

static inline float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

void nc_lstm_cell_forward(int64_t B, int64_t H, bool threads, float *gates, const float *c_prev,
                          float *c, float *h) {
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t b = 0; b < B; b++) {
        float *gi = gates + b * 4 * H, *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
        const float *cp = c_prev ? c_prev + b * H : NULL;
        float *cb = c + b * H, *hb = h + b * H;
        for (int64_t j = 0; j < H; j++) {
            float i = sigm(gi[j]), f = sigm(gf[j]), g = tanhf(gg[j]), o = sigm(go[j]);
            gi[j] = i, gf[j] = f, gg[j] = g, go[j] = o;
            float cn = i * g + (cp ? f * cp[j] : 0.0f);
            cb[j] = cn;
            hb[j] = o * tanhf(cn);
        }
    }
}

void nc_lstm_cell_backward(int64_t B, int64_t H, bool threads, const float *gates, const float *c,
                           const float *c_prev, const float *dy, const float *dh_next,
                           float *dc_next, float *dgates) {
#pragma omp parallel for if (threads) schedule(static)
    for (int64_t b = 0; b < B; b++) {
        const float *gi = gates + b * 4 * H, *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
        float *di = dgates + b * 4 * H, *df = di + H, *dg = di + 2 * H, *dO = di + 3 * H;
        for (int64_t j = 0; j < H; j++) {
            int64_t k = b * H + j;
            float dh = dh_next[k] + (dy ? dy[k] : 0.0f);
            float i = gi[j], f = gf[j], g = gg[j], o = go[j];
            float tc = tanhf(c[k]);
            float cp = c_prev ? c_prev[k] : 0.0f;
            /* in the forward pass this was: h = o * tanh(c), c = f * c_prev + i * g */
            float dc = dc_next[k] + dh * o * (1.0f - tc * tc);
            dO[j] = dh * tc * o * (1.0f - o);
            di[j] = dc * g * i * (1.0f - i);
            df[j] = dc * cp * f * (1.0f - f);
            dg[j] = dc * i * (1.0f - g * g);
            dc_next[k] = dc * f;
        }
    }
}

void nc_cpu_lstm_gate_bias(bool th, const float *bi, const float *bh, float *G, int64_t rows,
                           int64_t G4) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < G4; j++)
            G[r * G4 + j] = (bi ? bi[j] : 0.0f) + (bh ? bh[j] : 0.0f);
}

void nc_cpu_lstm_bias_grad(bool th, const float *dA, float *dbi, float *dbh, int64_t rows,
                           int64_t G4) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t j = 0; j < G4; j++) {
        double acc = 0;
        for (int64_t r = 0; r < rows; r++) acc += dA[r * G4 + j];
        if (dbi) dbi[j] += (float)acc;
        if (dbh) dbh[j] += (float)acc;
    }
}
