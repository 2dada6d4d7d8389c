/* The synth plan (no engines run): text normalisation, the digits set's
 * vocabulary, split sizes, the split by voice, balance of voices, parameter
 * ranges, determinism and independence of the random streams, text files,
 * configuration errors, and engine command lines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/rng.h"
#include "nemoc/synth.h"

static void test_normalize(void) {
    char out[128];
    struct {
        const char *in, *want;
    } cases[] = {
        {"Hello,  World!", "hello world"},
        {"  don't STOP  ", "don't stop"},
        {"'Quoted' words", "quoted words"},
        {"the fathers' land", "the fathers' land"},
        {"rock''n roll", "rock n roll"},
        {"Beth-el, 12 times; caf\xc3\xa9.", "beth el times caf"},
        {"1234 ...", ""},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t n = nc_synth_normalize_text(cases[i].in, out, sizeof out);
        if (strcmp(out, cases[i].want) != 0 || n != (int64_t)strlen(cases[i].want))
            nc_test_fail(__FILE__, __LINE__, "normalize('%s') = '%s', want '%s'", cases[i].in, out,
                         cases[i].want);
        nc_test_checks++;
    }
    /* A small buffer truncates but stays terminated. */
    int64_t n = nc_synth_normalize_text("abcdef ghi", out, 5);
    CHECK(n == 4 && !strcmp(out, "abcd"));
}

static int in_vocab(const char *w, size_t len) {
    for (int i = 0; nc_synth_digits_vocab[i]; i++)
        if (strlen(nc_synth_digits_vocab[i]) == len && !strncmp(nc_synth_digits_vocab[i], w, len)) return i;
    return -1;
}

/* Words 1..6, each in the 56-word vocabulary, and every word used. */
static void test_digits_set(void) {
    int n_vocab = 0;
    while (nc_synth_digits_vocab[n_vocab]) n_vocab++;
    CHECK(n_vocab == 56);
    int seen[64] = {0};
    nc_rng *r = nc_malloc(sizeof *r);
    nc_rng_seed(r, 123);
    char buf[64];
    int bad = 0;
    for (int k = 0; k < 5000; k++) {
        nc_synth_digits_utterance(r, buf, sizeof buf, true);
        int words = 0;
        for (const char *p = buf; *p;) {
            size_t len = strcspn(p, " ");
            int idx = in_vocab(p, len);
            if (idx < 0) bad++;
            else seen[idx]++;
            words++;
            p += len;
            if (*p) p++;
        }
        if (words < 1 || words > 6) bad++;
    }
    nc_free(r);
    CHECK(bad == 0);
    int unused = 0;
    for (int i = 0; i < n_vocab; i++) unused += seen[i] == 0;
    CHECK(unused == 0);
}

static nc_synth_plan *build(const nc_synth_params *p) {
    nc_synth_plan *plan = NULL;
    CHECK_OK(nc_synth_plan_build(p, &plan));
    return plan;
}

