/* Per-utterance work of the ASR loader and batch collation.
 *
 * One utterance, as NeMo's AudioToCharDataset / AudioToBPEDataset
 * __getitem__ (nemo/collections/asr/data/audio_to_text.py) followed by the
 * model's preprocessor and spec_augmentation (EncDecCTCModel.forward):
 *   AudioSegment.from_file(path, offset, duration, target_sr) -> augmentor
 *   -> FilterbankFeatures (dither in training) -> SpectrogramAugmentation
 *   (training) ; text -> ids with bos/eos when use_start_end_token.
 * NeMo featurises the padded batch; per utterance gives the same values for
 * the valid frames (the batch padding is zero and pre-emphasis zeroes it
 * again) and padding frames are set to pad_value either way.
 *
 * Every random draw of an utterance comes from its own nc_rng seeded from
 * (seed, epoch, sample index), in a fixed order (perturbations, dither,
 * SpecAugment), so a batch does not depend on which thread built it.
 *
 * Collation mirrors _speech_collate_fn: audio zero-padded to the longest,
 * tokens padded with pad_id, lengths kept. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "asr/data/asr_loader_internal.h"
#include "nemoc/alloc.h"
#include "nemoc/augment.h"
#include "nemoc/features.h"
#include "nemoc/rng.h"

void asr_utt_free(asr_utt *u) {
    if (!u) return;
    nc_free(u->msg);
    nc_audio_free(&u->audio);
    nc_free(u->feats);
    nc_free(u->tok);
    nc_token_ids_free(&u->ids);
    *u = (asr_utt){0};
}

static void set_msg(asr_utt *u, const char *m) {
    nc_free(u->msg);
    u->msg = nc_strdup(m);
}

/* Bad audio: skipped with a reason, or a hard error when not skipping. */
static void bad_audio(const asr_work_cfg *w, asr_utt *u, nc_status code, const char *why) {
    const nc_manifest_entry *e = &w->man->entries[w->index ? w->index[u->sample] : u->sample];
    char m[4600];
    snprintf(m, sizeof m, "%s: audio '%s': %s", e->source, e->audio_filepath, why);
    set_msg(u, m);
    if (w->skip_bad_audio) u->bad = true;
    else u->err = code ? code : NC_ERR_FORMAT;
}

static void hard_error(const asr_work_cfg *w, asr_utt *u, nc_status code, const char *what) {
    const nc_manifest_entry *e = &w->man->entries[w->index ? w->index[u->sample] : u->sample];
    char m[4600];
    snprintf(m, sizeof m, "%s: %s: %s", e->source, what, nc_last_error());
    set_msg(u, m);
    u->err = code;
}

static bool grow_f32(float **p, int64_t *cap, int64_t n) {
    if (n <= *cap) return true;
    float *q = nc_malloc((size_t)n * sizeof(float));
    if (!q) return false;
    nc_free(*p);
    *p = q;
    *cap = n;
    return true;
}

static nc_status tokenize(const asr_work_cfg *w, asr_utt *u, const char *text) {
    u->n_tok = 0;
    if (!w->tok) return NC_OK;
    nc_status s = nc_tokenizer_encode(w->tok, text, -1, &u->ids);
    if (s) return s;
    const int64_t n = u->ids.n + (w->bos_id >= 0) + (w->eos_id >= 0);
    if (n > u->tok_cap) {
        int32_t *t = nc_malloc((size_t)n * sizeof(int32_t));
        if (!t) return nc_error(NC_ERR_OOM, "%lld token ids", (long long)n);
        nc_free(u->tok);
        u->tok = t;
        u->tok_cap = n;
    }
    int64_t k = 0;
    if (w->bos_id >= 0) u->tok[k++] = w->bos_id;
    if (u->ids.n) memcpy(u->tok + k, u->ids.ids, (size_t)u->ids.n * sizeof(int32_t));
    k += u->ids.n;
    if (w->eos_id >= 0) u->tok[k++] = w->eos_id;
    u->n_tok = k;
    return NC_OK;
}

