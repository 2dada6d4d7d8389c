/* nemoc: the command-line front end. Dispatches `nemoc <group> <verb>` to
 * one file per subcommand; the only place that prints for a person or exits. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const nc_cli_command commands[] = {
    {"demo", NULL, "train a small model on a built-in synthetic task", nc_cmd_demo},
    {"data", "synth", "build a NeMo manifest dataset of synthetic speech (espeak-ng, flite)", nc_cmd_data_synth},
    {"audio", "features", "log-mel features of an audio file (NeMo preprocessor) to .npy", nc_cmd_audio_features},
    {"tokenizer", "train", "build a SentencePiece or WordPiece tokenizer from manifests", nc_cmd_tokenizer_train},
    {"tokenizer", "encode", "text lines to token ids (or --decode ids to text)", nc_cmd_tokenizer_encode},
};

static void usage(FILE *f) {
    fprintf(f, "usage: nemoc <command> [args...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s%s%s", commands[i].group,
                 commands[i].verb ? " " : "", commands[i].verb ? commands[i].verb : "");
        fprintf(f, "  %-22s %s\n", name, commands[i].help);
    }
    fprintf(f, "\nRun 'nemoc <command> --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const nc_cli_command *c = &commands[i];
        if (strcmp(argv[1], c->group) != 0) continue;
        if (!c->verb) return c->run(argc - 1, argv + 1);
        if (argc >= 3 && !strcmp(argv[2], c->verb)) return c->run(argc - 2, argv + 2);
    }
    fprintf(stderr, "nemoc: unknown command '%s%s%s'\n\n", argv[1], argc > 2 ? " " : "",
            argc > 2 ? argv[2] : "");
    usage(stderr);
    return 2;
}
