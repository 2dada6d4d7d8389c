/* The weights of a Hugging Face folder: model.safetensors, or the shards
 * model.safetensors.index.json maps tensor names to ("weight_map", as
 * transformers' save_pretrained writes with max_shard_size). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/fileutil.h"
#include "llm/convert/convert_internal.h"
#include "nemoc/alloc.h"

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = nc_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static nc_status add_file(nc_hf_weights *w, const char *dir, const char *name) {
    for (int64_t i = 0; i < w->n_files; i++)
        if (!strcmp(strrchr(w->paths[i], '/') + 1, name)) return NC_OK;
    if (strchr(name, '/') || !strcmp(name, "..") || !strcmp(name, "."))
        return nc_error(NC_ERR_FORMAT, "%s/model.safetensors.index.json: shard '%s' is not a plain file name", dir, name);
    char **p = nc_realloc(w->paths, (size_t)(w->n_files + 1) * sizeof *p);
    if (!p) return nc_error(NC_ERR_OOM, "out of memory");
    w->paths = p;
    nc_st_file **f = nc_realloc(w->files, (size_t)(w->n_files + 1) * sizeof *f);
    if (!f) return nc_error(NC_ERR_OOM, "out of memory");
    w->files = f;
    if (!(w->paths[w->n_files] = join(dir, name))) return nc_error(NC_ERR_OOM, "out of memory");
    w->files[w->n_files] = NULL;
    nc_status st = nc_st_open(w->paths[w->n_files], &w->files[w->n_files]);
    w->n_files++;
    return st;
}

static nc_status open_index(const char *dir, const char *index, nc_hf_weights *w) {
    void *buf = NULL;
    size_t len = 0;
    nc_status st = nc_read_file(index, &buf, &len);
    if (st) return st;
    cJSON *j = cJSON_ParseWithLength(buf, len);
    nc_free(buf);
    const cJSON *map = j ? cJSON_GetObjectItemCaseSensitive(j, "weight_map") : NULL;
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(j);
        return nc_error(NC_ERR_FORMAT, "%s: expected a JSON object with a \"weight_map\" object", index);
    }
    for (const cJSON *e = map->child; e && !st; e = e->next) {
        if (!cJSON_IsString(e)) st = nc_error(NC_ERR_FORMAT, "%s: weight_map['%s'] is not a file name", index, e->string);
        else st = add_file(w, dir, e->valuestring);
    }
    /* every tensor the index names must be in the shard it names */
    for (const cJSON *e = map->child; e && !st; e = e->next) {
        for (int64_t i = 0; i < w->n_files; i++)
            if (!strcmp(strrchr(w->paths[i], '/') + 1, e->valuestring) && !nc_st_find(w->files[i], e->string))
                st = nc_error(NC_ERR_FORMAT, "%s: tensor '%s' is not in %s", index, e->string, e->valuestring);
    }
    cJSON_Delete(j);
    return st;
}

nc_status nc_hf_weights_open(const char *dir, nc_hf_weights *w) {
    memset(w, 0, sizeof *w);
    char *single = join(dir, "model.safetensors"), *index = join(dir, "model.safetensors.index.json");
    nc_status st = NC_OK;
    if (!single || !index) st = nc_error(NC_ERR_OOM, "out of memory");
    else if (!access(index, F_OK)) st = open_index(dir, index, w);
    else if (!access(single, F_OK)) st = add_file(w, dir, "model.safetensors");
    else
        st = nc_error(NC_ERR_NOT_FOUND, "%s: no model.safetensors or model.safetensors.index.json "
                                        "(PyTorch .bin checkpoints are not read: convert them to safetensors)", dir);
    nc_free(single);
    nc_free(index);
    for (int64_t i = 0; i < w->n_files && !st; i++) w->n_tensors += nc_st_count(w->files[i]);
    if (!st && !(w->used = nc_calloc((size_t)w->n_tensors + 1, sizeof *w->used))) st = nc_error(NC_ERR_OOM, "out of memory");
    if (st) nc_hf_weights_close(w);
    return st;
}

