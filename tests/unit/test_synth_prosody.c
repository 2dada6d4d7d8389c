/* Festival voices in the synth plan and per-utterance prosody (no engine
 * runs): the split by voice with three engines, determinism for a seed,
 * the mapping of the drawn values onto each engine's command line
 * (espeak-ng SSML range and word gap, flite and festival F0 targets,
 * festival's HTS speed), and the named range errors of the new keys. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/synth.h"
#include "synth/synth_internal.h"

static nc_synth_plan *build(const nc_synth_params *p) {
    nc_synth_plan *plan = NULL;
    CHECK_OK(nc_synth_plan_build(p, &plan));
    return plan;
}

static nc_synth_params three_engines(void) {
    nc_synth_params p = nc_synth_default_params();
    p.engines[NC_SYNTH_FESTIVAL] = true;
    p.num_utts = 300;
    p.seed = 21;
    return p;
}

/* Every voice serves one split, its utterances are in that split, and the
 * three festival voices go one to each split. Same seed, same plan. */
static void test_split_and_determinism(void) {
    nc_synth_params p = three_engines();
    nc_synth_plan *a = build(&p), *b = build(&p);
    if (!a || !b) goto out;
    CHECK(a->n_voices == 8 * 16 + 5 + 3);
    int fest[NC_SPLIT_N] = {0}, bad = 0;
    for (int64_t v = 0; v < a->n_voices; v++) {
        const nc_synth_voice *x = &a->voices[v];
        CHECK(x->split < NC_SPLIT_N);
        if (x->engine == NC_SYNTH_FESTIVAL) {
            fest[x->split]++;
            CHECK(!strncmp(x->speaker, "festival:", 9));
        }
    }
    CHECK(fest[NC_SPLIT_TRAIN] == 1 && fest[NC_SPLIT_VALIDATION] == 1 && fest[NC_SPLIT_TEST] == 1);
    int64_t per_engine[NC_SYNTH_N_ENGINES] = {0};
    for (int64_t i = 0; i < a->n_utts; i++) {
        const nc_synth_utt *u = &a->utts[i];
        bad += a->voices[u->voice].split != u->split;
        per_engine[a->voices[u->voice].engine]++;
    }
    CHECK(bad == 0);
    /* Engines take turns: 100 utterances each. */
    CHECK(per_engine[0] == 100 && per_engine[1] == 100 && per_engine[2] == 100);
    int same = a->n_utts == b->n_utts;
    for (int64_t i = 0; same && i < a->n_utts; i++) {
        const nc_synth_utt *x = &a->utts[i], *y = &b->utts[i];
        same = !strcmp(x->text, y->text) && x->voice == y->voice && x->rate == y->rate && x->pitch == y->pitch &&
               x->pitch_range == y->pitch_range && x->word_gap == y->word_gap && x->gain_db == y->gain_db;
    }
    CHECK(same);
    /* The prosody draws have their own stream: another gain range leaves
     * texts, voices, rates and pitches as they were. */
    p.gain_db[0] = -30;
    nc_synth_plan *c = build(&p);
    if (c) {
        int kept = 1, gain_moved = 0;
        for (int64_t i = 0; i < a->n_utts; i++) {
            const nc_synth_utt *x = &a->utts[i], *y = &c->utts[i];
            kept &= x->voice == y->voice && x->rate == y->rate && x->pitch == y->pitch &&
                    x->pitch_range == y->pitch_range && x->word_gap == y->word_gap;
            gain_moved += x->gain_db != y->gain_db;
        }
        CHECK(kept);
        CHECK(gain_moved > 250);
    }
    nc_synth_plan_free(c);
out:
    nc_synth_plan_free(a);
    nc_synth_plan_free(b);
}

