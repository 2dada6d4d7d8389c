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

#include "nemoc/alloc.h"
#include "nemoc/safetensors.h"

static nc_status mkdirs(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return nc_error(NC_ERR_IO, "cannot create folder '%s': %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return nc_error(NC_ERR_IO, "cannot create folder '%s': %s", tmp, strerror(errno));
    return NC_OK;
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
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", e->ckpt_dir, de->d_name);
        int64_t step = ckpt_step(path);
        if (step > best) {
            best = step;
            snprintf(e->resume_from, sizeof e->resume_from, "%s", path);
        }
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
    if (p->resume_from_checkpoint) snprintf(e->resume_from, sizeof e->resume_from, "%s", p->resume_from_checkpoint);
    if (!p->resume_if_exists) return NC_OK;
    DIR *d = opendir(e->ckpt_dir);
    char end[1024] = "", last[1024] = "";
    int n_last = 0;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (ends_with(de->d_name, "end.ckpt"))
                snprintf(end, sizeof end, "%s/%s", e->ckpt_dir, de->d_name);
            else if (ends_with(de->d_name, "last.ckpt")) {
                n_last++;
                snprintf(last, sizeof last, "%s/%s", e->ckpt_dir, de->d_name);
            }
        }
        closedir(d);
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
        snprintf(e->resume_from, sizeof e->resume_from, "%s", end);
        return NC_OK;
    }
    if (n_last > 1) return newest_last(e);
    snprintf(e->resume_from, sizeof e->resume_from, "%s", last);
    return NC_OK;
}

/* Moves the files (not folders) of an earlier run in log_dir into run_N. */
static nc_status move_old_files(nc_expm *e) {
    DIR *d = opendir(e->log_dir);
    if (!d) return NC_OK;
    int runs = 0, files = 0;
    struct dirent *de;
    char path[2048];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", e->log_dir, de->d_name);
        if (is_dir(path)) runs += !strncmp(de->d_name, "run_", 4);
        else files++;
    }
    if (!files) {
        closedir(d);
        return NC_OK;
    }
    char run_dir[1100];
    snprintf(run_dir, sizeof run_dir, "%s/run_%d", e->log_dir, runs);
    nc_status s = mkdirs(run_dir);
    rewinddir(d);
    while (!s && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", e->log_dir, de->d_name);
        if (is_dir(path)) continue;
        char dst[2200];
        snprintf(dst, sizeof dst, "%s/%s", run_dir, de->d_name);
        if (rename(path, dst) != 0)
            s = nc_error(NC_ERR_IO, "cannot move '%s' to '%s': %s", path, dst, strerror(errno));
    }
    closedir(d);
    return s;
}

/* A temp file of an atomic write ("<name>.tmp.<pid>", src/io/fileutil.c)
 * whose writer is gone: left by a process killed mid-write. */
static bool stale_temp(const char *name) {
    const char *t = strstr(name, ".tmp.");
    if (!t) return false;
    char *end;
    long pid = strtol(t + 5, &end, 10);
    if (*end || pid <= 0) return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Rebuilds the top-k list from "<monitor>=<value>" in existing checkpoint
 * names. When resuming, other *last.ckpt files (older states left by a crash
 * between writing a new -last file and removing the old one) and temp files of
 * killed writers are removed; returns how many. */
static int scan_topk(nc_expm *e) {
    DIR *d = opendir(e->ckpt_dir);
    if (!d) return 0;
    char pat[300];
    snprintf(pat, sizeof pat, "%s=", e->p->monitor);
    struct dirent *de;
    int removed = 0;
    while ((de = readdir(d))) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", e->ckpt_dir, de->d_name);
        if (stale_temp(de->d_name)) {
            removed += unlink(path) == 0;
            continue;
        }
        if (!ends_with(de->d_name, ".ckpt")) continue;
        if (ends_with(de->d_name, "last.ckpt")) {
            if (e->p->resume_if_exists && ends_with(e->resume_from, "last.ckpt") && strcmp(path, e->resume_from) != 0) {
                removed += unlink(path) == 0;
                continue;
            }
            snprintf(e->last_path, sizeof e->last_path, "%s", path);
            continue;
        }
        const char *m = strstr(de->d_name, pat);
        if (!m || e->n_topk >= NC_EXP_MAX_TOPK) continue;
        e->topk[e->n_topk].metric = strtod(m + strlen(pat), NULL);
        snprintf(e->topk[e->n_topk].path, sizeof e->topk[0].path, "%s", path);
        e->n_topk++;
    }
    closedir(d);
    return removed;
}

