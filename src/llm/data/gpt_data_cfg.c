/* NeMo's model.data keys (examples/nlp/language_modeling/conf/
 * megatron_gpt_config.yaml) and model.seed -> nc_gpt_data_params, read as
 * MegatronGPTModel.build_train_valid_test_datasets reads them
 * (nemo/collections/nlp/models/language_modeling/megatron_gpt_model.py). */
#include <stdio.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/config.h"
#include "nemoc/llm_data.h"

/* A prefix list at `path`: a list of weights and prefixes, or one string. */
static nc_status get_list(const nc_cfg *model, const char *path, const char ***out, int *n) {
    nc_cfg_type t;
    nc_status s = nc_cfg_get_type(model, path, &t);
    if (s) return s;
    int64_t m = 0;
    if (t == NC_CFG_T_SEQ) {
        s = nc_cfg_get_str_list(model, path, out, &m);
        if (s) return s;
        if (m < 1 || m > 1024) {
            nc_free(*out);
            *out = NULL;
            return nc_cfg_error_at(model, path, "%lld entries; expected a prefix or [w1, prefix1, w2, prefix2, ...]",
                                   (long long)m);
        }
        *n = (int)m;
        return NC_OK;
    }
    const char *one;
    s = nc_cfg_get_str(model, path, &one);
    if (s) return s;
    *out = nc_malloc(sizeof **out);
    if (!*out) return nc_error(NC_ERR_OOM, "config");
    (*out)[0] = one;
    *n = 1;
    return NC_OK;
}

void nc_gpt_data_params_free(nc_gpt_data_params *p) {
    nc_free((void *)p->data_prefix);
    for (int k = 0; k < 3; k++) nc_free((void *)p->split_prefix[k]);
    p->data_prefix = NULL;
    p->split_prefix[0] = p->split_prefix[1] = p->split_prefix[2] = NULL;
}

nc_status nc_gpt_data_params_from_cfg(const nc_cfg *model, nc_gpt_data_params *p) {
    *p = nc_gpt_data_default_params();
    static const char *const impls[] = {"mmap", NULL};
    const char *impl;
    nc_status s = nc_cfg_get_str_or(model, "data.data_impl", "mmap", &impl);
    if (!s && !strcmp(impl, "mock"))
        return nc_cfg_error_at(model, "data.data_impl", "'mock' (random tokens) is not supported; give "
                                                         "Megatron data (mmap) in data.data_prefix");
    if (!s) s = nc_cfg_check_enum(model, "data.data_impl", impl, impls, NULL);
    if (s) return s;
    nc_cfg_type t;
    s = nc_cfg_get_type(model, "data.data_prefix", &t);
    if (s == NC_ERR_NOT_FOUND || (!s && (t == NC_CFG_T_NULL || t == NC_CFG_T_MISSING)))
        return nc_cfg_error_at(model, "data.data_prefix", "is required (the _text_document prefix `nemoc llm "
                                                           "preprocess` wrote, or [w1, prefix1, w2, prefix2, ...])");
    if (s) return s;
    const char **list = NULL;
    if (t == NC_CFG_T_MAP) {
        static const char *const keys[] = {"train", "validation", "test", NULL};
        s = nc_cfg_check_keys(model, "data.data_prefix", keys);
        for (int k = 0; k < 3 && !s; k++) {
            char path[64];
            snprintf(path, sizeof path, "data.data_prefix.%s", keys[k]);
            if (!nc_cfg_has(model, path)) {
                s = nc_cfg_error_at(model, "data.data_prefix",
                                    "a dict of data prefixes needs train, validation and test (missing %s)", keys[k]);
                break;
            }
            s = get_list(model, path, &list, &p->n_split_prefix[k]);
            p->split_prefix[k] = list;
        }
    } else {
        s = get_list(model, "data.data_prefix", &list, &p->n_prefix);
        p->data_prefix = list;
    }
    int64_t seq = 0, seed = 0;
    const char *splits = NULL, *dir = NULL;
    bool no_extra = false;
    if (!s) s = nc_cfg_get_str_or(model, "data.splits_string", p->splits_string, &splits);
    if (!s && nc_cfg_has(model, "data.seq_length")) s = nc_cfg_get_int_in(model, "data.seq_length", 2, 1 << 30, &seq);
    else if (!s) s = nc_cfg_get_int_in(model, "encoder_seq_length", 2, 1 << 30, &seq);
    if (!s) s = nc_cfg_get_int_in_or(model, "seed", 1234, 0, 0xffffffffLL, &seed);
    if (!s) s = nc_cfg_get_str_or(model, "data.index_mapping_dir", NULL, &dir);
    if (!s) s = nc_cfg_get_bool_or(model, "data.no_seqlen_plus_one_input_tokens", false, &no_extra);
    if (!s) s = nc_cfg_get_bool_or(model, "data.shuffle_documents", true, &p->shuffle_documents);
    if (!s) s = nc_cfg_get_bool_or(model, "data.validation_drop_last", true, &p->validation_drop_last);
    if (!s && p->n_prefix) { /* checked here to name the key (the dict form ignores it, as NeMo) */
        int64_t idx[4];
        s = nc_gpt_split(splits, 100, idx);
        if (s) s = nc_cfg_error_at(model, "data.splits_string", "%s", nc_last_error());
    }
    if (s) {
        nc_gpt_data_params_free(p);
        return s;
    }
    p->splits_string = splits;
    p->seq_length = seq;
    p->seed = (uint64_t)seed;
    p->index_mapping_dir = dir;
    p->add_extra_token = !no_extra;
    return NC_OK;
}
