/* Shared between the synth plan, text and engine files. Not public. */
#ifndef NC_DATA_SYNTH_INTERNAL_H
#define NC_DATA_SYNTH_INTERNAL_H

#include <stdint.h>

#include "nemoc/status.h"

/* Reads a text file, normalises every line with nc_synth_normalize_text and
 * keeps the non-empty ones: *storage holds them NUL-separated, *offsets[i]
 * is line i's start. Both nc_malloc'd. */
nc_status nc_synth_load_lines(const char *path, char **storage, int64_t **offsets, int64_t *n);

/* A 64-bit seed for stream `stream` of a run seeded with `seed`
 * (splitmix64 finaliser), so texts, voices and augmentation draw from
 * independent generators: changing noise settings keeps the same texts. */
uint64_t nc_synth_stream_seed(uint64_t seed, uint64_t stream);

#endif
