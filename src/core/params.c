/* Named parameters carved out of flat buffers. */
#include "core/vec.h"
#include "nemoc/params.h"

#include <string.h>
#include <unistd.h>

#include "nemoc/alloc.h"
#include "nemoc/rng.h"

typedef struct entry {
    nc_tensor t;
    nc_tensor g; /* gradient header viewing the flat grad buffer */
    char *name;
    nc_param_kind kind;
    nc_init init;
    bool no_decay; /* excluded from weight decay (biases, norm weights) */
    int64_t offset; /* elements into flat data (trainable) or bytes into buffers */
} entry;

struct nc_params {
    entry **e; /* individually allocated so tensor pointers stay valid */
    int64_t n, cap;
    bool finalized;
    float *data, *grad;
    int64_t flat_size;  /* floats, including alignment gaps */
    int64_t used;       /* floats actually holding parameters */
    char *buffers;      /* non-trainable tensors */
    size_t buffers_size;
};

/* Every tensor starts on a 64-byte boundary so kernels see aligned rows. */
#define ALIGN_ELEMS 16

nc_status nc_params_create(nc_params **out) {
    *out = nc_calloc(1, sizeof(nc_params));
    return *out ? NC_OK : nc_error(NC_ERR_OOM, "params: cannot allocate");
}

void nc_params_free(nc_params *p) {
    if (!p) return;
    for (int64_t i = 0; i < p->n; i++) {
        nc_free(p->e[i]->name);
        nc_free(p->e[i]);
    }
    nc_free(p->e);
    nc_free(p->data);
    nc_free(p->grad);
    nc_free(p->buffers);
    nc_free(p);
}

nc_tensor *nc_params_find(const nc_params *p, const char *name) {
    for (int64_t i = 0; i < p->n; i++)
        if (strcmp(p->e[i]->name, name) == 0) return &p->e[i]->t;
    return NULL;
}

nc_tensor *nc_params_add(nc_params *p, const char *name, nc_param_kind kind, nc_dtype dt, int ndim,
                         const int64_t *shape) {
    if (p->finalized) {
        nc_error(NC_ERR_INVALID_ARG, "params: '%s' added after finalize", name);
        return NULL;
    }
    if (nc_params_find(p, name)) {
        nc_error(NC_ERR_INVALID_ARG, "params: duplicate name '%s'", name);
        return NULL;
    }
    if (kind == NC_PARAM_TRAINABLE && dt != NC_F32) {
        nc_error(NC_ERR_DTYPE, "params: trainable '%s' must be float32", name);
        return NULL;
    }
    if (nc_vec_reserve(&p->e, &p->cap, p->n + 1, sizeof *p->e)) {
        nc_error(NC_ERR_OOM, "params: cannot grow table");
        return NULL;
    }
    entry *e = nc_calloc(1, sizeof *e);
    if (!e) {
        nc_error(NC_ERR_OOM, "params: cannot allocate entry");
        return NULL;
    }
    if (nc_tensor_init(&e->t, dt, ndim, shape, NULL)) {
        nc_free(e);
        return NULL;
    }
    e->name = nc_strdup(name);
    if (!e->name) {
        nc_free(e);
        nc_error(NC_ERR_OOM, "params: cannot copy name");
        return NULL;
    }
    p->e[p->n] = e;
    e->t.name = e->name;
    e->kind = kind;
    e->t.flags = kind == NC_PARAM_TRAINABLE ? (NC_TF_PARAM | NC_TF_REQUIRES_GRAD) : NC_TF_PARAM;
    p->n++;
    return &e->t;
}

/* Physical memory in bytes (0 when unknown). */
static uint64_t physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

/* The flat buffers of a model sized by absurd config values must be refused
 * before calloc: the kernel hands out lazily, so an allocation larger than
 * the machine succeeds and the first write (initialisation) swaps or gets
 * the process killed. Weights plus gradients larger than physical memory
 * cannot train (the optimizer needs more still). */
static nc_status check_size(int64_t used, int64_t off, int64_t boff, bool overflow, bool estimate) {
    uint64_t need = 0, mem = physical_memory();
    if (!overflow) need = (uint64_t)off * 2 * sizeof(float) + (uint64_t)boff;
    if (!overflow && (mem == 0 || need <= mem)) return NC_OK;
    const double gib = 1024.0 * 1024.0 * 1024.0;
    if (overflow)
        return nc_error(NC_ERR_OOM, "params: the model's size overflows 64 bits (more than 2^61 parameters)");
    return nc_error(NC_ERR_OOM,
                    "params: the model would need %s%.1f GiB for its %s%lld parameters and their gradients, "
                    "more than this machine's memory (%.1f GiB)",
                    estimate ? "at least " : "", (double)need / gib, estimate ? "at least " : "", (long long)used,
                    (double)mem / gib);
}

nc_status nc_params_check_fits(int64_t n_params) {
    const bool overflow = n_params < 0 || n_params > INT64_MAX / 16;
    return check_size(n_params, overflow ? 0 : n_params, 0, overflow, true);
}

