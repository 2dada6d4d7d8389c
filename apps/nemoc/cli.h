/* Subcommand table shared by main.c and the command files. */
#ifndef NC_APP_CLI_H
#define NC_APP_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "nemoc/config.h"

typedef struct nc_cli_command {
    const char *group;
    const char *verb; /* NULL: the group is the whole command */
    const char *help;
    int (*run)(int argc, char **argv); /* argv[0] is the verb (or group) */
} nc_cli_command;

/* What the generic train/transcribe/eval drivers need to know of a
 * collection's command group (cmd_asr.c for `nemoc asr`). */
typedef struct nc_cli_collection {
    const char *name;          /* "asr": the group and the classes' collection */
    const char *what;          /* "a speech recognition model" */
    const char *item;          /* "utterance": what one input line is */
    const char *skip_reason;   /* "unreadable audio": why a predict hook skips inputs */
    const char *train_scripts; /* the NeMo scripts `train` mirrors, for --help */
    const char *examples;      /* example config folders, for --help */
    const char *default_help;  /* how the class is chosen without model.target, for --help */
    /* The class a config without model.target builds (as NeMo's scripts fix it). */
    const char *(*default_target)(const nc_cfg *model_cfg);
    const char *predict_usage, *eval_usage; /* --help of transcribe / eval */
    /* The output manifest when output_filename= is not given (nc_malloc'd). */
    char *(*default_output)(const nc_cfg *args);
    /* The metric eval prints last as "name: value" (NULL: none). */
    const char *(*eval_headline)(const nc_cfg *args);
    /* Config sections of the training and validation data (NULL:
     * model.train_ds / model.validation_ds; Megatron models: model.data). */
    const char *train_data_key, *val_data_key;
} nc_cli_collection;

/* cmd_train.c, cmd_predict.c */
int nc_cli_train(const nc_cli_collection *c, int argc, char **argv);
int nc_cli_predict(const nc_cli_collection *c, bool eval, int argc, char **argv);
/* Prints the registered classes of a collection, one per line. */
void nc_cli_list_classes(const char *collection);

/* cli_args.c: argparse's "--opt" or "--opt=value": the option name, cut at
 * '=' and to cap - 1 bytes, into name; *val = the text after '=' or NULL. */
void nc_cli_split_opt(char *arg, char *name, size_t cap, char **val);

int nc_cmd_demo(int argc, char **argv);
int nc_cmd_data_synth(int argc, char **argv); /* cmd_data.c */
int nc_cmd_data_perturb(int argc, char **argv); /* cmd_data_perturb.c */
int nc_cmd_data_rirs(int argc, char **argv);
int nc_cmd_audio_features(int argc, char **argv);
int nc_cmd_tokenizer_train(int argc, char **argv);
int nc_cmd_tokenizer_encode(int argc, char **argv);
int nc_cmd_asr_train(int argc, char **argv); /* cmd_asr.c */
int nc_cmd_asr_transcribe(int argc, char **argv);
int nc_cmd_asr_eval(int argc, char **argv);
int nc_cmd_export(int argc, char **argv);
int nc_cmd_llm_preprocess(int argc, char **argv); /* cmd_llm_data.c */
int nc_cmd_llm_inspect(int argc, char **argv);
int nc_cmd_llm_pretrain(int argc, char **argv); /* cmd_llm.c */
int nc_cmd_llm_baseline(int argc, char **argv);
int nc_cmd_llm_generate(int argc, char **argv); /* cmd_llm_generate.c */
int nc_cmd_llm_import_hf(int argc, char **argv); /* cmd_llm_convert.c */
int nc_cmd_llm_export_hf(int argc, char **argv);
int nc_cmd_llm_serve(int argc, char **argv);    /* cmd_llm_serve.c */

#endif
