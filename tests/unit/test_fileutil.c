/* Hostile files at the library's file helpers (src/io/fileutil.c): a FIFO,
 * /dev/zero and a folder given to read are refused at once (never a hang);
 * atomic writes replace only regular files (/dev/null stays a device, a
 * FIFO stays a FIFO), write through a link to a regular file, refuse a
 * dangling link, and never open a planted link under a temp name; temp
 * files get unpredictable names. The alarm turns a hang into a failure. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "io/fileutil.h"
#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/jsonl.h"

static char dir[4096];

static const char *at(const char *name) {
    static char buf[2][4200];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Files in dir whose name starts with prefix. */
static int count_prefix(const char *prefix) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) n += !strncmp(de->d_name, prefix, strlen(prefix));
    if (d) closedir(d);
    return n;
}

static void test_reads(void) {
    const char *fifo = at("fifo");
    CHECK(mkfifo(fifo, 0600) == 0);
    void *buf = NULL;
    size_t len = 0;
    int fd = -1;
    CHECK_ERR(nc_read_file(fifo, &buf, &len), NC_ERR_IO, "is a FIFO (named pipe), not a regular file");
    CHECK_ERR(nc_open_read(fifo, "manifest", &fd, NULL), NC_ERR_IO, "manifest '");
    CHECK(fd == -1);
    CHECK_ERR(nc_read_file("/dev/zero", &buf, &len), NC_ERR_IO, "'/dev/zero' is a character device");
    CHECK_ERR(nc_read_file(dir, &buf, &len), NC_ERR_IO, "is a directory, not a regular file");
    CHECK_ERR(nc_read_file(at("missing"), &buf, &len), NC_ERR_NOT_FOUND, "cannot open '");
    nc_jsonl_reader *r = NULL;
    CHECK_ERR(nc_jsonl_open(fifo, NULL, &r), NC_ERR_IO, "FIFO");
    CHECK_ERR(nc_jsonl_open("/dev/zero", NULL, &r), NC_ERR_IO, "character device");
    CHECK(r == NULL);
    FILE *f = NULL;
    CHECK_ERR(nc_fopen_read(fifo, "text corpus", &f), NC_ERR_IO, "text corpus '");
    CHECK_ERR(nc_check_readable(dir, "config file"), NC_ERR_IO, "config file '");
    /* A link to a regular file reads as the file. */
    put(at("real.txt"), "hello");
    CHECK(symlink(at("real.txt"), at("link.txt")) == 0);
    CHECK_OK(nc_read_file(at("link.txt"), &buf, &len));
    CHECK(len == 5 && !memcmp(buf, "hello", 5));
    nc_free(buf);
    int64_t size = -1;
    CHECK_OK(nc_open_read(at("real.txt"), NULL, &fd, &size));
    CHECK(size == 5 && fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK));
    if (fd >= 0) close(fd);
}

