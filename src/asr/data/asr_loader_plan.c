/* The sampler: which utterances a rank sees in an epoch, in which batches
 * and in which order.
 *
 * Without bucketing this is torch.utils.data.DistributedSampler
 * (torch/utils/data/distributed.py, drop_last=False) followed by a
 * DataLoader's sequential batching: the permutation is
 * torch.randperm(n, generator=manual_seed(seed + epoch)), reproduced exactly
 * by nc_rng; it is padded by wrapping around to a multiple of world_size and
 * rank r takes every world_size-th index from r; the last batch may be short.
 *
 * With bucketing (NeMo's bucketed datasets, docs/source/asr/datasets.rst
 * "Bucketing"; nemoc forms the buckets itself from the manifest durations,
 * as convert_to_tarred_audio_dataset.py --buckets_num does): utterances go
 * into equal-width duration buckets; each bucket is shuffled with a seed all
 * ranks share, sharded like DistributedSampler and cut into batches of that
 * bucket's size; the list of batches is then shuffled, with a seed shared by
 * all ranks (synced_randomized: every rank works on the same bucket at the
 * same step) or a per-rank seed (fully_randomized). Every rank gets the same
 * number of batches of each bucket. */
#include <math.h>
#include <string.h>

#include "asr/data/asr_loader_internal.h"
#include "nemoc/alloc.h"
#include "nemoc/rng.h"

static uint64_t mix64(uint64_t x) {
    /* splitmix64 finaliser (Steele, Lea, Flood 2014). */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t asr_seed_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t h = mix64(seed);
    h = mix64(h ^ a);
    h = mix64(h ^ b);
    h = mix64(h ^ c);
    /* nc_rng_seed keeps 32 bits (as torch's mt19937): fold the high half in. */
    return h ^ (h >> 32);
}

void asr_plan_free(asr_plan *p) {
    if (!p) return;
    nc_free(p->start);
    nc_free(p->idx);
    *p = (asr_plan){0};
}

/* DistributedSampler's shard of list[0..m): rank takes list[rank + k*world]
 * for k < ceil(m / world), indices past m wrapping to the start. */
static int64_t shard(const int64_t *list, int64_t m, int rank, int world, int64_t *out) {
    const int64_t per = (m + world - 1) / world;
    for (int64_t k = 0; k < per; k++) out[k] = list[(rank + k * world) % m];
    return per;
}

static nc_status plan_alloc(asr_plan *p, int64_t n_idx, int64_t n_batches) {
    p->idx = nc_malloc((size_t)(n_idx > 0 ? n_idx : 1) * sizeof(int64_t));
    p->start = nc_malloc((size_t)(n_batches + 1) * sizeof(int64_t));
    if (!p->idx || !p->start) {
        asr_plan_free(p);
        return nc_error(NC_ERR_OOM, "sampler plan of %lld utterances", (long long)n_idx);
    }
    return NC_OK;
}

static nc_status plan_plain(const asr_sampler_cfg *c, int64_t n, int64_t epoch, asr_plan *out) {
    int64_t *perm = nc_malloc((size_t)n * sizeof(int64_t));
    if (!perm) return nc_error(NC_ERR_OOM, "sampler permutation of %lld", (long long)n);
    if (c->shuffle) {
        nc_rng rng;
        nc_rng_seed(&rng, c->seed + (uint64_t)epoch); /* DistributedSampler: g.manual_seed(seed + epoch) */
        nc_rng_randperm(&rng, perm, n);
    } else {
        for (int64_t i = 0; i < n; i++) perm[i] = i;
    }
    const int64_t per = (n + c->world_size - 1) / c->world_size;
    const int64_t nb = (per + c->batch_size - 1) / c->batch_size;
    nc_status s = plan_alloc(out, per, nb);
    if (!s) {
        shard(perm, n, c->rank, c->world_size, out->idx);
        for (int64_t b = 0; b <= nb; b++) out->start[b] = b * c->batch_size < per ? b * c->batch_size : per;
        out->n_batches = nb;
        out->max_batch = per < c->batch_size ? per : c->batch_size;
    }
    nc_free(perm);
    return s;
}

typedef struct bucket_batch {
    int64_t bucket, first, len; /* into the bucket's shard */
} bucket_batch;

