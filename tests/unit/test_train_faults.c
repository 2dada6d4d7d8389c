/* Faults during training, driven through nc_trainer_fit:
 *  - non-finite loss or gradient: the step is skipped with a counted warning,
 *    the run stops with NC_ERR_NUMERIC after trainer.max_bad_steps in a row,
 *    and no checkpoint ever holds a non-finite value;
 *  - disk full while writing a checkpoint (the nc_io_fail_write_after hook):
 *    the error names the checkpoint, the previous one is intact, no temp file
 *    is left, and a resume finishes with the same weights as a run that never
 *    failed;
 *  - out of memory (the failing debug allocator) at every allocation of a
 *    short fit of a Conformer-CTC: a clean NC_ERR_OOM naming a size, nothing
 *    leaked;
 *  - resume when a crash left two -last checkpoints and a temp file. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/fileutil.h"
#include "nc_test.h"
#include "nemoc/collections.h"
#include "nemoc/trainer.h"
#include "nemoc/alloc.h"
#include "nemoc/asr_ctc.h"
#include "nemoc/log.h"
#include "nemoc/ops.h"
#include "train/checkpoint.h"

/* ---- a probe model: loss = sum((w - x)^2), or a chosen fault ---- */

enum { B_GOOD = 0, B_NAN_LOSS, B_INF_GRAD };

typedef struct probe_batch {
    float x[4];
    int kind;
} probe_batch;

static nc_status probe_train(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss) {
    const probe_batch *b = batch;
    nc_tensor *w = nc_params_find(m->params, "w");
    if (b->kind == B_INF_GRAD) {
        /* sqrt(0 * w) is 0 (a finite loss); its gradient is 0.5 / sqrt(0) * 0: not finite. */
        nc_tensor *z = nc_zeros(ctx, NC_F32, NC_DIMS(4));
        *loss = nc_sum(ctx, nc_sqrt(ctx, nc_mul(ctx, w, z)), NC_ALL_DIMS, false);
    } else {
        nc_tensor *x = nc_from_data(ctx, NC_F32, NC_DIMS(4), b->x);
        nc_tensor *d = nc_sub(ctx, w, x);
        *loss = nc_sum(ctx, nc_mul(ctx, d, d), NC_ALL_DIMS, false);
    }
    return nc_ctx_status(ctx);
}

static nc_status probe_val(nc_model *m, nc_ctx *ctx, const void *batch, double *sums) {
    (void)m, (void)ctx, (void)batch;
    sums[0] += 1.0;
    sums[1] += 1.0;
    return NC_OK;
}

static const nc_metric_def probe_metrics[] = {{.name = "loss", .num = 0, .den = 1}};

static const nc_model_class probe_ops = {
    .target = "nemoc.tests.ProbeModel",
    .training_step = probe_train,
    .validation_step = probe_val,
    .metrics = probe_metrics,
    .n_metrics = 1,
    .n_sums = 2,
};

static nc_model *probe_model(void) {
    nc_model *m = nc_calloc(1, sizeof *m);
    CHECK(m != NULL);
    m->cls = &probe_ops;
    CHECK_OK(nc_params_create(&m->params));
    nc_tensor *w = nc_params_add(m->params, "w", NC_PARAM_TRAINABLE, NC_F32, NC_DIMS(4));
    CHECK(w != NULL);
    CHECK_OK(nc_params_finalize(m->params));
    for (int i = 0; i < 4; i++) nc_f32(w)[i] = 0.5f;
    return m;
}

/* ---- an in-memory data source over a fixed list of batches ---- */

typedef struct list_source {
    const void *const *batches;
    int64_t n, pos;
} list_source;

static nc_status ls_begin(void *self, int64_t epoch, int64_t skip) {
    (void)epoch;
    ((list_source *)self)->pos = skip;
    return NC_OK;
}
static nc_status ls_next(void *self, const void **batch) {
    list_source *l = self;
    *batch = l->pos < l->n ? l->batches[l->pos++] : NULL;
    return NC_OK;
}
static int64_t ls_count(void *self) { return ((list_source *)self)->n; }

static nc_data_source source_of(list_source *l) {
    return (nc_data_source){.self = l, .begin_epoch = ls_begin, .next = ls_next, .num_batches = ls_count};
}

/* ---- trainer params from a config, as the CLI builds them ---- */

static nc_cfg *g_cfg;

