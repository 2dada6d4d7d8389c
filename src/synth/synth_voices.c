/* What each known TTS voice honours, for per-utterance prosody. The engines
 * take absolute F0 targets (Hz), so a shift in semitones needs the voice's
 * own mean; each value below says where it comes from. */
#include <string.h>

#include "synth/synth_internal.h"

typedef struct entry {
    nc_synth_engine engine;
    const char *name;
    nc_synth_voice_info info;
} entry;

/* flite 2.2 (Debian 12): kal sets int_f0_target_mean 95 (cmu_us_kal.c);
 * kal16, awb and slt: the median F0 of their default rendering measured
 * with an autocorrelation tracker (93, 130, 171 Hz), because each maps the
 * target onto its output mean (a target of 150-160 Hz came out within 2 Hz
 * of it). rms ignores both targets (measured: identical audio), awb_time is
 * a limited-domain voice: neither gets an F0 target.
 * festival 2.5: kal_diphone.scm and ked_diphone.scm set int_lr_params
 * target_f0_mean 105 over model_f0_mean 170 / model_f0_std 34; the HTS
 * voice reads only "-r" (speed) of hts_engine_params (fest2hts_engine.cc:
 * measured, "-fm" and int_lr_params leave its audio unchanged). */
static const entry table[] = {
    {NC_SYNTH_FLITE, "kal", {.f0_kind = NC_SYNTH_F0_FLITE, .f0_mean = 95}},
    {NC_SYNTH_FLITE, "kal16", {.f0_kind = NC_SYNTH_F0_FLITE, .f0_mean = 93}},
    {NC_SYNTH_FLITE, "awb", {.f0_kind = NC_SYNTH_F0_FLITE, .f0_mean = 130}},
    {NC_SYNTH_FLITE, "slt", {.f0_kind = NC_SYNTH_F0_FLITE, .f0_mean = 171}},
    {NC_SYNTH_FESTIVAL, "kal_diphone",
     {.f0_kind = NC_SYNTH_F0_FEST_LR, .f0_mean = 105, .model_f0_mean = 170, .model_f0_std = 34,
      .package = "festvox-kallpc16k"}},
    {NC_SYNTH_FESTIVAL, "ked_diphone",
     {.f0_kind = NC_SYNTH_F0_FEST_LR, .f0_mean = 105, .model_f0_mean = 170, .model_f0_std = 34,
      .package = "festvox-kdlpc16k"}},
    {NC_SYNTH_FESTIVAL, "cmu_us_slt_arctic_hts", {.festival_hts = 1, .package = "festvox-us-slt-hts"}},
};

nc_synth_voice_info nc_synth_voice_info_of(nc_synth_engine e, const char *name) {
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].engine == e && !strcmp(table[i].name, name)) return table[i].info;
    nc_synth_voice_info none = {.f0_kind = NC_SYNTH_F0_NONE};
    size_t n = strlen(name);
    if (e == NC_SYNTH_FESTIVAL && n >= 4 && !strcmp(name + n - 4, "_hts")) none.festival_hts = 1;
    return none;
}
