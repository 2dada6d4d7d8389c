/* oneDNN matmul engine (fp32, and bf16 inputs with fp32 accumulation).
 *
 * Primitives are cached by shape, layout, dtype and scaling, because creating
 * one costs far more than running a small matmul. bf16 operands are converted
 * into per-thread buffers that only grow, so a steady-state step allocates
 * nothing. */
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/dnnl_common.h"
#include "backend/cpu/gemm.h"
#include "nemoc/alloc.h"
#include "nemoc/log.h"
#include "nemoc/tensor.h"

typedef struct gemm_key {
    int64_t M, N, K, lda, ldb, ldc, sa, sb, sc, batch;
    float alpha, beta;
    int ta, tb, bf16, bias;
} gemm_key;

typedef struct cache_entry {
    gemm_key key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a_md, b_md, c_md, bias_md;
    int used;
} cache_entry;

#define CACHE_SIZE 512

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_entry cache[CACHE_SIZE];
static dnnl_engine_t engine;
static dnnl_stream_t stream;

nc_status nc_cpu_dnnl_fail(dnnl_status_t st, const char *what) {
    return nc_error(NC_ERR_INTERNAL, "oneDNN %s failed (status %d)", what, (int)st);
}

/* One engine and stream for every oneDNN primitive of the process. */
static pthread_mutex_t engine_lock = PTHREAD_MUTEX_INITIALIZER;

nc_status nc_cpu_dnnl_engine(dnnl_engine_t *eng, dnnl_stream_t *str) {
    pthread_mutex_lock(&engine_lock);
    dnnl_status_t st = dnnl_success;
    if (!engine) st = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (st == dnnl_success && !stream) st = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    pthread_mutex_unlock(&engine_lock);
    if (st != dnnl_success) return nc_cpu_dnnl_fail(st, "engine/stream create");
    *eng = engine;
    *str = stream;
    return NC_OK;
}

