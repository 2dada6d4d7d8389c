/* NeMo manifests: field rules (aliases, text fallbacks, offsets, optional
 * fields, passthrough), path resolution against the manifest's folder,
 * comma-separated lists, duration/max_utts filters and their counts, and
 * every bad input reported as an error naming file:line (or the file). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nc_test.h"
#include "nemoc/asr_data.h"
#include "nemoc/log.h"

static char g_dir[4096];

static const char *path_in(const char *name) {
    static char buf[8][4200];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void write_file(const char *path, const char *data) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, strlen(data), f) == strlen(data));
    fclose(f);
}

static void touch(const char *path) { write_file(path, "x"); }

static void test_fields(void) {
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/wavs", g_dir);
    mkdir(sub, 0755);
    touch(path_in("wavs/a.wav"));
    touch(path_in("b.wav"));
    write_file(path_in("t1.txt"), "from a\ntext file\n");
    char line_abs[4400];
    snprintf(line_abs, sizeof line_abs,
             "{\"audio_filepath\": \"/abs/path/x.flac\", \"duration\": 2, \"offset\": 0.25, \"text\": \"abs\"}\n");
    char manifest[8192];
    snprintf(manifest, sizeof manifest,
             "{\"audio_filepath\": \"wavs/a.wav\", \"duration\": 1.5, \"text\": \"hello\", \"lang\": \"en\", "
             "\"speaker\": \"spk1\", \"pred_text\": \"helo\"}\n"
             "\n"
             "{\"audio_filename\": \"b.wav\", \"duration\": 0.5, \"text_filepath\": \"t1.txt\", \"speaker\": 42}\n"
             "{\"audio_filepath\": \"missing/c.wav\", \"duration\": 3.0, \"normalized_text\": \"norm\", "
             "\"offset\": null}\n"
             "{\"audio_filepath\": \"d.wav\", \"duration\": 0}\n"
             "%s"
             "{\"audio_filepath\": \"e.wav\", \"duration\": 1.0, \"text\": \"w\\u00f6rld \xc3\xa9\", "
             "\"normalized_text\": \"ignored\"}\n",
             line_abs);
    const char *mpath = path_in("train.json");
    write_file(mpath, manifest);
    nc_manifest m;
    CHECK_OK(nc_manifest_read(mpath, NULL, false, &m));
    CHECK(m.n == 6);
    if (m.n != 6) return;
    const nc_manifest_entry *e = m.entries;
    CHECK(!strcmp(e[0].audio_filepath, path_in("wavs/a.wav")));
    CHECK(e[0].duration == 1.5 && e[0].offset == 0.0);
    CHECK(!strcmp(e[0].text, "hello"));
    CHECK(e[0].lang && !strcmp(e[0].lang, "en"));
    CHECK(e[0].speaker && !strcmp(e[0].speaker, "spk1"));
    CHECK(strstr(e[0].extra_json, "\"pred_text\":\"helo\"") != NULL);
    char src[4300];
    snprintf(src, sizeof src, "%s:1", mpath);
    CHECK(!strcmp(e[0].source, src));
    /* audio_filename alias, text_filepath relative to the manifest with newlines removed,
     * a numeric speaker, the blank line counted in line numbers. */
    CHECK(!strcmp(e[1].audio_filepath, path_in("b.wav")));
    CHECK(!strcmp(e[1].text, "from atext file"));
    CHECK(e[1].speaker && !strcmp(e[1].speaker, "42"));
    CHECK(e[1].lang == NULL);
    snprintf(src, sizeof src, "%s:3", mpath);
    CHECK(!strcmp(e[1].source, src));
    /* Relative paths that exist nowhere still resolve against the manifest folder. */
    CHECK(!strcmp(e[2].audio_filepath, path_in("missing/c.wav")));
    CHECK(!strcmp(e[2].text, "norm"));
    CHECK(e[2].offset == 0.0);
    CHECK(!strcmp(e[3].text, "") && e[3].duration == 0.0 && e[3].speaker == NULL);
    CHECK(!strcmp(e[4].audio_filepath, "/abs/path/x.flac"));
    CHECK(e[4].offset == 0.25 && e[4].duration == 2.0);
    CHECK(!strcmp(e[5].text, "w\xc3\xb6rld \xc3\xa9")); /* text wins over normalized_text */
    CHECK(m.stats.n_read == 6 && m.stats.n_kept == 6 && m.stats.n_bad_lines == 0);
    CHECK_NEAR(m.stats.hours_kept, 8.0 / 3600, 1e-12);
    nc_manifest_free(&m);
    CHECK(m.entries == NULL && m.n == 0);

    /* Comma-separated lists, spaces trimmed, read in order. */
    const char *m2 = path_in("dev.json");
    write_file(m2, "{\"audio_filepath\": \"z.wav\", \"duration\": 4.0, \"text\": \"second\"}\n");
    char list[9000];
    snprintf(list, sizeof list, "%s , %s", m2, mpath);
    CHECK_OK(nc_manifest_read(list, NULL, false, &m));
    CHECK(m.n == 7);
    if (m.n == 7) {
        CHECK(!strcmp(m.entries[0].text, "second"));
        CHECK(!strcmp(m.entries[0].audio_filepath, path_in("z.wav")));
        CHECK(!strcmp(m.entries[1].text, "hello"));
    }
    nc_manifest_free(&m);
}

