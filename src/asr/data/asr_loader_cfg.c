/* Loader parameters: defaults and NeMo's dataset config keys
 * (model.train_ds / validation_ds / test_ds as read by
 * nemo/collections/asr/data/audio_to_text_dataset.py with config.get(key,
 * default), and the keys of the yaml files under examples/asr/conf). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "asr/data/asr_loader_internal.h"
#include "nemoc/asr_data.h"

/* Memory that nc_asr_loader_params_from_cfg hands to the params. */
typedef struct params_owned {
    const char **manifests; /* manifest_filepath list (strings in the config) */
    int64_t *bbs;        /* bucketing_batch_size list */
    nc_perturb_step *perturb; /* from `augmentor` */
    asr_set_list sets;        /* the RIR/noise sets its steps hold */
} params_owned;

nc_asr_loader_params nc_asr_loader_default_params(void) {
    return (nc_asr_loader_params){
        .manifest_filepath = NULL,
        .sample_rate = 16000,
        .batch_size = 16,
        .shuffle = true,
        .num_workers = 2,
        .min_duration = -1,
        .max_duration = -1,
        .max_utts = 0,
        .trim_silence = false,
        .use_start_end_token = true,
        .bucketing_strategy = NC_BUCKETING_NONE,
        .num_buckets = 0,
        .skip_bad_audio = true,
        .training = false,
        .keep_audio = false,
        .seed = 0,
        .rank = 0,
        .world_size = 1,
        .prefetch = 2,
    };
}

void nc_asr_loader_params_clear(nc_asr_loader_params *p) {
    if (!p || !p->owned_) return;
    params_owned *o = p->owned_;
    if (p->manifest_filepaths == o->manifests) p->manifest_filepaths = NULL, p->n_manifest_filepaths = 0;
    if (p->bucketing_batch_size == o->bbs) p->bucketing_batch_size = NULL, p->n_bucketing_batch_size = 0;
    if (p->perturb == o->perturb) p->perturb = NULL, p->n_perturb = 0;
    nc_free(o->manifests);
    nc_free(o->bbs);
    nc_free(o->perturb);
    asr_set_list_free(&o->sets);
    nc_free(o);
    p->owned_ = NULL;
}

/* Every key a NeMo ASR dataset config may hold (nemo-inventory §1.2, the
 * tarred/lhotse/concat variants included, so real configs pass), plus
 * nemoc's num_buckets, skip_bad_audio, prefetch and seed. */
static const char *const KNOWN_KEYS[] = {
    /* audio_to_text_dataset.py */
    "manifest_filepath", "sample_rate", "batch_size", "shuffle", "num_workers", "pin_memory", "max_duration",
    "min_duration", "trim_silence", "labels", "max_utts", "normalize_transcripts", "parser", "use_start_end_token",
    "blank_index", "unk_index", "bos_id", "eos_id", "pad_id", "int_values", "augmentor", "return_sample_id",
    "channel_selector", "drop_last", "persistent_workers", "prefetch_factor", "use_dali", "text_field", "lang_field",
    /* tarred */
    "is_tarred", "tarred_audio_filepaths", "shuffle_n", "tarred_shard_strategy", "shard_manifests",
    "global_rank", "world_size",
    /* bucketing and multi-manifest mixing */
    "bucketing_strategy", "bucketing_batch_size", "bucketing_weights", "concat_sampling_technique",
    "concat_sampling_temperature", "concat_sampling_probabilities", "concat_shuffle", "concat_sampling_seed",
    /* lhotse */
    "use_lhotse", "use_bucketing", "batch_duration", "quadratic_duration", "num_buckets", "bucket_buffer_size",
    "bucket_duration_bins", "bucket_batch_size", "max_cuts", "shuffle_buffer_size", "max_tps", "min_tps",
    "token_equivalent_duration", "batch_tokens", "quadratic_factor", "pretokenize", "cuts_path", "input_cfg",
    "shard_seed", "seed", "sampler_fusion", "concurrent_bucketing", "num_cuts_for_bins_estimate",
    "max_open_streams", "use_multimodal_sampling", "metadata_only", "force_finite", "force_map_dataset",
    "force_iterable_dataset", "reweight_temperature", "tarred_random_access", "skip_missing_manifest_entries",
    "defer_setup", "prompt_format", "cuda_expandable_segments", "bucketing_2d_strict_mode",
    "rank", "lhotse",
    /* multitask / AED and other collections */
    "prompt_defaults", "prompt_field", "source_lang", "target_lang", "taskname", "pnc", "return_language_id",
    "sample_rate_target", "video_frame_rate",
    /* nemoc */
    "skip_bad_audio", "prefetch",
    NULL,
};