static nc_status write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return nc_error(NC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0) return nc_error(NC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return NC_OK;
}

static nc_status write_run_files(nc_expm *e, const nc_trainer_hooks *h) {
    char path[1200];
    size_t cap = 16;
    for (int i = 0; i < h->argc; i++) cap += strlen(h->argv[i]) + 1;
    char *args = nc_calloc(1, cap);
    if (!args) return nc_error(NC_ERR_OOM, "cmd-args.log");
    for (int i = 0; i < h->argc; i++) {
        if (i) strcat(args, " ");
        strcat(args, h->argv[i]);
    }
    snprintf(path, sizeof path, "%s/cmd-args.log", e->log_dir);
    nc_status s = write_text(path, args);
    nc_free(args);
    if (s || !h->root_cfg) return s;
    /* hparams.yaml as Lightning writes the model's hyper-parameters: cfg: <model section> */
    nc_cfg *model = NULL, *hp = NULL;
    if (nc_cfg_get_node(h->root_cfg, "model", &model) || !model) return NC_OK;
    if ((s = nc_cfg_new(NC_CFG_MAP, &hp))) return s;
    nc_cfg *resolved = NULL;
    if (!(s = nc_cfg_copy(model, true, &resolved))) s = nc_cfg_set_node(hp, "cfg", resolved);
    nc_cfg_free(resolved);
    snprintf(path, sizeof path, "%s/hparams.yaml", e->log_dir);
    if (!s) s = nc_cfg_save(hp, path, 0);
    nc_cfg_free(hp);
    return s;
}

nc_status nc_exp_setup(nc_expm *e, const nc_exp_params *p, const nc_trainer_hooks *h, bool rank0) {
    memset(e, 0, sizeof *e);
    e->p = p;
    e->rank0 = rank0;
    snprintf(e->name, sizeof e->name, "%s", p->name ? p->name : "default");
    if (p->explicit_log_dir) {
        snprintf(e->log_dir, sizeof e->log_dir, "%s", p->explicit_log_dir);
    } else {
        char base[1024];
        snprintf(base, sizeof base, "%s/%s", p->exp_dir ? p->exp_dir : "nemo_experiments", e->name);
        const char *env = getenv("NEMO_EXPM_VERSION");
        if (p->version || (env && *env)) {
            snprintf(e->log_dir, sizeof e->log_dir, "%s/%s", base, p->version ? p->version : env);
        } else if (p->resume_if_exists) {
            /* NeMo: no version folder when resuming, so later runs find it */
            snprintf(e->log_dir, sizeof e->log_dir, "%s", base);
        } else if (p->use_datetime_version) {
            char ts[64];
            time_t now = time(NULL);
            struct tm tmv;
            localtime_r(&now, &tmv);
            strftime(ts, sizeof ts, "%Y-%m-%d_%H-%M-%S", &tmv);
            snprintf(e->log_dir, sizeof e->log_dir, "%s/%s", base, ts);
        } else {
            snprintf(e->log_dir, sizeof e->log_dir, "%s/version_%lld", base, (long long)next_version(base));
        }
    }
    if (p->dirpath)
        snprintf(e->ckpt_dir, sizeof e->ckpt_dir, "%s", p->dirpath);
    else
        snprintf(e->ckpt_dir, sizeof e->ckpt_dir, "%s/checkpoints", e->log_dir);
    nc_status s = find_resume(e);
    if (s || !rank0) return s;
    if ((s = mkdirs(e->log_dir))) return s;
    if (p->resume_if_exists && (s = move_old_files(e))) return s;
    if ((s = mkdirs(e->ckpt_dir))) return s;
    int removed = scan_topk(e);
    if ((s = write_run_files(e, h))) return s;
    char path[1200];
    snprintf(path, sizeof path, "%s/nemo_log_globalrank-0_localrank-0.txt", e->log_dir);
    e->log_file = fopen(path, "a");
    snprintf(path, sizeof path, "%s/metrics.jsonl", e->log_dir);
    e->metrics = fopen(path, "a");
    if (!e->log_file || !e->metrics) return nc_error(NC_ERR_IO, "cannot open logs in '%s': %s", e->log_dir, strerror(errno));
    if (removed) nc_exp_log(e, "removed %d stale file(s) of an interrupted checkpoint write in %s", removed, e->ckpt_dir);
    if (p->create_tensorboard_logger && (s = nc_tb_open(e->log_dir, &e->tb))) return s;
    return NC_OK;
}

void nc_exp_close(nc_expm *e) {
    if (e->log_file) fclose(e->log_file);
    if (e->metrics) fclose(e->metrics);
    nc_tb_close(e->tb);
    e->log_file = e->metrics = NULL;
    e->tb = NULL;
}

