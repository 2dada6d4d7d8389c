/* `nemoc data synth`: a NeMo manifest dataset of synthetic speech (espeak-ng,
 * flite and festival voices), split by voice into train/validation/test, for
 * training and testing ASR without downloads; `nemoc data rirs`: a bank of
 * simulated room impulse responses (image method) with a NeMo RIR manifest.
 * Hydra-style key=value arguments. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "core/clock.h"
#include "nemoc/alloc.h"
#include "nemoc/rir.h"
#include "nemoc/synth.h"

/* One key of --help: "  key=default" padded to a column, then the text;
 * long defaults get the text on the next line. */
static void opt(FILE *f, const char *key, const char *def, const char *text) {
    char kv[256];
    snprintf(kv, sizeof kv, "%s=%s", key, def);
    if (strlen(kv) > 26)
        fprintf(f, "  %s\n  %-26s %s\n", kv, "", text);
    else
        fprintf(f, "  %-26s %s\n", kv, text);
}

static void synth_help(FILE *f) {
    nc_synth_params d = nc_synth_default_params();
    char b[64];
    fprintf(f,
            "usage: nemoc data synth out_dir=DIR [key=value ...]\n"
            "\n"
            "Builds a speech dataset with text-to-speech engines (run as child processes):\n"
            "16-bit mono WAV files under DIR/audio/<split>/ and NeMo manifests\n"
            "DIR/{train,validation,test}_manifest.json, one JSON object per line:\n"
            "  {\"audio_filepath\": \"audio/train/000000.wav\", \"duration\": 1.2345, \"text\": \"...\",\n"
            "   \"speaker\": \"espeak-ng:en-gb+f2\", \"synth_rate\": 162, \"synth_pitch\": 41,\n"
            "   \"synth_pitch_range\": 120, \"synth_word_gap\": 1, \"synth_gain_db\": -4.25}\n"
            "with audio_filepath relative to DIR (files of the same names are overwritten).\n"
            "The split is by voice: validation and test voices never speak training\n"
            "utterances. The same arguments give the same dataset (texts, voices,\n"
            "parameters, audio) whatever num_workers is.\n"
            "\n"
            "keys (default):\n");
    opt(f, "out_dir", "", "output folder, created if missing (required)");
    opt(f, "text_set", d.text_set,
        "digits: digit strings, short commands, spelled letters (1-6 words,\n"
        "                             56-word vocabulary) generated from seed; sentences:\n"
        "                             data/text/sentences.txt (3,000 KJV sentences, 3-12 words);\n"
        "                             or a text file, one utterance per line (lowercased; other\n"
        "                             characters than letters and ' become spaces)");
    opt(f, "letters", d.letters ? "true" : "false",
        "text_set=digits: include spelled-letter utterances (\"b k p\"); false makes\n"
        "                             those digit strings");
    opt(f, "data_dir", "",
        "where text_set=sentences is looked up (DIR/text/sentences.txt); empty:\n"
        "                             $NEMOC_DATA_DIR, <bin>/../data, <bin>/../../data,\n"
        "                             <bin>/../share/nemoc/data, $NC_SOURCE_DIR/data, ./data");
    snprintf(b, sizeof b, "%lld", (long long)d.num_utts);
    opt(f, "num_utts", b, "utterances in all splits together");
    snprintf(b, sizeof b, "%llu", (unsigned long long)d.seed);
    opt(f, "seed", b, "decides texts, voice split, engine parameters and noise");
    opt(f, "engines", "[espeak,flite]",
        "TTS engines, any of espeak (espeak-ng), flite, festival; within a\n"
        "                             split they take turns, and each engine's voices are\n"
        "                             used round-robin");
    opt(f, "num_workers", "0", "engine processes at once; 0 = number of CPUs");
    opt(f, "festival_batch", "0",
        "festival utterances per festival process: 0 = up to 32, 1 = one\n"
        "                             text2wave per utterance (same audio, ~0.3 s more each)");
    snprintf(b, sizeof b, "%d", d.sample_rate);
    opt(f, "sample_rate", b, "output rate in Hz (engine audio resampled with libsoxr)");
    snprintf(b, sizeof b, "%g", d.validation_fraction);
    opt(f, "validation_fraction", b, "share of utterances for validation");
    snprintf(b, sizeof b, "%g", d.test_fraction);
    opt(f, "test_fraction", b, "share of utterances for test");
    opt(f, "num_validation", "-1", "validation utterance count; >= 0 overrides the fraction");
    opt(f, "num_test", "-1", "test utterance count; >= 0 overrides the fraction");
    opt(f, "validation_voices", "[]",
        "voices held out for validation (en-gb+f2, slt or flite:slt);\n"
        "                             empty: drawn from each engine's voices in proportion");
    opt(f, "test_voices", "[]", "voices held out for test; empty: drawn like validation's");
    opt(f, "espeak_accents", d.espeak_accents, "espeak-ng languages (espeak-ng --voices=en)");
    opt(f, "espeak_variants", d.espeak_variants,
        "espeak-ng variants (espeak-ng --voices=variant); every\n"
        "                             accent+variant pair is a voice; empty: accents alone");
    opt(f, "flite_voices", d.flite_voices, "flite voices (flite -lv)");
    opt(f, "festival_voices", d.festival_voices,
        "festival voices (festival -b '(print (voice.list))'); Debian\n"
        "                             packages festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts");
    snprintf(b, sizeof b, "[%g,%g]", d.espeak_rate[0], d.espeak_rate[1]);
    opt(f, "espeak_rate", b, "espeak-ng speed range, words per minute");
    snprintf(b, sizeof b, "[%g,%g]", d.espeak_pitch[0], d.espeak_pitch[1]);
    opt(f, "espeak_pitch", b, "espeak-ng base pitch (-p), 0..99");
    snprintf(b, sizeof b, "[%g,%g]", d.espeak_range[0], d.espeak_range[1]);
    opt(f, "espeak_range", b, "espeak-ng intonation width, % of the voice's (SSML range)");
    snprintf(b, sizeof b, "[%g,%g]", d.espeak_word_gap[0], d.espeak_word_gap[1]);
    opt(f, "espeak_word_gap", b, "espeak-ng pause between words, 10 ms units (-g)");
    snprintf(b, sizeof b, "[%g,%g]", d.flite_stretch[0], d.flite_stretch[1]);
    opt(f, "flite_stretch", b, "flite duration_stretch range (> 1 is slower)");
    snprintf(b, sizeof b, "[%g,%g]", d.festival_stretch[0], d.festival_stretch[1]);
    opt(f, "festival_stretch", b,
        "festival Duration_Stretch range (> 1 is slower; HTS voices:\n"
        "                             speed 1/x)");
    snprintf(b, sizeof b, "[%g,%g]", d.f0_shift[0], d.f0_shift[1]);
    opt(f, "f0_shift", b,
        "semitones from the voice's mean F0 (flite kal, kal16, awb, slt;\n"
        "                             festival kal_diphone, ked_diphone; the others keep theirs)");
    snprintf(b, sizeof b, "[%g,%g]", d.f0_spread[0], d.f0_spread[1]);
    opt(f, "f0_spread", b, "their F0 standard deviation over mean F0");
    snprintf(b, sizeof b, "[%g,%g]", d.gain_db[0], d.gain_db[1]);
    opt(f, "gain_db", b, "every engine: gain on the rendered audio, dB (<= 0)");
    snprintf(b, sizeof b, "%g", d.speed_prob);
    opt(f, "speed_prob", b, "training only: chance of speed perturbation");
    snprintf(b, sizeof b, "[%g,%g]", d.speed_range[0], d.speed_range[1]);
    opt(f, "speed_range", b, "its tempo factor range (1.1 = 10% faster; by resampling)");
    snprintf(b, sizeof b, "%g", d.noise_prob);
    opt(f, "noise_prob", b, "training only: chance of additive white noise");
    snprintf(b, sizeof b, "[%g,%g]", d.snr_db[0], d.snr_db[1]);
    opt(f, "snr_db", b, "its signal-to-noise ratio range in dB");
    fprintf(f, "\nRanges are written [min,max] or min,max; lists [a,b] or a,b. Each utterance\n"
               "draws its prosody from the seed. The engines come from the Debian packages\n"
               "espeak-ng, flite and festival (scripts/install-deps.sh).\n");
}

