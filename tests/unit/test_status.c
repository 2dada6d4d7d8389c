/* The thread-local error message: one longer than its buffer keeps its head
 * (what failed, file:line) and its tail (the reason) around " ... ", cut at
 * words and never inside a UTF-8 character, when formatted and when a prefix
 * is added. */
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/status.h"

/* Every multi-byte character of s is whole. */
static bool utf8_whole(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int k = *p < 0x80 ? 0 : *p >= 0xF0 ? 3 : *p >= 0xE0 ? 2 : *p >= 0xC0 ? 1 : -1;
        if (k < 0) return false;
        p++;
        for (int i = 0; i < k; i++, p++)
            if ((*p & 0xC0) != 0x80) return false;
    }
    return true;
}

static void check_cut(const char *msg, const char *head, const char *tail) {
    size_t n = strlen(msg), lt = strlen(tail);
    const char *mark = strstr(msg, " ... ");
    nc_test_checks++;
    if (n >= 2048 || !mark || strncmp(msg, head, strlen(head)) || n < lt || strcmp(msg + n - lt, tail))
        nc_test_fail(__FILE__, __LINE__, "bad cut (%zu bytes): '%.60s' ... '%s'", n, msg, msg + (n > 60 ? n - 60 : 0));
    CHECK(utf8_whole(msg));
    /* The words next to the mark are whole. */
    CHECK(mark && (!strncmp(mark - 4, "word", 4) || !strncmp(mark - 4, "\xce\xb1\xce\xb2", 4)));
    CHECK(mark && (!strncmp(mark + 5, "word", 4) || !strncmp(mark + 5, "\xce\xb1\xce\xb2", 4)));
}

int main(void) {
    /* 3000 bytes of "word " in ASCII and Greek: the cuts fall mid-word and
     * mid-character somewhere. */
    char big[3001];
    size_t k = 0;
    while (k + 11 < sizeof big) {
        memcpy(big + k, "word \xce\xb1\xce\xb2 ", 10);
        k += 10;
    }
    big[k] = 0;
    for (int shift = 0; shift < 12; shift++) {
        nc_error(NC_ERR_FORMAT, "m.json:%d: %.*s%s: No such file", shift, shift, "xxxxxxxxxxxx", big);
        char head[32];
        snprintf(head, sizeof head, "m.json:%d: ", shift);
        check_cut(nc_last_error(), head, ": No such file");
        nc_error(NC_ERR_FORMAT, "%.*s%s: the reason", shift, "yyyyyyyyyyyy", big);
        nc_error_prefix(NC_ERR_FORMAT, "file.json:%d", shift);
        snprintf(head, sizeof head, "file.json:%d: ", shift);
        check_cut(nc_last_error(), head, ": the reason");
    }
    /* A message that fits is untouched, with or without a prefix. */
    nc_error(NC_ERR_CONFIG, "a.b (c.yaml:3): must be >= 1, found 0");
    CHECK(!strcmp(nc_last_error(), "a.b (c.yaml:3): must be >= 1, found 0"));
    nc_error_prefix(NC_ERR_CONFIG, "config");
    CHECK(!strcmp(nc_last_error(), "config: a.b (c.yaml:3): must be >= 1, found 0"));
    return nc_test_finish("test_status");
}
