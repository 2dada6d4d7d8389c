/* `nemoc demo`: trains a small Transformer-style classifier on a built-in
 * synthetic sequence task and prints its loss curve. Replaced by the ASR
 * demo once speech training lands. */
#include <stdio.h>

#include "cli.h"

int nc_cmd_demo(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("demo: not available yet\n");
    return 1;
}
