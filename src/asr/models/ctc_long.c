/* Long-audio CTC transcription in buffered chunks (see nc_ctc_transcribe_long
 * in nemoc/asr_ctc.h): NeMo's FrameBatchASR keeps, from each buffer, the
 * log-probs of the chunk in its middle and decodes their concatenation. Chunk
 * and context boundaries are whole encoder frames (window_stride x
 * subsampling_factor), so chunks tile the file's frames exactly. */
#include <math.h>
#include <string.h>

#include "core/vec.h"
#include "nemoc/alloc.h"
#include "asr/models/ctc_model.h"
#include "nemoc/asr_ctc.h"
#include "nemoc/audio.h"
#include "nemoc/features.h"
#include "nemoc/ops.h"

nc_long_audio_params nc_long_audio_default_params(void) {
    return (nc_long_audio_params){.chunk_s = 30.0, .buffer_s = 40.0};
}

/* Growing (T, V) log-prob store. */
typedef struct lp_store {
    float *data;
    int64_t frames, cap, v;
} lp_store;

static nc_status store_add(lp_store *st, const float *rows, int64_t n) {
    if (nc_vec_reserve(&st->data, &st->cap, st->frames + n, (size_t)st->v * sizeof(float)))
        return nc_error(NC_ERR_OOM, "long audio: log-probs of %lld frames", (long long)(st->frames + n));
    memcpy(st->data + st->frames * st->v, rows, (size_t)(n * st->v) * sizeof(float));
    st->frames += n;
    return NC_OK;
}

/* Encoder + decoder on one buffer of audio: log-probs (1, T', V+1) in the arena. */
static nc_tensor *encode(nc_ctx *ctx, nc_ctc_model *cm, const nc_featurizer *fz, const nc_audio *a,
                         int64_t *enc_len) {
    const int64_t F = nc_featurizer_n_features(fz);
    const int64_t T = nc_featurizer_out_frames(fz, a->n_samples);
    nc_tensor *feats = nc_empty(ctx, NC_F32, NC_DIMS(1, F, T));
    if (!feats) return NULL;
    int64_t len = a->n_samples, feat_len = 0;
    nc_status s = nc_featurizer_compute(fz, a->samples, &len, 1, len, false, NULL, nc_f32(feats), &feat_len);
    /* Non-finite or overflowing samples: bad audio, as in the loader. */
    if (!s) s = nc_features_check_finite(nc_f32(feats), F, T, feat_len, a->samples, a->n_samples);
    if (s) return nc_ctx_fail(ctx, s, "%s", nc_last_error());
    nc_tensor *enc = nc_conformer_fwd(ctx, &cm->encoder, feats, &feat_len, enc_len);
    return nc_conv_asr_decoder_fwd(ctx, &cm->decoder, enc);
}

