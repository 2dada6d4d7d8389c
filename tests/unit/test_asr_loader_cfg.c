/* The NeMo dataset config keys as nc_asr_loader_params_from_cfg reads them
 * (model.train_ds / validation_ds): lists of manifests, bucketing batch
 * sizes, the augmentor entries, and bad keys or values named. Split from
 * test_asr_loader.c, which runs the loader itself. */
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/asr_data.h"
#include "nemoc/config.h"

static const char YAML[] =
    "train_ds:\n"
    "  manifest_filepath: [a.json, b.json]\n"
    "  sample_rate: 8000\n"
    "  batch_size: 8\n"
    "  shuffle: true\n"
    "  num_workers: 3\n"
    "  pin_memory: true\n"
    "  use_start_end_token: false\n"
    "  trim_silence: false\n"
    "  max_duration: 16.7\n"
    "  min_duration: 0.1\n"
    "  labels: [' ', 'a']\n"
    "  parser: en\n"
    "  normalize_transcripts: false\n"
    "  is_tarred: false\n"
    "  tarred_audio_filepaths: null\n"
    "  shuffle_n: 2048\n"
    "  bucketing_strategy: \"fully_randomized\"\n"
    "  bucketing_batch_size: null\n"
    "  num_buckets: 4\n"
    "  skip_bad_audio: false\n"
    "validation_ds:\n"
    "  manifest_filepath: val.json\n"
    "  sample_rate: 16000\n"
    "  batch_size: 4\n"
    "  shuffle: false\n"
    "  use_start_end_token: false\n"
    "  max_duration: null\n";


static void test_cfg(void) {
    nc_cfg *cfg = NULL;
    CHECK_OK(nc_cfg_parse(YAML, sizeof YAML - 1, "conf.yaml", &cfg));
    if (!cfg) return;
    nc_cfg *ds = NULL;
    CHECK_OK(nc_cfg_get_node(cfg, "train_ds", &ds));
    nc_asr_loader_params p = nc_asr_loader_default_params();
    CHECK_OK(nc_asr_loader_params_from_cfg(ds, &p));
    /* A list stays a list (a path may hold a comma). */
    CHECK(p.manifest_filepath == NULL && p.n_manifest_filepaths == 2 && !strcmp(p.manifest_filepaths[0], "a.json") &&
          !strcmp(p.manifest_filepaths[1], "b.json"));
    CHECK(p.sample_rate == 8000 && p.batch_size == 8 && p.shuffle && p.num_workers == 3);
    CHECK(!p.use_start_end_token && !p.trim_silence && !p.skip_bad_audio);
    CHECK(p.max_duration == 16.7 && p.min_duration == 0.1);
    CHECK(p.bucketing_strategy == NC_BUCKETING_FULLY_RANDOMIZED && p.num_buckets == 4);
    CHECK(p.bucketing_batch_size == NULL && p.bucketing_batch_size_scale == 0);
    nc_asr_loader_params_clear(&p);
    CHECK(p.manifest_filepaths == NULL && p.n_manifest_filepaths == 0 && p.owned_ == NULL);

    nc_cfg *vs = NULL;
    CHECK_OK(nc_cfg_get_node(cfg, "validation_ds", &vs));
    p = nc_asr_loader_default_params();
    CHECK_OK(nc_asr_loader_params_from_cfg(vs, &p));
    CHECK(!strcmp(p.manifest_filepath, "val.json") && !p.shuffle && p.batch_size == 4 && p.max_duration < 0);
    CHECK(p.owned_ != NULL);
    nc_asr_loader_params_clear(&p);

    p = nc_asr_loader_default_params();
    CHECK_OK(nc_cfg_apply_override(cfg, "train_ds.bucketing_batch_size=[8,6,4,2]"));
    CHECK_OK(nc_asr_loader_params_from_cfg(ds, &p));
    CHECK(p.n_bucketing_batch_size == 4 && p.bucketing_batch_size && p.bucketing_batch_size[0] == 8 &&
          p.bucketing_batch_size[3] == 2);
    CHECK_OK(nc_cfg_apply_override(cfg, "train_ds.bucketing_batch_size=8"));
    CHECK_OK(nc_asr_loader_params_from_cfg(ds, &p));
    CHECK(p.bucketing_batch_size == NULL && p.bucketing_batch_size_scale == 8);
    CHECK_OK(nc_cfg_apply_override(cfg, "+train_ds.augmentor={speed: {prob: 0.3, sr: 16000, resample_type: kaiser_fast, "
                                        "min_speed_rate: 0.9, max_speed_rate: 1.1}, gain: {prob: 0.5}}"));
    CHECK_OK(nc_asr_loader_params_from_cfg(ds, &p));
    CHECK(p.n_perturb == 2 && p.perturb);
    if (p.n_perturb == 2) {
        CHECK(p.perturb[0].kind == NC_PERTURB_SPEED && p.perturb[0].prob == 0.3);
        CHECK(p.perturb[0].u.speed.num_rates == 5 && p.perturb[0].u.speed.max_speed_rate == 1.1);
        CHECK(p.perturb[1].kind == NC_PERTURB_GAIN && p.perturb[1].u.gain.min_gain_dbfs == -10);
    }
    CHECK_OK(nc_cfg_apply_override(cfg, "+train_ds.augmentor.random_segment={prob: 0.1}"));
    CHECK_ERR(nc_asr_loader_params_from_cfg(ds, &p), NC_ERR_UNSUPPORTED, "augmentor.random_segment");
    CHECK(p.owned_ == NULL);
    CHECK_OK(nc_cfg_apply_override(cfg, "~train_ds.augmentor"));

    CHECK_OK(nc_cfg_apply_override(cfg, "train_ds.is_tarred=true"));
    CHECK_ERR(nc_asr_loader_params_from_cfg(ds, &p), NC_ERR_UNSUPPORTED, "tarred datasets are not supported");
    CHECK(strstr(nc_last_error(), "train_ds") != NULL);
    CHECK_OK(nc_cfg_apply_override(cfg, "train_ds.is_tarred=false"));
    CHECK_OK(nc_cfg_apply_override(cfg, "+train_ds.batchsize=3"));
    CHECK_ERR(nc_asr_loader_params_from_cfg(ds, &p), NC_ERR_CONFIG, "batchsize");
    CHECK_OK(nc_cfg_apply_override(cfg, "~train_ds.batchsize"));
    CHECK_OK(nc_cfg_apply_override(cfg, "train_ds.bucketing_strategy=sorted"));
    CHECK_ERR(nc_asr_loader_params_from_cfg(ds, &p), NC_ERR_CONFIG, "bucketing_strategy");
    CHECK_OK(nc_cfg_apply_override(cfg, "train_ds.bucketing_strategy=synced_randomized"));
    CHECK_OK(nc_cfg_apply_override(cfg, "train_ds.manifest_filepath=[[a.json],[b.json]]"));
    CHECK_ERR(nc_asr_loader_params_from_cfg(ds, &p), NC_ERR_UNSUPPORTED, "list of lists");
    nc_cfg_free(cfg);
}

int main(void) {
    test_cfg();
    return nc_test_finish("asr_loader_cfg");
}
