/* The ASR loader: manifest + sampler plan + worker threads + a ring of
 * batch slots, delivering padded batches in plan order.
 *
 * Work is handed out one utterance at a time, in plan order, so that all
 * workers help finish the oldest batch first; the worker that completes a
 * batch's last utterance collates it. A batch can be started only while it
 * is at most `prefetch` batches ahead of the one the consumer holds (the
 * ring has prefetch + 1 slots), which bounds memory to prefetch ready or
 * building batches and keeps workers from running away. With num_workers = 0
 * the consumer does the same work itself inside nc_asr_loader_next.
 *
 * Warnings about skipped audio and the skip counters are emitted by the
 * consumer when it reaches the batch, so they come in plan order on the
 * caller's thread. */
#include <omp.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "asr/data/asr_loader_internal.h"
#include "core/clock.h"
#include "nemoc/alloc.h"
#include "nemoc/log.h"

typedef struct asr_slot {
    int64_t batch;         /* plan index it holds, -1 when unused */
    int64_t n_items, n_done;
    bool ready;
    nc_status err;         /* a hard error in one of its utterances or in collation */
    char *err_msg;         /* collation's message (utterances keep their own) */
    asr_utt *utts;         /* (max_batch,) */
    asr_batch_buf buf;
    nc_asr_batch out;
} asr_slot;

struct nc_asr_loader {
    nc_asr_loader_params p;
    nc_manifest own;          /* read from manifest_filepath */
    const nc_manifest *man;   /* own, or the caller's */
    int64_t *index;           /* loader entry -> manifest entry (NULL: the same) */
    int64_t n_entries;
    double *durations;
    nc_featurizer *fz;
    nc_spec_augment_config sa;
    nc_perturb_step *perturb;
    int n_perturb_held; /* steps whose noise/RIR sets this loader retained */
    int64_t *bucket_bs;
    asr_sampler_cfg sampler;
    asr_work_cfg work;
    int64_t pad_id;
    int64_t max_batch;     /* largest batch any plan can have */
    int64_t plan_batches;  /* the same every epoch */

    pthread_mutex_t mu;
    pthread_cond_t work_cv;  /* workers: work may be available, or quit */
    pthread_cond_t ready_cv; /* consumer: a slot became ready; begin_epoch: workers went idle */
    pthread_t *threads;
    int n_threads;
    bool quit;
    int busy;              /* workers holding a claimed utterance */

    /* epoch state, guarded by mu */
    bool active;           /* a plan is in place */
    asr_plan plan;
    int64_t epoch;
    int64_t claim_b, claim_j; /* next utterance to hand out */
    int64_t free_below;    /* slots of batches < free_below are released */
    int64_t next_batch;    /* next batch the consumer will deliver */
    int n_slots;
    asr_slot *slots;

    nc_asr_loader_stats stats;
};

static asr_slot *slot_of(nc_asr_loader *l, int64_t b) { return &l->slots[b % l->n_slots]; }

/* Under mu: claims the next utterance if its batch may be built now. */
static bool claim(nc_asr_loader *l, int64_t *b, int64_t *j) {
    if (!l->active || l->claim_b >= l->plan.n_batches || l->claim_b >= l->free_below + l->n_slots) return false;
    *b = l->claim_b;
    *j = l->claim_j;
    asr_slot *s = slot_of(l, *b);
    if (*j == 0) {
        s->batch = *b;
        s->n_items = l->plan.start[*b + 1] - l->plan.start[*b];
        s->n_done = 0;
        s->ready = false;
        s->err = NC_OK;
        nc_free(s->err_msg);
        s->err_msg = NULL;
    }
    if (++l->claim_j >= s->n_items) {
        l->claim_b++;
        l->claim_j = 0;
    }
    l->busy++;
    return true;
}

