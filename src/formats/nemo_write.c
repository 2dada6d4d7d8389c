/* Writing .nemo archives the way SaveRestoreConnector._make_nemo_file_from_folder
 * does (tarfile.open(path, "w:").add(folder, arcname=".")): an uncompressed
 * POSIX tar whose members live under "./". libarchive writes the tar
 * (pax extensions only where ustar cannot hold a name or size) into an
 * atomic temp file; the weights zip is streamed into its member. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "io/fileutil.h"
#include "formats/torch_internal.h"
#include "nemoc/alloc.h"
#include "nemoc/nemo_archive.h"

nc_status nc_nemo_artifact_name(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t blen = strlen(base);
    if (!blen) return nc_error(NC_ERR_INVALID_ARG, "artifact name: '%s' has no file name", path);
    if (cap < 33 + blen + 1)
        return nc_error(NC_ERR_INVALID_ARG, "artifact name: %zu bytes cannot hold '<uuid>_%s'", cap, base);
    unsigned char u[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, u, sizeof u) : -1;
    if (fd >= 0) close(fd);
    if (got != (ssize_t)sizeof u) return nc_error(NC_ERR_IO, "artifact name: cannot read /dev/urandom");
    /* uuid.uuid4(): version 4 in the high nibble of byte 6, RFC 4122 variant in byte 8. */
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[u[i] >> 4];
        out[2 * i + 1] = hex[u[i] & 15];
    }
    out[32] = '_';
    memcpy(out + 33, base, blen + 1);
    return NC_OK;
}

typedef struct wctx {
    nc_atomic_file *f;
    nc_status st; /* first failure inside a libarchive callback */
    struct archive *a;
    const char *path;
} wctx;

static la_ssize_t on_write(struct archive *a, void *ud, const void *buf, size_t len) {
    (void)a;
    wctx *w = ud;
    if (w->st) return -1;
    w->st = nc_atomic_write(w->f, buf, len);
    return w->st ? -1 : (la_ssize_t)len;
}

static nc_status archive_fail(wctx *w, const char *what) {
    if (w->st) return w->st; /* the disk error, with its own message */
    const char *msg = archive_error_string(w->a);
    return w->st = nc_error(NC_ERR_IO, "%s: %s", what, msg ? msg : "libarchive error");
}

static nc_status header(wctx *w, const char *name, int64_t size, bool dir, time_t now) {
    struct archive_entry *e = archive_entry_new();
    if (!e) return w->st = nc_error(NC_ERR_OOM, "tar entry");
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, dir ? 0755 : 0644);
    archive_entry_set_size(e, dir ? 0 : size);
    archive_entry_set_mtime(e, now, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int r = archive_write_header(w->a, e);
    archive_entry_free(e);
    return r < ARCHIVE_WARN ? archive_fail(w, name) : NC_OK;
}

static nc_status tar_sink(void *ud, const void *buf, size_t len) {
    wctx *w = ud;
    const char *p = buf;
    while (len) {
        la_ssize_t k = archive_write_data(w->a, p, len);
        if (k <= 0) return archive_fail(w, "writing a tar member");
        p += k;
        len -= (size_t)k;
    }
    return NC_OK;
}

static nc_status copy_file(wctx *w, const nc_nemo_artifact *art, time_t now) {
    int fd;
    int64_t size;
    nc_status ost = nc_open_read(art->path, "artifact file", &fd, &size);
    if (ost) return w->st = nc_error_prefix(ost, "artifact '%s'", art->name);
    char *name = nc_strdupf("./%s", art->name);
    nc_status st = name ? header(w, name, size, false, now) : NC_ERR_OOM;
    nc_free(name);
    enum { CH = 1 << 20 };
    char *buf = st ? NULL : nc_malloc(CH);
    if (!st && !buf) st = nc_error(NC_ERR_OOM, "copy buffer");
    int64_t done = 0;
    while (!st && done < size) {
        ssize_t k = read(fd, buf, CH);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            st = nc_error(NC_ERR_IO, "artifact '%s': '%s' shrank while copying", art->name, art->path);
            break;
        }
        if (k > size - done) k = (ssize_t)(size - done); /* grew: keep the stat size */
        st = tar_sink(w, buf, (size_t)k);
        done += k;
    }
    nc_free(buf);
    close(fd);
    return st;
}

