/* RNNTDecoder, RNNTJoint and greedy transducer decoding against
 * tests/ref/gen_rnnt_modules.py (NeMo's own RNNTDecoder / RNNTJoint /
 * GreedyRNNTInfer / GreedyTDTInfer / GreedyMultiblankRNNTInfer with small
 * random weights, loaded here under NeMo's state_dict names).
 * Tolerances: decoder output and joint logits |got - want| <= 1e-5 +
 * 1e-5 |want|; the torchaudio rnnt_loss (sum) within 1e-5 relative; every
 * parameter gradient and the encoder-output gradient max |diff| <= 1e-5 *
 * max |want| per tensor; greedy tokens and frames identical, scores within
 * 1e-4, for the per-utterance and the batched (greedy_batch) decoder. Also: the step API against the whole-sequence forward, a central
 * finite-difference check of the joint + loss, and named config errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/ctx.h"
#include "nemoc/params.h"
#include "nemoc/rnnt.h"
#include "nemoc/rnnt_modules.h"

#define TOL 1e-5

typedef struct modules {
    nc_params *p;
    nc_rnnt_decoder dec;
    nc_rnnt_joint joint;
    int64_t meta[16];
} modules;

static bool modules_load(const char *dir, modules *m) {
    nc_tensor *meta = nc_test_npy(dir, "meta");
    if (!meta) return false;
    memcpy(m->meta, meta->data, (size_t)nc_numel(meta) * sizeof(int64_t));
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
    jp.num_extra_outputs = mt[7];
    CHECK_OK(nc_params_create(&m->p));
    CHECK_OK(nc_rnnt_decoder_init(&m->dec, m->p, "decoder", &dp));
    CHECK_OK(nc_rnnt_joint_init(&m->joint, m->p, "joint", &jp));
    CHECK_OK(nc_params_finalize(m->p));
    /* every tensor found under NeMo's name, with NeMo's shape */
    CHECK(nc_test_load_params(m->p, dir, "w.") == (int)nc_params_count(m->p));
    return nc_test_failures == 0;
}

static void modules_free(modules *m) {
    nc_rnnt_decoder_free(&m->dec);
    nc_params_free(m->p);
}

static nc_tensor *ctx_copy(nc_ctx *ctx, const nc_tensor *t) {
    return nc_from_data(ctx, t->dtype, t->ndim, t->shape, t->data);
}

