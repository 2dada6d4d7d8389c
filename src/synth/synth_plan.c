/* The synth plan: voice pool, split by voice, texts and per-utterance engine
 * and augmentation parameters, all fixed by the seed before any engine runs. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "synth/synth_internal.h"
#include "nemoc/alloc.h"
#include "core/vec.h"
#include "nemoc/rng.h"
#include "nemoc/synth.h"

/* Independent random streams (see nc_synth_stream_seed). */
enum {
    STREAM_TEXT = 1,
    STREAM_VOICE_SPLIT = 2,
    STREAM_VOICE_ORDER = 3,
    STREAM_PARAMS = 4,
    STREAM_NOISE = 5,
    STREAM_PROSODY = 6, /* pitch range, word gap, gain: their own stream, so adding them kept the others */
};

const char *nc_synth_engine_name(nc_synth_engine e) {
    switch (e) {
    case NC_SYNTH_ESPEAK: return "espeak-ng";
    case NC_SYNTH_FLITE: return "flite";
    case NC_SYNTH_FESTIVAL: return "festival";
    default: return "?";
    }
}

const char *nc_synth_split_name(nc_synth_split s) {
    switch (s) {
    case NC_SPLIT_TRAIN: return "train";
    case NC_SPLIT_VALIDATION: return "validation";
    case NC_SPLIT_TEST: return "test";
    default: return "?";
    }
}

nc_synth_params nc_synth_default_params(void) {
    return (nc_synth_params){
        .seed = 0,
        .num_utts = 100,
        .text_set = "digits",
        .letters = true,
        .engines = {[NC_SYNTH_ESPEAK] = true, [NC_SYNTH_FLITE] = true},
        .espeak_accents = "en-us,en-gb,en-gb-scotland,en-gb-x-rp,en-gb-x-gbclan,en-gb-x-gbcwmd,"
                          "en-029,en-us-nyc",
        .espeak_variants = "m1,m2,m3,m4,m5,m6,m7,f1,f2,f3,f4,f5,klatt,klatt2,klatt3,klatt4",
        .flite_voices = "kal,kal16,awb,rms,slt",
        .festival_voices = "kal_diphone,ked_diphone,cmu_us_slt_arctic_hts",
        .validation_fraction = 0.1,
        .test_fraction = 0.1,
        .num_validation = -1,
        .num_test = -1,
        .validation_voices = "",
        .test_voices = "",
        /* Wider than the first ranges ({130, 210}, {25, 75}, {0.85, 1.25})
         * and new axes, for models that meet more speaking styles (issue 17);
         * the ends of each range were rendered with the Debian engines and
         * their duration and F0 measured (src/synth/synth_voices.c). */
        .espeak_rate = {120, 230},
        .espeak_pitch = {20, 80},
        .espeak_range = {60, 160},
        .espeak_word_gap = {0, 3},
        .flite_stretch = {0.8, 1.35},
        .festival_stretch = {0.8, 1.35},
        .f0_shift = {-3, 3},
        .f0_spread = {0.08, 0.2},
        .gain_db = {-12, 0},
        .speed_prob = 0.0,
        .speed_range = {0.9, 1.1},
        .noise_prob = 0.0,
        .snr_db = {10, 30},
        .sample_rate = 16000,
    };
}

void nc_synth_plan_free(nc_synth_plan *plan) {
    if (!plan) return;
    nc_free(plan->voices);
    nc_free(plan->utts);
    nc_free(plan->text_storage);
    nc_free(plan);
}

/* Voice names go on an engine's command line and into JSON: keep them to a
 * safe alphabet (plus ':' in split lists, for the "flite:slt" form). */
static int valid_name(const char *s, const char *extra) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') || ('0' <= *s && *s <= '9') ||
              strchr("-_.+", *s) || strchr(extra, *s)))
            return 0;
    return 1;
}

/* Calls fn(item, ctx) for each trimmed, non-empty item of a comma list. */
static nc_status each_item(const char *list, const char *key, const char *extra,
                           nc_status (*fn)(const char *item, void *ctx), void *ctx) {
    if (!list) return NC_OK;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && (*p == ' ')) p++, n--;
        while (n && p[n - 1] == ' ') n--;
        if (n) {
            char item[64];
            if (n >= sizeof item) return nc_error(NC_ERR_CONFIG, "%s: item '%.*s...' is too long", key, 40, p);
            memcpy(item, p, n);
            item[n] = 0;
            if (!valid_name(item, extra))
                return nc_error(NC_ERR_CONFIG, "%s: '%s' may only use letters, digits and - _ . +%s", key,
                                item, extra);
            nc_status st = fn(item, ctx);
            if (st) return nc_error_prefix(st, "%s", key);
        }
        if (!end) break;
        p = end + 1;
    }
    return NC_OK;
}

