/* Experiment manager: NeMo's log layout and resume rules. */
#include "train/exp_manager.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "core/vec.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/safetensors.h"

/* snprintf into one of nc_expm's fixed path fields, refusing to shorten. */
static nc_status fit(char *dst, size_t cap, const char *what, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static nc_status fit(char *dst, size_t cap, const char *what, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < cap) return NC_OK;
    dst[0] = 0;
    return nc_error(NC_ERR_INVALID_ARG, "path too long: %s of %d bytes (at most %zu)", what, n, cap - 1);
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Lightning's TensorBoardLogger: version_N with N one past the largest existing. */
static int64_t next_version(const char *dir) {
    DIR *d = opendir(dir);
    int64_t next = 0;
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long long v;
        if (sscanf(de->d_name, "version_%lld", &v) == 1 && v + 1 > next) next = v + 1;
    }
    closedir(d);
    return next;
}

/* global_step recorded in a checkpoint's metadata, -1 when unreadable. */
static int64_t ckpt_step(const char *path) {
    nc_st_file *f;
    if (nc_st_open(path, &f) != NC_OK) return -1;
    const char *v = nc_st_metadata_get(f, "global_step");
    char *end = NULL;
    long long step = v ? strtoll(v, &end, 10) : -1;
    if (!v || *end) step = -1;
    nc_st_close(f);
    return (int64_t)step;
}

/* Several *last.ckpt: the trainer writes the new -last file before removing
 * the old one (the name carries the epoch and metric, so they can differ), and
 * a crash in between leaves both, each complete (atomic writes). The one with
 * the highest global_step is the latest state. NeMo's check_resume raises here;
 * nemoc resumes, since a kill -9 at that moment must not cost the run. */
static nc_status newest_last(nc_expm *e) {
    DIR *d = opendir(e->ckpt_dir);
    if (!d) return nc_error(NC_ERR_IO, "cannot list '%s': %s", e->ckpt_dir, strerror(errno));
    int64_t best = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!ends_with(de->d_name, "last.ckpt")) continue;
        char *path = nc_strdupf("%s/%s", e->ckpt_dir, de->d_name);
        int64_t step = path ? ckpt_step(path) : -1;
        nc_status st = step > best ? fit(e->resume_from, sizeof e->resume_from, "checkpoint", "%s", path) : NC_OK;
        nc_free(path);
        if (st) {
            closedir(d);
            return st;
        }
        if (step > best) best = step;
    }
    closedir(d);
    if (best < 0)
        return nc_error(NC_ERR_FORMAT, "several *last.ckpt files in '%s' and none is a readable nemoc checkpoint",
                        e->ckpt_dir);
    return NC_OK;
}

/* check_resume: *end.ckpt means a finished run, exactly one *last.ckpt resumes. */
static nc_status find_resume(nc_expm *e) {
    const nc_exp_params *p = e->p;
    nc_status st;
    if (p->resume_from_checkpoint &&
        (st = fit(e->resume_from, sizeof e->resume_from, "resume_from_checkpoint", "%s", p->resume_from_checkpoint)))
        return st;
    if (!p->resume_if_exists) return NC_OK;
    DIR *d = opendir(e->ckpt_dir);
    char end[sizeof e->resume_from] = "", last[sizeof e->resume_from] = "";
    int n_last = 0;
    st = NC_OK;
    if (d) {
        struct dirent *de;
        while (!st && (de = readdir(d))) {
            if (ends_with(de->d_name, "end.ckpt"))
                st = fit(end, sizeof end, "checkpoint", "%s/%s", e->ckpt_dir, de->d_name);
            else if (ends_with(de->d_name, "last.ckpt")) {
                n_last++;
                st = fit(last, sizeof last, "checkpoint", "%s/%s", e->ckpt_dir, de->d_name);
            }
        }
        closedir(d);
        if (st) return st;
    }
    if (!end[0] && !last[0]) {
        if (!p->resume_ignore_no_checkpoint)
            return nc_error(NC_ERR_NOT_FOUND,
                            "exp_manager.resume_if_exists: no checkpoint in '%s' (set "
                            "exp_manager.resume_ignore_no_checkpoint=true to start fresh)",
                            e->ckpt_dir);
        return NC_OK;
    }
    if (end[0]) {
        if (!p->resume_past_end)
            return nc_error(NC_ERR_CONFIG,
                            "found '%s': the previous run already completed (set "
                            "exp_manager.resume_past_end=true to resume from it)",
                            end);
        return fit(e->resume_from, sizeof e->resume_from, "checkpoint", "%s", end);
    }
    if (n_last > 1) return newest_last(e);
    return fit(e->resume_from, sizeof e->resume_from, "checkpoint", "%s", last);
}

