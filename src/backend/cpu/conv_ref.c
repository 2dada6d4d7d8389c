/* Reference convolution: the definition written as direct loops, single
 * threaded, double accumulators. Every fast path is tested against these
 * (tests/unit/test_gradcheck.c runs each case with both).
 *
 *   y[n, co, oh, ow] = sum_{ci in group(co), kh, kw}
 *       w[co, ci - g*Cg, kh, kw] * x[n, ci, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
 * (PyTorch aten/src/ATen/native/ConvolutionMM2d.cpp computes the same sum). */
#include "backend/cpu/conv.h"

void nc_conv_ref_forward(const nc_conv_geom *g, const float *x, const float *w, float *y) {
    int64_t Cg = g->Cin / g->groups, Og = g->Cout / g->groups;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t co = 0; co < g->Cout; co++) {
            int64_t c0 = (co / Og) * Cg;
            for (int64_t oh = 0; oh < g->OH; oh++)
                for (int64_t ow = 0; ow < g->OW; ow++) {
                    double acc = 0;
                    for (int64_t ci = 0; ci < Cg; ci++)
                        for (int64_t kh = 0; kh < g->KH; kh++) {
                            int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                            if (ih < 0 || ih >= g->H) continue;
                            for (int64_t kw = 0; kw < g->KW; kw++) {
                                int64_t iw = ow * g->sw - g->pw + kw * g->dw;
                                if (iw < 0 || iw >= g->W) continue;
                                acc += (double)x[((n * g->Cin + c0 + ci) * g->H + ih) * g->W + iw] *
                                       w[((co * Cg + ci) * g->KH + kh) * g->KW + kw];
                            }
                        }
                    y[((n * g->Cout + co) * g->OH + oh) * g->OW + ow] += (float)acc;
                }
        }
}

/* Gather form: dx[ih] collects every (o, k) with o*s - p + k*d == ih. */
void nc_conv_ref_backward_data(const nc_conv_geom *g, const float *dy, const float *w, float *dx) {
    int64_t Cg = g->Cin / g->groups, Og = g->Cout / g->groups;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t ci = 0; ci < g->Cin; ci++) {
            int64_t grp = ci / Cg, cl = ci - grp * Cg;
            for (int64_t ih = 0; ih < g->H; ih++)
                for (int64_t iw = 0; iw < g->W; iw++) {
                    double acc = 0;
                    for (int64_t co = grp * Og; co < (grp + 1) * Og; co++)
                        for (int64_t kh = 0; kh < g->KH; kh++) {
                            int64_t th = ih + g->ph - kh * g->dh;
                            if (th < 0 || th % g->sh) continue;
                            int64_t oh = th / g->sh;
                            if (oh >= g->OH) continue;
                            for (int64_t kw = 0; kw < g->KW; kw++) {
                                int64_t tw = iw + g->pw - kw * g->dw;
                                if (tw < 0 || tw % g->sw) continue;
                                int64_t ow = tw / g->sw;
                                if (ow >= g->OW) continue;
                                acc += (double)dy[((n * g->Cout + co) * g->OH + oh) * g->OW + ow] *
                                       w[((co * Cg + cl) * g->KH + kh) * g->KW + kw];
                            }
                        }
                    dx[((n * g->Cin + ci) * g->H + ih) * g->W + iw] += (float)acc;
                }
        }
}

void nc_conv_ref_backward_weight(const nc_conv_geom *g, const float *dy, const float *x, float *dw) {
    int64_t Cg = g->Cin / g->groups, Og = g->Cout / g->groups;
    for (int64_t co = 0; co < g->Cout; co++) {
        int64_t c0 = (co / Og) * Cg;
        for (int64_t ci = 0; ci < Cg; ci++)
            for (int64_t kh = 0; kh < g->KH; kh++)
                for (int64_t kw = 0; kw < g->KW; kw++) {
                    double acc = 0;
                    for (int64_t n = 0; n < g->N; n++)
                        for (int64_t oh = 0; oh < g->OH; oh++) {
                            int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                            if (ih < 0 || ih >= g->H) continue;
                            for (int64_t ow = 0; ow < g->OW; ow++) {
                                int64_t iw = ow * g->sw - g->pw + kw * g->dw;
                                if (iw < 0 || iw >= g->W) continue;
                                acc += (double)dy[((n * g->Cout + co) * g->OH + oh) * g->OW + ow] *
                                       x[((n * g->Cin + c0 + ci) * g->H + ih) * g->W + iw];
                            }
                        }
                    dw[((co * Cg + ci) * g->KH + kh) * g->KW + kw] += (float)acc;
                }
    }
}
