/* Child processes via posix_spawnp: no shell, no fork of a threaded parent's
 * heap, and exec failures come back as an error number instead of a child
 * that has to exit() on our behalf. */
#include "io/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nemoc/alloc.h"

/* A growing capture buffer that keeps at most `cap` bytes. */
typedef struct capture {
    int fd; /* read end, -1 when closed or not used */
    char *buf;
    size_t len, cap;
} capture;

static nc_status capture_init(capture *c, size_t cap) {
    c->fd = -1;
    c->len = 0;
    c->cap = cap;
    c->buf = nc_malloc(cap + 1);
    if (!c->buf) return nc_error(NC_ERR_OOM, "spawn: cannot allocate a %zu-byte capture buffer", cap);
    c->buf[0] = 0;
    return NC_OK;
}

/* Reads what is available; closes the fd at EOF. */
static void capture_read(capture *c) {
    char tmp[4096];
    ssize_t n = read(c->fd, tmp, sizeof tmp);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        close(c->fd);
        c->fd = -1;
        return;
    }
    size_t keep = (size_t)n;
    if (keep > c->cap - c->len) keep = c->cap - c->len;
    memcpy(c->buf + c->len, tmp, keep);
    c->len += keep;
    c->buf[c->len] = 0;
}

int nc_spawn_on_path(const char *name) {
    if (!name || !*name) return 0;
    if (strchr(name, '/')) return access(name, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    char full[4096];
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        int w = snprintf(full, sizeof full, "%.*s/%s", (int)n, n ? p : ".", name);
        struct stat st;
        if (w > 0 && (size_t)w < sizeof full && stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
            access(full, X_OK) == 0)
            return 1;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

void nc_spawn_format_argv(const char *const argv[], char *buf, size_t cap) {
    if (!cap) return;
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; argv[i]; i++) {
        const char *a = argv[i];
        int plain = *a != 0;
        for (const char *q = a; *q; q++)
            if (!(('a' <= *q && *q <= 'z') || ('A' <= *q && *q <= 'Z') || ('0' <= *q && *q <= '9') ||
                  strchr("-_+=./:,", *q)))
                plain = 0;
        /* Single quotes protect everything but a single quote, written '\''. */
        char piece[1024];
        size_t pl = 0;
        if (plain) {
            pl = (size_t)snprintf(piece, sizeof piece, "%s", a);
        } else {
            piece[pl++] = '\'';
            for (const char *q = a; *q && pl + 6 < sizeof piece; q++) {
                if (*q == '\'') {
                    memcpy(piece + pl, "'\\''", 4);
                    pl += 4;
                } else {
                    piece[pl++] = *q;
                }
            }
            piece[pl++] = '\'';
            piece[pl] = 0;
        }
        if (pl >= sizeof piece) pl = sizeof piece - 1;
        int w = snprintf(buf + len, cap - len, "%s%s", i ? " " : "", piece);
        if (w < 0 || (size_t)w >= cap - len) return; /* truncated; still NUL-terminated */
        len += (size_t)w;
    }
}

void nc_spawn_result_free(nc_spawn_result *r) {
    if (!r) return;
    nc_free(r->out);
    nc_free(r->err);
    r->out = r->err = NULL;
}

/* Waits for pid and fills result's exit_code / term_signal. */
static nc_status wait_child(const char *const argv[], pid_t pid, nc_spawn_result *result) {
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, 0);
        if (w == pid) break;
        if (w < 0 && errno == EINTR) continue;
        return nc_error(NC_ERR_IO, "spawn '%s': waitpid: %s", argv[0], strerror(errno));
    }
    if (WIFEXITED(status)) {
        result->exit_code = WEXITSTATUS(status);
        /* POSIX lets posix_spawn report a failed exec as exit status 127 of
         * the child instead of an error (glibc does so when it cannot use
         * vfork semantics, e.g. under valgrind): the same error as ENOENT. */
        if (result->exit_code == 127 && !nc_spawn_on_path(argv[0])) {
            result->exit_code = -1;
            return nc_error(NC_ERR_NOT_FOUND, "cannot run '%s': %s (not on PATH)", argv[0], strerror(ENOENT));
        }
    } else if (WIFSIGNALED(status)) {
        result->exit_code = -1;
        result->term_signal = WTERMSIG(status);
    }
    return NC_OK;
}

/* posix_spawnp with its error mapped to a status. */
static nc_status start(const char *const argv[], const posix_spawn_file_actions_t *fa, pid_t *pid) {
    int rc = posix_spawnp(pid, argv[0], fa, NULL, (char *const *)argv, environ);
    if (!rc) return NC_OK;
    *pid = -1;
    return nc_error(rc == ENOENT ? NC_ERR_NOT_FOUND : NC_ERR_IO, "cannot run '%s': %s%s", argv[0], strerror(rc),
                    rc == ENOENT ? " (not on PATH)" : "");
}

