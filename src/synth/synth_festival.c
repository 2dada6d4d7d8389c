/* festival in batches: one `festival --script` process renders many
 * utterances of one voice. text2wave (festival's own script, one process
 * per utterance) spends ~0.3 s starting festival and loading the voice for
 * every utterance; a batch pays that once.
 *
 * The script does for each utterance what text2wave does for its one
 * (/usr/bin/text2wave in festival 2.5): it loads init.scm, runs the voice
 * function and our prosody forms (the same nc_synth_festival_evals strings
 * text2wave gets as -eval), runs tts_file on the utterance's own text file
 * (so no text is ever spliced into Scheme source), and saves every
 * synthesized chunk through a tts hook that writes a RIFF header, appends
 * the samples and rewrites the header with the total, as text2wave's
 * save_record_wave_fp does. The voice function starts with (voice_reset)
 * and sets its Duration_Stretch, int_lr_params and hts_engine_params
 * afresh, so one utterance's prosody does not leak into the next; the e2e
 * test data_synth_festival.sh checks the WAVs are byte-identical to
 * text2wave's. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "io/spawn.h"
#include "nemoc/alloc.h"
#include "nemoc/synth.h"
#include "synth/synth_internal.h"

/* The part of the script shared by every utterance. --script loads no init
 * files, so, like text2wave, it loads init.scm itself and silences the
 * garbage collector's messages. nc_say mirrors text2wave's main for one
 * text file and one output file. */
static const char prelude[] =
    ";; Written by nemoc data synth (src/synth/synth_festival.c): one batch of utterances.\n"
    "(load (path-append datadir \"init.scm\"))\n"
    "(gc-status nil)\n"
    "(defvar nc_fp nil)\n"
    "(defvar nc_n 0)\n"
    "(defvar nc_last nil)\n"
    "(define (nc_save utt)\n"
    "  (if (eq? nc_n 0)\n"
    "      (wave.save.header nc_fp (utt.wave utt) 'riff nil (list (list \"numsamples\" 0))))\n"
    "  (set! nc_n (+ nc_n (get_param 'num_samples (wave.info (utt.wave utt)) 0)))\n"
    "  (wave.save.data.fp (utt.wave utt) nc_fp 'riff nil)\n"
    "  (set! nc_last utt))\n"
    "(define (nc_say txt wav)\n"
    "  (set! tts_hooks (list utt.synth nc_save))\n"
    "  (set! nc_fp (fopen wav \"wb\"))\n"
    "  (set! nc_n 0)\n"
    "  (set! nc_last nil)\n"
    "  (tts_file txt (tts_find_text_mode txt auto-text-mode-alist))\n"
    "  (fseek nc_fp 0 0)\n"
    "  (wave.save.header nc_fp (utt.wave nc_last) 'riff nil (list (list \"numsamples\" nc_n)))\n"
    "  (fclose nc_fp))\n";

/* A Scheme string literal: SIOD's reader (siod/slib.cc) takes \" and \\
 * as escapes, so any path survives. */
static void sb_scheme_string(nc_strbuf *b, const char *s) {
    nc_sb_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') nc_sb_putc(b, '\\');
        nc_sb_putc(b, *s);
    }
    nc_sb_putc(b, '"');
}

/* Drops trailing whitespace in place. */
static char *rstrip(char *s) {
    size_t n = strlen(s);
    while (n && strchr("\n\r \t", s[n - 1])) s[--n] = 0;
    return s;
}

/* Markers on stderr, where festival prints its SIOD errors, tie whatever
 * festival said to the utterance it was working on. A leading newline
 * keeps a marker at the start of a line. */
static void marker(char *buf, size_t cap, const char *what, int64_t id) {
    snprintf(buf, cap, "\nnemoc-%s %lld\n", what, (long long)id);
}