/* Processes a claimed utterance; called without mu, returns with mu held. */
static void run_item(nc_asr_loader *l, int64_t b, int64_t j) {
    asr_slot *s = slot_of(l, b);
    const int64_t sample = l->plan.idx[l->plan.start[b] + j];
    asr_utt *u = &s->utts[j];
    asr_utt_process(&l->work, l->epoch, sample, u);
    pthread_mutex_lock(&l->mu);
    if (u->err) s->err = u->err; /* the consumer reports the first failing utterance's message */
    const bool last = ++s->n_done == s->n_items;
    if (last && !s->err) {
        /* Nobody else touches a slot whose utterances are all done until it is delivered. */
        pthread_mutex_unlock(&l->mu);
        nc_status st = asr_collate(&l->work, s->utts, s->n_items, l->pad_id, &s->buf, &s->out);
        char *msg = st ? nc_strdup(nc_last_error()) : NULL;
        pthread_mutex_lock(&l->mu);
        if (st) {
            s->err = st;
            s->err_msg = msg;
        }
    }
    if (last) {
        s->out.epoch = l->epoch;
        s->out.batch_index = b;
        s->ready = true;
        pthread_cond_broadcast(&l->ready_cv);
    }
    l->busy--;
    if (l->busy == 0) pthread_cond_broadcast(&l->ready_cv);
}

