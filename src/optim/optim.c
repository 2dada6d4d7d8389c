/* Optimizer lifetime, hyper-parameter checks, the per-step work plan and the
 * state-as-tensors API. The update rules live in optim_sgd.c, optim_adam.c
 * and optim_novograd.c. */
#include <math.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "optim/optim_internal.h"

static const char *const kind_names[NC_OPTIM_KIND_COUNT] = {
    [NC_OPTIM_SGD] = "sgd",
    [NC_OPTIM_ADAM] = "adam",
    [NC_OPTIM_ADAMW] = "adamw",
    [NC_OPTIM_NOVOGRAD] = "novograd",
};

nc_optim_params nc_optim_default_params(nc_optim_kind kind) {
    /* NeMo's setup_optimization passes the config keys straight to the
     * optimizer class, so unset keys take the class defaults (torch.optim.*,
     * nemo/core/optim/novograd.py). */
    nc_optim_params p = {
        .kind = kind,
        .lr = 1e-3,
        .weight_decay = kind == NC_OPTIM_ADAMW ? 1e-2 : 0.0,
        .momentum = 0.0,
        .dampening = 0.0,
        .nesterov = false,
        .betas = {kind == NC_OPTIM_NOVOGRAD ? 0.95 : 0.9, kind == NC_OPTIM_NOVOGRAD ? 0.98 : 0.999},
        .eps = 1e-8,
        .amsgrad = false,
        .grad_averaging = false,
        .luc = false,
        .luc_trust = 1e-3,
        .luc_eps = 1e-8,
    };
    return p;
}

nc_status nc_optim_kind_from_name(const char *name, nc_optim_kind *out) {
    for (int k = 0; k < NC_OPTIM_KIND_COUNT; k++) {
        if (name && strcmp(name, kind_names[k]) == 0) {
            *out = (nc_optim_kind)k;
            return NC_OK;
        }
    }
    return nc_error(NC_ERR_CONFIG,
                    "optim.name: unknown optimizer '%s' (supported: sgd, adam, adamw, novograd)",
                    name ? name : "(null)");
}

const char *nc_optim_kind_name(nc_optim_kind kind) {
    return (unsigned)kind < NC_OPTIM_KIND_COUNT ? kind_names[kind] : "?";
}

/* torch.optim's constructor checks, with the config key in the message. */
static nc_status check_params(const nc_optim_params *p) {
    if ((unsigned)p->kind >= NC_OPTIM_KIND_COUNT)
        return nc_error(NC_ERR_CONFIG, "optim: invalid optimizer kind %d", (int)p->kind);
    const char *nm = kind_names[p->kind];
    if (!(p->lr >= 0)) return nc_error(NC_ERR_CONFIG, "optim.lr: invalid learning rate %g (%s)", p->lr, nm);
    if (!(p->weight_decay >= 0))
        return nc_error(NC_ERR_CONFIG, "optim.weight_decay: invalid value %g (%s)", p->weight_decay, nm);
    if (p->kind == NC_OPTIM_SGD) {
        if (!(p->momentum >= 0))
            return nc_error(NC_ERR_CONFIG, "optim.momentum: invalid value %g (sgd)", p->momentum);
        if (!isfinite(p->dampening))
            return nc_error(NC_ERR_CONFIG, "optim.dampening: invalid value %g (sgd)", p->dampening);
        if (p->nesterov && (p->momentum <= 0 || p->dampening != 0))
            return nc_error(NC_ERR_CONFIG,
                            "optim.nesterov: needs momentum > 0 and zero dampening (momentum %g, "
                            "dampening %g)",
                            p->momentum, p->dampening);
        return NC_OK;
    }
    if (!(p->eps >= 0)) return nc_error(NC_ERR_CONFIG, "optim.eps: invalid value %g (%s)", p->eps, nm);
    for (int i = 0; i < 2; i++)
        if (!(p->betas[i] >= 0 && p->betas[i] < 1))
            return nc_error(NC_ERR_CONFIG, "optim.betas[%d]: %g is not in [0, 1) (%s)", i, p->betas[i],
                            nm);
    if (p->kind == NC_OPTIM_NOVOGRAD && p->luc && !(p->luc_trust >= 0 && p->luc_eps >= 0))
        return nc_error(NC_ERR_CONFIG, "optim.luc_trust/luc_eps: invalid values %g/%g (novograd)",
                        p->luc_trust, p->luc_eps);
    return NC_OK;
}