/* Fixed ranges give the exact values the engines are told. */
static void test_fixed_prosody(void) {
    nc_synth_params p = three_engines();
    p.num_utts = 60;
    p.num_validation = p.num_test = 0;
    p.espeak_rate[0] = p.espeak_rate[1] = 150;
    p.espeak_pitch[0] = p.espeak_pitch[1] = 40;
    p.espeak_range[0] = p.espeak_range[1] = 130;
    p.espeak_word_gap[0] = p.espeak_word_gap[1] = 2;
    p.flite_stretch[0] = p.flite_stretch[1] = 1.2;
    p.festival_stretch[0] = p.festival_stretch[1] = 1.25;
    p.f0_shift[0] = p.f0_shift[1] = 3;
    p.f0_spread[0] = p.f0_spread[1] = 0.1;
    p.gain_db[0] = p.gain_db[1] = -6;
    nc_synth_plan *plan = build(&p);
    if (!plan) return;
    int bad = 0;
    for (int64_t i = 0; i < plan->n_utts; i++) {
        const nc_synth_utt *u = &plan->utts[i];
        const nc_synth_voice *v = &plan->voices[u->voice];
        bad += u->gain_db != -6;
        /* 2^(3/12) = 1.18921 */
        double f0 = 0;
        if (!strcmp(v->name, "kal_diphone") || !strcmp(v->name, "ked_diphone")) f0 = 124.9; /* 105 Hz */
        if (!strcmp(v->name, "slt")) f0 = 203.4;                                             /* 171 Hz */
        if (!strcmp(v->name, "kal")) f0 = 113.0;                                             /* 95 Hz */
        if (v->engine == NC_SYNTH_ESPEAK)
            bad += u->rate != 150 || u->pitch != 40 || u->pitch_range != 130 || u->word_gap != 2;
        else if (v->engine == NC_SYNTH_FLITE)
            bad += u->rate != 1.2 || u->word_gap != 0 ||
                   (!strcmp(v->name, "rms") ? u->pitch != 0 : f0 > 0 && fabs(u->pitch - f0) > 1e-9);
        else
            bad += u->rate != 1.25 || u->word_gap != 0 ||
                   (!strcmp(v->name, "cmu_us_slt_arctic_hts") ? u->pitch != 0 || u->pitch_range != 0
                                                             : fabs(u->pitch - f0) > 1e-9);
        /* Spread 0.1 of the target mean, to 0.1 Hz. */
        if (u->pitch > 0 && v->engine != NC_SYNTH_ESPEAK)
            bad += fabs(u->pitch_range - round(u->pitch) / 10) > 0.051;
        if (!strcmp(v->name, "kal_diphone")) bad += fabs(u->pitch_range - 12.5) > 1e-9;
    }
    CHECK(bad == 0);
    nc_synth_plan_free(plan);
}

static void joined(const char *const argv[], char *out, size_t cap) {
    out[0] = 0;
    for (int k = 0; argv[k]; k++) {
        if (k) strncat(out, "|", cap - strlen(out) - 1);
        strncat(out, argv[k], cap - strlen(out) - 1);
    }
}

/* festival: voice, stretch (diphone) or speed (HTS), F0 targets over the
 * voice's own model values, the text file next to the WAV. */