static nc_status check_contents(const nc_nemo_contents *c) {
    if (!c || !c->config_yaml) return nc_error(NC_ERR_INVALID_ARG, ".nemo: no model_config.yaml text");
    for (int64_t i = 0; i < c->n_artifacts; i++) {
        const nc_nemo_artifact *a = &c->artifacts[i];
        if (!a->name || !*a->name || strchr(a->name, '/') || !strcmp(a->name, ".") || !strcmp(a->name, "..") ||
            strlen(a->name) > 1000)
            return nc_error(NC_ERR_INVALID_ARG, ".nemo: artifact %lld needs a plain file name", (long long)i);
        if (!strcmp(a->name, "model_config.yaml") || !strcmp(a->name, "model_weights.ckpt"))
            return nc_error(NC_ERR_INVALID_ARG, ".nemo: artifact name '%s' is reserved", a->name);
        if (!a->path && !a->data && a->len)
            return nc_error(NC_ERR_INVALID_ARG, ".nemo: artifact '%s' has neither a path nor data", a->name);
        for (int64_t j = 0; j < i; j++)
            if (!strcmp(c->artifacts[j].name, a->name))
                return nc_error(NC_ERR_INVALID_ARG, ".nemo: artifact '%s' appears twice", a->name);
    }
    return NC_OK;
}

static nc_status write_members(wctx *w, const nc_nemo_contents *c) {
    time_t now = time(NULL);
    nc_torch_write_params wp = {.archive_name = "model_weights"}; /* what torch.save names it from the file */
    nc_torch_plan *plan = NULL;
    nc_status st = nc_torch_plan_new(c->tensors, c->n_tensors, &wp, &plan);
    if (st) return st;
    size_t clen = c->config_len ? c->config_len : strlen(c->config_yaml);
    /* Config first, weights last: a streaming reader meets the small members early. */
    st = header(w, "./", 0, true, now);
    if (!st) st = header(w, "./model_config.yaml", (int64_t)clen, false, now);
    if (!st) st = tar_sink(w, c->config_yaml, clen);
    for (int64_t i = 0; i < c->n_artifacts && !st; i++) {
        const nc_nemo_artifact *a = &c->artifacts[i];
        if (a->path) {
            st = copy_file(w, a, now);
        } else {
            char *name = nc_strdupf("./%s", a->name);
            st = name ? header(w, name, (int64_t)a->len, false, now) : NC_ERR_OOM;
            nc_free(name);
            if (!st && a->len) st = tar_sink(w, a->data, a->len);
        }
    }
    if (!st) st = header(w, "./model_weights.ckpt", (int64_t)nc_torch_plan_size(plan), false, now);
    if (!st) st = nc_torch_plan_emit(plan, tar_sink, w);
    nc_torch_plan_free(plan);
    return st;
}

nc_status nc_nemo_save(const char *path, const nc_nemo_contents *c) {
    nc_status st = check_contents(c);
    if (st) return st;
    wctx w = {.path = path};
    st = nc_atomic_open(path, &w.f);
    if (st) return st;
    w.a = archive_write_new();
    if (!w.a) {
        nc_atomic_abort(w.f);
        return nc_error(NC_ERR_OOM, "writing '%s': libarchive", path);
    }
    if (archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK || archive_write_add_filter_none(w.a) != ARCHIVE_OK ||
        archive_write_open2(w.a, &w, NULL, on_write, NULL, NULL) != ARCHIVE_OK)
        st = archive_fail(&w, "starting the tar");
    if (!st) st = write_members(&w, c);
    /* Close writes the end-of-archive blocks and pads the last record. */
    if (!st && archive_write_close(w.a) != ARCHIVE_OK) st = archive_fail(&w, "finishing the tar");
    archive_write_free(w.a);
    if (st) {
        nc_atomic_abort(w.f);
        return nc_error_prefix(st, "writing '%s'", path);
    }
    st = nc_atomic_commit(w.f);
    return st;
}
