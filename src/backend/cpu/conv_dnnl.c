/* Channels-last 2-D convolution on oneDNN (see conv.h).
 *
 * Why: the Conformer's ConvSubsampling convs (3x3, stride 2, 176 channels
 * over 1600 x 80 feature maps) were a quarter of a training step as
 * im2col + gemm (~220 GFLOP/s, plus unfolding 9x the input). oneDNN's direct
 * and brgemm convolution kernels on NHWC tensors reach 450-500 GFLOP/s fp32
 * and ~950 bf16 on the same shapes (measured with the primitives below on
 * this 2-core AVX-512 machine: forward 71 ms vs 37 ms bf16 per call), and
 * NHWC is also the layout the subsampling's flatten wants. NCHW tensors
 * would make oneDNN pick its gemm-based convolution (~330 GFLOP/s).
 *
 * Primitives are built per geometry and cached (creating one costs far more
 * than running it). A geometry for which oneDNN offers only its reference
 * implementation is refused, so callers take their im2col path instead. */
#include <pthread.h>
#include <string.h>

#include "backend/cpu/conv.h"
#include "backend/cpu/dnnl_common.h"

typedef struct conv_key {
    nc_conv_geom g;
    int bf16, relu, bias;
} conv_key;

typedef struct conv_prims {
    conv_key key;
    bool used, ok;
    dnnl_primitive_t fwd, bwd_data, bwd_weights;
    /* weight reorders: torch layout -> each pass's layout, and the weight
     * gradient back; x and dy into the weight gradient's layouts. NULL where
     * the layouts (and types) agree. */
    dnnl_primitive_t w_to_fwd, w_to_bwd, dw_to_user, x_to_bw, dy_to_bw;
    dnnl_memory_desc_t x_md, y_md, dx_md, dy_md, w_user_md, w_fwd_md, w_bwd_md, dw_md, bias_md;
    dnnl_memory_desc_t xw_md, dyw_md; /* x and dy as the weight gradient reads them */
} conv_prims;

#define NPRIMS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static conv_prims prims[NPRIMS];
static int next_evict;

/* torch's (Cout, Cin/groups, KH, KW) is oneDNN's oihw, or goihw with groups. */
static dnnl_status_t weight_md(dnnl_memory_desc_t *md, const nc_conv_geom *g, dnnl_data_type_t dt,
                               bool any) {
    if (g->groups == 1) {
        dnnl_dims_t d = {g->Cout, g->Cin, g->KH, g->KW};
        return dnnl_memory_desc_init_by_tag(md, 4, d, dt, any ? dnnl_format_tag_any : dnnl_oihw);
    }
    dnnl_dims_t d = {g->groups, g->Cout / g->groups, g->Cin / g->groups, g->KH, g->KW};
    return dnnl_memory_desc_init_by_tag(md, 5, d, dt, any ? dnnl_format_tag_any : dnnl_goihw);
}

/* false when oneDNN would run its slow reference loops for this pass */
static bool optimised(const_dnnl_primitive_desc_t pd) {
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl)
        return false;
    return strstr(impl, "ref") == NULL;
}

static dnnl_status_t reorder(dnnl_primitive_t *p, const dnnl_memory_desc_t *from,
                             const dnnl_memory_desc_t *to, dnnl_engine_t eng) {
    *p = NULL;
    if (dnnl_memory_desc_equal(from, to)) return dnnl_success;
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, NULL);
    if (st) return st;
    st = dnnl_primitive_create(p, pd);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

static void release(conv_prims *e) {
    dnnl_primitive_t *all[] = {&e->fwd,        &e->bwd_data, &e->bwd_weights, &e->w_to_fwd,
                               &e->w_to_bwd,   &e->dw_to_user, &e->x_to_bw, &e->dy_to_bw};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (*all[i]) dnnl_primitive_destroy(*all[i]), *all[i] = NULL;
    e->used = e->ok = false;
}

/* Builds the three passes (e->ok false when any is missing or unoptimised;
 * that is an answer, not an error). */