nc_status nc_spawn_run(const char *const argv[], int capture_out, int capture_err, size_t cap,
                       nc_spawn_result *result) {
    *result = (nc_spawn_result){.exit_code = -1};
    if (!argv || !argv[0]) return nc_error(NC_ERR_INVALID_ARG, "spawn: empty argv");
    if (cap == 0) cap = 1;

    capture cap_out = {.fd = -1}, cap_err = {.fd = -1};
    int pipes[2][2] = {{-1, -1}, {-1, -1}};
    posix_spawn_file_actions_t fa;
    int fa_ok = 0;
    nc_status st = NC_OK;
    pid_t pid = -1;

    if ((capture_out && (st = capture_init(&cap_out, cap))) ||
        (capture_err && (st = capture_init(&cap_err, cap))))
        goto done;
    /* O_CLOEXEC: a child spawned concurrently by another thread must not
     * inherit our write ends, or our reads would not see EOF until it exits. */
    if ((capture_out && pipe2(pipes[0], O_CLOEXEC) != 0) ||
        (capture_err && pipe2(pipes[1], O_CLOEXEC) != 0)) {
        st = nc_error(NC_ERR_IO, "spawn '%s': pipe: %s", argv[0], strerror(errno));
        goto done;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        st = nc_error(NC_ERR_OOM, "spawn '%s': file actions", argv[0]);
        goto done;
    }
    fa_ok = 1;
    int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    /* dup2 onto 1/2 clears close-on-exec on the new descriptor. */
    if (!rc)
        rc = capture_out ? posix_spawn_file_actions_adddup2(&fa, pipes[0][1], 1)
                         : posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (!rc)
        rc = capture_err ? posix_spawn_file_actions_adddup2(&fa, pipes[1][1], 2)
                         : posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (rc) {
        st = nc_error(NC_ERR_IO, "spawn '%s': file actions: %s", argv[0], strerror(rc));
        goto done;
    }
    if ((st = start(argv, &fa, &pid))) goto done;
    for (int i = 0; i < 2; i++)
        if (pipes[i][1] >= 0) {
            close(pipes[i][1]);
            pipes[i][1] = -1;
        }
    cap_out.fd = pipes[0][0];
    cap_err.fd = pipes[1][0];
    pipes[0][0] = pipes[1][0] = -1;

    /* Drain both pipes until EOF so a chatty child never blocks. */
    while (cap_out.fd >= 0 || cap_err.fd >= 0) {
        struct pollfd pf[2];
        capture *who[2];
        int n = 0;
        if (cap_out.fd >= 0) {
            pf[n] = (struct pollfd){.fd = cap_out.fd, .events = POLLIN};
            who[n++] = &cap_out;
        }
        if (cap_err.fd >= 0) {
            pf[n] = (struct pollfd){.fd = cap_err.fd, .events = POLLIN};
            who[n++] = &cap_err;
        }
        int r = poll(pf, (nfds_t)n, -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            st = nc_error(NC_ERR_IO, "spawn '%s': poll: %s", argv[0], strerror(errno));
            /* Closing our ends makes a writing child fail (EPIPE) instead of
             * blocking forever, so the waitpid below returns. */
            for (int i = 0; i < n; i++) {
                close(who[i]->fd);
                who[i]->fd = -1;
            }
            break;
        }
        for (int i = 0; i < n; i++)
            if (pf[i].revents) capture_read(who[i]);
    }

    /* Reap the child even after a poll failure: no zombie left behind. */
    nc_status ws = wait_child(argv, pid, result);
    if (!st) st = ws;

done:
    if (fa_ok) posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (pipes[i][j] >= 0) close(pipes[i][j]);
    if (cap_out.fd >= 0) close(cap_out.fd);
    if (cap_err.fd >= 0) close(cap_err.fd);
    if (st) {
        nc_free(cap_out.buf);
        nc_free(cap_err.buf);
        return st;
    }
    result->out = cap_out.buf;
    result->err = cap_err.buf;
    return NC_OK;
}

nc_status nc_spawn_run_logged(const char *const argv[], const char *log_path, nc_spawn_result *result) {
    *result = (nc_spawn_result){.exit_code = -1};
    if (!argv || !argv[0]) return nc_error(NC_ERR_INVALID_ARG, "spawn: empty argv");
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) return nc_error(NC_ERR_OOM, "spawn '%s': file actions", argv[0]);
    int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc && log_path) rc = posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!rc && log_path) rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    nc_status st = NC_OK;
    pid_t pid = -1;
    if (rc) st = nc_error(NC_ERR_IO, "spawn '%s': file actions: %s", argv[0], strerror(rc));
    /* Our buffered output must not appear after the child's. */
    if (!st) fflush(NULL);
    if (!st) st = start(argv, &fa, &pid);
    if (!st) st = wait_child(argv, pid, result);
    posix_spawn_file_actions_destroy(&fa);
    return st;
}
