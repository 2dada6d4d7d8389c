/* NeMo-written transducer .nemo files transcribe to NeMo's exact greedy text.
 *
 * tests/ref/gen_nemo_rnnt.py builds two tiny models from NeMo's OWN modules
 * (AudioToMelSpectrogramPreprocessor, ConformerEncoder, RNNTDecoder,
 * RNNTJoint), trains them in torch until greedy decoding emits real text, and
 * records what NeMo's greedy decoders give on espeak-ng WAVs:
 *   rnnt_char  EncDecRNNTModel (char labels, FastConformer dw_striding 8x
 *              with pad_to 16, RNN-T; several symbols per frame)
 *   tdt_bpe    EncDecRNNTBPEModel (SentencePiece BPE, Conformer striding 4x,
 *              TDT durations [0..4]; model.joint.fuse_loss_wer: true as in
 *              NeMo's TDT configs, which nemoc used to refuse)
 *   tdt_bpe_stress  the same kind, small and untrained with a sharp joint:
 *              duration 0 (several tokens per frame) and max_symbols on most frames
 * nemoc loads each .nemo (nc_nemo_model_load: model_config.yaml, the torch
 * pickle weights, the tokenizer artifact) and runs the inference path from
 * the WAVs (ASR loader, featurizer, encoder, greedy transducer decoding):
 *   encoded lengths equal; the encoder output's sum, |sum| and first values
 *     within 1e-4 per element (utterance alone);
 *   token ids and emission frames identical to GreedyRNNTInfer /
 *     GreedyTDTInfer, per utterance alone and in one zero-padded batch, and to
 *     the batched label-looping decoders (GreedyBatched*Infer) on the batch;
 *   the transcript of nc_rnnt_transcribe_batch is exactly NeMo's text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "asr/models/rnnt_model.h"
#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/asr_data.h"
#include "nemoc/collections.h"
#include "nemoc/log.h"

#define MAX_UTTS 16

static const double ENC_TOL = 1e-4;

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[n] = 0;
    fclose(f);
    return buf;
}

/* ids (or frames) of a NeMo hypothesis equal to ours, printing both if not. */
static void check_ids(const char *what, const char *key, const cJSON *want, const int64_t *got, int64_t n) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(want, key);
    bool same = cJSON_IsArray(a) && cJSON_GetArraySize(a) == n;
    for (int64_t i = 0; same && i < n; i++) same = (int64_t)cJSON_GetArrayItem(a, (int)i)->valuedouble == got[i];
    if (!same) {
        char *s = cJSON_PrintUnformatted(a);
        printf("  %s %s: NeMo %s, nemoc [", what, key, s ? s : "?");
        for (int64_t i = 0; i < n; i++) printf("%s%lld", i ? "," : "", (long long)got[i]);
        printf("]\n");
        free(s);
    }
    CHECK(same);
}

static void check_hyp(const char *what, const cJSON *want, const nc_rnnt_hyp *h, const char *text) {
    check_ids(what, "tokens", want, h->tokens, h->n);
    check_ids(what, "frames", want, h->frames, h->n);
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, "text"));
    CHECK(t && text && strcmp(t, text) == 0);
    if (t && text && strcmp(t, text)) printf("  %s text: NeMo '%s', nemoc '%s'\n", what, t, text);
}

/* The encoder output of an utterance alone (T', d) against NeMo's checksums. */
static void check_enc(const char *what, const cJSON *u, const float *enc, int64_t len, int64_t d) {
    CHECK(len == (int64_t)cJSON_GetObjectItemCaseSensitive(u, "enc_len")->valuedouble);
    double sum = 0, asum = 0, first = 0;
    for (int64_t i = 0; i < len * d; i++) {
        sum += enc[i];
        asum += fabs(enc[i]);
    }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(u, "enc_first");
    for (int i = 0; i < cJSON_GetArraySize(f) && i < len * d; i++)
        first = fmax(first, fabs(enc[i] - cJSON_GetArrayItem(f, i)->valuedouble));
    double ds = fabs(sum - cJSON_GetObjectItemCaseSensitive(u, "enc_sum")->valuedouble);
    double da = fabs(asum - cJSON_GetObjectItemCaseSensitive(u, "enc_abs_sum")->valuedouble);
    printf("  %s: T' %lld, encoder |d sum| %.3g, |d abs sum| %.3g (over %lld values), first values %.3g\n", what,
           (long long)len, ds, da, (long long)(len * d), first);
    CHECK(ds <= ENC_TOL * (double)(len * d));
    CHECK(da <= ENC_TOL * (double)(len * d));
    CHECK(first <= ENC_TOL);
}

