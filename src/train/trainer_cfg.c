/* trainer:, exp_manager: and model.optim: sections into nc_trainer_params,
 * with Lightning's and NeMo's defaults. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/log.h"
#include "nemoc/trainer.h"

/* Caps on the trainer's counts: 10^12 steps is decades at a millisecond a
 * step, and leaves every sum and product of two counts inside an int64. */
#define TRAIN_MAX_STEPS INT64_C(1000000000000)
#define TRAIN_MAX_EPOCHS INT64_C(1000000000)
#define TRAIN_MAX_ACCUMULATE INT64_C(100000)
#define TRAIN_MAX_PROCS INT64_C(65536) /* devices, num_nodes */

static const char *const trainer_keys[] = {
    "devices", "num_nodes", "max_epochs", "max_steps", "val_check_interval", "accelerator",
    "strategy", "accumulate_grad_batches", "gradient_clip_val", "gradient_clip_algorithm",
    "precision", "log_every_n_steps", "enable_progress_bar", "num_sanity_val_steps",
    "check_val_every_n_epoch", "sync_batchnorm", "enable_checkpointing", "logger", "benchmark",
    "limit_train_batches", "limit_val_batches", "limit_test_batches", "use_distributed_sampler",
    "replace_sampler_ddp", "deterministic", "max_time", "gpus", "amp_backend", "amp_level",
    "enable_model_summary", "detect_anomaly", "reload_dataloaders_every_n_epochs", "callbacks",
    "plugins", "min_epochs", "min_steps", "default_root_dir", "inference_mode",
    "max_bad_steps", "seed", "resume_from_checkpoint", "auto_select_gpus", "progress_bar_refresh_rate",
    "weights_summary", "log_gpu_memory", "flush_logs_every_n_steps", "terminate_on_nan", NULL};

static const char *const exp_keys[] = {
    "explicit_log_dir", "exp_dir", "name", "version", "use_datetime_version", "resume_if_exists",
    "resume_past_end", "resume_ignore_no_checkpoint", "resume_from_checkpoint",
    "create_tensorboard_logger", "summary_writer_kwargs", "create_wandb_logger",
    "wandb_logger_kwargs", "create_mlflow_logger", "mlflow_logger_kwargs", "create_dllogger_logger",
    "dllogger_logger_kwargs", "create_clearml_logger", "clearml_logger_kwargs",
    "create_neptune_logger", "neptune_logger_kwargs", "create_checkpoint_callback",
    "checkpoint_callback_params", "create_early_stopping_callback",
    "early_stopping_callback_params", "create_preemption_callback", "files_to_copy",
    "log_step_timing", "step_timing_kwargs", "log_local_rank_0_only", "log_global_rank_0_only",
    "disable_validation_on_resume", "ema", "max_time_per_run", "seconds_to_sleep",
    "create_straggler_detection_callback", "straggler_detection_params",
    "create_fault_tolerance_callback", "fault_tolerance", "log_tflops_per_sec_per_gpu", NULL};

static const char *const ckpt_keys[] = {
    "filepath", "dirpath", "filename", "monitor", "verbose", "save_last", "save_top_k",
    "save_weights_only", "mode", "auto_insert_metric_name", "every_n_epochs", "every_n_train_steps",
    "train_time_interval", "prefix", "postfix", "save_best_model", "always_save_nemo",
    "save_nemo_on_train_end", "model_parallel_size", "save_on_train_epoch_end", "async_save", NULL};

static const char *const es_keys[] = {
    "monitor", "mode", "min_delta", "patience", "verbose", "strict", "check_finite",
    "stopping_threshold", "divergence_threshold", "check_on_train_epoch_end",
    "log_rank_zero_only", NULL};

static const char *const optim_keys[] = {
    "name", "lr", "betas", "weight_decay", "momentum", "dampening", "nesterov", "eps", "amsgrad",
    "grad_averaging", "luc", "luc_trust", "luc_eps", "sched", "foreach", "capturable",
    "maximize", "fused", "differentiable",
    /* distributed_fused_adam tuning (NeMo Megatron configs): no effect on one CPU process */
    "bucket_cap_mb", "overlap_grad_sync", "overlap_param_sync", "contiguous_grad_buffer",
    "contiguous_param_buffer", "grad_sync_dtype", NULL};

