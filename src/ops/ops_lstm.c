/* torch.nn.LSTM (unidirectional, batch_first=False, any number of layers)
 * with backward through time.
 *
 * Per layer, the input projection of all T steps is one gemm
 *   G (T*B, 4H) = in (T*B, in) @ w_ih^T + b_ih + b_hh
 * and only the recurrent product G[t] += h[t-1] @ w_hh^T runs per step,
 * followed by the cell kernel (src/backend/cpu/lstm_cell.c). The activated
 * gates, cells and hidden states of every layer are kept for backward.
 *
 * y, h_n and c_n are three outputs of one computation. The tape holds one
 * output per node, so the op writes them into one packed buffer recorded as
 * the "lstm" node, and hands out views of it, each recorded as a small
 * "lstm" node that adds its gradient into the packed gradient. */
#include <string.h>

#include "ops/ops_internal.h"

typedef struct lstm_saved {
    int64_t T, B, I, H;
    int L;
    nc_tensor *x, *h0, *c0;
    nc_lstm_weights *layers;         /* copy of the caller's array, in the arena */
    float **gates, **cells, **hidden; /* per layer (T, B, 4H), (T, B, H), (T, B, H) */
} lstm_saved;

static nc_gemm_args gemm_rm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                            int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                            float beta) {
    return (nc_gemm_args){.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .alpha = 1.0f,
                          .beta = beta, .A = A, .lda = lda, .B = B, .ldb = ldb, .C = C,
                          .ldc = ldc, .batch = 1};
}

static bool check_weight(nc_ctx *ctx, const nc_tensor *t, int l, const char *name, int64_t rows,
                         int64_t cols, bool required) {
    if (!t) {
        if (required)
            nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "lstm: layer %d: %s is NULL", l, name);
        return !required;
    }
    if (!nc_check_dtype(ctx, "lstm", t, NC_F32)) return false;
    bool ok = cols ? (t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols)
                   : (t->ndim == 1 && t->shape[0] == rows);
    if (!ok) {
        char got[128];
        nc_ctx_fail(ctx, NC_ERR_SHAPE, "lstm: layer %d: %s has shape %s, expected (%lld%s%lld)", l,
                    name, nc_shape_str(t, got, sizeof got), (long long)rows, cols ? ", " : "",
                    (long long)cols);
    }
    return ok;
}

static bool check_state(nc_ctx *ctx, const nc_tensor *t, const char *name, int L, int64_t B,
                        int64_t H) {
    if (!t) return true;
    if (!nc_check_dtype(ctx, "lstm", t, NC_F32)) return false;
    if (t->ndim != 3 || t->shape[0] != L || t->shape[1] != B || t->shape[2] != H) {
        char got[128];
        nc_ctx_fail(ctx, NC_ERR_SHAPE, "lstm: %s has shape %s, expected (%d, %lld, %lld)", name,
                    nc_shape_str(t, got, sizeof got), L, (long long)B, (long long)H);
        return false;
    }
    return true;
}

/* One layer forward over all steps; fails the ctx on a gemm error. */
static bool layer_forward(nc_ctx *ctx, const lstm_saved *s, int l, const float *in, int64_t in_f) {
    const nc_lstm_weights *w = &s->layers[l];
    int64_t T = s->T, B = s->B, H = s->H, G4 = 4 * H, rows = T * B;
    float *G = s->gates[l];
    const float *bi = w->b_ih ? (const float *)w->b_ih->data : NULL;
    const float *bh = w->b_hh ? (const float *)w->b_hh->data : NULL;
    const nc_backend *be = nc_ctx_backend(ctx);
    be->lstm_gate_bias(nc_par(ctx, rows * G4), bi, bh, G, rows, G4);
    nc_gemm_args a = gemm_rm(false, true, rows, G4, in_f, in, in_f, w->w_ih->data, in_f, G, G4, 1.0f);
    if (!nc_ctx_gemm_run(ctx, &a)) return false;
    const float *hp = s->h0 ? (const float *)s->h0->data + l * B * H : NULL;
    const float *cp = s->c0 ? (const float *)s->c0->data + l * B * H : NULL;
    bool threads = nc_par(ctx, B * G4);
    for (int64_t t = 0; t < T; t++) {
        float *Gt = G + t * B * G4;
        if (hp) { /* a zero h0 contributes nothing */
            a = gemm_rm(false, true, B, G4, H, hp, H, w->w_hh->data, H, Gt, G4, 1.0f);
            if (!nc_ctx_gemm_run(ctx, &a)) return false;
        }
        float *ct = s->cells[l] + t * B * H, *ht = s->hidden[l] + t * B * H;
        be->lstm_cell_forward(B, H, threads, Gt, cp, ct, ht);
        hp = ht;
        cp = ct;
    }
    return true;
}

