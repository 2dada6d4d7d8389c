/* mt19937 and the distributions of torch 1.13's CPU generator.
 *
 * Engine: aten/src/ATen/core/MT19937RNGEngine.h (seeded with the low 32 bits,
 * left=1 so the first draw twists). Transforms: core/TransformationHelper.h
 * and core/DistributionsHelper.h (uniform_real uses 24 random bits for float,
 * 53 of random64() for double), native/cpu/DistributionTemplates.h (kernels).
 *
 * Which code path torch takes, checked on the Debian python3-torch 1.13.1
 * build (GCC 12, "CPU capability usage: AVX2", no MKL) by disassembling
 * libtorch_cpu.so and by tests/unit/test_rng.c against tests/ref/gen_rng.py:
 *  - uniform_ (torch.rand, nn.init.uniform_, kaiming_uniform_): the kernels
 *    in native/cpu are compiled per CPU capability, and the AVX2 copy is
 *    built with -mfma and GCC's default -ffp-contract=fast, so
 *    `x * (to - from) + from` is one fused multiply-add (vfmadd132ss). We
 *    call fmaf to get the same rounding.
 *  - randn / normal_ on a contiguous float tensor of >= 16 elements:
 *    normal_fill_AVX2 (DistributionTemplates.h), NOT Sleef and NOT libm: it
 *    evaluates log256_ps and sincos256_ps from native/cpu/avx_mathfun.h
 *    (Cephes polynomials by J. Pommier) on 8 lanes, theta = float(2 pi) * u2
 *    in float, out = fma(radius * cos, std, mean). normal_16() below computes
 *    the same lane arithmetic in scalar code, with fmaf exactly where the
 *    compiled torch code has vfmadd/vfnmadd/vfmsub (the contraction GCC chose,
 *    read from the disassembly), so the samples are bit-exact. (The AVX512
 *    dispatch is never used for normal_, and a build without AVX2 would take
 *    the scalar normal_fill with libm logf/cosf/sinf instead, which differs
 *    from the AVX2 path by up to 2e-6 absolute: measured on 100000 samples
 *    with ATEN_CPU_CAPABILITY=default.)
 *  - randn / normal_ of < 16 elements: at::normal_distribution<double> with
 *    libm log/sin/cos in double and the generator's cached second sample,
 *    cast to float.
 *  - bernoulli_(p) with a scalar p: without MKL, templates::cpu::bernoulli_kernel,
 *    one 53-bit double uniform per element, value = u < p.
 *  - randint: random() % range (random64() when range >= 2^32); randperm:
 *    Fisher-Yates with random() % (n - i). */
#include "nemoc/rng.h"

#include <math.h>
#include <string.h>

/* Where fused multiply-adds happen must be explicit (fmaf) for bit-exact
 * results: forbid the compiler from contracting anything else. GCC does not
 * contract in ISO C mode (-std=c11); clang needs the pragma. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

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
    /* branch-free: the loops below vectorise */
    return (mix_bits(u, v) >> 1) ^ ((0u - (v & 1u)) & MATRIX_A);
}

/* The standard MT19937 regeneration (torch's mt19937_engine::next_state),
 * written with plain indices so it vectorises: the first loop reads words
 * M ahead (not yet rewritten), the second reads words N - M = 227 behind
 * (already rewritten), both farther than any vector width. */
static void next_state(nc_rng *r) {
    uint32_t *s = r->state;
    r->left = NC_MT_N;
    r->next = 0;
#pragma omp simd safelen(16)
    for (int j = 0; j < NC_MT_N - MT_M; j++) s[j] = s[j + MT_M] ^ twist(s[j], s[j + 1]);
#pragma omp simd safelen(16)
    for (int j = NC_MT_N - MT_M; j < NC_MT_N - 1; j++)
        s[j] = s[j + MT_M - NC_MT_N] ^ twist(s[j], s[j + 1]);
    s[NC_MT_N - 1] = s[MT_M - 1] ^ twist(s[NC_MT_N - 1], s[0]);
}

