/* Training checkpoints and the experiment manager's bookkeeping: round trip
 * of weights + optimizer + train state, refusal of corrupt / foreign /
 * mis-shaped / non-finite checkpoints with nothing partially loaded, file
 * naming and top-k. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nc_test.h"
#include "nemoc/collections.h"
#include "nemoc/asr_ctc.h"
#include "train/checkpoint.h"
#include "train/exp_manager.h"

static const char *cfg_text(int d_model) {
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "model:\n"
             "  labels: [' ', 'a', 'b', 'c']\n"
             "  preprocessor: {features: 16, n_fft: 128, window_size: 0.008, window_stride: 0.004}\n"
             "  encoder: {feat_in: 16, n_layers: 1, d_model: %d, n_heads: 2, conv_kernel_size: 3,\n"
             "            subsampling_conv_channels: 4}\n"
             "  optim: {name: adamw, lr: 0.01}\n",
             d_model);
    return buf;
}

static nc_model *make_model(int d_model, uint64_t seed) {
    nc_cfg *root = NULL, *mc = NULL;
    nc_model *m = NULL;
    const char *t = cfg_text(d_model);
    CHECK_OK(nc_cfg_parse(t, strlen(t), "test", &root));
    CHECK_OK(nc_cfg_get_node(root, "model", &mc));
    CHECK_OK(nc_register_collections());
    CHECK_OK(nc_model_create(mc, "EncDecCTCModel", &(nc_model_build_args){.seed = seed}, &m));
    nc_cfg_free(root);
    return m;
}

/* Gives every gradient a value and runs two optimizer steps so moments are non-trivial. */
static void train_a_bit(nc_model *m, nc_optim *opt) {
    for (int s = 0; s < 2; s++) {
        float *g = nc_params_flat_grad(m->params);
        for (int64_t i = 0; i < nc_params_flat_size(m->params); i++) g[i] = 0.01f * (float)((i * 7 + s) % 13 - 6);
        CHECK_OK(nc_optim_step(opt));
    }
}

static bool params_equal(const nc_model *a, const nc_model *b) {
    for (int64_t i = 0; i < nc_params_count(a->params); i++) {
        nc_tensor *x = nc_params_at(a->params, i), *y = nc_params_at(b->params, i);
        if (nc_nbytes(x) != nc_nbytes(y) || memcmp(x->data, y->data, nc_nbytes(x))) return false;
    }
    return true;
}