/* multiblank: meta's durations are big-blank durations (multiblank_* cases) */
static void test_case(const char *name, bool multiblank) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", nc_test_src("tests/ref/rnnt_modules"));
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%s", name);
    modules m;
    memset(&m, 0, sizeof m);
    if (!modules_load(dir, &m)) return;
    nc_tensor *enc0 = nc_test_npy(dir, "enc"), *tg0 = nc_test_npy(dir, "targets");
    nc_tensor *il0 = nc_test_npy(dir, "il"), *tl0 = nc_test_npy(dir, "tl");
    nc_tensor *dec_ref = nc_test_npy(dir, "dec_out"), *lg_ref = nc_test_npy(dir, "logits");
    const bool extra = m.meta[7] > 0, tdt = extra && !multiblank;
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_set_training(ctx, true);
    nc_tensor *enc = ctx_copy(ctx, enc0);
    nc_requires_grad(enc, true);
    nc_tensor *g = nc_rnnt_decoder_fwd(ctx, &m.dec, ctx_copy(ctx, tg0));
    nc_tensor *logits = nc_rnnt_joint_fwd(ctx, &m.joint, enc, g);
    CHECK_OK(nc_ctx_status(ctx));
    if (!logits) goto done;
    char what[128];
    snprintf(what, sizeof what, "%s decoder output", name);
    nc_test_allclose(what, nc_f32(g), nc_f32(dec_ref), nc_numel(dec_ref), TOL, TOL);
    snprintf(what, sizeof what, "%s joint logits", name);
    CHECK(nc_numel(logits) == nc_numel(lg_ref));
    nc_test_allclose(what, nc_f32(logits), nc_f32(lg_ref), nc_numel(lg_ref), TOL, TOL);
    if (!extra) {
        nc_rnnt_params rp = nc_rnnt_default_params();
        rp.reduction = NC_LOSS_SUM;
        nc_tensor *loss = nc_rnnt_loss(ctx, logits, ctx_copy(ctx, tg0), ctx_copy(ctx, il0),
                                       ctx_copy(ctx, tl0), &rp);
        nc_tensor *loss_ref = nc_test_npy(dir, "loss"), *ge_ref = nc_test_npy(dir, "grad_enc");
        CHECK_OK(nc_ctx_status(ctx));
        if (loss && loss_ref && ge_ref) {
            printf("%s loss %.7f (torchaudio %.7f)\n", name, nc_f32(loss)[0], nc_f32(loss_ref)[0]);
            CHECK_NEAR(nc_f32(loss)[0], nc_f32(loss_ref)[0], TOL * fabs(nc_f32(loss_ref)[0]));
            CHECK_OK(nc_backward(ctx, loss));
            nc_test_check_grads(m.p, dir, "grad.", TOL);
            double e = nc_test_rel_err(nc_f32(enc->grad), nc_f32(ge_ref), nc_numel(ge_ref));
            printf("%s encoder-output gradient relative error %.3g\n", name, e);
            CHECK(e <= TOL);
        }
        nc_tensor_free(loss_ref);
        nc_tensor_free(ge_ref);
    }
    nc_ctx_reset(ctx);

    /* the step API reproduces the whole-sequence forward of utterance 0 */
    {
        nc_set_grad_enabled(ctx, false);
        nc_set_training(ctx, false);
        const int64_t U = tg0->shape[1], H = m.dec.hp.pred_hidden;
        nc_tensor *h = NULL, *c = NULL;
        int64_t lab = -1;
        for (int64_t u = 0; u <= U; u++) {
            nc_tensor *l = nc_from_data(ctx, NC_I64, NC_DIMS(1), &lab);
            nc_tensor *hn, *cn;
            nc_tensor *gs = nc_rnnt_decoder_step(ctx, &m.dec, l, h, c, &hn, &cn);
            CHECK_OK(nc_ctx_status(ctx));
            if (!gs) break;
            snprintf(what, sizeof what, "%s decoder step %lld", name, (long long)u);
            nc_test_allclose(what, nc_f32(gs), nc_f32(dec_ref) + u * H, H, TOL, TOL);
            h = hn, c = cn;
            if (u < U) lab = nc_i64(tg0)[u];
        }
        nc_set_grad_enabled(ctx, true);
        nc_ctx_reset(ctx);
    }

    /* greedy decoding as NeMo's GreedyRNNTInfer / GreedyTDTInfer /
     * GreedyMultiblankRNNTInfer, per utterance and batched */
    for (int batched = 0; batched < 2; batched++) {
        nc_tensor *tk = nc_test_npy(dir, "greedy_tokens"), *fr = nc_test_npy(dir, "greedy_frames");
        nc_tensor *ln = nc_test_npy(dir, "greedy_lens"), *sc = nc_test_npy(dir, "greedy_scores");
        const int64_t B = enc0->shape[0];
        nc_rnnt_greedy_params gp = nc_rnnt_greedy_default_params();
        gp.max_symbols_per_step = (int)m.meta[6];
        gp.batched = batched;
        if (tdt) {
            gp.durations = &m.meta[8];
            gp.n_durations = m.meta[7];
        } else if (multiblank) {
            gp.big_blank_durations = &m.meta[8];
            gp.n_big_blanks = m.meta[7];
        }
        nc_rnnt_hyp hyps[8];
        nc_tensor *e = ctx_copy(ctx, enc0);
        CHECK_OK(nc_rnnt_greedy_decode(ctx, &m.dec, &m.joint, e, nc_i64(il0), &gp, hyps));
        if (nc_test_failures == 0 && tk && fr && ln && sc) {
            for (int64_t b = 0; b < B; b++) {
                const int64_t n = nc_i64(ln)[b], w = tk->shape[1];
                CHECK(hyps[b].n == n);
                bool same = hyps[b].n == n;
                for (int64_t i = 0; same && i < n; i++)
                    same = hyps[b].tokens[i] == nc_i64(tk)[b * w + i] &&
                           hyps[b].frames[i] == nc_i64(fr)[b * w + i];
                CHECK(same);
                CHECK_NEAR(hyps[b].score, nc_f32(sc)[b], 1e-4 * (1.0 + fabs(nc_f32(sc)[b])));
                printf("%s greedy%s utt %lld: %lld tokens%s\n", name, batched ? "_batch" : "", (long long)b,
                       (long long)n, same ? " identical" : " DIFFER");
                nc_rnnt_hyp_free(&hyps[b]);
            }
        }
        nc_tensor_free(tk);
        nc_tensor_free(fr);
        nc_tensor_free(ln);
        nc_tensor_free(sc);
    }
