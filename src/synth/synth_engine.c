/* Running the TTS engines for one utterance: the command line, a check that
 * the engines and voices exist, and rendering (engine -> resample ->
 * augmentation -> 16-bit WAV). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "nemoc/alloc.h"
#include "nemoc/audio.h"
#include "nemoc/augment.h"
#include "nemoc/rng.h"
#include "nemoc/synth.h"
#include "io/spawn.h"
#include "synth/synth_internal.h"

/* Drops trailing whitespace (an engine's message ends in a newline). */
static const char *rstrip(char *s) {
    if (!s) return "";
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    return s;
}

/* Copies s into the store; returns it or NULL when full. */
static const char *stash(char *store, int64_t cap, int64_t *used, const char *s) {
    int64_t n = (int64_t)strlen(s) + 1;
    if (*used + n > cap) return NULL;
    char *p = store + *used;
    memcpy(p, s, (size_t)n);
    *used += n;
    return p;
}

/* Appends the stashed copies of parts[0..n) to a[*k]; a full store leaves
 * NULL entries that the caller reports, and so does an argv past 15
 * entries (room for the final NULL). */
static void push(const char **a, int64_t *k, char *store, int64_t cap, int64_t *used, const char *const *parts,
                 size_t n) {
    for (size_t j = 0; j < n; j++) {
        if (*k >= 15) {
            a[14] = NULL;
            return;
        }
        a[(*k)++] = stash(store, cap, used, parts[j]);
    }
}

int nc_synth_festival_evals(const nc_synth_plan *plan, int64_t i, char forms[3][160]) {
    const nc_synth_utt *u = &plan->utts[i];
    const nc_synth_voice *v = &plan->voices[u->voice];
    nc_synth_voice_info info = nc_synth_voice_info_of(v->engine, v->name);
    /* The voice function runs first: it sets its own Duration_Stretch and
     * int_lr_params (kal_diphone.scm), so ours win. Diphone voices take
     * Duration_Stretch; festival's HTS module ignores it and reads only the
     * speed "-r" of hts_engine_params (fest2hts_engine.cc), so HTS gets
     * speed 1/x. */
    snprintf(forms[0], 160, "(voice_%s)", v->name);
    if (info.festival_hts)
        snprintf(forms[1], 160, "(set! hts_engine_params (append hts_engine_params '((\"-r\" %.4f))))",
                 1.0 / u->rate);
    else
        snprintf(forms[1], 160, "(Parameter.set 'Duration_Stretch %.3f)", u->rate);
    if (info.f0_kind != NC_SYNTH_F0_FEST_LR || u->pitch <= 0) return 2;
    /* Int_Targets_LR maps the model's F0 (model mean / std) onto the target
     * mean / std; the model values are the voice's own (kal_diphone.scm,
     * ked_diphone.scm: 170 / 34). */
    snprintf(forms[2], 160,
             "(set! int_lr_params '((target_f0_mean %.1f) (target_f0_std %.1f) (model_f0_mean %g) "
             "(model_f0_std %g)))",
             u->pitch, u->pitch_range, info.model_f0_mean, info.model_f0_std);
    return 3;
}

