/* Whole-file reads and atomic (temp + fsync + rename) writes. */
#include "io/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "nemoc/alloc.h"

nc_status nc_mkdir(const char *path) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return NC_OK;
        return nc_error(NC_ERR_IO, "'%s' exists and is not a folder", path);
    }
    return nc_error(NC_ERR_IO, "cannot create folder '%s': %s", path, strerror(errno));
}

nc_status nc_mkdir_p(const char *path) {
    if (!*path) return nc_error(NC_ERR_INVALID_ARG, "empty folder path");
    char *buf = nc_strdup(path);
    if (!buf) return nc_error(NC_ERR_OOM, "folder path '%s'", path);
    nc_status st = NC_OK;
    /* Each parent in turn: cut the copy at every '/' (not the leading one of
     * an absolute path), create that prefix, and put the '/' back. */
    for (char *p = buf + 1; *p && !st; p++) {
        if (*p != '/') continue;
        *p = 0;
        st = nc_mkdir(buf);
        *p = '/';
    }
    if (!st) st = nc_mkdir(buf);
    nc_free(buf);
    return st;
}

static long fail_after; /* test hook, see nc_io_fail_write_after */
static long chunks_written;

void nc_io_fail_write_after(long n) {
    fail_after = n;
    chunks_written = 0;
}

const char *nc_file_kind(unsigned mode) {
    if (S_ISREG(mode)) return "a regular file";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    return "not a regular file";
}

/* Refuses what nemoc must not read or append to: a FIFO would block (or
 * feed a stream without end), a device such as /dev/zero never ends, a
 * directory has no bytes. Closes fd on refusal. */
static nc_status require_regular(int fd, const char *path, const char *what, int64_t *size) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        nc_status s = nc_error(NC_ERR_IO, "cannot stat %s '%s': %s", what, path, strerror(errno));
        close(fd);
        return s;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return nc_error(NC_ERR_IO, "%s '%s' is %s, not a regular file", what, path, nc_file_kind(st.st_mode));
    }
    if (size) *size = (int64_t)st.st_size;
    return NC_OK;
}

/* The message for an open that failed: a socket (ENXIO) or a FIFO without
 * a reader says what it is rather than "No such device or address". */
static nc_status open_failed(const char *path, const char *what, int err, const char *how) {
    struct stat st;
    if (err != ENOENT && stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return nc_error(NC_ERR_IO, "%s '%s' is %s, not a regular file", what, path, nc_file_kind(st.st_mode));
    return nc_error(err == ENOENT ? NC_ERR_NOT_FOUND : NC_ERR_IO, "cannot open '%s'%s: %s", path, how, strerror(err));
}

/* Clears O_NONBLOCK again once the file is known to be regular, so later
 * reads and writes behave as on any descriptor. */
static nc_status clear_nonblock(int fd, const char *path) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        nc_status s = nc_error(NC_ERR_IO, "cannot set up '%s': %s", path, strerror(errno));
        close(fd);
        return s;
    }
    return NC_OK;
}

nc_status nc_open_read(const char *path, const char *what, int *fd_out, int64_t *size) {
    *fd_out = -1;
    if (!what) what = "file";
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. */
    int fd;
    do fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return open_failed(path, what, errno, "");
    nc_status s = require_regular(fd, path, what, size);
    if (!s) s = clear_nonblock(fd, path);
    if (!s) *fd_out = fd;
    return s;
}

nc_status nc_fopen_read(const char *path, const char *what, FILE **out) {
    *out = NULL;
    int fd;
    nc_status s = nc_open_read(path, what, &fd, NULL);
    if (s) return s;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        s = nc_error(NC_ERR_OOM, "cannot open '%s': %s", path, strerror(errno));
        close(fd);
        return s;
    }
    *out = f;
    return NC_OK;
}

nc_status nc_check_readable(const char *path, const char *what) {
    int fd;
    nc_status s = nc_open_read(path, what, &fd, NULL);
    if (!s) close(fd);
    return s;
}

nc_status nc_open_write(const char *path, const char *what, bool append, int *fd_out) {
    *fd_out = -1;
    if (!what) what = "file";
    /* A dangling link would have O_CREAT make a file wherever it points
     * (the atomic writer refuses it too). */
    struct stat ls, ts;
    if (lstat(path, &ls) == 0 && S_ISLNK(ls.st_mode) && stat(path, &ts) != 0)
        return nc_error(NC_ERR_IO, "cannot write %s '%s': it is a symbolic link to a missing file", what, path);
    /* No O_TRUNC before the check: truncating is only for regular files.
     * O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of blocking. */
    int fd;
    do fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (append ? O_APPEND : 0), 0644);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        nc_status s = open_failed(path, what, errno, " for writing");
        return s == NC_ERR_NOT_FOUND ? NC_ERR_IO : s;
    }
    nc_status s = require_regular(fd, path, what, NULL);
    if (!s) s = clear_nonblock(fd, path);
    if (!s && !append && ftruncate(fd, 0) != 0) {
        s = nc_error(NC_ERR_IO, "cannot truncate '%s': %s", path, strerror(errno));
        close(fd);
    }
    if (!s) *fd_out = fd;
    return s;
}