static const char *const sched_keys[] = {
    "name", "warmup_steps", "warmup_ratio", "hold_steps", "hold_ratio", "constant_steps",
    "constant_ratio", "min_lr", "max_steps", "d_model", "decay_rate", "power", "cycle",
    "last_epoch", "monitor", "reduce_on_plateau", "iters_per_batch", "t_max_epochs",
    "t_accumulate_grad_batches", "t_limit_train_batches", "t_num_workers", NULL};

static const char *const clip_algs[] = {"norm", "value", NULL};
static const char *const modes[] = {"min", "max", NULL};

static nc_status parse_mode(const nc_cfg *n, const char *key, bool *is_max) {
    const char *mode = "min";
    nc_status s = nc_cfg_get_str_or(n, key, "min", &mode);
    if (s) return s;
    if ((s = nc_cfg_check_enum(n, key, mode, modes, NULL))) return s;
    *is_max = !strcmp(mode, "max");
    return NC_OK;
}

static nc_status parse_precision(const nc_cfg *t, nc_precision *out) {
    nc_cfg_type ty;
    *out = NC_PREC_F32;
    if (!nc_cfg_has(t, "precision")) return NC_OK;
    nc_status s = nc_cfg_get_type(t, "precision", &ty);
    if (s) return s;
    const char *p;
    if ((s = nc_cfg_get_str(t, "precision", &p))) return s;
    if (!strcmp(p, "32") || !strcmp(p, "32-true")) return NC_OK;
    if (!strcmp(p, "bf16") || !strcmp(p, "bf16-mixed")) {
        *out = NC_PREC_BF16;
        return NC_OK;
    }
    return nc_error(NC_ERR_UNSUPPORTED,
                    "trainer.precision: '%s' is not supported on CPU (use 32 or bf16-mixed)", p);
}