/* The script for utterances idx[0..n) into b. */
static void write_script(nc_strbuf *b, const nc_synth_plan *plan, const int64_t *idx, int64_t n, char **txt,
                         char **wav) {
    nc_sb_puts(b, prelude);
    for (int64_t k = 0; k < n; k++) {
        char forms[3][160];
        int nf = nc_synth_festival_evals(plan, idx[k], forms);
        nc_sb_appendf(b, "(format stderr \"\\nnemoc-utt %lld\\n\")\n", (long long)idx[k]);
        for (int f = 0; f < nf; f++) nc_sb_appendf(b, "%s\n", forms[f]);
        nc_sb_puts(b, "(nc_say ");
        sb_scheme_string(b, txt[k]);
        nc_sb_putc(b, ' ');
        sb_scheme_string(b, wav[k]);
        nc_sb_puts(b, ")\n");
        nc_sb_appendf(b, "(format stderr \"\\nnemoc-done %lld\\n\")\n", (long long)idx[k]);
    }
}

/* The error for utterance idx[k], which festival did not finish: what it
 * printed while on it (a SIOD ERROR, since --script stops at the first
 * one and exits 0), or how it ended. */
static nc_status batch_error(const nc_synth_plan *plan, int64_t id, const char *cmd, nc_spawn_result *res,
                             char *said) {
    char forms[3][160];
    int nf = nc_synth_festival_evals(plan, id, forms);
    char what[520];
    snprintf(what, sizeof what, "%s %s %s", forms[0], forms[1], nf > 2 ? forms[2] : "");
    rstrip(what);
    if (res->term_signal)
        return nc_error(NC_ERR_IO, "festival batch `%s` (forms %s) was killed by signal %d: %s", cmd, what,
                        res->term_signal, said);
    if (strstr(said, "SIOD ERROR"))
        return nc_error(NC_ERR_IO, "festival batch `%s` failed on it (exit status %d; forms %s): %s", cmd,
                        res->exit_code, what, said);
    return nc_error(NC_ERR_IO, "festival batch `%s` stopped before finishing it (exit status %d; forms %s)%s%s",
                    cmd, res->exit_code, what, *said ? ": " : "", said);
}