static const char *cmd_name = "nemoc data synth"; /* the subcommand running, for messages */

static int bad_value(const char *key, const char *val, const char *want) {
    fprintf(stderr, "%s: %s=%s: expected %s\n", cmd_name, key, val, want);
    return 0;
}

static int parse_i64(const char *key, const char *v, int64_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end) return bad_value(key, v, "an integer");
    *out = x;
    return 1;
}

static int parse_f64(const char *key, const char *v, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x)) return bad_value(key, v, "a number");
    *out = x;
    return 1;
}

/* "[a,b]" or "a,b". */
static int parse_range(const char *key, const char *v, double r[2]) {
    char buf[128];
    size_t n = strlen(v);
    if (n >= sizeof buf) return bad_value(key, v, "[min,max]");
    memcpy(buf, v, n + 1);
    char *s = buf;
    if (*s == '[' && n >= 2 && s[n - 1] == ']') {
        s[n - 1] = 0;
        s++;
    }
    char *comma = strchr(s, ',');
    if (!comma) return bad_value(key, v, "[min,max]");
    *comma = 0;
    char *e1, *e2;
    r[0] = strtod(s, &e1);
    r[1] = strtod(comma + 1, &e2);
    if (e1 == s || *e1 || e2 == comma + 1 || *e2) return bad_value(key, v, "[min,max]");
    return 1;
}

