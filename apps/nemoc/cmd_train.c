/* `nemoc <collection> train`: NeMo's training scripts (speech_to_text_ctc.py,
 * speech_to_text_ctc_bpe.py, ...) for every registered model class.
 *
 *   nemoc asr train --config-path DIR --config-name NAME [key=value | +key=value | ~key ...]
 *
 * The config's model.target picks the class (registered by its collection);
 * the model builds its own data sources from model.train_ds and
 * model.validation_ds; the trainer logs and monitors the model's metrics.
 * Exit codes: 0 trained; 1 error; 2 usage; 130 interrupted by SIGINT/SIGTERM
 * after writing a checkpoint (resume with exp_manager.resume_if_exists=true);
 * a second signal ends the process at once (killed by that signal). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "io/fileutil.h"
#include "nemoc/collections.h"
#include "nemoc/comm.h"
#include "nemoc/log.h"
#include "nemoc/trainer.h"
#include "progress.h"

static volatile sig_atomic_t stop_requested;

/* The first SIGINT/SIGTERM asks the trainer to save and stop after the
 * current step; a second one ends the process at once (checkpoint writes are
 * atomic, so the last complete checkpoint is still whole). */
static void on_signal(int sig) {
    if (stop_requested) {
        nc_atomic_remove_temps(); /* a checkpoint being written is dropped, the last one stays whole */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_requested = 1;
}

static nc_status save_nemo(const nc_model *m, const char *path, void *ud) {
    (void)ud;
    return nc_nemo_model_save(m, path);
}

static void usage(const nc_cli_collection *c) {
    printf("usage: nemoc %s train --config-path DIR --config-name NAME [overrides...]\n\n"
           "Trains %s from a NeMo config, like %s.\n"
           "model.target names the class (default %s); known:\n",
           c->name, c->what, c->train_scripts, c->default_help);
    nc_cli_list_classes(c->name);
    printf("\nOverrides follow Hydra: key=value sets an existing key, +key=value adds one,\n"
           "++key=value adds or sets, ~key deletes.\n"
           "Fine-tuning (speech_to_text_finetune.py): +init_from_nemo_model=model.nemo loads\n"
           "every matching weight; a decoder for a different vocabulary starts fresh.\n"
           "Example configs: %s.\n\n"
           "Exit codes: 0 done, 1 error, 2 usage, 130 interrupted (checkpoint saved).\n"
           "Ctrl-C (SIGINT) or SIGTERM saves a checkpoint after the current step and stops;\n"
           "a second one stops at once. Resume with exp_manager.resume_if_exists=true.\n",
           c->examples);
}

static int g_rank, g_world = 1;
static const char *g_group = "", *g_verb = "train";

static int fail(const char *what) {
    if (g_world > 1)
        fprintf(stderr, "nemoc %s %s (rank %d of %d): %s: %s\n", g_group, g_verb, g_rank, g_world, what,
                nc_last_error());
    else
        fprintf(stderr, "nemoc %s %s: %s: %s\n", g_group, g_verb, what, nc_last_error());
    return 1;
}

/* model.<key> as a data source of role `role` when the section is a map. */
static nc_status setup_source(nc_model *m, const nc_cfg *cfg, const char *key, nc_data_role role,
                              const nc_data_env *env, nc_data_source **out) {
    nc_cfg *ds = NULL;
    *out = NULL;
    if (!m->cls->setup_data) return nc_error(NC_ERR_UNSUPPORTED, "%s builds no data sources", m->cls->target);
    nc_status s = nc_cfg_get_node(cfg, key, &ds);
    if (s) return s;
    if (!ds || nc_cfg_kind_of(ds) != NC_CFG_MAP) return nc_error(NC_ERR_CONFIG, "%s: expected a map", key);
    s = m->cls->setup_data(m, ds, role, env, out);
    return s ? nc_error_prefix(s, "%s", key) : NC_OK;
}

int nc_cli_train(const nc_cli_collection *c, int argc, char **argv) {
    g_group = c->name;
    if (argc > 0 && argv[0]) g_verb = argv[0];
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            nc_register_collections(); /* the class listing */
            usage(c);
            return 0;
        }
    if (nc_register_collections()) return fail("registering the model classes");
    nc_cfg *cfg = NULL;
    if (nc_cfg_load_args(argc - 1, (const char *const *)argv + 1, NULL, NULL, &cfg))
        return fail("config");
    /* Launched by mpirun: one process per rank, data-parallel (docs/distributed.md). */
    nc_comm *comm = NULL;
    if (nc_comm_create_world(&comm)) {
        nc_cfg_free(cfg);
        return fail("starting MPI");
    }
    g_rank = nc_comm_rank(comm);
    g_world = nc_comm_size(comm);
    if (g_rank > 0) nc_log_set_level(NC_LOG_WARN); /* rank 0 speaks for the job */
    int rc = 1;
    nc_model *model = NULL;
    nc_data_source *train_src = NULL, *val_src = NULL;
    nc_trainer_params tp;
    nc_cfg *model_cfg = NULL;
    const char *target = NULL;
    if (nc_trainer_params_from_cfg(cfg, &tp)) {
        fail("config");
        goto done;
    }
    nc_model_build_args ba = {.seed = tp.seed};
    if (nc_cfg_get_node(cfg, "model", &model_cfg) ||
        nc_cfg_get_str_or(model_cfg, "target", NULL, &target) ||
        nc_model_create(model_cfg, target ? target : c->default_target(model_cfg), &ba, &model) ||
        nc_model_expect(model, c->name, false, c->what, "model.target")) {
        fail("building the model");
        goto done;
    }
    const char *init_from = NULL;
    nc_cfg_get_str_or(cfg, "init_from_nemo_model", NULL, &init_from);
    if (nc_cfg_has(cfg, "init_from_pretrained_model")) {
        fprintf(stderr, "nemoc %s train: init_from_pretrained_model needs a download; "
                        "use +init_from_nemo_model=<file.nemo> with a local file\n", c->name);
        goto done;
    }
    if (init_from) {
        int64_t n_loaded = 0;
        if (nc_nemo_model_init_from(model, init_from, &n_loaded)) {
            fail("init_from_nemo_model");
            goto done;
        }
        if (g_rank == 0)
            printf("initialised %lld of %lld tensors from %s\n", (long long)n_loaded,
                   (long long)nc_params_count(model->params), init_from);
    }
    if (model->cls->configure_trainer && model->cls->configure_trainer(model, cfg, g_world, &tp)) {
        fail("config");
        goto done;
    }
    nc_data_env env = {.seed = tp.seed, .rank = g_rank, .world_size = g_world};
    const char *train_key = c->train_data_key ? c->train_data_key : "model.train_ds";
    const char *val_key = c->val_data_key ? c->val_data_key : "model.validation_ds";
    if (setup_source(model, cfg, train_key, NC_DATA_TRAIN, &env, &train_src)) {
        fail("training data");
        goto done;
    }
    nc_cfg *vds = NULL;
    if (nc_cfg_has(cfg, val_key) && nc_cfg_get_node(cfg, val_key, &vds) == NC_OK &&
        vds && nc_cfg_kind_of(vds) == NC_CFG_MAP &&
        setup_source(model, cfg, val_key, NC_DATA_VALIDATION, &env, &val_src)) {
        fail("validation data");
        goto done;
    }
    if (g_rank == 0)
        printf("model: %s, %lld parameters%s\n", model->cls->target,
               (long long)nc_params_num_trainable(model->params),
               g_world > 1 ? ", data-parallel over MPI" : "");
    if (g_rank == 0 && g_world > 1) printf("ranks: %d\n", g_world);
    nc_progress prog;
    nc_progress_init(&prog, stdout, tp.enable_progress_bar);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    nc_trainer_hooks hooks = {.on_event = nc_progress_event, .user_data = &prog,
                              .stop_flag = &stop_requested, .argc = argc, .argv = (const char *const *)argv,
                              .root_cfg = cfg, .save_nemo = save_nemo, .comm = comm};
    nc_fit_result res;
    nc_status s = nc_trainer_fit(&tp, model, train_src, val_src, &hooks, &res);
    int64_t skipped = train_src->skipped ? train_src->skipped(train_src->self) : 0;
    if (skipped)
        fprintf(stderr, "nemoc %s train: %lld training %s(s) skipped for %s\n", c->name, (long long)skipped,
                c->item, train_src->skip_reason ? train_src->skip_reason : c->skip_reason);
    if (s == NC_ERR_INTERRUPTED) {
        if (g_rank == 0) fprintf(stderr, "nemoc %s train: %s\n", c->name, nc_last_error());
        rc = 130;
    } else if (s) {
        fail("training");
    } else if (g_rank == 0) {
        printf("done: %lld steps, logs and checkpoints in %s\n", (long long)res.global_step, res.log_dir);
        if (res.best_ckpt[0]) printf("best checkpoint: %s\n", res.best_ckpt);
    }
    if (!s) rc = 0;
done:
    nc_data_source_free(train_src);
    nc_data_source_free(val_src);
    nc_model_free(model);
    nc_cfg_free(cfg);
    nc_comm_free(comm);
    return rc;
}
