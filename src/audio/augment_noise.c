/* NoisePerturbation (nemo/collections/asr/parts/preprocessing/perturb.py):
 * a noise manifest (JSONL, parsed with cJSON) and the mixing of a random
 * noise segment into an utterance at a random SNR. */
#include <cJSON.h>
#include <libgen.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "audio/augment_internal.h"
#include "core/vec.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/jsonl.h"
#include "nemoc/augment.h"

typedef struct noise_entry {
    char *path;
    double offset;   /* seconds; 0 when absent */
    double duration; /* seconds; 0 = the whole file */
} noise_entry;

struct nc_noise_set {
    noise_entry *items;
    int64_t n;
    atomic_int refs; /* the loader keeps a set alive after the config's params are cleared */
};

nc_noise_set *nc_noise_set_retain(const nc_noise_set *cs) {
    nc_noise_set *s = (nc_noise_set *)cs; /* the count is the only field that changes */
    if (s) atomic_fetch_add(&s->refs, 1);
    return s;
}

void nc_noise_set_free(nc_noise_set *s) {
    if (!s || atomic_fetch_sub(&s->refs, 1) > 1) return;
    for (int64_t i = 0; i < s->n; i++) nc_free(s->items[i].path);
    nc_free(s->items);
    nc_free(s);
}

int64_t nc_noise_set_size(const nc_noise_set *s) { return s ? s->n : 0; }

static bool is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* NeMo's get_full_path: a relative path is taken relative to the manifest's
 * folder when a file is there, else as given. */
static char *resolve_path(const char *manifest_dir, const char *p) {
    if (p[0] != '/') {
        size_t n = strlen(manifest_dir) + strlen(p) + 2;
        char *full = nc_malloc(n);
        if (!full) return NULL;
        snprintf(full, n, "%s/%s", manifest_dir, p);
        if (is_file(full)) return full;
        nc_free(full);
    }
    return nc_strdup(p);
}

static nc_status parse_line(const char *manifest, int64_t lineno, cJSON *j, const char *dir, noise_entry *e) {
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(j, "audio_filepath");
    if (!fp) fp = cJSON_GetObjectItemCaseSensitive(j, "audio_filename");
    const cJSON *dur = cJSON_GetObjectItemCaseSensitive(j, "duration");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "offset");
    nc_status s = NC_OK;
    e->path = NULL;
    if (!cJSON_IsString(fp) || !fp->valuestring[0])
        s = nc_error(NC_ERR_FORMAT, "%s:%lld: missing \"audio_filepath\"", manifest, (long long)lineno);
    else if (!cJSON_IsNumber(dur) || !(dur->valuedouble >= 0))
        s = nc_error(NC_ERR_FORMAT, "%s:%lld: missing or negative \"duration\"", manifest, (long long)lineno);
    else if (off && !cJSON_IsNull(off) && (!cJSON_IsNumber(off) || !(off->valuedouble >= 0)))
        s = nc_error(NC_ERR_FORMAT, "%s:%lld: \"offset\" must be a number >= 0", manifest, (long long)lineno);
    if (!s) {
        e->path = resolve_path(dir, fp->valuestring);
        e->duration = dur->valuedouble;
        e->offset = cJSON_IsNumber(off) ? off->valuedouble : 0.0;
        if (!e->path) s = nc_error(NC_ERR_OOM, "%s:%lld", manifest, (long long)lineno);
        /* Named now, at config time, not when a worker first draws this entry mid-training. */
        else if (!is_file(e->path))
            s = nc_error(NC_ERR_IO, "%s:%lld: audio_filepath '%s': no such file", manifest, (long long)lineno,
                         e->path);
    }
    if (s) { /* the entry is not counted, so the set's free would not see its path */
        nc_free(e->path);
        e->path = NULL;
    }
    return s;
}

nc_status nc_noise_set_load(const char *manifest_path, nc_noise_set **out) {
    if (!manifest_path || !out) return nc_error(NC_ERR_INVALID_ARG, "nc_noise_set_load: NULL argument");
    *out = NULL;
    /* The manifest reader's JSONL: regular files only, bounded lines, raw
     * control characters and \u0000 refused, duplicate keys as Python. */
    nc_jsonl_opts jo = nc_jsonl_default_opts();
    jo.max_line_bytes = (int64_t)16 << 20; /* as speech manifests (NC_MANIFEST_MAX_LINE_BYTES) */
    nc_jsonl_reader *r = NULL;
    nc_status s = nc_jsonl_open(manifest_path, &jo, &r);
    if (s) return nc_error_prefix(s, "noise manifest");
    nc_noise_set *set = nc_calloc(1, sizeof *set);
    char *dcopy = nc_strdup(manifest_path);
    int64_t cap = 0;
    if (set) atomic_init(&set->refs, 1);
    if (!set || !dcopy) s = nc_error(NC_ERR_OOM, "noise manifest '%s'", manifest_path);
    const char *dir = dcopy ? dirname(dcopy) : ".";
    for (cJSON *j = NULL; !s;) {
        if ((s = nc_jsonl_next(r, &j)) || !j) break;
        if (!cJSON_IsObject(j))
            s = nc_error(NC_ERR_FORMAT, "%s:%lld: not a JSON object", manifest_path, (long long)nc_jsonl_line(r));
        else if (nc_vec_reserve(&set->items, &cap, set->n + 1, sizeof *set->items))
            s = nc_error(NC_ERR_OOM, "noise manifest '%s'", manifest_path);
        else if (!(s = parse_line(manifest_path, nc_jsonl_line(r), j, dir, &set->items[set->n])))
            set->n++;
        cJSON_Delete(j);
    }
    nc_jsonl_close(r);
    nc_free(dcopy);
    if (!s && set->n == 0) s = nc_error(NC_ERR_FORMAT, "noise manifest '%s' has no entries", manifest_path);
    if (s) {
        nc_noise_set_free(set);
        return s;
    }
    *out = set;
    return NC_OK;
}