nc_status nc_fopen_write(const char *path, const char *what, bool append, FILE **out) {
    *out = NULL;
    int fd;
    nc_status s = nc_open_write(path, what, append, &fd);
    if (s) return s;
    FILE *f = fdopen(fd, append ? "ab" : "wb");
    if (!f) {
        s = nc_error(NC_ERR_OOM, "cannot open '%s': %s", path, strerror(errno));
        close(fd);
        return s;
    }
    *out = f;
    return NC_OK;
}

nc_status nc_temp_file(const char *dir, const char *prefix, char **path, int *fd) {
    *path = NULL;
    *fd = -1;
    if (!dir || !*dir) dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    char *p = nc_strdupf("%s/%sXXXXXX", dir, prefix);
    if (!p) return nc_error(NC_ERR_OOM, "temp file name in '%s'", dir);
    int f = mkostemp(p, O_CLOEXEC);
    if (f < 0) {
        nc_status s = nc_error(NC_ERR_IO, "cannot create a temp file '%s': %s", p, strerror(errno));
        nc_free(p);
        return s;
    }
    *path = p;
    *fd = f;
    return NC_OK;
}

nc_status nc_read_file(const char *path, void **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    int fd;
    int64_t size;
    nc_status s = nc_open_read(path, "file", &fd, &size);
    if (s) return s;
    size_t n = (size_t)size;
    char *b = nc_malloc(n + 1);
    if (!b) {
        close(fd);
        return nc_error(NC_ERR_OOM, "cannot allocate %zu bytes for '%s'", n + 1, path);
    }
    /* The size fstat gave: a file that grows meanwhile is read to that size. */
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    if (got != n) {
        nc_free(b);
        return nc_error(NC_ERR_IO, "error reading '%s' (%zu of %zu bytes)", path, got, n);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return NC_OK;
}

struct nc_atomic_file {
    int fd;
    char *path;
    char *tmp;
};

/* The file an atomic write replaces. Only a regular file (or nothing) may be
 * replaced: renaming a temp file over /dev/null or a FIFO would turn the
 * device into a plain file, and over a folder it fails anyway. A symbolic
 * link to a regular file is written through (its target is replaced, the
 * link stays); a dangling link or one to anything else is refused, since
 * writing through it would create a file wherever it points. *real is
 * nc_malloc'd. */
static nc_status atomic_target(const char *path, char **real) {
    *real = NULL;
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT) return nc_error(NC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        *real = nc_strdup(path);
    } else if (S_ISREG(st.st_mode)) {
        *real = nc_strdup(path);
    } else if (S_ISLNK(st.st_mode)) {
        struct stat to;
        if (stat(path, &to) != 0)
            return nc_error(NC_ERR_IO, "cannot write '%s': it is a symbolic link to a missing file (%s)", path,
                            strerror(errno));
        if (!S_ISREG(to.st_mode))
            return nc_error(NC_ERR_IO, "cannot write '%s': it is a symbolic link to %s; nemoc writes only regular "
                            "files", path, nc_file_kind(to.st_mode));
        *real = realpath(path, NULL);
        if (!*real) return nc_error(NC_ERR_IO, "cannot resolve '%s': %s", path, strerror(errno));
        char *own = nc_strdup(*real);
        free(*real);
        *real = own;
    } else {
        return nc_error(NC_ERR_IO, "cannot write '%s': it is %s; nemoc writes only regular files (or new ones)", path,
                        nc_file_kind(st.st_mode));
    }
    if (!*real) return nc_error(NC_ERR_OOM, "atomic write of '%s'", path);
    return NC_OK;
}

/* Temp files being written, for nc_atomic_remove_temps: a slot holds the
 * name until commit or abort clears it (before the name is freed). More
 * writers at once than slots go unlisted: they are only not removed by a
 * signal. */
#define LIVE_SLOTS 64
static _Atomic(char *) live_tmp[LIVE_SLOTS];

static void live_add(char *tmp) {
    for (int i = 0; i < LIVE_SLOTS; i++) {
        char *none = NULL;
        if (atomic_compare_exchange_strong(&live_tmp[i], &none, tmp)) return;
    }
}

static void live_remove(const char *tmp) {
    for (int i = 0; i < LIVE_SLOTS; i++) {
        char *cur = (char *)tmp;
        if (atomic_compare_exchange_strong(&live_tmp[i], &cur, NULL)) return;
    }
}

