/* The training loop: Lightning's fit semantics (epochs, accumulation,
 * validation interval, checkpoint and early-stopping callbacks, resume) under
 * NeMo's keys. One ctx per run; its arena is reset after every batch. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nemoc/alloc.h"
#include "nemoc/comm.h"
#include "nemoc/ops.h"
#include "nemoc/trainer.h"
#include "core/clock.h"
#include "core/strbuf.h"
#include "train/checkpoint.h"
#include "train/exp_manager.h"
#include "train/step.h"

typedef struct run {
    const nc_trainer_params *p;
    const nc_trainer_hooks *h;
    nc_model *m;
    nc_data_source *train, *val;
    nc_ctx *ctx;
    nc_optim *opt;
    nc_sched *sched;
    nc_expm exp;
    nc_train_state st;
    int64_t n_batches, max_steps, val_every;
    double t_start;
    double data_wait_s; /* time blocked in the training source's next() */
    char *config_yaml;
    /* throughput window */
    double win_t0, win_items, win_seconds, win_loss;
    int64_t win_batches;
    double last_grad_norm;
    double win_comm_s; /* gradient all-reduce time in the log window */
    bool any_bad;    /* a micro-batch of the current accumulation had a bad loss */
    int64_t bad_run; /* consecutive skipped optimizer steps */
    bool stop, early_stopped, time_up;
    int64_t last_saved_step;
    /* data parallel */
    nc_comm *comm;     /* NULL: one process */
    int rank, world;
    nc_grad_sync *gsync;
    bool resumed;
    /* Non-trainable buffers (batch-norm running statistics) as they were
     * before the current accumulation window: a skipped step puts them back,
     * so a NaN batch cannot poison them (torch would keep the NaN). */
    unsigned char *buf_snapshot;
    size_t buf_bytes;
    /* the model's validation metrics: "val_<name>" (and "epoch" last), sums, values */
    const char **val_names;
    bool *val_percent;
    double *val_sums, *val_values;
    char *val_text;       /* storage of the names */
    const char *val_list; /* "val_loss, val_wer, val_cer" for messages */
} run;

static void buffers_copy(run *r, bool save) {
    nc_params *pa = r->m->params;
    size_t o = 0;
    for (int64_t i = 0; i < nc_params_count(pa); i++) {
        if (nc_params_kind_at(pa, i) != NC_PARAM_BUFFER) continue;
        nc_tensor *t = nc_params_at(pa, i);
        size_t n = nc_nbytes(t);
        if (save) memcpy(r->buf_snapshot + o, t->data, n);
        else memcpy(t->data, r->buf_snapshot + o, n);
        o += n;
    }
}


static void emit(run *r, nc_train_event ev) {
    ev.epoch = r->st.epoch;
    ev.global_step = r->st.global_step;
    ev.max_steps = r->max_steps;
    ev.batches_per_epoch = r->n_batches;
    ev.elapsed_s = nc_now_s() - r->t_start;
    ev.log_dir = r->exp.log_dir;
    if (r->h->on_event && r->rank == 0) r->h->on_event(&ev, r->h->user_data);
}

static void warn(run *r, const char *msg) {
    nc_exp_log(&r->exp, "WARNING %s", msg);
    emit(r, (nc_train_event){.kind = NC_EV_WARNING, .message = msg});
}

/* The monitored metric ("val_wer") from the validation values; NAN when the
 * model does not log it. */
static double monitor_value(const run *r, const char *name, const double *vals) {
    int i = nc_model_metric_index(r->m, name);
    return i >= 0 && !strncmp(name, "val_", 4) ? vals[i] : NAN;
}

static bool known_monitor(const run *r, const char *name) {
    return !strncmp(name, "val_", 4) && nc_model_metric_index(r->m, name) >= 0;
}

