/* Parity with NeMo's own module code (tests/ref/gen_nemo_parity.py runs
 * NeMo's AudioToMelSpectrogramPreprocessor, ConformerEncoder and
 * ConvASRDecoder from a NeMo checkout) on synthesized speech whose sample
 * counts are not multiples of the hop nor of hop x subsampling factor.
 * nemoc runs its whole inference path from the WAV files: the .nemo loader,
 * the ASR data loader (featurizer, collate), encoder, decoder, greedy CTC;
 * and the long-audio path on each file. Required, for a Conformer (striding
 * 4x) and a FastConformer (dw_striding 8x, pad_to 16), at batch size 1 and in
 * one zero-padded batch of all utterances:
 *   features within 2e-4 absolute at valid frames, pad_value past them;
 *   feature and encoded lengths equal;
 *   encoder outputs within 1e-4 absolute at every valid frame, the last included;
 *   greedy tokens identical (argmax per frame and the collapsed sequence).
 * Extra fixture folders (e.g. a full-width model from `gen_nemo_parity.py
 * --full DIR`) can be given as arguments. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "asr/models/ctc_model.h"
#include "nc_test.h"
#include "nemoc/asr_ctc.h"
#include "nemoc/collections.h"
#include "nemoc/log.h"

#define MAX_UTTS 16

static const double FEAT_TOL = 2e-4, ENC_TOL = 1e-4;

/* NeMo's greedy ids (B, T') with -1 past the length -> collapsed, blanks dropped. */
static int64_t collapse(const int64_t *g, int64_t T, int64_t blank, int64_t *out) {
    int64_t n = 0, prev = -1;
    for (int64_t t = 0; t < T && g[t] >= 0; t++) {
        if (g[t] != prev && g[t] != blank) out[n++] = g[t];
        prev = g[t];
    }
    return n;
}

static int64_t argmax(const float *x, int64_t n) {
    int64_t k = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[k]) k = i;
    return k;
}

typedef struct want {
    nc_tensor *enc, *enc_len, *feat_len, *greedy, *lp;
} want;

static void want_free(want *w) {
    nc_tensor *all[] = {w->enc, w->enc_len, w->feat_len, w->greedy, w->lp};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nc_tensor_free(all[i]);
}

static want want_load(const char *dir, const char *prefix) {
    char n[256];
    want w;
    snprintf(n, sizeof n, "%s.encoded", prefix);
    w.enc = nc_test_npy(dir, n);
    snprintf(n, sizeof n, "%s.encoded_lengths", prefix);
    w.enc_len = nc_test_npy(dir, n);
    snprintf(n, sizeof n, "%s.feat_lengths", prefix);
    w.feat_len = nc_test_npy(dir, n);
    snprintf(n, sizeof n, "%s.greedy", prefix);
    w.greedy = nc_test_npy(dir, n);
    snprintf(n, sizeof n, "%s.log_probs", prefix);
    w.lp = nc_test_npy(dir, n);
    return w;
}

/* Utterance b of a nemoc batch against row r of NeMo's arrays. */
static void compare_utt(const char *what, const float *enc, const float *lp, int64_t Tn, int64_t enc_len,
                        const want *w, int64_t r, int64_t d, int64_t V, double *worst) {
    const int64_t Tw = w->enc->shape[1];
    const int64_t L = nc_i64(w->enc_len)[r];
    CHECK(enc_len == L);
    if (enc_len != L || L > Tn || L > Tw) return;
    double m = 0, m_last = 0, m_first = 0;
    for (int64_t t = 0; t < L; t++)
        for (int64_t c = 0; c < d; c++) {
            double e = fabs((double)enc[t * d + c] - nc_f32(w->enc)[(r * Tw + t) * d + c]);
            if (e > m) m = e;
            if (t == L - 1 && e > m_last) m_last = e;
            if (t == 0 && e > m_first) m_first = e;
        }
    if (m > *worst) *worst = m;
    if (m > ENC_TOL) {
        /* how far it reaches: log-prob gap away from the utterance's end */
        double lp_mid = 0;
        for (int64_t t = 0; t + 2 < L; t++)
            for (int64_t v = 0; v < V; v++)
                lp_mid = fmax(lp_mid, fabs((double)lp[t * V + v] - nc_f32(w->lp)[(r * Tw + t) * V + v]));
        printf("  %s: encoder max |diff| %.3g over %lld frames (first frame %.3g, last %.3g); "
               "log-probs max |diff| %.3g before the last 2 frames\n",
               what, m, (long long)L, m_first, m_last, lp_mid);
    }
    CHECK(m <= ENC_TOL);
    /* greedy: per-frame argmax, then the collapsed sequence */
    int64_t mine[4096], theirs[4096], nm = 0, nt, prev = -1, diff_frames = 0;
    const int64_t *g = nc_i64(w->greedy) + r * Tw;
    for (int64_t t = 0; t < L && t < 4096; t++) {
        int64_t k = argmax(lp + t * V, V);
        if (k != g[t]) diff_frames++;
        if (k != prev && k != V - 1) mine[nm++] = k;
        prev = k;
    }
    nt = collapse(g, L, V - 1, theirs);
    if (diff_frames) printf("  %s: greedy argmax differs at %lld of %lld frames\n", what, (long long)diff_frames,
                            (long long)L);
    CHECK(diff_frames == 0);
    CHECK(nm == nt && memcmp(mine, theirs, (size_t)nm * sizeof(int64_t)) == 0);
}