nc_status nc_synth_command(const nc_synth_plan *plan, int64_t i, const char *wav_path,
                           const char *argv[16], char *store, int64_t store_cap) {
    if (i < 0 || i >= plan->n_utts)
        return nc_error(NC_ERR_INVALID_ARG, "utterance %lld of %lld", (long long)i, (long long)plan->n_utts);
    const nc_synth_utt *u = &plan->utts[i];
    const nc_synth_voice *v = &plan->voices[u->voice];
    nc_synth_voice_info info = nc_synth_voice_info_of(v->engine, v->name);
    char num[4][160];
    int64_t used = 0, k = 0;
    const char *a[16] = {NULL};
    if (v->engine == NC_SYNTH_ESPEAK) {
        /* espeak-ng -v voice -s words/min -p pitch -g gap -m -w out.wav
         * '<prosody range="N%">text</prosody>': espeak-ng has no flag for
         * the pitch range, but its SSML reader scales the voice's range by
         * an unsigned percentage (100% gives the plain-text audio, byte for
         * byte; measured: 50% halves, 200% doubles the F0 deviation). The
         * text is letters, apostrophes and spaces, so it needs no escaping. */
        snprintf(num[0], sizeof num[0], "%d", (int)u->rate);
        snprintf(num[1], sizeof num[1], "%d", (int)u->pitch);
        snprintf(num[2], sizeof num[2], "%d", (int)u->word_gap);
        char *ssml = nc_strdupf("<prosody range=\"%d%%\">%s</prosody>", (int)u->pitch_range, u->text);
        if (!ssml) return nc_error(NC_ERR_OOM, "utterance %lld: command line", (long long)i);
        const char *parts[] = {"espeak-ng", "-v", v->name, "-s", num[0], "-p", num[1], "-g", num[2],
                               "-m", "-w", wav_path, ssml};
        push(a, &k, store, store_cap, &used, parts, sizeof parts / sizeof parts[0]);
        nc_free(ssml);
    } else if (v->engine == NC_SYNTH_FLITE) {
        /* flite -voice name --setf duration_stretch=x [--setf int_f0_target_mean=Hz
         * --setf int_f0_target_stddev=Hz] -t "text" -o out.wav */
        snprintf(num[0], sizeof num[0], "duration_stretch=%.3f", u->rate);
        const char *head[] = {"flite", "-voice", v->name, "--setf", num[0]};
        push(a, &k, store, store_cap, &used, head, 5);
        if (info.f0_kind == NC_SYNTH_F0_FLITE && u->pitch > 0) {
            snprintf(num[1], sizeof num[1], "int_f0_target_mean=%.1f", u->pitch);
            snprintf(num[2], sizeof num[2], "int_f0_target_stddev=%.1f", u->pitch_range);
            const char *f0[] = {"--setf", num[1], "--setf", num[2]};
            push(a, &k, store, store_cap, &used, f0, 4);
        }
        const char *tail[] = {"-t", u->text, "-o", wav_path};
        push(a, &k, store, store_cap, &used, tail, 4);
    } else {
        /* text2wave -eval '(voice_NAME)' -eval <rate> [-eval <F0>] -o out.wav
         * out.wav.txt (the forms: nc_synth_festival_evals). */
        int ne = nc_synth_festival_evals(plan, i, num);
        const char *head[] = {"text2wave", "-eval", num[0], "-eval", num[1]};
        push(a, &k, store, store_cap, &used, head, 5);
        if (ne > 2) {
            const char *f0[] = {"-eval", num[2]};
            push(a, &k, store, store_cap, &used, f0, 2);
        }
        char *txt = nc_strdupf("%s.txt", wav_path);
        if (!txt) return nc_error(NC_ERR_OOM, "utterance %lld: command line", (long long)i);
        const char *tail[] = {"-o", wav_path, txt};
        push(a, &k, store, store_cap, &used, tail, 3);
        nc_free(txt);
    }
    for (int64_t j = 0; j < k; j++)
        if (!a[j])
            return nc_error(NC_ERR_INVALID_ARG, "utterance %lld: command longer than %lld bytes or 15 arguments",
                            (long long)i, (long long)store_cap);
    for (int64_t j = 0; j < 16; j++) argv[j] = j < k ? a[j] : NULL;
    return NC_OK;
}

/* True when `word` is a whitespace-separated token of the given column
 * (0-based) on some line of `text`, or, with basename set, the part of the
 * token after its last '/'. */
static int column_has(const char *text, int column, const char *word, int basename) {
    size_t wl = strlen(word);
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        const char *end = eol ? eol : line + strlen(line);
        const char *p = line;
        for (int c = 0; p < end; c++) {
            while (p < end && (*p == ' ' || *p == '\t')) p++;
            const char *t = p;
            while (p < end && *p != ' ' && *p != '\t') p++;
            if (t == p) break;
            if (c != column) continue;
            const char *b = t;
            if (basename)
                for (const char *q = t; q < p; q++)
                    if (*q == '/') b = q + 1;
            if ((size_t)(p - b) == wl && !memcmp(b, word, wl)) return 1;
            break;
        }
        line = eol ? eol + 1 : NULL;
    }
    return 0;
}