static void test_default_plan(void) {
    nc_synth_params p = nc_synth_default_params();
    p.num_utts = 500;
    p.seed = 7;
    p.speed_prob = 0.5;
    p.noise_prob = 0.5;
    nc_synth_plan *plan = build(&p);
    if (!plan) return;
    CHECK(plan->n_split[NC_SPLIT_TRAIN] == 400 && plan->n_split[NC_SPLIT_VALIDATION] == 50 &&
          plan->n_split[NC_SPLIT_TEST] == 50);
    CHECK(plan->n_voices == 8 * 16 + 5);
    /* Per engine: espeak-ng holds out round(128 * 0.1) = 13 voices per
     * split, flite round(5 * 0.1) -> at least 1. */
    int64_t count[NC_SYNTH_N_ENGINES][NC_SPLIT_N] = {{0}};
    for (int64_t v = 0; v < plan->n_voices; v++) {
        CHECK(plan->voices[v].split < NC_SPLIT_N);
        count[plan->voices[v].engine][plan->voices[v].split]++;
    }
    CHECK(count[NC_SYNTH_ESPEAK][NC_SPLIT_TEST] == 13 && count[NC_SYNTH_ESPEAK][NC_SPLIT_VALIDATION] == 13);
    CHECK(count[NC_SYNTH_FLITE][NC_SPLIT_TEST] == 1 && count[NC_SYNTH_FLITE][NC_SPLIT_VALIDATION] == 1 &&
          count[NC_SYNTH_FLITE][NC_SPLIT_TRAIN] == 3);

    int64_t per_engine[NC_SPLIT_N][NC_SYNTH_N_ENGINES] = {{0}};
    int bad_split = 0, bad_range = 0, bad_aug = 0, bad_path = 0, bad_order = 0;
    int64_t n_speed = 0, n_noise = 0;
    for (int64_t i = 0; i < plan->n_utts; i++) {
        const nc_synth_utt *u = &plan->utts[i];
        const nc_synth_voice *v = &plan->voices[u->voice];
        bad_split += v->split != u->split; /* the split is by voice */
        bad_order += u->id != i || (i > 0 && u->split < plan->utts[i - 1].split);
        per_engine[u->split][v->engine]++;
        if (v->engine == NC_SYNTH_ESPEAK)
            bad_range += !(u->rate >= 120 && u->rate <= 230 && u->pitch >= 20 && u->pitch <= 80 &&
                           u->rate == floor(u->rate) && u->pitch_range >= 60 && u->pitch_range <= 160 &&
                           u->word_gap >= 0 && u->word_gap <= 3 && u->word_gap == floor(u->word_gap));
        else /* flite: F0 targets within 3 semitones of the voice's mean (none for rms) */
            bad_range += !(u->rate >= 0.8 && u->rate <= 1.35 &&
                           (strcmp(v->name, "rms") ? u->pitch >= 93 * 0.84 && u->pitch <= 171 * 1.19 &&
                                                         u->pitch_range >= 0.08 * u->pitch - 0.05 &&
                                                         u->pitch_range <= 0.2 * u->pitch + 0.05
                                                   : u->pitch == 0 && u->pitch_range == 0));
        bad_range += !(u->gain_db >= -12 && u->gain_db <= 0);
        if (u->split != NC_SPLIT_TRAIN) {
            bad_aug += u->speed != 1.0 || isfinite(u->snr_db); /* augmentation: training only */
        } else {
            n_speed += u->speed != 1.0;
            n_noise += isfinite(u->snr_db);
            bad_aug += !(u->speed >= 0.9 && u->speed <= 1.1);
            bad_aug += isfinite(u->snr_db) && !(u->snr_db >= 10 && u->snr_db <= 30);
        }
        char want[64];
        snprintf(want, sizeof want, "audio/%s/%06lld.wav", nc_synth_split_name(u->split), (long long)i);
        bad_path += strcmp(want, u->audio_filepath) != 0;
    }
    CHECK(bad_split == 0);
    CHECK(bad_order == 0);
    CHECK(bad_range == 0);
    CHECK(bad_aug == 0);
    CHECK(bad_path == 0);
    /* About half of 400 training utterances; 4.5 binomial sigmas (10) either way. */
    CHECK(n_speed > 155 && n_speed < 245);
    CHECK(n_noise > 155 && n_noise < 245);
    /* Engines take turns within a split. */
    for (int s = 0; s < NC_SPLIT_N; s++)
        CHECK(llabs(per_engine[s][NC_SYNTH_ESPEAK] - per_engine[s][NC_SYNTH_FLITE]) <= 1);
    /* Round-robin: utterances per voice differ by at most one within an
     * engine and split, and every training voice speaks. */
    for (int s = 0; s < NC_SPLIT_N; s++)
        for (int e = 0; e < NC_SYNTH_N_ENGINES; e++) {
            int64_t lo = INT64_MAX, hi = -1;
            for (int64_t v = 0; v < plan->n_voices; v++) {
                const nc_synth_voice *x = &plan->voices[v];
                if (x->split != (nc_synth_split)s || x->engine != (nc_synth_engine)e) continue;
                lo = x->n_utts < lo ? x->n_utts : lo;
                hi = x->n_utts > hi ? x->n_utts : hi;
            }
            CHECK(hi - lo <= 1);
            if (s == NC_SPLIT_TRAIN) CHECK(lo >= 1);
        }
    nc_synth_plan_free(plan);
}

