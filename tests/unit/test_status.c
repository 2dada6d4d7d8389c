/* The thread-local error message: a message longer than its buffer ends at a
 * word boundary with "...", never inside a UTF-8 character, both when it is
 * formatted and when a prefix is added. */
#include <string.h>

#include "nc_test.h"
#include "nemoc/status.h"

static bool valid_utf8_tail(const char *s) {
    size_t n = strlen(s);
    /* The last lead byte before the ending has all its continuation bytes. */
    size_t i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--;
    if (i == 0) return true;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead < 0x80 ? 0 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
    return n - i == want;
}

static void check_cut(const char *msg) {
    size_t n = strlen(msg);
    nc_test_checks++;
    if (n < 3 || strcmp(msg + n - 3, "...") || msg[n - 4] == ' ')
        nc_test_fail(__FILE__, __LINE__, "no clean '...' ending: '%s'", msg + (n > 40 ? n - 40 : 0));
    char body[4096];
    memcpy(body, msg, n - 3);
    body[n - 3] = 0;
    CHECK(valid_utf8_tail(body));
    const char *last = strrchr(body, ' '); /* the last word is whole */
    CHECK(last && (!strcmp(last + 1, "word") || !strcmp(last + 1, "\xce\xb1\xce\xb2")));
}

int main(void) {
    /* 3000 bytes of "word " in Greek and ASCII: the cut falls mid-word and
     * mid-character somewhere. */
    char big[3001];
    size_t k = 0;
    while (k + 11 < sizeof big) {
        memcpy(big + k, "word \xce\xb1\xce\xb2 ", 10);
        k += 10;
    }
    big[k] = 0;
    for (int shift = 0; shift < 12; shift++) {
        nc_error(NC_ERR_FORMAT, "%.*s%s", shift, "xxxxxxxxxxxx", big);
        check_cut(nc_last_error());
        nc_error(NC_ERR_FORMAT, "%s", big + shift);
        nc_error_prefix(NC_ERR_FORMAT, "file.json:%d", shift);
        check_cut(nc_last_error());
        CHECK(!strncmp(nc_last_error(), "file.json:", 10));
    }
    /* A message that fits is untouched. */
    nc_error(NC_ERR_CONFIG, "a.b (c.yaml:3): must be >= 1, found 0");
    CHECK(!strcmp(nc_last_error(), "a.b (c.yaml:3): must be >= 1, found 0"));
    return nc_test_finish("test_status");
}
