/* `nemoc llm pretrain`: NeMo's examples/nlp/language_modeling/
 * megatron_gpt_pretraining.py on the generic training driver (cmd_train.c):
 * MegatronGPTModel from megatron_gpt_config.yaml, data from model.data. */
#include "cli.h"

static const char *llm_default_target(const nc_cfg *model_cfg) {
    (void)model_cfg;
    return "nemo.collections.nlp.models.language_modeling.megatron_gpt_model.MegatronGPTModel";
}

static const nc_cli_collection llm = {
    .name = "llm",
    .what = "a language model",
    .item = "sample",
    .skip_reason = "bad data",
    .train_scripts = "NeMo's examples/nlp/language_modeling/megatron_gpt_pretraining.py",
    .examples = "examples/nlp/language_modeling/conf/",
    .default_help = "MegatronGPTModel",
    .default_target = llm_default_target,
    .train_data_key = "model.data",
    .val_data_key = "model.data",
};

int nc_cmd_llm_pretrain(int argc, char **argv) { return nc_cli_train(&llm, argc, argv); }