static nc_status save_ckpt(run *r, const char *path) {
    nc_train_state st = r->st;
    st.rng = *nc_ctx_rng(r->ctx);
    nc_status s = nc_ckpt_save(path, r->m, r->opt, &st, r->config_yaml);
    /* The write is atomic: a failure (disk full) leaves earlier files whole. */
    if (s)
        return nc_error_prefix(s, "checkpoint of step %lld not saved (earlier checkpoints are intact)",
                               (long long)r->st.global_step);
    nc_exp_log(&r->exp, "saved checkpoint %s", path);
    emit(r, (nc_train_event){.kind = NC_EV_CHECKPOINT, .message = path});
    return NC_OK;
}

static nc_status save_nemo(run *r) {
    if (!r->h->save_nemo) return NC_OK;
    char *path = nc_strdupf("%s/%s.nemo", r->exp.ckpt_dir, r->exp.name);
    if (!path) return nc_error(NC_ERR_OOM, "path of the .nemo in %s", r->exp.ckpt_dir);
    nc_status s = r->h->save_nemo(r->m, path, r->h->user_data);
    if (!s) {
        nc_exp_log(&r->exp, "saved %s", path);
        emit(r, (nc_train_event){.kind = NC_EV_CHECKPOINT, .message = path});
    }
    nc_free(path);
    return s;
}

/* save_last: one "<...>-last.ckpt", replacing the previous one. A failure
 * (disk full) leaves the previous file in place: the new one is written to
 * a temp name and renamed only when complete. */
static nc_status save_last(run *r) {
    if (!r->p->exp.create_checkpoint_callback || !r->p->exp.save_last) return NC_OK;
    if (r->last_saved_step == r->st.global_step && r->exp.last_path[0]) return NC_OK;
    char path[sizeof r->exp.last_path];
    nc_status s = nc_exp_ckpt_path(&r->exp, r->st.last_monitor, r->st.epoch, r->st.global_step, "-last", path,
                                   sizeof path);
    if (!s) s = save_ckpt(r, path);
    if (s) return s;
    if (r->exp.last_path[0] && strcmp(r->exp.last_path, path) != 0) unlink(r->exp.last_path);
    memcpy(r->exp.last_path, path, sizeof path);
    r->last_saved_step = r->st.global_step;
    return NC_OK;
}

static nc_status run_validation(run *r, int64_t limit, double *sums) {
    memset(sums, 0, (size_t)r->m->cls->n_sums * sizeof *sums);
    nc_status s = r->val->begin_epoch(r->val->self, 0, 0);
    for (int64_t i = 0; !s && (limit <= 0 || i < limit); i++) {
        const void *b = NULL;
        if ((s = r->val->next(r->val->self, &b)) || !b) break;
        s = r->m->cls->validation_step(r->m, r->ctx, b, sums);
        nc_ctx_reset(r->ctx);
    }
    return s;
}

/* Validation + checkpoint callback + early stopping. The model's sums are
 * added over ranks before the metrics are computed: a WER is total errors
 * over total words of the whole set, not a mean of per-rank rates. */
