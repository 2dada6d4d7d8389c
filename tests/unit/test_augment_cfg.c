/* train_ds.augmentor as nemoc reads it (asr_loader_cfg.c): the keys of
 * shift, impulse, resample, transcode_aug, time_stretch and noise, and bad
 * values named by key when the config is read (not mid-training). The
 * loader's determinism with these steps is in test_asr_loader.c. */
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/asr_data.h"
#include "nemoc/augment.h"
#include "nemoc/config.h"

/* The augmentor keys of the waveform perturbations, and their
 * bad values named by key at config time. */
static void test_augmentor_keys(void) {
    static const char YAML[] = "train_ds:\n  manifest_filepath: train.json\n  sample_rate: 16000\n";
    nc_cfg *cfg = NULL, *ds = NULL;
    CHECK_OK(nc_cfg_parse(YAML, sizeof YAML - 1, "conf.yaml", &cfg));
    CHECK_OK(nc_cfg_get_node(cfg, "train_ds", &ds));
    if (!ds) return;
    char ov[4096];
    snprintf(ov, sizeof ov,
             "+train_ds.augmentor={shift: {prob: 0.4, min_shift_ms: -20, max_shift_ms: 30}, impulse: {prob: 0.3, "
             "manifest_path: '%s', shift_impulse: true}, resample: {prob: 0.2}, transcode_aug: {prob: 0.1, codecs: "
             "[mulaw, ogg]}, time_stretch: {prob: 0.5, num_rates: -1, n_fft: 256}, noise: {prob: 0.5, "
             "manifest_path: '%s', min_snr_db: 5}}",
             nc_test_src("tests/ref/augment_wave/rir_manifest.json"), /* a noise manifest too: same format */
             nc_test_src("tests/ref/augment_wave/rir_manifest.json"));
    CHECK_OK(nc_cfg_apply_override(cfg, ov));
    nc_asr_loader_params p = nc_asr_loader_default_params();
    CHECK_OK(nc_asr_loader_params_from_cfg(ds, &p));
    CHECK(p.n_perturb == 6);
    if (p.n_perturb == 6) {
        CHECK(p.perturb[5].kind == NC_PERTURB_NOISE && p.perturb[5].u.noise.min_snr_db == 5 &&
              p.perturb[5].u.noise.max_snr_db == 50 && nc_noise_set_size(p.perturb[5].u.noise.noise) == 1);
        CHECK(p.perturb[4].kind == NC_PERTURB_TIME_STRETCH && p.perturb[4].u.time_stretch.num_rates == -1 &&
              p.perturb[4].u.time_stretch.n_fft == 256 && p.perturb[4].u.time_stretch.min_speed_rate == 0.9);
        CHECK(p.perturb[0].kind == NC_PERTURB_SHIFT && p.perturb[0].u.shift.max_shift_ms == 30);
        CHECK(p.perturb[1].kind == NC_PERTURB_IMPULSE && p.perturb[1].u.impulse.shift_impulse &&
              !p.perturb[1].u.impulse.normalize_impulse && nc_noise_set_size(p.perturb[1].u.impulse.rirs) == 1);
        CHECK(p.perturb[2].kind == NC_PERTURB_RESAMPLE && p.perturb[2].u.resample.target_sr == 8000);
        CHECK(p.perturb[3].kind == NC_PERTURB_TRANSCODE && p.perturb[3].u.transcode.n_codecs == 2 &&
              p.perturb[3].u.transcode.codecs[1] == NC_CODEC_OGG);
    }
    nc_asr_loader_params_clear(&p);
    static const struct {
        const char *override, *needle;
    } bad[] = {
        {"train_ds.augmentor.shift.prob=1.5", "prob"},
        {"train_ds.augmentor.shift.prob=-0.1", "prob"},
        {"train_ds.augmentor.shift.min_shift_ms=40", "min_shift_ms"},
        {"train_ds.augmentor.impulse.manifest_path=/nonexistent/rirs.json", "rirs.json"},
        {"train_ds.augmentor.transcode_aug.codecs=[g711,amr-nb]", "amr-nb"},
        {"train_ds.augmentor.transcode_aug.codecs=[mp9]", "mp9"},
        {"+train_ds.augmentor.resample.target_sr=10", "target_sr"},
        {"train_ds.augmentor.time_stretch.prob=2", "time_stretch.prob"},
        {"+train_ds.augmentor.time_stretch.min_speed_rate=1.3", "min_speed_rate"},
        {"train_ds.augmentor.time_stretch.num_rates=0", "num_rates"},
        {"train_ds.augmentor.time_stretch.n_fft=255", "n_fft"},
        {"train_ds.augmentor.noise.min_snr_db=60", "min_snr_db"},
        {"train_ds.augmentor.noise.manifest_path=/nonexistent/noise.json", "noise.json"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        /* each bad value on top of the good augmentor */
        CHECK_OK(nc_cfg_apply_override(cfg, "~train_ds.augmentor"));
        CHECK_OK(nc_cfg_apply_override(cfg, ov));
        CHECK_OK(nc_cfg_apply_override(cfg, bad[i].override));
        p = nc_asr_loader_default_params();
        CHECK(nc_asr_loader_params_from_cfg(ds, &p) != NC_OK);
        if (!strstr(nc_last_error(), bad[i].needle) || !strstr(nc_last_error(), "augmentor"))
            nc_test_fail(__FILE__, __LINE__, "%s: error does not name '%s': %s", bad[i].override, bad[i].needle,
                         nc_last_error());
        printf("  %-58s -> %s\n", bad[i].override, nc_last_error());
    }
    nc_cfg_free(cfg);
}

int main(void) {
    test_augmentor_keys();
    return nc_test_finish("augment_cfg");
}
