/* What the argparse-style commands (`tokenizer train`, `llm preprocess`)
 * share: splitting "--opt=value" from "--opt". */
#include <string.h>

#include "cli.h"

void nc_cli_split_opt(char *arg, char *name, size_t cap, char **val) {
    char *eq = strchr(arg, '=');
    size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
    if (nl >= cap) nl = cap - 1;
    memcpy(name, arg, nl);
    name[nl] = 0;
    *val = eq ? eq + 1 : NULL;
}