/* Moves the files (not folders) of an earlier run in log_dir into run_N. */
static nc_status move_old_files(nc_expm *e) {
    DIR *d = opendir(e->log_dir);
    if (!d) return NC_OK;
    int runs = 0, files = 0;
    struct dirent *de;
    nc_status s = NC_OK;
    while (!s && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *path = nc_strdupf("%s/%s", e->log_dir, de->d_name);
        if (!path) s = NC_ERR_OOM;
        else if (is_dir(path)) runs += !strncmp(de->d_name, "run_", 4);
        else files++;
        nc_free(path);
    }
    if (s || !files) {
        closedir(d);
        return s;
    }
    char *run_dir = nc_strdupf("%s/run_%d", e->log_dir, runs);
    s = run_dir ? nc_mkdir_p(run_dir) : NC_ERR_OOM;
    rewinddir(d);
    while (!s && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *path = nc_strdupf("%s/%s", e->log_dir, de->d_name);
        char *dst = nc_strdupf("%s/%s", run_dir, de->d_name);
        if (!path || !dst) s = NC_ERR_OOM;
        else if (!is_dir(path) && rename(path, dst) != 0)
            s = nc_error(NC_ERR_IO, "cannot move '%s' to '%s': %s", path, dst, strerror(errno));
        nc_free(path);
        nc_free(dst);
    }
    closedir(d);
    nc_free(run_dir);
    return s;
}

/* A temp file of an atomic write ("<name>.tmp.<pid>.<random hex>",
 * src/io/fileutil.c; older nemoc: "<name>.tmp.<pid>") whose writer is gone:
 * left by a process killed mid-write. */