static nc_status validate(run *r) {
    const nc_model_class *c = r->m->cls;
    double *sums = r->val_sums, *vals = r->val_values;
    nc_status s = run_validation(r, r->p->limit_val_batches, sums);
    if (!s && r->world > 1) s = nc_comm_all_reduce(r->comm, sums, c->n_sums, NC_COMM_F64, NC_COMM_SUM);
    if (s) return nc_error_prefix(s, "validation");
    char line[1024];
    int o = snprintf(line, sizeof line, "epoch %lld step %lld:", (long long)r->st.epoch,
                     (long long)r->st.global_step);
    for (int i = 0; i < c->n_metrics; i++) {
        vals[i] = nc_metric_value(&c->metrics[i], sums);
        if (o < (int)sizeof line)
            o += snprintf(line + o, sizeof line - (size_t)o, " %s %.4f", r->val_names[i], vals[i]);
    }
    vals[c->n_metrics] = (double)r->st.epoch;
    nc_exp_log(&r->exp, "%s", line);
    /* A log that cannot be written (disk full, /dev/full) stops the run:
     * its numbers would be lost without a word. */
    if ((s = nc_exp_metrics(&r->exp, r->st.global_step, c->n_metrics + 1, r->val_names, vals))) return s;
    emit(r, (nc_train_event){.kind = NC_EV_VALIDATION, .n_metrics = c->n_metrics,
                             .metric_names = r->val_names, .metric_values = vals,
                             .metric_percent = r->val_percent});
    const nc_exp_params *e = &r->p->exp;
    double mon = monitor_value(r, e->monitor, vals);
    r->st.last_monitor = mon;
    if (e->create_checkpoint_callback && r->exp.rank0) {
        char evict[sizeof r->exp.last_path], path[sizeof r->exp.last_path];
        if (nc_exp_topk_accepts(&r->exp, mon, evict, sizeof evict)) {
            if ((s = nc_exp_ckpt_path(&r->exp, mon, r->st.epoch, r->st.global_step, NULL, path, sizeof path)))
                return s;
            bool new_best = nc_exp_better(&r->exp, mon, r->st.best_metric);
            if (new_best) r->st.best_metric = mon;
            if ((s = save_ckpt(r, path))) return s;
            if (evict[0] && strcmp(evict, path) != 0) unlink(evict);
            if ((s = nc_exp_topk_insert(&r->exp, mon, path))) return s;
            if (new_best && e->always_save_nemo && (s = save_nemo(r))) return s;
        }
        if ((s = save_last(r))) return s;
    }
    if (e->create_early_stopping_callback) {
        double v = monitor_value(r, e->es_monitor, vals);
        if (e->es_check_finite && !isfinite(v)) {
            warn(r, "early stopping: the monitored metric is not finite");
            r->early_stopped = true;
        } else {
            bool improved = isnan(r->st.es_best) ||
                            (e->es_mode_max ? v > r->st.es_best + e->es_min_delta
                                            : v < r->st.es_best - e->es_min_delta);
            if (improved) {
                r->st.es_best = v;
                r->st.es_wait = 0;
            } else if (++r->st.es_wait >= e->es_patience) {
                r->early_stopped = true;
            }
            if (isfinite(e->es_stopping_threshold) &&
                (e->es_mode_max ? v >= e->es_stopping_threshold : v <= e->es_stopping_threshold))
                r->early_stopped = true;
            if (isfinite(e->es_divergence_threshold) &&
                (e->es_mode_max ? v <= e->es_divergence_threshold : v >= e->es_divergence_threshold))
                r->early_stopped = true;
        }
        if (r->early_stopped) nc_exp_log(&r->exp, "early stopping at step %lld", (long long)r->st.global_step);
    }
    return NC_OK;
}

/* Gradient check, clipping, lr, optimizer step. Returns false when the step
 * was skipped for a non-finite loss or gradient. */
static nc_status optimizer_step(run *r, bool loss_finite, bool *stepped) {
    *stepped = false;
    nc_params *pa = r->m->params;
    if (r->world > 1) {
        /* DDP: average gradients; every rank skips a step any rank found bad. */
        double t0 = nc_now_s();
        nc_status s = nc_grad_sync_all_reduce(r->gsync);
        r->win_comm_s += nc_now_s() - t0;
        int64_t bad = !loss_finite;
        if (!s) s = nc_comm_all_reduce(r->comm, &bad, 1, NC_COMM_I64, NC_COMM_MAX);
        if (s) return nc_error_prefix(s, "gradient all-reduce");
        loss_finite = !bad;
    }
    if (!loss_finite || !nc_grads_finite(pa)) {
        nc_params_zero_grad(pa);
        if (r->buf_bytes) buffers_copy(r, false);
        r->st.bad_steps_total++;
        r->win_batches = 0;
        char msg[256];
        snprintf(msg, sizeof msg, "step %lld skipped: non-finite %s (%lld skipped so far)",
                 (long long)r->st.global_step, loss_finite ? "gradient" : "loss",
                 (long long)r->st.bad_steps_total);
        warn(r, msg);
        return NC_OK;
    }
    nc_status s = nc_step_update(r->p, pa, r->opt, r->sched, r->st.global_step, &r->last_grad_norm);
    if (s) return s;
    r->st.global_step++;
    *stepped = true;
    return NC_OK;
}