static nc_status parse_trainer(const nc_cfg *root, nc_trainer_params *p) {
    nc_cfg *t = NULL;
    if (!nc_cfg_has(root, "trainer")) return NC_OK;
    nc_status s;
    if ((s = nc_cfg_get_node(root, "trainer", &t)) || (s = nc_cfg_check_keys(root, "trainer", trainer_keys)))
        return s;
    const char *acc = "auto", *clip_alg = "norm";
    int64_t seed = (int64_t)p->seed;
    nc_cfg_type vt = NC_CFG_T_NULL;
    if ((s = nc_cfg_get_str_or(t, "accelerator", "auto", &acc))) return s;
    if (strcmp(acc, "auto") && strcmp(acc, "cpu"))
        return nc_error(NC_ERR_UNSUPPORTED,
                        "trainer.accelerator: '%s' is not available; nemoc trains on the CPU (use cpu or auto)",
                        acc);
    /* Counts are range-checked by key (TRAIN_MAX_STEPS): the trainer adds and
     * multiplies them (steps x accumulation, epochs x batches), so each must
     * leave room in an int64; the caps are far beyond any run. */
    if (nc_cfg_get_type(t, "devices", &vt) == NC_OK && vt == NC_CFG_T_INT &&
        (s = nc_cfg_get_int_in(t, "devices", -1, TRAIN_MAX_PROCS, &p->devices)))
        return s;
    /* Ranges as Lightning checks them; -1 means unlimited (max_epochs,
     * max_steps) or all (num_sanity_val_steps); the caps keep step and
     * epoch arithmetic inside int64. */
    if ((s = nc_cfg_get_int_in_or(t, "num_nodes", 1, 1, TRAIN_MAX_PROCS, &p->num_nodes)) ||
        (s = nc_cfg_get_int_in_or(t, "max_epochs", p->max_epochs, INT64_MIN, TRAIN_MAX_EPOCHS, &p->max_epochs)) ||
        (s = nc_cfg_get_int_in_or(t, "max_steps", -1, INT64_MIN, TRAIN_MAX_STEPS, &p->max_steps)) ||
        (s = nc_cfg_get_float_in_or(t, "val_check_interval", 1.0, 0, (double)TRAIN_MAX_STEPS,
                                    &p->val_check_interval)) ||
        (s = nc_cfg_get_int_in_or(t, "check_val_every_n_epoch", 1, 1, TRAIN_MAX_EPOCHS,
                                  &p->check_val_every_n_epoch)) ||
        (s = nc_cfg_get_int_in_or(t, "accumulate_grad_batches", 1, 1, TRAIN_MAX_ACCUMULATE,
                                  &p->accumulate_grad_batches)) ||
        (s = nc_cfg_get_float_in_or(t, "gradient_clip_val", 0.0, 0, INFINITY, &p->gradient_clip_val)) ||
        (s = nc_cfg_get_str_or(t, "gradient_clip_algorithm", "norm", &clip_alg)) ||
        (s = nc_cfg_get_int_in_or(t, "log_every_n_steps", 50, 1, TRAIN_MAX_STEPS, &p->log_every_n_steps)) ||
        (s = nc_cfg_get_int_in_or(t, "num_sanity_val_steps", 2, -1, TRAIN_MAX_STEPS, &p->num_sanity_val_steps)) ||
        (s = nc_cfg_get_bool_or(t, "enable_progress_bar", true, &p->enable_progress_bar)) ||
        (s = nc_cfg_get_int_in_or(t, "max_bad_steps", 10, INT64_MIN, TRAIN_MAX_STEPS, &p->max_bad_steps)) ||
        (s = nc_cfg_get_bool_or(t, "sync_batchnorm", false, &p->sync_batchnorm)) ||
        (s = nc_cfg_get_int_or(t, "seed", seed, &seed)) || (s = parse_precision(t, &p->precision)))
        return s;
    if (p->max_epochs < -1)
        return nc_cfg_error_at(t, "max_epochs", "must be -1 (unlimited) or >= 0, found %lld", (long long)p->max_epochs);
    if (p->max_steps < -1)
        return nc_cfg_error_at(t, "max_steps", "must be -1 (unlimited) or >= 0, found %lld", (long long)p->max_steps);
    p->seed = (uint64_t)seed;
    p->gradient_clip_by_value = !strcmp(clip_alg, "value");
    if ((s = nc_cfg_check_enum(t, "gradient_clip_algorithm", clip_alg, clip_algs, NULL))) return s;
    if (p->max_epochs < 0 && p->max_steps < 0)
        return nc_error(NC_ERR_CONFIG, "trainer: max_epochs and max_steps are both unlimited");
    if (!(p->val_check_interval > 0))
        return nc_cfg_error_at(t, "val_check_interval", "must be > 0, found %g", p->val_check_interval);
    if (p->max_bad_steps < 1)
        return nc_error(NC_ERR_CONFIG, "trainer.max_bad_steps: must be >= 1 (consecutive skipped steps before stopping)");
    /* limit_*_batches: an int is a count, a float a fraction (resolved by the trainer). */
    double lim;
    if ((s = nc_cfg_get_float_in_or(t, "limit_train_batches", 1.0, 0, (double)TRAIN_MAX_STEPS, &lim))) return s;
    p->limit_train_batches = lim == 1.0 ? 0 : (int64_t)lim;
    if ((s = nc_cfg_get_float_in_or(t, "limit_val_batches", 1.0, 0, (double)TRAIN_MAX_STEPS, &lim))) return s;
    p->limit_val_batches = lim == 1.0 ? 0 : (int64_t)lim;
    return NC_OK;
}