static void add_state(nc_optim *o, const char *name, nc_dtype dt, void *data, int64_t n) {
    o->state[o->n_state++] = (nc_optim_state){.name = name, .dtype = dt, .data = data, .n = n};
}

void nc_optim_free(nc_optim *o) {
    if (!o) return;
    nc_free(o->pidx);
    nc_free(o->off);
    nc_free(o->len);
    nc_free(o->step);
    nc_free(o->m);
    nc_free(o->v);
    nc_free(o->vmax);
    nc_free(o->chunks);
    nc_free(o->active);
    nc_free(o->nodecay);
    nc_free(o->acc);
    nc_free(o->tsc);
    nc_free(o);
}

/* Allocates every buffer; false on the first failure (all freed by caller). */
static bool alloc_all(nc_optim *o) {
    const nc_optim_params *p = &o->p;
    size_t nt = (size_t)(o->nt ? o->nt : 1), flat = (size_t)(o->flat ? o->flat : 1);
    size_t nc = (size_t)(o->cap_chunks ? o->cap_chunks : 1);
    if (!(o->pidx = nc_calloc(nt, sizeof(int64_t))) || !(o->off = nc_calloc(nt, sizeof(int64_t))) ||
        !(o->len = nc_calloc(nt, sizeof(int64_t))) || !(o->step = nc_calloc(nt, sizeof(int64_t))) ||
        !(o->active = nc_calloc(nt, sizeof(bool))) || !(o->nodecay = nc_calloc(nt, sizeof(bool))) ||
        !(o->tsc = nc_calloc(nt * NC_OPTIM_NSC, sizeof(float))) ||
        !(o->chunks = nc_calloc(nc, sizeof(nc_optim_chunk))) ||
        !(o->acc = nc_calloc(2 * nc, sizeof(double))))
        return false;
    bool need_m = p->kind != NC_OPTIM_SGD || p->momentum != 0;
    if (need_m && !(o->m = nc_calloc(flat, sizeof(float)))) return false;
    if (p->kind == NC_OPTIM_ADAM || p->kind == NC_OPTIM_ADAMW) {
        if (!(o->v = nc_calloc(flat, sizeof(float)))) return false;
        if (p->amsgrad && !(o->vmax = nc_calloc(flat, sizeof(float)))) return false;
    } else if (p->kind == NC_OPTIM_NOVOGRAD) {
        if (!(o->v = nc_calloc(nt, sizeof(float)))) return false;
        if (p->amsgrad && !(o->vmax = nc_calloc(nt, sizeof(float)))) return false;
    }
    return true;
}

nc_status nc_optim_create(nc_params *params, const nc_optim_params *p, nc_optim **out) {
    *out = NULL;
    if (!params || !p) return nc_error(NC_ERR_INVALID_ARG, "optim: NULL params");
    if (!nc_params_finalized(params))
        return nc_error(NC_ERR_INVALID_ARG, "optim: parameters are not finalized");
    nc_status st = check_params(p);
    if (st) return st;
    nc_optim *o = nc_calloc(1, sizeof *o);
    if (!o) return nc_error(NC_ERR_OOM, "optim: cannot allocate");
    o->p = *p;
    o->params = params;
    o->flat = nc_params_flat_size(params);
    int64_t n = nc_params_count(params);
    for (int64_t i = 0; i < n; i++) {
        if (nc_params_kind_at(params, i) != NC_PARAM_TRAINABLE) continue;
        int64_t len = nc_numel(nc_params_at(params, i));
        o->cap_chunks += (len + NC_OPTIM_CHUNK - 1) / NC_OPTIM_CHUNK;
        o->nt++;
    }
    if (!alloc_all(o)) {
        nc_optim_free(o);
        return nc_error(NC_ERR_OOM, "optim: cannot allocate %s state for %lld parameters",
                        kind_names[p->kind], (long long)nc_params_num_trainable(params));
    }
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (nc_params_kind_at(params, i) != NC_PARAM_TRAINABLE) continue;
        o->pidx[k] = i;
        o->off[k] = nc_params_offset_at(params, i);
        o->len[k] = nc_numel(nc_params_at(params, i));
        o->nodecay[k] = nc_params_no_decay_at(params, i);
        k++;
    }
    bool per_tensor_v = p->kind == NC_OPTIM_NOVOGRAD;
    int64_t vn = per_tensor_v ? o->nt : o->flat;
    if (p->kind == NC_OPTIM_SGD) {
        if (o->m) add_state(o, "momentum_buffer", NC_F32, o->m, o->flat);
    } else {
        add_state(o, "exp_avg", NC_F32, o->m, o->flat);
        add_state(o, "exp_avg_sq", NC_F32, o->v, vn);
        if (o->vmax) add_state(o, "max_exp_avg_sq", NC_F32, o->vmax, vn);
    }
    add_state(o, "step", NC_I64, o->step, o->nt);
    *out = o;
    return NC_OK;
}