static dnnl_status_t build(conv_prims *e, const conv_key *k, dnnl_engine_t eng) {
    const nc_conv_geom *g = &k->g;
    dnnl_data_type_t dt = k->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t xd = {g->N, g->Cin, g->H, g->W}, yd = {g->N, g->Cout, g->OH, g->OW};
    dnnl_dims_t bd = {g->Cout}, strides = {g->sh, g->sw}, dil = {g->dh - 1, g->dw - 1};
    dnnl_dims_t pl = {g->ph, g->pw};
    /* trailing padding that yields exactly OH x OW (padding the caller gave
     * beyond what the last window reaches changes nothing) */
    int64_t rh = (g->OH - 1) * g->sh + (g->KH - 1) * g->dh + 1 - g->H - g->ph;
    int64_t rw = (g->OW - 1) * g->sw + (g->KW - 1) * g->dw + 1 - g->W - g->pw;
    dnnl_dims_t pr = {rh > 0 ? rh : 0, rw > 0 ? rw : 0};
    dnnl_memory_desc_t w_any, dw_any, x_any, dy_any;
    dnnl_status_t st;
    if ((st = dnnl_memory_desc_init_by_tag(&e->x_md, 4, xd, dt, dnnl_nhwc)) ||
        (st = dnnl_memory_desc_init_by_tag(&e->y_md, 4, yd, dnnl_f32, dnnl_nhwc)) ||
        (st = dnnl_memory_desc_init_by_tag(&e->dx_md, 4, xd, dnnl_f32, dnnl_nhwc)) ||
        (st = dnnl_memory_desc_init_by_tag(&e->dy_md, 4, yd, dt, dnnl_nhwc)) ||
        (st = dnnl_memory_desc_init_by_tag(&x_any, 4, xd, dt, dnnl_format_tag_any)) ||
        (st = dnnl_memory_desc_init_by_tag(&dy_any, 4, yd, dt, dnnl_format_tag_any)) ||
        (st = dnnl_memory_desc_init_by_tag(&e->bias_md, 1, bd, dnnl_f32, dnnl_x)) ||
        (st = weight_md(&e->w_user_md, g, dnnl_f32, false)) ||
        (st = weight_md(&w_any, g, dt, true)) || (st = weight_md(&dw_any, g, dnnl_f32, true)))
        return st;
    const dnnl_memory_desc_t *bias = k->bias ? &e->bias_md : NULL;

    dnnl_convolution_desc_t fd, bdd, bwd;
    if ((st = dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training,
                                                         dnnl_convolution_direct, &e->x_md, &w_any,
                                                         bias, &e->y_md, strides, dil, pl, pr)) ||
        (st = dnnl_dilated_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct,
                                                               &e->dx_md, &w_any, &e->dy_md,
                                                               strides, dil, pl, pr)) ||
        /* the weight gradient picks its own layouts for x and dy: oneDNN 2.6's
         * fp32 NHWC kernel for it ran 4x slower (421 ms vs 102 ms on the
         * Conformer's second subsampling conv) than its blocked one, which
         * more than pays for reordering x and dy (16 ms) */
        (st = dnnl_dilated_convolution_backward_weights_desc_init(
             &bwd, dnnl_convolution_direct, &x_any, &dw_any, bias, &dy_any, strides, dil, pl,
             pr)))
        return st;
    dnnl_primitive_attr_t attr = NULL;
    if (k->relu) {
        dnnl_post_ops_t po;
        if ((st = dnnl_primitive_attr_create(&attr))) return st;
        if ((st = dnnl_post_ops_create(&po))) {
            dnnl_primitive_attr_destroy(attr);
            return st;
        }
        st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
        if (!st) st = dnnl_primitive_attr_set_post_ops(attr, po);
        dnnl_post_ops_destroy(po);
        if (st) {
            dnnl_primitive_attr_destroy(attr);
            return st;
        }
    }
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL, wpd = NULL;
    st = dnnl_primitive_desc_create(&fpd, &fd, attr, eng, NULL);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&bpd, &bdd, NULL, eng, fpd);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&wpd, &bwd, NULL, eng, fpd);
    e->key = *k;
    e->used = true;
    e->ok = st == dnnl_success && optimised(fpd) && optimised(bpd) && optimised(wpd);
    if (st == dnnl_unimplemented) st = dnnl_success; /* no kernel: not available */
    if (e->ok) {
        e->w_fwd_md = *dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
        e->w_bwd_md = *dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0);
        e->dw_md = *dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0);
        e->xw_md = *dnnl_primitive_desc_query_md(wpd, dnnl_query_src_md, 0);
        e->dyw_md = *dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_dst_md, 0);
        if ((st = dnnl_primitive_create(&e->fwd, fpd)) ||
            (st = dnnl_primitive_create(&e->bwd_data, bpd)) ||
            (st = dnnl_primitive_create(&e->bwd_weights, wpd)) ||
            (st = reorder(&e->w_to_fwd, &e->w_user_md, &e->w_fwd_md, eng)) ||
            (st = reorder(&e->w_to_bwd, &e->w_user_md, &e->w_bwd_md, eng)) ||
            (st = reorder(&e->dw_to_user, &e->dw_md, &e->w_user_md, eng)) ||
            (st = reorder(&e->x_to_bw, &e->x_md, &e->xw_md, eng)) ||
            (st = reorder(&e->dy_to_bw, &e->dy_md, &e->dyw_md, eng)))
            release(e);
    }
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    if (wpd) dnnl_primitive_desc_destroy(wpd);
    return st;
}