void asr_utt_process(const asr_work_cfg *w, int64_t epoch, int64_t sample, asr_utt *u) {
    u->sample = sample;
    u->bad = false;
    u->err = NC_OK;
    nc_free(u->msg);
    u->msg = NULL;
    nc_audio_free(&u->audio);
    u->n_samples = u->frames = u->feat_len = u->n_tok = 0;
    const nc_manifest_entry *e = &w->man->entries[w->index ? w->index[sample] : sample];

    nc_audio_read_params rp = nc_audio_read_default_params();
    rp.target_sr = w->sample_rate;
    rp.offset = e->offset;
    rp.duration = e->duration;
    nc_status s = nc_audio_read(e->audio_filepath, &rp, &u->audio);
    if (s == NC_ERR_OOM) {
        hard_error(w, u, s, "decoding audio");
        return;
    }
    if (s) {
        /* Missing (NOT_FOUND), undecodable or empty (FORMAT), shorter than the manifest's
         * offset + duration (INVALID_ARG), unreadable (IO). The segment
         * comes from the manifest, so it is a data error (FORMAT), not a bad
         * argument: the CLI's exit code 2 means a usage error. */
        bad_audio(w, u, s == NC_ERR_INVALID_ARG ? NC_ERR_FORMAT : s, nc_last_error());
        return;
    }
    if (u->audio.n_samples == 0) {
        bad_audio(w, u, NC_ERR_FORMAT, "zero-length audio");
        return;
    }
    /* A float file holding NaN/Inf would only surface as a skipped training
     * step (or a NaN transcript); it is bad audio, named as such. */
    for (int64_t i = 0; i < u->audio.n_samples; i++)
        if (!isfinite(u->audio.samples[i])) {
            char why[128];
            snprintf(why, sizeof why, "sample %lld is not finite (%g)", (long long)i, (double)u->audio.samples[i]);
            bad_audio(w, u, NC_ERR_NUMERIC, why);
            return;
        }
    nc_rng rng;
    nc_rng_seed(&rng, asr_seed_hash(w->seed, ASR_STREAM_UTT, (uint64_t)epoch, (uint64_t)sample));
    if (w->training && w->n_perturb > 0) {
        s = nc_audio_augment(w->perturb, w->n_perturb, &u->audio, &rng);
        if (s) {
            hard_error(w, u, s, "waveform augmentation");
            return;
        }
    }
    u->n_samples = u->audio.n_samples;
    if (w->fz) {
        const int64_t F = nc_featurizer_n_features(w->fz);
        const int64_t T = nc_featurizer_out_frames(w->fz, u->n_samples);
        if (!grow_f32(&u->feats, &u->feats_cap, F * T > 0 ? F * T : 1)) {
            hard_error(w, u, nc_error(NC_ERR_OOM, "features (%lld, %lld)", (long long)F, (long long)T), "features");
            return;
        }
        u->frames = T;
        s = nc_featurizer_compute(w->fz, u->audio.samples, &u->n_samples, 1, u->n_samples, w->training, &rng,
                                  u->feats, &u->feat_len);
        /* Finite samples of huge magnitude overflow the spectrum: bad audio,
         * not a blank prediction or a skipped training step. */
        if (!s && nc_features_check_finite(u->feats, F, T, u->feat_len, u->audio.samples, u->n_samples)) {
            bad_audio(w, u, NC_ERR_NUMERIC, nc_last_error());
            return;
        }
        if (!s && w->training && w->sa) s = nc_spec_augment(w->sa, u->feats, 1, F, T, &u->feat_len, &rng);
        if (s) {
            hard_error(w, u, s, "features");
            return;
        }
    }
    if ((s = tokenize(w, u, e->text))) {
        hard_error(w, u, s, "tokenizing the text");
        return;
    }
    if (!w->keep_audio && w->fz) nc_audio_free(&u->audio); /* not needed past this point */
}

void asr_batch_buf_free(asr_batch_buf *b) {
    if (!b) return;
    nc_free(b->feats);
    nc_free(b->audio);
    nc_free(b->tokens);
    nc_free(b->lens);
    nc_free(b->texts);
    *b = (asr_batch_buf){0};
}

