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

#endif
