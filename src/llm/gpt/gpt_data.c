/* MegatronGPTModel's data: the GPTDataset splits of model.data (built once,
 * as build_train_valid_test_datasets does) read in the order of NeMo's
 * MegatronPretrainingSampler: global batch i holds samples [i*gbs_dp,
 * (i+1)*gbs_dp) with gbs_dp = micro_batch_size * world, and rank r takes
 * the r-th micro batch of it; validation restarts from sample 0 each run.
 * A batch is tokens = sample[:T], labels = sample[1:] with the loss mask of
 * get_ltor_masks_and_position_ids (eod_mask_loss: positions whose input is
 * the end-of-document token) and of NeMo's padding (-1 ids of a short last
 * sample). */
#include <string.h>

#include "llm/gpt/gpt.h"
#include "nemoc/alloc.h"
#include "nemoc/llm_data.h"

typedef struct gpt_data {
    nc_gpt_data_params p;
    nc_gpt_split_data *split[3];
} gpt_data;

void nc_gpt_data_free(gpt_data *d) {
    if (!d) return;
    for (int k = 0; k < 3; k++) nc_gpt_split_data_free(d->split[k]);
    nc_gpt_data_params_free(&d->p);
    nc_free(d);
}

typedef struct gpt_source {
    nc_gpt *g;
    const nc_gpt_split_data *d;
    int rank, world;
    int64_t mbs, T, n_batches, next;
    bool eod_mask;
    int32_t *sample;
    gpt_batch batch;
} gpt_source;

static nc_status src_begin(void *self, int64_t epoch, int64_t skip) {
    (void)epoch;
    gpt_source *s = self;
    s->next = skip < s->n_batches ? skip : s->n_batches;
    return NC_OK;
}

static nc_status src_next(void *self, const void **out) {
    gpt_source *s = self;
    *out = NULL;
    if (s->next >= s->n_batches) return NC_OK;
    const int64_t T = s->T, L = nc_gpt_split_data_sample_len(s->d);
    gpt_batch *b = &s->batch;
    b->n_loss = 0;
    for (int64_t j = 0; j < s->mbs; j++) {
        const int64_t idx = s->next * s->mbs * s->world + s->rank * s->mbs + j;
        nc_status st = nc_gpt_split_data_sample(s->d, idx, s->sample);
        if (st) return st;
        for (int64_t t = 0; t < T; t++) {
            const int32_t in = s->sample[t], lab = t + 1 < L ? s->sample[t + 1] : -1;
            const bool masked = lab < 0 || in < 0 || (s->eod_mask && in == s->g->eos_id);
            if (in >= s->g->c.padded_vocab || lab >= s->g->c.padded_vocab)
                return nc_error(NC_ERR_INVALID_ARG, "sample %lld holds token id %d, outside the model's "
                                "vocabulary of %lld (data from another tokenizer?)", (long long)idx,
                                in > lab ? in : lab, (long long)s->g->c.padded_vocab);
            b->tokens[j * T + t] = in < 0 ? 0 : in;
            b->labels[j * T + t] = masked ? -100 : lab;
            b->n_loss += !masked;
        }
    }
    s->next++;
    b->end = s->next;
    *out = b;
    return NC_OK;
}

static int64_t src_num_batches(void *self) { return ((gpt_source *)self)->n_batches; }

static void src_batch_size(const void *batch, int64_t *items, double *seconds) {
    const gpt_batch *b = batch;
    *items = b->B * b->T;
    *seconds = 0;
}

static int64_t src_batch_end(const void *batch) { return ((const gpt_batch *)batch)->end; }

static void src_destroy(void *self) {
    gpt_source *s = self;
    nc_free(s->sample);
    nc_free(s->batch.tokens);
    nc_free(s->batch.labels);
    nc_free(s);
}

static const char *const data_keys[] = {
    "data_prefix", "index_mapping_dir", "data_impl", "splits_string", "seq_length", "skip_warmup", "num_workers",
    "dataloader_type", "reset_position_ids", "reset_attention_mask", "eod_mask_loss", "validation_drop_last",
    "no_seqlen_plus_one_input_tokens", "pad_samples_to_global_batch_size", "shuffle_documents",
    "exchange_indices_distributed", "data_cache_generation_only", "add_extra_token", "delay_data_init",
    "delay_data_mmap", "mmap_bin_files", "legacy_dataset", "create_attention_mask", "fim", NULL};