void nc_atomic_remove_temps(void) {
    for (int i = 0; i < LIVE_SLOTS; i++) {
        char *t = atomic_load(&live_tmp[i]);
        if (t) unlink(t);
    }
}

/* 64 unpredictable bits for a temp name; the clock and a counter when the
 * kernel has no entropy to give (O_EXCL still keeps the name safe). */
static uint64_t temp_bits(void) {
    static _Atomic uint64_t counter;
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r) return r;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)ts.tv_sec << 20) ^ ++counter;
}

nc_status nc_atomic_open(const char *path, nc_atomic_file **out) {
    *out = NULL;
    char *real;
    nc_status s = atomic_target(path, &real);
    if (s) return s;
    nc_atomic_file *f = nc_calloc(1, sizeof *f);
    size_t n = strlen(real);
    if (f) f->path = real;
    else nc_free(real);
    if (f) f->tmp = nc_malloc(n + 64);
    if (!f || !f->tmp) {
        if (f) nc_free(f->path);
        nc_free(f);
        return nc_error(NC_ERR_OOM, "atomic write of '%s'", path);
    }
    /* "<target>.tmp.<pid>.<random>" beside the target (a rename never
     * crosses file systems), created with O_EXCL | O_NOFOLLOW: a file or
     * link planted under that name is never opened or followed. The pid lets
     * the experiment manager recognise a killed writer's leftovers. */
    f->fd = -1;
    for (int tries = 0; f->fd < 0 && tries < 100; tries++) {
        snprintf(f->tmp, n + 64, "%s.tmp.%ld.%016llx", real, (long)getpid(), (unsigned long long)temp_bits());
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f->fd < 0 && errno != EEXIST && errno != EINTR) break;
    }
    if (f->fd < 0) {
        s = nc_error(NC_ERR_IO, "cannot write '%s': cannot create its temp file '%s': %s", path, f->tmp,
                     strerror(errno));
        nc_free(f->path);
        nc_free(f->tmp);
        nc_free(f);
        return s;
    }
    live_add(f->tmp);
    *out = f;
    return NC_OK;
}

nc_status nc_atomic_write(nc_atomic_file *f, const void *buf, size_t len) {
    const char *p = buf;
    while (len) {
        if (fail_after > 0 && ++chunks_written >= fail_after)
            return nc_error(NC_ERR_IO, "cannot write '%s': %s", f->tmp, strerror(ENOSPC));
        size_t chunk = len > (1u << 24) ? (1u << 24) : len;
        ssize_t w = write(f->fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return nc_error(NC_ERR_IO, "cannot write '%s': %s", f->tmp, strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return NC_OK;
}

static void free_file(nc_atomic_file *f) {
    live_remove(f->tmp);
    nc_free(f->path);
    nc_free(f->tmp);
    nc_free(f);
}

void nc_atomic_abort(nc_atomic_file *f) {
    if (!f) return;
    close(f->fd);
    unlink(f->tmp);
    free_file(f);
}

nc_status nc_atomic_commit(nc_atomic_file *f) {
    if (fsync(f->fd) != 0) {
        nc_status s = nc_error(NC_ERR_IO, "cannot sync '%s': %s", f->tmp, strerror(errno));
        nc_atomic_abort(f);
        return s;
    }
    if (close(f->fd) != 0) {
        f->fd = -1;
        nc_status s = nc_error(NC_ERR_IO, "cannot close '%s': %s", f->tmp, strerror(errno));
        unlink(f->tmp);
        free_file(f);
        return s;
    }
    if (rename(f->tmp, f->path) != 0) {
        nc_status s = nc_error(NC_ERR_IO, "cannot rename '%s' to '%s': %s", f->tmp, f->path,
                               strerror(errno));
        unlink(f->tmp);
        free_file(f);
        return s;
    }
    /* Make the rename itself durable. */
    char *dcopy = nc_strdup(f->path);
    if (dcopy) {
        int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        nc_free(dcopy);
    }
    free_file(f);
    return NC_OK;
}

nc_status nc_write_file_atomic(const char *path, const void *buf, size_t len) {
    nc_atomic_file *f;
    nc_status s = nc_atomic_open(path, &f);
    if (s) return s;
    s = nc_atomic_write(f, buf, len);
    if (s) {
        nc_atomic_abort(f);
        return s;
    }
    return nc_atomic_commit(f);
}

nc_status nc_mem_sink_write(void *mem_sink, const void *buf, size_t len) {
    nc_mem_sink *m = mem_sink;
    if (len > m->cap - m->n) return nc_error(m->overflow, "%s", m->overflow_msg);
    memcpy(m->b + m->n, buf, len);
    m->n += len;
    return NC_OK;
}
