/* MegatronGPTModel's tokenizer from model.tokenizer, NeMo's get_nmt_tokenizer
 * libraries: `megatron` (GPT2BPETokenizer: vocab_file + merge_file),
 * `sentencepiece` (model) and `huggingface` (type: a tokenizer.json or its
 * folder). The files are read through the model's artifact reader (so a
 * `.nemo` member works as a path does), kept as artifacts under NeMo's keys
 * for .nemo files, and parsed from a private temporary folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llm/gpt/gpt.h"
#include "core/strbuf.h"
#include "nemoc/alloc.h"

nc_status nc_gpt_load_tokenizer(nc_model *m, const nc_model_build_args *a, nc_tokenizer **out);

/* Writes artifact `key` (a config path) into dir/file; *present false when
 * the key is absent or null. */
static nc_status stage(nc_model *m, const nc_model_build_args *a, const char *key, const char *dir,
                       const char *file, bool *present) {
    const char *ref = NULL;
    *present = false;
    nc_status s = nc_cfg_get_str_or(m->cfg, key, NULL, &ref);
    if (s || !ref) return s;
    void *data = NULL;
    size_t len = 0;
    if ((s = nc_artifact_read(a->artifacts, a->base_dir, ref, &data, &len)))
        return nc_error_prefix(s, "model.%s '%s'", key, ref);
    s = nc_model_add_artifact(m, key, file, data, len);
    char *path = nc_strdupf("%s/%s", dir, file);
    FILE *f = path ? fopen(path, "wb") : NULL;
    if (!s && (!f || fwrite(data, 1, len, f) != len))
        s = nc_error(NC_ERR_IO, "model.%s: staging '%s' for parsing failed", key, path ? path : file);
    if (f && fclose(f) && !s) s = nc_error(NC_ERR_IO, "model.%s: writing '%s'", key, path);
    nc_free(path);
    nc_free(data);
    *present = !s;
    return s;
}

static void unstage(const char *dir) {
    static const char *const files[] = {"vocab.json", "merges.txt", "tokenizer.model", "tokenizer.json", NULL};
    char path[4200];
    for (int i = 0; files[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

nc_status nc_gpt_load_tokenizer(nc_model *m, const nc_model_build_args *a, nc_tokenizer **out) {
    *out = NULL;
    if (!nc_cfg_has(m->cfg, "tokenizer")) return NC_OK;
    const char *lib = NULL, *type = NULL;
    nc_status s;
    if ((s = nc_cfg_get_str_or(m->cfg, "tokenizer.library", NULL, &lib)) ||
        (s = nc_cfg_get_str_or(m->cfg, "tokenizer.type", NULL, &type)))
        return s;
    if (!lib) return NC_OK; /* a tokenizer section without a library: none */
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/nemoc-tok-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return nc_error(NC_ERR_IO, "model.tokenizer: cannot create a temporary folder in %s",
                                       tmp && *tmp ? tmp : "/tmp");
    bool have1 = false, have2 = false;
    if (!strcmp(lib, "megatron")) {
        if (type && strcmp(type, "GPT2BPETokenizer"))
            s = nc_error(NC_ERR_UNSUPPORTED, "model.tokenizer.type: '%s' (library megatron): only GPT2BPETokenizer", type);
        if (!s) s = stage(m, a, "tokenizer.vocab_file", dir, "vocab.json", &have1);
        if (!s) s = stage(m, a, "tokenizer.merge_file", dir, "merges.txt", &have2);
        if (!s && (!have1 || !have2))
            s = nc_error(NC_ERR_CONFIG, "model.tokenizer: library megatron needs vocab_file and merge_file");
        if (!s) s = nc_tokenizer_gpt2_load_dir(dir, out);
    } else if (!strcmp(lib, "sentencepiece")) {
        if (!(s = stage(m, a, "tokenizer.model", dir, "tokenizer.model", &have1)) && !have1)
            s = nc_error(NC_ERR_CONFIG, "model.tokenizer: library sentencepiece needs model (a tokenizer.model)");
        char path[4200];
        snprintf(path, sizeof path, "%s/tokenizer.model", dir);
        if (!s) s = nc_tokenizer_spm_load(path, out);
    } else if (!strcmp(lib, "huggingface")) {
        if (!(s = stage(m, a, "tokenizer.type", dir, "tokenizer.json", &have1)) && !have1)
            s = nc_error(NC_ERR_CONFIG, "model.tokenizer: library huggingface needs type (a tokenizer.json path)");
        if (!s) s = nc_tokenizer_hf_load(dir, out);
    } else {
        s = nc_error(NC_ERR_UNSUPPORTED, "model.tokenizer.library: '%s' (expected megatron, sentencepiece or huggingface)",
                     lib);
    }
    unstage(dir);
    return s ? nc_error_prefix(s, "model.tokenizer") : NC_OK;
}
