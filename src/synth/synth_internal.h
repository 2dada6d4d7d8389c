/* Shared between the synth plan, text and engine files. Not public. */
#ifndef NC_DATA_SYNTH_INTERNAL_H
#define NC_DATA_SYNTH_INTERNAL_H

#include <stdint.h>

#include "nemoc/status.h"
#include "nemoc/synth.h"

/* Reads a text file, normalises every line with nc_synth_normalize_text and
 * keeps the non-empty ones: *storage holds them NUL-separated, *offsets[i]
 * is line i's start. Both nc_malloc'd. */
nc_status nc_synth_load_lines(const char *path, char **storage, int64_t **offsets, int64_t *n);

/* A 64-bit seed for stream `stream` of a run seeded with `seed`
 * (splitmix64 finaliser), so texts, voices and augmentation draw from
 * independent generators: changing noise settings keeps the same texts. */
uint64_t nc_synth_stream_seed(uint64_t seed, uint64_t stream);

/* What the synthesizer knows about a voice beyond its name. */
typedef enum nc_synth_f0_kind {
    NC_SYNTH_F0_NONE = 0,     /* no F0 target honoured (or an unknown voice): its own F0 */
    NC_SYNTH_F0_FLITE = 1,    /* flite int_f0_target_mean / int_f0_target_stddev */
    NC_SYNTH_F0_FEST_LR = 2,  /* festival Int_Targets_LR: int_lr_params target_f0_mean / _std */
} nc_synth_f0_kind;

typedef struct nc_synth_voice_info {
    nc_synth_f0_kind f0_kind;
    double f0_mean;          /* Hz: the voice's own mean F0, the base of f0_shift */
    double model_f0_mean, model_f0_std; /* festival LR voices: their int_lr_params model values */
    int festival_hts;        /* festival HTS voice: its speed is hts_engine_params "-r" */
    const char *package;     /* Debian package of a festival voice; NULL if unknown */
} nc_synth_voice_info;

/* The table entry of a voice; unknown names get {NC_SYNTH_F0_NONE} (and a
 * festival name ending in "_hts" is taken for an HTS voice). */
nc_synth_voice_info nc_synth_voice_info_of(nc_synth_engine e, const char *name);

/* festival's Scheme forms for utterance i, in the order they run: the voice
 * function, the rate (Duration_Stretch, or an HTS voice's speed) and, for
 * Int_Targets_LR voices with an F0 target, int_lr_params. Returns how many
 * (2 or 3). text2wave gets them as -eval arguments, a batch script as
 * lines, so both paths set the same prosody. */
int nc_synth_festival_evals(const nc_synth_plan *plan, int64_t i, char forms[3][160]);

/* Writes utterance i's text (one line) to wav_path + ".txt", festival's
 * input; *txt (nc_malloc'd, also on failure) is that path. */
nc_status nc_synth_write_text(const nc_synth_plan *plan, int64_t i, const char *wav_path, char **txt);

/* The steps after the engine: reads (then removes) the engine's WAV `tmp`,
 * resamples with the utterance's speed, applies its gain and noise, writes
 * `out` (16-bit). `cmd` names the engine run in errors. */
nc_status nc_synth_finish(const nc_synth_plan *plan, int64_t i, const char *tmp, const char *out,
                          const char *cmd, double *duration);

/* Prefixes an error with "utterance 12 (flite:slt, \"turn left\")". */
nc_status nc_synth_fail_utt(const nc_synth_plan *plan, int64_t i, nc_status st);

/* Renders utterances idx[0..n) (all of one festival voice) with one festival
 * process: writes their text files and a Scheme script into tmp_dir, runs
 * `festival --script`, then finishes each WAV as nc_synth_render would,
 * giving the same bytes. durations[idx[k]] receives each duration; on a
 * failure *failed is the utterance named in the error (else -1). */
nc_status nc_synth_render_festival_batch(const nc_synth_plan *plan, const int64_t *idx, int64_t n,
                                         const char *tmp_dir, const char *out_dir, double *durations,
                                         int64_t *failed);

#endif
