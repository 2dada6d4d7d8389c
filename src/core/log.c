/* Logging through a settable sink. */
#include "nemoc/log.h"

#include <stdarg.h>
#include <stdio.h>

static nc_log_fn log_fn;
static void *log_ud;
static nc_log_level log_level = NC_LOG_INFO;

void nc_log_set_callback(nc_log_fn fn, void *user_data) {
    log_fn = fn;
    log_ud = user_data;
}

void nc_log_set_level(nc_log_level level) { log_level = level; }
nc_log_level nc_log_get_level(void) { return log_level; }

void nc_log_msg(nc_log_level level, const char *fmt, ...) {
    if (level < log_level || level >= NC_LOG_OFF) return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_fn) {
        log_fn(level, msg, log_ud);
        return;
    }
    static const char *tags[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "[nemoc %s] %s\n", tags[level], msg);
}