nc_status nc_synth_render_festival_batch(const nc_synth_plan *plan, const int64_t *idx, int64_t n,
                                         const char *tmp_dir, const char *out_dir, double *durations,
                                         int64_t *failed) {
    *failed = -1;
    if (n <= 0) return NC_OK;
    nc_status st = NC_OK;
    char **txt = nc_calloc((size_t)n, sizeof *txt), **wav = nc_calloc((size_t)n, sizeof *wav);
    char *script = nc_strdupf("%s/batch-%06lld.scm", tmp_dir, (long long)idx[0]);
    nc_strbuf b = {0};
    nc_spawn_result res = {0};
    int ran = 0;
    if (!txt || !wav || !script) {
        st = nc_error(NC_ERR_OOM, "festival batch of %lld utterances", (long long)n);
        *failed = idx[0];
        goto done;
    }
    for (int64_t k = 0; k < n && !st; k++) {
        wav[k] = nc_strdupf("%s/%06lld.wav", tmp_dir, (long long)idx[k]);
        st = wav[k] ? nc_synth_write_text(plan, idx[k], wav[k], &txt[k])
                    : nc_error(NC_ERR_OOM, "utterance %lld: paths", (long long)idx[k]);
        if (st) *failed = idx[k];
    }
    if (st) goto done;
    write_script(&b, plan, idx, n, txt, wav);
    FILE *f = b.oom ? NULL : fopen(script, "w");
    int bad = !f;
    if (f) {
        bad |= fwrite(b.p, 1, b.n, f) != b.n;
        bad |= fclose(f) != 0;
    }
    if (bad) {
        st = nc_error(b.oom ? NC_ERR_OOM : NC_ERR_IO, "festival batch: cannot write '%s'", script);
        *failed = idx[0];
        goto done;
    }
    /* festival's UniSyn (the diphone voices) reads one float past the end
     * of a pitchmark track (in make_segment_single_mapping, us_mapping.cc,
     * the function that maps target onto source pitchmarks; valgrind: "Invalid read of size 4 ... 0 bytes after a
     * block" from EST_Track::resize), and that float can move the last
     * pitch period of an utterance. In a fresh text2wave process the
     * bytes there are a malloc header or untouched memory, both far from a
     * time in the utterance; in a process that synthesized before, they
     * can be a time left by an earlier track (measured: 3 of 200 WAVs
     * differed, from run to run). glibc's tunables make every freed block
     * forget its contents (perturb: freed bytes become 0xff, a NaN float;
     * tcache off, because tcache'd blocks skip that fill), so the stray
     * read sees what a fresh process sees: the e2e test compares every WAV
     * with text2wave's. Other C libraries ignore the variable. */
    const char *argv[] = {"env", "GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.perturb=255",
                          "festival", "--script", script, NULL};
    char cmd[1200];
    nc_spawn_format_argv(argv, cmd, sizeof cmd);
    /* Room for every marker and festival's warnings (a line or two per utterance). */
    st = nc_spawn_run(argv, 0, 1, (size_t)(65536 + 4096 * n), &res);
    if (st) {
        *failed = idx[0];
        st = st == NC_ERR_NOT_FOUND ? nc_error(st, "command `%s`: 'festival' is not on PATH", cmd)
                                    : nc_error_prefix(st, "command `%s`", cmd);
        goto done;
    }
    ran = 1;
    const char *err = res.err ? res.err : "";
    /* Utterances in script order: each must have its done marker and no
     * SIOD ERROR between its two markers. */
    for (int64_t k = 0; k < n && !st; k++) {
        char m_utt[64], m_done[64];
        marker(m_utt, sizeof m_utt, "utt", idx[k]);
        marker(m_done, sizeof m_done, "done", idx[k]);
        const char *from = strstr(err, m_utt);
        const char *to = from ? strstr(from, m_done) : NULL;
        const char *body = from ? from + strlen(m_utt) : err;
        const char *next = from ? strstr(body, "\nnemoc-") : NULL;
        const char *end = to ? to : next ? next : body + strlen(body);
        size_t len = (size_t)(end - body);
        char *said = nc_malloc(len + 1);
        if (!said) {
            st = nc_error(NC_ERR_OOM, "festival batch: messages");
            *failed = idx[k];
            break;
        }
        memcpy(said, body, len);
        said[len] = 0;
        rstrip(said);
        if (!to || strstr(said, "SIOD ERROR") || (k == n - 1 && strstr(to, "SIOD ERROR"))) {
            st = nc_synth_fail_utt(plan, idx[k], batch_error(plan, idx[k], cmd, &res, said));
            *failed = idx[k];
        } else {
            char *out = nc_strdupf("%s/%s", out_dir, plan->utts[idx[k]].audio_filepath);
            st = out ? nc_synth_finish(plan, idx[k], wav[k], out, cmd, &durations[idx[k]])
                     : nc_error(NC_ERR_OOM, "utterance %lld: paths", (long long)idx[k]);
            if (st) *failed = idx[k];
            nc_free(out);
        }
        nc_free(said);
    }
done:
    /* nc_synth_finish removed the WAVs it read; the rest (after a failure) go here. */
    for (int64_t k = 0; k < n; k++) {
        if (txt && txt[k]) unlink(txt[k]);
        if (wav && wav[k] && (st || !ran)) unlink(wav[k]);
        if (txt) nc_free(txt[k]);
        if (wav) nc_free(wav[k]);
    }
    if (script) unlink(script);
    nc_free(script);
    nc_free(txt);
    nc_free(wav);
    nc_sb_free(&b);
    nc_spawn_result_free(&res);
    return st;
}