static void test_atomic(void) {
    /* Devices, FIFOs and folders are never replaced. */
    CHECK_ERR(nc_write_file_atomic("/dev/null", "x", 1), NC_ERR_IO, "'/dev/null': it is a character device");
    struct stat st;
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    CHECK_ERR(nc_write_file_atomic(at("fifo"), "x", 1), NC_ERR_IO, "a FIFO (named pipe)");
    CHECK(lstat(at("fifo"), &st) == 0 && S_ISFIFO(st.st_mode));
    CHECK(mkdir(at("sub"), 0755) == 0);
    CHECK_ERR(nc_write_file_atomic(at("sub"), "x", 1), NC_ERR_IO, "a directory");
    nc_atomic_file *af = NULL;
    CHECK_ERR(nc_atomic_open("/dev/full", &af), NC_ERR_IO, "character device");
    CHECK(af == NULL);
    /* A link to a regular file: the target is replaced, the link stays. */
    CHECK_OK(nc_write_file_atomic(at("link.txt"), "new", 3));
    CHECK(lstat(at("link.txt"), &st) == 0 && S_ISLNK(st.st_mode));
    void *buf = NULL;
    size_t len = 0;
    CHECK_OK(nc_read_file(at("real.txt"), &buf, &len));
    CHECK(len == 3 && !memcmp(buf, "new", 3));
    nc_free(buf);
    /* A dangling link or a link to a device is refused, nothing created. */
    CHECK(symlink(at("nowhere"), at("dangling")) == 0);
    CHECK_ERR(nc_write_file_atomic(at("dangling"), "x", 1), NC_ERR_IO, "symbolic link to a missing file");
    CHECK(access(at("nowhere"), F_OK) != 0);
    CHECK(symlink("/dev/null", at("devlink")) == 0);
    CHECK_ERR(nc_write_file_atomic(at("devlink"), "x", 1), NC_ERR_IO, "symbolic link to a character device");
    /* The old predictable temp name, planted as a link, is not followed. */
    char planted[4300];
    snprintf(planted, sizeof planted, "%s.tmp.%ld", at("out.bin"), (long)getpid());
    CHECK(symlink(at("victim"), planted) == 0);
    CHECK_OK(nc_write_file_atomic(at("out.bin"), "data", 4));
    CHECK(access(at("victim"), F_OK) != 0);
    CHECK(count_prefix("out.bin.tmp.") == 1); /* only the planted link */
    /* Two temp names differ; an aborted write leaves nothing. */
    nc_atomic_file *a1 = NULL, *a2 = NULL;
    CHECK_OK(nc_atomic_open(at("two"), &a1));
    CHECK_OK(nc_atomic_open(at("two"), &a2));
    CHECK(count_prefix("two.tmp.") == 2);
    nc_atomic_abort(a1);
    nc_atomic_abort(a2);
    CHECK(count_prefix("two") == 0);
}

static void test_write_in_place(void) {
    int fd = -1;
    /* A FIFO without a reader would block the open. */
    CHECK_ERR(nc_open_write(at("fifo"), "log file", true, &fd), NC_ERR_IO, "log file '");
    CHECK_ERR(nc_open_write("/dev/null", "log file", false, &fd), NC_ERR_IO, "character device");
    CHECK_ERR(nc_open_write(at("sub"), "log file", true, &fd), NC_ERR_IO, "");
    CHECK_ERR(nc_open_write(at("dangling"), "log file", true, &fd), NC_ERR_IO, "symbolic link to a missing file");
    CHECK(fd == -1 && access(at("nowhere"), F_OK) != 0);
    put(at("log.txt"), "one\n");
    CHECK_OK(nc_open_write(at("log.txt"), NULL, true, &fd));
    if (fd >= 0) {
        CHECK(write(fd, "two\n", 4) == 4);
        close(fd);
    }
    void *buf = NULL;
    size_t len = 0;
    CHECK_OK(nc_read_file(at("log.txt"), &buf, &len));
    CHECK(len == 8);
    nc_free(buf);
    nc_jsonl_writer *w = NULL;
    CHECK_ERR(nc_jsonl_writer_open("/dev/full", false, &w), NC_ERR_IO, "character device");
    CHECK(w == NULL);
    /* nc_temp_file: a fresh name each time, 0600, in the folder asked for. */
    char *p1 = NULL, *p2 = NULL;
    int f1 = -1, f2 = -1;
    CHECK_OK(nc_temp_file(dir, "t.", &p1, &f1));
    CHECK_OK(nc_temp_file(dir, "t.", &p2, &f2));
    CHECK(p1 && p2 && strcmp(p1, p2) != 0);
    struct stat st;
    CHECK(p1 && stat(p1, &st) == 0 && (st.st_mode & 0777) == 0600);
    if (f1 >= 0) close(f1);
    if (f2 >= 0) close(f2);
    if (p1) unlink(p1);
    if (p2) unlink(p2);
    nc_free(p1);
    nc_free(p2);
}

int main(void) {
    alarm(60); /* a helper that blocks on a FIFO fails the test instead of hanging it */
    snprintf(dir, sizeof dir, "%s", nc_test_tmpdir("fileutil_hostile"));
    test_reads();
    test_atomic();
    test_write_in_place();
    return nc_test_finish("test_fileutil");
}