static nc_trainer_params params_for(const char *exp_dir, int max_epochs, int max_steps, const char *extra) {
    char text[4096];
    snprintf(text, sizeof text,
             "model:\n"
             "  optim: {name: adamw, lr: 0.05}\n"
             "trainer:\n"
             "  max_epochs: %d\n"
             "  max_steps: %d\n"
             "  log_every_n_steps: 1\n"
             "  enable_progress_bar: false\n"
             "  num_sanity_val_steps: 0\n"
             "%s"
             "exp_manager:\n"
             "  exp_dir: %s\n"
             "  name: run\n"
             "  create_tensorboard_logger: false\n"
             "  resume_if_exists: true\n"
             "  resume_ignore_no_checkpoint: true\n"
             "  checkpoint_callback_params: {every_n_train_steps: 2, save_nemo_on_train_end: false}\n",
             max_epochs, max_steps, extra, exp_dir);
    nc_cfg_free(g_cfg);
    g_cfg = NULL;
    CHECK_OK(nc_cfg_parse(text, strlen(text), "test", &g_cfg));
    nc_trainer_params p;
    CHECK_OK(nc_trainer_params_from_cfg(g_cfg, &p));
    return p;
}

typedef struct events {
    int warnings, skipped_loss, skipped_grad, checkpoints;
} events;

static void on_event(const nc_train_event *ev, void *user) {
    events *e = user;
    if (ev->kind == NC_EV_CHECKPOINT) e->checkpoints++;
    if (ev->kind != NC_EV_WARNING) return;
    e->warnings++;
    if (strstr(ev->message, "skipped: non-finite loss")) e->skipped_loss++;
    if (strstr(ev->message, "skipped: non-finite gradient")) e->skipped_grad++;
}

static int count_files(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, needle)) n++;
    closedir(d);
    return n;
}

/* Weights and float buffers (batch-norm running statistics). */
static bool all_finite(const nc_model *m) {
    for (int64_t i = 0; i < nc_params_count(m->params); i++) {
        nc_tensor *t = nc_params_at(m->params, i);
        if (t->dtype == NC_F32 && !nc_all_finite(nc_f32(t), nc_numel(t))) return false;
    }
    return true;
}

/* ---- numerics ---- */