/* Runs a query command and returns its stdout (caller frees). */
static nc_status query(const char *const argv[], char **out) {
    nc_spawn_result res;
    nc_status st = nc_spawn_run(argv, 1, 1, 1 << 20, &res);
    if (st) return st;
    if (res.exit_code != 0) {
        char cmd[256];
        nc_spawn_format_argv(argv, cmd, sizeof cmd);
        st = nc_error(NC_ERR_IO, "'%s' exited with status %d: %s", cmd, res.exit_code, rstrip(res.err));
        nc_spawn_result_free(&res);
        return st;
    }
    nc_free(res.err);
    *out = res.out;
    return NC_OK;
}

static const char *install_hint =
    "install it with scripts/install-deps.sh (Debian packages espeak-ng, flite, festival)";

/* festival's answer to (print (voice.list)): "(cmu_us_slt_arctic_hts ked_diphone kal_diphone)". */
static int festival_has(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n) {
        char before = p == list ? ' ' : p[-1], after = p[n];
        if (strchr("( \n\t", before) && after && strchr(") \n\t", after)) return 1;
    }
    return 0;
}

nc_status nc_synth_check_engines(const nc_synth_plan *plan) {
    int used[NC_SYNTH_N_ENGINES] = {0};
    for (int64_t v = 0; v < plan->n_voices; v++) used[plan->voices[v].engine] |= plan->voices[v].n_utts > 0;
    for (int e = 0; e < NC_SYNTH_N_ENGINES; e++)
        if (used[e] && !nc_spawn_on_path(nc_synth_engine_name(e)))
            return nc_error(NC_ERR_NOT_FOUND, "engine '%s' is not on PATH; %s", nc_synth_engine_name(e),
                            install_hint);
    if (used[NC_SYNTH_FESTIVAL] && !nc_spawn_on_path("text2wave"))
        return nc_error(NC_ERR_NOT_FOUND, "festival's 'text2wave' is not on PATH; %s", install_hint);
    char *langs = NULL, *variants = NULL, *flite = NULL, *fest = NULL;
    nc_status st = NC_OK;
    if (used[NC_SYNTH_ESPEAK]) {
        const char *q1[] = {"espeak-ng", "--voices", NULL};
        const char *q2[] = {"espeak-ng", "--voices=variant", NULL};
        if ((st = query(q1, &langs)) || (st = query(q2, &variants))) goto done;
    }
    if (used[NC_SYNTH_FLITE]) {
        const char *q[] = {"flite", "-lv", NULL};
        if ((st = query(q, &flite))) goto done;
    }
    if (used[NC_SYNTH_FESTIVAL]) {
        const char *q[] = {"festival", "-b", "(print (voice.list))", NULL};
        if ((st = query(q, &fest))) goto done;
    }
    for (int64_t i = 0; i < plan->n_voices; i++) {
        const nc_synth_voice *v = &plan->voices[i];
        if (!v->n_utts) continue;
        if (v->engine == NC_SYNTH_FESTIVAL) {
            if (festival_has(fest, v->name)) continue;
            nc_synth_voice_info info = nc_synth_voice_info_of(v->engine, v->name);
            if (info.package)
                st = nc_error(NC_ERR_NOT_FOUND,
                              "festival has no voice '%s' (voice.list: %s); install the Debian package %s "
                              "(scripts/install-deps.sh)",
                              v->name, rstrip(fest), info.package);
            else
                st = nc_error(NC_ERR_CONFIG, "festival has no voice '%s' (voice.list: %s)", v->name, rstrip(fest));
            goto done;
        }
        if (v->engine == NC_SYNTH_FLITE) {
            /* "Voices available: kal awb_time kal16 awb rms slt" */
            char pad[80];
            snprintf(pad, sizeof pad, " %s ", v->name);
            char *line = strstr(flite, "Voices available:");
            char buf[4096];
            snprintf(buf, sizeof buf, "%s ", line ? line + strlen("Voices available:") : "");
            for (char *c = buf; *c; c++)
                if (*c == '\n' || *c == '\t') *c = ' ';
            if (!strstr(buf, pad)) {
                st = nc_error(NC_ERR_CONFIG, "flite has no voice '%s' (flite -lv:%s)", v->name, rstrip(buf));
                goto done;
            }
            continue;
        }
        /* "en-gb+f2": the language column of `espeak-ng --voices`, the file
         * column ("!v/f2") of `--voices=variant`. */
        char accent[64];
        snprintf(accent, sizeof accent, "%s", v->name);
        char *plus = strchr(accent, '+');
        if (plus) *plus = 0;
        if (!column_has(langs, 1, accent, 0)) {
            st = nc_error(NC_ERR_CONFIG, "espeak-ng has no language '%s' (see espeak-ng --voices)", accent);
            goto done;
        }
        if (plus && !column_has(variants, 4, plus + 1, 1)) {
            st = nc_error(NC_ERR_CONFIG, "espeak-ng has no voice variant '%s' (see espeak-ng --voices=variant)",
                          plus + 1);
            goto done;
        }
    }
done:
    nc_free(langs);
    nc_free(variants);
    nc_free(flite);
    nc_free(fest);
    return st;
}

