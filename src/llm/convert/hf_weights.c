/* The weights of a Hugging Face folder: model.safetensors, or the shards
 * model.safetensors.index.json maps tensor names to ("weight_map", as
 * transformers' save_pretrained writes with max_shard_size); without
 * safetensors, pytorch_model.bin or its sharded index, read by nemoc's
 * restricted torch.load (nemoc/torch_ckpt.h). Safetensors are mapped and
 * read in place; .bin tensors are loaded into memory. */
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

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool opened(const nc_hf_weights *w, const char *name) {
    for (int64_t i = 0; i < w->n_paths; i++)
        if (!strcmp(base_name(w->paths[i]), name)) return true;
    return false;
}

static nc_status add_entry(nc_hf_weights *w, const char *name, const char *file, const nc_tensor *view,
                           const char *bad_dtype) {
    if (w->n % 64 == 0) {
        nc_hf_tensor *t = nc_realloc(w->t, (size_t)(w->n + 64) * sizeof *t);
        if (!t) return nc_error(NC_ERR_OOM, "out of memory");
        w->t = t;
    }
    nc_hf_tensor *e = &w->t[w->n++];
    *e = (nc_hf_tensor){.name = name, .file = file, .bad_dtype = bad_dtype};
    if (view) e->view = *view;
    return NC_OK;
}

static nc_status add_file(nc_hf_weights *w, const char *dir, const char *name, bool bin) {
    if (opened(w, name)) return NC_OK;
    if (strchr(name, '/') || !strcmp(name, "..") || !strcmp(name, "."))
        return nc_error(NC_ERR_FORMAT, "%s: shard '%s' is not a plain file name", dir, name);
    char **p = nc_realloc(w->paths, (size_t)(w->n_paths + 1) * sizeof *p);
    if (!p) return nc_error(NC_ERR_OOM, "out of memory");
    w->paths = p;
    char *path = join(dir, name);
    if (!path) return nc_error(NC_ERR_OOM, "out of memory");
    w->paths[w->n_paths++] = path;
    const char *file = base_name(path);
    nc_status st = NC_OK;
    if (bin) {
        int64_t first = w->bin.n;
        nc_torch_read_params rp = nc_torch_read_default_params();
        rp.select = ""; /* the state_dict itself is the top-level dict */
        if ((st = nc_torch_ckpt_load(path, &rp, &w->bin))) return st;
        /* names and tensors are separate allocations: stable while the list grows */
        for (int64_t i = first; i < w->bin.n && !st; i++) {
            nc_tensor view = *w->bin.items[i].tensor;
            view.flags &= ~(unsigned)NC_TF_OWNS_DATA;
            bool ok = view.dtype == NC_F32 || view.dtype == NC_BF16 || view.dtype == NC_F16;
            st = add_entry(w, w->bin.items[i].name, file, &view, ok ? NULL : nc_torch_dtype_name(w->bin.items[i].torch_dtype));
        }
        return st;
    }
    nc_st_file **f = nc_realloc(w->files, (size_t)(w->n_files + 1) * sizeof *f);
    if (!f) return nc_error(NC_ERR_OOM, "out of memory");
    w->files = f;
    if ((st = nc_st_open(path, &w->files[w->n_files]))) return st;
    nc_st_file *sf = w->files[w->n_files++];
    for (int64_t i = 0; i < nc_st_count(sf) && !st; i++) {
        const nc_st_info *in = nc_st_at(sf, i);
        nc_tensor view;
        bool ok = in->dtype == NC_ST_F32 || in->dtype == NC_ST_BF16 || in->dtype == NC_ST_F16;
        if (ok && (st = nc_st_get(sf, in->name, &view))) return st;
        st = add_entry(w, in->name, file, ok ? &view : NULL, ok ? NULL : nc_st_dtype_name(in->dtype));
    }
    return st;
}