static void test_filters(void) {
    char text[4096] = "";
    const double durs[] = {0.05, 1.0, 2.0, 20.0, 3.0, 0.5, 4.0, 30.0};
    for (int i = 0; i < 8; i++) {
        char line[200];
        snprintf(line, sizeof line, "{\"audio_filepath\": \"/x/%d.wav\", \"duration\": %g, \"text\": \"t%d\"}\n", i,
                 durs[i], i);
        strcat(text, line);
    }
    /* A malformed line after the cap: NeMo never reads it, neither is it an error here. */
    strcat(text, "{not json\n");
    const char *p = path_in("filters.json");
    write_file(p, text);
    nc_manifest_filter f = nc_manifest_default_filter();
    f.min_duration = 0.1;
    f.max_duration = 16.7;
    f.max_utts = 4;
    nc_manifest m;
    CHECK_OK(nc_manifest_read(p, &f, false, &m));
    CHECK(m.n == 4);
    if (m.n == 4) {
        CHECK(!strcmp(m.entries[0].text, "t1") && !strcmp(m.entries[1].text, "t2"));
        CHECK(!strcmp(m.entries[2].text, "t4") && !strcmp(m.entries[3].text, "t5"));
    }
    CHECK(m.stats.n_read == 8 && m.stats.n_kept == 4);
    CHECK(m.stats.n_too_short == 1 && m.stats.n_too_long == 2 && m.stats.n_over_max_utts == 1);
    CHECK_NEAR(m.stats.hours_kept, 6.5 / 3600, 1e-12);
    CHECK_NEAR(m.stats.hours_dropped, (0.05 + 20 + 30 + 4) / 3600, 1e-12);
    nc_manifest_free(&m);
    /* Without the cap the bad line is an error. */
    f.max_utts = 0;
    char want[4300];
    snprintf(want, sizeof want, "%s:9: malformed JSON", p);
    CHECK_ERR(nc_manifest_read(p, &f, false, &m), NC_ERR_FORMAT, want);
    /* Boundaries are inclusive: duration == min or == max is kept. */
    f.min_duration = 1.0;
    f.max_duration = 4.0;
    CHECK_OK(nc_manifest_read(p, &f, true, &m));
    CHECK(m.n == 4 && m.stats.n_bad_lines == 1);
    nc_manifest_free(&m);
}