/* "[a,b]" -> "a,b" in place for comma lists. */
static const char *strip_brackets(char *v) {
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '[' && v[n - 1] == ']') {
        v[n - 1] = 0;
        return v + 1;
    }
    return v;
}

static int parse_engines(const char *v, nc_synth_params *p) {
    p->engines[NC_SYNTH_ESPEAK] = p->engines[NC_SYNTH_FLITE] = p->engines[NC_SYNTH_FESTIVAL] = false;
    const char *s = v;
    while (*s) {
        size_t n = strcspn(s, ",");
        if ((n == 6 && !strncmp(s, "espeak", 6)) || (n == 9 && !strncmp(s, "espeak-ng", 9)))
            p->engines[NC_SYNTH_ESPEAK] = true;
        else if (n == 5 && !strncmp(s, "flite", 5))
            p->engines[NC_SYNTH_FLITE] = true;
        else if (n == 8 && !strncmp(s, "festival", 8))
            p->engines[NC_SYNTH_FESTIVAL] = true;
        else if (n)
            return bad_value("engines", v, "a comma list of espeak, flite, festival");
        s += n;
        if (*s) s++;
    }
    return 1;
}

typedef struct synth_args {
    nc_synth_params p;
    const char *out_dir;
    const char *data_dir;
    int64_t num_workers;
    int64_t festival_batch;
    char text_path[PATH_MAX];
} synth_args;