static bool stale_temp(const char *name) {
    const char *t = strstr(name, ".tmp.");
    if (!t) return false;
    char *end;
    long pid = strtol(t + 5, &end, 10);
    if (*end == '.' && end[1] && strspn(end + 1, "0123456789abcdef") == strlen(end + 1)) end += strlen(end);
    if (*end || pid <= 0) return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Appends (metric, path) to the top-k list, taking ownership of path
 * (freed on failure). */
static nc_status topk_append(nc_expm *e, double metric, char *path) {
    if (nc_vec_reserve(&e->topk, &e->cap_topk, e->n_topk + 1, sizeof *e->topk)) {
        nc_free(path);
        return nc_error(NC_ERR_OOM, "top-k list of %lld checkpoints", (long long)(e->n_topk + 1));
    }
    e->topk[e->n_topk++] = (nc_exp_topk_entry){.metric = metric, .path = path};
    return NC_OK;
}

/* Rebuilds the top-k list from "<monitor>=<value>" in existing checkpoint
 * names. When resuming, other *last.ckpt files (older states left by a crash
 * between writing a new -last file and removing the old one) and temp files of
 * killed writers are removed; returns how many. */
static nc_status scan_topk(nc_expm *e, int *removed_out) {
    DIR *d = opendir(e->ckpt_dir);
    if (!d) return NC_OK;
    char *pat = nc_strdupf("%s=", e->p->monitor);
    nc_status st = pat ? NC_OK : NC_ERR_OOM;
    struct dirent *de;
    int removed = 0;
    while (!st && (de = readdir(d))) {
        char *path = nc_strdupf("%s/%s", e->ckpt_dir, de->d_name);
        if (!path) {
            st = NC_ERR_OOM;
            break;
        }
        const char *m = strstr(de->d_name, pat);
        if (stale_temp(de->d_name)) {
            removed += unlink(path) == 0;
        } else if (!ends_with(de->d_name, ".ckpt")) {
            /* not a checkpoint */
        } else if (ends_with(de->d_name, "last.ckpt")) {
            if (e->p->resume_if_exists && ends_with(e->resume_from, "last.ckpt") && strcmp(path, e->resume_from) != 0)
                removed += unlink(path) == 0;
            else
                st = fit(e->last_path, sizeof e->last_path, "checkpoint", "%s", path);
        } else if (m) {
            st = topk_append(e, strtod(m + strlen(pat), NULL), path);
            path = NULL; /* the list owns it, or it was freed */
        }
        nc_free(path);
    }
    closedir(d);
    nc_free(pat);
    *removed_out = removed;
    return st;
}

static nc_status write_text(const char *path, const char *text) {
    return nc_write_file_atomic(path, text, strlen(text));
}

/* NeMo's name, version and checkpoint filename are names inside exp_dir,
 * never paths: "../../x" or "a/b" would put the run's files (and a later
 * resume's clean-up) outside it. */
static nc_status check_name(const char *key, const char *v, const char *folder_keys) {
    if (!v) return NC_OK;
    if (!*v || !strcmp(v, ".") || !strcmp(v, ".."))
        return nc_error(NC_ERR_CONFIG, "%s: '%s' is not a usable name", key, v);
    if (strchr(v, '/'))
        return nc_error(NC_ERR_CONFIG, "%s: '%s' must be a name, not a path (no '/'; the folder is set by %s)", key,
                        v, folder_keys);
    return NC_OK;
}

static nc_status check_names(const nc_exp_params *p) {
    const char *env = getenv("NEMO_EXPM_VERSION");
    const char *dirs = "exp_manager.exp_dir or exp_manager.explicit_log_dir";
    nc_status s = check_name("exp_manager.name", p->name, dirs);
    if (!s) s = check_name("exp_manager.version", p->version, dirs);
    if (!s && !p->version && env && *env) s = check_name("NEMO_EXPM_VERSION", env, dirs);
    if (!s)
        s = check_name("exp_manager.checkpoint_callback_params.filename", p->filename,
                       "exp_manager.checkpoint_callback_params.dirpath");
    return s;
}

/* Remembers the first failed log write (see nc_expm.log_err). */
static void log_failed(nc_expm *e, const char *what) {
    if (e->log_err) return;
    e->log_err = nc_error(NC_ERR_IO, "cannot write %s in '%s': %s", what, e->log_dir, strerror(errno));
    snprintf(e->log_msg, sizeof e->log_msg, "%s", nc_last_error());
}

static nc_status write_run_files(nc_expm *e, const nc_trainer_hooks *h) {
    size_t cap = 16;
    for (int i = 0; i < h->argc; i++) cap += strlen(h->argv[i]) + 1;
    char *args = nc_calloc(1, cap);
    if (!args) return nc_error(NC_ERR_OOM, "cmd-args.log");
    for (int i = 0; i < h->argc; i++) {
        if (i) strcat(args, " ");
        strcat(args, h->argv[i]);
    }
    char *path = nc_strdupf("%s/cmd-args.log", e->log_dir);
    nc_status s = path ? write_text(path, args) : NC_ERR_OOM;
    nc_free(path);
    nc_free(args);
    if (s || !h->root_cfg) return s;
    /* hparams.yaml as Lightning writes the model's hyper-parameters: cfg: <model section> */
    nc_cfg *model = NULL, *hp = NULL;
    if (nc_cfg_get_node(h->root_cfg, "model", &model) || !model) return NC_OK;
    if ((s = nc_cfg_new(NC_CFG_MAP, &hp))) return s;
    nc_cfg *resolved = NULL;
    if (!(s = nc_cfg_copy(model, true, &resolved))) s = nc_cfg_set_node(hp, "cfg", resolved);
    nc_cfg_free(resolved);
    path = s ? NULL : nc_strdupf("%s/hparams.yaml", e->log_dir);
    if (!s) s = path ? nc_cfg_save(hp, path, 0) : NC_ERR_OOM;
    nc_free(path);
    nc_cfg_free(hp);
    return s;
}

nc_status nc_exp_setup(nc_expm *e, const nc_exp_params *p, const nc_trainer_hooks *h, bool rank0) {
    memset(e, 0, sizeof *e);
    e->p = p;
    e->rank0 = rank0;
    nc_status s = check_names(p);
    if (!s) s = fit(e->name, sizeof e->name, "exp_manager.name", "%s", p->name ? p->name : "default");
    if (s) return s;
    if (p->explicit_log_dir) {
        s = fit(e->log_dir, sizeof e->log_dir, "exp_manager.explicit_log_dir", "%s", p->explicit_log_dir);
    } else {
        char *base = nc_strdupf("%s/%s", p->exp_dir ? p->exp_dir : "nemo_experiments", e->name);
        if (!base) return NC_ERR_OOM;
        const char *env = getenv("NEMO_EXPM_VERSION");
        if (p->version || (env && *env)) {
            s = fit(e->log_dir, sizeof e->log_dir, "log folder", "%s/%s", base, p->version ? p->version : env);
        } else if (p->resume_if_exists) {
            /* NeMo: no version folder when resuming, so later runs find it */
            s = fit(e->log_dir, sizeof e->log_dir, "log folder", "%s", base);
        } else if (p->use_datetime_version) {
            char ts[64];
            time_t now = time(NULL);
            struct tm tmv;
            localtime_r(&now, &tmv);
            strftime(ts, sizeof ts, "%Y-%m-%d_%H-%M-%S", &tmv);
            s = fit(e->log_dir, sizeof e->log_dir, "log folder", "%s/%s", base, ts);
        } else {
            s = fit(e->log_dir, sizeof e->log_dir, "log folder", "%s/version_%lld", base, (long long)next_version(base));
        }
        nc_free(base);
    }
    if (s) return s;
    if (p->dirpath)
        s = fit(e->ckpt_dir, sizeof e->ckpt_dir, "checkpoint_callback_params.dirpath", "%s", p->dirpath);
    else
        s = fit(e->ckpt_dir, sizeof e->ckpt_dir, "checkpoint folder", "%s/checkpoints", e->log_dir);
    if (!s) s = find_resume(e);
    if (s || !rank0) return s;
    if ((s = nc_mkdir_p(e->log_dir))) return s;
    if (p->resume_if_exists && (s = move_old_files(e))) return s;
    if ((s = nc_mkdir_p(e->ckpt_dir))) return s;
    int removed = 0;
    if ((s = scan_topk(e, &removed))) return s;
    if ((s = write_run_files(e, h))) return s;
    char *log = nc_strdupf("%s/nemo_log_globalrank-0_localrank-0.txt", e->log_dir);
    char *metrics = log ? nc_strdupf("%s/metrics.jsonl", e->log_dir) : NULL;
    if (!metrics) {
        nc_free(log);
        return nc_error(NC_ERR_OOM, "log file names in '%s'", e->log_dir);
    }
    s = nc_fopen_write(log, "log file", true, &e->log_file);
    if (!s) s = nc_fopen_write(metrics, "metrics log", true, &e->metrics);
    nc_free(log);
    nc_free(metrics);
    if (s) return s;
    if (removed) nc_exp_log(e, "removed %d stale file(s) of an interrupted checkpoint write in %s", removed, e->ckpt_dir);
    if (p->create_tensorboard_logger && (s = nc_tb_open(e->log_dir, &e->tb))) return s;
    return NC_OK;
}

nc_status nc_exp_close(nc_expm *e) {
    if (e->log_file && fclose(e->log_file) != 0) log_failed(e, "the log file");
    if (e->metrics && fclose(e->metrics) != 0) log_failed(e, "metrics.jsonl");
    nc_status tb = nc_tb_close(e->tb);
    if (tb && !e->log_err) {
        e->log_err = tb;
        snprintf(e->log_msg, sizeof e->log_msg, "%s", nc_last_error());
    }
    e->log_file = e->metrics = NULL;
    e->tb = NULL;
    for (int64_t i = 0; i < e->n_topk; i++) nc_free(e->topk[i].path);
    nc_free(e->topk);
    e->topk = NULL;
    e->n_topk = e->cap_topk = 0;
    nc_status s = e->log_err;
    if (s) nc_error(s, "%s", e->log_msg);
    e->log_err = NC_OK;
    return s;
}

void nc_exp_log(nc_expm *e, const char *fmt, ...) {
    if (!e->log_file) return;
    char ts[64];
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tmv);
    int bad = fprintf(e->log_file, "[NeMo I %s] ", ts) < 0;
    va_list ap;
    va_start(ap, fmt);
    bad |= vfprintf(e->log_file, fmt, ap) < 0;
    va_end(ap);
    bad |= fputc('\n', e->log_file) == EOF;
    bad |= fflush(e->log_file) != 0;
    if (bad) log_failed(e, "the log file");
}