nc_status nc_ctc_transcribe_long(nc_model *m, nc_ctx *ctx, const char *path, double offset, double duration,
                                 const nc_long_audio_params *lap, const nc_transcribe_params *p, nc_asr_hyp *hyp) {
    memset(hyp, 0, sizeof *hyp);
    nc_ctc_model *cm = m->impl;
    nc_long_audio_params la = lap ? *lap : nc_long_audio_default_params();
    const double fs = cm->frame_seconds;
    if (!(fs > 0) || !(la.chunk_s >= fs) || !(la.buffer_s >= la.chunk_s))
        return nc_error(NC_ERR_INVALID_ARG,
                        "long audio: chunk %g s and buffer %g s need chunk >= one encoder frame (%g s) and "
                        "buffer >= chunk",
                        la.chunk_s, la.buffer_s, fs);
    nc_audio_info info;
    nc_status ps = nc_audio_probe(path, &info);
    if (ps) return ps;
    if (duration <= 0) {
        duration = info.duration - offset;
        if (!(duration > 0))
            return nc_error(NC_ERR_INVALID_ARG, "'%s': offset %.3f s is past the end of the file (%.3f s)", path,
                            offset, info.duration);
    }
    /* As nc_audio_read refuses for short files: a manifest duration the file
     * does not hold (1e19 s) must not become chunks of nothing and an empty
     * transcript. */
    const double tol = nc_audio_read_default_params().end_tolerance;
    if (!(offset + duration <= info.duration + tol))
        return nc_error(NC_ERR_INVALID_ARG,
                        "segment of '%s' runs past the end of the file: requested %g s at offset %.3f s, "
                        "available %.3f s (file is %.3f s)",
                        path, duration, offset, info.duration - offset > 0 ? info.duration - offset : 0.0,
                        info.duration);
    /* Durations come from manifests: one that does not fit the frame count's
     * int64 (or would loop for ages over chunks past the end) is refused. */
    if (!(duration <= 3.2e7) || !(offset <= 3.2e7) || !(la.buffer_s <= 3.2e7))
        return nc_error(NC_ERR_FORMAT, "'%s': duration %g s at offset %g s is out of range (at most 3.2e7 s)", path,
                        duration, offset);
    const int64_t chunk_f = (int64_t)llround(la.chunk_s / fs);
    const int64_t ctx_f = (int64_t)llround((la.buffer_s - la.chunk_s) / 2 / fs);
    const int64_t total_f = (int64_t)ceil(duration / fs - 1e-9);
    nc_featurizer *fz = NULL;
    nc_status s = nc_featurizer_create(&cm->features, &fz);
    if (s) return s;
    lp_store st = {.v = cm->vocab_size + 1};
    const bool prev_grad = nc_set_grad_enabled(ctx, false);
    const bool prev_train = nc_training(ctx);
    nc_set_training(ctx, false);
    for (int64_t c0 = 0; c0 < total_f && !s; c0 += chunk_f) {
        const int64_t c1 = c0 + chunk_f < total_f ? c0 + chunk_f : total_f;
        const int64_t b0 = c0 > ctx_f ? c0 - ctx_f : 0;
        const double start = (double)b0 * fs;
        double len = (double)(c1 + ctx_f) * fs - start;
        if (start + len > duration) len = duration - start;
        nc_audio_read_params rp = nc_audio_read_default_params();
        rp.target_sr = (int)cm->features.sample_rate;
        rp.offset = offset + start;
        rp.duration = len;
        nc_audio a = {0};
        if ((s = nc_audio_read(path, &rp, &a))) break;
        int64_t enc_len = 0;
        nc_tensor *lp = encode(ctx, cm, fz, &a, &enc_len);
        nc_audio_free(&a);
        if (!lp) {
            s = nc_error_prefix(nc_ctx_status(ctx), "'%s' at %.1f s", path, offset + start);
            break;
        }
        /* Keep this chunk's frames: global [c0, c1) is local [c0 - b0, c1 - b0). */
        int64_t lo = c0 - b0, hi = c1 - b0;
        if (hi > enc_len) hi = enc_len;
        if (c1 == total_f && enc_len > hi) hi = enc_len; /* the last buffer ends the file */
        if (hi > lo) s = store_add(&st, nc_f32(lp) + lo * st.v, hi - lo);
        nc_ctx_reset(ctx);
    }
    nc_set_grad_enabled(ctx, prev_grad);
    nc_set_training(ctx, prev_train);
    nc_featurizer_free(fz);
    if (!s) {
        nc_tensor lp_t, len_t;
        int64_t frames = st.frames;
        if (!st.data && !(st.data = nc_calloc((size_t)st.v, sizeof(float))))
            s = nc_error(NC_ERR_OOM, "long audio");
        if (!s) s = nc_tensor_init(&lp_t, NC_F32, NC_DIMS(1, frames, st.v), st.data);
        if (!s) s = nc_tensor_init(&len_t, NC_I64, NC_DIMS(1), &frames);
        if (!s) s = nc_ctc_decode_log_probs(cm, &lp_t, &len_t, p, hyp);
    }
    nc_free(st.data);
    return s;
}