typedef struct pool {
    nc_synth_voice *v;
    int64_t n, cap;
    nc_synth_engine engine;
    const char *variants; /* for espeak accents */
} pool;

static nc_status pool_add(pool *p, nc_synth_engine e, const char *name) {
    for (int64_t i = 0; i < p->n; i++)
        if (p->v[i].engine == e && !strcmp(p->v[i].name, name))
            return nc_error(NC_ERR_CONFIG, "voice '%s' listed twice", name);
    if (nc_vec_reserve(&p->v, &p->cap, p->n + 1, sizeof *p->v)) return nc_error(NC_ERR_OOM, "voice list");
    nc_synth_voice *v = &p->v[p->n++];
    *v = (nc_synth_voice){.engine = e, .split = NC_SPLIT_N};
    snprintf(v->name, sizeof v->name, "%s", name);
    snprintf(v->speaker, sizeof v->speaker, "%s:%s", nc_synth_engine_name(e), name);
    return NC_OK;
}

typedef struct accent_ctx {
    pool *p;
    const char *accent;
} accent_ctx;

static nc_status add_variant(const char *variant, void *ctx) {
    accent_ctx *a = ctx;
    char name[130];
    snprintf(name, sizeof name, "%s+%s", a->accent, variant);
    if (strlen(name) >= sizeof a->p->v[0].name)
        return nc_error(NC_ERR_CONFIG, "voice name '%s' is too long", name);
    return pool_add(a->p, NC_SYNTH_ESPEAK, name);
}

static nc_status add_accent(const char *accent, void *ctx) {
    pool *p = ctx;
    int has_variant = 0;
    for (const char *q = p->variants; q && *q; q++) has_variant |= *q != ',' && *q != ' ';
    if (!has_variant) return pool_add(p, NC_SYNTH_ESPEAK, accent);
    accent_ctx a = {.p = p, .accent = accent};
    return each_item(p->variants, "espeak_variants", "", add_variant, &a);
}

static nc_status add_flite(const char *name, void *ctx) { return pool_add(ctx, NC_SYNTH_FLITE, name); }

static nc_status add_festival(const char *name, void *ctx) { return pool_add(ctx, NC_SYNTH_FESTIVAL, name); }

typedef struct assign_ctx {
    pool *p;
    nc_synth_split split;
} assign_ctx;

/* "slt", "en-gb+f2" or the speaker form "flite:slt", "festival:kal_diphone". */
static nc_status assign_named(const char *item, void *ctx) {
    assign_ctx *a = ctx;
    for (int64_t i = 0; i < a->p->n; i++) {
        nc_synth_voice *v = &a->p->v[i];
        if (strcmp(item, v->name) != 0 && strcmp(item, v->speaker) != 0) continue;
        if (v->split != NC_SPLIT_N && v->split != a->split)
            return nc_error(NC_ERR_CONFIG, "voice '%s' is named for both %s and %s", item,
                            nc_synth_split_name(v->split), nc_synth_split_name(a->split));
        v->split = a->split;
        return NC_OK;
    }
    return nc_error(NC_ERR_CONFIG, "voice '%s' is not among the configured voices", item);
}

static int list_empty(const char *s) {
    for (; s && *s; s++)
        if (*s != ',' && *s != ' ') return 0;
    return 1;
}

static void shuffle(nc_rng *r, int64_t *x, int64_t n) {
    /* Fisher-Yates with 53-bit uniforms. */
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)floor(nc_rng_double(r) * (double)(i + 1));
        if (j > i) j = i;
        int64_t t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

/* Held-out voices per engine: the split's share of utterances, at least one
 * voice when the split has utterances and the engine can spare it (every
 * split that still needs a voice keeps one). */