static void test_festival_commands(void) {
    nc_synth_params p = nc_synth_default_params();
    p.engines[NC_SYNTH_ESPEAK] = p.engines[NC_SYNTH_FLITE] = false;
    p.engines[NC_SYNTH_FESTIVAL] = true;
    p.num_utts = 12;
    p.seed = 5;
    nc_synth_plan *plan = build(&p);
    if (!plan) return;
    char store[2048], got[1024], want[1024];
    const char *argv[16];
    int saw_lr = 0, saw_hts = 0;
    for (int64_t i = 0; i < plan->n_utts; i++) {
        const nc_synth_utt *u = &plan->utts[i];
        const nc_synth_voice *v = &plan->voices[u->voice];
        CHECK(v->engine == NC_SYNTH_FESTIVAL);
        CHECK_OK(nc_synth_command(plan, i, "/tmp/x.wav", argv, store, sizeof store));
        joined(argv, got, sizeof got);
        if (!strcmp(v->name, "cmu_us_slt_arctic_hts")) {
            saw_hts = 1;
            CHECK(u->pitch == 0);
            snprintf(want, sizeof want,
                     "text2wave|-eval|(voice_%s)|-eval|(set! hts_engine_params (append hts_engine_params "
                     "'((\"-r\" %.4f))))|-o|/tmp/x.wav|/tmp/x.wav.txt",
                     v->name, 1.0 / u->rate);
        } else {
            saw_lr = 1;
            CHECK(u->pitch >= 105 * 0.84 && u->pitch <= 105 * 1.19);
            snprintf(want, sizeof want,
                     "text2wave|-eval|(voice_%s)|-eval|(Parameter.set 'Duration_Stretch %.3f)|-eval|"
                     "(set! int_lr_params '((target_f0_mean %.1f) (target_f0_std %.1f) (model_f0_mean 170) "
                     "(model_f0_std 34)))|-o|/tmp/x.wav|/tmp/x.wav.txt",
                     v->name, u->rate, u->pitch, u->pitch_range);
        }
        if (strcmp(got, want) != 0) nc_test_fail(__FILE__, __LINE__, "command %s, want %s", got, want);
        nc_test_checks++;
        /* A festival batch script runs the same forms, in the same order,
         * as text2wave's -eval arguments. */
        char forms[3][160];
        int nf = nc_synth_festival_evals(plan, i, forms), ne = 0;
        for (int k = 1; argv[k] && !strcmp(argv[k], "-eval"); k += 2, ne++)
            if (ne < nf && strcmp(argv[k + 1], forms[ne]) != 0)
                nc_test_fail(__FILE__, __LINE__, "batch form %d '%s', text2wave -eval '%s'", ne, forms[ne],
                             argv[k + 1]);
        CHECK(nf == ne);
    }
    CHECK(saw_lr && saw_hts);
    /* An unknown festival voice: stretch only, no F0 target. */
    p.festival_voices = "my_voice,other_hts";
    p.num_validation = p.num_test = 0;
    nc_synth_plan_free(plan);
    plan = build(&p);
    if (!plan) return;
    for (int64_t i = 0; i < plan->n_utts; i++) {
        CHECK_OK(nc_synth_command(plan, i, "/t/y.wav", argv, store, sizeof store));
        joined(argv, got, sizeof got);
        const nc_synth_utt *u = &plan->utts[i];
        if (!strcmp(plan->voices[u->voice].name, "my_voice"))
            snprintf(want, sizeof want,
                     "text2wave|-eval|(voice_my_voice)|-eval|(Parameter.set 'Duration_Stretch %.3f)|-o|/t/y.wav|"
                     "/t/y.wav.txt",
                     u->rate);
        else
            snprintf(want, sizeof want,
                     "text2wave|-eval|(voice_other_hts)|-eval|(set! hts_engine_params (append "
                     "hts_engine_params '((\"-r\" %.4f))))|-o|/t/y.wav|/t/y.wav.txt",
                     1.0 / u->rate);
        if (strcmp(got, want) != 0) nc_test_fail(__FILE__, __LINE__, "command %s, want %s", got, want);
        nc_test_checks++;
    }
    nc_synth_plan_free(plan);
}

/* Each new range is checked, and the error names its key. */
static void test_range_errors(void) {
    struct {
        const char *key;
        size_t offset;
        double lo, hi;
    } cases[] = {
        {"espeak_range", offsetof(nc_synth_params, espeak_range), 5, 100},
        {"espeak_word_gap", offsetof(nc_synth_params, espeak_word_gap), -1, 2},
        {"festival_stretch", offsetof(nc_synth_params, festival_stretch), 0.5, 4},
        {"f0_shift", offsetof(nc_synth_params, f0_shift), -13, 0},
        {"f0_spread", offsetof(nc_synth_params, f0_spread), 0.1, 0.6},
        {"gain_db", offsetof(nc_synth_params, gain_db), -6, 3},
        {"gain_db", offsetof(nc_synth_params, gain_db), -3, -6}, /* min > max */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nc_synth_params p = nc_synth_default_params();
        double *r = (double *)((char *)&p + cases[c].offset);
        r[0] = cases[c].lo;
        r[1] = cases[c].hi;
        nc_synth_plan *plan = NULL;
        CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_CONFIG);
        CHECK(plan == NULL);
        if (!strstr(nc_last_error(), cases[c].key))
            nc_test_fail(__FILE__, __LINE__, "error '%s' does not name %s", nc_last_error(), cases[c].key);
        nc_test_checks++;
    }
    /* festival alone with too few voices for three splits is refused like flite. */
    nc_synth_params p = nc_synth_default_params();
    p.engines[NC_SYNTH_ESPEAK] = p.engines[NC_SYNTH_FLITE] = false;
    p.engines[NC_SYNTH_FESTIVAL] = true;
    p.festival_voices = "kal_diphone";
    nc_synth_plan *plan = NULL;
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_CONFIG);
    p.festival_voices = "kal_diphone;(quit)";
    CHECK(nc_synth_plan_build(&p, &plan) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "festival_voices") != NULL);
}

int main(void) {
    test_split_and_determinism();
    test_fixed_prosody();
    test_festival_commands();
    test_range_errors();
    return nc_test_finish("synth_prosody");
}