/* One bad line at line 2 of a fresh manifest, checked for code and "file:2". */
static void bad_line(const char *name, const char *line2, nc_status code, const char *needle) {
    char text[2048];
    snprintf(text, sizeof text, "{\"audio_filepath\": \"/a.wav\", \"duration\": 1.0, \"text\": \"ok\"}\n%s\n", line2);
    const char *p = path_in(name);
    write_file(p, text);
    nc_manifest m;
    char want[4400];
    snprintf(want, sizeof want, "%s:2: %s", p, needle);
    CHECK_ERR(nc_manifest_read(p, NULL, false, &m), code, want);
    /* With skip_bad_lines the good line survives and the bad one is counted. */
    if (code == NC_ERR_FORMAT) {
        CHECK_OK(nc_manifest_read(p, NULL, true, &m));
        CHECK(m.n == 1 && m.stats.n_bad_lines == 1);
        nc_manifest_free(&m);
    }
}

static void test_errors(void) {
    bad_line("json.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": 1.0,", NC_ERR_FORMAT, "malformed JSON");
    bad_line("noaudio.json", "{\"duration\": 1.0, \"text\": \"x\"}", NC_ERR_FORMAT, "missing \"audio_filepath\"");
    bad_line("audiotype.json", "{\"audio_filepath\": 7, \"duration\": 1.0}", NC_ERR_FORMAT,
             "\"audio_filepath\" must be a non-empty string");
    bad_line("nodur.json", "{\"audio_filepath\": \"/b.wav\", \"text\": \"x\"}", NC_ERR_FORMAT, "missing \"duration\"");
    bad_line("negdur.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": -0.5}", NC_ERR_FORMAT,
             "\"duration\" must be finite and >= 0, found -0.5");
    bad_line("strdur.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": \"1.5\"}", NC_ERR_FORMAT,
             "\"duration\" must be a number");
    /* Python's json.dumps writes NaN for a float nan: not JSON, reported at its line. */
    bad_line("nandur.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": NaN}", NC_ERR_FORMAT, "malformed JSON");
    bad_line("infdur.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": 1e999}", NC_ERR_FORMAT,
             "\"duration\" must be finite");
    bad_line("nulldur.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": null}", NC_ERR_FORMAT,
             "\"duration\" must be a number");
    bad_line("utf8.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": 1.0, \"text\": \"caf\xe9\"}", NC_ERR_FORMAT,
             "invalid UTF-8");
    bad_line("surrogate.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": 1.0, \"text\": \"x\\ud800y\"}",
             NC_ERR_FORMAT, "");
    bad_line("texttype.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": 1.0, \"text\": [1]}", NC_ERR_FORMAT,
             "\"text\" must be a string");
    bad_line("negoff.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": 1.0, \"offset\": -1}", NC_ERR_FORMAT,
             "\"offset\" must be a number of seconds >= 0");
    bad_line("array.json", "[1, 2]", NC_ERR_FORMAT, "expected a JSON object");
    bad_line("notext.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": 1.0, \"text_filepath\": \"nope.txt\"}",
             NC_ERR_NOT_FOUND, "text_filepath");
    write_file(path_in("bad.txt"), "ok \xff\xfe bytes\n");
    bad_line("badtext.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": 1.0, \"text_filepath\": \"bad.txt\"}",
             NC_ERR_FORMAT, "text_filepath");
    CHECK(strstr(nc_last_error(), "invalid UTF-8") != NULL);

    /* Empty manifests (no bytes, only blank lines) are errors naming the file. */
    nc_manifest m;
    char want[4400];
    const char *p = path_in("empty.json");
    write_file(p, "");
    snprintf(want, sizeof want, "manifest '%s' has no entries", p);
    CHECK_ERR(nc_manifest_read(p, NULL, false, &m), NC_ERR_FORMAT, want);
    p = path_in("blank.json");
    write_file(p, "\n  \n\r\n");
    snprintf(want, sizeof want, "manifest '%s' has no entries", p);
    CHECK_ERR(nc_manifest_read(p, NULL, true, &m), NC_ERR_FORMAT, want);
    /* Only bad lines, skipped: still empty. */
    p = path_in("allbad.json");
    write_file(p, "{\n");
    CHECK_ERR(nc_manifest_read(p, NULL, true, &m), NC_ERR_FORMAT, "has no entries");
    /* A missing manifest, alone or in a list. */
    p = path_in("nope.json");
    CHECK_ERR(nc_manifest_read(p, NULL, false, &m), NC_ERR_NOT_FOUND, p);
    char list[9000];
    snprintf(list, sizeof list, "%s,%s", path_in("filters.json"), p);
    CHECK_ERR(nc_manifest_read(list, NULL, true, &m), NC_ERR_NOT_FOUND, p);
    CHECK(m.entries == NULL && m.n == 0);
    CHECK_ERR(nc_manifest_read("", NULL, false, &m), NC_ERR_INVALID_ARG, "empty");
    CHECK_ERR(nc_manifest_read(" , ", NULL, false, &m), NC_ERR_INVALID_ARG, "names no manifest");
}