/* Backward of one layer. dY (T, B, H) is the gradient of the layer's output;
 * dh/dc (B, H) hold the gradients of h_n/c_n on entry. dA (T, B, 4H) is
 * scratch; dIn (T, B, in), when non-NULL, receives dY of the layer below
 * (set, accumulate = false) or the input gradient (accumulate = true). */
static bool layer_backward(nc_ctx *ctx, const lstm_saved *s, int l, const float *dY, float *dh,
                           float *dc, float *dA, float *dIn, bool accumulate) {
    const nc_lstm_weights *w = &s->layers[l];
    int64_t T = s->T, B = s->B, H = s->H, G4 = 4 * H, BH = B * H;
    int64_t in_f = l ? H : s->I;
    const float *in = l ? s->hidden[l - 1] : (const float *)s->x->data;
    const float *h0 = s->h0 ? (const float *)s->h0->data + l * BH : NULL;
    const float *c0 = s->c0 ? (const float *)s->c0->data + l * BH : NULL;
    float *dh0 = s->h0 ? nc_grad_buf(ctx, s->h0) : NULL;
    float *dc0 = s->c0 ? nc_grad_buf(ctx, s->c0) : NULL;
    bool threads = nc_par(ctx, B * G4);
    const nc_backend *be = nc_ctx_backend(ctx);
    nc_gemm_args a;
    for (int64_t t = T - 1; t >= 0; t--) {
        const float *c_prev = t ? s->cells[l] + (t - 1) * BH : c0;
        float *dAt = dA + t * B * G4;
        be->lstm_cell_backward(B, H, threads, s->gates[l] + t * B * G4, s->cells[l] + t * BH,
                              c_prev, dY + t * BH, dh, dc, dAt);
        /* in the forward pass this was: G[t] += h[t-1] @ w_hh^T */
        if (t > 0 || dh0) {
            a = gemm_rm(false, false, B, H, G4, dAt, G4, w->w_hh->data, H, dh, H, 0.0f);
            if (!nc_ctx_gemm_run(ctx, &a)) return false;
        }
    }
    if (dh0) nc_acc(ctx, dh0 + l * BH, dh, BH);
    if (dc0) nc_acc(ctx, dc0 + l * BH, dc, BH);
    float *dwhh = nc_grad_buf(ctx, w->w_hh);
    if (dwhh) { /* dw_hh += sum_t dA[t]^T @ h[t-1], h[-1] = h0 */
        if (T > 1) {
            a = gemm_rm(true, false, G4, H, (T - 1) * B, dA + B * G4, G4, s->hidden[l], H, dwhh, H,
                        1.0f);
            if (!nc_ctx_gemm_run(ctx, &a)) return false;
        }
        if (h0) {
            a = gemm_rm(true, false, G4, H, B, dA, G4, h0, H, dwhh, H, 1.0f);
            if (!nc_ctx_gemm_run(ctx, &a)) return false;
        }
    }
    float *dwih = nc_grad_buf(ctx, w->w_ih);
    if (dwih) { /* dw_ih += dA^T @ in over all steps */
        a = gemm_rm(true, false, G4, in_f, T * B, dA, G4, in, in_f, dwih, in_f, 1.0f);
        if (!nc_ctx_gemm_run(ctx, &a)) return false;
    }
    float *dbi = w->b_ih ? nc_grad_buf(ctx, w->b_ih) : NULL;
    float *dbh = w->b_hh ? nc_grad_buf(ctx, w->b_hh) : NULL;
    if (dbi || dbh) {
        int64_t rows = T * B;
        be->lstm_bias_grad(nc_par(ctx, rows * G4), dA, dbi, dbh, rows, G4);
    }
    if (dIn) { /* in the forward pass this was: G = in @ w_ih^T + ... */
        a = gemm_rm(false, false, T * B, in_f, G4, dA, G4, w->w_ih->data, in_f, dIn, in_f,
                    accumulate ? 1.0f : 0.0f);
        if (!nc_ctx_gemm_run(ctx, &a)) return false;
    }
    return !ctx->status;
}