int main(void) {
    const char *dir = nc_test_tmpdir("ckpt");
    char path[4096], bad[4096];
    snprintf(path, sizeof path, "%s/a.ckpt", dir);

    nc_model *m = make_model(8, 1);
    nc_optim_params op = nc_optim_default_params(NC_OPTIM_ADAMW);
    nc_optim *opt;
    CHECK_OK(nc_optim_create(m->params, &op, &opt));
    train_a_bit(m, opt);
    nc_train_state st = {.global_step = 42, .epoch = 3, .batch_in_epoch = 5, .best_metric = 0.25,
                         .es_best = NAN, .last_monitor = 0.3};
    nc_rng_seed(&st.rng, 99);
    nc_rng_u32(&st.rng);
    CHECK_OK(nc_ckpt_save(path, m, opt, &st, "model: {}\n"));

    /* Round trip into a differently initialised model. */
    nc_model *m2 = make_model(8, 2);
    nc_optim *opt2;
    CHECK_OK(nc_optim_create(m2->params, &op, &opt2));
    CHECK(!params_equal(m, m2));
    nc_train_state st2;
    CHECK_OK(nc_ckpt_load(path, m2, opt2, &st2));
    CHECK(params_equal(m, m2));
    CHECK(st2.global_step == 42 && st2.epoch == 3 && st2.batch_in_epoch == 5);
    CHECK(st2.best_metric == 0.25 && isnan(st2.es_best));
    CHECK(memcmp(&st2.rng, &st.rng, sizeof st.rng) == 0);
    /* Optimizer state restored: one more identical step keeps the models identical. */
    train_a_bit(m, opt);
    train_a_bit(m2, opt2);
    CHECK(params_equal(m, m2));

    /* Another architecture: refused by name with both shapes, nothing loaded. */
    nc_model *m3 = make_model(12, 3);
    nc_model *m3_copy = make_model(12, 3);
    nc_status s = nc_ckpt_load(path, m3, NULL, NULL);
    CHECK(s == NC_ERR_SHAPE);
    CHECK(strstr(nc_last_error(), "shape") && strstr(nc_last_error(), "encoder."));
    CHECK(params_equal(m3, m3_copy));

    /* Truncated file: refused, model untouched. */
    snprintf(bad, sizeof bad, "%s/trunc.ckpt", dir);
    FILE *in = fopen(path, "rb"), *out = fopen(bad, "wb");
    char buf[4096];
    size_t total = 0, n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0 && total < 3000) {
        fwrite(buf, 1, n, out);
        total += n;
    }
    fclose(in);
    fclose(out);
    nc_model *m4 = make_model(8, 4), *m4_copy = make_model(8, 4);
    CHECK(nc_ckpt_load(bad, m4, NULL, NULL) != NC_OK);
    CHECK(params_equal(m4, m4_copy));
    /* One flipped bit in the data (safetensors has no checksum of its own):
     * refused by the tensor's name, nothing loaded. */
    snprintf(bad, sizeof bad, "%s/flip.ckpt", dir);
    {
        in = fopen(path, "rb");
        fseek(in, 0, SEEK_END);
        long len = ftell(in);
        fseek(in, 0, SEEK_SET);
        unsigned char *bytes = malloc((size_t)len);
        CHECK(fread(bytes, 1, (size_t)len, in) == (size_t)len);
        fclose(in);
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = hl << 8 | bytes[i];
        long data0 = 8 + (long)hl;
        bytes[data0 + (len - data0) / 2] ^= 0x10;
        out = fopen(bad, "wb");
        fwrite(bytes, 1, (size_t)len, out);
        fclose(out);
        free(bytes);
    }
    nc_optim *opt4;
    CHECK_OK(nc_optim_create(m4->params, &op, &opt4));
    nc_train_state st4 = {0};
    CHECK(nc_ckpt_load(bad, m4, opt4, &st4) == NC_ERR_FORMAT);
    CHECK(strstr(nc_last_error(), "is corrupt (checksum mismatch)") && strstr(nc_last_error(), "tensor '"));
    CHECK(params_equal(m4, m4_copy) && st4.global_step == 0);
    nc_optim_free(opt4);
    /* Not a checkpoint at all. */
    snprintf(bad, sizeof bad, "%s/text.ckpt", dir);
    out = fopen(bad, "w");
    fputs("hello", out);
    fclose(out);
    CHECK(nc_ckpt_load(bad, m4, NULL, NULL) != NC_OK);

    /* A non-finite weight is never written. */
    nc_f32(nc_params_find(m4->params, "decoder.decoder_layers.0.bias"))[1] = NAN;
    snprintf(bad, sizeof bad, "%s/nan.ckpt", dir);
    CHECK(nc_ckpt_save(bad, m4, NULL, &st, NULL) == NC_ERR_NUMERIC);
    CHECK(access(bad, F_OK) != 0);

    /* Names and top-k as NeMo's callback. */
    nc_exp_params ep = {.name = "Run", .monitor = "val_wer", .save_top_k = 2};
    nc_expm e = {.p = &ep};
    snprintf(e.name, sizeof e.name, "Run");
    snprintf(e.ckpt_dir, sizeof e.ckpt_dir, "%s", dir);
    char name[2048], evict[1024];
    nc_exp_ckpt_path(&e, 0.123456, 3, 100, NULL, name, sizeof name);
    CHECK(strstr(name, "/Run--val_wer=0.1235-epoch=3.ckpt") != NULL);
    nc_exp_ckpt_path(&e, 0.5, 4, 100, "-last", name, sizeof name);
    CHECK(strstr(name, "/Run--val_wer=0.5000-epoch=4-last.ckpt") != NULL);
    CHECK(nc_exp_topk_accepts(&e, 0.5, evict, sizeof evict) && !evict[0]);
    nc_exp_topk_insert(&e, 0.5, path);
    CHECK(nc_exp_topk_accepts(&e, 0.4, evict, sizeof evict) && !evict[0]);
    nc_exp_topk_insert(&e, 0.4, bad);
    CHECK(!nc_exp_topk_accepts(&e, 0.6, evict, sizeof evict));
    CHECK(nc_exp_topk_accepts(&e, 0.3, evict, sizeof evict) && !strcmp(evict, path));
    double best;
    nc_exp_topk_best(&e, &best);
    CHECK(best == 0.4);
    nc_exp_close(&e);

    /* save_top_k -1 keeps every checkpoint, and a k past the old fixed list
     * of 64 still tracks and evicts: 100 files, each with its own metric. */
    for (int k_case = 0; k_case < 2; k_case++) {
        nc_exp_params ek = {.name = "Run", .monitor = "val_wer", .save_top_k = k_case ? 100 : -1};
        nc_expm ex = {.p = &ek};
        snprintf(ex.ckpt_dir, sizeof ex.ckpt_dir, "%s", dir);
        char many[2048];
        for (int i = 0; i < 100; i++) {
            double metric = 1.0 + i; /* lower is better: the first is the best */
            nc_exp_ckpt_path(&ex, metric, i, i, NULL, many, sizeof many);
            CHECK(nc_exp_topk_accepts(&ex, metric, evict, sizeof evict) && !evict[0]);
            FILE *fk = fopen(many, "w");
            CHECK(fk != NULL);
            if (fk) fclose(fk);
            CHECK(nc_exp_topk_insert(&ex, metric, many) == NC_OK);
        }
        CHECK(ex.n_topk == 100);
        nc_exp_topk_best(&ex, &best);
        CHECK(best == 1.0);
        if (k_case) {
            /* Full at k = 100: a better metric evicts the worst (100.0). */
            CHECK(nc_exp_topk_accepts(&ex, 0.5, evict, sizeof evict) && strstr(evict, "val_wer=100.0000") != NULL);
            CHECK(!nc_exp_topk_accepts(&ex, 101.0, evict, sizeof evict));
        } else {
            CHECK(nc_exp_topk_accepts(&ex, 101.0, evict, sizeof evict) && !evict[0]);
        }
        for (int64_t i = 0; i < ex.n_topk; i++) unlink(ex.topk[i].path);
        nc_exp_close(&ex);
    }

    /* A checkpoint path that does not fit the caller's buffer is an error,
     * not a shortened name. */
    char small[16];
    CHECK(nc_exp_ckpt_path(&e, 0.5, 4, 100, NULL, small, sizeof small) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "path too long") != NULL);

    nc_optim_free(opt);
    nc_optim_free(opt2);
    nc_model *all[] = {m, m2, m3, m3_copy, m4, m4_copy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nc_model_free(all[i]);
    return nc_test_finish("checkpoint");
}