static void *worker_main(void *arg) {
    nc_asr_loader *l = arg;
    /* The workers are the parallelism: keep OpenMP inside the featurizer on one thread. */
    omp_set_num_threads(1);
    pthread_mutex_lock(&l->mu);
    while (!l->quit) {
        int64_t b, j;
        if (claim(l, &b, &j)) {
            pthread_mutex_unlock(&l->mu);
            run_item(l, b, j);
            /* Claiming may have been blocked on this batch's slot ring: others may go on. */
            pthread_cond_broadcast(&l->work_cv);
        } else {
            pthread_cond_wait(&l->work_cv, &l->mu);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Under mu: waits until no worker holds an utterance and stops handing out more. */
static void quiesce(nc_asr_loader *l) {
    l->active = false;
    while (l->busy > 0) pthread_cond_wait(&l->ready_cv, &l->mu);
}

static void free_slots(nc_asr_loader *l) {
    if (!l->slots) return;
    for (int i = 0; i < l->n_slots; i++) {
        asr_slot *s = &l->slots[i];
        for (int64_t j = 0; j < l->max_batch; j++) asr_utt_free(&s->utts[j]);
        nc_free(s->utts);
        nc_free(s->err_msg);
        asr_batch_buf_free(&s->buf);
    }
    nc_free(l->slots);
    l->slots = NULL;
}

static void release_sets(nc_perturb_step *st) {
    if (st->kind == NC_PERTURB_NOISE) nc_noise_set_free((nc_noise_set *)st->u.noise.noise);
    if (st->kind == NC_PERTURB_IMPULSE) nc_noise_set_free((nc_noise_set *)st->u.impulse.rirs);
}

void nc_asr_loader_free(nc_asr_loader *l) {
    if (!l) return;
    if (l->threads) {
        pthread_mutex_lock(&l->mu);
        quiesce(l);
        l->quit = true;
        pthread_cond_broadcast(&l->work_cv);
        pthread_mutex_unlock(&l->mu);
        for (int i = 0; i < l->n_threads; i++) pthread_join(l->threads[i], NULL);
        nc_free(l->threads);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->work_cv);
    pthread_cond_destroy(&l->ready_cv);
    free_slots(l);
    asr_plan_free(&l->plan);
    nc_featurizer_free(l->fz);
    nc_manifest_free(&l->own);
    nc_free(l->index);
    nc_free(l->durations);
    for (int i = 0; i < l->n_perturb_held; i++) release_sets(&l->perturb[i]);
    nc_free(l->perturb);
    nc_free(l->bucket_bs);
    nc_free(l);
}

/* Per-bucket batch sizes from the params (NeMo: list, or int -> linear scale). */
static nc_status bucket_sizes(nc_asr_loader *l, const nc_asr_loader_params *p) {
    int64_t K = p->num_buckets;
    if (p->bucketing_batch_size && p->n_bucketing_batch_size > 0) {
        if (K > 1 && K != p->n_bucketing_batch_size)
            return nc_error(NC_ERR_CONFIG, "bucketing_batch_size has %lld entries but num_buckets is %lld",
                            (long long)p->n_bucketing_batch_size, (long long)K);
        K = p->n_bucketing_batch_size;
    }
    if (p->bucketing_strategy == NC_BUCKETING_NONE || K <= 1) {
        l->sampler.strategy = NC_BUCKETING_NONE;
        return NC_OK;
    }
    l->bucket_bs = nc_malloc((size_t)K * sizeof(int64_t));
    if (!l->bucket_bs) return nc_error(NC_ERR_OOM, "bucket sizes");
    for (int64_t k = 0; k < K; k++) {
        int64_t bs = p->batch_size;
        if (p->bucketing_batch_size && p->n_bucketing_batch_size > 0) bs = p->bucketing_batch_size[k];
        else if (p->bucketing_batch_size_scale > 0) bs = p->bucketing_batch_size_scale * (K - k);
        if (bs < 1 || bs > NC_ASR_MAX_BATCH)
            return nc_error(NC_ERR_CONFIG, "bucketing_batch_size[%lld] = %lld is out of range [1, %lld]", (long long)k,
                            (long long)bs, (long long)NC_ASR_MAX_BATCH);
        l->bucket_bs[k] = bs;
    }
    l->sampler.strategy = p->bucketing_strategy;
    l->sampler.num_buckets = K;
    l->sampler.bucket_bs = l->bucket_bs;
    return NC_OK;
}

static nc_status check_params(const nc_asr_loader_params *p) {
    if (!p->manifest && p->n_manifest_filepaths <= 0 && (!p->manifest_filepath || !p->manifest_filepath[0]))
        return nc_error(NC_ERR_CONFIG, "manifest_filepath is required");
    if (p->sample_rate <= 0) return nc_error(NC_ERR_CONFIG, "sample_rate must be > 0, got %d", p->sample_rate);
    if (p->batch_size < 1) return nc_error(NC_ERR_CONFIG, "batch_size must be >= 1, got %lld", (long long)p->batch_size);
    if (p->num_workers < 0) return nc_error(NC_ERR_CONFIG, "num_workers must be >= 0, got %d", p->num_workers);
    if (p->sample_rate > NC_ASR_MAX_SAMPLE_RATE || p->batch_size > NC_ASR_MAX_BATCH ||
        p->num_workers > NC_ASR_MAX_WORKERS || p->prefetch > NC_ASR_MAX_PREFETCH || p->prefetch < 0 ||
        p->num_buckets < 0 || p->num_buckets > NC_ASR_MAX_BUCKETS ||
        p->n_bucketing_batch_size > NC_ASR_MAX_BUCKETS || p->bucketing_batch_size_scale < 0 ||
        p->bucketing_batch_size_scale > NC_ASR_MAX_BATCH)
        return nc_error(NC_ERR_CONFIG,
                        "out of range: sample_rate %d (at most %d), batch_size %lld (at most %lld), num_workers %d "
                        "(at most %d), prefetch %d (0 to %d), num_buckets %lld and bucketing_batch_size entries "
                        "%lld (0 to %d), bucketing_batch_size %lld (0 to %lld)",
                        p->sample_rate, NC_ASR_MAX_SAMPLE_RATE, (long long)p->batch_size, (long long)NC_ASR_MAX_BATCH,
                        p->num_workers, NC_ASR_MAX_WORKERS, p->prefetch, NC_ASR_MAX_PREFETCH,
                        (long long)p->num_buckets, (long long)p->n_bucketing_batch_size, NC_ASR_MAX_BUCKETS,
                        (long long)p->bucketing_batch_size_scale, (long long)NC_ASR_MAX_BATCH);
    if (p->world_size < 1 || p->rank < 0 || p->rank >= p->world_size)
        return nc_error(NC_ERR_CONFIG, "rank %d is outside world_size %d", p->rank, p->world_size);
    if (p->trim_silence)
        return nc_error(NC_ERR_UNSUPPORTED, "trim_silence: true is not supported (trim the audio beforehand)");
    if (p->n_perturb < 0 || (p->n_perturb > 0 && !p->perturb))
        return nc_error(NC_ERR_INVALID_ARG, "n_perturb %d without perturbation steps", p->n_perturb);
    if (p->features && p->features->sample_rate != p->sample_rate)
        return nc_error(NC_ERR_CONFIG, "preprocessor sample_rate %lld differs from the dataset's sample_rate %d",
                        (long long)p->features->sample_rate, p->sample_rate);
    return NC_OK;
}

static nc_status setup(nc_asr_loader *l, const nc_asr_loader_params *p) {
    nc_status s;
    nc_manifest_filter f = {.min_duration = p->min_duration, .max_duration = p->max_duration, .max_utts = p->max_utts};
    if (p->manifest) {
        /* A borrowed manifest: the filters pick entries by index. */
        const nc_manifest *m = p->manifest;
        l->man = m;
        l->index = nc_malloc((size_t)(m->n ? m->n : 1) * sizeof *l->index);
        if (!l->index) return nc_error(NC_ERR_OOM, "manifest index");
        for (int64_t i = 0; i < m->n && (f.max_utts <= 0 || l->n_entries < f.max_utts); i++) {
            double d = m->entries[i].duration;
            if ((f.min_duration >= 0 && d < f.min_duration) || (f.max_duration >= 0 && d > f.max_duration)) continue;
            l->index[l->n_entries++] = i;
        }
    } else {
        s = p->n_manifest_filepaths > 0
                ? nc_manifest_read_list(p->manifest_filepaths, p->n_manifest_filepaths, &f, false, &l->own)
                : nc_manifest_read(p->manifest_filepath, &f, false, &l->own);
        if (s) return s;
        l->man = &l->own;
        l->n_entries = l->own.n;
    }
    if (l->n_entries == 0)
        return nc_error(NC_ERR_CONFIG, "%s: no utterance left after min_duration/max_duration/max_utts filtering",
                        p->manifest ? "the manifest"
                        : p->n_manifest_filepaths > 0 ? p->manifest_filepaths[0] : p->manifest_filepath);
    l->durations = nc_malloc((size_t)l->n_entries * sizeof(double));
    if (!l->durations) return nc_error(NC_ERR_OOM, "durations");
    for (int64_t i = 0; i < l->n_entries; i++)
        l->durations[i] = l->man->entries[l->index ? l->index[i] : i].duration;
    if (p->features && (s = nc_featurizer_create(p->features, &l->fz))) return nc_error_prefix(s, "preprocessor");
    if (p->n_perturb > 0) {
        l->perturb = nc_malloc((size_t)p->n_perturb * sizeof *l->perturb);
        if (!l->perturb) return nc_error(NC_ERR_OOM, "perturbations");
        memcpy(l->perturb, p->perturb, (size_t)p->n_perturb * sizeof *l->perturb);
        /* The sets outlive the params the config built (cleared once the loader exists). */
        for (; l->n_perturb_held < p->n_perturb; l->n_perturb_held++) {
            nc_perturb_step *st = &l->perturb[l->n_perturb_held];
            if (st->kind == NC_PERTURB_NOISE) nc_noise_set_retain(st->u.noise.noise);
            if (st->kind == NC_PERTURB_IMPULSE) nc_noise_set_retain(st->u.impulse.rirs);
        }
    }
    if (p->spec_augment) l->sa = *p->spec_augment;
    l->sampler = (asr_sampler_cfg){.shuffle = p->shuffle, .batch_size = p->batch_size, .seed = p->seed,
                                   .rank = p->rank, .world_size = p->world_size};
    if ((s = bucket_sizes(l, p))) return s;
    /* bos/eos as AudioToBPEDataset: only ids > 0 (char vocabularies have none). */
    int32_t bos = -1, eos = -1;
    if (p->tokenizer) {
        const nc_tokenizer_special sp = nc_tokenizer_special_ids(p->tokenizer);
        /* NeMo's AutoTokenizer (wpe) uses [CLS]/[SEP] when the vocabulary has no bos/eos. */
        bos = sp.bos_id > 0 ? sp.bos_id : sp.cls_id;
        eos = sp.eos_id > 0 ? sp.eos_id : sp.sep_id;
        l->pad_id = sp.pad_id > 0 ? sp.pad_id : 0;
        if (!p->use_start_end_token || bos <= 0) bos = -1;
        if (!p->use_start_end_token || eos <= 0) eos = -1;
    }
    l->work = (asr_work_cfg){
        .man = l->man,
        .index = l->index,
        .sample_rate = p->sample_rate,
        .fz = l->fz,
        .sa = p->spec_augment ? &l->sa : NULL,
        .perturb = l->perturb,
        .n_perturb = p->n_perturb,
        .tok = p->tokenizer,
        .bos_id = bos,
        .eos_id = eos,
        .training = p->training,
        .keep_audio = p->keep_audio,
        .skip_bad_audio = p->skip_bad_audio,
        .seed = p->seed,
    };
    /* The plan's shape does not depend on the epoch: size the slots from epoch 0. */
    asr_plan plan;
    if ((s = asr_plan_build(&l->sampler, l->durations, l->n_entries, 0, &plan))) return s;
    l->max_batch = plan.max_batch > 0 ? plan.max_batch : 1;
    l->plan_batches = plan.n_batches;
    asr_plan_free(&plan);
    l->n_slots = (p->prefetch > 0 ? p->prefetch : 1) + 1; /* held + prefetch ahead */
    l->slots = nc_calloc((size_t)l->n_slots, sizeof *l->slots);
    if (!l->slots) return nc_error(NC_ERR_OOM, "batch slots");
    for (int i = 0; i < l->n_slots; i++) {
        l->slots[i].batch = -1;
        l->slots[i].utts = nc_calloc((size_t)l->max_batch, sizeof(asr_utt));
        if (!l->slots[i].utts) return nc_error(NC_ERR_OOM, "batch slots");
    }
    return NC_OK;
}

nc_status nc_asr_loader_create(const nc_asr_loader_params *p, nc_asr_loader **out) {
    if (!p || !out) return nc_error(NC_ERR_INVALID_ARG, "nc_asr_loader_create: NULL argument");
    *out = NULL;
    nc_status s = check_params(p);
    if (s) return s;
    nc_asr_loader *l = nc_calloc(1, sizeof *l);
    if (!l) return nc_error(NC_ERR_OOM, "loader");
    l->p = *p;
    l->p.owned_ = NULL;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->ready_cv, NULL);
    if ((s = setup(l, p))) {
        nc_asr_loader_free(l);
        return s;
    }
    l->p.manifest_filepath = NULL; /* not kept: may point into a config */
    l->p.manifest_filepaths = NULL;
    l->p.n_manifest_filepaths = 0;
    l->p.manifest = NULL;
    if (p->num_workers > 0) {
        l->threads = nc_calloc((size_t)p->num_workers, sizeof(pthread_t));
        if (!l->threads) {
            nc_asr_loader_free(l);
            return nc_error(NC_ERR_OOM, "loader threads");
        }
        for (int i = 0; i < p->num_workers; i++) {
            if (pthread_create(&l->threads[i], NULL, worker_main, l)) {
                nc_asr_loader_free(l);
                return nc_error(NC_ERR_INTERNAL, "cannot start loader thread %d of %d", i + 1, p->num_workers);
            }
            l->n_threads++;
        }
    }
    *out = l;
    return NC_OK;
}

const nc_manifest *nc_asr_loader_manifest(const nc_asr_loader *l) { return l->man; }
const nc_featurizer *nc_asr_loader_featurizer(const nc_asr_loader *l) { return l->fz; }
int64_t nc_asr_loader_num_batches(const nc_asr_loader *l) { return l->plan_batches; }

nc_status nc_asr_loader_begin_epoch(nc_asr_loader *l, int64_t epoch, int64_t skip) {
    if (!l) return nc_error(NC_ERR_INVALID_ARG, "nc_asr_loader_begin_epoch: NULL loader");
    if (skip < 0) return nc_error(NC_ERR_INVALID_ARG, "begin_epoch: skip %lld < 0", (long long)skip);
    asr_plan plan;
    nc_status s = asr_plan_build(&l->sampler, l->durations, l->n_entries, epoch, &plan);
    if (s) return s;
    pthread_mutex_lock(&l->mu);
    quiesce(l);
    asr_plan_free(&l->plan);
    l->plan = plan;
    l->epoch = epoch;
    if (skip > plan.n_batches) skip = plan.n_batches;
    l->claim_b = l->free_below = l->next_batch = skip;
    l->claim_j = 0;
    for (int i = 0; i < l->n_slots; i++) l->slots[i].batch = -1;
    l->active = true;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    return NC_OK;
}

/* Logs the skipped utterances of slot s, which the consumer holds (no worker
 * can reuse it), with mu released so that a log callback may call back in. */
static void report_skips(nc_asr_loader *l, const asr_slot *s) {
    int64_t n = 0;
    for (int64_t j = 0; j < s->n_items; j++) n += s->utts[j].bad;
    if (!n) return;
    int64_t k = l->stats.n_skipped_audio;
    l->stats.n_skipped_audio += n;
    pthread_mutex_unlock(&l->mu);
    for (int64_t j = 0; j < s->n_items; j++)
        if (s->utts[j].bad)
            NC_WARN("skipping an utterance (%lld skipped so far): %s", (long long)++k,
                    s->utts[j].msg ? s->utts[j].msg : "bad audio");
    pthread_mutex_lock(&l->mu);
}

nc_status nc_asr_loader_next(nc_asr_loader *l, const nc_asr_batch **batch) {
    if (!l || !batch) return nc_error(NC_ERR_INVALID_ARG, "nc_asr_loader_next: NULL argument");
    *batch = NULL;
    pthread_mutex_lock(&l->mu);
    if (!l->active) {
        pthread_mutex_unlock(&l->mu);
        return nc_error(NC_ERR_INVALID_ARG, "nc_asr_loader_next: call nc_asr_loader_begin_epoch first");
    }
    for (;;) {
        /* The batch handed out last time is released now. */
        l->free_below = l->next_batch;
        pthread_cond_broadcast(&l->work_cv);
        if (l->next_batch >= l->plan.n_batches) break;
        const int64_t b = l->next_batch;
        asr_slot *s = slot_of(l, b);
        if (!(s->batch == b && s->ready)) {
            if (l->n_threads == 0) {
                /* One utterance is too small for an OpenMP team (measured: 6x slower with two
                 * threads than one); the caller's setting is restored afterwards. */
                const int omp_threads = omp_get_max_threads();
                omp_set_num_threads(1);
                int64_t cb, cj;
                while (!(s->batch == b && s->ready) && claim(l, &cb, &cj)) {
                    pthread_mutex_unlock(&l->mu);
                    run_item(l, cb, cj);
                }
                omp_set_num_threads(omp_threads);
                if (!(s->batch == b && s->ready)) {
                    pthread_mutex_unlock(&l->mu);
                    return nc_error(NC_ERR_INTERNAL, "loader: batch %lld could not be scheduled", (long long)b);
                }
            } else {
                const double t0 = nc_now_s();
                while (!(s->batch == b && s->ready)) pthread_cond_wait(&l->ready_cv, &l->mu);
                l->stats.seconds_waiting += nc_now_s() - t0;
            }
        }
        l->next_batch++;
        if (s->err) {
            /* The first failing utterance in plan order, whichever worker hit it first. */
            const char *msg = s->err_msg;
            nc_status code = s->err;
            for (int64_t j = 0; j < s->n_items; j++)
                if (s->utts[j].err) {
                    code = s->utts[j].err;
                    msg = s->utts[j].msg;
                    break;
                }
            nc_status st = nc_error(code, "%s", msg ? msg : nc_status_str(code));
            pthread_mutex_unlock(&l->mu);
            return st;
        }
        report_skips(l, s);
        if (s->out.batch_size == 0) {
            l->stats.n_skipped_batches++;
            continue;
        }
        l->stats.n_batches++;
        l->stats.n_utterances += s->out.batch_size;
        l->stats.audio_seconds += s->out.audio_seconds;
        *batch = &s->out;
        break;
    }
    pthread_mutex_unlock(&l->mu);
    return NC_OK;
}

nc_asr_loader_stats nc_asr_loader_get_stats(const nc_asr_loader *l) {
    nc_asr_loader *m = (nc_asr_loader *)l; /* the lock is not part of the logical state */
    pthread_mutex_lock(&m->mu);
    nc_asr_loader_stats st = l->stats;
    pthread_mutex_unlock(&m->mu);
    return st;
}
