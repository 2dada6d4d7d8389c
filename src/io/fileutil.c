/* Whole-file reads and atomic (temp + fsync + rename) writes. */
#include "io/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

nc_status nc_read_file(const char *path, void **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return nc_error(errno == ENOENT ? NC_ERR_NOT_FOUND : NC_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return nc_error(NC_ERR_IO, "'%s' is not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    char *b = nc_malloc(n + 1);
    if (!b) {
        fclose(f);
        return nc_error(NC_ERR_OOM, "cannot allocate %zu bytes for '%s'", n + 1, path);
    }
    size_t got = fread(b, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != n) {
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

nc_status nc_atomic_open(const char *path, nc_atomic_file **out) {
    *out = NULL;
    nc_atomic_file *f = nc_calloc(1, sizeof *f);
    size_t n = strlen(path);
    if (!f) return nc_error(NC_ERR_OOM, "atomic write of '%s'", path);
    f->path = nc_strdup(path);
    f->tmp = nc_malloc(n + 32);
    if (!f->path || !f->tmp) {
        nc_free(f->path);
        nc_free(f->tmp);
        nc_free(f);
        return nc_error(NC_ERR_OOM, "atomic write of '%s'", path);
    }
    snprintf(f->tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        nc_status s = nc_error(NC_ERR_IO, "cannot create '%s': %s", f->tmp, strerror(errno));
        nc_free(f->path);
        nc_free(f->tmp);
        nc_free(f);
        return s;
    }
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
