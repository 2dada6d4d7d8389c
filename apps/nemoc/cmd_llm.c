/* `nemoc llm pretrain`: NeMo's examples/nlp/language_modeling/
 * megatron_gpt_pretraining.py on the generic training driver (cmd_train.c):
 * MegatronGPTModel from megatron_gpt_config.yaml, data from model.data. */
#include "cli.h"
#include "nemoc/tokenizer.h"

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

/* `nemoc llm baseline`: unigram and bigram perplexity of the validation
 * split that `nemoc llm pretrain` with the same config validates on. */
#include <stdio.h>
#include <string.h>

#include "nemoc/collections.h"
#include "nemoc/llm_gpt.h"

int nc_cmd_llm_baseline(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("usage: nemoc llm baseline --config-path DIR --config-name NAME [overrides...]\n\n"
                 "Unigram (add-one) and bigram (interpolated Kneser-Ney) perplexity of the validation split of\n"
                 "model.data, counted on the training split: the same next-token predictions `nemoc llm\n"
                 "pretrain` scores as val_ppl with this config (limit_val_batches: 1.0).");
            return 0;
        }
    nc_cfg *cfg = NULL, *mc = NULL;
    nc_model *m = NULL;
    int rc = 1;
    nc_model_build_args ba = {.seed = 1};
    if (nc_register_collections() || nc_cfg_load_args(argc - 1, (const char *const *)argv + 1, NULL, NULL, &cfg) ||
        nc_cfg_get_node(cfg, "model", &mc) || nc_model_create(mc, llm_default_target(mc), &ba, &m)) {
        fprintf(stderr, "nemoc llm baseline: %s\n", nc_last_error());
        goto done;
    }
    const nc_tokenizer *tok = nc_gpt_tokenizer(m);
    int64_t vocab = 0;
    if (tok) vocab = nc_tokenizer_vocab_size(tok);
    else if (nc_cfg_get_int_or(mc, "override_vocab_size", 0, &vocab) || vocab <= 0) {
        fprintf(stderr, "nemoc llm baseline: the model names no tokenizer (or override_vocab_size)\n");
        goto done;
    }
    nc_gpt_baseline b;
    if (nc_gpt_ngram_baseline(mc, vocab, &b)) {
        fprintf(stderr, "nemoc llm baseline: %s\n", nc_last_error());
        goto done;
    }
    printf("validation split: %lld predicted tokens (counts from %lld training tokens, vocabulary %lld)\n"
           "unigram perplexity: %.2f\nbigram perplexity: %.2f\n",
           (long long)b.tokens, (long long)b.train_tokens, (long long)vocab, b.unigram_ppl, b.bigram_ppl);
    rc = 0;
done:
    nc_model_free(m);
    nc_cfg_free(cfg);
    return rc;
}
