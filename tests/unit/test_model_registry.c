/* The model interface from outside any collection: a toy model type (linear
 * regression, y = w.x + b, with its own metrics val_mse and val_mae) is
 * registered inside this test, built by nc_model_create from a config
 * naming its target, given data by its own setup_data hook, and trained by
 * the same trainer and experiment manager as the speech models, with val_mse
 * as the checkpoint and early-stopping monitor. Also: registry errors,
 * checked downcasts, and metrics summed over batches (not averaged). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/collections.h"
#include "nemoc/ops.h"
#include "nemoc/trainer.h"

enum { DIM = 3, BATCH = 8, N_BATCHES = 6 };
enum { SUM_SQ = 0, SUM_ABS, SUM_N, N_SUMS };

typedef struct lr_batch {
    float x[BATCH * DIM], y[BATCH];
} lr_batch;

/* The model's own data: y = 2 x0 - x1 + 0.5 x2 + 1 on a fixed grid. */
typedef struct lr_data {
    lr_batch b[N_BATCHES];
    int64_t pos;
    int destroyed;
} lr_data;

static int g_destroyed;

static nc_status src_begin(void *self, int64_t epoch, int64_t skip) {
    (void)epoch;
    ((lr_data *)self)->pos = skip;
    return NC_OK;
}
static nc_status src_next(void *self, const void **batch) {
    lr_data *d = self;
    *batch = d->pos < N_BATCHES ? &d->b[d->pos++] : NULL;
    return NC_OK;
}
static int64_t src_count(void *self) {
    (void)self;
    return N_BATCHES;
}
static void src_size(const void *batch, int64_t *items, double *seconds) {
    (void)batch;
    *items = BATCH;
    *seconds = 0;
}
static void src_destroy(void *self) {
    g_destroyed++;
    nc_free(self);
}

static nc_status lr_setup_data(nc_model *m, const nc_cfg *ds, nc_data_role role, const nc_data_env *env,
                               nc_data_source **out) {
    (void)m, (void)env;
    int64_t offset = 0;
    nc_status s = nc_cfg_get_int_or(ds, "offset", 0, &offset);
    if (s) return s;
    lr_data *d = nc_calloc(1, sizeof *d);
    *out = nc_calloc(1, sizeof **out);
    if (!d || !*out) return nc_error(NC_ERR_OOM, "toy data");
    for (int i = 0; i < N_BATCHES; i++)
        for (int j = 0; j < BATCH; j++) {
            float *x = d->b[i].x + j * DIM;
            for (int k = 0; k < DIM; k++) x[k] = (float)(((i * 7 + j * 3 + k * 5 + offset) % 11) - 5) / 5.0f;
            d->b[i].y[j] = 2 * x[0] - x[1] + 0.5f * x[2] + 1;
        }
    **out = (nc_data_source){.self = d, .begin_epoch = src_begin, .next = src_next, .num_batches = src_count,
                             .batch_size = src_size, .item_unit = role == NC_DATA_TRAIN ? "rows" : "vrows",
                             .destroy = src_destroy};
    return NC_OK;
}

static nc_status lr_build(nc_model *m, const nc_model_build_args *a) {
    nc_status s = nc_params_create(&m->params);
    if (s) return s;
    if (!nc_params_add(m->params, "linear.weight", NC_PARAM_TRAINABLE, NC_F32, NC_DIMS(1, DIM)) ||
        !nc_params_add(m->params, "linear.bias", NC_PARAM_TRAINABLE, NC_F32, NC_DIMS(1)))
        return nc_error(NC_ERR_OOM, "toy params");
    if ((s = nc_params_finalize(m->params))) return s;
    nc_rng r;
    nc_rng_seed(&r, a->seed);
    return nc_params_initialize(m->params, &r);
}

static nc_tensor *predict(nc_model *m, nc_ctx *ctx, const lr_batch *b) {
    nc_tensor *x = nc_from_data(ctx, NC_F32, NC_DIMS(BATCH, DIM), b->x);
    return nc_linear(ctx, x, nc_params_find(m->params, "linear.weight"), nc_params_find(m->params, "linear.bias"));
}

static nc_status lr_train(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss) {
    const lr_batch *b = batch;
    nc_tensor *d = nc_sub(ctx, predict(m, ctx, b), nc_from_data(ctx, NC_F32, NC_DIMS(BATCH, 1), b->y));
    *loss = nc_mean(ctx, nc_mul(ctx, d, d), NC_ALL_DIMS, false);
    return nc_ctx_status(ctx);
}

