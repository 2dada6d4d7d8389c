/* NeMo's `augmentor` map of an ASR dataset config
 * (nemo/collections/asr/parts/preprocessing/perturb.py process_augmentations
 * and the constructors of its perturbation classes, with their keys and
 * defaults) read into nc_perturb_steps. Manifests and codecs are checked
 * here, so a missing RIR file or a codec libsndfile cannot write stops the
 * run before training starts. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "asr/data/asr_loader_internal.h"
#include "core/vec.h"
#include "nemoc/alloc.h"
#include "nemoc/asr_data.h"

void asr_set_list_free(asr_set_list *l) {
    for (int64_t i = 0; i < l->n; i++) nc_noise_set_free(l->sets[i]);
    nc_free(l->sets);
    *l = (asr_set_list){0};
}

/* Loads a noise/RIR manifest into the list that owns it. */
static nc_status load_set(asr_set_list *l, const char *manifest, const nc_noise_set **out) {
    if (nc_vec_reserve(&l->sets, &l->cap, l->n + 1, sizeof *l->sets)) return nc_error(NC_ERR_OOM, "%s", manifest);
    nc_noise_set *set = NULL;
    nc_status s = nc_noise_set_load(manifest, &set);
    if (s) return s;
    l->sets[l->n++] = set;
    *out = set;
    return NC_OK;
}

/* A key that NeMo indexes per manifest (min_snr_db[i], orig_sample_rate[i]): a
 * list as long as the manifests, or one number for all; absent or null: dflt. */
static nc_status get_per_set(const nc_cfg *aug, const char *key, int64_t i, int64_t n, double dflt, double lo,
                             double hi, double *out) {
    nc_cfg_type t;
    nc_status s = nc_cfg_get_type(aug, key, &t);
    if (s == NC_ERR_NOT_FOUND || (!s && t == NC_CFG_T_NULL)) {
        *out = dflt;
        return NC_OK;
    }
    if (s) return s;
    if (t != NC_CFG_T_SEQ) return nc_cfg_get_float_in(aug, key, lo, hi, out);
    nc_cfg *list;
    if ((s = nc_cfg_get_node(aug, key, &list))) return s;
    if (nc_cfg_size(list) != n)
        return nc_cfg_error_at(aug, key, "%lld values for %lld noise manifests", (long long)nc_cfg_size(list),
                               (long long)n);
    char k[32];
    snprintf(k, sizeof k, "[%lld]", (long long)i);
    return nc_cfg_get_float_in(list, k, lo, hi, out);
}

/* NeMo's *_tar_filepaths: absent, null or a list of nulls (one per manifest); any path is refused. */
static nc_status refuse_tars(const nc_cfg *aug, const char *key) {
    nc_cfg_type t;
    nc_status s = nc_cfg_get_type(aug, key, &t);
    if (s == NC_ERR_NOT_FOUND || (!s && t == NC_CFG_T_NULL)) return NC_OK;
    if (s) return s;
    nc_cfg *list = NULL;
    if (t == NC_CFG_T_SEQ && !(s = nc_cfg_get_node(aug, key, &list))) {
        for (int64_t i = 0; i < nc_cfg_size(list); i++) {
            nc_cfg_type it;
            char k[32];
            snprintf(k, sizeof k, "[%lld]", (long long)i);
            if ((s = nc_cfg_get_type(list, k, &it))) return s;
            if (it != NC_CFG_T_NULL) return nc_cfg_error_at(aug, key, "tarred audio is not supported; unpack it");
        }
        return NC_OK;
    }
    return s ? s : nc_cfg_error_at(aug, key, "tarred audio is not supported; unpack it");
}

/* One noise group of rir_noise_aug (foreground: prefix "", background: "bg_"):
 * <prefix>noise_manifest_paths (a path or a list), <prefix>min_snr_db /
 * max_snr_db and <prefix>orig_sample_rate per manifest. One source per
 * orig_sr: a later manifest of the same rate replaces an earlier one, as
 * NeMo's dict of perturbers. */