static void auto_split(pool *p, const int64_t n_split[NC_SPLIT_N], const bool explicit_[NC_SPLIT_N],
                       int64_t num_utts, nc_rng *r, int64_t *scratch) {
    for (int e = 0; e < NC_SYNTH_N_ENGINES; e++) {
        int64_t n_e = 0, avail = 0;
        for (int64_t i = 0; i < p->n; i++) {
            if (p->v[i].engine != (nc_synth_engine)e) continue;
            n_e++;
            if (p->v[i].split == NC_SPLIT_N) scratch[avail++] = i;
        }
        shuffle(r, scratch, avail);
        int64_t next = 0;
        const nc_synth_split order[2] = {NC_SPLIT_TEST, NC_SPLIT_VALIDATION};
        for (int k = 0; k < 2; k++) {
            nc_synth_split s = order[k];
            if (explicit_[s] || n_split[s] == 0) continue;
            int64_t keep = n_split[NC_SPLIT_TRAIN] > 0;
            if (s == NC_SPLIT_TEST && !explicit_[NC_SPLIT_VALIDATION] && n_split[NC_SPLIT_VALIDATION] > 0)
                keep++;
            int64_t want = llround((double)n_e * (double)n_split[s] / (double)num_utts);
            if (want < 1) want = 1;
            if (want > avail - next - keep) want = avail - next - keep;
            for (int64_t j = 0; j < want; j++) p->v[scratch[next++]].split = s;
        }
        for (; next < avail; next++) p->v[scratch[next]].split = NC_SPLIT_TRAIN;
    }
}

#define NC_SYNTH_MAX_UTTS INT64_C(10000000)

static nc_status check_range(const double r[2], double lo, double hi, const char *key) {
    if (!(r[0] >= lo && r[1] <= hi && r[0] <= r[1]))
        return nc_error(NC_ERR_CONFIG, "%s=[%g,%g]: need %g <= min <= max <= %g", key, r[0], r[1], lo, hi);
    return NC_OK;
}

static nc_status check_params(const nc_synth_params *p) {
    nc_status st;
    /* The plan holds every utterance's text and voice in memory (~140 bytes
     * each, more for sentences): ten million is a large corpus already. */
    if (p->num_utts < 1 || p->num_utts > NC_SYNTH_MAX_UTTS)
        return nc_error(NC_ERR_CONFIG, "num_utts=%lld is out of range [1, %lld]", (long long)p->num_utts,
                        (long long)NC_SYNTH_MAX_UTTS);
    if (p->num_validation > p->num_utts || p->num_test > p->num_utts)
        return nc_error(NC_ERR_CONFIG, "num_validation=%lld, num_test=%lld: each must be at most num_utts=%lld",
                        (long long)p->num_validation, (long long)p->num_test, (long long)p->num_utts);
    if (!p->text_set || !*p->text_set) return nc_error(NC_ERR_CONFIG, "text_set is empty");
    if (!p->engines[NC_SYNTH_ESPEAK] && !p->engines[NC_SYNTH_FLITE] && !p->engines[NC_SYNTH_FESTIVAL])
        return nc_error(NC_ERR_CONFIG, "engines: choose at least one of espeak, flite, festival");
    if (!(p->validation_fraction >= 0 && p->test_fraction >= 0 &&
          p->validation_fraction + p->test_fraction <= 1))
        return nc_error(NC_ERR_CONFIG, "validation_fraction=%g test_fraction=%g: need >= 0 and sum <= 1",
                        p->validation_fraction, p->test_fraction);
    if ((st = check_range(p->espeak_rate, 80, 450, "espeak_rate")) ||
        (st = check_range(p->espeak_pitch, 0, 99, "espeak_pitch")) ||
        (st = check_range(p->espeak_range, 10, 300, "espeak_range")) ||
        (st = check_range(p->espeak_word_gap, 0, 100, "espeak_word_gap")) ||
        (st = check_range(p->flite_stretch, 0.3, 3, "flite_stretch")) ||
        (st = check_range(p->festival_stretch, 0.3, 3, "festival_stretch")) ||
        (st = check_range(p->f0_shift, -12, 12, "f0_shift")) ||
        (st = check_range(p->f0_spread, 0, 0.5, "f0_spread")) ||
        (st = check_range(p->gain_db, -40, 0, "gain_db")) ||
        (st = check_range(p->speed_range, 0.5, 2, "speed_range")) ||
        (st = check_range(p->snr_db, -20, 100, "snr_db")))
        return st;
    if (!(p->speed_prob >= 0 && p->speed_prob <= 1) || !(p->noise_prob >= 0 && p->noise_prob <= 1))
        return nc_error(NC_ERR_CONFIG, "speed_prob=%g noise_prob=%g: need probabilities in [0,1]",
                        p->speed_prob, p->noise_prob);
    if (p->sample_rate < 8000 || p->sample_rate > 192000)
        return nc_error(NC_ERR_CONFIG, "sample_rate=%d: need 8000..192000", p->sample_rate);
    return NC_OK;
}