nc_status nc_exp_metrics(nc_expm *e, int64_t step, int n, const char *const *keys, const double *values) {
    if (e->metrics) {
        int bad = fprintf(e->metrics, "{\"step\": %lld", (long long)step) < 0;
        for (int i = 0; i < n; i++) {
            if (isfinite(values[i]))
                bad |= fprintf(e->metrics, ", \"%s\": %.9g", keys[i], values[i]) < 0;
            else
                bad |= fprintf(e->metrics, ", \"%s\": null", keys[i]) < 0;
        }
        bad |= fputs("}\n", e->metrics) == EOF;
        bad |= fflush(e->metrics) != 0;
        if (bad) log_failed(e, "metrics.jsonl");
    }
    if (e->tb && !e->log_err) {
        nc_status s = NC_OK;
        for (int i = 0; i < n && !s; i++) s = nc_tb_scalar(e->tb, keys[i], values[i], step);
        if (!s) s = nc_tb_flush(e->tb);
        if (s) {
            e->log_err = s;
            snprintf(e->log_msg, sizeof e->log_msg, "%s", nc_last_error());
        }
    }
    if (e->log_err) return nc_error(e->log_err, "%s", e->log_msg);
    return NC_OK;
}

nc_status nc_exp_ckpt_path(const nc_expm *e, double monitor, int64_t epoch, int64_t step,
                           const char *suffix, char *out, size_t len) {
    char *own = e->p->filename ? NULL : nc_strdupf("%s--{%s:.4f}-{epoch}", e->name, e->p->monitor);
    const char *tmpl = e->p->filename ? e->p->filename : own;
    if (!tmpl) return NC_ERR_OOM;
    /* Lightning's format_checkpoint_name with auto_insert_metric_name. */
    nc_strbuf name = {0};
    for (const char *c = tmpl; *c;) {
        if (*c != '{') {
            nc_sb_putc(&name, *c++);
            continue;
        }
        const char *close = strchr(c, '}');
        if (!close) break;
        char *key = nc_strdupf("%.*s", (int)(close - c - 1), c + 1);
        if (!key) {
            name.oom = true;
            break;
        }
        char *colon = strchr(key, ':');
        const char *fmt = colon ? colon + 1 : NULL;
        if (colon) *colon = 0;
        if (!strcmp(key, "epoch"))
            nc_sb_appendf(&name, "epoch=%lld", (long long)epoch);
        else if (!strcmp(key, "step"))
            nc_sb_appendf(&name, "step=%lld", (long long)step);
        else if (fmt && fmt[0] == '.' && fmt[strlen(fmt) - 1] == 'f')
            nc_sb_appendf(&name, "%s=%.*f", key, atoi(fmt + 1), monitor);
        else
            nc_sb_appendf(&name, "%s=%g", key, monitor);
        nc_free(key);
        c = close + 1;
    }
    nc_status s = name.oom ? nc_error(NC_ERR_OOM, "checkpoint name")
                           : fit(out, len, "checkpoint", "%s/%s%s.ckpt", e->ckpt_dir, nc_sb_str(&name),
                                 suffix ? suffix : "");
    nc_sb_free(&name);
    nc_free(own);
    return s;
}