static void test_numerics(void) {
    const char *dir = nc_test_tmpdir("train_faults_num");
    static probe_batch b[12];
    const void *list[12];
    for (int i = 0; i < 12; i++) {
        b[i] = (probe_batch){.x = {1, 2, 3, (float)i}, .kind = B_GOOD};
        list[i] = &b[i];
    }
    b[2].x[1] = NAN; /* non-finite loss */
    b[2].kind = B_NAN_LOSS;
    b[5].kind = B_INF_GRAD; /* finite loss, non-finite gradient */
    b[7].x[0] = INFINITY;
    b[7].kind = B_NAN_LOSS;
    list_source ls = {.batches = list, .n = 12};
    nc_data_source src = source_of(&ls);
    nc_trainer_params p = params_for(dir, -1, 9, "");
    nc_model *m = probe_model();
    events ev = {0};
    nc_trainer_hooks h = {.on_event = on_event, .user_data = &ev};
    nc_fit_result res;
    CHECK_OK(nc_trainer_fit(&p, m, &src, NULL, &h, &res));
    /* 12 batches, 3 skipped: 9 optimizer steps in exactly one epoch. */
    CHECK(res.global_step == 9 && res.epoch == 1);
    CHECK(ev.skipped_loss == 2 && ev.skipped_grad == 1);
    CHECK(all_finite(m));
    /* The count is kept in the checkpoint. */
    char path[2048];
    snprintf(path, sizeof path, "%s/run/checkpoints/run--end.ckpt", dir);
    nc_model *m2 = probe_model();
    nc_train_state st;
    CHECK_OK(nc_ckpt_load(path, m2, NULL, &st));
    CHECK(st.bad_steps_total == 3 && st.global_step == 9);
    nc_model_free(m2);
    nc_model_free(m);

    /* max_bad_steps in a row stop the run with a message; the last good checkpoint stays. */
    dir = nc_test_tmpdir("train_faults_stop");
    for (int i = 4; i < 12; i++) b[i].kind = B_INF_GRAD;
    p = params_for(dir, -1, 12, "  max_bad_steps: 3\n");
    m = probe_model();
    ev = (events){0};
    ls.pos = 0;
    nc_status s = nc_trainer_fit(&p, m, &src, NULL, &h, &res);
    CHECK(s == NC_ERR_NUMERIC);
    CHECK(strstr(nc_last_error(), "3 consecutive steps had a non-finite loss or gradient") != NULL);
    CHECK(ev.skipped_grad == 3 && ev.skipped_loss == 1);
    CHECK(res.global_step == 3 && all_finite(m));
    char ckdir[2048];
    snprintf(ckdir, sizeof ckdir, "%s/run/checkpoints", dir);
    CHECK(count_files(ckdir, "last.ckpt") == 1 && count_files(ckdir, "end.ckpt") == 0);
    nc_model_free(m);

    /* max_bad_steps < 1 is a config error, not a run that stops at its first step. */
    nc_trainer_params q;
    const char *bad = "trainer: {max_steps: 3, max_bad_steps: 0}\n";
    nc_cfg *c;
    CHECK_OK(nc_cfg_parse(bad, strlen(bad), "test", &c));
    CHECK(nc_trainer_params_from_cfg(c, &q) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "trainer.max_bad_steps") != NULL);
    nc_cfg_free(c);

    /* Nothing non-finite is written: a NaN weight or optimizer moment refuses the save. */
    m = probe_model();
    nc_optim_params op = nc_optim_default_params(NC_OPTIM_ADAMW);
    nc_optim *opt;
    CHECK_OK(nc_optim_create(m->params, &op, &opt));
    nc_params_flat_grad(m->params)[0] = 3e38f; /* g^2 overflows exp_avg_sq; the weight stays finite */
    CHECK_OK(nc_optim_step(opt));
    CHECK(all_finite(m));
    nc_train_state st0 = {.best_metric = NAN, .es_best = NAN, .last_monitor = NAN};
    snprintf(path, sizeof path, "%s/inf_state.ckpt", dir);
    CHECK(nc_ckpt_save(path, m, opt, &st0, NULL) == NC_ERR_NUMERIC);
    CHECK(strstr(nc_last_error(), "optimizer state") != NULL);
    CHECK(access(path, F_OK) != 0);
    nc_optim_free(opt);
    nc_model_free(m);
}

/* ---- disk full ---- */

static void test_disk_full(void) {
    static probe_batch b[5];
    const void *list[5];
    for (int i = 0; i < 5; i++) {
        b[i] = (probe_batch){.x = {1, -1, 2, (float)i}};
        list[i] = &b[i];
    }
    list_source ls = {.batches = list, .n = 5};
    nc_data_source src = source_of(&ls);

    /* The uninterrupted run. */
    const char *dir = nc_test_tmpdir("train_faults_ref");
    nc_trainer_params p = params_for(dir, -1, 12, "");
    nc_model *ref = probe_model();
    nc_fit_result res;
    CHECK_OK(nc_trainer_fit(&p, ref, &src, NULL, NULL, &res));
    CHECK(res.global_step == 12);

    /* Writes per checkpoint: length + header + one per tensor (weights and optimizer state). */
    nc_model *m = probe_model();
    nc_optim_params op = nc_optim_default_params(NC_OPTIM_ADAMW);
    nc_optim *opt;
    CHECK_OK(nc_optim_create(m->params, &op, &opt));
    long per_ckpt = 2 + (long)nc_params_count(m->params) + (long)nc_optim_state_count(opt);
    nc_optim_free(opt);

    /* The third checkpoint (step 6) hits a full disk half way. */
    dir = nc_test_tmpdir("train_faults_disk");
    p = params_for(dir, -1, 12, "");
    events ev = {0};
    nc_trainer_hooks h = {.on_event = on_event, .user_data = &ev};
    nc_io_fail_write_after(2 * per_ckpt + 3);
    nc_status s = nc_trainer_fit(&p, m, &src, NULL, &h, &res);
    nc_io_fail_write_after(0);
    CHECK(s == NC_ERR_IO);
    CHECK(strstr(nc_last_error(), "checkpoint of step 6 not saved (earlier checkpoints are intact)") != NULL);
    CHECK(strstr(nc_last_error(), "No space left on device") != NULL);
    CHECK(ev.checkpoints == 2);
    char ckdir[2048];
    snprintf(ckdir, sizeof ckdir, "%s/run/checkpoints", dir);
    CHECK(count_files(ckdir, ".tmp.") == 0);
    CHECK(count_files(ckdir, "last.ckpt") == 1);
    /* The previous checkpoint is whole: step 4, loadable. */
    char path[4096];
    DIR *d = opendir(ckdir);
    struct dirent *de;
    path[0] = 0;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, "last.ckpt")) snprintf(path, sizeof path, "%s/%s", ckdir, de->d_name);
    if (d) closedir(d);
    nc_model *chk = probe_model();
    nc_train_state st;
    CHECK_OK(nc_ckpt_load(path, chk, NULL, &st));
    CHECK(st.global_step == 4);
    nc_model_free(chk);

    /* Space again: the resumed run ends exactly where the uninterrupted one did. */
    ls.pos = 0;
    CHECK_OK(nc_trainer_fit(&p, m, &src, NULL, NULL, &res));
    CHECK(res.global_step == 12);
    CHECK(memcmp(nc_params_flat_data(m->params), nc_params_flat_data(ref->params),
                 (size_t)nc_params_flat_size(m->params) * sizeof(float)) == 0);
    nc_model_free(m);
    nc_model_free(ref);
}