static int parse_args(int argc, char **argv, synth_args *a) {
    nc_synth_params *p = &a->p;
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            fprintf(stderr, "nemoc data synth: '%s' is not key=value (see --help)\n", argv[i]);
            return 0;
        }
        *eq = 0;
        const char *k = argv[i];
        char *v = eq + 1;
        int64_t iv;
        int ok = 1;
        if (!strcmp(k, "out_dir")) a->out_dir = v;
        else if (!strcmp(k, "text_set")) p->text_set = v;
        else if (!strcmp(k, "letters")) {
            ok = !strcmp(v, "true") || !strcmp(v, "false") || bad_value(k, v, "true or false");
            p->letters = !strcmp(v, "true");
        }
        else if (!strcmp(k, "data_dir")) a->data_dir = v;
        else if (!strcmp(k, "num_utts")) ok = parse_i64(k, v, &p->num_utts);
        else if (!strcmp(k, "seed")) {
            ok = parse_i64(k, v, &iv) && (iv >= 0 || bad_value(k, v, "an integer >= 0"));
            if (ok) p->seed = (uint64_t)iv;
        } else if (!strcmp(k, "engines")) ok = parse_engines(strip_brackets(v), p);
        else if (!strcmp(k, "num_workers"))
            ok = parse_i64(k, v, &a->num_workers) &&
                 ((a->num_workers >= 0 && a->num_workers <= 256) || bad_value(k, v, "0..256"));
        else if (!strcmp(k, "festival_batch"))
            ok = parse_i64(k, v, &a->festival_batch) &&
                 ((a->festival_batch >= 0 && a->festival_batch <= 4096) || bad_value(k, v, "0..4096"));
        else if (!strcmp(k, "sample_rate")) {
            ok = parse_i64(k, v, &iv) && ((iv > 0 && iv < INT_MAX) || bad_value(k, v, "a rate in Hz"));
            if (ok) p->sample_rate = (int)iv;
        } else if (!strcmp(k, "validation_fraction")) ok = parse_f64(k, v, &p->validation_fraction);
        else if (!strcmp(k, "test_fraction")) ok = parse_f64(k, v, &p->test_fraction);
        else if (!strcmp(k, "num_validation")) ok = parse_i64(k, v, &p->num_validation);
        else if (!strcmp(k, "num_test")) ok = parse_i64(k, v, &p->num_test);
        else if (!strcmp(k, "validation_voices")) p->validation_voices = strip_brackets(v);
        else if (!strcmp(k, "test_voices")) p->test_voices = strip_brackets(v);
        else if (!strcmp(k, "espeak_accents")) p->espeak_accents = strip_brackets(v);
        else if (!strcmp(k, "espeak_variants")) p->espeak_variants = strip_brackets(v);
        else if (!strcmp(k, "flite_voices")) p->flite_voices = strip_brackets(v);
        else if (!strcmp(k, "festival_voices")) p->festival_voices = strip_brackets(v);
        else if (!strcmp(k, "espeak_rate")) ok = parse_range(k, v, p->espeak_rate);
        else if (!strcmp(k, "espeak_pitch")) ok = parse_range(k, v, p->espeak_pitch);
        else if (!strcmp(k, "espeak_range")) ok = parse_range(k, v, p->espeak_range);
        else if (!strcmp(k, "espeak_word_gap")) ok = parse_range(k, v, p->espeak_word_gap);
        else if (!strcmp(k, "flite_stretch")) ok = parse_range(k, v, p->flite_stretch);
        else if (!strcmp(k, "festival_stretch")) ok = parse_range(k, v, p->festival_stretch);
        else if (!strcmp(k, "f0_shift")) ok = parse_range(k, v, p->f0_shift);
        else if (!strcmp(k, "f0_spread")) ok = parse_range(k, v, p->f0_spread);
        else if (!strcmp(k, "gain_db")) ok = parse_range(k, v, p->gain_db);
        else if (!strcmp(k, "speed_prob")) ok = parse_f64(k, v, &p->speed_prob);
        else if (!strcmp(k, "speed_range")) ok = parse_range(k, v, p->speed_range);
        else if (!strcmp(k, "noise_prob")) ok = parse_f64(k, v, &p->noise_prob);
        else if (!strcmp(k, "snr_db")) ok = parse_range(k, v, p->snr_db);
        else {
            fprintf(stderr, "nemoc data synth: unknown key '%s' (see nemoc data synth --help)\n", k);
            ok = 0;
        }
        *eq = '=';
        if (!ok) return 0;
    }
    if (!a->out_dir || !*a->out_dir) {
        fprintf(stderr, "nemoc data synth: out_dir= is required (see --help)\n");
        return 0;
    }
    return 1;
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* text_set=sentences: the first data folder that holds text/sentences.txt. */
static int find_sentences(const synth_args *a, char *out, size_t cap) {
    char exe[PATH_MAX] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
    }
    const char *env = getenv("NEMOC_DATA_DIR"), *src = getenv("NC_SOURCE_DIR");
    char cands[7][PATH_MAX + 32];
    int k = 0;
    if (a->data_dir && *a->data_dir) {
        snprintf(cands[k++], sizeof cands[0], "%s", a->data_dir);
    } else {
        if (env && *env) snprintf(cands[k++], sizeof cands[0], "%s", env);
        if (*exe) {
            snprintf(cands[k++], sizeof cands[0], "%s/../data", exe);
            snprintf(cands[k++], sizeof cands[0], "%s/../../data", exe);
            snprintf(cands[k++], sizeof cands[0], "%s/../share/nemoc/data", exe);
        }
        if (src && *src) snprintf(cands[k++], sizeof cands[0], "%s/data", src);
        snprintf(cands[k++], sizeof cands[0], "data");
    }
    for (int i = 0; i < k; i++) {
        int w = snprintf(out, cap, "%s/text/sentences.txt", cands[i]);
        if (w > 0 && (size_t)w < cap && is_file(out)) return 1;
    }
    fprintf(stderr, "nemoc data synth: text_set=sentences: no text/sentences.txt under");
    for (int i = 0; i < k; i++) fprintf(stderr, " %s%s", cands[i], i + 1 < k ? "," : "");
    fprintf(stderr, "; set data_dir= or NEMOC_DATA_DIR to the repository's data folder\n");
    return 0;
}

