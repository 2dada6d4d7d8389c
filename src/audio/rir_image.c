/* The image method for a shoebox room (Allen & Berkley 1979), with
 * Peterson's (1986) windowed-sinc fractional delays and Allen & Berkley's
 * DC high-pass; Schroeder's backward integration to measure RT60. The
 * equations follow the paper's; the sum over images is organised as in
 * pyroomacoustics' and gpuRIR's shoebox engines (both read, none copied). */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/rir.h"

#define RIR_TAB_OS 256 /* window-sinc table points per sample; linear interpolation between them */

static nc_status check_room(const nc_rir_room *r) {
    if (!r) return nc_error(NC_ERR_INVALID_ARG, "rir: NULL room");
    if (!(r->sample_rate > 0 && r->sound_speed > 0 && isfinite(r->sound_speed)))
        return nc_error(NC_ERR_INVALID_ARG, "rir: sample_rate %d and sound_speed %g must be > 0", r->sample_rate,
                        r->sound_speed);
    if (!(r->rt60 > 0 && r->rt60 <= 10))
        return nc_error(NC_ERR_INVALID_ARG, "rir: rt60 %g s must be in (0, 10]", r->rt60);
    static const char *const ax = "xyz";
    for (int d = 0; d < 3; d++) {
        if (!(r->size[d] > 0 && r->size[d] <= 1000))
            return nc_error(NC_ERR_INVALID_ARG, "rir: room size %c = %g m must be in (0, 1000]", ax[d], r->size[d]);
        if (!(r->src[d] > 0 && r->src[d] < r->size[d]) || !(r->mic[d] > 0 && r->mic[d] < r->size[d]))
            return nc_error(NC_ERR_INVALID_ARG, "rir: source %c = %g or microphone %c = %g is outside the room (0, %g)",
                            ax[d], r->src[d], ax[d], r->mic[d], r->size[d]);
    }
    return NC_OK;
}

nc_status nc_rir_sabine_absorption(const nc_rir_room *r, double *alpha) {
    nc_status s = check_room(r);
    if (s) return s;
    const double *L = r->size;
    const double V = L[0] * L[1] * L[2], S = 2 * (L[0] * L[1] + L[0] * L[2] + L[1] * L[2]);
    /* Sabine: RT60 = 24 ln(10) / c * V / (S alpha) (0.161 V / (S alpha) at 343 m/s) */
    const double a = 24 * log(10.0) / r->sound_speed * V / (S * r->rt60);
    if (a > 1)
        return nc_error(NC_ERR_INVALID_ARG,
                        "rir: rt60 %g s is shorter than a %gx%gx%g m room allows (Sabine's absorption %.3g > 1; the "
                        "shortest is %.3g s)",
                        r->rt60, L[0], L[1], L[2], a, r->rt60 * a);
    *alpha = a;
    return NC_OK;
}

/* Peterson's low-pass: sinc(t) under a Hann window of half-width W samples,
 * tabulated at t = -W + j / RIR_TAB_OS, j = 0 .. 2 W RIR_TAB_OS, plus one 0 past the end. */
static void lp_table(double *tab, int W) {
    const int64_t nt = (int64_t)2 * W * RIR_TAB_OS + 1;
    tab[nt] = 0; /* read (times 0) when an image lands exactly on a sample */
    for (int64_t j = 0; j < nt; j++) {
        const double t = -W + (double)j / RIR_TAB_OS;
        const double sinc = fabs(t) < 1e-12 ? 1.0 : sin(M_PI * t) / (M_PI * t);
        tab[j] = 0.5 * (1 + cos(M_PI * t / W)) * sinc;
    }
}

/* Adds g * lp(i - tau) for the 2 W taps around tau. h has room for them (the caller checks). */
static void add_image(double *h, int64_t n, const double *tab, int W, double tau, double g) {
    const int64_t i0 = (int64_t)floor(tau) - W + 1;
    for (int64_t i = i0 < 0 ? 0 : i0; i < i0 + 2 * W && i < n; i++) {
        const double x = ((double)i - tau + W) * RIR_TAB_OS; /* in (0, 2 W RIR_TAB_OS) */
        const int64_t j = (int64_t)x;
        const double f = x - (double)j;
        h[i] += g * (tab[j] + f * (tab[j + 1] - tab[j]));
    }
}

/* Allen & Berkley's high-pass: y = x - (1 + R) x[-1] + R x[-2] + 2 R cos(w) y[-1] - R^2 y[-2],
 * w = 2 pi 100 / fs, R = exp(-w): both zeros at DC. In place. */
static void dc_highpass(double *h, int64_t n, int fs) {
    const double w = 2 * M_PI * 100.0 / fs, R = exp(-w);
    const double b1 = 2 * R * cos(w), b2 = -R * R, a1 = -(1 + R);
    double y1 = 0, y2 = 0;
    for (int64_t i = 0; i < n; i++) {
        const double y0 = b1 * y1 + b2 * y2 + h[i];
        h[i] = y0 + a1 * y1 + R * y2;
        y2 = y1, y1 = y0;
    }
}