static nc_status plan_buckets(const asr_sampler_cfg *c, const double *dur, int64_t n, int64_t epoch,
                              asr_plan *out) {
    const int64_t K = c->num_buckets;
    double lo = dur[0], hi = dur[0];
    for (int64_t i = 1; i < n; i++) {
        if (dur[i] < lo) lo = dur[i];
        if (dur[i] > hi) hi = dur[i];
    }
    const double width = (hi - lo) / (double)K;
    int64_t *bucket_of = nc_malloc((size_t)n * sizeof(int64_t));
    int64_t *count = nc_calloc((size_t)K + 1, sizeof(int64_t));
    int64_t *members = nc_malloc((size_t)n * sizeof(int64_t));
    int64_t *perm = nc_malloc((size_t)n * sizeof(int64_t));
    int64_t *shards = nc_malloc((size_t)(n + K * c->world_size) * sizeof(int64_t));
    int64_t *shard_at = nc_malloc((size_t)(K + 1) * sizeof(int64_t));
    nc_status s = NC_OK;
    bucket_batch *bb = NULL;
    if (!bucket_of || !count || !members || !perm || !shards || !shard_at) {
        s = nc_error(NC_ERR_OOM, "bucketing sampler over %lld utterances", (long long)n);
        goto done;
    }
    /* Bucket k covers [lo + k*width, lo + (k+1)*width); the longest goes in the last. */
    for (int64_t i = 0; i < n; i++) {
        int64_t k = width > 0 ? (int64_t)floor((dur[i] - lo) / width) : 0;
        bucket_of[i] = k < 0 ? 0 : k >= K ? K - 1 : k;
        count[bucket_of[i] + 1]++;
    }
    for (int64_t k = 0; k < K; k++) count[k + 1] += count[k]; /* count[k] = first member of bucket k */
    for (int64_t k = 0; k < K; k++) shard_at[k] = count[k]; /* scratch: next free slot per bucket */
    for (int64_t i = 0; i < n; i++) members[shard_at[bucket_of[i]]++] = i; /* manifest order */
    int64_t n_idx = 0, n_batches = 0;
    shard_at[0] = 0;
    for (int64_t k = 0; k < K; k++) {
        int64_t *mk = members + count[k];
        const int64_t m = count[k + 1] - count[k];
        int64_t per = 0;
        if (m > 0) {
            if (c->shuffle) {
                nc_rng rng;
                nc_rng_seed(&rng, asr_seed_hash(c->seed, ASR_STREAM_BUCKET, (uint64_t)epoch, (uint64_t)k));
                nc_rng_randperm(&rng, perm, m);
                for (int64_t j = 0; j < m; j++) perm[j] = mk[perm[j]];
                memcpy(mk, perm, (size_t)m * sizeof(int64_t));
            }
            per = shard(mk, m, c->rank, c->world_size, shards + n_idx);
        }
        n_idx += per;
        shard_at[k + 1] = n_idx;
        n_batches += (per + c->bucket_bs[k] - 1) / c->bucket_bs[k];
    }
    bb = nc_malloc((size_t)(n_batches > 0 ? n_batches : 1) * sizeof *bb);
    if (!bb || (s = plan_alloc(out, n_idx, n_batches))) {
        if (!s) s = nc_error(NC_ERR_OOM, "bucketing sampler");
        goto done;
    }
    int64_t nb = 0;
    for (int64_t k = 0; k < K; k++) {
        const int64_t per = shard_at[k + 1] - shard_at[k], bs = c->bucket_bs[k];
        for (int64_t f = 0; f < per; f += bs)
            bb[nb++] = (bucket_batch){.bucket = k, .first = shard_at[k] + f, .len = per - f < bs ? per - f : bs};
    }
    int64_t *order = nc_malloc((size_t)(nb > 0 ? nb : 1) * sizeof(int64_t));
    if (!order) {
        asr_plan_free(out);
        s = nc_error(NC_ERR_OOM, "bucketing sampler");
        goto done;
    }
    if (c->shuffle) {
        nc_rng rng;
        const uint64_t seed = c->strategy == NC_BUCKETING_FULLY_RANDOMIZED
                                  ? asr_seed_hash(c->seed, ASR_STREAM_RANK_ORDER, (uint64_t)epoch, (uint64_t)c->rank)
                                  : asr_seed_hash(c->seed, ASR_STREAM_ORDER, (uint64_t)epoch, 0);
        nc_rng_seed(&rng, seed);
        nc_rng_randperm(&rng, order, nb);
    } else {
        for (int64_t b = 0; b < nb; b++) order[b] = b;
    }
    int64_t at = 0;
    out->max_batch = 0;
    for (int64_t b = 0; b < nb; b++) {
        const bucket_batch *x = &bb[order[b]];
        out->start[b] = at;
        memcpy(out->idx + at, shards + x->first, (size_t)x->len * sizeof(int64_t));
        at += x->len;
        if (x->len > out->max_batch) out->max_batch = x->len;
    }
    out->start[nb] = at;
    out->n_batches = nb;
    nc_free(order);
done:
    nc_free(bb);
    nc_free(bucket_of);
    nc_free(count);
    nc_free(members);
    nc_free(perm);
    nc_free(shards);
    nc_free(shard_at);
    return s;
}

nc_status asr_plan_build(const asr_sampler_cfg *c, const double *durations, int64_t n, int64_t epoch,
                         asr_plan *out) {
    *out = (asr_plan){0};
    if (n <= 0) return nc_error(NC_ERR_INVALID_ARG, "sampler: no utterances");
    if (c->world_size < 1 || c->rank < 0 || c->rank >= c->world_size)
        return nc_error(NC_ERR_INVALID_ARG, "sampler: rank %d outside world_size %d", c->rank, c->world_size);
    if (epoch < 0) return nc_error(NC_ERR_INVALID_ARG, "sampler: epoch %lld < 0", (long long)epoch);
    if (c->strategy != NC_BUCKETING_NONE && c->num_buckets > 1) return plan_buckets(c, durations, n, epoch, out);
    if (c->batch_size < 1) return nc_error(NC_ERR_INVALID_ARG, "sampler: batch_size %lld < 1", (long long)c->batch_size);
    return plan_plain(c, n, epoch, out);
}