/* Lists voices of one split, wrapped. */
static void print_voices(const nc_synth_plan *plan, nc_synth_split s) {
    int64_t nv = 0;
    for (int64_t v = 0; v < plan->n_voices; v++) nv += plan->voices[v].split == s;
    printf("  %-10s %4lld utterances, %3lld voices:", nc_synth_split_name(s), (long long)plan->n_split[s],
           (long long)nv);
    int col = 80;
    for (int64_t v = 0; v < plan->n_voices; v++) {
        const nc_synth_voice *x = &plan->voices[v];
        if (x->split != s) continue;
        int w = (int)strlen(x->speaker) + 1;
        if (col + w > 96) {
            printf("\n     ");
            col = 5;
        }
        printf(" %s", x->speaker);
        col += w;
    }
    printf("\n");
}


static int run_synth(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            synth_help(stdout);
            return 0;
        }
    synth_args a = {.p = nc_synth_default_params(), .num_workers = 0};
    if (!parse_args(argc, argv, &a)) return 2;
    if (!strcmp(a.p.text_set, "sentences")) {
        if (!find_sentences(&a, a.text_path, sizeof a.text_path)) return 2;
        a.p.text_set = a.text_path;
    }
    nc_synth_plan *plan;
    nc_status st = nc_synth_plan_build(&a.p, &plan);
    if (st) {
        fprintf(stderr, "nemoc data synth: %s\n", nc_last_error());
        return st == NC_ERR_CONFIG || st == NC_ERR_NOT_FOUND ? 2 : 1;
    }
    if ((st = nc_synth_check_engines(plan))) {
        fprintf(stderr, "nemoc data synth: %s\n", nc_last_error());
        nc_synth_plan_free(plan);
        return 1;
    }
    printf("synth: %lld utterances from text_set=%s, seed %llu; split by voice:\n", (long long)plan->n_utts,
           a.p.text_set, (unsigned long long)a.p.seed);
    for (int s = 0; s < NC_SPLIT_N; s++) print_voices(plan, (nc_synth_split)s);
    int64_t unused = 0;
    for (int64_t v = 0; v < plan->n_voices; v++) unused += plan->voices[v].n_utts == 0;
    if (unused) printf("  (%lld voices of a split with fewer utterances than voices speak nothing)\n", (long long)unused);
    fflush(stdout);

    double *durations = nc_calloc((size_t)plan->n_utts, sizeof(double));
    if (!durations) {
        fprintf(stderr, "nemoc data synth: out of memory\n");
        nc_synth_plan_free(plan);
        return 1;
    }
    nc_count_progress ps;
    nc_count_progress_init(&ps, "synth", "utterances");
    nc_synth_run_params rp = {
        .out_dir = a.out_dir,
        .num_workers = (int)a.num_workers,
        .festival_batch = (int)a.festival_batch,
        .progress = nc_count_progress_fn,
        .user_data = &ps,
        .durations = durations,
    };
    st = nc_synth_run(plan, &rp);
    if (ps.tty && st) fprintf(stderr, "\n");
    if (st) {
        fprintf(stderr, "nemoc data synth: %s\n", nc_last_error());
        nc_free(durations);
        nc_synth_plan_free(plan);
        return 1;
    }
    double total[NC_SPLIT_N] = {0};
    for (int64_t i = 0; i < plan->n_utts; i++) total[plan->utts[i].split] += durations[i];
    printf("synth: wrote %s/{train,validation,test}_manifest.json in %.1f s: "
           "%.1f / %.1f / %.1f min of audio\n",
           a.out_dir, nc_now_s() - ps.t0, total[0] / 60, total[1] / 60, total[2] / 60);
    nc_free(durations);
    nc_synth_plan_free(plan);
    return 0;
}