static inline uint32_t temper(uint32_t y) {
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

uint32_t nc_rng_u32(nc_rng *r) {
    if (--r->left == 0) next_state(r);
    return temper(r->state[r->next++]);
}

/* n consecutive nc_rng_u32() outputs, a run of state words at a time (the
 * tempering loop vectorises). Between twists, state[next .. next + left - 2]
 * are the words the next left - 1 calls return. */
static void fill_u32(nc_rng *r, uint32_t *out, int64_t n) {
    int64_t i = 0;
    while (i < n) {
        int64_t avail = r->left - 1;
        if (avail == 0) {
            out[i++] = nc_rng_u32(r); /* twists */
            continue;
        }
        int64_t k = avail < n - i ? avail : n - i;
        const uint32_t *s = r->state + r->next;
#pragma omp simd
        for (int64_t j = 0; j < k; j++) out[i + j] = temper(s[j]);
        r->next += (int32_t)k;
        r->left -= (int32_t)k;
        i += k;
    }
}

/* Draws are made in chunks of this many words into a stack buffer. */
enum { CHUNK = 512 };

uint64_t nc_rng_u64(nc_rng *r) {
    uint32_t hi = nc_rng_u32(r);
    uint32_t lo = nc_rng_u32(r);
    return ((uint64_t)hi << 32) | lo;
}

double nc_rng_double(nc_rng *r) {
    return (double)(nc_rng_u64(r) & ((UINT64_C(1) << 53) - 1)) * (1.0 / (double)(UINT64_C(1) << 53));
}

void nc_rng_uniform(nc_rng *r, float *x, int64_t n, float lo, float hi) {
    uint32_t w[CHUNK];
    const float span = hi - lo;
    for (int64_t i = 0; i < n; i += CHUNK) {
        const int64_t k = n - i < CHUNK ? n - i : CHUNK;
        fill_u32(r, w, k);
        for (int64_t j = 0; j < k; j++)
            x[i + j] = fmaf((float)(w[j] & ((1u << 24) - 1)) * (1.0f / (float)(1u << 24)), span, lo);
    }
}

/* Cephes-style single-precision log and sincos, evaluated as torch 1.13's
 * log256_ps / sincos256_ps (native/cpu/avx_mathfun.h) evaluate one lane.
 * Constants are the header's double literals rounded to float. */
static inline uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* log(x) for x in [2^-24, 1] (u1 = 1 - uniform never leaves that range). */
static float lane_log(float x) {
    static const float p[9] = {
        (float)7.0376836292E-2, (float)-1.1514610310E-1, (float)1.1676998740E-1,
        (float)-1.2420140846E-1, (float)1.4249322787E-1, (float)-1.6668057665E-1,
        (float)2.0000714765E-1, (float)-2.4999993993E-1, (float)3.3333331174E-1,
    };
    const float q1 = (float)-2.12194440e-4, q2 = (float)0.693359375;
    const float sqrthf = (float)0.707106781186547524;
    /* x = mantissa in [0.5, 1), e = exponent + 1 */
    float e = (float)((int32_t)(f2u(x) >> 23) - 0x7f) + 1.0f;
    x = u2f((f2u(x) & ~0x7f800000u) | f2u(0.5f));
    if (x < sqrthf) { /* e -= 1; x = x + x - 1, as (x - 1) + x */
        e = e - 1.0f;
        x = (x - 1.0f) + x;
    } else {
        x = (x - 1.0f) + 0.0f;
    }
    const float z = x * x;
    float y = p[0];
    for (int k = 1; k < 9; k++) y = fmaf(y, x, p[k]);
    y = y * x;
    y = fmaf(y, z, e * q1);
    y = fmaf(-z, 0.5f, y);
    x = x + y;
    return fmaf(e, q2, x);
}

/* sin and cos of x >= 0 (theta = 2 pi u in [0, 2 pi)). */
static void lane_sincos(float x, float *s, float *c) {
    const float fopi = (float)1.27323954473516; /* 4 / pi */
    const float dp1 = (float)-0.78515625, dp2 = (float)-2.4187564849853515625e-4,
                dp3 = (float)-3.77489497744594108e-8;
    const float sc0 = (float)-1.9515295891E-4, sc1 = (float)8.3321608736E-3,
                sc2 = (float)-1.6666654611E-1;
    const float cc0 = (float)2.443315711809948E-005, cc1 = (float)-1.388731625493765E-003,
                cc2 = (float)4.166664568298827E-002;
    uint32_t sign_sin = f2u(x) & 0x80000000u;
    x = u2f(f2u(x) & 0x7fffffffu);
    int32_t j = (int32_t)(x * fopi); /* truncation, as cvttps2dq */
    j = (j + 1) & ~1;
    const float y = (float)j;
    sign_sin ^= (uint32_t)(j & 4) << 29;
    const bool poly_cos = (j & 2) == 0; /* first polynomial is the cosine */
    const uint32_t sign_cos = (uint32_t)(~(j - 2) & 4) << 29;
    /* extended-precision range reduction x - y * pi/4 */
    x = fmaf(y, dp1, x);
    x = fmaf(y, dp2, x);
    x = fmaf(y, dp3, x);
    const float z = x * x;
    float yc = fmaf(cc0, z, cc1);
    yc = fmaf(yc, z, cc2);
    yc = z * yc;
    yc = fmaf(yc, z, -(z * 0.5f));
    yc = yc + 1.0f;
    float ys = fmaf(sc0, z, sc1);
    ys = fmaf(ys, z, sc2);
    ys = z * ys;
    ys = fmaf(ys, x, x);
    /* The SIMD select adds a +0 to each result; +0 changes nothing here. */
    *s = u2f(f2u(poly_cos ? ys : yc) ^ sign_sin);
    *c = u2f(f2u(poly_cos ? yc : ys) ^ sign_cos);
}

/* normal_fill_16_AVX2: d[0..16) uniforms in [0, 1) -> 16 normal samples. */
static void normal_16(float *d, float mean, float std) {
    const float two_pi = (float)(2.0 * 3.14159265358979323846);
    for (int k = 0; k < 8; k++) {
        const float u1 = 1.0f - d[k];
        const float u2 = d[k + 8];
        const float radius = sqrtf(lane_log(u1) * -2.0f);
        float s, c;
        lane_sincos(two_pi * u2, &s, &c);
        d[k] = fmaf(radius * c, std, mean);
        d[k + 8] = fmaf(radius * s, std, mean);
    }
}

/* at::normal_distribution<double> with the generator's cached second sample. */
static double normal_double(nc_rng *r, double mean, double std) {
    if (r->has_next_normal) {
        r->has_next_normal = false;
        return fma(r->next_normal, std, mean); /* transformation::normal, fused */
    }
    const double u1 = nc_rng_double(r);
    const double u2 = nc_rng_double(r);
    const double rad = sqrt(-2.0 * log(1.0 - u2));
    const double theta = 2.0 * NC_PI * u1;
    r->has_next_normal = true;
    r->next_normal = rad * sin(theta);
    return fma(rad * cos(theta), std, mean);
}

void nc_rng_normal(nc_rng *r, float *x, int64_t n, float mean, float std) {
    if (n < 16) {
        for (int64_t i = 0; i < n; i++) x[i] = (float)normal_double(r, mean, std);
        return;
    }
    nc_rng_uniform(r, x, n, 0.0f, 1.0f);
    for (int64_t i = 0; i + 15 < n; i += 16) normal_16(x + i, mean, std);
    if (n % 16 != 0) {
        /* torch recomputes the last 16 values from fresh uniforms */
        float *d = x + n - 16;
        nc_rng_uniform(r, d, 16, 0.0f, 1.0f);
        normal_16(d, mean, std);
    }
}

/* u < p for the double u = (53 low bits of v) / 2^53 is, exactly, those
 * bits < p * 2^53 (a power-of-two scaling, exact in double), so the draw
 * compares integers against a threshold computed once. */
static inline uint64_t bern_threshold(double p) {
    if (!(p > 0.0)) return 0;
    if (p >= 1.0) return UINT64_C(1) << 53;
    double t = ceil(p * (double)(UINT64_C(1) << 53)); /* k < p*2^53 <=> k < ceil(p*2^53) */
    return (uint64_t)t;
}

void nc_rng_bernoulli(nc_rng *r, float *x, int64_t n, double p) {
    /* one double uniform (random64(): high word drawn first) per element */
    uint32_t w[CHUNK];
    const uint64_t thr = bern_threshold(p);
    for (int64_t i = 0; i < n; i += CHUNK / 2) {
        const int64_t k = n - i < CHUNK / 2 ? n - i : CHUNK / 2;
        fill_u32(r, w, 2 * k);
#pragma omp simd
        for (int64_t j = 0; j < k; j++) {
            const uint64_t v = ((uint64_t)w[2 * j] << 32) | w[2 * j + 1];
            x[i + j] = (v & ((UINT64_C(1) << 53) - 1)) < thr ? 1.0f : 0.0f;
        }
    }
}

void nc_rng_bernoulli_u8(nc_rng *r, uint8_t *x, int64_t n, double p) {
    uint32_t w[CHUNK];
    const uint64_t thr = bern_threshold(p);
    for (int64_t i = 0; i < n; i += CHUNK / 2) {
        const int64_t k = n - i < CHUNK / 2 ? n - i : CHUNK / 2;
        fill_u32(r, w, 2 * k);
#pragma omp simd
        for (int64_t j = 0; j < k; j++) {
            const uint64_t v = ((uint64_t)w[2 * j] << 32) | w[2 * j + 1];
            x[i + j] = (uint8_t)((v & ((UINT64_C(1) << 53) - 1)) < thr);
        }
    }
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