static nc_status get_manifest(const nc_cfg *ds, nc_asr_loader_params *p, params_owned *o) {
    nc_cfg_type t;
    nc_status s = nc_cfg_get_type(ds, "manifest_filepath", &t);
    if (s == NC_ERR_NOT_FOUND) return NC_OK;
    if (s) return s;
    if (t == NC_CFG_T_NULL) return NC_OK; /* the caller decides: no manifest, no loader */
    if (t != NC_CFG_T_SEQ) return nc_cfg_get_str(ds, "manifest_filepath", &p->manifest_filepath);
    nc_cfg *list;
    if ((s = nc_cfg_get_node(ds, "manifest_filepath", &list))) return s;
    int64_t n = nc_cfg_size(list);
    o->manifests = nc_calloc((size_t)n + 1, sizeof *o->manifests);
    if (!o->manifests) return nc_error(NC_ERR_OOM, "manifest_filepath");
    for (int64_t i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "[%lld]", (long long)i);
        nc_cfg_type it;
        if ((s = nc_cfg_get_type(list, key, &it))) return s;
        if (it == NC_CFG_T_SEQ)
            return nc_error(NC_ERR_UNSUPPORTED,
                            "manifest_filepath: a list of lists (bucketed tarred datasets) is not supported; give "
                            "one list of manifests and set num_buckets for duration bucketing");
        if ((s = nc_cfg_get_str(list, key, &o->manifests[i]))) return nc_error_prefix(s, "manifest_filepath");
    }
    p->manifest_filepath = NULL;
    p->manifest_filepaths = o->manifests;
    p->n_manifest_filepaths = n;
    return NC_OK;
}

static nc_status get_bucketing(const nc_cfg *ds, nc_asr_loader_params *p, params_owned *o) {
    const char *strat = NULL;
    nc_status s = nc_cfg_get_str_or(ds, "bucketing_strategy", NULL, &strat);
    if (s) return s;
    if (strat) {
        if (!strcmp(strat, "synced_randomized")) p->bucketing_strategy = NC_BUCKETING_SYNCED_RANDOMIZED;
        else if (!strcmp(strat, "fully_randomized")) p->bucketing_strategy = NC_BUCKETING_FULLY_RANDOMIZED;
        else
            return nc_error(NC_ERR_CONFIG, "bucketing_strategy: '%s' is not one of synced_randomized, fully_randomized",
                            strat);
    }
    if ((s = nc_cfg_get_int_in_or(ds, "num_buckets", p->num_buckets, 0, NC_ASR_MAX_BUCKETS, &p->num_buckets)))
        return s;
    nc_cfg_type t;
    s = nc_cfg_get_type(ds, "bucketing_batch_size", &t);
    if (s == NC_ERR_NOT_FOUND || (!s && t == NC_CFG_T_NULL)) return NC_OK;
    if (s) return s;
    if (t == NC_CFG_T_INT)
        return nc_cfg_get_int_in(ds, "bucketing_batch_size", 1, NC_ASR_MAX_BATCH, &p->bucketing_batch_size_scale);
    if (t == NC_CFG_T_SEQ) {
        nc_cfg *list;
        if ((s = nc_cfg_get_node(ds, "bucketing_batch_size", &list))) return s;
        if (nc_cfg_size(list) > NC_ASR_MAX_BUCKETS)
            return nc_error(NC_ERR_CONFIG, "bucketing_batch_size: %lld entries, more than the %d buckets allowed",
                            (long long)nc_cfg_size(list), NC_ASR_MAX_BUCKETS);
        for (int64_t i = 0; i < nc_cfg_size(list); i++) {
            char key[32];
            int64_t bs;
            snprintf(key, sizeof key, "[%lld]", (long long)i);
            if ((s = nc_cfg_get_int_in(list, key, 1, NC_ASR_MAX_BATCH, &bs))) return s;
        }
    }
    if ((s = nc_cfg_get_int_list(ds, "bucketing_batch_size", &o->bbs, &p->n_bucketing_batch_size))) return s;
    p->bucketing_batch_size = o->bbs;
    return NC_OK;
}

