/* Status codes and the thread-local error message. */
#include "nemoc/status.h"

#include "core/alloc_note.h"

#include <stdio.h>
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

/* A message that filled buf (cap bytes, NUL-terminated) was cut by the
 * formatter at a byte count: end it at a word boundary, never inside a UTF-8
 * character, with "..." so that the cut is visible. */
static void mark_cut(char *buf, size_t cap) {
    size_t end = cap - 4; /* room for "..." and the NUL */
    while (end > 0 && ((unsigned char)buf[end] & 0xC0) == 0x80) end--; /* start of a character */
    size_t word = end;
    while (word > 0 && word + 80 > end && buf[word - 1] != ' ') word--;
    if (word > 0 && buf[word - 1] == ' ') end = word - 1; /* cut at the space before the word */
    memcpy(buf + end, "...", 4);
}

nc_status nc_verror(nc_status code, const char *fmt, va_list ap) {
    /* Format into a copy: callers pass the current message as an argument
     * (nc_error(code, "%s", nc_last_error())), and vsnprintf into the buffer
     * it reads from is undefined (glibc empties it). */
    char tmp[NC_ERRBUF];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (code == NC_ERR_OOM && failed_alloc) {
        /* Name the size unless the message already does (arena, readers). */
        if (n >= 0 && (size_t)n < sizeof tmp && !strstr(tmp, " bytes"))
            snprintf(tmp + n, sizeof tmp - (size_t)n, " (an allocation of %zu bytes failed)", failed_alloc);
        failed_alloc = 0;
    }
    if (n >= 0 && (size_t)n >= sizeof tmp) mark_cut(tmp, sizeof tmp);
    memcpy(errbuf, tmp, sizeof errbuf);
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
    char prefix[NC_ERRBUF], old[NC_ERRBUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errbuf, sizeof old);
    const char *rest = old[0] ? old : nc_status_str(code);
    /* Build "prefix: rest" by hand; truncation of a long message is fine. */
    size_t lp = strnlen(prefix, sizeof errbuf - 3);
    memcpy(errbuf, prefix, lp);
    errbuf[lp] = ':';
    errbuf[lp + 1] = ' ';
    size_t room = sizeof errbuf - lp - 3;
    size_t lr = strnlen(rest, room);
    memcpy(errbuf + lp + 2, rest, lr);
    errbuf[lp + 2 + lr] = 0;
    if (lr == room && rest[lr]) mark_cut(errbuf, sizeof errbuf);
    return code;
}

const char *nc_last_error(void) { return errbuf; }
void nc_clear_error(void) { errbuf[0] = 0; }
