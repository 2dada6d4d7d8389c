/* MegatronGPTModel's architecture from NeMo's model config
 * (examples/nlp/language_modeling/conf/megatron_gpt_config.yaml, read by
 * megatron_base_model.py build_transformer_config): every key that changes
 * the numbers is read and checked; keys that only tune GPU kernels,
 * parallelism of size 1 or logging are accepted as NeMo's configs carry
 * them; values nemoc cannot honour (tensor parallel > 1, ALiBi, post-LN, ...)
 * are refused naming the key; any other key is reported as unknown. */
#include <math.h>
#include <string.h>

#include "llm/gpt/gpt.h"
#include "nemoc/log.h"

/* Keys with an effect only on GPUs, on parallelism of size 1, on fused
 * kernels or on logging: accepted as written in NeMo configs. */
static const char *const inert_keys[] = {
    "mcore_gpt", "rampup_batch_size", "virtual_pipeline_model_parallel_size", "context_parallel_size",
    "expert_model_parallel_size", "pre_process", "post_process", "persist_layer_norm", "native_amp_init_scale",
    "native_amp_growth_interval", "hysteresis", "fp32_residual_connection", "fp16_lm_cross_entropy",
    "megatron_amp_O2", "grad_allreduce_chunk_size_mb", "grad_div_ar_fusion", "gradient_accumulation_fusion",
    "bias_dropout_add_fusion", "masked_softmax_fusion", "get_attention_mask_from_fusion", "apply_rope_fusion",
    "resume_from_checkpoint", "use_cpu_initialization", "onnx_safe", "apex_transformer_log_level",
    "gradient_as_bucket_view", "sync_batch_comm", "nccl_communicator_config_path", "overlap_p2p_comm",
    "batch_p2p_comm", "sequence_parallel", "transformer_engine", "use_emha", "ub_tp_comm_overlap",
    "ub_tp_comm_overlap_cfg", "use_flash_attention", "cpu_offloading", "cpu_offloading_num_layers",
    "cpu_offloading_activations", "cpu_offloading_weights", "sharp", "nsys_profile", "memory_profile",
    "gc_interval", "dist_ckpt_format", "dist_ckpt_load_on_device", "dist_ckpt_parallel_save",
    "dist_ckpt_parallel_save_within_dp", "dist_ckpt_parallel_load", "dist_ckpt_torch_dist_multiproc",
    "dist_ckpt_assume_constant_structure", "dist_ckpt_parallel_dist_opt", "dist_ckpt_load_strictness",
    "shape_file", "nemo_version", "precision", "restore_from_path", "deterministic_mode",
    "use_te_rng_tracker", "seed", "target", "apply_query_key_layer_scaling", "attention_type",
    "activations_checkpoint_method", "activations_checkpoint_num_layers",
    "num_micro_batches_with_partial_activation_checkpoints", "activations_checkpoint_layers_per_pipeline",
    "do_layer_norm_weight_decay", "fp8", "fp8_e4m3", "fp8_hybrid", "fp8_margin", "fp8_interval",
    "fp8_amax_history_len", "fp8_amax_compute_algo", "reduce_amax", "fp8_wgrad", "fsdp",
    "fsdp_sharding_strategy", "fsdp_grad_reduce_dtype", "fsdp_sharded_checkpoint", "fsdp_use_orig_params",
    "mcore_customization_config", "bias_activation_fusion", "openai_gelu", "tensor_model_parallel_size",
    "pipeline_model_parallel_size", "transformer_block_type", "headscale", "normalize_attention_scores",
    "activations_checkpoint_granularity", "seq_len_interpolation_factor", "override_vocab_size",
    "make_vocab_size_divisible_by", "use_scaled_init_method", "micro_batch_size", "global_batch_size",
    "encoder_seq_length", "max_position_embeddings", "num_layers", "hidden_size", "ffn_hidden_size",
    "num_attention_heads", "num_query_groups", "kv_channels", "init_method_std", "hidden_dropout",
    "attention_dropout", "ffn_dropout", "layernorm_epsilon", "normalization", "bias", "activation",
    "position_embedding_type", "rotary_percentage", "rotary_base", "share_embeddings_and_output_weights",
    "tokenizer", "data", "optim", "train_ds", "validation_ds", "test_ds", "name", "rotary_interleaved", NULL};

static bool in_list(const char *k, const char *const *l) {
    for (; *l; l++)
        if (!strcmp(k, *l)) return true;
    return false;
}

/* A key nemoc reads only at its default: anything else is refused. */
static nc_status want_int(const nc_cfg *m, const char *key, int64_t want, const char *why) {
    int64_t v = want;
    nc_status s = nc_cfg_get_int_or(m, key, want, &v);
    if (s) return s;
    if (v != want) return nc_cfg_error_at(m, key, "%lld is not supported: %s", (long long)v, why);
    return NC_OK;
}

static nc_status want_bool(const nc_cfg *m, const char *key, bool want, const char *why) {
    bool v = want;
    nc_status s = nc_cfg_get_bool_or(m, key, want, &v);
    if (s) return s;
    if (v != want) return nc_cfg_error_at(m, key, "%s is not supported: %s", v ? "true" : "false", why);
    return NC_OK;
}

