/* Random numbers that reproduce PyTorch's CPU generator.
 *
 * mt19937 seeded like torch.manual_seed(seed), with the same draws and
 * transforms torch 1.13 uses on CPU for rand/uniform_, randn/normal_,
 * bernoulli_, randint and randperm, so that initialisation and dropout
 * masks can match a PyTorch run (aten/src/ATen/core/TransformationHelper.h,
 * aten/src/ATen/native/cpu/DistributionTemplates.h). */
#ifndef NEMOC_RNG_H
#define NEMOC_RNG_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NC_MT_N 624

typedef struct nc_rng {
    uint32_t state[NC_MT_N];
    int32_t left;       /* draws left before the next twist */
    int32_t next;       /* index of the next word */
    uint64_t seed;
    bool has_next_normal; /* Box-Muller cache of torch's normal_distribution<double> */
    double next_normal;
} nc_rng;

void nc_rng_seed(nc_rng *r, uint64_t seed);
uint32_t nc_rng_u32(nc_rng *r);
uint64_t nc_rng_u64(nc_rng *r); /* two draws, torch's random64() */

/* torch.rand / Tensor.uniform_(lo, hi) on a float32 tensor of n elements. */
void nc_rng_uniform(nc_rng *r, float *x, int64_t n, float lo, float hi);
/* torch.randn / Tensor.normal_(mean, std) on a float32 tensor of n elements. */
void nc_rng_normal(nc_rng *r, float *x, int64_t n, float mean, float std);
/* Tensor.bernoulli_(p) on a float32 tensor: 1 with probability p, else 0. */
void nc_rng_bernoulli(nc_rng *r, float *x, int64_t n, double p);
/* The same draws as nc_rng_bernoulli, as bytes 0/1 (dropout masks). */
void nc_rng_bernoulli_u8(nc_rng *r, uint8_t *x, int64_t n, double p);
/* torch.randint(lo, hi, (n,)) as int64. */
void nc_rng_randint(nc_rng *r, int64_t *x, int64_t n, int64_t lo, int64_t hi);
/* torch.randperm(n) as int64. */
void nc_rng_randperm(nc_rng *r, int64_t *x, int64_t n);

/* A single uniform double in [0, 1) (53 bits), for samplers and augmentation. */
double nc_rng_double(nc_rng *r);

#ifdef __cplusplus
}
#endif
#endif
