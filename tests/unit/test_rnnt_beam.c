/* Transducer beam search against tests/ref/gen_rnnt_beam.py: NeMo's own
 * BeamRNNTInfer and BeamTDTInfer (search_type 'default'; BeamRNNTInfer's
 * greedy_search at beam_size 1) on NeMo's RNNTDecoder / RNNTJoint with
 * random weights, loaded here under NeMo's state_dict names.
 * Every run: the number of hypotheses per utterance, each hypothesis' tokens
 * and frames identical and its score within 1e-4 (absolute; NeMo's score stored as
 * float32), in NeMo's
 * order; with return_best_hypothesis only the best. Also: the fixture's
 * beams differ from greedy somewhere (so the search is exercised), and
 * named errors for bad parameters. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/ctx.h"
#include "nemoc/params.h"
#include "nemoc/rnnt_modules.h"

#define SCORE_TOL 1e-4

typedef struct modules {
    nc_params *p;
    nc_rnnt_decoder dec;
    nc_rnnt_joint joint;
    int64_t meta[16];
    int64_t n_meta;
} modules;

static bool modules_load(const char *dir, modules *m) {
    nc_tensor *meta = nc_test_npy(dir, "meta");
    if (!meta) return false;
    m->n_meta = nc_numel(meta);
    memcpy(m->meta, meta->data, (size_t)m->n_meta * sizeof(int64_t));
    nc_tensor_free(meta);
    const int64_t *mt = m->meta;
    nc_rnnt_decoder_params dp = nc_rnnt_decoder_default_params();
    dp.vocab_size = mt[0];
    dp.pred_hidden = mt[1];
    dp.pred_rnn_layers = (int)mt[2];
    nc_rnnt_joint_params jp = nc_rnnt_joint_default_params();
    jp.num_classes = mt[0];
    jp.pred_hidden = mt[1];
    jp.encoder_hidden = mt[3];
    jp.joint_hidden = mt[4];
    jp.activation = (nc_rnnt_activation)mt[5];
    jp.num_extra_outputs = mt[6];
    CHECK_OK(nc_params_create(&m->p));
    CHECK_OK(nc_rnnt_decoder_init(&m->dec, m->p, "decoder", &dp));
    CHECK_OK(nc_rnnt_joint_init(&m->joint, m->p, "joint", &jp));
    CHECK_OK(nc_params_finalize(m->p));
    CHECK(nc_test_load_params(m->p, dir, "w.") == (int)nc_params_count(m->p));
    return nc_test_failures == 0;
}

static nc_tensor *run_npy(const char *dir, const char *run, const char *what) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", run, what);
    return nc_test_npy(dir, name);
}

/* One fixture run; returns whether some best hypothesis differs from greedy (gr). */
static bool check_run(const char *dir, const char *case_name, const char *run, modules *m, nc_ctx *ctx,
                      nc_tensor *enc, const int64_t *il, const nc_rnnt_nbest *gr) {
    nc_tensor *cfg = run_npy(dir, run, "cfg"), *cnt = run_npy(dir, run, "count");
    nc_tensor *lens = run_npy(dir, run, "lens"), *tok = run_npy(dir, run, "tokens");
    nc_tensor *fr = run_npy(dir, run, "frames"), *sc = run_npy(dir, run, "scores");
    bool differs = false;
    if (!cfg || !cnt || !lens || !tok || !fr || !sc) goto out;
    const int64_t B = enc->shape[0], W = tok->shape[1];
    nc_rnnt_beam_params bp = nc_rnnt_beam_default_params();
    bp.beam_size = (int)nc_i64(cfg)[0];
    bp.score_norm = nc_i64(cfg)[1] != 0;
    bp.return_best_hypothesis = nc_i64(cfg)[2] != 0;
    if (m->meta[6] > 0) {
        bp.durations = m->meta + 7;
        bp.n_durations = m->meta[6];
    }
    nc_rnnt_nbest nb[8];
    CHECK(B <= 8);
    CHECK_OK(nc_rnnt_beam_decode(ctx, &m->dec, &m->joint, enc, il, &bp, nb));
    if (nc_test_failures) goto out;
    int64_t row = 0;
    double worst = 0;
    for (int64_t b = 0; b < B; b++) {
        const int64_t want_n = nc_i64(cnt)[b];
        if (nb[b].n != want_n) {
            nc_test_fail(__FILE__, __LINE__, "%s %s utt %lld: %lld hypotheses, NeMo %lld", case_name, run,
                         (long long)b, (long long)nb[b].n, (long long)want_n);
            row += want_n;
            continue;
        }
        for (int64_t i = 0; i < want_n; i++, row++) {
            const nc_rnnt_hyp *h = &nb[b].hyps[i];
            const int64_t n = nc_i64(lens)[row];
            bool same = h->n == n;
            for (int64_t k = 0; same && k < n; k++)
                same = h->tokens[k] == nc_i64(tok)[row * W + k] && h->frames[k] == nc_i64(fr)[row * W + k];
            if (!same)
                nc_test_fail(__FILE__, __LINE__, "%s %s utt %lld hyp %lld: tokens/frames differ from NeMo (%lld vs "
                             "%lld tokens)", case_name, run, (long long)b, (long long)i, (long long)h->n, (long long)n);
            double e = fabs(h->score - (double)nc_f32(sc)[row]);
            worst = e > worst ? e : worst;
            CHECK(e <= SCORE_TOL);
        }
        /* best vs greedy tokens */
        const nc_rnnt_hyp *bh = &nb[b].hyps[0], *gh = &gr[b].hyps[0];
        bool eq = bh->n == gh->n;
        for (int64_t k = 0; eq && k < bh->n; k++) eq = bh->tokens[k] == gh->tokens[k];
        differs |= !eq && bp.beam_size > 1;
    }
    printf("%s %s: %lld hypotheses match NeMo, worst score diff %.2g\n", case_name, run, (long long)row, worst);
    for (int64_t b = 0; b < B; b++) nc_rnnt_nbest_free(&nb[b]);
out:
    nc_tensor_free(cfg);
    nc_tensor_free(cnt);
    nc_tensor_free(lens);
    nc_tensor_free(tok);
    nc_tensor_free(fr);
    nc_tensor_free(sc);
    return differs;
}

