/* nemoc: the command-line front end. Dispatches `nemoc <group> <verb>` to
 * one file per subcommand; the only place that prints for a person or exits. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "io/fileutil.h"

static const nc_cli_command commands[] = {
    {"asr", "train", "train a CTC speech recognizer from a NeMo config (speech_to_text_ctc*.py)", nc_cmd_asr_train},
    {"asr", "transcribe", "audio to text with a trained model (transcribe_speech.py)", nc_cmd_asr_transcribe},
    {"asr", "eval", "WER/CER of a model on a manifest (speech_to_text_eval.py)", nc_cmd_asr_eval},
    {"export", NULL, "a model's weights as plain safetensors (NeMo state_dict names)", nc_cmd_export},
    {"demo", NULL, "core-engine check: a small Transformer learns to reverse sequences", nc_cmd_demo},
    {"data", "synth", "build a NeMo manifest dataset of synthetic speech (espeak-ng, flite)", nc_cmd_data_synth},
    {"data", "perturb", "a manifest passed through a NeMo augmentor (degraded-channel test sets)", nc_cmd_data_perturb},
    {"data", "rirs", "simulate room impulse responses (image method) with a NeMo RIR manifest", nc_cmd_data_rirs},
    {"audio", "features", "log-mel features of an audio file (NeMo preprocessor) to .npy", nc_cmd_audio_features},
    {"tokenizer", "train", "build a SentencePiece, WordPiece or byte-level BPE tokenizer", nc_cmd_tokenizer_train},
    {"tokenizer", "encode", "text lines to token ids (or --decode ids to text)", nc_cmd_tokenizer_encode},
    {"llm", "preprocess", "JSONL to Megatron .bin/.idx (preprocess_data_for_megatron.py)", nc_cmd_llm_preprocess},
    {"llm", "inspect", "counts and first documents of a Megatron indexed dataset", nc_cmd_llm_inspect},
    {"llm", "pretrain", "train a GPT/Llama model on Megatron data (megatron_gpt_pretraining.py)", nc_cmd_llm_pretrain},
    {"llm", "baseline", "unigram and bigram perplexity of a config's validation split", nc_cmd_llm_baseline},
    {"llm", "generate", "continue prompts with a GPT model (megatron_gpt_eval.py)", nc_cmd_llm_generate},
    {"llm", "import-hf", "a Hugging Face GPT-2/Llama folder to a MegatronGPTModel .nemo", nc_cmd_llm_import_hf},
    {"llm", "export-hf", "a MegatronGPTModel .nemo to a Hugging Face GPT-2/Llama folder", nc_cmd_llm_export_hf},
    {"llm", "serve", "HTTP text-generation server: NeMo /generate, OpenAI /v1 (megatron_gpt_eval.py server=True)", nc_cmd_llm_serve},
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

/* libgomp reads its settings once, when it is loaded, so they can only be
 * changed by starting again. Its default spin (300k iterations) between the
 * many short parallel regions of a training step helps little on an idle
 * machine, but when anything else runs on the same cores the spinning threads
 * starve the working ones. Measured on 2 cores with other jobs running, for
 * one training step of the demo model: default 8.4-10.4 s, GOMP_SPINCOUNT=10000
 * 1.7-2.0 s, OMP_WAIT_POLICY=passive 0.36-0.42 s. Users who set
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT keep theirs. */
static void tune_openmp(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("NEMOC_OMP_TUNED")) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    setenv("NEMOC_OMP_TUNED", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the defaults */
}

/* SIGINT/SIGTERM/SIGHUP: remove the temp files of atomic writes in
 * progress (a half-written "<out>.tmp.*"), then die of the signal as
 * before. `asr train` replaces the SIGINT/SIGTERM handlers with its own
 * (save a checkpoint, then stop), which does the same on a second signal. */
static void on_signal(int sig) {
    nc_atomic_remove_temps();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* What a command printed on stdout (ids from `tokenizer encode`, results)
 * is output too: when it could not be written (`> /dev/full`, a closed
 * pipe's reader aside) the exit status says so. */
static int stdout_checked(int rc) {
    if (fflush(stdout) == 0 && !ferror(stdout)) return rc;
    perror("nemoc: cannot write standard output");
    return rc ? rc : 1;
}

int main(int argc, char **argv) {
    tune_openmp(argv);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const nc_cli_command *c = &commands[i];
        if (strcmp(argv[1], c->group) != 0) continue;
        if (!c->verb) return stdout_checked(c->run(argc - 1, argv + 1));
        if (argc >= 3 && !strcmp(argv[2], c->verb)) return stdout_checked(c->run(argc - 2, argv + 2));
    }
    fprintf(stderr, "nemoc: unknown command '%s%s%s'\n\n", argv[1], argc > 2 ? " " : "",
            argc > 2 ? argv[2] : "");
    usage(stderr);
    return 2;
}