nc_status nc_rir_image(const nc_rir_room *r, float **out, int64_t *nout) {
    if (!out || !nout) return nc_error(NC_ERR_INVALID_ARG, "nc_rir_image: NULL output");
    *out = NULL, *nout = 0;
    double alpha;
    nc_status s = nc_rir_sabine_absorption(r, &alpha);
    if (s) return s;
    const double fs = r->sample_rate, c = r->sound_speed, beta = sqrt(1 - alpha);
    const double *L = r->size, *src = r->src, *mic = r->mic;
    double d0 = 0;
    for (int d = 0; d < 3; d++) d0 += (src[d] - mic[d]) * (src[d] - mic[d]);
    d0 = sqrt(d0);
    /* Peterson's 4 ms window: W = 2 ms each side (at least 8 samples) */
    const int W = (int)fmax(8, round(0.002 * fs));
    const double tmax = d0 / c + r->rt60, R = c * tmax; /* the longest path kept */
    const int64_t n = (int64_t)ceil(tmax * fs) + W + 1;
    int64_t N[3], max_refl = 0;
    for (int d = 0; d < 3; d++) {
        N[d] = (int64_t)ceil(R / (2 * L[d])) + 1;
        max_refl += 2 * N[d] + 1;
    }
    double *h = nc_calloc((size_t)n, sizeof *h);
    double *tab = nc_malloc(((size_t)2 * W * RIR_TAB_OS + 2) * sizeof *tab);
    double *bpow = nc_malloc((size_t)(max_refl + 1) * sizeof *bpow);
    float *y = nc_malloc((size_t)n * sizeof *y);
    if (!h || !tab || !bpow || !y) {
        nc_free(h), nc_free(tab), nc_free(bpow), nc_free(y);
        return nc_error(NC_ERR_OOM, "rir: %lld samples", (long long)n);
    }
    lp_table(tab, W);
    bpow[0] = 1;
    for (int64_t k = 1; k <= max_refl; k++) bpow[k] = bpow[k - 1] * beta;
    /* Image (n, u) along one axis sits at (1 - 2u) src + 2 n L and has met the
     * walls |n - u| + |n| times (Allen & Berkley eq. 10-11). */
    for (int64_t nx = -N[0]; nx <= N[0]; nx++)
        for (int ux = 0; ux < 2; ux++) {
            const double dx = (1 - 2 * ux) * src[0] + 2 * nx * L[0] - mic[0];
            const int64_t rx = llabs(nx - ux) + llabs(nx);
            if (fabs(dx) > R) continue;
            for (int64_t ny = -N[1]; ny <= N[1]; ny++)
                for (int uy = 0; uy < 2; uy++) {
                    const double dy = (1 - 2 * uy) * src[1] + 2 * ny * L[1] - mic[1];
                    const int64_t ry = llabs(ny - uy) + llabs(ny);
                    if (dx * dx + dy * dy > R * R) continue;
                    for (int64_t nz = -N[2]; nz <= N[2]; nz++)
                        for (int uz = 0; uz < 2; uz++) {
                            const double dz = (1 - 2 * uz) * src[2] + 2 * nz * L[2] - mic[2];
                            const double dist = sqrt(dx * dx + dy * dy + dz * dz);
                            if (dist > R) continue;
                            const int64_t refl = rx + ry + llabs(nz - uz) + llabs(nz);
                            /* spherical spreading 1 / (4 pi d), beta per reflection */
                            add_image(h, n, tab, W, dist / c * fs, bpow[refl] / (4 * M_PI * dist));
                        }
                }
        }
    dc_highpass(h, n, r->sample_rate);
    for (int64_t i = 0; i < n; i++) y[i] = (float)h[i];
    nc_free(h), nc_free(tab), nc_free(bpow);
    *out = y;
    *nout = n;
    return NC_OK;
}

nc_status nc_rir_rt60_schroeder(const float *h, int64_t n, int sample_rate, double *rt60) {
    if (!h || n <= 0 || sample_rate <= 0 || !rt60)
        return nc_error(NC_ERR_INVALID_ARG, "nc_rir_rt60_schroeder: bad arguments");
    double *edc = nc_malloc((size_t)n * sizeof *edc);
    if (!edc) return nc_error(NC_ERR_OOM, "rt60: %lld samples", (long long)n);
    double acc = 0;
    for (int64_t i = n - 1; i >= 0; i--) edc[i] = acc += (double)h[i] * h[i];
    /* least squares of 10 log10(EDC / EDC(0)) against t over [-5, -25] dB */
    double st = 0, sy = 0, stt = 0, sty = 0;
    int64_t m = 0;
    bool reached = false;
    for (int64_t i = 0; i < n && acc > 0; i++) {
        const double db = 10 * log10(edc[i] / acc);
        if (db < -25) {
            reached = true;
            break;
        }
        if (db > -5) continue;
        const double t = (double)i / sample_rate;
        st += t, sy += db, stt += t * t, sty += t * db, m++;
    }
    nc_free(edc);
    const double den = (double)m * stt - st * st;
    if (!reached || m < 2 || !(den > 0))
        return nc_error(NC_ERR_INVALID_ARG, "rt60: the energy decay never reaches -25 dB in %lld samples", (long long)n);
    const double slope = ((double)m * sty - st * sy) / den; /* dB per second */
    if (!(slope < 0)) return nc_error(NC_ERR_INVALID_ARG, "rt60: the energy does not decay");
    *rt60 = -60 / slope;
    return NC_OK;
}