void nc_cpu_dnnl_conv_cache_clear(void) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < NPRIMS; i++) release(&prims[i]);
    pthread_mutex_unlock(&lock);
}

/* The cached primitives of a geometry, built on first use. With all slots
 * taken the oldest-built is evicted; an entry handed out is used until the
 * op returns, and ops run one at a time per ctx, so this only needs more
 * than NPRIMS geometries live at once in concurrent ctxs to go wrong, which
 * nemoc never does (data-parallel ranks are processes). */
static nc_status lookup(const nc_conv_geom *g, bool bf16, bool relu, bool bias, conv_prims **out) {
    conv_key k;
    memset(&k, 0, sizeof k);
    k.g = *g, k.bf16 = bf16, k.relu = relu, k.bias = bias;
    dnnl_engine_t eng;
    dnnl_stream_t str;
    nc_status s = nc_cpu_dnnl_engine(&eng, &str);
    if (s) return s;
    pthread_mutex_lock(&lock);
    conv_prims *e = NULL;
    for (int i = 0; i < NPRIMS && !e; i++)
        if (prims[i].used && !memcmp(&prims[i].key, &k, sizeof k)) e = &prims[i];
    for (int i = 0; i < NPRIMS && !e; i++)
        if (!prims[i].used) e = &prims[i];
    if (!e) {
        e = &prims[next_evict];
        next_evict = (next_evict + 1) % NPRIMS;
        release(e);
    }
    dnnl_status_t st = dnnl_success;
    if (!e->used) st = build(e, &k, eng);
    pthread_mutex_unlock(&lock);
    if (st) return nc_cpu_dnnl_fail(st, "convolution primitive creation");
    *out = e;
    return NC_OK;
}

bool nc_conv_cl_available(const nc_conv_geom *g, bool bf16, bool relu, bool bias) {
    conv_prims *e;
    return lookup(g, bf16, relu, bias, &e) == NC_OK && e->ok;
}

/* Bytes rounded up to a cache line, so buffers carved from one work area
 * stay aligned. */
static size_t line(size_t n) { return (n + 63) & ~(size_t)63; }

size_t nc_conv_cl_work_bytes(const nc_conv_geom *g, bool bf16, bool relu, bool bias,
                             nc_conv_pass pass) {
    conv_prims *e;
    if (lookup(g, bf16, relu, bias, &e) || !e->ok) return 0;
    if (pass == NC_CONV_FWD) return line(dnnl_memory_desc_get_size(&e->w_fwd_md));
    if (pass == NC_CONV_BWD_DATA) return line(dnnl_memory_desc_get_size(&e->w_bwd_md));
    return line(dnnl_memory_desc_get_size(&e->dw_md)) +
           (e->x_to_bw ? line(dnnl_memory_desc_get_size(&e->xw_md)) : 0) +
           (e->dy_to_bw ? line(dnnl_memory_desc_get_size(&e->dyw_md)) : 0);
}

typedef struct mem_arg {
    int arg;
    const dnnl_memory_desc_t *md;
    const void *ptr;
} mem_arg;

/* Wraps the pointers in memory objects, runs p and waits for it. */
static nc_status run(dnnl_primitive_t p, int n, const mem_arg *a, const char *what) {
    dnnl_engine_t eng;
    dnnl_stream_t str;
    nc_status s = nc_cpu_dnnl_engine(&eng, &str);
    if (s) return s;
    dnnl_exec_arg_t ex[5];
    int made = 0;
    dnnl_status_t st = dnnl_success;
    for (; made < n; made++) {
        ex[made].arg = a[made].arg;
        if ((st = dnnl_memory_create(&ex[made].memory, a[made].md, eng, (void *)a[made].ptr)))
            break;
    }
    if (!st) st = dnnl_primitive_execute(p, str, n, ex);
    if (!st) st = dnnl_stream_wait(str);
    for (int i = 0; i < made; i++) dnnl_memory_destroy(ex[i].memory);
    return st ? nc_cpu_dnnl_fail(st, what) : NC_OK;
}