static nc_status check_unsupported(const nc_cfg *m) {
    nc_status s;
    const char *blk = "pre_ln";
    if ((s = want_int(m, "tensor_model_parallel_size", 1, "nemoc trains data-parallel only (TP = 1)")) ||
        (s = want_int(m, "pipeline_model_parallel_size", 1, "nemoc trains data-parallel only (PP = 1)")) ||
        (s = want_int(m, "context_parallel_size", 1, "no context parallelism")) ||
        (s = want_bool(m, "headscale", false, "no head scaling")) ||
        (s = want_bool(m, "normalize_attention_scores", true, "scores are always scaled by 1/sqrt(kv_channels)")) ||
        (s = want_bool(m, "fp8", false, "no fp8 on CPU (use trainer.precision=bf16-mixed)")) ||
        (s = want_bool(m, "rotary_interleaved", false, "RoPE runs Megatron-core's rotate-half layout only")) ||
        (s = nc_cfg_get_str_or(m, "transformer_block_type", "pre_ln", &blk)))
        return s;
    if (strcmp(blk, "pre_ln"))
        return nc_cfg_error_at(m, "transformer_block_type", "'%s' is not supported (pre_ln only)", blk);
    double f = 1.0;
    if ((s = nc_cfg_get_float_or(m, "seq_len_interpolation_factor", 1.0, &f))) return s;
    if (f != 1.0) return nc_cfg_error_at(m, "seq_len_interpolation_factor", "%g is not supported (null only)", f);
    int64_t n_exp = 0;
    if ((s = nc_cfg_get_int_or(m, "num_moe_experts", 0, &n_exp))) return s;
    if (n_exp > 1) return nc_cfg_error_at(m, "num_moe_experts", "mixture of experts is not supported");
    /* unknown keys: named, not fatal (NeMo's configs grow keys every release) */
    for (int64_t i = 0; i < nc_cfg_size(m); i++) {
        const char *k = nc_cfg_item_key(m, i);
        if (k && !in_list(k, inert_keys) && strncmp(k, "moe_", 4))
            nc_log_msg(NC_LOG_WARN, "model.%s: unknown MegatronGPTModel key, ignored", k);
    }
    return NC_OK;
}

static const char *const pos_names[] = {"learned_absolute", "rope", "none", NULL};
static const char *const norm_names[] = {"layernorm", "layernorm1p", "rmsnorm", NULL};
/* NeMo's activation names (megatron_base_model.py): the fast- variants are
 * the same function with a fused kernel on GPU. */
static const char *const act_names[] = {"gelu", "fast-swiglu", "swiglu", "squared-relu", "relu", NULL};

