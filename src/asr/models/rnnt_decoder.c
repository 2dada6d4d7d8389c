/* RNNTDecoder: the LSTM prediction network of a transducer
 * (nemo/collections/asr/modules/rnnt.py, RNNTDecoder: _predict_modules,
 * predict; the LSTM is common/parts/rnn.py's LSTMDropout). */
#include "nemoc/rnnt_modules.h"
#include "nemoc/alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nc_rnnt_decoder_params nc_rnnt_decoder_default_params(void) {
    return (nc_rnnt_decoder_params){.vocab_size = 0, .pred_hidden = 320, .pred_rnn_layers = 1,
                                    .dropout = 0.0f, .forget_gate_bias = 1.0f,
                                    .blank_as_pad = true};
}

nc_status nc_rnnt_decoder_init(nc_rnnt_decoder *d, nc_params *p, const char *prefix,
                               const nc_rnnt_decoder_params *hp) {
    memset(d, 0, sizeof *d);
    if (hp->vocab_size < 1)
        return nc_error(NC_ERR_CONFIG, "RNNTDecoder: vocab_size must be >= 1, got %lld",
                        (long long)hp->vocab_size);
    if (hp->pred_hidden < 1)
        return nc_error(NC_ERR_CONFIG, "RNNTDecoder: prednet.pred_hidden must be >= 1, got %lld",
                        (long long)hp->pred_hidden);
    if (hp->pred_rnn_layers < 1 || hp->pred_rnn_layers > 64)
        return nc_error(NC_ERR_CONFIG, "RNNTDecoder: prednet.pred_rnn_layers must be in [1, 64], got %d",
                        hp->pred_rnn_layers);
    if (!(hp->dropout >= 0.0f && hp->dropout < 1.0f))
        return nc_error(NC_ERR_CONFIG, "RNNTDecoder: prednet.dropout must be in [0, 1), got %g",
                        (double)hp->dropout);
    d->hp = *hp;
    d->blank = hp->vocab_size;
    const int64_t H = hp->pred_hidden;
    char name[512], base[512];
    /* blank_as_pad: Embedding(vocab_size + 1, H, padding_idx=blank_idx) */
    nc_nn_name(name, sizeof name, prefix, "prediction.embed");
    nc_status s = nc_embedding_init(&d->embed, p, name, hp->vocab_size + (hp->blank_as_pad ? 1 : 0),
                                    H, hp->blank_as_pad ? d->blank : -1);
    if (s != NC_OK) return s;
    d->lstm = nc_calloc((size_t)hp->pred_rnn_layers, sizeof *d->lstm);
    if (!d->lstm) return nc_error(NC_ERR_OOM, "RNNTDecoder: %d LSTM layers", hp->pred_rnn_layers);
    nc_nn_name(base, sizeof base, prefix, "prediction.dec_rnn.lstm");
    /* torch.nn.LSTM's reset_parameters: every tensor U(-1/sqrt(H), 1/sqrt(H)) */
    const float k = 1.0f / sqrtf((float)H);
    const nc_init u = {.kind = NC_INIT_UNIFORM, .a = -k, .b = k};
    for (int l = 0; l < hp->pred_rnn_layers; l++) {
        char suf[64];
        nc_lstm_weights *w = &d->lstm[l];
        snprintf(suf, sizeof suf, "weight_ih_l%d", l);
        w->w_ih = nc_nn_param(p, base, suf, NC_DIMS(4 * H, H), u);
        snprintf(suf, sizeof suf, "weight_hh_l%d", l);
        w->w_hh = nc_nn_param(p, base, suf, NC_DIMS(4 * H, H), u);
        snprintf(suf, sizeof suf, "bias_ih_l%d", l);
        w->b_ih = nc_nn_param(p, base, suf, NC_DIMS(4 * H), u);
        snprintf(suf, sizeof suf, "bias_hh_l%d", l);
        w->b_hh = nc_nn_param(p, base, suf, NC_DIMS(4 * H), u);
        if (!w->w_ih || !w->w_hh || !w->b_ih || !w->b_hh) {
            nc_rnnt_decoder_free(d);
            return nc_error_prefix(NC_ERR_INVALID_ARG, "RNNTDecoder layer %d", l);
        }
    }
    return NC_OK;
}

void nc_rnnt_decoder_free(nc_rnnt_decoder *d) {
    nc_free(d->lstm);
    d->lstm = NULL;
}

void nc_rnnt_decoder_reset(nc_rnnt_decoder *d) {
    const int64_t H = d->hp.pred_hidden;
    if (d->embed.padding_idx >= 0 && d->embed.weight->data)
        memset(nc_f32(d->embed.weight) + d->embed.padding_idx * H, 0, (size_t)H * sizeof(float));
    /* LSTMDropout.__init__: bias_ih[H:2H].fill_(forget_gate_bias),
     * bias_hh[H:2H] *= hidden_hidden_bias_scale (0.0 in RNNTDecoder) */
    for (int l = 0; l < d->hp.pred_rnn_layers; l++) {
        if (!d->lstm[l].b_ih->data || !d->lstm[l].b_hh->data) continue;
        float *bi = nc_f32(d->lstm[l].b_ih), *bh = nc_f32(d->lstm[l].b_hh);
        for (int64_t i = H; i < 2 * H; i++) {
            bi[i] = d->hp.forget_gate_bias;
            bh[i] = 0.0f;
        }
    }
}

