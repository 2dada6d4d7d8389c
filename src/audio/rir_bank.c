/* A bank of simulated RIRs: rooms drawn from ranges (one generator per RIR),
 * each simulated by the image method (rir_image.c) and written as a float
 * WAV, plus the NeMo manifest that ImpulsePerturbation reads
 * (nemo/collections/asr/parts/preprocessing/perturb.py: audio_filepath and
 * duration of each line, as collections.ASRAudioText parses it). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/audio.h"
#include "nemoc/rir.h"
#include "nemoc/rng.h"

#define BANK_MAX_TRIES 1000 /* room and source redraws; a bank whose ranges never fit fails, naming them */

nc_rir_bank_params nc_rir_bank_default_params(void) {
    return (nc_rir_bank_params){
        .num_rirs = 100,
        .seed = 0,
        .sample_rate = 16000,
        .length = {3, 10},
        .width = {3, 8},
        .height = {2.5, 4},
        .rt60 = {0.15, 0.9},
        .distance = {0.5, 3},
        .wall_margin = 0.5,
        .sound_speed = 343,
    };
}

static nc_status check_range(const char *key, const double r[2], double lo, double hi) {
    if (!(isfinite(r[0]) && isfinite(r[1]) && r[0] >= lo && r[1] <= hi && r[0] <= r[1]))
        return nc_error(NC_ERR_CONFIG, "%s: [%g, %g] must satisfy %g <= min <= max <= %g", key, r[0], r[1], lo, hi);
    return NC_OK;
}

static nc_status check_params(const nc_rir_bank_params *p) {
    nc_status s;
    if (p->num_rirs < 1 || p->num_rirs > 1000000)
        return nc_error(NC_ERR_CONFIG, "num_rirs: %lld must be in [1, 1000000]", (long long)p->num_rirs);
    if (p->sample_rate < 1000 || p->sample_rate > 192000)
        return nc_error(NC_ERR_CONFIG, "sample_rate: %d must be in [1000, 192000]", p->sample_rate);
    if (!(p->sound_speed > 100 && p->sound_speed < 2000))
        return nc_error(NC_ERR_CONFIG, "sound_speed: %g m/s must be in (100, 2000)", p->sound_speed);
    if (!(p->wall_margin >= 0.01 && p->wall_margin <= 10))
        return nc_error(NC_ERR_CONFIG, "wall_margin: %g m must be in [0.01, 10]", p->wall_margin);
    if ((s = check_range("length", p->length, 2 * p->wall_margin + 0.01, 1000)) ||
        (s = check_range("width", p->width, 2 * p->wall_margin + 0.01, 1000)) ||
        (s = check_range("height", p->height, 2 * p->wall_margin + 0.01, 1000)) ||
        (s = check_range("rt60", p->rt60, 0.01, 10)) || (s = check_range("distance", p->distance, 0.01, 1000)))
        return s;
    return NC_OK;
}

static double uniform(nc_rng *g, const double r[2]) { return r[0] + (r[1] - r[0]) * nc_rng_double(g); }

