/* Status codes and error messages.
 *
 * Every public function that can fail returns nc_status. On failure it also
 * leaves a human-readable message with context (file, line, config key,
 * tensor name) in a thread-local buffer read by nc_last_error(). Callers add
 * their own context with nc_error_prefix() while the error travels up. */
#ifndef NEMOC_STATUS_H
#define NEMOC_STATUS_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nc_status {
    NC_OK = 0,
    NC_ERR_INVALID_ARG,  /* caller passed something unusable */
    NC_ERR_OOM,          /* an allocation failed */
    NC_ERR_IO,           /* open/read/write/rename failed */
    NC_ERR_FORMAT,       /* a file or string is malformed */
    NC_ERR_SHAPE,        /* tensor shapes do not fit */
    NC_ERR_DTYPE,        /* unsupported dtype for an op */
    NC_ERR_CONFIG,       /* bad configuration key or value */
    NC_ERR_NUMERIC,      /* NaN/Inf where a finite value is required */
    NC_ERR_UNSUPPORTED,  /* valid input that nemoc does not handle */
    NC_ERR_NOT_FOUND,    /* a named thing (file, key, tensor) is absent */
    NC_ERR_INTERRUPTED,  /* stopped by a signal */
    NC_ERR_INTERNAL,     /* a broken invariant inside nemoc */
    NC_ERR_COMM,         /* a distributed collective failed */
} nc_status;

/* Short constant name of a code, e.g. "invalid argument". */
const char *nc_status_str(nc_status s);

/* Records a formatted message for the calling thread and returns `code`, so
 * that `return nc_error(NC_ERR_IO, "cannot open '%s'", path);` is one line. */
nc_status nc_error(nc_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
nc_status nc_verror(nc_status code, const char *fmt, va_list ap);

/* Prepends context to the current message: "loading x.nemo: <old message>". */
nc_status nc_error_prefix(nc_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" when none). */
const char *nc_last_error(void);
void nc_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