static void lstm_backward(nc_ctx *ctx, nc_node *n) {
    const lstm_saved *s = n->saved;
    int64_t T = s->T, B = s->B, H = s->H, BH = B * H;
    const float *dP = nc_out_grad(n);
    const float *dhn = dP + T * BH, *dcn = dhn + s->L * BH;
    /* Gradient buffers live until the step ends: create them before the
     * scratch mark (nc_grad_buf returns the same buffer on later calls). */
    float *dx = nc_grad_buf(ctx, s->x);
    if (s->h0) nc_grad_buf(ctx, s->h0);
    if (s->c0) nc_grad_buf(ctx, s->c0);
    for (int l = 0; l < s->L; l++) {
        const nc_lstm_weights *w = &s->layers[l];
        nc_grad_buf(ctx, w->w_ih);
        nc_grad_buf(ctx, w->w_hh);
        if (w->b_ih) nc_grad_buf(ctx, w->b_ih);
        if (w->b_hh) nc_grad_buf(ctx, w->b_hh);
    }
    if (ctx->status) return;
    nc_arena_mark m = nc_arena_mark_get(ctx->arena);
    float *dA = nc_scratch(ctx, (size_t)(T * B * 4 * H) * sizeof(float));
    float *dYbuf = s->L > 1 ? nc_scratch(ctx, (size_t)(T * BH) * sizeof(float)) : NULL;
    float *dh = nc_scratch(ctx, (size_t)BH * sizeof(float));
    float *dc = nc_scratch(ctx, (size_t)BH * sizeof(float));
    if (ctx->status) return;
    const float *dY = dP;
    for (int l = s->L - 1; l >= 0; l--) {
        memcpy(dh, dhn + l * BH, (size_t)BH * sizeof(float));
        memcpy(dc, dcn + l * BH, (size_t)BH * sizeof(float));
        /* Layer l's input gradient is dY of layer l-1; dYbuf is free to be
         * overwritten once this layer's time loop has read it. */
        float *dIn = l ? dYbuf : dx;
        if (!layer_backward(ctx, s, l, dY, dh, dc, dA, dIn, l == 0)) break;
        dY = dYbuf;
    }
    nc_arena_rewind(ctx->arena, m);
}

static void view_backward(nc_ctx *ctx, nc_node *n) {
    int64_t off = *(const int64_t *)n->saved;
    float *dp = nc_grad_buf(ctx, n->in[0]);
    if (dp) nc_acc(ctx, dp + off, nc_out_grad(n), nc_numel(n->out));
}

/* (d0, d1, d2) view of packed at `off`, recorded so its gradient flows back. */
static nc_tensor *packed_view(nc_ctx *ctx, nc_tensor *packed, int64_t off, int64_t d0, int64_t d1,
                              int64_t d2) {
    nc_tensor *v = nc_tensor_view_of(ctx, NC_F32, NC_DIMS(d0, d1, d2), nc_f32(packed) + off);
    if (!v) return NULL;
    nc_node *n = nc_record(ctx, "lstm", view_backward, v, 1, &packed, sizeof(int64_t));
    if (n) *(int64_t *)n->saved = off;
    return v;
}