static nc_status build_splits(nc_model *m, nc_gpt *g, const nc_cfg *ds) {
    gpt_data *d = nc_calloc(1, sizeof *d);
    if (!d) return nc_error(NC_ERR_OOM, "gpt data");
    nc_status s = nc_gpt_data_params_from_cfg(m->cfg, &d->p);
    if (s) {
        nc_free(d);
        return s;
    }
    bool reset_pos = false, reset_att = false;
    if ((s = nc_cfg_check_keys(ds, "", data_keys)) ||
        (s = nc_cfg_get_bool_or(ds, "reset_position_ids", false, &reset_pos)) ||
        (s = nc_cfg_get_bool_or(ds, "reset_attention_mask", false, &reset_att)))
        goto fail;
    if (reset_pos || reset_att) {
        s = nc_cfg_error_at(ds, reset_pos ? "reset_position_ids" : "reset_attention_mask",
                            "true is not supported (documents share one causal window, NeMo's default)");
        goto fail;
    }
    if (d->p.seq_length != g->c.seq_length && g->c.pos == GPT_POS_LEARNED && d->p.seq_length > g->c.max_pos) {
        s = nc_cfg_error_at(ds, "seq_length", "%lld exceeds max_position_embeddings %lld",
                            (long long)d->p.seq_length, (long long)g->c.max_pos);
        goto fail;
    }
    /* train_valid_test_num_samples of megatron_gpt_model.py */
    const int64_t gbs = g->c.global_batch_size;
    const int64_t steps = g->trainer_max_steps > 0 ? g->trainer_max_steps : 1;
    const int64_t vci = g->trainer_val_check > 0 ? g->trainer_val_check : steps;
    d->p.num_samples[0] = steps * gbs;
    /* limit_val_batches as a fraction: one pass over the validation split
     * (N = 1 makes the dataset hold exactly one epoch) */
    d->p.num_samples[1] = g->trainer_limit_val > 0 ? (steps / vci + 1) * g->trainer_limit_val * gbs : 1;
    d->p.num_samples[2] = g->trainer_limit_test > 0 ? g->trainer_limit_test * gbs : 1;
    if ((s = nc_gpt_build_datasets(&d->p, d->split))) goto fail;
    g->data = d;
    return NC_OK;
fail:
    nc_gpt_data_free(d);
    return s;
}

nc_status nc_gpt_setup_data(nc_model *m, const nc_cfg *ds, nc_data_role role, const nc_data_env *env,
                            nc_data_source **out) {
    nc_gpt *g = m->impl;
    *out = NULL;
    nc_status s;
    if (!g->data && (s = build_splits(m, g, ds))) return s;
    const nc_gpt_split_data *d = g->data->split[role];
    if (!d || !nc_gpt_split_data_len(d))
        return nc_error(NC_ERR_CONFIG, "model.data: the %s split is empty (data.splits_string gives it no "
                        "documents)", role == NC_DATA_TRAIN ? "train" : role == NC_DATA_VALIDATION ? "validation" : "test");
    gpt_source *src = nc_calloc(1, sizeof *src);
    if (!src) return nc_error(NC_ERR_OOM, "gpt source");
    src->g = g;
    src->d = d;
    src->rank = env->rank;
    src->world = env->world_size > 0 ? env->world_size : 1;
    src->mbs = g->c.micro_batch_size;
    src->T = g->data->p.seq_length;
    src->n_batches = nc_gpt_split_data_len(d) / (src->mbs * src->world);
    if ((s = nc_cfg_get_bool_or(ds, "eod_mask_loss", false, &src->eod_mask))) goto fail;
    if (!src->n_batches) {
        s = nc_error(NC_ERR_CONFIG, "model.data: %lld samples are fewer than one batch of %lld (micro_batch_size x "
                     "ranks)", (long long)nc_gpt_split_data_len(d), (long long)(src->mbs * src->world));
        goto fail;
    }
    const int64_t L = nc_gpt_split_data_sample_len(d);
    src->sample = nc_malloc((size_t)(L > src->T + 1 ? L : src->T + 1) * sizeof(int32_t));
    src->batch.tokens = nc_malloc((size_t)(src->mbs * src->T) * sizeof(int64_t));
    src->batch.labels = nc_malloc((size_t)(src->mbs * src->T) * sizeof(int64_t));
    if (!src->sample || !src->batch.tokens || !src->batch.labels) {
        s = nc_error(NC_ERR_OOM, "gpt batch");
        goto fail;
    }
    for (int64_t i = L; i < src->T + 1; i++) src->sample[i] = -1;
    src->batch.B = src->mbs;
    src->batch.T = src->T;
    nc_data_source *ds_out = nc_malloc(sizeof *ds_out);
    if (!ds_out) {
        s = nc_error(NC_ERR_OOM, "gpt source");
        goto fail;
    }
    *ds_out = (nc_data_source){.self = src, .begin_epoch = src_begin, .next = src_next,
                               .num_batches = src_num_batches, .batch_size = src_batch_size,
                               .batch_end = src_batch_end, .item_unit = "tok", .destroy = src_destroy};
    *out = ds_out;
    return NC_OK;
fail:
    src_destroy(src);
    return s;
}