static nc_status lr_val(nc_model *m, nc_ctx *ctx, const void *batch, double *sums) {
    const lr_batch *b = batch;
    bool g = nc_set_grad_enabled(ctx, false);
    nc_tensor *p = predict(m, ctx, b);
    nc_set_grad_enabled(ctx, g);
    if (!p) return nc_ctx_status(ctx);
    for (int j = 0; j < BATCH; j++) {
        double e = (double)nc_f32(p)[j] - b->y[j];
        sums[SUM_SQ] += e * e;
        sums[SUM_ABS] += fabs(e);
        sums[SUM_N] += 1;
    }
    return NC_OK;
}

static const nc_metric_def lr_metrics[] = {
    {.name = "mse", .num = SUM_SQ, .den = SUM_N},
    {.name = "mae", .num = SUM_ABS, .den = SUM_N},
};
static const char *const lr_reinit[] = {"linear.", NULL};

static const nc_model_class lr_class = {
    .target = "nemoc.tests.models.LinearRegressionModel",
    .collection = "toy",
    .description = "linear regression (test)",
    .build = lr_build,
    .setup_data = lr_setup_data,
    .training_step = lr_train,
    .validation_step = lr_val,
    .metrics = lr_metrics,
    .n_metrics = 2,
    .n_sums = N_SUMS,
    .finetune_reinit = lr_reinit,
    .throughput_unit = "rows",
};

typedef struct seen {
    int validations, steps;
    double last_mse;
    char unit[16];
    bool names_ok;
} seen;

static void on_event(const nc_train_event *ev, void *ud) {
    seen *s = ud;
    if (ev->kind == NC_EV_STEP) {
        s->steps++;
        snprintf(s->unit, sizeof s->unit, "%s", ev->item_unit ? ev->item_unit : "");
    }
    if (ev->kind != NC_EV_VALIDATION) return;
    s->validations++;
    s->names_ok = ev->n_metrics == 2 && !strcmp(ev->metric_names[0], "val_mse") &&
                  !strcmp(ev->metric_names[1], "val_mae");
    s->last_mse = ev->metric_values[0];
}

static int count_ckpts(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) n += strstr(de->d_name, needle) != NULL;
    if (d) closedir(d);
    return n;
}

static void test_train_toy(void) {
    const char *dir = nc_test_tmpdir("model_registry");
    char text[2048];
    snprintf(text, sizeof text,
             "model:\n"
             "  target: nemoc.tests.models.LinearRegressionModel\n"
             "  train_ds: {offset: 0}\n"
             "  validation_ds: {offset: 4}\n"
             "  optim: {name: adam, lr: 0.1}\n"
             "trainer: {max_epochs: 30, log_every_n_steps: 3, enable_progress_bar: false}\n"
             "exp_manager:\n"
             "  exp_dir: %s\n"
             "  name: toy\n"
             "  create_tensorboard_logger: true\n"
             "  checkpoint_callback_params: {monitor: val_mse, save_top_k: 2, save_nemo_on_train_end: false}\n"
             "  create_early_stopping_callback: true\n"
             "  early_stopping_callback_params: {monitor: val_mse, patience: 50, stopping_threshold: 1e-4}\n",
             dir);
    nc_cfg *root = NULL, *mc = NULL, *ds = NULL;
    CHECK_OK(nc_cfg_parse(text, strlen(text), "toy", &root));
    nc_trainer_params tp;
    CHECK_OK(nc_trainer_params_from_cfg(root, &tp));
    CHECK_OK(nc_cfg_get_node(root, "model", &mc));
    nc_model *m = NULL;
    CHECK_OK(nc_model_create(mc, NULL, &(nc_model_build_args){.seed = 3}, &m));
    if (!m) return;
    CHECK(m->cls == &lr_class);
    CHECK(nc_model_metric_index(m, "val_mae") == 1 && nc_model_metric_index(m, "wer") == -1);
    nc_data_env env = {.seed = 1, .world_size = 1};
    nc_data_source *train = NULL, *val = NULL;
    CHECK_OK(nc_cfg_get_node(mc, "train_ds", &ds));
    CHECK_OK(m->cls->setup_data(m, ds, NC_DATA_TRAIN, &env, &train));
    CHECK_OK(nc_cfg_get_node(mc, "validation_ds", &ds));
    CHECK_OK(m->cls->setup_data(m, ds, NC_DATA_VALIDATION, &env, &val));
    seen sn = {0};
    nc_trainer_hooks h = {.on_event = on_event, .user_data = &sn, .root_cfg = root};
    nc_fit_result res;
    CHECK_OK(nc_trainer_fit(&tp, m, train, val, &h, &res));
    /* It learns, and the trainer saw the model's metrics under its names. */
    printf("toy model: %lld steps, %d validations, last val_mse %.3g, best %.3g, early stop %d\n",
           (long long)res.global_step, sn.validations, sn.last_mse, res.best_metric, res.early_stopped);
    CHECK(sn.validations >= 2 && sn.names_ok);
    CHECK(sn.last_mse < 1e-3 && res.best_metric < 1e-3);
    CHECK(res.early_stopped); /* stopping_threshold on val_mse */
    CHECK(!strcmp(sn.unit, "rows"));
    /* The checkpoint callback monitored val_mse: names carry it, top-2 kept. */
    char ck[4200];
    snprintf(ck, sizeof ck, "%s/checkpoints", res.log_dir);
    CHECK(count_ckpts(ck, "toy--val_mse=") == 3); /* top 2 + last */
    CHECK(strstr(res.best_ckpt, "val_mse=") != NULL);
    /* metrics.jsonl holds val_mse and val_mae. */
    snprintf(ck, sizeof ck, "%s/metrics.jsonl", res.log_dir);
    char *log = NULL;
    size_t len = 0;
    FILE *f = fopen(ck, "rb");
    CHECK(f != NULL);
    if (f) {
        log = nc_malloc(1 << 20);
        len = fread(log, 1, (1 << 20) - 1, f);
        log[len] = 0;
        fclose(f);
        CHECK(strstr(log, "\"val_mse\"") && strstr(log, "\"val_mae\""));
        nc_free(log);
    }
    nc_data_source_free(train);
    nc_data_source_free(val);
    CHECK(g_destroyed == 2);
    /* A monitor the model does not log is a config error naming what it logs. */
    tp.exp.monitor = "val_wer";
    CHECK_OK(m->cls->setup_data(m, ds, NC_DATA_TRAIN, &env, &train));
    CHECK_OK(m->cls->setup_data(m, ds, NC_DATA_VALIDATION, &env, &val));
    CHECK(nc_trainer_fit(&tp, m, train, val, &h, &res) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "'val_wer' is not logged") && strstr(nc_last_error(), "val_mse, val_mae"));
    nc_data_source_free(train);
    nc_data_source_free(val);
    nc_model_free(m);
    nc_cfg_free(root);
}