static nc_status log_step(run *r) {
    if (r->world > 1) {
        /* the logged loss is the mean over all ranks' batches; throughput is global */
        double d[4] = {r->win_loss, (double)r->win_batches, r->win_items, r->win_seconds};
        if (nc_comm_all_reduce(r->comm, d, 4, NC_COMM_F64, NC_COMM_SUM) == NC_OK) {
            r->win_loss = d[0];
            r->win_batches = (int64_t)d[1];
            r->win_items = d[2];
            r->win_seconds = d[3];
        }
    }
    double t = nc_now_s(), dt = t - r->win_t0;
    double loss = r->win_batches ? r->win_loss / (double)r->win_batches : NAN;
    double ips = dt > 0 ? r->win_items / dt : 0, sps = dt > 0 ? r->win_seconds / dt : 0;
    double per_step = dt / (double)(r->p->log_every_n_steps > 0 ? r->p->log_every_n_steps : 1);
    double eta = r->max_steps > 0 ? per_step * (double)(r->max_steps - r->st.global_step) : -1;
    double lr = nc_optim_get_lr(r->opt);
    const char *keys[] = {"train_loss", "learning_rate", "global_step", "epoch", "train_step_timing in s",
                          "grad_allreduce_timing in s"};
    double steps = (double)(r->p->log_every_n_steps > 0 ? r->p->log_every_n_steps : 1);
    double vals[] = {loss, lr, (double)r->st.global_step, (double)r->st.epoch, per_step,
                     r->win_comm_s / steps};
    nc_status s = nc_exp_metrics(&r->exp, r->st.global_step, r->world > 1 ? 6 : 5, keys, vals);
    r->win_comm_s = 0;
    emit(r, (nc_train_event){.kind = NC_EV_STEP, .batch = r->st.batch_in_epoch, .loss = loss, .lr = lr,
                             .grad_norm = r->last_grad_norm, .items_per_s = ips,
                             .seconds_per_s = sps, .eta_s = eta,
                             .item_unit = r->train->item_unit ? r->train->item_unit
                                                              : r->m->cls->throughput_unit,
                             .seconds_unit = r->train->seconds_unit});
    r->win_t0 = t;
    r->win_items = r->win_seconds = r->win_loss = 0;
    r->win_batches = 0;
    return s;
}