void nc_exp_log(nc_expm *e, const char *fmt, ...) {
    if (!e->log_file) return;
    char ts[64];
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tmv);
    fprintf(e->log_file, "[NeMo I %s] ", ts);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(e->log_file, fmt, ap);
    va_end(ap);
    fputc('\n', e->log_file);
    fflush(e->log_file);
}

void nc_exp_metrics(nc_expm *e, int64_t step, int n, const char *const *keys, const double *values) {
    if (e->metrics) {
        fprintf(e->metrics, "{\"step\": %lld", (long long)step);
        for (int i = 0; i < n; i++) {
            if (isfinite(values[i]))
                fprintf(e->metrics, ", \"%s\": %.9g", keys[i], values[i]);
            else
                fprintf(e->metrics, ", \"%s\": null", keys[i]);
        }
        fputs("}\n", e->metrics);
        fflush(e->metrics);
    }
    if (e->tb) {
        for (int i = 0; i < n; i++) nc_tb_scalar(e->tb, keys[i], values[i], step);
        nc_tb_flush(e->tb);
    }
}

void nc_exp_ckpt_path(const nc_expm *e, double monitor, int64_t epoch, int64_t step,
                      const char *suffix, char *out, size_t len) {
    char tmpl[512], name[1024];
    if (e->p->filename)
        snprintf(tmpl, sizeof tmpl, "%s", e->p->filename);
    else
        snprintf(tmpl, sizeof tmpl, "%s--{%s:.4f}-{epoch}", e->name, e->p->monitor);
    /* Lightning's format_checkpoint_name with auto_insert_metric_name. */
    size_t o = 0;
    for (const char *c = tmpl; *c && o + 64 < sizeof name;) {
        if (*c != '{') {
            name[o++] = *c++;
            continue;
        }
        const char *close = strchr(c, '}');
        if (!close) break;
        char key[256];
        size_t kl = (size_t)(close - c - 1) < sizeof key - 1 ? (size_t)(close - c - 1) : sizeof key - 1;
        memcpy(key, c + 1, kl);
        key[kl] = 0;
        char *colon = strchr(key, ':');
        const char *fmt = colon ? colon + 1 : NULL;
        if (colon) *colon = 0;
        if (!strcmp(key, "epoch"))
            o += (size_t)snprintf(name + o, sizeof name - o, "epoch=%lld", (long long)epoch);
        else if (!strcmp(key, "step"))
            o += (size_t)snprintf(name + o, sizeof name - o, "step=%lld", (long long)step);
        else if (fmt && fmt[0] == '.' && fmt[strlen(fmt) - 1] == 'f')
            o += (size_t)snprintf(name + o, sizeof name - o, "%s=%.*f", key, atoi(fmt + 1), monitor);
        else
            o += (size_t)snprintf(name + o, sizeof name - o, "%s=%g", key, monitor);
        c = close + 1;
    }
    name[o] = 0;
    snprintf(out, len, "%s/%s%s.ckpt", e->ckpt_dir, name, suffix ? suffix : "");
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
    int worst = 0;
    for (int i = 1; i < e->n_topk; i++)
        if (nc_exp_better(e, e->topk[worst].metric, e->topk[i].metric)) worst = i;
    if (!nc_exp_better(e, metric, e->topk[worst].metric)) return false;
    snprintf(evict, len, "%s", e->topk[worst].path);
    return true;
}

void nc_exp_topk_insert(nc_expm *e, double metric, const char *path) {
    for (int i = 0; i < e->n_topk; i++)
        if (!strcmp(e->topk[i].path, path)) {
            e->topk[i].metric = metric;
            return;
        }
    /* Drop entries whose file was evicted. */
    int w = 0;
    for (int i = 0; i < e->n_topk; i++)
        if (access(e->topk[i].path, F_OK) == 0) e->topk[w++] = e->topk[i];
    e->n_topk = w;
    if (e->n_topk < NC_EXP_MAX_TOPK) {
        e->topk[e->n_topk].metric = metric;
        snprintf(e->topk[e->n_topk].path, sizeof e->topk[0].path, "%s", path);
        e->n_topk++;
    }
}

const char *nc_exp_topk_best(const nc_expm *e, double *metric) {
    int best = -1;
    for (int i = 0; i < e->n_topk; i++)
        if (best < 0 || nc_exp_better(e, e->topk[i].metric, e->topk[best].metric)) best = i;
    if (metric) *metric = best < 0 ? NAN : e->topk[best].metric;
    return best < 0 ? "" : e->topk[best].path;
}