nc_status nc_gpt_config_parse(const nc_cfg *m, int64_t tokenizer_vocab, gpt_config *c) {
    memset(c, 0, sizeof *c);
    nc_status s;
    if ((s = check_unsupported(m))) return s;
    const int64_t BIG = (int64_t)1 << 20;
    if ((s = nc_cfg_get_int_in(m, "num_layers", 1, 4096, &c->num_layers)) ||
        (s = nc_cfg_get_int_in(m, "hidden_size", 1, BIG, &c->hidden)) ||
        (s = nc_cfg_get_int_in(m, "num_attention_heads", 1, 4096, &c->heads)) ||
        (s = nc_cfg_get_int_in(m, "ffn_hidden_size", 1, 4 * BIG, &c->ffn)) ||
        (s = nc_cfg_get_int_in(m, "encoder_seq_length", 1, BIG, &c->seq_length)) ||
        (s = nc_cfg_get_int_in_or(m, "max_position_embeddings", c->seq_length, 1, BIG, &c->max_pos)) ||
        (s = nc_cfg_get_int_in_or(m, "num_query_groups", c->heads, 1, 4096, &c->groups)) ||
        (s = nc_cfg_get_int_in_or(m, "kv_channels", 0, 1, BIG, &c->kv_channels)))
        return s;
    if (!c->kv_channels) {
        if (c->hidden % c->heads)
            return nc_cfg_error_at(m, "num_attention_heads", "hidden_size %lld is not divisible by %lld heads "
                                   "(set kv_channels)", (long long)c->hidden, (long long)c->heads);
        c->kv_channels = c->hidden / c->heads;
    }
    if (c->heads % c->groups)
        return nc_cfg_error_at(m, "num_query_groups", "%lld heads are not divisible into %lld groups",
                               (long long)c->heads, (long long)c->groups);
    int pos = 0, norm = 0, act = 0;
    if ((s = nc_cfg_get_enum_or(m, "position_embedding_type", pos_names, 0, &pos)) ||
        (s = nc_cfg_get_enum_or(m, "normalization", norm_names, 0, &norm)) ||
        (s = nc_cfg_get_enum_or(m, "activation", act_names, 0, &act)))
        return s;
    c->pos = (gpt_pos)pos;
    c->norm = (gpt_norm)norm;
    c->act = act == 0 ? GPT_ACT_GELU : act <= 2 ? GPT_ACT_SWIGLU : act == 3 ? GPT_ACT_SQUARED_RELU : GPT_ACT_RELU;
    double eps = 1e-5, hd = 0.1, ad = 0.1, fd = 0.0;
    if ((s = nc_cfg_get_float_in_or(m, "layernorm_epsilon", 1e-5, 0, 1, &eps)) ||
        (s = nc_cfg_get_prob_or(m, "hidden_dropout", 0.1, &hd)) ||
        (s = nc_cfg_get_prob_or(m, "attention_dropout", 0.1, &ad)) ||
        (s = nc_cfg_get_prob_or(m, "ffn_dropout", 0.0, &fd)) ||
        (s = nc_cfg_get_float_in_or(m, "init_method_std", 0.02, 0, 10, &c->init_std)) ||
        (s = nc_cfg_get_bool_or(m, "use_scaled_init_method", true, &c->scaled_init)) ||
        (s = nc_cfg_get_bool_or(m, "bias", true, &c->bias)) ||
        (s = nc_cfg_get_bool_or(m, "share_embeddings_and_output_weights", true, &c->tied)) ||
        (s = nc_cfg_get_float_in_or(m, "rotary_base", 10000.0, 1.0, 1e12, &c->rotary_base)) ||
        (s = nc_cfg_get_float_in_or(m, "rotary_percentage", 1.0, 1e-6, 1.0, &c->rotary_percentage)) ||
        (s = nc_cfg_get_int_in_or(m, "micro_batch_size", 1, 1, BIG, &c->micro_batch_size)) ||
        (s = nc_cfg_get_int_in_or(m, "global_batch_size", c->micro_batch_size, 1, BIG * 64, &c->global_batch_size)))
        return s;
    c->eps = (float)eps;
    c->hidden_dropout = (float)hd;
    c->attention_dropout = (float)ad;
    if (fd > 0)
        return nc_cfg_error_at(m, "ffn_dropout", "%g is not supported (0 only; Megatron-core's MLP has none)", fd);
    /* Megatron-core's MLP with bias_activation_fusion (NeMo's default) and a
     * bias runs bias_gelu_impl, the tanh approximation; openai_gelu too. */
    bool fusion = true, openai = false;
    if ((s = nc_cfg_get_bool_or(m, "bias_activation_fusion", true, &fusion)) ||
        (s = nc_cfg_get_bool_or(m, "openai_gelu", false, &openai)))
        return s;
    c->gelu_tanh = openai || (fusion && c->bias);
    if (c->pos == GPT_POS_ROPE) {
        c->rot_dim = (int64_t)((double)c->kv_channels * c->rotary_percentage);
        if (c->rot_dim < 2 || c->rot_dim % 2)
            return nc_cfg_error_at(m, "rotary_percentage", "kv_channels %lld x %g gives %lld rotary dims "
                                   "(need an even number >= 2)", (long long)c->kv_channels,
                                   c->rotary_percentage, (long long)c->rot_dim);
    }
    /* activation checkpointing (megatron_gpt_config.yaml): selective
     * recomputes the core attention, full whole layers: uniform groups of
     * activations_checkpoint_num_layers, or (block) that many first layers */
    static const char *const grans[] = {"none", "selective", "full", NULL};
    static const char *const methods[] = {"uniform", "block", NULL};
    int gran = 0, method = 0;
    if ((s = nc_cfg_get_enum_or(m, "activations_checkpoint_granularity", grans, 0, &gran)) ||
        (s = nc_cfg_get_enum_or(m, "activations_checkpoint_method", methods, 0, &method)) ||
        (s = nc_cfg_get_int_in_or(m, "activations_checkpoint_num_layers", 1, 1, 4096, &c->ckpt_layers)))
        return s;
    const char *method_str = NULL;
    if ((s = nc_cfg_get_str_or(m, "activations_checkpoint_method", NULL, &method_str))) return s;
    if (gran == 2 && !method_str)
        return nc_cfg_error_at(m, "activations_checkpoint_method", "full checkpointing needs a method: uniform or block");
    c->ckpt_granularity = gran;
    c->ckpt_block = method == 1;
    /* vocabulary: the tokenizer's (or override_vocab_size), padded as
     * megatron_base_model._vocab_size_with_padding does */
    int64_t ov = 0, div = 128;
    if ((s = nc_cfg_get_int_in_or(m, "override_vocab_size", 0, 1, 1 << 24, &ov)) ||
        (s = nc_cfg_get_int_in_or(m, "make_vocab_size_divisible_by", 128, 1, 1 << 20, &div)))
        return s;
    c->vocab = ov ? ov : tokenizer_vocab;
    if (c->vocab <= 0)
        return nc_cfg_error_at(m, "tokenizer", "the vocabulary size is unknown: name a tokenizer "
                               "(model.tokenizer) or set model.override_vocab_size");
    c->padded_vocab = (c->vocab + div - 1) / div * div;
    return NC_OK;
}
