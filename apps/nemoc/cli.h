/* Subcommand table shared by main.c and the command files. */
#ifndef NC_APP_CLI_H
#define NC_APP_CLI_H

typedef struct nc_cli_command {
    const char *group;
    const char *verb; /* NULL: the group is the whole command */
    const char *help;
    int (*run)(int argc, char **argv); /* argv[0] is the verb (or group) */
} nc_cli_command;

int nc_cmd_demo(int argc, char **argv);
int nc_cmd_data_synth(int argc, char **argv); /* cmd_data.c */
int nc_cmd_audio_features(int argc, char **argv);
int nc_cmd_tokenizer_train(int argc, char **argv);
int nc_cmd_tokenizer_encode(int argc, char **argv);
int nc_cmd_asr_train(int argc, char **argv);
int nc_cmd_asr_transcribe(int argc, char **argv);
int nc_cmd_asr_eval(int argc, char **argv);
int nc_cmd_export(int argc, char **argv);

#endif