/* splitmix64 of (seed, index): RIR i has its own stream. */
static uint64_t stream_seed(uint64_t seed, int64_t index) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * ((uint64_t)index + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

nc_status nc_rir_bank_room(const nc_rir_bank_params *p, int64_t index, nc_rir_room *out) {
    if (!p || !out || index < 0) return nc_error(NC_ERR_INVALID_ARG, "nc_rir_bank_room: bad arguments");
    nc_status s = check_params(p);
    if (s) return s;
    nc_rng g;
    nc_rng_seed(&g, stream_seed(p->seed, index));
    nc_rir_room r = {.sample_rate = p->sample_rate, .sound_speed = p->sound_speed};
    const double m = p->wall_margin;
    /* the room, then an RT60 that Sabine allows it (alpha <= 0.95: some reverberation stays) */
    double rt_lo = 0;
    int tries = 0;
    for (; tries < BANK_MAX_TRIES; tries++) {
        r.size[0] = uniform(&g, p->length), r.size[1] = uniform(&g, p->width), r.size[2] = uniform(&g, p->height);
        const double *L = r.size;
        const double V = L[0] * L[1] * L[2], S = 2 * (L[0] * L[1] + L[0] * L[2] + L[1] * L[2]);
        rt_lo = fmax(p->rt60[0], 24 * log(10.0) / p->sound_speed * V / (S * 0.95));
        if (rt_lo <= p->rt60[1]) break;
    }
    if (tries == BANK_MAX_TRIES)
        return nc_error(NC_ERR_CONFIG,
                        "rt60: [%g, %g] s is shorter than Sabine allows the rooms drawn from length/width/height; "
                        "raise rt60 or make the rooms smaller",
                        p->rt60[0], p->rt60[1]);
    r.rt60 = rt_lo + (p->rt60[1] - rt_lo) * nc_rng_double(&g);
    for (int d = 0; d < 3; d++) r.mic[d] = m + (r.size[d] - 2 * m) * nc_rng_double(&g);
    /* source: distance and a uniform direction (z = cos of the polar angle uniform), redrawn
     * until inside the margin; the distance shrinks every 100 tries so a small room still fits */
    double dist = uniform(&g, p->distance);
    for (tries = 0;; tries++) {
        if (tries == BANK_MAX_TRIES)
            return nc_error(NC_ERR_CONFIG, "distance: no source position %g m from the microphone fits room %lld",
                            dist, (long long)index);
        if (tries && tries % 100 == 0) dist *= 0.8;
        const double z = 2 * nc_rng_double(&g) - 1, phi = 2 * M_PI * nc_rng_double(&g), rho = sqrt(1 - z * z);
        const double dir[3] = {rho * cos(phi), rho * sin(phi), z};
        bool inside = true;
        for (int d = 0; d < 3; d++) {
            r.src[d] = r.mic[d] + dist * dir[d];
            inside = inside && r.src[d] >= m && r.src[d] <= r.size[d] - m;
        }
        if (inside) break;
    }
    *out = r;
    return NC_OK;
}

nc_status nc_rir_bank_write(const nc_rir_bank_params *p, const char *out_dir, nc_rir_progress_fn progress,
                            void *user_data) {
    if (!p || !out_dir || !out_dir[0]) return nc_error(NC_ERR_INVALID_ARG, "nc_rir_bank_write: out_dir is required");
    nc_status s = check_params(p);
    if (s) return s;
    if ((s = nc_mkdir_p(out_dir))) return nc_error_prefix(s, "out_dir");
    const size_t plen = strlen(out_dir) + 64;
    char *path = nc_malloc(plen), *tmp = nc_malloc(plen);
    if (!path || !tmp) {
        nc_free(path), nc_free(tmp);
        return nc_error(NC_ERR_OOM, "rir bank");
    }
    /* the manifest goes through a temporary name, so a failed run leaves no half manifest under the real one */
    snprintf(tmp, plen, "%s/rir_manifest.json.tmp", out_dir);
    FILE *man = fopen(tmp, "w");
    if (!man) s = nc_error(NC_ERR_IO, "%s: cannot write", tmp);
    for (int64_t i = 0; !s && i < p->num_rirs; i++) {
        nc_rir_room r;
        float *h = NULL;
        int64_t n = 0;
        if ((s = nc_rir_bank_room(p, i, &r)) || (s = nc_rir_image(&r, &h, &n))) {
            s = nc_error_prefix(s, "rir %lld", (long long)i);
            break;
        }
        char name[32];
        snprintf(name, sizeof name, "rir_%05lld.wav", (long long)i);
        snprintf(path, plen, "%s/%s", out_dir, name);
        s = nc_audio_write_wav(path, h, n, 1, p->sample_rate, NC_WAV_FLOAT);
        nc_free(h);
        if (s) break;
        double dist = 0;
        for (int d = 0; d < 3; d++) dist += (r.src[d] - r.mic[d]) * (r.src[d] - r.mic[d]);
        if (fprintf(man,
                    "{\"audio_filepath\": \"%s\", \"duration\": %.10g, \"rt60\": %.4f, \"distance\": %.4f, "
                    "\"room\": [%.3f, %.3f, %.3f]}\n",
                    name, (double)n / p->sample_rate, r.rt60, sqrt(dist), r.size[0], r.size[1], r.size[2]) < 0)
            s = nc_error(NC_ERR_IO, "%s: write failed", tmp);
        if (!s && progress) progress(i + 1, p->num_rirs, user_data);
    }
    if (man && fclose(man) && !s) s = nc_error(NC_ERR_IO, "%s: write failed", tmp);
    snprintf(path, plen, "%s/rir_manifest.json", out_dir);
    if (!s && rename(tmp, path)) s = nc_error(NC_ERR_IO, "%s: cannot rename to %s", tmp, path);
    if (s && man) remove(tmp);
    nc_free(path), nc_free(tmp);
    return s;
}