static nc_status train_epoch(run *r) {
    const nc_trainer_params *p = r->p;
    nc_status s = r->train->begin_epoch(r->train->self, r->st.epoch, r->st.batch_in_epoch);
    if (s) return s;
    int64_t micro = 0;
    bool val_due_epoch = r->val && (r->st.epoch + 1) % (p->check_val_every_n_epoch > 0 ? p->check_val_every_n_epoch : 1) == 0;
    while (r->st.batch_in_epoch < r->n_batches && !r->stop && !r->early_stopped) {
        const void *b = NULL;
        const double tw = nc_now_s();
        s = r->train->next(r->train->self, &b);
        r->data_wait_s += nc_now_s() - tw;
        if (s) return s;
        const int64_t pos0 = r->st.batch_in_epoch;
        if (!b) {
            /* The source ran out before its planned count (the ASR loader passes
             * over batches whose every utterance is unreadable): the epoch is
             * complete; a partial accumulation still makes its step. */
            r->st.batch_in_epoch = r->n_batches;
            if (micro == 0) break;
        } else {
            if (micro == 0 && r->buf_bytes) buffers_copy(r, true);
            int64_t items = 0;
            double secs = 0;
            if (r->train->batch_size) r->train->batch_size(b, &items, &secs);
            float lv = NAN;
            float scale = p->accumulate_grad_batches > 1 ? 1.0f / (float)p->accumulate_grad_batches : 1.0f;
            s = nc_step_forward_backward(r->m, r->ctx, b, scale, &lv);
            if (s) return nc_error_prefix(s, "training step %lld", (long long)r->st.global_step);
            bool finite = isfinite(lv);
            /* The position in the epoch's plan, passed-over batches included:
             * what begin_epoch must skip to resume after this batch. */
            int64_t pos = r->train->batch_end ? r->train->batch_end(b) : pos0 + 1;
            r->st.batch_in_epoch = pos > pos0 ? pos : pos0 + 1;
            micro++;
            r->win_items += (double)items;
            r->win_seconds += secs;
            if (finite) {
                r->win_loss += lv;
                r->win_batches++;
            }
            r->any_bad |= !finite;
            if (micro < p->accumulate_grad_batches && r->st.batch_in_epoch < r->n_batches) continue;
        }
        micro = 0;
        bool stepped;
        if ((s = optimizer_step(r, !r->any_bad, &stepped))) return s;
        r->any_bad = false;
        r->bad_run = stepped ? 0 : r->bad_run + 1;
        if (!stepped && r->bad_run >= p->max_bad_steps)
            return nc_error(NC_ERR_NUMERIC,
                            "stopping: %lld consecutive steps had a non-finite loss or gradient "
                            "(the last good checkpoint is intact; lower the learning rate or check the data)",
                            (long long)r->bad_run);
        if (stepped && p->log_every_n_steps > 0 && r->st.global_step % p->log_every_n_steps == 0 &&
            (s = log_step(r)))
            return s;
        bool val_now = false;
        if (r->val && val_due_epoch) {
            /* A multiple of val_every in (pos0, position]: the same as position %
             * val_every == 0 unless the position jumped over passed-over batches. */
            if (r->val_every > 0 && r->st.batch_in_epoch / r->val_every > pos0 / r->val_every) val_now = true;
            if (r->st.batch_in_epoch >= r->n_batches) val_now = true;
        }
        if (!val_now && p->exp.every_n_train_steps > 0 && stepped &&
            r->st.global_step % p->exp.every_n_train_steps == 0 && r->exp.rank0 && (s = save_last(r)))
            return s;
        if (val_now && (s = validate(r))) return s;
        if (r->h->stop_flag && *r->h->stop_flag) r->stop = true;
        if (p->exp.max_time_per_run > 0 && nc_now_s() - r->t_start >= p->exp.max_time_per_run) {
            /* NeMo's StatelessTimer: stop cleanly and save, like the end of training. */
            nc_exp_log(&r->exp, "max_time_per_run reached at step %lld", (long long)r->st.global_step);
            r->time_up = true;
        }
        if (r->world > 1) {
            /* every rank stops at the same step when any rank is told to */
            int64_t f[2] = {r->stop, r->time_up};
            if ((s = nc_comm_all_reduce(r->comm, f, 2, NC_COMM_I64, NC_COMM_MAX))) return s;
            r->stop = f[0];
            r->time_up = f[1];
        }
        if (r->time_up) break;
        if (r->max_steps > 0 && r->st.global_step >= r->max_steps) break;
    }
    /* Checkpoints written at the last batch record batch_in_epoch == n_batches;
     * the epoch counter moves on only here, so names and logs say epoch=0 for
     * the first epoch, as Lightning's do. */
    if (r->st.batch_in_epoch >= r->n_batches) {
        r->st.epoch++;
        r->st.batch_in_epoch = 0;
    }
    return NC_OK;
}

static nc_status sync_sum(void *ud, double *buf, int64_t n) {
    return nc_comm_all_reduce(ud, buf, n, NC_COMM_F64, NC_COMM_SUM);
}

/* Rank 0's weights, buffers, optimizer state and train state to every rank:
 * all start identical (after init, init_from_nemo_model or a resume). */
static nc_status broadcast_state(run *r) {
    if (r->world <= 1) return NC_OK;
    nc_params *pa = r->m->params;
    nc_status s = nc_comm_broadcast(r->comm, nc_params_flat_data(pa), nc_params_flat_size(pa),
                                    NC_COMM_F32, 0);
    for (int64_t i = 0; i < nc_params_count(pa) && !s; i++)
        if (nc_params_kind_at(pa, i) == NC_PARAM_BUFFER)
            s = nc_comm_broadcast_bytes(r->comm, nc_params_at(pa, i)->data,
                                        (int64_t)nc_nbytes(nc_params_at(pa, i)), 0);
    nc_tensor view;
    for (int64_t i = 0; i < nc_optim_state_count(r->opt) && !s; i++) {
        nc_optim_state_at(r->opt, i, &view);
        s = nc_comm_broadcast_bytes(r->comm, view.data, (int64_t)nc_nbytes(&view), 0);
    }
    if (!s) s = nc_comm_broadcast_bytes(r->comm, &r->st, sizeof r->st, 0);
    return s ? nc_error_prefix(s, "broadcasting the initial state") : NC_OK;
}