static nc_status split_counts(const nc_synth_params *p, int64_t n[NC_SPLIT_N]) {
    n[NC_SPLIT_VALIDATION] = p->num_validation >= 0 ? p->num_validation
                                                    : llround((double)p->num_utts * p->validation_fraction);
    n[NC_SPLIT_TEST] = p->num_test >= 0 ? p->num_test : llround((double)p->num_utts * p->test_fraction);
    n[NC_SPLIT_TRAIN] = p->num_utts - n[NC_SPLIT_VALIDATION] - n[NC_SPLIT_TEST];
    if (n[NC_SPLIT_TRAIN] < 0)
        return nc_error(NC_ERR_CONFIG, "num_validation=%lld + num_test=%lld exceed num_utts=%lld",
                        (long long)n[NC_SPLIT_VALIDATION], (long long)n[NC_SPLIT_TEST],
                        (long long)p->num_utts);
    return NC_OK;
}

/* Texts for every utterance: generated digits, or lines of a file visited in
 * a fresh random order per pass (no repeats until the file is used up). */
static nc_status plan_texts(nc_synth_plan *plan, const nc_synth_params *p, nc_rng *r) {
    int64_t n = plan->n_utts;
    if (!strcmp(p->text_set, "digits")) {
        const int64_t per = 64; /* 6 words of at most 8 letters and spaces fit */
        plan->text_storage = nc_malloc((size_t)(n * per));
        if (!plan->text_storage) return nc_error(NC_ERR_OOM, "texts for %lld utterances", (long long)n);
        for (int64_t i = 0; i < n; i++) {
            char *t = plan->text_storage + i * per;
            nc_synth_digits_utterance(r, t, per, p->letters);
            plan->utts[i].text = t;
        }
        return NC_OK;
    }
    char *store;
    int64_t *offs, n_lines;
    nc_status st = nc_synth_load_lines(p->text_set, &store, &offs, &n_lines);
    if (st) return st;
    int64_t *perm = nc_malloc((size_t)n_lines * sizeof(int64_t));
    if (!perm) {
        nc_free(store);
        nc_free(offs);
        return nc_error(NC_ERR_OOM, "text order for %lld lines", (long long)n_lines);
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t k = i % n_lines;
        if (k == 0) {
            for (int64_t j = 0; j < n_lines; j++) perm[j] = j;
            shuffle(r, perm, n_lines);
        }
        plan->utts[i].text = store + offs[perm[k]];
    }
    nc_free(perm);
    nc_free(offs);
    plan->text_storage = store;
    return NC_OK;
}

/* The point a fraction d in [0, 1) of the way through [range[0], range[1]]. */
static double lerp(const double range[2], double d) { return range[0] + (range[1] - range[0]) * d; }

/* The utterance's engine parameters from its draws d_* in [0, 1). Values
 * are rounded to what the command line prints, so the plan says exactly
 * what the engine was given. */
static void set_prosody(nc_synth_utt *u, const nc_synth_voice *v, const nc_synth_params *p, double d_rate,
                        double d_pitch, double d_range, double d_gap) {
    u->pitch = u->pitch_range = u->word_gap = 0;
    if (v->engine == NC_SYNTH_ESPEAK) {
        u->rate = round(lerp(p->espeak_rate, d_rate)); /* espeak-ng takes integers */
        u->pitch = round(lerp(p->espeak_pitch, d_pitch));
        u->pitch_range = round(lerp(p->espeak_range, d_range));
        u->word_gap = round(lerp(p->espeak_word_gap, d_gap));
        return;
    }
    const double *stretch = v->engine == NC_SYNTH_FLITE ? p->flite_stretch : p->festival_stretch;
    u->rate = round(1000 * lerp(stretch, d_rate)) / 1000;
    nc_synth_voice_info info = nc_synth_voice_info_of(v->engine, v->name);
    if (info.f0_kind == NC_SYNTH_F0_NONE) return;
    /* A shift of s semitones multiplies F0 by 2^(s/12); the spread is the
     * target standard deviation over the target mean (kal's own: 11/95). */
    u->pitch = round(10 * info.f0_mean * exp2(lerp(p->f0_shift, d_pitch) / 12)) / 10;
    u->pitch_range = round(10 * u->pitch * lerp(p->f0_spread, d_range)) / 10;
}