static void run_loader(nc_model *m, const char *dir, const char *manifest, int64_t n_utts, int64_t bs) {
    nc_ctc_model *cm = nc_ctc_of(m);
    nc_asr_loader_params p = nc_asr_loader_default_params();
    p.manifest_filepath = manifest;
    p.sample_rate = 16000;
    p.batch_size = bs;
    p.shuffle = false;
    p.num_workers = 0;
    p.min_duration = p.max_duration = -1;
    p.features = &cm->features;
    p.training = false;
    nc_asr_loader *l = NULL;
    CHECK_OK(nc_asr_loader_create(&p, &l));
    if (!l) return;
    CHECK_OK(nc_asr_loader_begin_epoch(l, 0, 0));
    nc_tensor *feats_ref = nc_test_npy(dir, "batch.feats");
    want wb = want_load(dir, "batch");
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_set_training(ctx, false);
    nc_set_grad_enabled(ctx, false);
    const int64_t d = cm->encoder.cfg.d_model, V = cm->vocab_size + 1;
    double worst_enc = 0, worst_feat = 0;
    int64_t seen = 0;
    for (;;) {
        const nc_asr_batch *b = NULL;
        CHECK_OK(nc_asr_loader_next(l, &b));
        if (!b || nc_test_failures > 50) break;
        const int64_t B = b->batch_size, F = b->n_feats, T = b->max_frames;
        /* features: NeMo's batch features of the same utterance */
        const int64_t Tr = feats_ref->shape[2];
        for (int64_t k = 0; k < B; k++) {
            const int64_t r = b->sample_index[k], L = b->feat_len[k];
            CHECK(L == nc_i64(wb.feat_len)[r]);
            for (int64_t f = 0; f < F; f++)
                for (int64_t t = 0; t < T; t++) {
                    double got = b->feats[(k * F + f) * T + t];
                    double ref = t < Tr ? nc_f32(feats_ref)[(r * F + f) * Tr + t] : 0.0;
                    if (t >= L) {
                        CHECK(got == cm->features.pad_value);
                        continue;
                    }
                    if (fabs(got - ref) > worst_feat) worst_feat = fabs(got - ref);
                }
        }
        if (bs == n_utts) CHECK(T == Tr); /* NeMo's padded width, pad_to included */
        int64_t enc_len[MAX_UTTS];
        nc_tensor *x = nc_from_data(ctx, NC_F32, NC_DIMS(B, F, T), b->feats);
        nc_tensor *enc = nc_conformer_fwd(ctx, &cm->encoder, x, b->feat_len, enc_len);
        nc_tensor *lp = nc_conv_asr_decoder_fwd(ctx, &cm->decoder, enc);
        CHECK_OK(nc_ctx_status(ctx));
        if (!lp) break;
        const int64_t Tn = enc->shape[1];
        for (int64_t k = 0; k < B; k++) {
            const int64_t r = b->sample_index[k];
            char what[256], pre[64];
            snprintf(what, sizeof what, "%s utt%lld batch %lld", dir, (long long)r, (long long)bs);
            if (bs == 1) {
                snprintf(pre, sizeof pre, "b1_%lld", (long long)r);
                want w1 = want_load(dir, pre);
                if (w1.enc) compare_utt(what, nc_f32(enc), nc_f32(lp), Tn, enc_len[0], &w1, 0, d, V, &worst_enc);
                want_free(&w1);
            } else {
                compare_utt(what, nc_f32(enc) + k * Tn * d, nc_f32(lp) + k * Tn * V, Tn, enc_len[k], &wb, r, d, V,
                            &worst_enc);
            }
            seen++;
        }
        /* The transcription entry point gives the same tokens. */
        nc_asr_hyp hyps[MAX_UTTS];
        nc_transcribe_params tp = {.beam_size = 1};
        CHECK_OK(nc_ctc_transcribe_batch(m, ctx, b, &tp, hyps));
        for (int64_t k = 0; k < B; k++) {
            const int64_t r = b->sample_index[k], Tw = wb.greedy->shape[1];
            int64_t theirs[4096];
            int64_t nt = collapse(nc_i64(wb.greedy) + r * Tw, Tw, V - 1, theirs);
            CHECK(hyps[k].hyp.n_tokens == nt);
            for (int64_t i = 0; i < nt && i < hyps[k].hyp.n_tokens; i++) CHECK(hyps[k].hyp.tokens[i].id == theirs[i]);
            nc_asr_hyp_free(&hyps[k]);
        }
        nc_ctx_reset(ctx);
    }
    CHECK(seen == n_utts);
    printf("%s batch size %lld: features max |diff| %.3g, encoder max |diff| %.3g (valid frames)\n", dir,
           (long long)bs, worst_feat, worst_enc);
    CHECK(worst_feat <= FEAT_TOL);
    nc_ctx_free(ctx);
    want_free(&wb);
    nc_tensor_free(feats_ref);
    nc_asr_loader_free(l);
}