int nc_cmd_data_synth(int argc, char **argv) { return run_synth(argc, argv); }

/* ---- nemoc data rirs ----------------------------------------------------------------------- */

static void rirs_help(FILE *f) {
    nc_rir_bank_params d = nc_rir_bank_default_params();
    char b[64];
    fprintf(f, "usage: nemoc data rirs out_dir=DIR [key=value ...]\n"
               "\n"
               "Simulates room impulse responses with the image method (Allen & Berkley 1979) in\n"
               "shoebox rooms drawn from the ranges below: absorption of every wall from Sabine's\n"
               "formula for the drawn RT60, fractional delays by Peterson's windowed sinc, Allen &\n"
               "Berkley's 100 Hz high-pass. Writes DIR/rir_NNNNN.wav (32-bit float) and\n"
               "DIR/rir_manifest.json in NeMo's format, which augmentor.impulse.manifest_path and\n"
               "augmentor.rir_noise_aug.rir_manifest_path take as they are:\n"
               "  {\"audio_filepath\": \"rir_00000.wav\", \"duration\": 0.55, \"rt60\": 0.48,\n"
               "   \"distance\": 1.9, \"room\": [6.1, 4.3, 2.9]}\n"
               "The same arguments give the same files; RIR i depends only on seed and i.\n"
               "\n"
               "keys (default):\n");
    opt(f, "out_dir", "", "output folder, created if missing (required)");
    snprintf(b, sizeof b, "%lld", (long long)d.num_rirs);
    opt(f, "num_rirs", b, "number of RIRs");
    opt(f, "seed", "0", "random seed");
    snprintf(b, sizeof b, "%d", d.sample_rate);
    opt(f, "sample_rate", b, "Hz");
    snprintf(b, sizeof b, "[%g,%g]", d.length[0], d.length[1]);
    opt(f, "room_length", b, "room length range, m");
    snprintf(b, sizeof b, "[%g,%g]", d.width[0], d.width[1]);
    opt(f, "room_width", b, "room width range, m");
    snprintf(b, sizeof b, "[%g,%g]", d.height[0], d.height[1]);
    opt(f, "room_height", b, "room height range, m");
    snprintf(b, sizeof b, "[%g,%g]", d.rt60[0], d.rt60[1]);
    opt(f, "rt60", b,
        "RT60 range, s (a room's draw starts where Sabine's absorption\n"
        "                             reaches 0.95, so large rooms get no RT60 they cannot have)");
    snprintf(b, sizeof b, "[%g,%g]", d.distance[0], d.distance[1]);
    opt(f, "distance", b, "source-microphone distance range, m");
    snprintf(b, sizeof b, "%g", d.wall_margin);
    opt(f, "wall_margin", b, "source and microphone at least this far from every wall, m");
    snprintf(b, sizeof b, "%g", d.sound_speed);
    opt(f, "sound_speed", b, "m/s");
}