static void run_loader(nc_model *m, const char *manifest, const cJSON *utts, int64_t n_utts, int64_t bs,
                       int64_t *dur_sum) {
    nc_rnnt_model *rm = nc_rnnt_of(m);
    nc_asr_loader_params p = nc_asr_loader_default_params();
    p.manifest_filepath = manifest;
    p.sample_rate = 16000;
    p.batch_size = bs;
    p.shuffle = false;
    p.num_workers = 0;
    p.min_duration = p.max_duration = -1;
    p.features = &rm->base.features;
    p.training = false;
    nc_asr_loader *l = NULL;
    CHECK_OK(nc_asr_loader_create(&p, &l));
    if (!l) return;
    CHECK_OK(nc_asr_loader_begin_epoch(l, 0, 0));
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    const int64_t d = rm->base.encoder.cfg.d_model;
    int64_t seen = 0;
    for (;;) {
        const nc_asr_batch *b = NULL;
        CHECK_OK(nc_asr_loader_next(l, &b));
        if (!b || nc_test_failures > 50) break;
        const int64_t B = b->batch_size;
        int64_t enc_len[MAX_UTTS];
        nc_set_training(ctx, false);
        nc_set_grad_enabled(ctx, false);
        nc_tensor *x = nc_from_data(ctx, NC_F32, NC_DIMS(B, b->n_feats, b->max_frames), b->feats);
        nc_tensor *enc = nc_conformer_fwd(ctx, &rm->base.encoder, x, b->feat_len, enc_len);
        CHECK_OK(nc_ctx_status(ctx));
        if (!enc) break;
        nc_rnnt_hyp raw[MAX_UTTS];
        CHECK_OK(nc_rnnt_greedy_decode(ctx, &rm->decoder, &rm->joint, enc, enc_len, &rm->greedy, raw));
        nc_asr_hyp hyps[MAX_UTTS];
        CHECK_OK(nc_rnnt_transcribe_batch(m, ctx, b, hyps));
        for (int64_t k = 0; k < B; k++) {
            const int64_t r = b->sample_index[k];
            const cJSON *u = cJSON_GetArrayItem(utts, (int)r);
            char what[128];
            snprintf(what, sizeof what, "utt%lld (batch %lld)", (long long)r, (long long)bs);
            if (bs == 1) {
                check_enc(what, u, nc_f32(enc), enc_len[0], d);
                check_hyp(what, u, &raw[k], hyps[k].text);
            } else {
                check_hyp(what, cJSON_GetObjectItemCaseSensitive(u, "batch"), &raw[k], hyps[k].text);
                char w2[160];
                snprintf(w2, sizeof w2, "%s vs GreedyBatched", what);
                check_hyp(w2, cJSON_GetObjectItemCaseSensitive(u, "batched"), &raw[k], hyps[k].text);
            }
            /* TDT: each token's duration (NeMo's token_duration, what its
             * TDT timestamps end at) is one of the model's, and the next
             * token comes no earlier than frame + duration */
            if (rm->tdt && raw[k].n > 0) {
                CHECK(raw[k].durations != NULL);
                for (int64_t j = 0; raw[k].durations && j < raw[k].n; j++) {
                    bool known = false;
                    for (int64_t q = 0; q < rm->loss.n_durations; q++) known |= raw[k].durations[j] == rm->durations[q];
                    CHECK(known);
                    CHECK(j + 1 == raw[k].n || raw[k].frames[j + 1] >= raw[k].frames[j] + raw[k].durations[j]);
                    (*dur_sum) += raw[k].durations[j];
                }
            }
            if (!rm->tdt) CHECK(raw[k].durations == NULL);
            printf("  %s: '%s' (%lld tokens)\n", what, hyps[k].text ? hyps[k].text : "", (long long)raw[k].n);
            nc_rnnt_hyp_free(&raw[k]);
            nc_asr_hyp_free(&hyps[k]);
            seen++;
        }
        nc_ctx_reset(ctx);
    }
    CHECK(seen == n_utts);
    nc_ctx_free(ctx);
    nc_asr_loader_free(l);
}

static void run_model(const char *dir, const cJSON *mj) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(mj, "name"));
    const char *nemo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(mj, "nemo"));
    const cJSON *utts = cJSON_GetObjectItemCaseSensitive(mj, "utts");
    CHECK(name && nemo && cJSON_IsArray(utts));
    if (!name || !nemo || !cJSON_IsArray(utts)) return;
    const int64_t n = cJSON_GetArraySize(utts);
    CHECK(n >= 1 && n <= MAX_UTTS);
    printf("%s\n", name);
    char path[4200], manifest[4200];
    snprintf(path, sizeof path, "%s/%s", dir, nemo);
    nc_model *m = NULL;
    CHECK_OK(nc_nemo_model_load(path, &m));
    if (!m) return;
    nc_rnnt_model *rm = nc_rnnt_of(m);
    CHECK(rm != NULL);
    const cJSON *durs = cJSON_GetObjectItemCaseSensitive(mj, "durations");
    CHECK(rm && rm->tdt == (cJSON_GetArraySize(durs) > 0));
    CHECK(rm && rm->decoder.blank == (int64_t)cJSON_GetObjectItemCaseSensitive(mj, "blank")->valuedouble);
    snprintf(manifest, sizeof manifest, "%s/%s.json", nc_test_tmpdir("nemo_rnnt"), name);
    FILE *f = fopen(manifest, "w");
    CHECK(f != NULL);
    if (!f || !rm) {
        if (f) fclose(f);
        nc_model_free(m);
        return;
    }
    /* duration 0: the whole file (no seconds -> samples rounding) */
    for (int64_t i = 0; i < n; i++) {
        const cJSON *u = cJSON_GetArrayItem(utts, (int)i);
        fprintf(f, "{\"audio_filepath\": \"%s/%s\", \"duration\": 0, \"text\": \"a\"}\n", dir,
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "audio")));
    }
    fclose(f);
    int64_t dur_sum = 0;
    run_loader(m, manifest, utts, n, 1, &dur_sum);
    run_loader(m, manifest, utts, n, n, &dur_sum);
    if (rm->tdt) CHECK(dur_sum > 0); /* the trained TDT model skips frames */
    nc_model_free(m);
}

int main(void) {
    CHECK_OK(nc_register_collections());
    nc_log_set_level(NC_LOG_ERROR);
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s", nc_test_src("tests/ref/nemo_rnnt"));
    snprintf(path, sizeof path, "%s/expected.json", dir);
    char *text = slurp(path);
    CHECK(text != NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    CHECK(root != NULL);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    CHECK(cJSON_GetArraySize(models) == 3);
    const cJSON *mj;
    cJSON_ArrayForEach(mj, models) run_model(dir, mj);
    cJSON_Delete(root);
    free(text);
    return nc_test_finish("nemo_rnnt");
}
