/* nemoc: the command-line front end. Dispatches `nemoc <group> <verb>` to
 * one file per subcommand; the only place that prints for a person or exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const nc_cli_command commands[] = {
    {"asr", "train", "train a CTC speech recognizer from a NeMo config (speech_to_text_ctc*.py)", nc_cmd_asr_train},
    {"asr", "transcribe", "audio to text with a trained model (transcribe_speech.py)", nc_cmd_asr_transcribe},
    {"asr", "eval", "WER/CER of a model on a manifest (speech_to_text_eval.py)", nc_cmd_asr_eval},
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

/* libgomp's threads spin up to GOMP_SPINCOUNT (300000) iterations at every
 * barrier before sleeping. On a machine shared with other busy processes a
 * spinning thread holds a core while its partner waits to be scheduled, and
 * each of the thousands of parallel regions in a training step can cost a
 * scheduler slice: bench/README.md measured 2-3x slower steps than with
 * sleeping waits, which cost next to nothing on an idle machine. libgomp reads
 * its settings once, before main, so when the user chose none the program
 * re-executes itself once with OMP_WAIT_POLICY=passive (NEMOC_OMP_DEFAULTS=0
 * turns this off; any OMP_WAIT_POLICY or GOMP_SPINCOUNT is left alone). */
static void omp_defaults(char **argv) {
    const char *off = getenv("NEMOC_OMP_DEFAULTS");
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || (off && !strcmp(off, "0")))
        return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv); /* returns only on failure: run as we are */
    unsetenv("OMP_WAIT_POLICY");
}

int main(int argc, char **argv) {
    omp_defaults(argv);
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