/* Voices for the utterances of each split: engines take turns (so a small
 * flite pool is not drowned by a large espeak-ng pool), and within an engine
 * the split's voices are used round-robin in an order reshuffled every
 * round, which balances utterances per voice. */
static nc_status plan_voices(nc_synth_plan *plan, nc_rng *r) {
    int64_t *order = nc_malloc((size_t)plan->n_voices * sizeof(int64_t));
    if (!order) return nc_error(NC_ERR_OOM, "voice order");
    int64_t first = 0;
    for (int s = 0; s < NC_SPLIT_N; s++) {
        int64_t count = plan->n_split[s];
        int engines[NC_SYNTH_N_ENGINES], n_eng = 0;
        for (int e = 0; e < NC_SYNTH_N_ENGINES; e++)
            for (int64_t v = 0; v < plan->n_voices; v++)
                if (plan->voices[v].engine == (nc_synth_engine)e && plan->voices[v].split == (nc_synth_split)s) {
                    engines[n_eng++] = e;
                    break;
                }
        if (count > 0 && n_eng == 0) {
            nc_free(order);
            return nc_error(NC_ERR_CONFIG,
                            "split '%s' has %lld utterances but no voice: too few voices to hold "
                            "some out (add voices, name them with %s_voices=, or set num_%s=0)",
                            nc_synth_split_name(s), (long long)count, nc_synth_split_name(s),
                            nc_synth_split_name(s));
        }
        for (int k = 0; k < n_eng; k++) {
            int64_t n_v = 0;
            for (int64_t v = 0; v < plan->n_voices; v++)
                if (plan->voices[v].engine == (nc_synth_engine)engines[k] &&
                    plan->voices[v].split == (nc_synth_split)s)
                    order[n_v++] = v;
            /* Utterances first + k, first + k + n_eng, ... belong to this engine. */
            int64_t j = 0;
            for (int64_t u = k; u < count; u += n_eng, j++) {
                if (j % n_v == 0) shuffle(r, order, n_v);
                int64_t v = order[j % n_v];
                plan->utts[first + u].voice = v;
                plan->voices[v].n_utts++;
            }
        }
        first += count;
    }
    nc_free(order);
    return NC_OK;
}