static nc_status get_noise_group(const nc_cfg *aug, const char *prefix, double dmin, double dmax,
                                 nc_noise_source *src, int *n_src, asr_set_list *sets) {
    char km[64], kmin[64], kmax[64], ksr[64], ktar[64];
    snprintf(km, sizeof km, "%snoise_manifest_paths", prefix);
    snprintf(kmin, sizeof kmin, "%smin_snr_db", prefix);
    snprintf(kmax, sizeof kmax, "%smax_snr_db", prefix);
    snprintf(ksr, sizeof ksr, "%sorig_sample_rate", prefix);
    snprintf(ktar, sizeof ktar, "%snoise_tar_filepaths", prefix);
    *n_src = 0;
    nc_status s = refuse_tars(aug, ktar);
    if (s) return s;
    nc_cfg_type t;
    s = nc_cfg_get_type(aug, km, &t);
    if (s == NC_ERR_NOT_FOUND || (!s && t == NC_CFG_T_NULL)) return NC_OK;
    if (s) return s;
    nc_cfg *list = NULL;
    int64_t n = 1;
    if (t == NC_CFG_T_SEQ) {
        if ((s = nc_cfg_get_node(aug, km, &list))) return s;
        n = nc_cfg_size(list);
    }
    if (n > NC_RIR_NOISE_MAX_SETS)
        return nc_cfg_error_at(aug, km, "%lld manifests, at most %d", (long long)n, NC_RIR_NOISE_MAX_SETS);
    for (int64_t i = 0; i < n; i++) {
        const char *path;
        char k[32];
        snprintf(k, sizeof k, "[%lld]", (long long)i);
        nc_noise_source ns = {0};
        double sr;
        if ((s = list ? nc_cfg_get_str(list, k, &path) : nc_cfg_get_str(aug, km, &path)) ||
            (s = get_per_set(aug, kmin, i, n, dmin, -200, 200, &ns.min_snr_db)) ||
            (s = get_per_set(aug, kmax, i, n, dmax, -200, 200, &ns.max_snr_db)) ||
            (s = get_per_set(aug, ksr, i, n, 16000, 1000, NC_ASR_MAX_SAMPLE_RATE, &sr)))
            return s;
        if (ns.min_snr_db > ns.max_snr_db)
            return nc_cfg_error_at(aug, kmin, "%g > %s %g (manifest %lld)", ns.min_snr_db, kmax, ns.max_snr_db,
                                   (long long)i);
        ns.orig_sr = (int)sr;
        if ((s = load_set(sets, path, &ns.set))) return nc_cfg_error_at(aug, km, "%s", nc_last_error());
        int at = 0;
        while (at < *n_src && src[at].orig_sr != ns.orig_sr) at++;
        src[at] = ns;
        if (at == *n_src) (*n_src)++;
    }
    return NC_OK;
}

/* rir_noise_aug: RirAndNoisePerturbation's keys and defaults. */
static nc_status get_rir_noise(const nc_cfg *aug, nc_perturb_step *st, asr_set_list *sets) {
    static const char *const keys[] = {
        "prob", "rir_manifest_path", "rir_prob", "noise_manifest_paths", "noise_prob", "min_snr_db", "max_snr_db",
        "rir_tar_filepaths", "rir_shuffle_n", "noise_tar_filepaths", "apply_noise_rir", "orig_sample_rate",
        "max_additions", "max_duration", "bg_noise_manifest_paths", "bg_noise_prob", "bg_min_snr_db",
        "bg_max_snr_db", "bg_noise_tar_filepaths", "bg_orig_sample_rate", "rng", NULL};
    nc_rir_noise_perturb *rp = &st->u.rir_noise;
    const char *man = NULL;
    int64_t adds;
    st->kind = NC_PERTURB_RIR_NOISE;
    nc_status s;
    if ((s = nc_cfg_check_keys(aug, "", keys)) || (s = refuse_tars(aug, "rir_tar_filepaths")) ||
        (s = nc_cfg_get_str(aug, "rir_manifest_path", &man)) ||
        (s = nc_cfg_get_float_in_or(aug, "rir_prob", 0.5, 0, 1, &rp->rir_prob)) ||
        (s = nc_cfg_get_float_in_or(aug, "noise_prob", 1.0, 0, 1, &rp->noise_prob)) ||
        (s = nc_cfg_get_float_in_or(aug, "bg_noise_prob", 1.0, 0, 1, &rp->bg_noise_prob)) ||
        (s = nc_cfg_get_bool_or(aug, "apply_noise_rir", false, &rp->apply_noise_rir)) ||
        (s = nc_cfg_get_int_in_or(aug, "max_additions", 5, 1, 1000, &adds)) ||
        (s = nc_cfg_get_float_in_or(aug, "max_duration", 2.0, 0, 3600, &rp->max_duration)))
        return nc_error_prefix(s, "augmentor.rir_noise_aug");
    rp->max_additions = (int)adds;
    if ((s = load_set(sets, man, &rp->rirs))) return nc_error_prefix(s, "augmentor.rir_noise_aug.rir_manifest_path");
    if ((s = get_noise_group(aug, "", 0, 50, rp->fg, &rp->n_fg, sets)) ||
        (s = get_noise_group(aug, "bg_", 10, 50, rp->bg, &rp->n_bg, sets)))
        return s;
    return NC_OK;
}

