/* JSON Lines: BOM, CRLF, blank lines, malformed lines reported as
 * file:line with an excerpt (and reading carrying on), lines of megabytes,
 * the line-length limit, memory and file readers agreeing, and the writer. */
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/jsonl.h"

static void write_bytes(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static const char MANIFEST[] =
    "\xEF\xBB\xBF{\"audio_filepath\": \"a.wav\", \"duration\": 1.5, \"text\": \"hello\"}\r\n" /* 1: BOM + CRLF */
    "\r\n"                                                                                     /* 2: blank */
    "   \t \n"                                                                                 /* 3: blank */
    "{\"audio_filepath\": \"b.wav\", \"duration\": 2.25, \"text\": \"w\xC3\xB6rld\"}\n"        /* 4 */
    "{\"audio_filepath\": \"c.wav\", \"duration\": 3.0, \"text\": \"unterminated}\n"          /* 5: bad */
    "[1, 2, 3]\n"                                                                              /* 6: not an object */
    "{\"a\": 1} {\"b\": 2}\n"                                                                  /* 7: trailing text */
    "{\"text\": \"bad \xFF byte\"}\n"                                                          /* 8: invalid UTF-8 */
    "{\"audio_filepath\": \"d.wav\", \"duration\": 0.5, \"text\": \"\"}";                     /* 9: no final \n */

/* Reads MANIFEST and checks every value and error in order. */
static void check_manifest(nc_jsonl_reader *r, const char *name) {
    cJSON *o = NULL;
    char want[256];
    CHECK_OK(nc_jsonl_next(r, &o));
    CHECK(o && nc_jsonl_line(r) == 1);
    if (o) {
        CHECK(!strcmp(cJSON_GetObjectItem(o, "audio_filepath")->valuestring, "a.wav"));
        CHECK(cJSON_GetObjectItem(o, "duration")->valuedouble == 1.5);
    }
    cJSON_Delete(o);
    CHECK_OK(nc_jsonl_next(r, &o));
    CHECK(o && nc_jsonl_line(r) == 4);
    if (o) CHECK(!strcmp(cJSON_GetObjectItem(o, "text")->valuestring, "w\xC3\xB6rld"));
    cJSON_Delete(o);
    snprintf(want, sizeof want, "%s:5: malformed JSON at column", name);
    CHECK_ERR(nc_jsonl_next(r, &o), NC_ERR_FORMAT, want);
    CHECK(o == NULL && nc_jsonl_line(r) == 5);
    CHECK(strstr(nc_last_error(), "\"text\": \"unterminated}'") != NULL);
    snprintf(want, sizeof want, "%s:6: expected a JSON object, found an array", name);
    CHECK_ERR(nc_jsonl_next(r, &o), NC_ERR_FORMAT, want);
    snprintf(want, sizeof want, "%s:7: unexpected text after the JSON value at column 10: '{\"a\": 1} {\"b\": 2}'", name);
    CHECK_ERR(nc_jsonl_next(r, &o), NC_ERR_FORMAT, want);
    snprintf(want, sizeof want, "%s:8: invalid UTF-8 at column 15", name);
    CHECK_ERR(nc_jsonl_next(r, &o), NC_ERR_FORMAT, want);
    CHECK_OK(nc_jsonl_next(r, &o));
    CHECK(o && nc_jsonl_line(r) == 9);
    if (o) CHECK(!strcmp(cJSON_GetObjectItem(o, "audio_filepath")->valuestring, "d.wav"));
    cJSON_Delete(o);
    CHECK_OK(nc_jsonl_next(r, &o));
    CHECK(o == NULL);
    CHECK_OK(nc_jsonl_next(r, &o)); /* stays at the end */
    CHECK(o == NULL);
}

static void test_manifest(void) {
    const char *dir = nc_test_tmpdir("jsonl");
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    write_bytes(path, MANIFEST, sizeof MANIFEST - 1);
    nc_jsonl_reader *r = NULL;
    CHECK_OK(nc_jsonl_open(path, NULL, &r));
    if (r) {
        CHECK(!strcmp(nc_jsonl_name(r), path));
        check_manifest(r, path);
        nc_jsonl_close(r);
    }
    CHECK_OK(nc_jsonl_open_mem(MANIFEST, sizeof MANIFEST - 1, "mem.json", NULL, &r));
    if (r) {
        check_manifest(r, "mem.json");
        nc_jsonl_close(r);
    }
    /* any_value accepts arrays and numbers. */
    nc_jsonl_opts any = nc_jsonl_default_opts();
    any.any_value = true;
    const char *vals = "[1]\n2\n\"s\"\n";
    CHECK_OK(nc_jsonl_open_mem(vals, strlen(vals), "v", &any, &r));
    int n = 0;
    cJSON *o;
    while (nc_jsonl_next(r, &o) == NC_OK && o) {
        n++;
        cJSON_Delete(o);
    }
    CHECK(n == 3);
    nc_jsonl_close(r);
    /* An empty file and a file of blank lines have no values. */
    CHECK_OK(nc_jsonl_open_mem("", 0, "e", NULL, &r));
    CHECK_OK(nc_jsonl_next(r, &o));
    CHECK(o == NULL && nc_jsonl_line(r) == 0);
    nc_jsonl_close(r);
    CHECK_OK(nc_jsonl_open_mem("\n\r\n\n", 4, "e", NULL, &r));
    CHECK_OK(nc_jsonl_next(r, &o));
    CHECK(o == NULL && nc_jsonl_line(r) == 3);
    nc_jsonl_close(r);
    CHECK_ERR(nc_jsonl_open("/nonexistent/m.json", NULL, &r), NC_ERR_NOT_FOUND, "/nonexistent/m.json");
}

/* A line of 1 MB (crossing many read chunks), a 3 MB one over a 2 MB limit,
 * and the lines after them. */
static void test_long_lines(void) {
    const size_t big = 1 << 20, huge = 3 << 20;
    size_t cap = big + huge + 256;
    char *buf = malloc(cap);
    size_t o = 0;
    o += (size_t)sprintf(buf + o, "{\"text\": \"");
    memset(buf + o, 'a', big);
    o += big;
    o += (size_t)sprintf(buf + o, "\"}\n{\"text\": \"");
    memset(buf + o, 'b', huge);
    o += huge;
    o += (size_t)sprintf(buf + o, "\"}\n{\"n\": 3}\n");
    const char *dir = nc_test_tmpdir("jsonl_long");
    char path[4200];
    snprintf(path, sizeof path, "%s/long.json", dir);
    write_bytes(path, buf, o);

    for (int mode = 0; mode < 2; mode++) {
        nc_jsonl_reader *r = NULL;
        nc_jsonl_opts opts = {.max_line_bytes = 2 << 20};
        if (mode == 0) CHECK_OK(nc_jsonl_open(path, &opts, &r));
        else CHECK_OK(nc_jsonl_open_mem(buf, o, "long.json", &opts, &r));
        if (!r) continue;
        cJSON *v = NULL;
        CHECK_OK(nc_jsonl_next(r, &v));
        cJSON *t = v ? cJSON_GetObjectItem(v, "text") : NULL;
        CHECK(t && strlen(t->valuestring) == big && t->valuestring[big - 1] == 'a');
        cJSON_Delete(v);
        CHECK_ERR(nc_jsonl_next(r, &v), NC_ERR_FORMAT, ":2: line is longer than the limit of 2097152 bytes");
        CHECK_OK(nc_jsonl_next(r, &v));
        CHECK(v && nc_jsonl_line(r) == 3 && cJSON_GetObjectItem(v, "n")->valueint == 3);
        cJSON_Delete(v);
        nc_jsonl_close(r);
    }
    /* Without a limit the 3 MB line is read whole. */
    nc_jsonl_reader *r = NULL;
    CHECK_OK(nc_jsonl_open(path, NULL, &r));
    cJSON *v = NULL;
    int count = 0;
    while (r && nc_jsonl_next(r, &v) == NC_OK && v) {
        if (count == 1) CHECK(strlen(cJSON_GetObjectItem(v, "text")->valuestring) == huge);
        count++;
        cJSON_Delete(v);
    }
    CHECK(count == 3);
    nc_jsonl_close(r);
    free(buf);
}

static void test_writer(void) {
    const char *dir = nc_test_tmpdir("jsonl_w");
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    nc_jsonl_writer *w = NULL;
    CHECK_OK(nc_jsonl_writer_open(path, false, &w));
    for (int i = 0; i < 3; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "step", i);
        cJSON_AddStringToObject(o, "text", "multi\nline \"quoted\"");
        CHECK_OK(nc_jsonl_write(w, o));
        cJSON_Delete(o);
    }
    CHECK_OK(nc_jsonl_writer_sync(w));
    CHECK_OK(nc_jsonl_writer_close(w));
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "step", 3);
    CHECK_OK(nc_jsonl_append(path, extra));
    cJSON_Delete(extra);

    nc_jsonl_reader *r = NULL;
    CHECK_OK(nc_jsonl_open(path, NULL, &r));
    cJSON *o;
    int n = 0;
    while (r && nc_jsonl_next(r, &o) == NC_OK && o) {
        CHECK(cJSON_GetObjectItem(o, "step")->valueint == n && nc_jsonl_line(r) == n + 1);
        if (n < 3) CHECK(!strcmp(cJSON_GetObjectItem(o, "text")->valuestring, "multi\nline \"quoted\""));
        n++;
        cJSON_Delete(o);
    }
    CHECK(n == 4);
    nc_jsonl_close(r);
    /* Opening without append starts over. */
    CHECK_OK(nc_jsonl_writer_open(path, false, &w));
    CHECK_OK(nc_jsonl_writer_close(w));
    CHECK_OK(nc_jsonl_open(path, NULL, &r));
    CHECK_OK(nc_jsonl_next(r, &o));
    CHECK(o == NULL);
    nc_jsonl_close(r);
    CHECK_ERR(nc_jsonl_writer_open("/nonexistent/dir/x.jsonl", true, &w), NC_ERR_IO, "/nonexistent/dir/x.jsonl");
}

int main(void) {
    test_manifest();
    test_long_lines();
    test_writer();
    return nc_test_finish("test_jsonl");
}
