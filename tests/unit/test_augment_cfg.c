/* train_ds.augmentor as nemoc reads it (asr_augment_cfg.c): the keys of
 * shift, impulse, resample, transcode_aug, time_stretch, noise, rir_noise_aug
 * and vtlp, and bad
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

/* rir_noise_aug (RirAndNoisePerturbation's keys: per-manifest lists, one set
 * per orig_sample_rate, tar paths refused) and vtlp. */
static void test_rir_noise_vtlp_keys(void) {
    static const char YAML[] = "train_ds:\n  manifest_filepath: train.json\n  sample_rate: 16000\n";
    nc_cfg *cfg = NULL, *ds = NULL;
    CHECK_OK(nc_cfg_parse(YAML, sizeof YAML - 1, "conf.yaml", &cfg));
    CHECK_OK(nc_cfg_get_node(cfg, "train_ds", &ds));
    if (!ds) return;
    char rir[1024], fg[1024], bg[1024], ov[8192];
    snprintf(rir, sizeof rir, "%s", nc_test_src("tests/ref/augment_rir_noise/rir_manifest.json"));
    snprintf(fg, sizeof fg, "%s", nc_test_src("tests/ref/augment_rir_noise/fg.json"));
    snprintf(bg, sizeof bg, "%s", nc_test_src("tests/ref/augment_rir_noise/bg.json"));
    snprintf(ov, sizeof ov,
             "+train_ds.augmentor={rir_noise_aug: {prob: 0.5, rir_manifest_path: '%s', rir_prob: 0.4, "
             "noise_manifest_paths: ['%s', '%s'], min_snr_db: [1, 2], max_snr_db: [11, 12], orig_sample_rate: "
             "[8000, 16000], noise_tar_filepaths: [null, null], bg_noise_manifest_paths: '%s', bg_min_snr_db: 3, "
             "max_additions: 2, max_duration: 1.5, apply_noise_rir: true, rir_tar_filepaths: null}, "
             "vtlp: {prob: 0.3, min_warp: 0.85, f_hi: 5000}}",
             rir, fg, bg, bg);
    CHECK_OK(nc_cfg_apply_override(cfg, ov));
    nc_asr_loader_params p = nc_asr_loader_default_params();
    CHECK_OK(nc_asr_loader_params_from_cfg(ds, &p));
    CHECK(p.n_perturb == 2);
    if (p.n_perturb == 2) {
        const nc_rir_noise_perturb *r = &p.perturb[0].u.rir_noise;
        CHECK(p.perturb[0].kind == NC_PERTURB_RIR_NOISE && p.perturb[0].prob == 0.5);
        CHECK(r->rir_prob == 0.4 && r->noise_prob == 1.0 && r->bg_noise_prob == 1.0 && r->apply_noise_rir);
        CHECK(r->max_additions == 2 && r->max_duration == 1.5 && nc_noise_set_size(r->rirs) == 1);
        CHECK(r->n_fg == 2 && r->fg[0].orig_sr == 8000 && r->fg[1].orig_sr == 16000 && r->fg[0].min_snr_db == 1 &&
              r->fg[1].max_snr_db == 12 && r->fg[0].set && r->fg[1].set && r->fg[0].set != r->fg[1].set);
        /* bg defaults: orig_sr 16000 (NeMo's when orig_sample_rate is absent), bg_max_snr_db 50 */
        CHECK(r->n_bg == 1 && r->bg[0].orig_sr == 16000 && r->bg[0].min_snr_db == 3 && r->bg[0].max_snr_db == 50);
        const nc_vtlp_perturb *v = &p.perturb[1].u.vtlp;
        CHECK(p.perturb[1].kind == NC_PERTURB_VTLP && v->min_warp == 0.85 && v->max_warp == 1.1 && v->f_hi == 5000 &&
              v->n_fft == 512);
    }
    nc_asr_loader_params_clear(&p);
    /* Two manifests of one orig_sample_rate: the later replaces the earlier, as NeMo's dict */
    CHECK_OK(nc_cfg_apply_override(cfg, "train_ds.augmentor.rir_noise_aug.orig_sample_rate=[16000,16000]"));
    p = nc_asr_loader_default_params();
    CHECK_OK(nc_asr_loader_params_from_cfg(ds, &p));
    if (p.n_perturb == 2) {
        const nc_rir_noise_perturb *r = &p.perturb[0].u.rir_noise;
        CHECK(r->n_fg == 1 && r->fg[0].min_snr_db == 2 && r->fg[0].max_snr_db == 12);
    }
    nc_asr_loader_params_clear(&p);
    static const struct {
        const char *override, *needle;
    } bad[] = {
        {"train_ds.augmentor.rir_noise_aug.prob=1.5", "prob"},
        {"train_ds.augmentor.rir_noise_aug.rir_prob=2", "rir_prob"},
        {"+train_ds.augmentor.rir_noise_aug.noise_prob=-0.1", "noise_prob"},
        {"+train_ds.augmentor.rir_noise_aug.bg_noise_prob=1.2", "bg_noise_prob"},
        {"train_ds.augmentor.rir_noise_aug.min_snr_db=[30,2]", "min_snr_db"},
        {"train_ds.augmentor.rir_noise_aug.min_snr_db=[1]", "min_snr_db"},
        {"train_ds.augmentor.rir_noise_aug.bg_min_snr_db=60", "bg_min_snr_db"},
        {"train_ds.augmentor.rir_noise_aug.rir_manifest_path=/nonexistent/rirs.json", "rirs.json"},
        {"~train_ds.augmentor.rir_noise_aug.rir_manifest_path", "rir_manifest_path"},
        {"train_ds.augmentor.rir_noise_aug.noise_manifest_paths=[/nonexistent/fgn.json,x.json]", "fgn.json"},
        {"train_ds.augmentor.rir_noise_aug.noise_tar_filepaths=[a.tar,null]", "noise_tar_filepaths"},
        {"train_ds.augmentor.rir_noise_aug.rir_tar_filepaths=r.tar", "rir_tar_filepaths"},
        {"+train_ds.augmentor.rir_noise_aug.bg_noise_tar_filepaths=[b.tar]", "bg_noise_tar_filepaths"},
        {"train_ds.augmentor.rir_noise_aug.max_additions=0", "max_additions"},
        {"+train_ds.augmentor.rir_noise_aug.shuffle=true", "shuffle"},
        {"train_ds.augmentor.vtlp.min_warp=1.2", "min_warp"},
        {"train_ds.augmentor.vtlp.f_hi=9000", "f_hi"},
        {"+train_ds.augmentor.vtlp.n_fft=510", "n_fft"},
        {"train_ds.augmentor.vtlp.prob=2", "vtlp.prob"},
        {"+train_ds.augmentor.vtlp.alpha=1", "alpha"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_OK(nc_cfg_apply_override(cfg, "~train_ds.augmentor"));
        CHECK_OK(nc_cfg_apply_override(cfg, ov));
        CHECK_OK(nc_cfg_apply_override(cfg, bad[i].override));
        p = nc_asr_loader_default_params();
        CHECK(nc_asr_loader_params_from_cfg(ds, &p) != NC_OK);
        if (!strstr(nc_last_error(), bad[i].needle) || !strstr(nc_last_error(), "augmentor"))
            nc_test_fail(__FILE__, __LINE__, "%s: error does not name '%s': %s", bad[i].override, bad[i].needle,
                         nc_last_error());
        printf("  %-66s -> %s\n", bad[i].override, nc_last_error());
    }
    nc_cfg_free(cfg);
}

int main(void) {
    test_augmentor_keys();
    test_rir_noise_vtlp_keys();
    return nc_test_finish("augment_cfg");
}
