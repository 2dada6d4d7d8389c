/* Status codes and the thread-local error message. */
#include "nemoc/status.h"

#include "core/alloc_note.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NC_ERRBUF 2048
static _Thread_local char errbuf[NC_ERRBUF];
static _Thread_local size_t failed_alloc; /* bytes of the last refused nc_malloc, 0: none */

void nc_note_failed_alloc(size_t bytes) { failed_alloc = bytes ? bytes : 1; }

const char *nc_status_str(nc_status s) {
    switch (s) {
    case NC_OK: return "ok";
    case NC_ERR_INVALID_ARG: return "invalid argument";
    case NC_ERR_OOM: return "out of memory";
    case NC_ERR_IO: return "I/O error";
    case NC_ERR_FORMAT: return "malformed input";
    case NC_ERR_SHAPE: return "shape mismatch";
    case NC_ERR_DTYPE: return "unsupported dtype";
    case NC_ERR_CONFIG: return "configuration error";
    case NC_ERR_NUMERIC: return "non-finite value";
    case NC_ERR_UNSUPPORTED: return "unsupported";
    case NC_ERR_NOT_FOUND: return "not found";
    case NC_ERR_INTERRUPTED: return "interrupted";
    case NC_ERR_INTERNAL: return "internal error";
    case NC_ERR_COMM: return "communication error";
    }
    return "unknown status";
}

static bool continuation(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

/* Copies the message m (n bytes) into errbuf. One that does not fit keeps its
 * head (what failed: file:line, key) and its tail (the reason) around " ... ",
 * each cut at a space when one is near, never inside a UTF-8 character. */
static void store(const char *m, size_t n) {
    if (n < NC_ERRBUF) {
        memcpy(errbuf, m, n);
        errbuf[n] = 0;
        return;
    }
    const size_t mark = 5, room = NC_ERRBUF - 1 - mark, head = room * 2 / 3, tail = room - head;
    size_t h = head; /* keeps m[0, h) */
    while (h > 0 && continuation(m[h])) h--;
    for (size_t w = h; w > 0 && h - w < 40; w--)
        if (m[w - 1] == ' ') {
            h = w - 1;
            break;
        }
    size_t t = n - tail; /* keeps m[t, n) */
    while (t < n && continuation(m[t])) t++;
    for (size_t w = t; w < n && w - t < 40; w++)
        if (m[w] == ' ') {
            t = w + 1;
            break;
        }
    memcpy(errbuf, m, h);
    memcpy(errbuf + h, " ... ", mark);
    memcpy(errbuf + h + mark, m + t, n - t);
    errbuf[h + mark + n - t] = 0;
}

nc_status nc_verror(nc_status code, const char *fmt, va_list ap) {
    /* Format into a copy: callers pass the current message as an argument
     * (nc_error(code, "%s", nc_last_error())), and vsnprintf into the buffer
     * it reads from is undefined (glibc empties it). */
    char tmp[NC_ERRBUF];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    char *full = NULL;
    if (n >= 0 && (size_t)n >= sizeof tmp && (full = malloc((size_t)n + 1))) vsnprintf(full, (size_t)n + 1, fmt, again);
    va_end(again);
    if (n < 0) n = 0;
    if (code == NC_ERR_OOM && failed_alloc) {
        /* Name the size unless the message already does (arena, readers). */
        if ((size_t)n < sizeof tmp && !strstr(tmp, " bytes"))
            n += snprintf(tmp + n, sizeof tmp - (size_t)n, " (an allocation of %zu bytes failed)", failed_alloc);
        failed_alloc = 0;
    }
    /* Without the whole text (no memory for it) the cut is at the end. */
    store(full ? full : tmp, full ? (size_t)n : strnlen(tmp, sizeof tmp - 1));
    free(full);
    return code;
}

nc_status nc_error(nc_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    nc_verror(code, fmt, ap);
    va_end(ap);
    return code;
}

nc_status nc_error_prefix(nc_status code, const char *fmt, ...) {
    char prefix[NC_ERRBUF], all[2 * NC_ERRBUF + 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    const char *rest = errbuf[0] ? errbuf : nc_status_str(code);
    /* "prefix: rest"; both parts are shorter than NC_ERRBUF, so all fits. */
    int n = snprintf(all, sizeof all, "%s: %s", prefix, rest);
    store(all, n < 0 ? 0 : (size_t)n < sizeof all ? (size_t)n : sizeof all - 1);
    return code;
}

const char *nc_last_error(void) { return errbuf; }
void nc_clear_error(void) { errbuf[0] = 0; }