static int same_plan(const nc_synth_plan *a, const nc_synth_plan *b, int texts_and_voices_only) {
    if (a->n_utts != b->n_utts || a->n_voices != b->n_voices) return 0;
    for (int64_t v = 0; v < a->n_voices; v++)
        if (strcmp(a->voices[v].speaker, b->voices[v].speaker) || a->voices[v].split != b->voices[v].split)
            return 0;
    for (int64_t i = 0; i < a->n_utts; i++) {
        const nc_synth_utt *x = &a->utts[i], *y = &b->utts[i];
        if (strcmp(x->text, y->text) || x->voice != y->voice || x->split != y->split) return 0;
        if (texts_and_voices_only) continue;
        if (x->rate != y->rate || x->pitch != y->pitch || x->pitch_range != y->pitch_range ||
            x->word_gap != y->word_gap || x->gain_db != y->gain_db || x->speed != y->speed ||
            !(x->snr_db == y->snr_db) || x->noise_seed != y->noise_seed)
            return 0;
    }
    return 1;
}

static void test_determinism(void) {
    nc_synth_params p = nc_synth_default_params();
    p.num_utts = 200;
    p.seed = 11;
    p.noise_prob = 0.3;
    nc_synth_plan *a = build(&p), *b = build(&p);
    p.seed = 12;
    nc_synth_plan *c = build(&p);
    p.seed = 11;
    p.noise_prob = 0.9; /* other augmentation, same texts and voices */
    p.speed_prob = 0.4;
    nc_synth_plan *d = build(&p);
    if (a && b && c && d) {
        CHECK(same_plan(a, b, 0));
        CHECK(!same_plan(a, c, 1));
        CHECK(same_plan(a, d, 1));
        CHECK(!same_plan(a, d, 0));
    }
    nc_synth_plan_free(a);
    nc_synth_plan_free(b);
    nc_synth_plan_free(c);
    nc_synth_plan_free(d);
}

static void test_text_file(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/lines.txt", nc_test_tmpdir("synth_plan"));
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("Hello, World!\n\n123\n  don't STOP  \nthird line", f);
    fclose(f);
    nc_synth_params p = nc_synth_default_params();
    p.text_set = path;
    p.num_utts = 7;
    p.num_validation = 0;
    p.num_test = 0;
    nc_synth_plan *plan = build(&p);
    if (!plan) return;
    /* Three usable lines; each pass of three utterances uses each once. */
    const char *lines[3] = {"hello world", "don't stop", "third line"};
    for (int64_t pass = 0; pass < 2; pass++) {
        int seen[3] = {0};
        for (int64_t k = 0; k < 3; k++)
            for (int j = 0; j < 3; j++) seen[j] += !strcmp(plan->utts[pass * 3 + k].text, lines[j]);
        CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    }
    CHECK(plan->n_split[NC_SPLIT_TRAIN] == 7);
    nc_synth_plan_free(plan);

    f = fopen(path, "w");
    fputs("123\n...\n", f);
    fclose(f);
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_FORMAT);
    snprintf(path, sizeof path, "%s/none.txt", nc_test_tmpdir("synth_plan_none"));
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_NOT_FOUND);
    CHECK(strstr(nc_last_error(), "none.txt") != NULL);
}

