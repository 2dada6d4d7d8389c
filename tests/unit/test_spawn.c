/* Child processes: exit codes, captured stdout/stderr, a child that writes
 * more than a pipe holds, a program that is not on PATH, and the quoting of
 * command lines in error messages. */
#include <string.h>

#include "nc_test.h"
#include "io/spawn.h"

int main(void) {
    nc_spawn_result r;
    const char *echo[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    CHECK_OK(nc_spawn_run(echo, 1, 1, 4096, &r));
    CHECK(r.exit_code == 3 && r.term_signal == 0);
    CHECK(r.out && !strcmp(r.out, "out\n"));
    CHECK(r.err && !strcmp(r.err, "err\n"));
    nc_spawn_result_free(&r);

    /* Not captured: nothing allocated, still the exit code. */
    const char *quiet[] = {"sh", "-c", "echo hidden; exit 0", NULL};
    CHECK_OK(nc_spawn_run(quiet, 0, 0, 16, &r));
    CHECK(r.exit_code == 0 && r.out == NULL && r.err == NULL);

    /* 1 MB on stdout and stderr with a 100-byte cap: both pipes are drained
     * (no deadlock) and only the first 100 bytes are kept. */
    const char *flood[] = {"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' a; head -c 1000000 /dev/zero | tr '\\0' b >&2", NULL};
    CHECK_OK(nc_spawn_run(flood, 1, 1, 100, &r));
    CHECK(r.exit_code == 0);
    CHECK(strlen(r.out) == 100 && r.out[0] == 'a' && r.out[99] == 'a');
    CHECK(strlen(r.err) == 100 && r.err[0] == 'b');
    nc_spawn_result_free(&r);

    /* Killed by a signal. */
    const char *killed[] = {"sh", "-c", "kill -9 $$", NULL};
    CHECK_OK(nc_spawn_run(killed, 0, 0, 16, &r));
    CHECK(r.exit_code == -1 && r.term_signal == 9);

    /* Missing program: NC_ERR_NOT_FOUND naming it. */
    const char *missing[] = {"nemoc-no-such-program", "x", NULL};
    CHECK(nc_spawn_run(missing, 1, 1, 16, &r) == NC_ERR_NOT_FOUND);
    CHECK(strstr(nc_last_error(), "nemoc-no-such-program") != NULL);
    CHECK(!nc_spawn_on_path("nemoc-no-such-program"));
    CHECK(nc_spawn_on_path("sh"));
    const char *empty[] = {NULL};
    CHECK(nc_spawn_run(empty, 0, 0, 16, &r) == NC_ERR_INVALID_ARG);

    /* Command lines for messages: plain words bare, others single-quoted. */
    char buf[256];
    const char *cmd[] = {"espeak-ng", "-v", "en-gb+f2", "-w", "/tmp/a b.wav", "don't stop", NULL};
    nc_spawn_format_argv(cmd, buf, sizeof buf);
    CHECK(!strcmp(buf, "espeak-ng -v en-gb+f2 -w '/tmp/a b.wav' 'don'\\''t stop'"));
    nc_spawn_format_argv(cmd, buf, 12); /* truncation keeps a terminated prefix */
    CHECK(strlen(buf) < 12);
    return nc_test_finish("spawn");
}