nc_status nc_params_finalize(nc_params *p) {
    if (p->finalized) return NC_OK;
    int64_t off = 0, used = 0, boff = 0;
    bool overflow = false;
    /* Sums are checked: each tensor's numel fits (nc_tensor_init), but a
     * thousand of them need not. The limit leaves room for the byte counts. */
    const int64_t lim = INT64_MAX / 16;
    for (int64_t i = 0; i < p->n && !overflow; i++) {
        entry *e = p->e[i];
        int64_t n = nc_numel(&e->t);
        if (n > lim) {
            overflow = true;
        } else if (e->kind == NC_PARAM_TRAINABLE) {
            e->offset = off;
            used += n;
            off += (n + ALIGN_ELEMS - 1) / ALIGN_ELEMS * ALIGN_ELEMS;
            overflow = off > lim;
        } else {
            e->offset = boff;
            boff += ((int64_t)nc_nbytes(&e->t) + NC_ALIGN - 1) / NC_ALIGN * NC_ALIGN;
            overflow = boff > lim;
        }
    }
    nc_status st = check_size(used, off, boff, overflow, false);
    if (st) return st;
    size_t bytes = (size_t)(off ? off : 1) * sizeof(float);
    p->data = nc_calloc(1, bytes);
    p->grad = nc_calloc(1, bytes);
    p->buffers = nc_calloc(1, boff ? (size_t)boff : 1);
    if (!p->data || !p->grad || !p->buffers) {
        nc_free(p->data);
        nc_free(p->grad);
        nc_free(p->buffers);
        p->data = p->grad = NULL;
        p->buffers = NULL;
        return nc_error(NC_ERR_OOM, "params: cannot allocate %lld parameters (%zu bytes x2)",
                        (long long)used, bytes);
    }
    p->flat_size = off;
    p->used = used;
    p->buffers_size = (size_t)boff;
    for (int64_t i = 0; i < p->n; i++) {
        entry *e = p->e[i];
        if (e->kind == NC_PARAM_TRAINABLE) {
            e->t.data = p->data + e->offset;
            nc_tensor_init(&e->g, NC_F32, e->t.ndim, e->t.shape, p->grad + e->offset);
            e->t.grad = &e->g;
        } else {
            e->t.data = p->buffers + e->offset;
        }
        e->t.name = e->name;
    }
    p->finalized = true;
    return NC_OK;
}

bool nc_params_finalized(const nc_params *p) { return p->finalized; }
int64_t nc_params_count(const nc_params *p) { return p->n; }
nc_tensor *nc_params_at(const nc_params *p, int64_t i) { return &p->e[i]->t; }
nc_param_kind nc_params_kind_at(const nc_params *p, int64_t i) { return p->e[i]->kind; }
int64_t nc_params_offset_at(const nc_params *p, int64_t i) {
    return p->e[i]->kind == NC_PARAM_TRAINABLE ? p->e[i]->offset : -1;
}
float *nc_params_flat_data(const nc_params *p) { return p->data; }
float *nc_params_flat_grad(const nc_params *p) { return p->grad; }
int64_t nc_params_flat_size(const nc_params *p) { return p->flat_size; }
int64_t nc_params_num_trainable(const nc_params *p) { return p->used; }

void nc_params_zero_grad(nc_params *p) {
    if (p->grad) memset(p->grad, 0, (size_t)p->flat_size * sizeof(float));
}

void nc_params_set_frozen(nc_params *p, const char *prefix, bool frozen) {
    size_t lp = strlen(prefix);
    for (int64_t i = 0; i < p->n; i++) {
        entry *e = p->e[i];
        if (e->kind != NC_PARAM_TRAINABLE || strncmp(e->name, prefix, lp) != 0) continue;
        if (frozen)
            e->t.flags &= ~(uint32_t)NC_TF_REQUIRES_GRAD;
        else
            e->t.flags |= NC_TF_REQUIRES_GRAD;
    }
}

void nc_params_set_no_decay(nc_params *p, const nc_tensor *t, bool on) {
    for (int64_t i = 0; i < p->n; i++)
        if (&p->e[i]->t == t) p->e[i]->no_decay = on;
}

bool nc_params_no_decay_at(const nc_params *p, int64_t i) { return i >= 0 && i < p->n && p->e[i]->no_decay; }

void nc_params_set_init(nc_params *p, const nc_tensor *t, nc_init init) {
    for (int64_t i = 0; i < p->n; i++)
        if (&p->e[i]->t == t) p->e[i]->init = init;
}

nc_status nc_params_initialize(nc_params *p, nc_rng *rng) {
    if (!p->finalized) return nc_error(NC_ERR_INVALID_ARG, "params: initialize before finalize");
    for (int64_t i = 0; i < p->n; i++) {
        entry *e = p->e[i];
        if (e->t.dtype != NC_F32) continue;
        float *d = e->t.data;
        int64_t n = nc_numel(&e->t);
        switch (e->init.kind) {
        case NC_INIT_NONE: break;
        case NC_INIT_ZEROS: memset(d, 0, (size_t)n * sizeof(float)); break;
        case NC_INIT_CONST:
            for (int64_t k = 0; k < n; k++) d[k] = e->init.a;
            break;
        case NC_INIT_UNIFORM: nc_rng_uniform(rng, d, n, e->init.a, e->init.b); break;
        case NC_INIT_NORMAL: nc_rng_normal(rng, d, n, e->init.a, e->init.b); break;
        }
    }
    return NC_OK;
}