static void test_case(const char *name) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", nc_test_src("tests/ref/rnnt_beam"), name);
    modules m;
    memset(&m, 0, sizeof m);
    if (!modules_load(dir, &m)) return;
    nc_tensor *enc0 = nc_test_npy(dir, "enc"), *il0 = nc_test_npy(dir, "il");
    nc_ctx *ctx = NULL;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    if (!enc0 || !il0 || !ctx) goto done;
    nc_tensor *enc = nc_from_data(ctx, NC_F32, enc0->ndim, enc0->shape, enc0->data);
    const int64_t B = enc0->shape[0];
    const bool tdt = m.meta[6] > 0;
    /* greedy as the model decodes (max_symbols 10), to see the beams leave it */
    nc_rnnt_nbest gr[8];
    nc_rnnt_hyp gh[8];
    nc_rnnt_greedy_params gp = nc_rnnt_greedy_default_params();
    if (tdt) {
        gp.durations = m.meta + 7;
        gp.n_durations = m.meta[6];
    }
    CHECK_OK(nc_rnnt_greedy_decode(ctx, &m.dec, &m.joint, enc, nc_i64(il0), &gp, gh));
    for (int64_t b = 0; b < B; b++) gr[b] = (nc_rnnt_nbest){.hyps = &gh[b], .n = 1};
    bool differs = false;
    const char *runs[] = {"b4_norm_nbest", "b4_norm_best", "b3_raw_nbest", "b1_best"};
    for (size_t r = 0; r < sizeof runs / sizeof *runs && !nc_test_failures; r++)
        differs |= check_run(dir, name, runs[r], &m, ctx, enc, nc_i64(il0), gr);
    CHECK(differs);
    for (int64_t b = 0; b < B; b++) nc_rnnt_hyp_free(&gh[b]);

    /* named errors */
    nc_rnnt_beam_params bp = nc_rnnt_beam_default_params();
    nc_rnnt_nbest nb[8];
    bp.beam_size = 0;
    if (tdt) {
        bp.durations = m.meta + 7;
        bp.n_durations = m.meta[6];
    }
    CHECK(nc_rnnt_beam_decode(ctx, &m.dec, &m.joint, enc, nc_i64(il0), &bp, nb) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "beam_size") != NULL);
    bp.beam_size = 2;
    if (tdt) {
        bp.durations = NULL; /* a TDT joint without durations */
        CHECK(nc_rnnt_beam_decode(ctx, &m.dec, &m.joint, enc, nc_i64(il0), &bp, nb) == NC_ERR_UNSUPPORTED);
    } else {
        int64_t bad[8] = {0};
        bad[0] = enc0->shape[1] + 1;
        CHECK(nc_rnnt_beam_decode(ctx, &m.dec, &m.joint, enc, bad, &bp, nb) == NC_ERR_INVALID_ARG);
    }
done:
    nc_tensor_free(enc0);
    nc_tensor_free(il0);
    nc_ctx_free(ctx);
    nc_rnnt_decoder_free(&m.dec);
    nc_params_free(m.p);
}

int main(void) {
    test_case("rnnt");
    test_case("tdt");
    return nc_test_finish("rnnt_beam");
}