static nc_status parse_exp(const nc_cfg *root, nc_exp_params *e) {
    if (!nc_cfg_has(root, "exp_manager")) return NC_OK;
    nc_cfg *x = NULL;
    nc_status s;
    if ((s = nc_cfg_get_node(root, "exp_manager", &x)) ||
        (s = nc_cfg_check_keys(root, "exp_manager", exp_keys)))
        return s;
    if ((s = nc_cfg_get_str_or(x, "exp_dir", NULL, &e->exp_dir)) ||
        (s = nc_cfg_get_str_or(x, "name", NULL, &e->name)) ||
        (s = nc_cfg_get_str_or(x, "version", NULL, &e->version)) ||
        (s = nc_cfg_get_bool_or(x, "use_datetime_version", true, &e->use_datetime_version)) ||
        (s = nc_cfg_get_str_or(x, "explicit_log_dir", NULL, &e->explicit_log_dir)) ||
        (s = nc_cfg_get_bool_or(x, "resume_if_exists", false, &e->resume_if_exists)) ||
        (s = nc_cfg_get_bool_or(x, "resume_past_end", false, &e->resume_past_end)) ||
        (s = nc_cfg_get_bool_or(x, "resume_ignore_no_checkpoint", false, &e->resume_ignore_no_checkpoint)) ||
        (s = nc_cfg_get_str_or(x, "resume_from_checkpoint", NULL, &e->resume_from_checkpoint)) ||
        (s = nc_cfg_get_bool_or(x, "create_tensorboard_logger", true, &e->create_tensorboard_logger)) ||
        (s = nc_cfg_get_bool_or(x, "create_checkpoint_callback", true, &e->create_checkpoint_callback)) ||
        (s = nc_cfg_get_bool_or(x, "create_early_stopping_callback", false,
                                &e->create_early_stopping_callback)))
        return s;
    const char *mt = NULL;
    if ((s = nc_cfg_get_str_or(x, "max_time_per_run", NULL, &mt))) return s;
    if (mt) {
        /* NeMo/Lightning's "DD:HH:MM:SS" */
        int dd = 0, hh = 0, mm = 0, ss = 0;
        if (sscanf(mt, "%d:%d:%d:%d", &dd, &hh, &mm, &ss) != 4 || dd < 0 || hh < 0 || mm < 0 || ss < 0)
            return nc_error(NC_ERR_CONFIG, "exp_manager.max_time_per_run: expected DD:HH:MM:SS, got '%s'", mt);
        e->max_time_per_run = ((dd * 24.0 + hh) * 60.0 + mm) * 60.0 + ss;
    }
    if (nc_cfg_has(x, "checkpoint_callback_params")) {
        nc_cfg *c = NULL;
        if ((s = nc_cfg_get_node(x, "checkpoint_callback_params", &c))) return s;
        if (c && nc_cfg_kind_of(c) == NC_CFG_MAP) {
            if ((s = nc_cfg_check_keys(x, "checkpoint_callback_params", ckpt_keys)) ||
                (s = nc_cfg_get_str_or(c, "monitor", "val_loss", &e->monitor)) ||
                (s = parse_mode(c, "mode", &e->mode_max)) ||
                (s = nc_cfg_get_int_in_or(c, "save_top_k", 3, -1, 1000000, &e->save_top_k)) ||
                (s = nc_cfg_get_bool_or(c, "save_last", true, &e->save_last)) ||
                (s = nc_cfg_get_bool_or(c, "always_save_nemo", false, &e->always_save_nemo)) ||
                (s = nc_cfg_get_bool_or(c, "save_nemo_on_train_end", true, &e->save_nemo_on_train_end)) ||
                (s = nc_cfg_get_bool_or(c, "save_best_model", false, &e->save_best_model)) ||
                (s = nc_cfg_get_str_or(c, "filename", NULL, &e->filename)) ||
                (s = nc_cfg_get_str_or(c, "dirpath", NULL, &e->dirpath)) ||
                (s = nc_cfg_get_int_in_or(c, "every_n_epochs", 1, 0, TRAIN_MAX_EPOCHS, &e->every_n_epochs)) ||
                (s = nc_cfg_get_int_in_or(c, "every_n_train_steps", 0, 0, TRAIN_MAX_STEPS,
                                          &e->every_n_train_steps)))
                return s;
        }
    }
    if (nc_cfg_has(x, "early_stopping_callback_params")) {
        nc_cfg *c = NULL;
        if ((s = nc_cfg_get_node(x, "early_stopping_callback_params", &c))) return s;
        if (c && nc_cfg_kind_of(c) == NC_CFG_MAP) {
            if ((s = nc_cfg_check_keys(x, "early_stopping_callback_params", es_keys)) ||
                (s = nc_cfg_get_str_or(c, "monitor", "val_loss", &e->es_monitor)) ||
                (s = parse_mode(c, "mode", &e->es_mode_max)) ||
                (s = nc_cfg_get_float_in_or(c, "min_delta", 0.001, -INFINITY, INFINITY, &e->es_min_delta)) ||
                (s = nc_cfg_get_int_in_or(c, "patience", 10, 0, TRAIN_MAX_STEPS, &e->es_patience)) ||
                (s = nc_cfg_get_bool_or(c, "check_finite", true, &e->es_check_finite)) ||
                (s = nc_cfg_get_float_or(c, "stopping_threshold", NAN, &e->es_stopping_threshold)) ||
                (s = nc_cfg_get_float_or(c, "divergence_threshold", NAN, &e->es_divergence_threshold)))
                return s;
        }
    }
    return NC_OK;
}