const nc_optim_params *nc_optim_get_params(const nc_optim *o) { return &o->p; }
void nc_optim_set_lr(nc_optim *o, double lr) { o->p.lr = lr; }
double nc_optim_get_lr(const nc_optim *o) { return o->p.lr; }

/* Chunks of the tensors that require grad, in flat order. */
static void plan(nc_optim *o) {
    o->n_chunks = 0;
    o->n_active = 0;
    for (int64_t k = 0; k < o->nt; k++) {
        const nc_tensor *t = nc_params_at(o->params, o->pidx[k]);
        o->active[k] = (t->flags & NC_TF_REQUIRES_GRAD) && o->len[k] > 0;
        if (!o->active[k]) continue;
        for (int64_t b = 0; b < o->len[k]; b += NC_OPTIM_CHUNK) {
            int64_t e = b + NC_OPTIM_CHUNK < o->len[k] ? b + NC_OPTIM_CHUNK : o->len[k];
            o->chunks[o->n_chunks++] =
                (nc_optim_chunk){.k = k, .begin = o->off[k] + b, .end = o->off[k] + e};
        }
        o->n_active += o->len[k];
    }
}

nc_status nc_optim_step(nc_optim *o) {
    if (!(o->p.lr >= 0)) return nc_error(NC_ERR_INVALID_ARG, "optim: invalid learning rate %g", o->p.lr);
    if (nc_params_flat_size(o->params) != o->flat)
        return nc_error(NC_ERR_INTERNAL, "optim: parameter layout changed after creation");
    plan(o);
    switch (o->p.kind) {
    case NC_OPTIM_SGD: nc_optim_sgd_step(o); break;
    case NC_OPTIM_ADAM:
    case NC_OPTIM_ADAMW: nc_optim_adam_step(o); break;
    case NC_OPTIM_NOVOGRAD: nc_optim_novograd_step(o); break;
    default: return nc_error(NC_ERR_INTERNAL, "optim: bad kind %d", (int)o->p.kind);
    }
    return NC_OK;
}

int64_t nc_optim_state_count(const nc_optim *o) { return o->n_state; }

const char *nc_optim_state_at(const nc_optim *o, int64_t i, nc_tensor *view) {
    if (i < 0 || i >= o->n_state) return NULL;
    const nc_optim_state *s = &o->state[i];
    int64_t shape[1] = {s->n};
    nc_tensor_init(view, s->dtype, 1, shape, s->data);
    view->name = s->name;
    return s->name;
}

nc_status nc_optim_state_load(nc_optim *o, const char *name, const nc_tensor *src) {
    for (int i = 0; i < o->n_state; i++) {
        const nc_optim_state *s = &o->state[i];
        if (strcmp(s->name, name) != 0) continue;
        if (src->dtype != s->dtype)
            return nc_error(NC_ERR_DTYPE, "optim state '%s': expected %s, got %s", name,
                            nc_dtype_name(s->dtype), nc_dtype_name(src->dtype));
        if (src->ndim != 1 || src->shape[0] != s->n) {
            char buf[128];
            return nc_error(NC_ERR_SHAPE, "optim state '%s': expected shape (%lld), got %s", name,
                            (long long)s->n, nc_shape_str(src, buf, sizeof buf));
        }
        if (s->n) memcpy(s->data, src->data, (size_t)s->n * nc_dtype_size(s->dtype));
        return NC_OK;
    }
    return nc_error(NC_ERR_NOT_FOUND, "optim state '%s': not a state tensor of %s", name,
                    kind_names[o->p.kind]);
}

size_t nc_optim_state_bytes(const nc_optim *o) {
    size_t b = 0;
    for (int i = 0; i < o->n_state; i++) b += (size_t)o->state[i].n * nc_dtype_size(o->state[i].dtype);
    return b;
}