static void test_registry_errors(void) {
    const nc_model_class *one[] = {&lr_class};
    CHECK_OK(nc_model_register(one, 1)); /* the same class again: fine */
    nc_model_class dup = lr_class;
    const nc_model_class *d[] = {&dup};
    CHECK(nc_model_register(d, 1) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "already registered") != NULL);
    nc_model_class incomplete = {.target = "x.Y"};
    const nc_model_class *inc[] = {&incomplete};
    CHECK(nc_model_register(inc, 1) == NC_ERR_INVALID_ARG);
    /* Lookups by short name and by path. */
    CHECK(nc_model_class_find("LinearRegressionModel") == &lr_class);
    CHECK(nc_model_class_find("nemo.collections.asr.models.ctc_models.EncDecCTCModel") != NULL);
    CHECK(nc_model_class_find("EncDecRNNTBPEModel") != NULL);
    CHECK(nc_model_class_find("EncDecHybridRNNTCTCBPEModel") != NULL);
    CHECK(nc_model_class_find("EncDecMultiTaskModel") == NULL);
    /* An unknown target lists the known ones. */
    const char *t = "model: {target: nemo.collections.asr.models.EncDecMultiTaskModel}\n";
    nc_cfg *root = NULL, *mc = NULL;
    CHECK_OK(nc_cfg_parse(t, strlen(t), "t", &root));
    CHECK_OK(nc_cfg_get_node(root, "model", &mc));
    nc_model *m = NULL;
    CHECK(nc_model_create(mc, NULL, NULL, &m) == NC_ERR_UNSUPPORTED && m == NULL);
    CHECK(strstr(nc_last_error(), "'nemo.collections.asr.models.EncDecMultiTaskModel' is not known") &&
          strstr(nc_last_error(), "EncDecCTCModelBPE") && strstr(nc_last_error(), "LinearRegressionModel"));
    nc_cfg_free(root);
    /* Checked downcasts name the class. */
    t = "model: {target: LinearRegressionModel}\n";
    CHECK_OK(nc_cfg_parse(t, strlen(t), "t", &root));
    CHECK_OK(nc_cfg_get_node(root, "model", &mc));
    CHECK_OK(nc_model_create(mc, NULL, NULL, &m));
    CHECK(nc_model_expect(m, "toy", false, "a toy", "m.nemo") == NC_OK);
    CHECK(nc_model_expect(m, "asr", true, "a speech recognition model", "m.nemo") == NC_ERR_UNSUPPORTED);
    CHECK(strstr(nc_last_error(), "this command needs a speech recognition model; m.nemo is a "
                                  "LinearRegressionModel (linear regression (test))") != NULL);
    nc_model_free(m);
    nc_cfg_free(root);
}

int main(void) {
    CHECK_OK(nc_register_collections());
    CHECK_OK(nc_register_collections()); /* idempotent */
    const nc_model_class *mine[] = {&lr_class};
    CHECK_OK(nc_model_register(mine, 1));
    test_train_toy();
    test_registry_errors();
    return nc_test_finish("model_registry");
}