void nc_hf_weights_close(nc_hf_weights *w) {
    for (int64_t i = 0; i < w->n_files; i++) {
        nc_st_close(w->files[i]);
        nc_free(w->paths[i]);
    }
    nc_free(w->files);
    nc_free(w->paths);
    nc_free(w->used);
    memset(w, 0, sizeof *w);
}

/* The file and the flat index (over all files) of a tensor; -1 if absent. */
static int64_t find(const nc_hf_weights *w, const char *name, int64_t *file, const nc_st_info **info) {
    int64_t base = 0;
    for (int64_t f = 0; f < w->n_files; f++) {
        const nc_st_info *in = nc_st_find(w->files[f], name);
        if (in) {
            for (int64_t i = 0; i < nc_st_count(w->files[f]); i++)
                if (nc_st_at(w->files[f], i) == in) {
                    *file = f;
                    *info = in;
                    return base + i;
                }
        }
        base += nc_st_count(w->files[f]);
    }
    return -1;
}

bool nc_hf_weights_has(const nc_hf_weights *w, const char *name) {
    int64_t f;
    const nc_st_info *in;
    return find(w, name, &f, &in) >= 0;
}

nc_dtype nc_hf_weights_dtype(const nc_hf_weights *w) {
    for (int64_t f = 0; f < w->n_files; f++)
        for (int64_t i = 0; i < nc_st_count(w->files[f]); i++) {
            nc_st_dtype d = nc_st_at(w->files[f], i)->dtype;
            if (d == NC_ST_F32) return NC_F32;
            if (d == NC_ST_BF16) return NC_BF16;
            if (d == NC_ST_F16) return NC_F16;
        }
    return NC_F32;
}

nc_status nc_hf_weights_get(nc_hf_weights *w, const char *name, nc_dtype dt, int ndim, int64_t d0, int64_t d1,
                            const char *why, nc_tensor **out) {
    *out = NULL;
    int64_t f;
    const nc_st_info *in;
    int64_t idx = find(w, name, &f, &in);
    if (idx < 0) return nc_error(NC_ERR_NOT_FOUND, "tensor '%s' is not in the checkpoint (%s)", name, why);
    const char *file = strrchr(w->paths[f], '/') + 1;
    int64_t want[2] = {d0, d1};
    bool ok = in->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = in->shape[i] == want[i];
    if (!ok) {
        char got[128], exp[64];
        return nc_error(NC_ERR_SHAPE, "%s: tensor '%s' has shape %s but config.json (%s) needs %s", file, name,
                        nc_dims_str(in->ndim, in->shape, got, sizeof got), why,
                        nc_dims_str(ndim, want, exp, sizeof exp));
    }
    if (in->dtype != NC_ST_F32 && in->dtype != NC_ST_BF16 && in->dtype != NC_ST_F16)
        return nc_error(NC_ERR_DTYPE, "%s: tensor '%s' is %s; expected F32, BF16 or F16", file, name,
                        nc_st_dtype_name(in->dtype));
    nc_tensor view;
    nc_status st = nc_st_get(w->files[f], name, &view);
    if (st || (st = nc_tensor_as(&view, dt, out))) return nc_error_prefix(st, "%s: tensor '%s'", file, name);
    w->used[idx] = true;
    return NC_OK;
}

nc_status nc_hf_weights_check_used(const nc_hf_weights *w, bool (*skip)(const char *name)) {
    int64_t base = 0;
    for (int64_t f = 0; f < w->n_files; f++) {
        for (int64_t i = 0; i < nc_st_count(w->files[f]); i++) {
            const char *name = nc_st_at(w->files[f], i)->name;
            if (!w->used[base + i] && !(skip && skip(name)))
                return nc_error(NC_ERR_UNSUPPORTED,
                                "%s: tensor '%s' has no place in the converted model (a feature config.json does "
                                "not describe, or a model type nemoc does not convert)",
                                strrchr(w->paths[f], '/') + 1, name);
        }
        base += nc_st_count(w->files[f]);
    }
    return NC_OK;
}
