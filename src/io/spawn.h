/* Running a helper program (a TTS engine) as a child process: no shell, no
 * exit() in the library. Not public. */
#ifndef NC_UTIL_SPAWN_H
#define NC_UTIL_SPAWN_H

#include <stddef.h>

#include "nemoc/status.h"

/* What a finished child left behind. Buffers are NUL-terminated and
 * nc_malloc'd (NULL when not requested); output beyond `cap` is read and
 * dropped so that the child never blocks on a full pipe. */
typedef struct nc_spawn_result {
    int exit_code;   /* exit status, or -1 when killed by a signal */
    int term_signal; /* the signal that killed it, else 0 */
    char *out;       /* captured stdout (when asked for) */
    char *err;       /* captured stderr (when asked for) */
} nc_spawn_result;

/* Runs argv[0] (looked up on PATH) with argv, stdin from /dev/null, and waits
 * for it. stdout/stderr are captured into result->out/err when the matching
 * capture flag is set, otherwise sent to /dev/null. Safe to call from several
 * threads at once: every descriptor is close-on-exec, so one child never
 * holds another child's pipe open.
 * Returns NC_ERR_NOT_FOUND when the program is not on PATH, NC_ERR_IO when it
 * cannot be started or waited for. A non-zero exit is NOT an error here: the
 * caller reads result->exit_code and decides. */
nc_status nc_spawn_run(const char *const argv[], int capture_out, int capture_err,
                       size_t cap, nc_spawn_result *result);
void nc_spawn_result_free(nc_spawn_result *r);

/* Runs argv like nc_spawn_run, stdin from /dev/null, with stdout and stderr
 * both written to log_path (created or truncated), or, with log_path NULL,
 * shared with this process (a person watching sees the child's output).
 * Nothing is captured: result->out/err stay NULL. */
nc_status nc_spawn_run_logged(const char *const argv[], const char *log_path, nc_spawn_result *result);

/* Writes argv as one line a person could paste into a shell (arguments with
 * spaces or quotes are single-quoted), for error messages. Truncates to fit. */
void nc_spawn_format_argv(const char *const argv[], char *buf, size_t cap);

/* True when `name` is an executable file on PATH (or a path to one). */
int nc_spawn_on_path(const char *name);

#endif
