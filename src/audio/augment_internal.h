/* Pieces the waveform perturbations share (not public): picking a file of a
 * noise/RIR set and NoisePerturbation's two ways of mixing noise in
 * (nemo/collections/asr/parts/preprocessing/perturb.py), used by `noise`,
 * `impulse` and `rir_noise_aug`. */
#ifndef NC_AUDIO_AUGMENT_INTERNAL_H
#define NC_AUDIO_AUGMENT_INTERNAL_H

#include "nemoc/augment.h"

/* read_one_audiosegment: one entry drawn uniformly (its index to *index when
 * not NULL), read at sample rate sr. */
nc_status nc_noise_set_pick(const nc_noise_set *s, nc_rng *rng, int sr, nc_audio *out, int64_t *index);

/* NoisePerturbation.perturb_with_input_noise: snr ~ U[min, max] (to *drawn),
 * a segment of the noise as long as a (start ~ U[0, noise_dur - dur]), scaled
 * by min(data_db - rms_db(segment) - snr, max_gain_db) dB and added; a noise
 * shorter than a goes in at a random position. data_db is the level to match
 * (rir_noise_aug passes the level before any noise went in). */
nc_status nc_noise_add_input(nc_audio *a, const nc_audio *noise, double data_db, double min_snr_db,
                             double max_snr_db, double max_gain_db, nc_rng *rng, double *drawn);

/* One addition of NoisePerturbation.perturb_with_foreground_noise: the noise
 * samples [*s0, *s0 + *len) for a piece dur_s long starting at start_s
 * (int(round(t * sr)) with Python's round half to even, the end clipped to the
 * noise), cut to the data's length n_data. */
void nc_noise_fg_segment(int64_t noise_n, int sr, int64_t n_data, double dur_s, double start_s, int64_t *s0,
                         int64_t *len);

#endif