static nc_status parse_optim(const nc_cfg *root, nc_trainer_params *p) {
    nc_cfg *o = NULL;
    nc_status s;
    if (!nc_cfg_has(root, "model.optim"))
        return nc_error(NC_ERR_CONFIG, "model.optim: missing (an optimizer is needed to train)");
    if ((s = nc_cfg_get_node(root, "model.optim", &o)) ||
        (s = nc_cfg_check_keys(root, "model.optim", optim_keys)))
        return s;
    const char *name;
    if ((s = nc_cfg_get_str(o, "name", &name))) return s;
    nc_optim_kind kind;
    /* NeMo Megatron's GPU optimizers: apex FusedAdam (adam_w_mode, the
     * default) and the distributed optimizer are AdamW's update. */
    if (!strcmp(name, "fused_adam") || !strcmp(name, "distributed_fused_adam")) {
        nc_log_msg(NC_LOG_WARN, "model.optim.name: %s runs as adamw (the same update, unfused, not sharded)", name);
        name = "adamw";
    }
    if ((s = nc_optim_kind_from_name(name, &kind))) return nc_error_prefix(s, "model.optim.name");
    p->optim = nc_optim_default_params(kind);
    nc_optim_params *op = &p->optim;
    /* torch.optim's own checks: lr, eps, weight_decay and momentum >= 0,
     * betas in [0, 1); NaN is never a setting. */
    if ((s = nc_cfg_get_float_in_or(o, "lr", op->lr, 0, INFINITY, &op->lr)) ||
        (s = nc_cfg_get_float_in_or(o, "weight_decay", op->weight_decay, 0, INFINITY, &op->weight_decay)) ||
        (s = nc_cfg_get_float_in_or(o, "momentum", op->momentum, 0, INFINITY, &op->momentum)) ||
        (s = nc_cfg_get_float_in_or(o, "dampening", op->dampening, -INFINITY, INFINITY, &op->dampening)) ||
        (s = nc_cfg_get_bool_or(o, "nesterov", op->nesterov, &op->nesterov)) ||
        (s = nc_cfg_get_float_in_or(o, "eps", op->eps, 0, INFINITY, &op->eps)) ||
        (s = nc_cfg_get_bool_or(o, "amsgrad", op->amsgrad, &op->amsgrad)) ||
        (s = nc_cfg_get_bool_or(o, "grad_averaging", op->grad_averaging, &op->grad_averaging)) ||
        (s = nc_cfg_get_bool_or(o, "luc", op->luc, &op->luc)))
        return s;
    if (nc_cfg_has(o, "betas")) {
        double *b = NULL;
        int64_t n = 0;
        if ((s = nc_cfg_get_float_list(o, "betas", &b, &n))) return s;
        if (n == 2) {
            op->betas[0] = b[0];
            op->betas[1] = b[1];
        }
        nc_free(b);
        if (n != 2) return nc_cfg_error_at(o, "betas", "need two values, found %lld", (long long)n);
        for (int i = 0; i < 2; i++)
            if (!(op->betas[i] >= 0 && op->betas[i] < 1))
                return nc_cfg_error_at(o, "betas", "beta %d must be in [0, 1), found %g", i, op->betas[i]);
    }
    p->has_sched = nc_cfg_has(o, "sched");
    if (!p->has_sched) return NC_OK;
    nc_cfg *sc = NULL;
    if ((s = nc_cfg_get_node(o, "sched", &sc))) return s;
    if (!sc || nc_cfg_kind_of(sc) != NC_CFG_MAP) {
        p->has_sched = false;
        return NC_OK;
    }
    if ((s = nc_cfg_check_keys(o, "sched", sched_keys))) return s;
    nc_sched_params *sp = &p->sched;
    *sp = nc_sched_default_params();
    sp->lr = op->lr;
    /* -1 is the "unset" default of the step counts and ratios (NeMo's None). */
    if ((s = nc_cfg_get_str(sc, "name", &sp->name)) ||
        (s = nc_cfg_get_int_in_or(sc, "warmup_steps", -1, 0, TRAIN_MAX_STEPS, &sp->warmup_steps)) ||
        (s = nc_cfg_get_float_in_or(sc, "warmup_ratio", -1, 0, 1, &sp->warmup_ratio)) ||
        (s = nc_cfg_get_int_in_or(sc, "hold_steps", -1, 0, TRAIN_MAX_STEPS, &sp->hold_steps)) ||
        (s = nc_cfg_get_float_in_or(sc, "hold_ratio", -1, 0, 1, &sp->hold_ratio)) ||
        (s = nc_cfg_get_int_in_or(sc, "constant_steps", -1, 0, TRAIN_MAX_STEPS, &sp->constant_steps)) ||
        (s = nc_cfg_get_float_in_or(sc, "constant_ratio", -1, 0, 1, &sp->constant_ratio)) ||
        (s = nc_cfg_get_float_in_or(sc, "min_lr", -1, 0, INFINITY, &sp->min_lr)) ||
        (s = nc_cfg_get_int_in_or(sc, "max_steps", -1, -1, TRAIN_MAX_STEPS, &sp->max_steps)) ||
        (s = nc_cfg_get_float_in_or(sc, "d_model", sp->d_model, 1, INFINITY, &sp->d_model)) ||
        (s = nc_cfg_get_float_in_or(sc, "decay_rate", sp->decay_rate, -INFINITY, INFINITY, &sp->decay_rate)) ||
        (s = nc_cfg_get_float_in_or(sc, "power", sp->power, -INFINITY, INFINITY, &sp->power)) ||
        (s = nc_cfg_get_bool_or(sc, "cycle", sp->cycle, &sp->cycle)) ||
        (s = nc_cfg_get_int_in_or(sc, "last_epoch", -1, -1, TRAIN_MAX_STEPS, &sp->last_epoch)))
        return s;
    return NC_OK;
}