static uint64_t key_hash(const gemm_key *k) {
    const unsigned char *p = (const unsigned char *)k;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof *k; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* 3-D (batch, rows, cols) descriptor for a possibly transposed operand. */
static dnnl_status_t make_md(dnnl_memory_desc_t *md, int64_t batch, int64_t rows, int64_t cols,
                             bool trans, int64_t ld, int64_t bstride, dnnl_data_type_t dt) {
    /* A zero batch stride broadcasts one matrix: oneDNN wants batch dim 1. */
    if (bstride == 0) batch = 1;
    dnnl_dims_t dims = {batch, rows, cols};
    dnnl_dims_t strides = {batch == 1 ? (trans ? cols : rows) * ld : bstride, trans ? 1 : ld, trans ? ld : 1};
    return dnnl_memory_desc_init_by_strides(md, 3, dims, dt, strides);
}

static nc_status build(cache_entry *e, const gemm_key *k) {
    dnnl_data_type_t in_dt = k->bf16 ? dnnl_bf16 : dnnl_f32;
    /* bf16 copies are packed densely (ld = row length), see convert_operand. */
    int64_t lda = k->bf16 ? (k->ta ? k->M : k->K) : k->lda;
    int64_t ldb = k->bf16 ? (k->tb ? k->K : k->N) : k->ldb;
    int64_t sa = k->bf16 ? (k->sa ? k->M * k->K : 0) : k->sa;
    int64_t sb = k->bf16 ? (k->sb ? k->K * k->N : 0) : k->sb;
    dnnl_status_t st;
    if ((st = make_md(&e->a_md, k->batch, k->M, k->K, k->ta, lda, sa, in_dt)) ||
        (st = make_md(&e->b_md, k->batch, k->K, k->N, k->tb, ldb, sb, in_dt)) ||
        (st = make_md(&e->c_md, k->batch, k->M, k->N, false, k->ldc, k->sc, dnnl_f32)))
        return nc_cpu_dnnl_fail(st, "memory_desc");
    if (k->bias) {
        dnnl_dims_t bd = {1, 1, k->N};
        if ((st = dnnl_memory_desc_init_by_tag(&e->bias_md, 3, bd, dnnl_f32, dnnl_abc)))
            return nc_cpu_dnnl_fail(st, "bias memory_desc");
    }
    dnnl_matmul_desc_t md;
    if ((st = dnnl_matmul_desc_init(&md, &e->a_md, &e->b_md, k->bias ? &e->bias_md : NULL, &e->c_md)))
        return nc_cpu_dnnl_fail(st, "matmul_desc_init");
    dnnl_primitive_attr_t attr;
    dnnl_primitive_attr_create(&attr);
    if (k->alpha != 1.0f) dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha);
    if (k->beta != 0.0f) {
        dnnl_post_ops_t po;
        dnnl_post_ops_create(&po);
        dnnl_post_ops_append_sum(po, k->beta);
        dnnl_primitive_attr_set_post_ops(attr, po);
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    st = dnnl_primitive_desc_create(&pd, &md, attr, engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (st == dnnl_unimplemented && k->bf16)
        return nc_error(NC_ERR_UNSUPPORTED, "oneDNN has no bf16 matmul for this CPU");
    if (st) return nc_cpu_dnnl_fail(st, "matmul primitive_desc_create");
    st = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st) return nc_cpu_dnnl_fail(st, "matmul primitive_create");
    e->key = *k;
    e->used = 1;
    return NC_OK;
}

/* Per-thread operand buffers that only grow: slots 0/1 hold the bf16 copies
 * of A/B, slots 2/3 their fp32 expansions when bf16 is emulated. */
static _Thread_local void *bf_buf[4];
static _Thread_local size_t bf_cap[4];

static void *slot_buffer(int slot, size_t bytes) {
    if (bytes > bf_cap[slot]) {
        nc_free(bf_buf[slot]);
        bf_buf[slot] = nc_malloc(bytes);
        bf_cap[slot] = bf_buf[slot] ? bytes : 0;
    }
    return bf_buf[slot];
}

/* Packs a (batch of) rows x cols operand with leading dimension ld into a
 * dense bf16 buffer; a zero batch stride means one shared matrix. */
static const uint16_t *convert_operand(int slot, const float *src, int64_t batch, int64_t rows,
                                       int64_t cols, int64_t ld, int64_t bstride) {
    int64_t nb = bstride ? batch : 1;
    size_t need = (size_t)(nb * rows * cols);
    uint16_t *dst = slot_buffer(slot, need * sizeof(uint16_t));
    if (!dst) return NULL;
    if (ld == cols && (nb == 1 || bstride == rows * cols)) {
        nc_convert_f32_to_bf16(src, dst, (int64_t)need); /* one dense block */
        return dst;
    }
#pragma omp parallel for collapse(2) if (need > 32768) schedule(static)
    for (int64_t b = 0; b < nb; b++)
        for (int64_t r = 0; r < rows; r++)
            nc_convert_f32_to_bf16(src + b * bstride + r * ld, dst + (b * rows + r) * cols, cols);
    return dst;
}

/* Set once oneDNN reports that it has no bf16 matmul on this CPU (AVX2-only
 * machines, valgrind's virtual CPU). */
static bool bf16_emulated;

/* bf16 matmul without a bf16 kernel: the operands rounded to bf16 and widened
 * back to fp32, then an fp32 matmul. A product of two bf16 values is exact in
 * fp32, so this is the bf16 kernel's arithmetic (bf16 inputs, fp32
 * accumulation) up to summation order; bf16-mixed training keeps its
 * numerics, without the speed. */
static nc_status gemm_bf16_emulated(const nc_gemm_args *g) {
    const int64_t sa = g->batch > 1 ? g->stride_a : 0, sb = g->batch > 1 ? g->stride_b : 0;
    const int64_t na = (sa ? g->batch : 1) * g->M * g->K, nb = (sb ? g->batch : 1) * g->K * g->N;
    const uint16_t *a16 = g->A16 ? g->A16
                          : g->ta ? convert_operand(0, g->A, g->batch, g->K, g->M, g->lda, sa)
                                  : convert_operand(0, g->A, g->batch, g->M, g->K, g->lda, sa);
    const uint16_t *b16 = g->B16 ? g->B16
                          : g->tb ? convert_operand(1, g->B, g->batch, g->N, g->K, g->ldb, sb)
                                  : convert_operand(1, g->B, g->batch, g->K, g->N, g->ldb, sb);
    float *a = slot_buffer(2, (size_t)na * sizeof(float)), *b = slot_buffer(3, (size_t)nb * sizeof(float));
    if (!a16 || !b16 || !a || !b) return nc_error(NC_ERR_OOM, "gemm: cannot allocate bf16 operand buffers");
    nc_convert_bf16_to_f32(a16, a, na);
    nc_convert_bf16_to_f32(b16, b, nb);
    nc_gemm_args h = *g;
    h.A = a, h.lda = g->ta ? g->M : g->K, h.stride_a = sa ? g->M * g->K : 0;
    h.B = b, h.ldb = g->tb ? g->K : g->N, h.stride_b = sb ? g->K * g->N : 0;
    h.A16 = h.B16 = NULL;
    return nc_cpu_gemm_dnnl(&h, false);
}

void nc_cpu_gemm_bf16_emulate(bool on) { __atomic_store_n(&bf16_emulated, on, __ATOMIC_RELAXED); }

static nc_status emulate_from_now(const nc_gemm_args *g) {
    if (!__atomic_exchange_n(&bf16_emulated, true, __ATOMIC_RELAXED))
        NC_WARN("oneDNN offers no bf16 matmul on this CPU: bf16 matmuls run as fp32 matmuls of "
                "bf16-rounded operands (the same numerics, no speed-up)");
    return gemm_bf16_emulated(g);
}

nc_status nc_cpu_gemm_dnnl(const nc_gemm_args *g, bool bf16) {
    if (bf16 && __atomic_load_n(&bf16_emulated, __ATOMIC_RELAXED)) return gemm_bf16_emulated(g);
    gemm_key k;
    memset(&k, 0, sizeof k);
    k.M = g->M, k.N = g->N, k.K = g->K, k.lda = g->lda, k.ldb = g->ldb, k.ldc = g->ldc;
    k.sa = g->batch > 1 ? g->stride_a : 0;
    k.sb = g->batch > 1 ? g->stride_b : 0;
    k.sc = g->batch > 1 ? g->stride_c : g->M * g->ldc;
    k.batch = g->batch;
    k.alpha = g->alpha, k.beta = g->beta;
    k.ta = g->ta, k.tb = g->tb, k.bf16 = bf16, k.bias = g->bias != NULL;

    dnnl_engine_t eng;
    dnnl_stream_t str;
    nc_status s = nc_cpu_dnnl_engine(&eng, &str);
    if (s) return s;
    pthread_mutex_lock(&cache_lock);
    uint64_t h = key_hash(&k);
    cache_entry *e = NULL;
    for (int probe = 0; probe < 8; probe++) {
        cache_entry *c = &cache[(h + (uint64_t)probe) % CACHE_SIZE];
        if (c->used && memcmp(&c->key, &k, sizeof k) == 0) {
            e = c;
            break;
        }
        if (!c->used) {
            s = build(c, &k);
            if (s) {
                pthread_mutex_unlock(&cache_lock);
                return s == NC_ERR_UNSUPPORTED ? emulate_from_now(g) : s;
            }
            e = c;
            break;
        }
    }
    if (!e) {
        /* Probe window full: evict the home slot. */
        e = &cache[h % CACHE_SIZE];
        dnnl_primitive_destroy(e->prim);
        e->used = 0;
        s = build(e, &k);
        if (s) {
            pthread_mutex_unlock(&cache_lock);
            return s == NC_ERR_UNSUPPORTED ? emulate_from_now(g) : s;
        }
    }
    pthread_mutex_unlock(&cache_lock);

    const void *a = g->A, *b = g->B;
    if (bf16) {
        a = g->A16 ? g->A16
            : g->ta ? convert_operand(0, g->A, g->batch, g->K, g->M, g->lda, k.sa)
                    : convert_operand(0, g->A, g->batch, g->M, g->K, g->lda, k.sa);
        b = g->B16 ? g->B16
            : g->tb ? convert_operand(1, g->B, g->batch, g->N, g->K, g->ldb, k.sb)
                    : convert_operand(1, g->B, g->batch, g->K, g->N, g->ldb, k.sb);
        if (!a || !b) return nc_error(NC_ERR_OOM, "gemm: cannot allocate bf16 operand buffers");
    }
    dnnl_memory_t ma, mb, mc;
    dnnl_status_t st;
    if ((st = dnnl_memory_create(&ma, &e->a_md, eng, (void *)a))) return nc_cpu_dnnl_fail(st, "memory");
    if ((st = dnnl_memory_create(&mb, &e->b_md, eng, (void *)b))) {
        dnnl_memory_destroy(ma);
        return nc_cpu_dnnl_fail(st, "memory");
    }
    if ((st = dnnl_memory_create(&mc, &e->c_md, eng, g->C))) {
        dnnl_memory_destroy(ma);
        dnnl_memory_destroy(mb);
        return nc_cpu_dnnl_fail(st, "memory");
    }
    dnnl_memory_t mbias = NULL;
    if (g->bias && (st = dnnl_memory_create(&mbias, &e->bias_md, eng, (void *)g->bias))) {
        dnnl_memory_destroy(ma);
        dnnl_memory_destroy(mb);
        dnnl_memory_destroy(mc);
        return nc_cpu_dnnl_fail(st, "memory");
    }
    dnnl_exec_arg_t args[4] = {
        {DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}, {DNNL_ARG_BIAS, mbias}};
    st = dnnl_primitive_execute(e->prim, str, g->bias ? 4 : 3, args);
    if (st == dnnl_success) st = dnnl_stream_wait(str);
    dnnl_memory_destroy(ma);
    dnnl_memory_destroy(mb);
    dnnl_memory_destroy(mc);
    if (mbias) dnnl_memory_destroy(mbias);
    if (st) return nc_cpu_dnnl_fail(st, "matmul execute");
    return NC_OK;
}

void nc_cpu_dnnl_cache_clear(void) {
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SIZE; i++) {
        if (cache[i].used) dnnl_primitive_destroy(cache[i].prim);
        cache[i].used = 0;
    }
    pthread_mutex_unlock(&cache_lock);
    nc_cpu_dnnl_conv_cache_clear();
}