static nc_status read_keys(const nc_cfg *ds, nc_asr_loader_params *p, params_owned *o) {
    nc_status s;
    bool tarred = false;
    if ((s = nc_cfg_check_keys(ds, "", KNOWN_KEYS))) return s;
    if ((s = nc_cfg_get_bool_or(ds, "is_tarred", false, &tarred))) return s;
    if (tarred)
        return nc_error(NC_ERR_UNSUPPORTED, "is_tarred: true: tarred datasets are not supported (give the manifest "
                                            "of the unpacked audio files)");
    bool lhotse = false;
    if ((s = nc_cfg_get_bool_or(ds, "use_lhotse", false, &lhotse))) return s;
    if (lhotse)
        return nc_error(NC_ERR_UNSUPPORTED, "use_lhotse: true is not supported (nemoc's loader reads NeMo manifests; "
                                            "set num_buckets for duration bucketing)");
    int64_t v;
    if ((s = get_manifest(ds, p, o))) return s;
    /* Counts and sizes are range-checked here, by key: each sizes a loop, a
     * thread pool or an allocation (NC_ASR_MAX_* in nemoc/asr_data.h). */
    if ((s = nc_cfg_get_int_in_or(ds, "sample_rate", p->sample_rate, 1, NC_ASR_MAX_SAMPLE_RATE, &v))) return s;
    p->sample_rate = (int)v;
    if ((s = nc_cfg_get_int_in_or(ds, "batch_size", p->batch_size, 1, NC_ASR_MAX_BATCH, &p->batch_size))) return s;
    if ((s = nc_cfg_get_bool_or(ds, "shuffle", p->shuffle, &p->shuffle))) return s;
    if ((s = nc_cfg_get_int_in_or(ds, "num_workers", p->num_workers, 0, NC_ASR_MAX_WORKERS, &v))) return s;
    p->num_workers = (int)v;
    /* Durations in seconds (absent or null: no filter, -1); NaN would silently
     * keep everything, and a year is far beyond any utterance. */
    if ((s = nc_cfg_get_float_in_or(ds, "min_duration", -1, 0, 3.2e7, &p->min_duration))) return s;
    if ((s = nc_cfg_get_float_in_or(ds, "max_duration", -1, 0, 3.2e7, &p->max_duration))) return s;
    if ((s = nc_cfg_get_int_in_or(ds, "max_utts", p->max_utts, 0, INT64_MAX, &p->max_utts))) return s;
    if ((s = nc_cfg_get_bool_or(ds, "trim_silence", p->trim_silence, &p->trim_silence))) return s;
    if ((s = nc_cfg_get_bool_or(ds, "use_start_end_token", p->use_start_end_token, &p->use_start_end_token)))
        return s;
    if ((s = nc_cfg_get_bool_or(ds, "skip_bad_audio", p->skip_bad_audio, &p->skip_bad_audio))) return s;
    if ((s = get_bucketing(ds, p, o))) return s;
    if ((s = asr_augmentor_from_cfg(ds, p->sample_rate, &o->perturb, &p->n_perturb, &o->sets))) return s;
    p->perturb = o->perturb;
    if ((s = nc_cfg_get_int_or(ds, "seed", (int64_t)p->seed, &v))) return s;
    p->seed = (uint64_t)v;
    /* torch's prefetch_factor is batches per worker. */
    int64_t pf = 0;
    if ((s = nc_cfg_get_int_in_or(ds, "prefetch_factor", 0, 0, NC_ASR_MAX_PREFETCH, &pf))) return s;
    if (pf > 0) {
        int64_t total = pf * (p->num_workers > 0 ? p->num_workers : 1);
        if (total > NC_ASR_MAX_PREFETCH)
            return nc_error(NC_ERR_CONFIG,
                            "prefetch_factor: %lld x num_workers %d = %lld batches ahead, more than %d", (long long)pf,
                            p->num_workers, (long long)total, NC_ASR_MAX_PREFETCH);
        p->prefetch = (int)total;
    }
    if ((s = nc_cfg_get_int_in_or(ds, "prefetch", p->prefetch, 0, NC_ASR_MAX_PREFETCH, &v))) return s;
    p->prefetch = (int)v;
    return NC_OK;
}

nc_status nc_asr_loader_params_from_cfg(const nc_cfg *ds, nc_asr_loader_params *p) {
    if (!ds || !p) return nc_error(NC_ERR_INVALID_ARG, "nc_asr_loader_params_from_cfg: NULL argument");
    nc_asr_loader_params_clear(p);
    params_owned *o = nc_calloc(1, sizeof *o);
    if (!o) return nc_error(NC_ERR_OOM, "loader params");
    p->owned_ = o;
    nc_status s = read_keys(ds, p, o);
    if (s) {
        char key[256];
        nc_cfg_full_key(ds, key, sizeof key);
        /* Getter messages already carry the full key path; add it to the others. */
        if (key[0] && !strstr(nc_last_error(), key)) nc_error_prefix(s, "%s", key);
        nc_asr_loader_params_clear(p);
    }
    return s;
}