/* nc_ctc_transcribe_long with one buffer over each whole file. */
static void run_long(nc_model *m, const char *dir, const char *audio_dir, int64_t n_utts) {
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_long_audio_params lap = {.chunk_s = 600.0, .buffer_s = 600.0};
    nc_transcribe_params tp = {.beam_size = 1};
    const int64_t V = nc_ctc_of(m)->vocab_size + 1;
    for (int64_t i = 0; i < n_utts; i++) {
        char path[4200], pre[64];
        snprintf(path, sizeof path, "%s/utt%lld.wav", audio_dir, (long long)i);
        snprintf(pre, sizeof pre, "b1_%lld", (long long)i);
        want w = want_load(dir, pre);
        nc_asr_hyp h;
        CHECK_OK(nc_ctc_transcribe_long(m, ctx, path, 0, 0, &lap, &tp, &h));
        if (w.greedy) {
            int64_t theirs[4096];
            int64_t nt = collapse(nc_i64(w.greedy), w.greedy->shape[1], V - 1, theirs);
            CHECK(h.hyp.n_tokens == nt);
            for (int64_t k = 0; k < nt && k < h.hyp.n_tokens; k++) CHECK(h.hyp.tokens[k].id == theirs[k]);
        }
        nc_asr_hyp_free(&h);
        want_free(&w);
    }
    nc_ctx_free(ctx);
}

static void run_dir(const char *dir, const char *audio_dir) {
    char path[4200], manifest[4200];
    snprintf(path, sizeof path, "%s/model.nemo", dir);
    nc_model *m = NULL;
    CHECK_OK(nc_nemo_model_load(path, &m));
    if (!m) return;
    nc_tensor *fl = nc_test_npy(dir, "batch.feat_lengths");
    if (!fl) {
        nc_model_free(m);
        return;
    }
    const int64_t n = fl->shape[0];
    nc_tensor_free(fl);
    CHECK(n <= MAX_UTTS);
    snprintf(manifest, sizeof manifest, "%s/manifest.json", nc_test_tmpdir("nemo_parity"));
    FILE *f = fopen(manifest, "w");
    CHECK(f != NULL);
    if (!f) return;
    /* duration 0: the whole file (no seconds -> samples rounding) */
    for (int64_t i = 0; i < n; i++)
        fprintf(f, "{\"audio_filepath\": \"%s/utt%lld.wav\", \"duration\": 0, \"text\": \"a\"}\n", audio_dir,
                (long long)i);
    fclose(f);
    run_loader(m, dir, manifest, n, 1);
    run_loader(m, dir, manifest, n, n);
    run_long(m, dir, audio_dir, n);
    nc_model_free(m);
}

int main(int argc, char **argv) {
    CHECK_OK(nc_register_collections());
    nc_log_set_level(NC_LOG_ERROR);
    char audio[4200];
    snprintf(audio, sizeof audio, "%s", nc_test_src("tests/ref/nemo_parity/audio"));
    if (argc > 1) {
        for (int i = 1; i < argc; i++) run_dir(argv[i], audio);
    } else {
        const char *names[] = {"conformer", "fastconformer"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/%s", nc_test_src("tests/ref/nemo_parity"), names[i]);
            run_dir(dir, audio);
        }
    }
    return nc_test_finish("nemo_parity");
}