bool nc_exp_better(const nc_expm *e, double a, double b) {
    if (isnan(b)) return !isnan(a);
    return e->p->mode_max ? a > b : a < b;
}

bool nc_exp_topk_accepts(const nc_expm *e, double metric, char *evict, size_t len) {
    evict[0] = 0;
    int64_t k = e->p->save_top_k;
    if (k == 0 || !isfinite(metric)) return false;
    if (k < 0 || e->n_topk < k) return true;
    int64_t worst = 0;
    for (int64_t i = 1; i < e->n_topk; i++)
        if (nc_exp_better(e, e->topk[worst].metric, e->topk[i].metric)) worst = i;
    if (!nc_exp_better(e, metric, e->topk[worst].metric)) return false;
    /* A shortened name would evict the wrong file: refuse instead (the
     * caller's buffer holds any path it built, so this does not happen). */
    return fit(evict, len, "checkpoint to evict", "%s", e->topk[worst].path) == NC_OK;
}

nc_status nc_exp_topk_insert(nc_expm *e, double metric, const char *path) {
    for (int64_t i = 0; i < e->n_topk; i++)
        if (!strcmp(e->topk[i].path, path)) {
            e->topk[i].metric = metric;
            return NC_OK;
        }
    /* Drop entries whose file was evicted. */
    int64_t w = 0;
    for (int64_t i = 0; i < e->n_topk; i++) {
        if (access(e->topk[i].path, F_OK) == 0) e->topk[w++] = e->topk[i];
        else nc_free(e->topk[i].path);
    }
    e->n_topk = w;
    char *own = nc_strdup(path);
    if (!own) return nc_error(NC_ERR_OOM, "top-k entry '%s'", path);
    return topk_append(e, metric, own);
}

const char *nc_exp_topk_best(const nc_expm *e, double *metric) {
    int64_t best = -1;
    for (int64_t i = 0; i < e->n_topk; i++)
        if (best < 0 || nc_exp_better(e, e->topk[i].metric, e->topk[best].metric)) best = i;
    if (metric) *metric = best < 0 ? NAN : e->topk[best].metric;
    return best < 0 ? "" : e->topk[best].path;
}
