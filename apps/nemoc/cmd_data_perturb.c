/* `nemoc data perturb`: a copy of a manifest passed through a NeMo augmentor
 * pipeline (degraded-channel test sets: telephone band, codec, noise, room). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "core/strbuf.h"
#include "nemoc/alloc.h"
#include "nemoc/asr_data.h"
#include "nemoc/config.h"
#include "nemoc/log.h"

static void usage(FILE *f) {
    fputs("usage: nemoc data perturb input_manifest=IN.json output_dir=DIR [seed=0] [sample_rate=16000]\n"
          "                          augmentor.NAME.KEY=VALUE ...\n\n"
          "Writes DIR/audio/NNNNNN.wav and DIR/manifest.json: every utterance of IN.json passed\n"
          "through the `augmentor` of a NeMo dataset config (model.train_ds.augmentor), with the same\n"
          "perturbations and keys the training loader uses (docs/augmentation.md). Give prob=1.0 to\n"
          "apply a step to every utterance. Utterance i draws from (seed, i): the same output for any\n"
          "thread count. The other manifest keys (text, speaker, ...) are kept.\n\n"
          "examples (the degraded channels of the demo's evaluation):\n"
          "  telephone band:  augmentor.resample.prob=1.0 augmentor.resample.target_sr=8000\n"
          "  codec:           augmentor.transcode_aug.prob=1.0 'augmentor.transcode_aug.codecs=[mulaw]'\n"
          "  noise at 10 dB:  augmentor.noise.prob=1.0 augmentor.noise.manifest_path=noise.json\n"
          "                   augmentor.noise.min_snr_db=10 augmentor.noise.max_snr_db=10\n"
          "  reverberation:   augmentor.impulse.prob=1.0 augmentor.impulse.manifest_path=rirs.json\n",
          f);
}


int nc_cmd_data_perturb(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    uint64_t seed = 0;
    nc_cfg *ds = NULL;
    int rc = 2;
    if (nc_cfg_new(NC_CFG_MAP, &ds)) goto fail;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            nc_cfg_free(ds);
            return 0;
        }
        if (!eq || eq == a) {
            fprintf(stderr, "nemoc data perturb: expected key=value, got '%s' (see --help)\n", a);
            goto done;
        }
        if (!strncmp(a, "input_manifest=", 15)) {
            in = eq + 1;
        } else if (!strncmp(a, "output_dir=", 11)) {
            out = eq + 1;
        } else if (!strncmp(a, "seed=", 5)) {
            char *end = NULL;
            unsigned long long v = strtoull(eq + 1, &end, 10);
            if (!eq[1] || *end || eq[1] == '-') {
                fprintf(stderr, "nemoc data perturb: seed='%s': expected a non-negative integer\n", eq + 1);
                goto done;
            }
            seed = v;
        } else if (!strncmp(a, "sample_rate=", 12) || !strncmp(a, "augmentor.", 10)) {
            char *ov = nc_strdupf("++%s", a);
            nc_status s = ov ? nc_cfg_apply_override(ds, ov) : nc_error(NC_ERR_OOM, "arguments");
            nc_free(ov);
            if (s) goto fail;
        } else {
            fprintf(stderr, "nemoc data perturb: unknown argument '%.*s' (see --help)\n", (int)(eq - a), a);
            goto done;
        }
    }
    if (!in || !*in || !out || !*out) {
        fprintf(stderr, "nemoc data perturb: need input_manifest= and output_dir= (see --help)\n");
        goto done;
    }
    char *ov = nc_strdupf("++manifest_filepath=%s", in);
    nc_status s = ov ? nc_cfg_apply_override(ds, ov) : nc_error(NC_ERR_OOM, "arguments");
    nc_free(ov);
    if (s) goto fail;
    nc_count_progress ps;
    nc_count_progress_init(&ps, "perturb", "utterances");
    nc_manifest_perturb_params p = {.in_manifest = in, .out_dir = out, .dataset = ds, .seed = seed,
                                    .progress = nc_count_progress_fn, .user_data = &ps};
    nc_manifest_perturb_stats st;
    if ((s = nc_manifest_perturb(&p, &st))) {
        rc = s == NC_ERR_CONFIG || s == NC_ERR_INVALID_ARG ? 2 : 1;
        fprintf(stderr, "nemoc data perturb: %s\n", nc_last_error());
        goto done;
    }
    printf("wrote %lld utterances (%.2f hours) -> %s/manifest.json\n", (long long)st.n_utts, st.seconds / 3600,
           out);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "nemoc data perturb: %s\n", nc_last_error());
    rc = 2;
done:
    nc_cfg_free(ds);
    return rc;
}