static nc_status open_index(const char *dir, const char *index, bool bin, nc_hf_weights *w) {
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
        else st = add_file(w, dir, e->valuestring, bin);
    }
    /* every tensor the index names must be in the shard it names */
    for (const cJSON *e = map->child; e && !st; e = e->next) {
        bool found = false;
        for (int64_t i = 0; i < w->n && !found; i++)
            found = !strcmp(w->t[i].name, e->string) && !strcmp(w->t[i].file, e->valuestring);
        if (!found) st = nc_error(NC_ERR_FORMAT, "%s: tensor '%s' is not in %s", index, e->string, e->valuestring);
    }
    cJSON_Delete(j);
    return st;
}

nc_status nc_hf_weights_open(const char *dir, nc_hf_weights *w) {
    memset(w, 0, sizeof *w);
    static const char *const names[4] = {"model.safetensors.index.json", "model.safetensors",
                                         "pytorch_model.bin.index.json", "pytorch_model.bin"};
    nc_status st = NC_OK;
    int found = -1;
    for (int i = 0; i < 4 && found < 0 && !st; i++) {
        char *p = join(dir, names[i]);
        if (!p) st = nc_error(NC_ERR_OOM, "out of memory");
        else if (!access(p, F_OK)) {
            found = i;
            st = i % 2 ? add_file(w, dir, names[i], i == 3) : open_index(dir, p, i == 2, w);
        }
        nc_free(p);
    }
    if (!st && found < 0)
        st = nc_error(NC_ERR_NOT_FOUND, "%s: no model.safetensors, model.safetensors.index.json, pytorch_model.bin "
                                        "or pytorch_model.bin.index.json", dir);
    if (st) nc_hf_weights_close(w);
    return st;
}

void nc_hf_weights_close(nc_hf_weights *w) {
    for (int64_t i = 0; i < w->n_files; i++) nc_st_close(w->files[i]);
    for (int64_t i = 0; i < w->n_paths; i++) nc_free(w->paths[i]);
    nc_tensor_list_clear(&w->bin);
    nc_free(w->files);
    nc_free(w->paths);
    nc_free(w->t);
    memset(w, 0, sizeof *w);
}

static nc_hf_tensor *find(const nc_hf_weights *w, const char *name) {
    for (int64_t i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name)) return &w->t[i];
    return NULL;
}

bool nc_hf_weights_has(const nc_hf_weights *w, const char *name) { return find(w, name) != NULL; }

nc_dtype nc_hf_weights_dtype(const nc_hf_weights *w) {
    for (int64_t i = 0; i < w->n; i++)
        if (!w->t[i].bad_dtype) return w->t[i].view.dtype;
    return NC_F32;
}

nc_status nc_hf_weights_get(nc_hf_weights *w, const char *name, nc_dtype dt, int ndim, int64_t d0, int64_t d1,
                            const char *why, nc_tensor **out) {
    *out = NULL;
    nc_hf_tensor *e = find(w, name);
    if (!e) return nc_error(NC_ERR_NOT_FOUND, "tensor '%s' is not in the checkpoint (%s)", name, why);
    if (e->bad_dtype)
        return nc_error(NC_ERR_DTYPE, "%s: tensor '%s' is %s; expected F32, BF16 or F16", e->file, name, e->bad_dtype);
    int64_t want[2] = {d0, d1};
    bool ok = e->view.ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = e->view.shape[i] == want[i];
    if (!ok) {
        char got[128], exp[64];
        return nc_error(NC_ERR_SHAPE, "%s: tensor '%s' has shape %s but config.json (%s) needs %s", e->file, name,
                        nc_shape_str(&e->view, got, sizeof got), why, nc_dims_str(ndim, want, exp, sizeof exp));
    }
    nc_status st = nc_tensor_as(&e->view, dt, out);
    if (st) return nc_error_prefix(st, "%s: tensor '%s'", e->file, name);
    e->used = true;
    return NC_OK;
}

nc_status nc_hf_weights_check_used(const nc_hf_weights *w, bool (*skip)(const char *name)) {
    for (int64_t i = 0; i < w->n; i++)
        if (!w->t[i].used && !(skip && skip(w->t[i].name)))
            return nc_error(NC_ERR_UNSUPPORTED,
                            "%s: tensor '%s' has no place in the converted model (a feature config.json does "
                            "not describe, or a model type nemoc does not convert)",
                            w->t[i].file, w->t[i].name);
    return NC_OK;
}