/* "val_" + each metric name, the value arrays, and a listing for messages. */
static nc_status metric_tables(run *r) {
    const nc_model_class *c = r->m->cls;
    int n = c->n_metrics;
    size_t names_len = 16;
    for (int i = 0; i < n; i++) names_len += strlen(c->metrics[i].name) + 8;
    r->val_names = nc_calloc((size_t)n + 1, sizeof *r->val_names);
    r->val_percent = nc_calloc((size_t)n + 1, sizeof *r->val_percent);
    r->val_sums = nc_calloc((size_t)c->n_sums + 1, sizeof *r->val_sums);
    r->val_values = nc_calloc((size_t)n + 1, sizeof *r->val_values);
    r->val_text = nc_malloc(2 * names_len);
    if (!r->val_names || !r->val_percent || !r->val_sums || !r->val_values || !r->val_text)
        return nc_error(NC_ERR_OOM, "trainer: metric tables");
    char *w = r->val_text;
    r->val_list = w;
    w[0] = 0;
    for (int i = 0; i < n; i++) w += sprintf(w, "%sval_%s", i ? ", " : "", c->metrics[i].name);
    w++;
    for (int i = 0; i < n; i++) {
        r->val_names[i] = w;
        w += sprintf(w, "val_%s", c->metrics[i].name) + 1;
        r->val_percent[i] = c->metrics[i].percent;
    }
    r->val_names[n] = "epoch";
    return NC_OK;
}

static nc_status setup(run *r) {
    const nc_trainer_params *p = r->p;
    nc_status s;
    if ((s = metric_tables(r))) return s;
    if (r->val && !known_monitor(r, p->exp.monitor) && p->exp.create_checkpoint_callback)
        return nc_error(NC_ERR_CONFIG, "exp_manager.checkpoint_callback_params.monitor: '%s' is not logged by %s "
                        "(it logs %s)", p->exp.monitor, r->m->cls->target, r->val_list);
    if (r->val && p->exp.create_early_stopping_callback && !known_monitor(r, p->exp.es_monitor))
        return nc_error(NC_ERR_CONFIG, "exp_manager.early_stopping_callback_params.monitor: '%s' is not logged by "
                        "%s (it logs %s)", p->exp.es_monitor, r->m->cls->target, r->val_list);
    r->comm = r->h->comm;
    r->rank = r->comm ? nc_comm_rank(r->comm) : 0;
    r->world = r->comm ? nc_comm_size(r->comm) : 1;
    int64_t want = p->devices > 0 ? p->devices * (p->num_nodes > 0 ? p->num_nodes : 1) : -1;
    if (want > 0 && want != r->world)
        return nc_error(NC_ERR_CONFIG,
                        "trainer.devices (%lld) x trainer.num_nodes (%lld) = %lld processes, but %d "
                        "were started (run with mpirun -np %lld, or set trainer.devices=-1)",
                        (long long)p->devices, (long long)p->num_nodes, (long long)want, r->world,
                        (long long)want);
    nc_ctx_params cp = nc_ctx_default_params();
    /* Different dropout/augmentation streams per rank, as DDP processes have. */
    cp.seed = p->seed + (uint64_t)r->rank * 1000003u;
    cp.precision = p->precision;
    if ((s = nc_ctx_create(&cp, &r->ctx))) return s;
    if ((s = nc_optim_create(r->m->params, &p->optim, &r->opt))) return s;
    if (r->world > 1) {
        nc_grad_sync_params gp = nc_grad_sync_default_params();
        if ((s = nc_grad_sync_create(r->comm, nc_params_flat_grad(r->m->params),
                                     nc_params_flat_size(r->m->params), &gp, &r->gsync)))
            return s;
        if (p->sync_batchnorm) nc_ctx_set_sync(r->ctx, sync_sum, r->comm);
    }
    r->n_batches = r->train->num_batches(r->train->self);
    if (p->limit_train_batches > 0 && p->limit_train_batches < r->n_batches) r->n_batches = p->limit_train_batches;
    if (r->n_batches <= 0) return nc_error(NC_ERR_CONFIG, "the training set yields no batches");
    int64_t acc = p->accumulate_grad_batches;
    int64_t steps_per_epoch = (r->n_batches + acc - 1) / acc;
    r->max_steps = p->max_steps > 0 ? p->max_steps : p->max_epochs * steps_per_epoch;
    if (p->has_sched) {
        nc_sched_params sp = p->sched;
        /* NeMo fills sched.max_steps from the trainer when it is not given. */
        if (sp.max_steps < 0) sp.max_steps = r->max_steps;
        if ((s = nc_sched_create(&sp, &r->sched))) return nc_error_prefix(s, "model.optim.sched");
    }
    r->val_every = p->val_check_interval > 1.0
                       ? (int64_t)p->val_check_interval
                       : (int64_t)floor((double)r->n_batches * p->val_check_interval);
    if (r->val_every <= 0) r->val_every = 1;
    for (int64_t i = 0; i < nc_params_count(r->m->params); i++)
        if (nc_params_kind_at(r->m->params, i) == NC_PARAM_BUFFER) r->buf_bytes += nc_nbytes(nc_params_at(r->m->params, i));
    if (r->buf_bytes && !(r->buf_snapshot = nc_malloc(r->buf_bytes)))
        return nc_error(NC_ERR_OOM, "trainer: %zu bytes for a copy of the model's buffers", r->buf_bytes);
    r->st.best_metric = r->st.es_best = r->st.last_monitor = NAN;
    r->last_saved_step = -1;
    if (r->h->root_cfg) {
        size_t len;
        if ((s = nc_cfg_emit(r->h->root_cfg, NC_CFG_EMIT_RESOLVE, &r->config_yaml, &len))) return s;
    }
    return NC_OK;
}