nc_tensor *nc_lstm(nc_ctx *ctx, nc_tensor *x, int num_layers, const nc_lstm_weights *layers,
                   nc_tensor *h0, nc_tensor *c0, nc_tensor **h_n, nc_tensor **c_n) {
    if (h_n) *h_n = NULL;
    if (c_n) *c_n = NULL;
    if (!nc_ok1(ctx, x)) return NULL;
    if (!nc_check_dtype(ctx, "lstm", x, NC_F32)) return NULL;
    if (x->ndim != 3 || x->shape[0] < 1)
        return nc_shape_fail(ctx, "lstm", "expected x (T, B, I) with T >= 1", x, NULL);
    if (num_layers < 1 || !layers)
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "lstm: need num_layers >= 1 (got %d) and weights",
                           num_layers);
    int L = num_layers;
    int64_t T = x->shape[0], B = x->shape[1], I = x->shape[2];
    if (!layers[0].w_hh || layers[0].w_hh->ndim != 2)
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "lstm: layer 0: w_hh must be (4H, H)");
    int64_t H = layers[0].w_hh->shape[1], G4 = 4 * H, BH = B * H;
    bool any_grad = nc_needs_grad(x) || nc_needs_grad(h0) || nc_needs_grad(c0);
    for (int l = 0; l < L; l++) {
        const nc_lstm_weights *w = &layers[l];
        if (!check_weight(ctx, w->w_ih, l, "w_ih", G4, l ? H : I, true) ||
            !check_weight(ctx, w->w_hh, l, "w_hh", G4, H, true) ||
            !check_weight(ctx, w->b_ih, l, "b_ih", G4, 0, false) ||
            !check_weight(ctx, w->b_hh, l, "b_hh", G4, 0, false))
            return NULL;
        any_grad = any_grad || nc_needs_grad(w->w_ih) || nc_needs_grad(w->w_hh) ||
                   nc_needs_grad(w->b_ih) || nc_needs_grad(w->b_hh);
    }
    if (!check_state(ctx, h0, "h0", L, B, H) || !check_state(ctx, c0, "c0", L, B, H)) return NULL;
    bool record = any_grad && nc_grad_enabled(ctx);

    /* packed output: y (T, B, H), h_n (L, B, H), c_n (L, B, H) */
    nc_tensor *packed = nc_empty(ctx, NC_F32, NC_DIMS(T * BH + 2 * L * BH));
    lstm_saved s = {.T = T, .B = B, .I = I, .H = H, .L = L, .x = x, .h0 = h0, .c0 = c0};
    /* Kept for backward when recording; otherwise scratch handed back at the end. */
    nc_arena_mark m = nc_arena_mark_get(ctx->arena);
    s.layers = nc_scratch(ctx, (size_t)L * sizeof(nc_lstm_weights));
    s.gates = nc_scratch(ctx, (size_t)L * sizeof(float *));
    s.cells = nc_scratch(ctx, (size_t)L * sizeof(float *));
    s.hidden = nc_scratch(ctx, (size_t)L * sizeof(float *));
    if (!packed || ctx->status) return NULL;
    memcpy(s.layers, layers, (size_t)L * sizeof(nc_lstm_weights));
    for (int l = 0; l < L; l++) {
        s.gates[l] = nc_scratch(ctx, (size_t)(T * B * G4) * sizeof(float));
        s.cells[l] = nc_scratch(ctx, (size_t)(T * BH) * sizeof(float));
        s.hidden[l] = l == L - 1 ? nc_f32(packed) : nc_scratch(ctx, (size_t)(T * BH) * sizeof(float));
        if (ctx->status) return NULL;
    }
    float *hn = nc_f32(packed) + T * BH, *cn = hn + L * BH;
    for (int l = 0; l < L; l++) {
        if (!layer_forward(ctx, &s, l, l ? s.hidden[l - 1] : nc_f32(x), l ? H : I)) return NULL;
        memcpy(hn + l * BH, s.hidden[l] + (T - 1) * BH, (size_t)BH * sizeof(float));
        memcpy(cn + l * BH, s.cells[l] + (T - 1) * BH, (size_t)BH * sizeof(float));
    }
    if (record) {
        /* inputs: x, h0, c0 and every weight that is present */
        nc_tensor **ins = nc_scratch(ctx, (size_t)(3 + 4 * L) * sizeof(nc_tensor *));
        if (!ins) return NULL;
        int k = 0;
        ins[k++] = x;
        if (h0) ins[k++] = h0;
        if (c0) ins[k++] = c0;
        for (int l = 0; l < L; l++) {
            ins[k++] = layers[l].w_ih;
            ins[k++] = layers[l].w_hh;
            if (layers[l].b_ih) ins[k++] = layers[l].b_ih;
            if (layers[l].b_hh) ins[k++] = layers[l].b_hh;
        }
        nc_node *n = nc_record(ctx, "lstm", lstm_backward, packed, k, ins, sizeof(lstm_saved));
        if (n) *(lstm_saved *)n->saved = s;
    } else {
        nc_arena_rewind(ctx->arena, m);
    }
    if (ctx->status) return NULL;
    nc_tensor *y = packed_view(ctx, packed, 0, T, B, H);
    if (h_n) *h_n = packed_view(ctx, packed, T * BH, L, B, H);
    if (c_n) *c_n = packed_view(ctx, packed, T * BH + L * BH, L, B, H);
    if (ctx->status) {
        if (h_n) *h_n = NULL;
        if (c_n) *c_n = NULL;
        return NULL;
    }
    return y;
}