/* vtlp: nemoc's vocal tract length perturbation (Jaitly & Hinton 2013). */
static nc_status get_vtlp(const nc_cfg *aug, nc_perturb_step *st, int sample_rate) {
    static const char *const keys[] = {"prob", "min_warp", "max_warp", "f_hi", "n_fft", NULL};
    nc_vtlp_perturb *vp = &st->u.vtlp;
    int64_t nfft;
    st->kind = NC_PERTURB_VTLP;
    nc_status s;
    if ((s = nc_cfg_check_keys(aug, "", keys)) ||
        (s = nc_cfg_get_float_in_or(aug, "min_warp", 0.9, 0.5, 2.0, &vp->min_warp)) ||
        (s = nc_cfg_get_float_in_or(aug, "max_warp", 1.1, 0.5, 2.0, &vp->max_warp)) ||
        (s = nc_cfg_get_float_in_or(aug, "f_hi", 4800, 1, NC_ASR_MAX_SAMPLE_RATE, &vp->f_hi)) ||
        (s = nc_cfg_get_int_in_or(aug, "n_fft", 512, 16, 16384, &nfft)))
        return nc_error_prefix(s, "augmentor.vtlp");
    if (vp->min_warp > vp->max_warp)
        return nc_cfg_error_at(aug, "", "min_warp %g > max_warp %g", vp->min_warp, vp->max_warp);
    if (nfft % 4) return nc_cfg_error_at(aug, "n_fft", "%lld must be a multiple of 4 (hop n_fft / 4)", (long long)nfft);
    if (vp->f_hi >= sample_rate / 2.0)
        return nc_cfg_error_at(aug, "f_hi", "%g Hz must be below the dataset's Nyquist frequency %g Hz", vp->f_hi,
                               sample_rate / 2.0);
    vp->n_fft = (int)nfft;
    return NC_OK;
}
/* shift, impulse, time_stretch, noise, resample and transcode_aug (perturb.py
 * ShiftPerturbation, ImpulsePerturbation, TimeStretchPerturbation,
 * NoisePerturbation, TranscodePerturbation; resample is nemoc's). Manifests
 * and codecs are checked here, so a missing RIR file or a codec libsndfile
 * cannot write stops the run before training starts. */
static nc_status get_perturb_more(const nc_cfg *aug, const char *name, nc_perturb_step *st, int sample_rate,
                                  asr_set_list *sets) {
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
        if ((s = load_set(sets, man, &ip->rirs))) return nc_error_prefix(s, "augmentor.impulse.manifest_path");
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
        if ((s = load_set(sets, man, &np->noise))) return nc_error_prefix(s, "augmentor.noise.manifest_path");
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
    if (!strcmp(name, "rir_noise_aug")) return get_rir_noise(aug, st, sets);
    if (!strcmp(name, "vtlp")) return get_vtlp(aug, st, sample_rate);
    return nc_error(NC_ERR_UNSUPPORTED,
                    "augmentor.%s: not one of speed, gain, white_noise, shift, impulse, time_stretch, noise, resample, "
                    "transcode_aug, rir_noise_aug, vtlp",
                    name);
}

/* One perturbation of NeMo's `augmentor` map (perturb.py process_augmentations). */
static nc_status get_perturb(const nc_cfg *aug, const char *name, nc_perturb_step *st, int sample_rate,
                             asr_set_list *sets) {
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
    return get_perturb_more(aug, name, st, sample_rate, sets);
}

nc_status asr_augmentor_from_cfg(const nc_cfg *ds, int sample_rate, nc_perturb_step **steps, int *n_steps,
                                 asr_set_list *sets) {
    nc_cfg_type t;
    nc_status s = nc_cfg_get_type(ds, "augmentor", &t);
    if (s == NC_ERR_NOT_FOUND || (!s && t == NC_CFG_T_NULL)) return NC_OK;
    if (s) return s;
    if (t != NC_CFG_T_MAP) return nc_error(NC_ERR_CONFIG, "augmentor must be a map of perturbations");
    nc_cfg *aug;
    if ((s = nc_cfg_get_node(ds, "augmentor", &aug))) return s;
    const int64_t n = nc_cfg_size(aug);
    if (n == 0) return NC_OK;
    *steps = nc_calloc((size_t)n, sizeof **steps);
    if (!*steps) return nc_error(NC_ERR_OOM, "augmentor");
    for (int64_t i = 0; i < n; i++)
        if ((s = get_perturb(nc_cfg_item(aug, i), nc_cfg_item_key(aug, i), &(*steps)[i], sample_rate, sets)))
            return s;
    *n_steps = (int)n;
    return NC_OK;
}