/* The torch-layout fp32 weights in the pass's layout and type: w itself, or
 * the reordered copy in work. */
static nc_status pass_weights(dnnl_primitive_t re, const dnnl_memory_desc_t *user,
                              const dnnl_memory_desc_t *to, const float *w, void *work,
                              const void **out) {
    *out = w;
    if (!re) return NC_OK;
    mem_arg a[2] = {{DNNL_ARG_FROM, user, w}, {DNNL_ARG_TO, to, work}};
    *out = work;
    return run(re, 2, a, "weight reorder");
}

static nc_status get_ok(const nc_conv_geom *g, bool bf16, bool relu, bool bias, conv_prims **e) {
    nc_status s = lookup(g, bf16, relu, bias, e);
    if (!s && !(*e)->ok)
        s = nc_error(NC_ERR_UNSUPPORTED, "conv: oneDNN has no optimised kernel for this geometry");
    return s;
}

nc_status nc_conv_cl_forward(const nc_conv_geom *g, bool bf16, bool relu, const void *x,
                             const float *w, const float *bias, float *y, void *work) {
    conv_prims *e;
    const void *wp;
    nc_status s = get_ok(g, bf16, relu, bias != NULL, &e);
    if (!s) s = pass_weights(e->w_to_fwd, &e->w_user_md, &e->w_fwd_md, w, work, &wp);
    if (s) return s;
    mem_arg a[4] = {{DNNL_ARG_SRC, &e->x_md, x}, {DNNL_ARG_WEIGHTS, &e->w_fwd_md, wp},
                    {DNNL_ARG_DST, &e->y_md, y}, {DNNL_ARG_BIAS, &e->bias_md, bias}};
    return run(e->fwd, bias ? 4 : 3, a, "convolution forward");
}

nc_status nc_conv_cl_backward_data(const nc_conv_geom *g, bool bf16, bool relu, bool bias,
                                   const void *dy, const float *w, float *dx, void *work) {
    conv_prims *e;
    const void *wp;
    nc_status s = get_ok(g, bf16, relu, bias, &e);
    if (!s) s = pass_weights(e->w_to_bwd, &e->w_user_md, &e->w_bwd_md, w, work, &wp);
    if (s) return s;
    mem_arg a[3] = {{DNNL_ARG_DIFF_DST, &e->dy_md, dy}, {DNNL_ARG_WEIGHTS, &e->w_bwd_md, wp},
                    {DNNL_ARG_DIFF_SRC, &e->dx_md, dx}};
    return run(e->bwd_data, 3, a, "convolution backward data");
}

nc_status nc_conv_cl_backward_weights(const nc_conv_geom *g, bool bf16, bool relu, bool bias,
                                      const void *x, const void *dy, float *dw, float *db,
                                      void *work) {
    conv_prims *e;
    nc_status s = get_ok(g, bf16, relu, bias, &e);
    if (s) return s;
    char *next = work;
    void *dwp = dw;
    if (e->dw_to_user) dwp = next, next += line(dnnl_memory_desc_get_size(&e->dw_md));
    if (e->x_to_bw) {
        mem_arg r[2] = {{DNNL_ARG_FROM, &e->x_md, x}, {DNNL_ARG_TO, &e->xw_md, next}};
        if ((s = run(e->x_to_bw, 2, r, "x reorder"))) return s;
        x = next, next += line(dnnl_memory_desc_get_size(&e->xw_md));
    }
    if (e->dy_to_bw) {
        mem_arg r[2] = {{DNNL_ARG_FROM, &e->dy_md, dy}, {DNNL_ARG_TO, &e->dyw_md, next}};
        if ((s = run(e->dy_to_bw, 2, r, "dy reorder"))) return s;
        dy = next;
    }
    mem_arg a[4] = {{DNNL_ARG_SRC, &e->xw_md, x}, {DNNL_ARG_DIFF_DST, &e->dyw_md, dy},
                    {DNNL_ARG_DIFF_WEIGHTS, &e->dw_md, dwp}, {DNNL_ARG_DIFF_BIAS, &e->bias_md, db}};
    if ((s = run(e->bwd_weights, bias ? 4 : 3, a, "convolution backward weights"))) return s;
    if (!e->dw_to_user) return NC_OK;
    mem_arg r[2] = {{DNNL_ARG_FROM, &e->dw_md, dwp}, {DNNL_ARG_TO, &e->w_user_md, dw}};
    return run(e->dw_to_user, 2, r, "weight gradient reorder");
}
