/* LSTM cell point-wise kernels (torch.nn.LSTM gate order i, f, g, o).
 *
 * The gemms (input projection for all steps, recurrent product per step)
 * run in src/ops/ops_lstm.c; these kernels do the gate nonlinearities and
 * the cell update for one time step of a batch, and their backward. */
#ifndef NC_BACKEND_CPU_LSTM_CELL_H
#define NC_BACKEND_CPU_LSTM_CELL_H

#include <stdbool.h>
#include <stdint.h>

/* gates (B, 4H): pre-activations in, activations (i, f, g, o) out.
 * c = f * c_prev + i * g, h = o * tanh(c); c_prev NULL means zeros. */
void nc_lstm_cell_forward(int64_t B, int64_t H, bool threads, float *gates, const float *c_prev,
                          float *c, float *h);

/* One step back. gates (B, 4H) activations, c (B, H) this step's cell,
 * c_prev (B, H) or NULL (zeros). dh = dy (B, H, may be NULL) + dh_next;
 * dc_next holds d(c) coming from step t+1 (and h_n/c_n) on entry and d(c_prev)
 * on exit. dgates (B, 4H) receives the gradient of the pre-activations. */
void nc_lstm_cell_backward(int64_t B, int64_t H, bool threads, const float *gates, const float *c,
                           const float *c_prev, const float *dy, const float *dh_next,
                           float *dc_next, float *dgates);

#endif