/* "utterance 12 (flite:slt, \"turn left\")" for error messages. */
nc_status nc_synth_fail_utt(const nc_synth_plan *plan, int64_t i, nc_status st) {
    const nc_synth_utt *u = &plan->utts[i];
    return nc_error_prefix(st, "utterance %lld (%s, \"%s\")", (long long)i, plan->voices[u->voice].speaker,
                           u->text);
}

/* Renders utterance i whose engine command is argv (writing `tmp`). */
static nc_status render(const nc_synth_plan *plan, int64_t i, const char *const argv[], const char *tmp,
                        const char *out, double *duration) {
    char cmd[1200];
    nc_spawn_format_argv(argv, cmd, sizeof cmd);
    nc_spawn_result res;
    nc_status st = nc_spawn_run(argv, 0, 1, 2048, &res);
    if (st == NC_ERR_NOT_FOUND)
        return nc_synth_fail_utt(
            plan, i, nc_error(st, "command `%s`: '%s' is not on PATH; %s", cmd, argv[0], install_hint));
    if (st) return nc_synth_fail_utt(plan, i, nc_error_prefix(st, "command `%s`", cmd));
    /* text2wave reports a Scheme error (an unknown voice function, a bad
     * -eval) on stderr and still exits 0. */
    const char *scheme_error = res.exit_code == 0 && res.err ? strstr(res.err, "SIOD ERROR") : NULL;
    if (res.exit_code != 0 || scheme_error) {
        if (scheme_error)
            st = nc_error(NC_ERR_IO, "command `%s` failed (exit status 0): %s", cmd, rstrip(res.err));
        else if (res.term_signal)
            st = nc_error(NC_ERR_IO, "command `%s` was killed by signal %d", cmd, res.term_signal);
        else
            st = nc_error(NC_ERR_IO, "command `%s` exited with status %d: %s", cmd, res.exit_code,
                          rstrip(res.err));
        nc_spawn_result_free(&res);
        unlink(tmp);
        return nc_synth_fail_utt(plan, i, st);
    }
    nc_spawn_result_free(&res);
    return nc_synth_finish(plan, i, tmp, out, cmd, duration);
}