done:
    nc_ctx_free(ctx);
    nc_tensor_free(enc0);
    nc_tensor_free(tg0);
    nc_tensor_free(il0);
    nc_tensor_free(tl0);
    nc_tensor_free(dec_ref);
    nc_tensor_free(lg_ref);
    modules_free(&m);
}

/* Central differences of sum(rnnt_loss(joint(enc, decoder(targets)))) in
 * float32 at a few parameters of each module against the analytic gradient. */
static void test_gradcheck(void) {
    nc_params *p;
    nc_rnnt_decoder dec;
    nc_rnnt_joint joint;
    nc_rnnt_decoder_params dp = nc_rnnt_decoder_default_params();
    dp.vocab_size = 3, dp.pred_hidden = 4, dp.pred_rnn_layers = 2;
    nc_rnnt_joint_params jp = nc_rnnt_joint_default_params();
    jp.num_classes = 3, jp.pred_hidden = 4, jp.encoder_hidden = 3, jp.joint_hidden = 5;
    jp.activation = NC_RNNT_ACT_TANH;
    CHECK_OK(nc_params_create(&p));
    CHECK_OK(nc_rnnt_decoder_init(&dec, p, "decoder", &dp));
    CHECK_OK(nc_rnnt_joint_init(&joint, p, "joint", &jp));
    CHECK_OK(nc_params_finalize(p));
    if (nc_test_failures) return;
    float *w = nc_params_flat_data(p);
    const int64_t n = nc_params_flat_size(p);
    uint32_t seed = 12345;
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        w[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 1.6f;
    }
    nc_rnnt_decoder_reset(&dec);
    const float enc_d[2 * 3 * 3] = {0.3f, -0.2f, 0.8f,  -0.5f, 0.1f, 0.4f,  0.9f, -0.7f, 0.2f,
                                    -0.1f, 0.6f, -0.3f, 0.2f, 0.5f, -0.9f, -0.4f, 0.3f, 0.7f};
    const int64_t tg_d[4] = {1, 2, 0, 0}, il_d[2] = {3, 2}, tl_d[2] = {2, 1};
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_rnnt_params rp = nc_rnnt_default_params();
    rp.reduction = NC_LOSS_SUM;
    double fplus = 0;
    float *ana = malloc((size_t)n * sizeof(float));
    CHECK(ana != NULL);
    for (int pass = 0; ana && pass < 1 + 2 * 12; pass++) {
        /* pass 0: analytic; then f(x + h), f(x - h) at 12 parameters spread over the buffer */
        const int64_t at = ((pass - 1) / 2) * (n / 12) + 1;
        const float h = 1e-2f;
        float keep = 0;
        if (pass > 0) keep = w[at], w[at] += (pass % 2 ? h : -h);
        nc_params_zero_grad(p);
        nc_set_grad_enabled(ctx, pass == 0);
        nc_tensor *enc = nc_from_data(ctx, NC_F32, NC_DIMS(2, 3, 3), enc_d);
        nc_tensor *g = nc_rnnt_decoder_fwd(ctx, &dec, nc_from_data(ctx, NC_I64, NC_DIMS(2, 2), tg_d));
        nc_tensor *loss = nc_rnnt_loss(ctx, nc_rnnt_joint_fwd(ctx, &joint, enc, g),
                                       nc_from_data(ctx, NC_I64, NC_DIMS(2, 2), tg_d),
                                       nc_from_data(ctx, NC_I64, NC_DIMS(2), il_d),
                                       nc_from_data(ctx, NC_I64, NC_DIMS(2), tl_d), &rp);
        CHECK_OK(nc_ctx_status(ctx));
        if (!loss) break;
        if (pass == 0) {
            CHECK_OK(nc_backward(ctx, loss));
            memcpy(ana, nc_params_flat_grad(p), (size_t)n * sizeof(float));
        } else if (pass % 2) {
            fplus = nc_f32(loss)[0];
        } else {
            double num = (fplus - nc_f32(loss)[0]) / (2.0 * h);
            CHECK_NEAR(ana[at], num, 2e-3 + 2e-3 * fabs(num));
        }
        if (pass > 0) w[at] = keep;
        nc_ctx_reset(ctx);
    }
    free(ana);
    nc_ctx_free(ctx);
    nc_rnnt_decoder_free(&dec);
    nc_params_free(p);
}