nc_status nc_trainer_fit(const nc_trainer_params *p, nc_model *m, nc_data_source *train,
                         nc_data_source *val, const nc_trainer_hooks *hooks, nc_fit_result *out) {
    run *r = nc_calloc(1, sizeof *r);
    if (!r) return nc_error(NC_ERR_OOM, "trainer");
    nc_trainer_hooks none = {0};
    r->p = p;
    r->h = hooks ? hooks : &none;
    r->m = m;
    r->train = train;
    r->val = val;
    r->t_start = r->win_t0 = nc_now_s();
    memset(out, 0, sizeof *out);
    nc_status s = setup(r);
    if (!s) s = nc_exp_setup(&r->exp, &p->exp, r->h, r->rank == 0);
    if (!s && r->rank == 0 && r->exp.resume_from[0]) {
        s = nc_ckpt_load(r->exp.resume_from, m, r->opt, &r->st);
        if (!s) {
            r->resumed = true;
            *nc_ctx_rng(r->ctx) = r->st.rng;
            if (r->st.batch_in_epoch >= r->n_batches) {
                r->st.epoch++;
                r->st.batch_in_epoch = 0;
            }
            nc_exp_log(&r->exp, "resumed from %s at step %lld (epoch %lld, batch %lld)",
                       r->exp.resume_from, (long long)r->st.global_step, (long long)r->st.epoch,
                       (long long)r->st.batch_in_epoch);
        } else {
            s = nc_error_prefix(s, "resuming");
        }
    }
    if (r->world > 1) {
        /* A failure on rank 0 (say, a corrupt checkpoint) must stop every rank. */
        int64_t f[2] = {s != NC_OK, r->rank == 0 && r->exp.resume_from[0]};
        nc_status cs = nc_comm_all_reduce(r->comm, f, 2, NC_COMM_I64, NC_COMM_MAX);
        if (!s && cs) s = cs;
        if (!s && f[0]) s = nc_error(NC_ERR_COMM, "another rank failed to set up the run");
        r->resumed = f[1];
        if (!s) s = broadcast_state(r);
        if (!s && r->resumed && r->rank > 0) {
            /* The checkpoint holds rank 0's dropout stream; the others get
             * their own, fixed by the seed, the rank and the step. */
            nc_rng_seed(nc_ctx_rng(r->ctx), p->seed + (uint64_t)r->rank * 1000003u +
                                                (uint64_t)r->st.global_step * 7919u);
        }
    }
    snprintf(out->log_dir, sizeof out->log_dir, "%s", r->exp.log_dir);
    if (!s) {
        nc_exp_log(&r->exp, "training %s: %lld parameters, %lld batches per epoch, max_steps %lld",
                   m->cls->target, (long long)nc_params_num_trainable(m->params),
                   (long long)r->n_batches, (long long)r->max_steps);
        emit(r, (nc_train_event){.kind = NC_EV_START});
    }
    /* Lightning's sanity check: a few validation batches before training. */
    if (!s && val && p->num_sanity_val_steps > 0 && !r->resumed) {
        s = run_validation(r, p->num_sanity_val_steps, r->val_sums);
        if (s) s = nc_error_prefix(s, "sanity validation");
    }
    while (!s && !r->stop && !r->early_stopped && !r->time_up &&
           (p->max_epochs < 0 || r->st.epoch < p->max_epochs) &&
           (r->max_steps <= 0 || r->st.global_step < r->max_steps)) {
        s = train_epoch(r);
    }
    if (!s && r->stop) {
        /* SIGINT/SIGTERM: keep the state to resume exactly. */
        if (r->exp.rank0) s = save_last(r);
        if (!s) s = nc_error(NC_ERR_INTERRUPTED, "training interrupted at step %lld; checkpoint saved in %s",
                             (long long)r->st.global_step, r->exp.ckpt_dir);
        out->interrupted = true;
    } else if (!s && r->exp.rank0) {
        s = save_last(r);
        /* The end marker tells resume_if_exists the run finished; a run cut
         * by max_time_per_run is meant to be resumed, so it gets none. */
        if (!s && p->exp.create_checkpoint_callback && !r->time_up) {
            char *path = nc_strdupf("%s/%s--end.ckpt", r->exp.ckpt_dir, r->exp.name);
            s = path ? save_ckpt(r, path) : nc_error(NC_ERR_OOM, "path of the end checkpoint");
            nc_free(path);
        }
        if (!s && p->exp.save_nemo_on_train_end) {
            if (p->exp.save_best_model) {
                const char *best = nc_exp_topk_best(&r->exp, NULL);
                if (best[0]) s = nc_ckpt_load(best, m, NULL, NULL);
            }
            if (!s) s = save_nemo(r);
        }
    }
    out->global_step = r->st.global_step;
    out->epoch = r->st.epoch;
    out->best_metric = r->st.best_metric;
    out->early_stopped = r->early_stopped;
    snprintf(out->best_ckpt, sizeof out->best_ckpt, "%s", nc_exp_topk_best(&r->exp, NULL));
    if (s && s != NC_ERR_INTERRUPTED) nc_exp_log(&r->exp, "ERROR %s", nc_last_error());
    if (!s || s == NC_ERR_INTERRUPTED) {
        /* Whether the data pipeline kept up: the share of the run spent
         * waiting for training batches (loader workers, augmentation). */
        double el = nc_now_s() - r->t_start;
        nc_exp_log(&r->exp, "waited %.1f s of %.1f s for training batches (%.1f%%)", r->data_wait_s, el,
                   el > 0 ? 100 * r->data_wait_s / el : 0);
        emit(r, (nc_train_event){.kind = NC_EV_END, .data_wait_s = r->data_wait_s});
    }
    nc_status cs = nc_exp_close(&r->exp);
    if (!s) s = cs;
    nc_grad_sync_free(r->gsync);
    nc_sched_free(r->sched);
    nc_optim_free(r->opt);
    nc_ctx_free(r->ctx);
    nc_free(r->config_yaml);
    nc_free(r->buf_snapshot);
    nc_free(r->val_names);
    nc_free(r->val_percent);
    nc_free(r->val_sums);
    nc_free(r->val_values);
    nc_free(r->val_text);
    nc_free(r);
    return s;
}
