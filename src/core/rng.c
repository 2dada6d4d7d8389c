/* mt19937 and the distributions of torch 1.13's CPU generator.
 *
 * Engine: aten/src/ATen/core/MT19937RNGEngine.h (seeded with the low 32 bits,
 * left=1 so the first draw twists). Transforms: TransformationHelper.h
 * (uniform_real uses 24 random bits for float, 53 of random64() for double)
 * and cpu/DistributionTemplates.h (normal_fill for float tensors of 16 or
 * more elements, the cached Box-Muller normal_distribution<double> below 16). */
#include "nemoc/rng.h"

#include <math.h>

#define MT_M 397
#define MATRIX_A 0x9908b0dfu
#define UPPER_MASK 0x80000000u
#define LOWER_MASK 0x7fffffffu

static const double NC_PI = 3.14159265358979323846;

void nc_rng_seed(nc_rng *r, uint64_t seed) {
    r->seed = seed;
    r->state[0] = (uint32_t)(seed & 0xffffffffu);
    for (int j = 1; j < NC_MT_N; j++)
        r->state[j] = 1812433253u * (r->state[j - 1] ^ (r->state[j - 1] >> 30)) + (uint32_t)j;
    r->left = 1;
    r->next = 0;
    r->has_next_normal = false;
    r->next_normal = 0;
}

static inline uint32_t mix_bits(uint32_t u, uint32_t v) { return (u & UPPER_MASK) | (v & LOWER_MASK); }
static inline uint32_t twist(uint32_t u, uint32_t v) {
    return (mix_bits(u, v) >> 1) ^ ((v & 1u) ? MATRIX_A : 0u);
}

static void next_state(nc_rng *r) {
    uint32_t *p = r->state;
    r->left = NC_MT_N;
    r->next = 0;
    for (int j = NC_MT_N - MT_M + 1; --j; p++) *p = p[MT_M] ^ twist(p[0], p[1]);
    for (int j = MT_M; --j; p++) *p = p[MT_M - NC_MT_N] ^ twist(p[0], p[1]);
    *p = p[MT_M - NC_MT_N] ^ twist(p[0], r->state[0]);
}

uint32_t nc_rng_u32(nc_rng *r) {
    if (--r->left == 0) next_state(r);
    uint32_t y = r->state[r->next++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

uint64_t nc_rng_u64(nc_rng *r) {
    uint32_t hi = nc_rng_u32(r);
    uint32_t lo = nc_rng_u32(r);
    return ((uint64_t)hi << 32) | lo;
}

/* transformation::uniform_real<float>: 24 bits, arithmetic in float. */
static inline float uniform_f(nc_rng *r, float lo, float hi) {
    float x = (float)(nc_rng_u32(r) & ((1u << 24) - 1)) * (1.0f / (float)(1u << 24));
    return x * (hi - lo) + lo;
}

double nc_rng_double(nc_rng *r) {
    return (double)(nc_rng_u64(r) & ((UINT64_C(1) << 53) - 1)) * (1.0 / (double)(UINT64_C(1) << 53));
}

void nc_rng_uniform(nc_rng *r, float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = uniform_f(r, lo, hi);
}

static void normal_fill_16(float *d, float mean, float std) {
    for (int j = 0; j < 8; j++) {
        const float u1 = 1 - d[j];
        const float u2 = d[j + 8];
        const float radius = sqrtf(-2 * logf(u1));
        const float theta = (float)(2.0f * NC_PI * u2);
        d[j] = radius * cosf(theta) * std + mean;
        d[j + 8] = radius * sinf(theta) * std + mean;
    }
}

/* at::normal_distribution<double> with the generator's cached second sample. */
static double normal_double(nc_rng *r, double mean, double std) {
    if (r->has_next_normal) {
        r->has_next_normal = false;
        return r->next_normal * std + mean;
    }
    const double u1 = nc_rng_double(r);
    const double u2 = nc_rng_double(r);
    const double rad = sqrt(-2.0 * log(1.0 - u2));
    const double theta = 2.0 * NC_PI * u1;
    r->has_next_normal = true;
    r->next_normal = rad * sin(theta);
    return rad * cos(theta) * std + mean;
}

void nc_rng_normal(nc_rng *r, float *x, int64_t n, float mean, float std) {
    if (n < 16) {
        for (int64_t i = 0; i < n; i++) x[i] = (float)normal_double(r, mean, std);
        return;
    }
    for (int64_t i = 0; i < n; i++) x[i] = uniform_f(r, 0.0f, 1.0f);
    for (int64_t i = 0; i + 15 < n; i += 16) normal_fill_16(x + i, mean, std);
    if (n % 16 != 0) {
        /* torch recomputes the last 16 values from fresh uniforms */
        float *d = x + n - 16;
        for (int i = 0; i < 16; i++) d[i] = uniform_f(r, 0.0f, 1.0f);
        normal_fill_16(d, mean, std);
    }
}

void nc_rng_bernoulli(nc_rng *r, float *x, int64_t n, double p) {
    for (int64_t i = 0; i < n; i++) x[i] = nc_rng_double(r) < p ? 1.0f : 0.0f;
}

void nc_rng_randint(nc_rng *r, int64_t *x, int64_t n, int64_t lo, int64_t hi) {
    uint64_t range = (uint64_t)(hi - lo);
    for (int64_t i = 0; i < n; i++) {
        uint64_t v = range >= (UINT64_C(1) << 32) ? nc_rng_u64(r) : nc_rng_u32(r);
        x[i] = (int64_t)(v % range) + lo;
    }
}

void nc_rng_randperm(nc_rng *r, int64_t *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = i;
    for (int64_t i = 0; i < n - 1; i++) {
        int64_t z = (int64_t)(nc_rng_u32(r) % (uint64_t)(n - i));
        int64_t t = x[i];
        x[i] = x[z + i];
        x[z + i] = t;
    }
}
