/* Loader parameters: defaults and NeMo's dataset config keys
 * (model.train_ds / validation_ds / test_ds as read by
 * nemo/collections/asr/data/audio_to_text_dataset.py with config.get(key,
 * default), and the keys of the yaml files under examples/asr/conf). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/asr_data.h"

/* Memory that nc_asr_loader_params_from_cfg hands to the params. */
typedef struct params_owned {
    const char **manifests; /* manifest_filepath list (strings in the config) */
    int64_t *bbs;        /* bucketing_batch_size list */
    nc_perturb_step *perturb; /* from `augmentor` */
    nc_noise_set **sets;      /* RIR/noise manifests of `impulse` and `noise` steps, one per step */
    int64_t n_sets;
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
    for (int64_t i = 0; i < o->n_sets; i++) nc_noise_set_free(o->sets[i]);
    nc_free(o->sets);
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

/* shift, impulse, time_stretch, noise, resample and transcode_aug (perturb.py
 * ShiftPerturbation, ImpulsePerturbation, TimeStretchPerturbation,
 * NoisePerturbation, TranscodePerturbation; resample is nemoc's). Manifests
 * and codecs are checked here, so a missing RIR file or a codec libsndfile
 * cannot write stops the run before training starts. */
static nc_status get_perturb_more(const nc_cfg *aug, const char *name, nc_perturb_step *st, nc_noise_set **set) {
    nc_status s;
    if (!strcmp(name, "shift")) {
        static const char *const keys[] = {"prob", "min_shift_ms", "max_shift_ms", "rng", NULL};
        nc_shift_perturb *sp = &st->u.shift;
        st->kind = NC_PERTURB_SHIFT;
        if ((s = nc_cfg_check_keys(aug, "", keys)) ||
            (s = nc_cfg_get_float_in_or(aug, "min_shift_ms", -5, -1e6, 1e6, &sp->min_shift_ms)) ||
            (s = nc_cfg_get_float_in_or(aug, "max_shift_ms", 5, -1e6, 1e6, &sp->max_shift_ms)))
            return nc_error_prefix(s, "augmentor.shift");
        if (sp->min_shift_ms > sp->max_shift_ms)
            return nc_cfg_error_at(aug, "", "min_shift_ms %g > max_shift_ms %g", sp->min_shift_ms, sp->max_shift_ms);
        return NC_OK;
    }
    if (!strcmp(name, "impulse")) {
        static const char *const keys[] = {"prob", "manifest_path", "audio_tar_filepaths", "shuffle_n",
                                           "normalize_impulse", "shift_impulse", "rng", NULL};
        nc_impulse_perturb *ip = &st->u.impulse;
        const char *man = NULL, *tar = NULL;
        st->kind = NC_PERTURB_IMPULSE;
        if ((s = nc_cfg_check_keys(aug, "", keys)) || (s = nc_cfg_get_str(aug, "manifest_path", &man)) ||
            (s = nc_cfg_get_str_or(aug, "audio_tar_filepaths", NULL, &tar)) ||
            (s = nc_cfg_get_bool_or(aug, "normalize_impulse", false, &ip->normalize_impulse)) ||
            (s = nc_cfg_get_bool_or(aug, "shift_impulse", false, &ip->shift_impulse)))
            return nc_error_prefix(s, "augmentor.impulse");
        if (tar) return nc_cfg_error_at(aug, "audio_tar_filepaths", "tarred RIRs are not supported; unpack them");
        if ((s = nc_noise_set_load(man, set))) return nc_error_prefix(s, "augmentor.impulse.manifest_path");
        ip->rirs = *set;
        return NC_OK;
    }
    if (!strcmp(name, "time_stretch")) {
        static const char *const keys[] = {"prob", "min_speed_rate", "max_speed_rate", "num_rates", "n_fft", "rng",
                                           NULL};
        nc_time_stretch_perturb *tp = &st->u.time_stretch;
        int64_t nr, nfft;
        st->kind = NC_PERTURB_TIME_STRETCH;
        if ((s = nc_cfg_check_keys(aug, "", keys)) ||
            (s = nc_cfg_get_float_in_or(aug, "min_speed_rate", 0.9, 0.05, 20.0, &tp->min_speed_rate)) ||
            (s = nc_cfg_get_float_in_or(aug, "max_speed_rate", 1.1, 0.05, 20.0, &tp->max_speed_rate)) ||
            (s = nc_cfg_get_int_in_or(aug, "num_rates", 5, -1000000, 1000000, &nr)) ||
            (s = nc_cfg_get_int_in_or(aug, "n_fft", 512, 16, 16384, &nfft)))
            return nc_error_prefix(s, "augmentor.time_stretch");
        if (tp->min_speed_rate > tp->max_speed_rate)
            return nc_cfg_error_at(aug, "", "min_speed_rate %g > max_speed_rate %g", tp->min_speed_rate,
                                   tp->max_speed_rate);
        if (nr == 0) return nc_cfg_error_at(aug, "num_rates", "0 rates (NeMo fails on it too): give > 0 or < 0");
        if (nfft % 2) return nc_cfg_error_at(aug, "n_fft", "%lld must be even", (long long)nfft);
        tp->num_rates = (int)nr;
        tp->n_fft = (int)nfft;
        return NC_OK;
    }
    if (!strcmp(name, "noise")) {
        static const char *const keys[] = {"prob", "manifest_path", "min_snr_db", "max_snr_db", "max_gain_db", "rng",
                                           "audio_tar_filepaths", "shuffle_n", "orig_sr", NULL};
        nc_noise_perturb *np = &st->u.noise;
        const char *man = NULL, *tar = NULL;
        st->kind = NC_PERTURB_NOISE;
        if ((s = nc_cfg_check_keys(aug, "", keys)) || (s = nc_cfg_get_str(aug, "manifest_path", &man)) ||
            (s = nc_cfg_get_str_or(aug, "audio_tar_filepaths", NULL, &tar)) ||
            (s = nc_cfg_get_float_in_or(aug, "min_snr_db", 10, -200, 200, &np->min_snr_db)) ||
            (s = nc_cfg_get_float_in_or(aug, "max_snr_db", 50, -200, 200, &np->max_snr_db)) ||
            (s = nc_cfg_get_float_in_or(aug, "max_gain_db", 300, -1000, 1000, &np->max_gain_db)))
            return nc_error_prefix(s, "augmentor.noise");
        if (tar) return nc_cfg_error_at(aug, "audio_tar_filepaths", "tarred noise files are not supported; unpack them");
        if (np->min_snr_db > np->max_snr_db)
            return nc_cfg_error_at(aug, "", "min_snr_db %g > max_snr_db %g", np->min_snr_db, np->max_snr_db);
        if ((s = nc_noise_set_load(man, set))) return nc_error_prefix(s, "augmentor.noise.manifest_path");
        np->noise = *set;
        return NC_OK;
    }
    if (!strcmp(name, "resample")) {
        static const char *const keys[] = {"prob", "target_sr", NULL};
        int64_t sr;
        st->kind = NC_PERTURB_RESAMPLE;
        if ((s = nc_cfg_check_keys(aug, "", keys)) ||
            (s = nc_cfg_get_int_in_or(aug, "target_sr", 8000, 1000, NC_ASR_MAX_SAMPLE_RATE, &sr)))
            return nc_error_prefix(s, "augmentor.resample");
        st->u.resample.target_sr = (int)sr;
        return NC_OK;
    }
    if (!strcmp(name, "transcode_aug")) {
        static const char *const keys[] = {"prob", "codecs", "rng", NULL};
        nc_transcode_perturb *tp = &st->u.transcode;
        st->kind = NC_PERTURB_TRANSCODE;
        nc_cfg_type t = NC_CFG_T_NULL;
        if ((s = nc_cfg_check_keys(aug, "", keys))) return nc_error_prefix(s, "augmentor.transcode_aug");
        s = nc_cfg_get_type(aug, "codecs", &t);
        if (s && s != NC_ERR_NOT_FOUND) return s;
        if (s == NC_ERR_NOT_FOUND || t == NC_CFG_T_NULL) {
            /* NeMo's default ["g711", "amr-nb", "ogg"] less amr-nb, which libsndfile cannot write */
            *tp = (nc_transcode_perturb){.codecs = {NC_CODEC_G711, NC_CODEC_OGG}, .n_codecs = 2};
            return NC_OK;
        }
        if (t != NC_CFG_T_SEQ) return nc_cfg_error_at(aug, "codecs", "must be a list of codec names");
        nc_cfg *list;
        if ((s = nc_cfg_get_node(aug, "codecs", &list))) return s;
        const int64_t n = nc_cfg_size(list);
        if (n < 1 || n > NC_CODEC_COUNT)
            return nc_cfg_error_at(aug, "codecs", "%lld codecs, need 1 to %d", (long long)n, NC_CODEC_COUNT);
        for (int64_t i = 0; i < n; i++) {
            char key[32];
            const char *cn;
            snprintf(key, sizeof key, "[%lld]", (long long)i);
            if ((s = nc_cfg_get_str(list, key, &cn))) return s;
            if ((s = nc_codec_parse(cn, &tp->codecs[i]))) return nc_error_prefix(s, "augmentor.transcode_aug.codecs");
        }
        tp->n_codecs = (int)n;
        return NC_OK;
    }
    return nc_error(NC_ERR_UNSUPPORTED,
                    "augmentor.%s: not one of speed, gain, white_noise, shift, impulse, time_stretch, noise, resample, "
                    "transcode_aug",
                    name);
}

/* One perturbation of NeMo's `augmentor` map (perturb.py process_augmentations). */
static nc_status get_perturb(const nc_cfg *aug, const char *name, nc_perturb_step *st, nc_noise_set **set) {
    nc_status s;
    double prob;
    if ((s = nc_cfg_get_float(aug, "prob", &prob)) || (s = nc_cfg_check_float(aug, "prob", prob, 0, 1)))
        return s;
    *st = (nc_perturb_step){.prob = prob};
    if (!strcmp(name, "speed")) {
        static const char *const keys[] = {"prob", "sr", "resample_type", "min_speed_rate", "max_speed_rate",
                                           "num_rates", "rng", NULL};
        int64_t nr;
        st->kind = NC_PERTURB_SPEED;
        if ((s = nc_cfg_check_keys(aug, "", keys)) ||
            (s = nc_cfg_get_float_in(aug, "min_speed_rate", 0.05, 20.0, &st->u.speed.min_speed_rate)) ||
            (s = nc_cfg_get_float_in(aug, "max_speed_rate", 0.05, 20.0, &st->u.speed.max_speed_rate)) ||
            (s = nc_cfg_get_int_in_or(aug, "num_rates", 5, -1000000, 1000000, &nr)))
            return nc_error_prefix(s, "augmentor.speed");
        if (!(st->u.speed.min_speed_rate > 0 && st->u.speed.min_speed_rate <= st->u.speed.max_speed_rate &&
              isfinite(st->u.speed.max_speed_rate)))
            return nc_cfg_error_at(aug, "", "need finite 0 < min_speed_rate <= max_speed_rate, found %g and %g",
                                   st->u.speed.min_speed_rate, st->u.speed.max_speed_rate);
        st->u.speed.num_rates = (int)nr;
        return NC_OK;
    }
    if (!strcmp(name, "gain")) {
        static const char *const keys[] = {"prob", "min_gain_dbfs", "max_gain_dbfs", "rng", NULL};
        st->kind = NC_PERTURB_GAIN;
        if ((s = nc_cfg_check_keys(aug, "", keys)) ||
            (s = nc_cfg_get_float_in_or(aug, "min_gain_dbfs", -10, -200, 200, &st->u.gain.min_gain_dbfs)) ||
            (s = nc_cfg_get_float_in_or(aug, "max_gain_dbfs", 10, -200, 200, &st->u.gain.max_gain_dbfs)))
            return nc_error_prefix(s, "augmentor.gain");
        return NC_OK;
    }
    if (!strcmp(name, "white_noise")) {
        static const char *const keys[] = {"prob", "min_level", "max_level", "rng", NULL};
        int64_t lo, hi;
        st->kind = NC_PERTURB_WHITE_NOISE;
        if ((s = nc_cfg_check_keys(aug, "", keys)) ||
            (s = nc_cfg_get_int_in_or(aug, "min_level", -90, -200, 200, &lo)) ||
            (s = nc_cfg_get_int_in_or(aug, "max_level", -46, -200, 200, &hi)))
            return nc_error_prefix(s, "augmentor.white_noise");
        st->u.white_noise = (nc_white_noise_perturb){.min_level = (int)lo, .max_level = (int)hi};
        return NC_OK;
    }
    return get_perturb_more(aug, name, st, set);
}

static nc_status get_augmentor(const nc_cfg *ds, nc_asr_loader_params *p, params_owned *o) {
    nc_cfg_type t;
    nc_status s = nc_cfg_get_type(ds, "augmentor", &t);
    if (s == NC_ERR_NOT_FOUND || (!s && t == NC_CFG_T_NULL)) return NC_OK;
    if (s) return s;
    if (t != NC_CFG_T_MAP) return nc_error(NC_ERR_CONFIG, "augmentor must be a map of perturbations");
    nc_cfg *aug;
    if ((s = nc_cfg_get_node(ds, "augmentor", &aug))) return s;
    const int64_t n = nc_cfg_size(aug);
    if (n == 0) return NC_OK;
    o->perturb = nc_calloc((size_t)n, sizeof *o->perturb);
    o->sets = nc_calloc((size_t)n, sizeof *o->sets);
    if (!o->perturb || !o->sets) return nc_error(NC_ERR_OOM, "augmentor");
    o->n_sets = n;
    for (int64_t i = 0; i < n; i++)
        if ((s = get_perturb(nc_cfg_item(aug, i), nc_cfg_item_key(aug, i), &o->perturb[i], &o->sets[i]))) return s;
    p->perturb = o->perturb;
    p->n_perturb = (int)n;
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
    if ((s = get_augmentor(ds, p, o))) return s;
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