static nc_status build(nc_synth_plan *plan, const nc_synth_params *p, nc_rng *r) {
    nc_status st;
    if ((st = check_params(p)) || (st = split_counts(p, plan->n_split))) return st;
    pool pl = {.v = NULL, .variants = p->espeak_variants};
    if (p->engines[NC_SYNTH_ESPEAK] && (st = each_item(p->espeak_accents, "espeak_accents", "", add_accent, &pl)))
        goto fail_pool;
    if (p->engines[NC_SYNTH_FLITE] && (st = each_item(p->flite_voices, "flite_voices", "", add_flite, &pl)))
        goto fail_pool;
    if (p->engines[NC_SYNTH_FESTIVAL] &&
        (st = each_item(p->festival_voices, "festival_voices", "", add_festival, &pl)))
        goto fail_pool;
    if (pl.n == 0) {
        st = nc_error(NC_ERR_CONFIG, "no voices: the voice lists of the chosen engines are empty");
        goto fail_pool;
    }
    bool explicit_[NC_SPLIT_N] = {false, !list_empty(p->validation_voices), !list_empty(p->test_voices)};
    assign_ctx a = {.p = &pl, .split = NC_SPLIT_VALIDATION};
    if ((st = each_item(p->validation_voices, "validation_voices", ":", assign_named, &a))) goto fail_pool;
    a.split = NC_SPLIT_TEST;
    if ((st = each_item(p->test_voices, "test_voices", ":", assign_named, &a))) goto fail_pool;
    int64_t *scratch = nc_malloc((size_t)pl.n * sizeof(int64_t));
    if (!scratch) {
        st = nc_error(NC_ERR_OOM, "voice split");
        goto fail_pool;
    }
    nc_rng_seed(r, nc_synth_stream_seed(p->seed, STREAM_VOICE_SPLIT));
    auto_split(&pl, plan->n_split, explicit_, p->num_utts, r, scratch);
    nc_free(scratch);
    plan->voices = pl.v;
    plan->n_voices = pl.n;

    plan->n_utts = p->num_utts;
    plan->utts = nc_calloc((size_t)p->num_utts, sizeof *plan->utts);
    if (!plan->utts) return nc_error(NC_ERR_OOM, "plan for %lld utterances", (long long)p->num_utts);
    nc_rng_seed(r, nc_synth_stream_seed(p->seed, STREAM_TEXT));
    if ((st = plan_texts(plan, p, r))) return st;
    for (int64_t i = 0, first = 0; i < NC_SPLIT_N; first += plan->n_split[i], i++)
        for (int64_t u = first; u < first + plan->n_split[i]; u++) plan->utts[u].split = (nc_synth_split)i;
    nc_rng_seed(r, nc_synth_stream_seed(p->seed, STREAM_VOICE_ORDER));
    if ((st = plan_voices(plan, r))) return st;

    /* Six draws per utterance whatever the outcomes (and three of the
     * prosody stream), so that changing a probability, an engine or a voice
     * never shifts the draws of later utterances. */
    nc_rng_seed(r, nc_synth_stream_seed(p->seed, STREAM_PARAMS));
    nc_rng *rp = nc_malloc(sizeof *rp);
    if (!rp) return nc_error(NC_ERR_OOM, "prosody generator");
    nc_rng_seed(rp, nc_synth_stream_seed(p->seed, STREAM_PROSODY));
    for (int64_t i = 0; i < plan->n_utts; i++) {
        nc_synth_utt *u = &plan->utts[i];
        const nc_synth_voice *v = &plan->voices[u->voice];
        double d_rate = nc_rng_double(r), d_pitch = nc_rng_double(r);
        double d_speed_on = nc_rng_double(r), d_speed = nc_rng_double(r);
        double d_noise_on = nc_rng_double(r), d_snr = nc_rng_double(r);
        double d_range = nc_rng_double(rp), d_gap = nc_rng_double(rp), d_gain = nc_rng_double(rp);
        u->id = i;
        set_prosody(u, v, p, d_rate, d_pitch, d_range, d_gap);
        u->gain_db = round(100 * lerp(p->gain_db, d_gain)) / 100;
        if (u->gain_db == 0) u->gain_db = 0; /* not -0: it is printed into the manifest */
        int train = u->split == NC_SPLIT_TRAIN;
        u->speed = train && d_speed_on < p->speed_prob ? round(1000 * lerp(p->speed_range, d_speed)) / 1000 : 1.0;
        u->snr_db = train && d_noise_on < p->noise_prob ? lerp(p->snr_db, d_snr) : INFINITY;
        u->noise_seed = nc_synth_stream_seed(p->seed ^ nc_synth_stream_seed((uint64_t)i, STREAM_NOISE), STREAM_NOISE);
        snprintf(u->audio_filepath, sizeof u->audio_filepath, "audio/%s/%06lld.wav",
                 nc_synth_split_name(u->split), (long long)i);
    }
    nc_free(rp);
    return NC_OK;

fail_pool:
    nc_free(pl.v);
    return st;
}

nc_status nc_synth_plan_build(const nc_synth_params *p, nc_synth_plan **out) {
    *out = NULL;
    nc_synth_plan *plan = nc_calloc(1, sizeof *plan);
    nc_rng *r = nc_malloc(sizeof *r);
    if (!plan || !r) {
        nc_free(plan);
        nc_free(r);
        return nc_error(NC_ERR_OOM, "synth plan");
    }
    plan->params = *p;
    plan->params.text_set = NULL;
    plan->params.espeak_accents = plan->params.espeak_variants = plan->params.flite_voices = NULL;
    plan->params.festival_voices = NULL;
    plan->params.validation_voices = plan->params.test_voices = NULL;
    nc_status st = build(plan, p, r);
    nc_free(r);
    if (st) {
        nc_synth_plan_free(plan);
        return st;
    }
    *out = plan;
    return NC_OK;
}