nc_status nc_synth_finish(const nc_synth_plan *plan, int64_t i, const char *tmp, const char *out,
                          const char *cmd, double *duration) {
    const nc_synth_utt *u = &plan->utts[i];
    nc_audio a;
    nc_audio_read_params rp = nc_audio_read_default_params();
    nc_status st = nc_audio_read(tmp, &rp, &a);
    unlink(tmp);
    if (st) return nc_synth_fail_utt(plan, i, nc_error_prefix(st, "output of `%s`", cmd));
    if (a.n_samples == 0) {
        nc_audio_free(&a);
        return nc_synth_fail_utt(plan, i, nc_error(NC_ERR_FORMAT, "command `%s` produced no audio", cmd));
    }
    /* Speed perturbation (Ko et al., "Audio augmentation for speech
     * recognition", 2015; Kaldi's sox `speed`): treating the engine's audio
     * as if recorded at rate*speed and converting that to the output rate
     * shortens it by 1/speed and raises the pitch by speed, in one pass. */
    const int sr = plan->params.sample_rate;
    float *y;
    int64_t ny;
    st = nc_audio_resample(a.samples, a.n_samples, (double)a.sample_rate * u->speed, (double)sr, &y, &ny);
    nc_audio_free(&a);
    if (st) return nc_synth_fail_utt(plan, i, st);
    /* The utterance's loudness (every engine alike, so one scale for all):
     * gain_db <= 0 (checked in the plan), so a sample never clips. */
    const float gain = (float)pow(10.0, u->gain_db / 20.0);
    for (int64_t k = 0; k < ny && gain != 1.0f; k++) y[k] *= gain;
    if (isfinite(u->snr_db)) {
        /* A generator per utterance (seeded from the plan) keeps the noise
         * identical for any number of workers; 2.5 KB, so not on the stack. */
        nc_rng *r = nc_malloc(sizeof *r);
        if (!r) st = nc_error(NC_ERR_OOM, "white noise: rng");
        if (r) {
            nc_rng_seed(r, u->noise_seed);
            nc_audio noisy = {.samples = y, .n_samples = ny, .sample_rate = sr};
            nc_white_noise_snr_perturb wp = {.min_snr_db = u->snr_db, .max_snr_db = u->snr_db};
            st = nc_perturb_white_noise_snr(&wp, &noisy, r, NULL);
            nc_free(r);
        }
        if (st) {
            nc_free(y);
            return nc_synth_fail_utt(plan, i, st);
        }
    }
    st = nc_audio_write_wav(out, y, ny, 1, sr, NC_WAV_PCM16);
    nc_free(y);
    if (st) return nc_synth_fail_utt(plan, i, st);
    *duration = (double)ny / (double)sr;
    return NC_OK;
}

nc_status nc_synth_write_text(const nc_synth_plan *plan, int64_t i, const char *wav_path, char **txt) {
    *txt = nc_strdupf("%s.txt", wav_path);
    if (!*txt) return nc_error(NC_ERR_OOM, "utterance %lld: paths", (long long)i);
    FILE *f = fopen(*txt, "w");
    if (!f)
        return nc_error(NC_ERR_IO, "utterance %lld: cannot write '%s': %s", (long long)i, *txt, strerror(errno));
    int bad = fprintf(f, "%s\n", plan->utts[i].text) < 0;
    bad |= fclose(f) != 0;
    if (bad) return nc_error(NC_ERR_IO, "utterance %lld: cannot write '%s'", (long long)i, *txt);
    return NC_OK;
}

nc_status nc_synth_render(const nc_synth_plan *plan, int64_t i, const char *tmp_dir, const char *out_dir,
                          double *duration) {
    *duration = 0;
    if (i < 0 || i >= plan->n_utts)
        return nc_error(NC_ERR_INVALID_ARG, "utterance %lld of %lld", (long long)i, (long long)plan->n_utts);
    char *tmp = nc_strdupf("%s/%06lld.wav", tmp_dir, (long long)i);
    char *out = tmp ? nc_strdupf("%s/%s", out_dir, plan->utts[i].audio_filepath) : NULL;
    if (!out) {
        nc_free(tmp);
        return nc_error(NC_ERR_OOM, "utterance %lld: paths", (long long)i);
    }
    /* Room for the text (a line of a user's file can be long), the paths
     * (festival's text file too) and the fixed arguments. */
    int64_t cap = 2 * (int64_t)(strlen(plan->utts[i].text) + strlen(tmp)) + 1024;
    char *store = nc_malloc((size_t)cap);
    if (!store) {
        nc_free(tmp);
        nc_free(out);
        return nc_error(NC_ERR_OOM, "utterance %lld: command line", (long long)i);
    }
    const char *argv[16];
    nc_status st = nc_synth_command(plan, i, tmp, argv, store, cap);
    char *txt = NULL;
    if (!st && plan->voices[plan->utts[i].voice].engine == NC_SYNTH_FESTIVAL)
        st = nc_synth_write_text(plan, i, tmp, &txt); /* text2wave reads it (see nc_synth_command) */
    if (!st) st = render(plan, i, argv, tmp, out, duration);
    if (txt) unlink(txt);
    nc_free(txt);
    nc_free(store);
    nc_free(tmp);
    nc_free(out);
    return st;
}