static int parse_rirs_args(int argc, char **argv, nc_rir_bank_params *p, const char **out_dir) {
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            fprintf(stderr, "nemoc data rirs: '%s' is not key=value (see --help)\n", argv[i]);
            return 0;
        }
        *eq = 0;
        const char *k = argv[i], *v = eq + 1;
        int64_t iv;
        int ok = 1;
        if (!strcmp(k, "out_dir")) *out_dir = v;
        else if (!strcmp(k, "num_rirs")) ok = parse_i64(k, v, &p->num_rirs);
        else if (!strcmp(k, "seed")) {
            ok = parse_i64(k, v, &iv) && (iv >= 0 || bad_value(k, v, "an integer >= 0"));
            if (ok) p->seed = (uint64_t)iv;
        } else if (!strcmp(k, "sample_rate")) {
            ok = parse_i64(k, v, &iv) && ((iv > 0 && iv < INT_MAX) || bad_value(k, v, "a rate in Hz"));
            if (ok) p->sample_rate = (int)iv;
        } else if (!strcmp(k, "room_length")) ok = parse_range(k, v, p->length);
        else if (!strcmp(k, "room_width")) ok = parse_range(k, v, p->width);
        else if (!strcmp(k, "room_height")) ok = parse_range(k, v, p->height);
        else if (!strcmp(k, "rt60")) ok = parse_range(k, v, p->rt60);
        else if (!strcmp(k, "distance")) ok = parse_range(k, v, p->distance);
        else if (!strcmp(k, "wall_margin")) ok = parse_f64(k, v, &p->wall_margin);
        else if (!strcmp(k, "sound_speed")) ok = parse_f64(k, v, &p->sound_speed);
        else {
            fprintf(stderr, "nemoc data rirs: unknown key '%s' (see nemoc data rirs --help)\n", k);
            ok = 0;
        }
        *eq = '=';
        if (!ok) return 0;
    }
    if (!*out_dir || !**out_dir) {
        fprintf(stderr, "nemoc data rirs: out_dir= is required (see --help)\n");
        return 0;
    }
    return 1;
}


int nc_cmd_data_rirs(int argc, char **argv) {
    cmd_name = "nemoc data rirs";
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            rirs_help(stdout);
            return 0;
        }
    nc_rir_bank_params p = nc_rir_bank_default_params();
    const char *out_dir = NULL;
    if (!parse_rirs_args(argc, argv, &p, &out_dir)) return 2;
    nc_count_progress ps;
    nc_count_progress_init(&ps, "rirs", "rooms");
    if (nc_rir_bank_write(&p, out_dir, nc_count_progress_fn, &ps)) {
        if (ps.tty) fprintf(stderr, "\n");
        fprintf(stderr, "nemoc data rirs: %s\n", nc_last_error());
        return 1;
    }
    printf("rirs: wrote %lld RIRs and %s/rir_manifest.json in %.1f s\n", (long long)p.num_rirs, out_dir,
           nc_now_s() - ps.t0);
    return 0;
}