static void test_errors(void) {
    nc_rnnt_activation a;
    CHECK(nc_rnnt_activation_parse("tanh", &a) == NC_OK && a == NC_RNNT_ACT_TANH);
    CHECK(nc_rnnt_activation_parse("Relu", &a) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "relu, tanh, sigmoid") != NULL);
    nc_params *p;
    CHECK_OK(nc_params_create(&p));
    nc_rnnt_decoder dec;
    nc_rnnt_decoder_params dp = nc_rnnt_decoder_default_params();
    CHECK(nc_rnnt_decoder_init(&dec, p, "decoder", &dp) == NC_ERR_CONFIG); /* vocab 0 */
    CHECK(strstr(nc_last_error(), "vocab_size") != NULL);
    nc_rnnt_joint joint;
    nc_rnnt_joint_params jp = nc_rnnt_joint_default_params();
    jp.num_classes = 4, jp.encoder_hidden = 8;
    CHECK(nc_rnnt_joint_init(&joint, p, "joint", &jp) == NC_ERR_CONFIG); /* pred_hidden 0 */
    CHECK(strstr(nc_last_error(), "jointnet.pred_hidden") != NULL);
    jp.pred_hidden = 4, jp.dropout = 0.1f;
    CHECK_OK(nc_rnnt_joint_init(&joint, p, "joint", &jp));
    CHECK(nc_params_find(p, "joint.joint_net.2.weight") != NULL); /* Dropout at index 1 */
    nc_params_free(p);

    /* greedy decoding: the joint's extra outputs must match the durations given */
    modules m;
    memset(&m, 0, sizeof m);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/multiblank_relu", nc_test_src("tests/ref/rnnt_modules"));
    if (!modules_load(dir, &m)) return;
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_tensor *enc = nc_zeros(ctx, NC_F32, NC_DIMS(1, 4, m.joint.hp.encoder_hidden));
    const int64_t len = 4, big2[2] = {2, 4}, big3[3] = {2, 0, 8}, dur[3] = {0, 1, 2};
    nc_rnnt_hyp hyp;
    nc_rnnt_greedy_params gp = nc_rnnt_greedy_default_params();
    CHECK(nc_rnnt_greedy_decode(ctx, &m.dec, &m.joint, enc, &len, &gp, &hyp) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "neither TDT durations nor big-blank durations") != NULL);
    gp.big_blank_durations = big2, gp.n_big_blanks = 2;
    CHECK(nc_rnnt_greedy_decode(ctx, &m.dec, &m.joint, enc, &len, &gp, &hyp) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "2 big-blank durations for 3 extra joint outputs") != NULL);
    gp.big_blank_durations = big3, gp.n_big_blanks = 3;
    CHECK(nc_rnnt_greedy_decode(ctx, &m.dec, &m.joint, enc, &len, &gp, &hyp) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "duration 0 is below 1") != NULL);
    gp.durations = dur, gp.n_durations = 3;
    CHECK(nc_rnnt_greedy_decode(ctx, &m.dec, &m.joint, enc, &len, &gp, &hyp) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "together") != NULL);
    nc_ctx_free(ctx);
    modules_free(&m);
}

int main(void) {
    test_case("rnnt_relu", false);
    test_case("rnnt_tanh", false);
    test_case("rnnt_sigmoid", false);
    test_case("tdt", false);
    test_case("multiblank_relu", true);
    test_case("multiblank_nolimit", true);
    test_gradcheck();
    test_errors();
    return nc_test_finish("rnnt_modules");
}