nc_status nc_trainer_params_from_cfg(const nc_cfg *root, nc_trainer_params *p) {
    memset(p, 0, sizeof *p);
    p->devices = -1;
    p->num_nodes = 1;
    p->max_epochs = 1000; /* Lightning's default when max_steps is also unset */
    p->max_steps = -1;
    p->val_check_interval = 1.0;
    p->check_val_every_n_epoch = 1;
    p->accumulate_grad_batches = 1;
    p->log_every_n_steps = 50;
    p->num_sanity_val_steps = 2;
    p->enable_progress_bar = true;
    p->max_bad_steps = 10;
    p->seed = 1234;
    nc_exp_params *e = &p->exp;
    e->use_datetime_version = true;
    e->create_tensorboard_logger = true;
    e->create_checkpoint_callback = true;
    e->monitor = "val_loss";
    e->save_top_k = 3;
    e->save_last = true;
    e->save_nemo_on_train_end = true;
    e->every_n_epochs = 1;
    e->es_monitor = "val_loss";
    e->es_min_delta = 0.001;
    e->es_patience = 10;
    e->es_check_finite = true;
    e->es_stopping_threshold = e->es_divergence_threshold = NAN;
    nc_status s;
    if ((s = parse_trainer(root, p)) || (s = parse_exp(root, e)) || (s = parse_optim(root, p))) return s;
    if (p->has_sched && p->sched.max_steps < 0 && p->max_steps > 0) p->sched.max_steps = p->max_steps;
    return NC_OK;
}