/* ---- resume after a crash between two -last files ---- */

static void test_two_last(void) {
    static probe_batch b[3];
    const void *list[3];
    for (int i = 0; i < 3; i++) {
        b[i] = (probe_batch){.x = {0, 1, 0, (float)i}};
        list[i] = &b[i];
    }
    list_source ls = {.batches = list, .n = 3};
    nc_data_source src = source_of(&ls);
    const char *dir = nc_test_tmpdir("train_faults_two_last");
    nc_trainer_params p = params_for(dir, -1, 4, "");
    nc_model *m = probe_model();
    nc_fit_result res;
    CHECK_OK(nc_trainer_fit(&p, m, &src, NULL, NULL, &res));
    char ckdir[2048], a[4096], older[4096], tmp[4096];
    snprintf(ckdir, sizeof ckdir, "%s/run/checkpoints", dir);
    /* Turn the finished run into one that crashed: no end marker, the state of
     * step 4 under one -last name and an older state (step 2) under another,
     * plus a temp file of a writer that no longer exists. */
    snprintf(a, sizeof a, "%s/run--end.ckpt", ckdir);
    CHECK(unlink(a) == 0);
    nc_model *m2 = probe_model();
    nc_optim_params op = nc_optim_default_params(NC_OPTIM_ADAMW);
    nc_optim *opt;
    CHECK_OK(nc_optim_create(m2->params, &op, &opt));
    nc_train_state st = {.global_step = 2, .epoch = 0, .batch_in_epoch = 2, .best_metric = NAN,
                         .es_best = NAN, .last_monitor = NAN};
    snprintf(older, sizeof older, "%s/run--val_loss=0.0000-epoch=0-last.ckpt", ckdir);
    CHECK_OK(nc_ckpt_save(older, m2, opt, &st, NULL));
    snprintf(tmp, sizeof tmp, "%s/run--val_loss=nan-epoch=1-last.ckpt.tmp.999999999", ckdir);
    FILE *f = fopen(tmp, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    CHECK(count_files(ckdir, "last.ckpt") == 3);
    /* Resuming takes the newest state (step 4: nothing left to do) and tidies up. */
    ls.pos = 0;
    CHECK_OK(nc_trainer_fit(&p, m2, &src, NULL, NULL, &res));
    CHECK(res.global_step == 4);
    CHECK(access(older, F_OK) != 0 && access(tmp, F_OK) != 0);
    CHECK(count_files(ckdir, "last.ckpt") == 1);
    CHECK(memcmp(nc_params_flat_data(m->params), nc_params_flat_data(m2->params), 4 * sizeof(float)) == 0);
    nc_optim_free(opt);
    nc_model_free(m);
    nc_model_free(m2);
}

/* ---- a source that passes over planned batches (all of their audio bad) ---- */

typedef struct plan_source {
    const probe_batch *batches;
    const int64_t *index; /* plan position of each delivered batch */
    int64_t n, planned, pos;
} plan_source;

static nc_status ps_begin(void *self, int64_t epoch, int64_t skip) {
    (void)epoch;
    plan_source *l = self;
    for (l->pos = 0; l->pos < l->n && l->index[l->pos] < skip;) l->pos++;
    return NC_OK;
}
static nc_status ps_next(void *self, const void **batch) {
    plan_source *l = self;
    *batch = l->pos < l->n ? &l->batches[l->pos++] : NULL;
    return NC_OK;
}
static int64_t ps_count(void *self) { return ((plan_source *)self)->planned; }
static plan_source *g_plan;
static int64_t ps_end(const void *batch) {
    int64_t i = (const probe_batch *)batch - g_plan->batches;
    return g_plan->index[i] + 1;
}

static void test_passed_over_batches(void) {
    static probe_batch b[4];
    static const int64_t index[4] = {0, 1, 3, 4}; /* planned 6: batches 2 and 5 were passed over */
    for (int i = 0; i < 4; i++) b[i] = (probe_batch){.x = {(float)i, 1, 2, 3}};
    plan_source ps = {.batches = b, .index = index, .n = 4, .planned = 6};
    g_plan = &ps;
    nc_data_source src = {.self = &ps, .begin_epoch = ps_begin, .next = ps_next, .num_batches = ps_count,
                          .batch_end = ps_end};
    /* Two epochs of 4 steps each: the epoch ends when the source does. */
    const char *dir = nc_test_tmpdir("train_faults_plan_ref");
    nc_trainer_params p = params_for(dir, 2, -1, "");
    nc_model *ref = probe_model();
    nc_fit_result res;
    CHECK_OK(nc_trainer_fit(&p, ref, &src, NULL, NULL, &res));
    CHECK(res.global_step == 8 && res.epoch == 2);
    /* Stopped after plan position 3 (step 3), resumed: the same weights. */
    dir = nc_test_tmpdir("train_faults_plan");
    p = params_for(dir, 2, 3, "");
    nc_model *m = probe_model();
    CHECK_OK(nc_trainer_fit(&p, m, &src, NULL, NULL, &res));
    char path[2048];
    snprintf(path, sizeof path, "%s/run/checkpoints/run--end.ckpt", dir);
    nc_train_state st;
    nc_model *chk = probe_model();
    CHECK_OK(nc_ckpt_load(path, chk, NULL, &st));
    CHECK(st.global_step == 3 && st.batch_in_epoch == 4);
    CHECK(unlink(path) == 0); /* as if killed: resume from the -last file */
    p = params_for(dir, 2, -1, "");
    CHECK_OK(nc_trainer_fit(&p, m, &src, NULL, NULL, &res));
    CHECK(res.global_step == 8 && res.epoch == 2);
    CHECK(memcmp(nc_params_flat_data(m->params), nc_params_flat_data(ref->params), 4 * sizeof(float)) == 0);
    nc_model_free(chk);
    nc_model_free(m);
    nc_model_free(ref);
}

/* ---- out of memory at every allocation of a short Conformer-CTC fit ---- */

static nc_model *ctc_model(void) {
    const char *t = "model:\n"
                    "  labels: [' ', 'a', 'b', 'c']\n"
                    "  preprocessor: {features: 16, n_fft: 128, window_size: 0.008, window_stride: 0.004}\n"
                    "  encoder: {feat_in: 16, n_layers: 1, d_model: 8, n_heads: 2, conv_kernel_size: 3,\n"
                    "            subsampling_conv_channels: 4}\n"
                    "  optim: {name: adamw, lr: 0.01}\n";
    nc_cfg *root = NULL, *mc = NULL;
    nc_model *m = NULL;
    CHECK_OK(nc_cfg_parse(t, strlen(t), "test", &root));
    CHECK_OK(nc_cfg_get_node(root, "model", &mc));
    CHECK_OK(nc_register_collections());
    CHECK_OK(nc_model_create(mc, "EncDecCTCModel", &(nc_model_build_args){.seed = 1}, &m));
    nc_cfg_free(root);
    return m;
}

typedef struct ctc_data {
    float feats[2 * 16 * 48];
    int64_t feat_len[2], tokens[2 * 3], token_len[2], index[2];
    nc_asr_batch batch;
} ctc_data;

static void ctc_batch(ctc_data *d, bool nan_feats) {
    for (int i = 0; i < 2 * 16 * 48; i++) d->feats[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    if (nan_feats) d->feats[17] = NAN;
    d->feat_len[0] = 48;
    d->feat_len[1] = 40;
    for (int i = 0; i < 6; i++) d->tokens[i] = 1 + i % 3;
    d->token_len[0] = 3;
    d->token_len[1] = 2;
    d->index[0] = 0;
    d->index[1] = 1;
    d->batch = (nc_asr_batch){.batch_size = 2, .feats = d->feats, .n_feats = 16, .max_frames = 48,
                              .feat_len = d->feat_len, .tokens = d->tokens, .max_tokens = 3,
                              .token_len = d->token_len, .sample_index = d->index};
}

static void test_oom(void) {
    static ctc_data good, bad;
    ctc_batch(&good, false);
    ctc_batch(&bad, true);
    const void *list[3] = {&good.batch, &bad.batch, &good.batch};
    list_source ls = {.batches = list, .n = 3};
    nc_data_source src = source_of(&ls);
    const char *dir = nc_test_tmpdir("train_faults_oom");
    nc_trainer_params p = params_for(dir, -1, 2, "");
    p.exp.resume_if_exists = false; /* a fresh version folder per attempt */
    p.exp.use_datetime_version = false;

    /* A real model skips a batch with a NaN feature too (the NaN reaches the
     * loss through the ReLUs), and its batch-norm running statistics, updated
     * by that forward, are put back: the end checkpoint can be written. */
    nc_model *m = ctc_model();
    events ev = {0};
    nc_trainer_hooks h = {.on_event = on_event, .user_data = &ev};
    nc_fit_result res;
    nc_debug_alloc count = {0};
    nc_allocator dbg = nc_debug_allocator(&count);
    nc_allocator prev = nc_set_allocator(&dbg);
    CHECK_OK(nc_trainer_fit(&p, m, &src, NULL, &h, &res));
    nc_set_allocator(&prev);
    CHECK(res.global_step == 2 && ev.skipped_loss == 1 && all_finite(m));
    const int64_t n_allocs = count.n_allocs;
    CHECK(count.live_blocks == 0);

    /* Every allocation of the fit fails once, in turn. */
    int oom = 0, ok = 0, sized = 0;
    for (int64_t k = 1; k <= n_allocs; k++) {
        nc_debug_alloc st = {.fail_at = k};
        dbg = nc_debug_allocator(&st);
        prev = nc_set_allocator(&dbg);
        ls.pos = 0;
        nc_status s = nc_trainer_fit(&p, m, &src, NULL, NULL, &res);
        nc_set_allocator(&prev);
        if (st.live_blocks != 0)
            nc_test_fail(__FILE__, __LINE__, "allocation %lld failing: %lld blocks leaked", (long long)k,
                         (long long)st.live_blocks);
        if (s == NC_OK) {
            ok++; /* e.g. the arena's consolidation, which falls back to its chunks */
            continue;
        }
        if (s != NC_ERR_OOM)
            nc_test_fail(__FILE__, __LINE__, "allocation %lld failing: %s: %s", (long long)k, nc_status_str(s),
                         nc_last_error());
        oom++;
        if (strstr(nc_last_error(), "bytes")) sized++;
        else printf("  allocation %lld: %s\n", (long long)k, nc_last_error());
    }
    printf("  OOM sweep: %lld allocations per fit, %d failures reported as NC_ERR_OOM, %d tolerated; "
           "%d messages name a size in bytes\n",
           (long long)n_allocs, oom, ok, sized);
    CHECK(oom > 0 && sized == oom);

    /* A memory cap: the arena's growth is refused with the size it needed. */
    nc_debug_alloc cap = {.limit_bytes = count.peak_bytes / 2};
    dbg = nc_debug_allocator(&cap);
    prev = nc_set_allocator(&dbg);
    ls.pos = 0;
    nc_status s = nc_trainer_fit(&p, m, &src, NULL, NULL, &res);
    nc_set_allocator(&prev);
    CHECK(s == NC_ERR_OOM);
    CHECK(strstr(nc_last_error(), "bytes") != NULL);
    printf("  memory cap of %lld bytes: %s\n", (long long)cap.limit_bytes, nc_last_error());
    CHECK(cap.live_blocks == 0);
    nc_model_free(m);
}

int main(void) {
    nc_log_set_level(NC_LOG_ERROR);
    test_numerics();
    test_disk_full();
    test_two_last();
    test_passed_over_batches();
    test_oom();
    nc_cfg_free(g_cfg);
    return nc_test_finish("train_faults");
}