static void test_explicit_voices_and_errors(void) {
    nc_synth_params p = nc_synth_default_params();
    p.num_utts = 40;
    p.test_voices = "flite:slt, en-gb+f2";
    p.validation_voices = "[awb]"; /* brackets are the CLI's job: not a valid name */
    nc_synth_plan *plan = NULL;
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_CONFIG);
    p.validation_voices = "awb";
    plan = build(&p);
    if (plan) {
        int64_t n_test = 0, n_val = 0;
        for (int64_t v = 0; v < plan->n_voices; v++) {
            const nc_synth_voice *x = &plan->voices[v];
            if (x->split == NC_SPLIT_TEST) {
                n_test++;
                CHECK(!strcmp(x->speaker, "flite:slt") || !strcmp(x->speaker, "espeak-ng:en-gb+f2"));
            }
            if (x->split == NC_SPLIT_VALIDATION) {
                n_val++;
                CHECK(!strcmp(x->speaker, "flite:awb"));
            }
        }
        CHECK(n_test == 2 && n_val == 1);
        nc_synth_plan_free(plan);
    }
    p.validation_voices = "slt";
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "both") != NULL);
    p.validation_voices = "nosuch";
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "nosuch") != NULL);

    /* One flite voice cannot be split three ways. */
    p = nc_synth_default_params();
    p.engines[NC_SYNTH_ESPEAK] = false;
    p.flite_voices = "slt";
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "no voice") != NULL);
    p.num_validation = 0;
    p.num_test = 0; /* train only: fine */
    plan = build(&p);
    nc_synth_plan_free(plan);
    /* Two voices, test only: one each. */
    p.flite_voices = "slt,rms";
    p.num_test = 3;
    plan = build(&p);
    if (plan) CHECK(plan->voices[0].split != plan->voices[1].split);
    nc_synth_plan_free(plan);

    p = nc_synth_default_params();
    p.espeak_rate[0] = 300;
    p.espeak_rate[1] = 200;
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "espeak_rate") != NULL);
    p = nc_synth_default_params();
    p.num_validation = 60;
    p.num_test = 60;
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_CONFIG);
    p = nc_synth_default_params();
    p.flite_voices = "slt;rm -rf";
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_CONFIG);
    p = nc_synth_default_params();
    p.engines[NC_SYNTH_ESPEAK] = p.engines[NC_SYNTH_FLITE] = false;
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "festival") != NULL);
    p = nc_synth_default_params();
    p.flite_voices = "slt,slt";
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_CONFIG);
}

static void test_commands(void) {
    nc_synth_params p = nc_synth_default_params();
    p.num_utts = 10;
    nc_synth_plan *plan = build(&p);
    if (!plan) return;
    char store[1024];
    const char *argv[16];
    int saw[NC_SYNTH_N_ENGINES] = {0};
    for (int64_t i = 0; i < plan->n_utts; i++) {
        const nc_synth_utt *u = &plan->utts[i];
        const nc_synth_voice *v = &plan->voices[u->voice];
        CHECK_OK(nc_synth_command(plan, i, "/tmp/x.wav", argv, store, sizeof store));
        char want[512];
        if (v->engine == NC_SYNTH_ESPEAK) {
            snprintf(want, sizeof want,
                     "espeak-ng|-v|%s|-s|%d|-p|%d|-g|%d|-m|-w|/tmp/x.wav|<prosody range=\"%d%%\">%s</prosody>",
                     v->name, (int)u->rate, (int)u->pitch, (int)u->word_gap, (int)u->pitch_range, u->text);
        } else if (!strcmp(v->name, "rms")) { /* no F0 target */
            snprintf(want, sizeof want, "flite|-voice|%s|--setf|duration_stretch=%.3f|-t|%s|-o|/tmp/x.wav",
                     v->name, u->rate, u->text);
        } else {
            snprintf(want, sizeof want,
                     "flite|-voice|%s|--setf|duration_stretch=%.3f|--setf|int_f0_target_mean=%.1f|"
                     "--setf|int_f0_target_stddev=%.1f|-t|%s|-o|/tmp/x.wav",
                     v->name, u->rate, u->pitch, u->pitch_range, u->text);
        }
        char got[512] = "";
        for (int k = 0; argv[k]; k++) {
            strcat(got, k ? "|" : "");
            strcat(got, argv[k]);
        }
        if (strcmp(got, want) != 0) nc_test_fail(__FILE__, __LINE__, "command %s, want %s", got, want);
        nc_test_checks++;
        saw[v->engine] = 1;
    }
    CHECK(saw[NC_SYNTH_ESPEAK] && saw[NC_SYNTH_FLITE]);
    CHECK(nc_synth_command(plan, 0, "/tmp/x.wav", argv, store, 8) == NC_ERR_INVALID_ARG);
    CHECK(nc_synth_command(plan, 10, "/tmp/x.wav", argv, store, sizeof store) == NC_ERR_INVALID_ARG);
    nc_synth_plan_free(plan);
}

int main(void) {
    test_normalize();
    test_digits_set();
    test_default_plan();
    test_determinism();
    test_text_file();
    test_explicit_voices_and_errors();
    test_commands();
    return nc_test_finish("synth_plan");
}