static bool grow_i64(int64_t **p, int64_t *cap, int64_t n) {
    if (n <= *cap) return true;
    int64_t *q = nc_malloc((size_t)n * sizeof(int64_t));
    if (!q) return false;
    nc_free(*p);
    *p = q;
    *cap = n;
    return true;
}

nc_status asr_collate(const asr_work_cfg *w, asr_utt *u, int64_t n, int64_t pad_id, asr_batch_buf *buf,
                      nc_asr_batch *out) {
    int64_t B = 0, max_samples = 0, max_tokens = 0;
    for (int64_t i = 0; i < n; i++) {
        if (u[i].bad) continue;
        B++;
        if (u[i].n_samples > max_samples) max_samples = u[i].n_samples;
        if (u[i].n_tok > max_tokens) max_tokens = u[i].n_tok;
    }
    const int64_t F = w->fz ? nc_featurizer_n_features(w->fz) : 0;
    const int64_t Tf = w->fz ? nc_featurizer_out_frames(w->fz, max_samples) : 0;
    const bool audio = w->keep_audio || !w->fz;
    const int64_t nb = B > 0 ? B : 1;
    if (!grow_f32(&buf->feats, &buf->feats_cap, B * F * Tf > 0 ? B * F * Tf : 1) ||
        (audio && !grow_f32(&buf->audio, &buf->audio_cap, B * max_samples > 0 ? B * max_samples : 1)) ||
        !grow_i64(&buf->tokens, &buf->tokens_cap, B * max_tokens > 0 ? B * max_tokens : 1) ||
        !grow_i64(&buf->lens, &buf->lens_cap, 4 * nb))
        return nc_error(NC_ERR_OOM, "batch of %lld utterances", (long long)B);
    if (nb > buf->texts_cap) {
        const char **t = nc_malloc((size_t)nb * sizeof *t);
        if (!t) return nc_error(NC_ERR_OOM, "batch of %lld utterances", (long long)B);
        nc_free(buf->texts);
        buf->texts = t;
        buf->texts_cap = nb;
    }
    const float pad_value = w->fz ? (float)nc_featurizer_config(w->fz)->pad_value : 0.0f;
    int64_t *feat_len = buf->lens, *audio_len = buf->lens + nb, *token_len = buf->lens + 2 * nb,
            *sample_index = buf->lens + 3 * nb;
    double seconds = 0;
    int64_t b = 0;
    for (int64_t i = 0; i < n; i++) {
        const asr_utt *x = &u[i];
        if (x->bad) continue;
        for (int64_t f = 0; f < F; f++) {
            float *row = buf->feats + (b * F + f) * Tf;
            memcpy(row, x->feats + f * x->frames, (size_t)x->feat_len * sizeof(float));
            for (int64_t t = x->feat_len; t < Tf; t++) row[t] = pad_value;
        }
        if (audio) {
            float *row = buf->audio + b * max_samples;
            memcpy(row, x->audio.samples, (size_t)x->n_samples * sizeof(float));
            memset(row + x->n_samples, 0, (size_t)(max_samples - x->n_samples) * sizeof(float));
        }
        int64_t *tr = buf->tokens + b * max_tokens;
        for (int64_t t = 0; t < max_tokens; t++) tr[t] = t < x->n_tok ? x->tok[t] : pad_id;
        feat_len[b] = x->feat_len;
        audio_len[b] = x->n_samples;
        token_len[b] = x->n_tok;
        sample_index[b] = w->index ? w->index[x->sample] : x->sample;
        buf->texts[b] = w->man->entries[sample_index[b]].text;
        seconds += (double)x->n_samples / w->sample_rate;
        b++;
    }
    *out = (nc_asr_batch){
        .batch_size = B,
        .feats = w->fz ? buf->feats : NULL,
        .n_feats = F,
        .max_frames = Tf,
        .feat_len = feat_len,
        .audio = audio ? buf->audio : NULL,
        .max_samples = max_samples,
        .audio_len = audio_len,
        .tokens = buf->tokens,
        .max_tokens = max_tokens,
        .token_len = token_len,
        .token_pad_id = pad_id,
        .sample_index = sample_index,
        .texts = buf->texts,
        .audio_seconds = seconds,
    };
    return NC_OK;
}