nc_status nc_noise_set_read(const nc_noise_set *set, int64_t i, int sr, nc_audio *out) {
    if (!set || i < 0 || i >= set->n || sr <= 0 || !out)
        return nc_error(NC_ERR_INVALID_ARG, "nc_noise_set_read: bad arguments");
    const noise_entry *e = &set->items[i];
    nc_audio_read_params rp = nc_audio_read_default_params();
    rp.target_sr = sr;
    rp.offset = e->offset;
    rp.duration = e->duration;
    return nc_audio_read(e->path, &rp, out);
}

nc_status nc_noise_set_pick(const nc_noise_set *set, nc_rng *rng, int sr, nc_audio *out, int64_t *index) {
    if (!set || set->n == 0 || !rng) return nc_error(NC_ERR_INVALID_ARG, "noise set: empty or no generator");
    /* read_one_audiosegment: random.sample(manifest.data, 1), read at the audio's rate */
    int64_t k = (int64_t)floor(nc_rng_double(rng) * (double)set->n);
    if (k >= set->n) k = set->n - 1;
    if (index) *index = k;
    return nc_noise_set_read(set, k, sr, out);
}

nc_status nc_noise_add_input(nc_audio *a, const nc_audio *noise, double data_db, double min_snr_db, double max_snr_db,
                             double max_gain_db, nc_rng *rng, double *drawn) {
    const double snr = min_snr_db + (max_snr_db - min_snr_db) * nc_rng_double(rng);
    if (drawn) *drawn = snr;
    const int sr = a->sample_rate;
    const double data_dur = (double)a->n_samples / sr, noise_dur = (double)noise->n_samples / sr;
    /* start_time = random.uniform(0, noise.duration - data.duration); subsegment when it fits. */
    const double start = (noise_dur - data_dur) * nc_rng_double(rng);
    const float *seg = noise->samples;
    int64_t nseg = noise->n_samples;
    if (noise_dur > start + data_dur) {
        const int64_t s0 = (int64_t)round(start * sr), s1 = (int64_t)round((start + data_dur) * sr);
        seg = noise->samples + s0;
        nseg = (s1 < noise->n_samples ? s1 : noise->n_samples) - s0;
    }
    const double noise_db = nc_audio_rms_db(seg, nseg);
    if (!isfinite(data_db) || !isfinite(noise_db)) {
        /* NeMo warns and skips when both are empty; an empty side gives no level to match. */
        return NC_OK;
    }
    double gain_db = data_db - noise_db - snr;
    if (gain_db > max_gain_db) gain_db = max_gain_db;
    const float g = (float)pow(10.0, gain_db / 20.0);
    int64_t at = 0;
    if (nseg < a->n_samples) at = (int64_t)floor(nc_rng_double(rng) * (double)(a->n_samples - nseg + 1));
    const int64_t m = nseg < a->n_samples - at ? nseg : a->n_samples - at;
    for (int64_t i = 0; i < m; i++) a->samples[at + i] += g * seg[i];
    return NC_OK;
}

nc_status nc_perturb_noise(const nc_noise_perturb *p, nc_audio *a, nc_rng *rng, double *drawn) {
    if (!p || !p->noise || p->noise->n == 0 || !a || !rng || a->sample_rate <= 0 || (a->n_samples && !a->samples))
        return nc_error(NC_ERR_INVALID_ARG, "noise perturbation: bad arguments (no noise set?)");
    if (!(isfinite(p->min_snr_db) && isfinite(p->max_snr_db) && p->min_snr_db <= p->max_snr_db))
        return nc_error(NC_ERR_CONFIG, "noise perturbation: need finite min_snr_db <= max_snr_db, found %g and %g",
                        p->min_snr_db, p->max_snr_db);
    nc_audio noise;
    nc_status s = nc_noise_set_pick(p->noise, rng, a->sample_rate, &noise, NULL);
    if (s) return nc_error_prefix(s, "noise perturbation");
    s = nc_noise_add_input(a, &noise, nc_audio_rms_db(a->samples, a->n_samples), p->min_snr_db, p->max_snr_db,
                           p->max_gain_db, rng, drawn);
    nc_audio_free(&noise);
    return s;
}
