/* Simulated room impulse responses: the image method for a shoebox room
 * (Allen & Berkley, "Image method for efficiently simulating small-room
 * acoustics", JASA 65(4), 1979), as pyroomacoustics and gpuRIR build them,
 * and a bank of them written as WAV files with a NeMo RIR manifest that
 * ImpulsePerturbation (`augmentor.impulse.manifest_path`) and
 * RirAndNoisePerturbation (`rir_manifest_path`) read directly.
 *
 * - Every wall reflects with the same pressure coefficient beta =
 *   sqrt(1 - alpha); the energy absorption alpha comes from Sabine's formula
 *   RT60 = 24 ln(10) V / (c S alpha) (pyroomacoustics.inverse_sabine).
 * - Each image arrives at a fractional delay, placed with Peterson's
 *   Hann-windowed sinc low-pass (JASA 80(5), 1986: 4 ms window), so the RIR is
 *   band-limited rather than rounded to whole samples (no aliasing).
 * - The DC the image sum leaves is removed by Allen & Berkley's 100 Hz
 *   high-pass (two zeros at DC, two poles at exp(-2 pi 100 / fs)). */
#ifndef NEMOC_RIR_H
#define NEMOC_RIR_H

#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One room: size, source and microphone positions (metres, inside the room),
 * the wanted RT60 (seconds) and the sampling rate. */
typedef struct nc_rir_room {
    double size[3]; /* length, width, height */
    double src[3];
    double mic[3];
    double rt60;
    int sample_rate;
    double sound_speed; /* 343 m/s */
} nc_rir_room;

/* Sabine's energy absorption of every wall for the room's RT60; more than 1
 * (the RT60 is shorter than the room allows) is NC_ERR_INVALID_ARG. */
nc_status nc_rir_sabine_absorption(const nc_rir_room *r, double *alpha);

/* The room's impulse response, (n,) floats at r->sample_rate, malloc'd (free
 * with nc_free): every image up to a path of c * (direct delay + RT60), so the
 * response lasts until it has decayed by 60 dB. */
nc_status nc_rir_image(const nc_rir_room *r, float **out, int64_t *n);

/* RT60 measured from h (n,) by Schroeder's backward integration (JASA 37,
 * 1965): a least-squares line through the energy decay curve from -5 dB to
 * -25 dB, extrapolated to 60 dB (T20). NC_ERR_INVALID_ARG when the curve
 * never reaches -25 dB. */
nc_status nc_rir_rt60_schroeder(const float *h, int64_t n, int sample_rate, double *rt60);

/* A bank of rooms drawn from ranges, each from its own generator (seed,
 * index), so RIR i is the same whatever else is drawn. */
typedef struct nc_rir_bank_params {
    int64_t num_rirs;     /* 100 */
    uint64_t seed;        /* 0 */
    int sample_rate;      /* 16000 */
    double length[2];     /* room length range, m: [3, 10] */
    double width[2];      /* [3, 8] */
    double height[2];     /* [2.5, 4] */
    double rt60[2];       /* [0.15, 0.9] s */
    double distance[2];   /* source-microphone distance, [0.5, 3] m */
    double wall_margin;   /* source and microphone at least this far from every wall: 0.5 m */
    double sound_speed;   /* 343 m/s */
} nc_rir_bank_params;

nc_rir_bank_params nc_rir_bank_default_params(void);

/* Room i of the bank: size uniform in the ranges, RT60 uniform in
 * [max(rt60[0], what Sabine allows the room), rt60[1]] (a room too large for
 * the whole range is drawn again), microphone uniform at wall_margin from the
 * walls, source at a distance uniform in the range in a uniform direction
 * (drawn again until it is inside the margin; the distance is shrunk when the
 * room cannot hold it). Ranges are checked, naming the key. */
nc_status nc_rir_bank_room(const nc_rir_bank_params *p, int64_t index, nc_rir_room *out);

/* Writes out_dir/rir_NNNNN.wav (32-bit float) for every room of the bank and
 * out_dir/rir_manifest.json, one line per RIR in NeMo's manifest format
 * ({"audio_filepath": "rir_00000.wav", "duration": ..., plus the room's
 * "rt60", "distance", "room"}), audio_filepath relative to the manifest.
 * progress (may be NULL) is called after each RIR. */
typedef void (*nc_rir_progress_fn)(int64_t done, int64_t total, void *user_data);
nc_status nc_rir_bank_write(const nc_rir_bank_params *p, const char *out_dir, nc_rir_progress_fn progress,
                            void *user_data);

#ifdef __cplusplus
}
#endif
#endif
