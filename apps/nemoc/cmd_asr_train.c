/* `nemoc asr train`: NeMo's speech_to_text_ctc.py / speech_to_text_ctc_bpe.py.
 *
 *   nemoc asr train --config-path DIR --config-name NAME [key=value | +key=value | ~key ...]
 *
 * Exit codes: 0 trained; 1 error; 2 usage; 130 interrupted by SIGINT/SIGTERM
 * after writing a checkpoint (resume with exp_manager.resume_if_exists=true). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "nemoc/asr_ctc.h"
#include "nemoc/comm.h"
#include "nemoc/log.h"
#include "progress.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static nc_status save_nemo(const nc_model *m, const char *path, void *ud) {
    (void)ud;
    return nc_nemo_model_save(m, path);
}

static void usage(void) {
    printf("usage: nemoc asr train --config-path DIR --config-name NAME [overrides...]\n\n"
           "Trains a CTC speech recognizer (EncDecCTCModel with model.labels, or\n"
           "EncDecCTCModelBPE with model.tokenizer) from a NeMo config, like NeMo's\n"
           "examples/asr/asr_ctc/speech_to_text_ctc.py and speech_to_text_ctc_bpe.py.\n\n"
           "Overrides follow Hydra: key=value sets an existing key, +key=value adds one,\n"
           "++key=value adds or sets, ~key deletes.\n"
           "Fine-tuning (speech_to_text_finetune.py): +init_from_nemo_model=model.nemo loads\n"
           "every matching weight; a decoder for a different vocabulary starts fresh.\n"
           "Example configs: examples/asr/conf/conformer/, examples/asr/conf/fastconformer/.\n\n"
           "Exit codes: 0 done, 1 error, 2 usage, 130 interrupted (checkpoint saved).\n");
}

static int g_rank, g_world = 1;

static int fail(const char *what) {
    if (g_world > 1)
        fprintf(stderr, "nemoc asr train (rank %d of %d): %s: %s\n", g_rank, g_world, what, nc_last_error());
    else
        fprintf(stderr, "nemoc asr train: %s: %s\n", what, nc_last_error());
    return 1;
}

int nc_cmd_asr_train(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        }
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
    nc_asr_loader *train_loader = NULL, *val_loader = NULL;
    nc_trainer_params tp;
    nc_cfg *model_cfg = NULL, *ds = NULL;
    if (nc_trainer_params_from_cfg(cfg, &tp)) {
        fail("config");
        goto done;
    }
    if (nc_cfg_get_node(cfg, "model", &model_cfg) ||
        nc_model_create(model_cfg, NULL, NULL, tp.seed, &model)) {
        fail("building the model");
        goto done;
    }
    const char *init_from = NULL;
    nc_cfg_get_str_or(cfg, "init_from_nemo_model", NULL, &init_from);
    if (nc_cfg_has(cfg, "init_from_pretrained_model")) {
        fprintf(stderr, "nemoc asr train: init_from_pretrained_model needs a download; "
                        "use +init_from_nemo_model=<file.nemo> with a local file\n");
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
    nc_asr_loader_params lp;
    if (nc_cfg_get_node(cfg, "model.train_ds", &ds) ||
        nc_ctc_loader_params(model, ds, true, tp.seed, g_rank, g_world, &lp) ||
        nc_asr_loader_create(&lp, &train_loader)) {
        fail("model.train_ds");
        nc_asr_loader_params_clear(&lp);
        goto done;
    }
    nc_asr_loader_params_clear(&lp);
    if (nc_cfg_has(cfg, "model.validation_ds") &&
        nc_cfg_get_node(cfg, "model.validation_ds", &ds) == NC_OK && ds &&
        nc_cfg_kind_of(ds) == NC_CFG_MAP) {
        if (nc_ctc_loader_params(model, ds, false, tp.seed, g_rank, g_world, &lp) ||
            nc_asr_loader_create(&lp, &val_loader)) {
            fail("model.validation_ds");
            nc_asr_loader_params_clear(&lp);
            goto done;
        }
        nc_asr_loader_params_clear(&lp);
    }
    if (g_rank == 0)
        printf("model: %s, %lld parameters%s\n", model->ops->target,
               (long long)nc_params_num_trainable(model->params),
               g_world > 1 ? ", data-parallel over MPI" : "");
    if (g_rank == 0 && g_world > 1) printf("ranks: %d\n", g_world);
    nc_data_source train_src, val_src;
    nc_asr_data_source(train_loader, &train_src);
    if (val_loader) nc_asr_data_source(val_loader, &val_src);
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
    nc_status s = nc_trainer_fit(&tp, model, &train_src, val_loader ? &val_src : NULL, &hooks, &res);
    if (s == NC_ERR_INTERRUPTED) {
        if (g_rank == 0) fprintf(stderr, "nemoc asr train: %s\n", nc_last_error());
        rc = 130;
    } else if (s) {
        fail("training");
    } else if (g_rank == 0) {
        printf("done: %lld steps, logs and checkpoints in %s\n", (long long)res.global_step, res.log_dir);
        if (res.best_ckpt[0]) printf("best checkpoint: %s\n", res.best_ckpt);
    }
    if (!s) rc = 0;
done:
    nc_asr_loader_free(train_loader);
    nc_asr_loader_free(val_loader);
    nc_model_free(model);
    nc_cfg_free(cfg);
    nc_comm_free(comm);
    return rc;
}
