/* NeMo checkpoint interop: .nemo archives written the way NeMo does
 * (tests/ref/gen_nemo_models.py: Conformer-CTC and FastConformer-CTC, char and
 * BPE with a SentencePiece artifact, non-trivial BatchNorm statistics) load
 * into nemoc and give PyTorch's eval-mode log-probs within 1e-4; nemoc writes
 * them back so that torch.load sees the identical state_dict; a mismatched
 * archive is refused with every problem named and nothing loaded. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nc_test.h"
#include "nemoc/collections.h"
#include "asr/models/ctc_model.h"
#include "nemoc/asr_ctc.h"

static bool have_torch(void) {
    return access("/usr/bin/python3", X_OK) == 0 &&
           system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

static void check_model(const char *name, bool torch_ok) {
    char dir[4096], path[4200], out[4200];
    snprintf(dir, sizeof dir, "%s", nc_test_src("tests/ref/nemo_models"));
    snprintf(path, sizeof path, "%s/%s.nemo", dir, name);
    nc_model *m = NULL;
    CHECK_OK(nc_nemo_model_load(path, &m));
    if (!m) return;
    char fname[512];
    snprintf(fname, sizeof fname, "%s.feats", name);
    nc_tensor *feats0 = nc_test_npy(dir, fname);
    snprintf(fname, sizeof fname, "%s.lengths", name);
    nc_tensor *len0 = nc_test_npy(dir, fname);
    snprintf(fname, sizeof fname, "%s.log_probs", name);
    nc_tensor *lp_ref = nc_test_npy(dir, fname);
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_set_training(ctx, false);
    nc_set_grad_enabled(ctx, false);
    nc_ctc_model *cm = nc_ctc_of(m);
    int64_t enc_len[8];
    nc_tensor *feats = nc_from_data(ctx, NC_F32, feats0->ndim, feats0->shape, feats0->data);
    nc_tensor *lp = nc_conv_asr_decoder_fwd(ctx, &cm->decoder,
                                       nc_conformer_fwd(ctx, &cm->encoder, feats, nc_i64(len0), enc_len));
    CHECK_OK(nc_ctx_status(ctx));
    if (lp) {
        double e = nc_test_rel_err(nc_f32(lp), nc_f32(lp_ref), nc_numel(lp_ref));
        printf("%s: %s, log-probs relative error %.3g\n", name, m->cls->target, e);
        CHECK(e <= 1e-4);
    }
    /* Write it back and read the result again. */
    snprintf(out, sizeof out, "%s/%s.nemo", nc_test_tmpdir(name), name);
    CHECK_OK(nc_nemo_model_save(m, out));
    nc_model *m2 = NULL;
    CHECK_OK(nc_nemo_model_load(out, &m2));
    if (m2) {
        for (int64_t i = 0; i < nc_params_count(m->params); i++) {
            nc_tensor *a = nc_params_at(m->params, i), *b = nc_params_at(m2->params, i);
            CHECK(!strcmp(a->name, b->name) && nc_nbytes(a) == nc_nbytes(b) &&
                  memcmp(a->data, b->data, nc_nbytes(a)) == 0);
        }
        CHECK(!strcmp(m2->cls->target, m->cls->target));
    }
    if (torch_ok) {
        char cmd[9000];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s", nc_test_src("tests/ref/check_nemo_model.py"),
                 out, path);
        CHECK(system(cmd) == 0);
    }
    nc_model_free(m2);
    nc_ctx_free(ctx);
    nc_model_free(m);
    nc_tensor_free(feats0);
    nc_tensor_free(len0);
    nc_tensor_free(lp_ref);
}

int main(void) {
    CHECK_OK(nc_register_collections());
    bool torch_ok = have_torch();
    if (!torch_ok) printf("torch.load cross-check skipped (no /usr/bin/python3 with torch)\n");
    const char *names[] = {"conformer_ctc_char", "conformer_ctc_bpe", "fastconformer_ctc_char",
                           "fastconformer_ctc_bpe"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) check_model(names[i], torch_ok);

    /* A Conformer archive loaded as init for a FastConformer-shaped model: the
     * encoder does not fit, so init_from refuses it naming the tensors. */
    char path[4200];
    snprintf(path, sizeof path, "%s/fastconformer_ctc_char.nemo", nc_test_src("tests/ref/nemo_models"));
    nc_model *m = NULL;
    char d2[4200];
    snprintf(d2, sizeof d2, "%s/conformer_ctc_char.nemo", nc_test_src("tests/ref/nemo_models"));
    CHECK_OK(nc_nemo_model_load(d2, &m));
    if (m) {
        nc_tensor *w = nc_params_find(m->params, "encoder.layers.0.norm_out.weight");
        float before = nc_f32(w)[0];
        nc_status s = nc_nemo_model_init_from(m, path, NULL);
        CHECK(s == NC_ERR_CONFIG);
        CHECK(strstr(nc_last_error(), "shape mismatch: encoder.pre_encode") != NULL);
        CHECK(nc_f32(w)[0] == before);
        /* The same architecture with a new vocabulary: the decoder restarts. */
        char bpe[4200];
        snprintf(bpe, sizeof bpe, "%s/conformer_ctc_bpe.nemo", nc_test_src("tests/ref/nemo_models"));
        int64_t n = 0;
        CHECK_OK(nc_nemo_model_init_from(m, bpe, &n));
        CHECK(n == nc_params_count(m->params) - 2); /* all but decoder weight and bias */
        nc_model_free(m);
    }
    return nc_test_finish("nemo_models");
}