/* JSON strings that cJSON takes but Python's json.loads or a C string
 * cannot; duplicate keys as Python reads them (the last wins). */
static void test_json_strings(void) {
    bad_line("tab.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": 1.0, \"text\": \"a\tb\"}", NC_ERR_FORMAT,
             "raw control character 0x09 at column 57");
    bad_line("nulesc.json", "{\"audio_filepath\": \"/b.wav\\u0000.flac\", \"duration\": 1.0}", NC_ERR_FORMAT,
             "\\u0000 (NUL) in a string at column 27");
    bad_line("nulkey.json", "{\"audio_filepath\": \"/b.wav\", \"duration\": 1.0, \"te\\u0000xt\": \"a\"}",
             NC_ERR_FORMAT, "\\u0000 (NUL)");
    /* A raw NUL byte (written with its length; strings cannot carry it). */
    const char raw[] = "{\"audio_filepath\": \"/b.wav\", \"duration\": 1.0, \"text\": \"si\0x\"}\n";
    const char *p = path_in("rawnul.json");
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(raw, 1, sizeof raw - 1, f);
        fclose(f);
    }
    nc_manifest m;
    char want[4400];
    snprintf(want, sizeof want, "%s:1: raw control character 0x00 at column 58", p);
    CHECK_ERR(nc_manifest_read(p, NULL, false, &m), NC_ERR_FORMAT, want);
    /* An escaped backslash before u0000 is text, not a NUL. */
    p = path_in("escbs.json");
    write_file(p, "{\"audio_filepath\": \"/b.wav\", \"duration\": 1.0, \"text\": \"a\\\\u0000b\"}\n");
    CHECK_OK(nc_manifest_read(p, NULL, false, &m));
    if (m.n == 1) CHECK(!strcmp(m.entries[0].text, "a\\u0000b"));
    nc_manifest_free(&m);
    /* Duplicate keys: the last one wins (json.loads), at every level. */
    p = path_in("dup.json");
    write_file(p, "{\"audio_filepath\": \"/first.wav\", \"duration\": 1.0, \"text\": \"one\", \"audio_filepath\": "
                  "\"/last.wav\", \"text\": \"two\", \"duration\": 2.5, \"x\": {\"k\": 1, \"k\": 2}}\n");
    CHECK_OK(nc_manifest_read(p, NULL, false, &m));
    if (m.n == 1) {
        CHECK(!strcmp(m.entries[0].audio_filepath, "/last.wav"));
        CHECK(!strcmp(m.entries[0].text, "two"));
        CHECK(m.entries[0].duration == 2.5);
        CHECK(strstr(m.entries[0].extra_json, "\"k\":2") && !strstr(m.entries[0].extra_json, "\"k\":1"));
        CHECK(!strstr(m.entries[0].extra_json, "first.wav"));
    }
    nc_manifest_free(&m);
    /* A folder given as the manifest: the reason, not "read error after line 0". */
    p = path_in("adir.json");
    mkdir(p, 0755);
    CHECK_ERR(nc_manifest_read(p, NULL, false, &m), NC_ERR_IO, "");
    CHECK(strstr(nc_last_error(), "directory") != NULL && !strstr(nc_last_error(), "line 0"));
}

int main(void) {
    nc_log_set_level(NC_LOG_ERROR);
    snprintf(g_dir, sizeof g_dir, "%s", nc_test_tmpdir("manifest"));
    test_fields();
    test_filters();
    test_errors();
    test_json_strings();
    return nc_test_finish("manifest");
}