/* x (S, B, H) through the LSTM stack from state h0/c0 (L, B, H) or zeros.
 * torch.nn.LSTM(dropout=p) drops between layers, LSTMDropout once more on
 * the output; both are identity outside training. */
static nc_tensor *run_lstm(nc_ctx *ctx, const nc_rnnt_decoder *d, nc_tensor *x, nc_tensor *h0,
                           nc_tensor *c0, nc_tensor **h_out, nc_tensor **c_out) {
    const int L = d->hp.pred_rnn_layers;
    const float p = d->hp.dropout;
    if (p == 0.0f || !nc_training(ctx))
        return nc_lstm(ctx, x, L, d->lstm, h0, c0, h_out, c_out);
    nc_tensor **hs = nc_scratch(ctx, 2 * (size_t)L * sizeof(nc_tensor *));
    if (!hs) return NULL;
    nc_tensor **cs = hs + L;
    for (int l = 0; l < L && x; l++) {
        nc_tensor *hl = h0 ? nc_slice(ctx, h0, 0, l, l + 1, 1) : NULL;
        nc_tensor *cl = c0 ? nc_slice(ctx, c0, 0, l, l + 1, 1) : NULL;
        x = nc_lstm(ctx, x, 1, &d->lstm[l], hl, cl, &hs[l], &cs[l]);
        x = nc_dropout(ctx, x, p); /* between layers, and LSTMDropout's after the last */
    }
    if (!x) return NULL;
    if (h_out) *h_out = nc_concat(ctx, L, hs, 0);
    if (c_out) *c_out = nc_concat(ctx, L, cs, 0);
    return x;
}

nc_tensor *nc_rnnt_decoder_fwd(nc_ctx *ctx, const nc_rnnt_decoder *d, nc_tensor *targets) {
    if (nc_ctx_status(ctx) != NC_OK) return NULL;
    if (!targets || targets->dtype != NC_I64 || targets->ndim != 2)
        return nc_ctx_fail(ctx, NC_ERR_SHAPE, "RNNTDecoder: targets must be (B, U) int64");
    /* predict(): y = embed(y); y = cat([zeros(B, 1, H), y], dim=1)  (add_sos) */
    nc_tensor *y = nc_embedding_fwd(ctx, &d->embed, targets);
    y = nc_pad(ctx, y, 1, 1, 0, 0.0f);              /* (B, U + 1, H) */
    y = nc_transpose(ctx, y, 0, 1);                 /* (U + 1, B, H) */
    y = run_lstm(ctx, d, y, NULL, NULL, NULL, NULL); /* state None: zeros (no random sampling) */
    return nc_transpose(ctx, y, 0, 1);              /* (B, U + 1, H) */
}

nc_tensor *nc_rnnt_decoder_step(nc_ctx *ctx, const nc_rnnt_decoder *d, nc_tensor *labels,
                                nc_tensor *h, nc_tensor *c, nc_tensor **h_out, nc_tensor **c_out) {
    if (nc_ctx_status(ctx) != NC_OK) return NULL;
    if (!labels || labels->dtype != NC_I64 || labels->ndim != 1)
        return nc_ctx_fail(ctx, NC_ERR_SHAPE, "RNNTDecoder step: labels must be (B) int64");
    if ((h == NULL) != (c == NULL))
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "RNNTDecoder step: give both h and c or neither");
    const int64_t B = labels->shape[0], H = d->hp.pred_hidden;
    nc_tensor *idx = nc_empty(ctx, NC_I64, NC_DIMS(B));
    nc_tensor *keep = nc_empty(ctx, NC_F32, NC_DIMS(B, 1));
    if (!idx || !keep) return NULL;
    bool any_sos = false;
    for (int64_t b = 0; b < B; b++) {
        int64_t y = nc_i64(labels)[b];
        /* predict(None, ...): the start of signal is a zero vector (the pad row) */
        nc_i64(idx)[b] = y < 0 ? 0 : y;
        nc_f32(keep)[b] = y < 0 ? 0.0f : 1.0f;
        any_sos |= y < 0;
    }
    nc_tensor *x = nc_embedding_fwd(ctx, &d->embed, idx); /* (B, H) */
    if (any_sos) x = nc_mul(ctx, x, keep);
    x = nc_reshape(ctx, x, NC_DIMS(1, B, H));
    x = run_lstm(ctx, d, x, h, c, h_out, c_out);
    return nc_reshape(ctx, x, NC_DIMS(B, 1, H)); /* (1, B, H) and (B, 1, H) share a layout */
}
