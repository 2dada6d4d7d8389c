/* NeMo's learning-rate schedulers (nemo/core/optim/lr_scheduler.py) as pure
 * functions of the step. Each class is a "frame" (the get_lr() of its base:
 * WarmupPolicy, WarmupHoldPolicy, WarmupAnnealHoldPolicy, NoamAnnealing,
 * SquareRootConstantPolicy) around an annealing rule (_get_lr). Arithmetic is
 * in double in the order Python evaluates it, and `x ** y` is pow(), so the
 * values equal NeMo's to the last bit or nearly so. */
#include "nemoc/sched.h"

#include <math.h>
#include <string.h>

#include "nemoc/alloc.h"

typedef enum frame {
    F_WARMUP,      /* WarmupPolicy.get_lr */
    F_WARMUP_HOLD, /* WarmupHoldPolicy.get_lr */
    F_ANNEAL_HOLD, /* WarmupAnnealHoldPolicy.get_lr (CosineAnnealing) */
    F_NOAM,        /* NoamAnnealing.get_lr */
    F_SQRT_CONST,  /* SquareRootConstantPolicy.get_lr */
} frame;

typedef enum rule {
    R_CONST,
    R_SQUARE,
    R_SQRT,
    R_COSINE,
    R_NOAM,
    R_NOAM_HOLD,
    R_WARMUP_ANNEAL,
    R_INV_SQRT,
    R_T5_INV_SQRT,
    R_POLY,
    R_POLY_HOLD,
    R_HOLD_LINEAR,
    R_HOLD_1M_SQRT,
} rule;

typedef struct sched_class {
    const char *name;
    frame fr;
    rule ru;
    bool max_steps_optional; /* accepts max_steps=None */
    double default_min_lr;
} sched_class;

static const sched_class classes[] = {
    {.name = "WarmupPolicy", .fr = F_WARMUP, .ru = R_CONST, .max_steps_optional = true},
    {.name = "WarmupHoldPolicy", .fr = F_WARMUP_HOLD, .ru = R_CONST},
    {.name = "SquareAnnealing", .fr = F_WARMUP, .ru = R_SQUARE, .default_min_lr = 1e-5},
    {.name = "SquareRootAnnealing", .fr = F_WARMUP, .ru = R_SQRT},
    {.name = "CosineAnnealing", .fr = F_ANNEAL_HOLD, .ru = R_COSINE},
    {.name = "NoamAnnealing", .fr = F_NOAM, .ru = R_NOAM, .max_steps_optional = true},
    {.name = "NoamHoldAnnealing", .fr = F_WARMUP_HOLD, .ru = R_NOAM_HOLD},
    {.name = "WarmupAnnealing", .fr = F_WARMUP, .ru = R_WARMUP_ANNEAL},
    {.name = "InverseSquareRootAnnealing", .fr = F_WARMUP, .ru = R_INV_SQRT},
    {.name = "T5InverseSquareRootAnnealing", .fr = F_SQRT_CONST, .ru = R_T5_INV_SQRT},
    {.name = "PolynomialDecayAnnealing", .fr = F_WARMUP, .ru = R_POLY},
    {.name = "PolynomialHoldDecayAnnealing", .fr = F_WARMUP_HOLD, .ru = R_POLY_HOLD},
    {.name = "WarmupHoldAnnealLinear", .fr = F_WARMUP_HOLD, .ru = R_HOLD_LINEAR},
    {.name = "WarmupHoldAnnealOneMinusSquareRoot", .fr = F_WARMUP_HOLD, .ru = R_HOLD_1M_SQRT},
};
#define N_CLASSES ((int)(sizeof classes / sizeof classes[0]))

struct nc_sched {
    const sched_class *cls;
    double lr, min_lr;
    bool has_max;
    int64_t max_steps;
    int64_t warmup;   /* self.warmup_steps */
    int64_t hold;     /* self.hold_steps: warmup + hold, or 0 when not given */
    int64_t constant; /* self.constant_steps */
    int64_t decay;    /* self.decay_steps (WarmupAnnealHoldPolicy) */
    double constant_lr; /* SquareRootConstantPolicy.constant_lr */
    double normalize;   /* NoamAnnealing._normalize = d_model ** -0.5 */
    double decay_rate, power;
    bool cycle;
    int64_t offset; /* last_epoch + 1 */
};

nc_sched_params nc_sched_default_params(void) {
    nc_sched_params p = {
        .name = NULL,
        .lr = 1e-3,
        .max_steps = -1,
        .warmup_steps = -1,
        .warmup_ratio = -1,
        .hold_steps = -1,
        .hold_ratio = -1,
        .constant_steps = -1,
        .constant_ratio = -1,
        .min_lr = -1,
        .d_model = -1,
        .decay_rate = 0.5,
        .power = 1.0,
        .cycle = false,
        .last_epoch = -1,
    };
    return p;
}

static const sched_class *find_class(const char *name) {
    for (int i = 0; name && i < N_CLASSES; i++)
        if (strcmp(classes[i].name, name) == 0) return &classes[i];
    return NULL;
}

bool nc_sched_known(const char *name) { return find_class(name) != NULL; }

/* `x_steps` or int(x_ratio * max_steps), as every NeMo constructor resolves
 * its step counts; `dflt` when neither is given. */
static nc_status resolve(const char *cls, const char *key, int64_t steps, double ratio,
                         const nc_sched_params *p, int64_t dflt, int64_t *out) {
    if (steps >= 0 && ratio >= 0)
        return nc_error(NC_ERR_CONFIG, "optim.sched (%s): give either %s_steps or %s_ratio, not both",
                        cls, key, key);
    if (ratio >= 0 && p->max_steps < 0)
        return nc_error(NC_ERR_CONFIG, "optim.sched (%s): %s_ratio needs max_steps", cls, key);
    if (steps >= 0)
        *out = steps;
    else if (ratio >= 0)
        *out = (int64_t)(ratio * (double)p->max_steps);
    else
        *out = dflt;
    return NC_OK;
}

/* A key the class's constructor does not take (a TypeError in NeMo). */
static nc_status refuse(const char *cls, const char *key, bool given) {
    return given ? nc_error(NC_ERR_CONFIG, "optim.sched (%s): unexpected key '%s'", cls, key) : NC_OK;
}

static nc_status setup(nc_sched *s, const nc_sched_params *p) {
    const sched_class *c = s->cls;
    const char *nm = c->name;
    nc_status st;
    s->lr = p->lr;
    s->min_lr = p->min_lr >= 0 ? p->min_lr : c->default_min_lr;
    s->has_max = p->max_steps >= 0;
    s->max_steps = p->max_steps;
    s->decay_rate = p->decay_rate;
    s->power = p->power;
    s->cycle = p->cycle;
    if (!(p->lr >= 0)) return nc_error(NC_ERR_CONFIG, "optim.lr: invalid learning rate %g (%s)", p->lr, nm);
    if (!s->has_max && !c->max_steps_optional)
        return nc_error(NC_ERR_CONFIG, "optim.sched (%s): max_steps is required", nm);
    if (p->last_epoch < -1)
        return nc_error(NC_ERR_CONFIG, "optim.sched.last_epoch: invalid value %lld (%s)",
                        (long long)p->last_epoch, nm);
    s->offset = p->last_epoch + 1;

    bool hold_given = p->hold_steps >= 0 || p->hold_ratio >= 0;
    bool const_given = p->constant_steps >= 0 || p->constant_ratio >= 0;
    bool warm_given = p->warmup_steps >= 0 || p->warmup_ratio >= 0;
    if (c->fr != F_SQRT_CONST) {
        st = resolve(nm, "warmup", p->warmup_steps, p->warmup_ratio, p, 0, &s->warmup);
        if (st) return st;
    } else if ((st = refuse(nm, "warmup_steps/warmup_ratio", warm_given))) {
        return st;
    }
    if (c->fr == F_WARMUP_HOLD) {
        int64_t h = 0;
        if ((st = resolve(nm, "hold", p->hold_steps, p->hold_ratio, p, -1, &h))) return st;
        s->hold = h >= 0 ? h + s->warmup : 0;
    } else if ((st = refuse(nm, "hold_steps/hold_ratio", hold_given))) {
        return st;
    }
    if (c->fr == F_ANNEAL_HOLD || c->fr == F_SQRT_CONST) {
        st = resolve(nm, "constant", p->constant_steps, p->constant_ratio, p, 0, &s->constant);
        if (st) return st;
        s->decay = s->max_steps - (s->constant + s->warmup);
    } else if ((st = refuse(nm, "constant_steps/constant_ratio", const_given))) {
        return st;
    }

    switch (c->ru) {
    case R_COSINE:
        /* CosineAnnealing._get_lr raises when lr < min_lr; the Megatron
         * variant (constant_steps > 0) asserts max_lr > min_lr. */
        if (p->lr < s->min_lr || (s->constant > 0 && !(p->lr > s->min_lr)))
            return nc_error(NC_ERR_CONFIG, "optim.sched (%s): lr %g is not above min_lr %g", nm, p->lr,
                            s->min_lr);
        if (s->constant > 0 && s->warmup == 0 && s->decay == 0)
            return nc_error(NC_ERR_CONFIG,
                            "optim.sched (%s): constant_steps leave no decay steps (max_steps %lld)",
                            nm, (long long)s->max_steps);
        break;
    case R_NOAM:
        if (!(p->d_model > 0))
            return nc_error(NC_ERR_CONFIG, "optim.sched (%s): d_model must be given and > 0", nm);
        if (p->lr < s->min_lr)
            return nc_error(NC_ERR_CONFIG, "optim.sched (%s): lr %g is below min_lr %g", nm, p->lr,
                            s->min_lr);
        s->normalize = pow(p->d_model, -0.5);
        break;
    case R_NOAM_HOLD:
        if (s->warmup <= 0)
            return nc_error(NC_ERR_CONFIG, "optim.sched (%s): needs warmup_steps or warmup_ratio > 0", nm);
        break;
    case R_T5_INV_SQRT:
        /* constant_lr = 1 / constant_steps ** 0.5 reads the constant_steps
         * argument itself, so a ratio does not do here. */
        if (p->constant_steps <= 0)
            return nc_error(NC_ERR_CONFIG, "optim.sched (%s): constant_steps must be given and > 0", nm);
        s->constant_lr = 1.0 / pow((double)p->constant_steps, 0.5);
        break;
    default: break;
    }
    return NC_OK;
}

nc_status nc_sched_create(const nc_sched_params *p, nc_sched **out) {
    *out = NULL;
    const sched_class *c = find_class(p->name);
    if (!c) {
        char names[1024] = "";
        for (int i = 0; i < N_CLASSES; i++) {
            if (i) strncat(names, ", ", sizeof names - strlen(names) - 1);
            strncat(names, classes[i].name, sizeof names - strlen(names) - 1);
        }
        return nc_error(NC_ERR_CONFIG, "optim.sched.name: unknown scheduler '%s' (supported: %s)",
                        p->name ? p->name : "(null)", names);
    }
    nc_sched *s = nc_calloc(1, sizeof *s);
    if (!s) return nc_error(NC_ERR_OOM, "optim.sched: cannot allocate");
    s->cls = c;
    nc_status st = setup(s, p);
    if (st) {
        nc_free(s);
        return st;
    }
    *out = s;
    return NC_OK;
}

void nc_sched_free(nc_sched *s) { nc_free(s); }

int64_t nc_sched_warmup_steps(const nc_sched *s) { return s->warmup; }
int64_t nc_sched_hold_steps(const nc_sched *s) { return s->hold; }
const char *nc_sched_name(const nc_sched *s) { return s->cls->name; }

/* _poly_decay */
static double poly_decay(double lr, double step, double decay_steps, double power, double min_lr,
                         bool cycle) {
    if (cycle) {
        double mult = step == 0 ? 1.0 : ceil(step / decay_steps);
        decay_steps *= mult;
    } else {
        step = step < decay_steps ? step : decay_steps;
    }
    double pr = step / decay_steps;
    return (lr - min_lr) * pow(1.0 - pr, power) + min_lr;
}

/* _linear_warmup_with_cosine_annealing (Megatron's cosine schedule) */
static double linear_warmup_cosine(const nc_sched *s, int64_t step) {
    if (s->warmup > 0 && step <= s->warmup) return s->lr * (double)step / (double)s->warmup;
    if (step > s->warmup + s->decay) return s->min_lr;
    double ratio = (double)(step - s->warmup) / (double)s->decay;
    double coeff = 0.5 * (cos(M_PI * ratio) + 1.0);
    return s->min_lr + coeff * (s->lr - s->min_lr);
}

static double fmax2(double a, double b) { return a >= b ? a : b; }

/* The class's _get_lr(step), reached after warmup and hold, up to max_steps. */
static double anneal(const nc_sched *s, int64_t step) {
    const double lr = s->lr, mn = s->min_lr;
    const double st = (double)step, w = (double)s->warmup, h = (double)s->hold;
    const double M = (double)s->max_steps;
    switch (s->cls->ru) {
    case R_CONST: return lr;
    case R_SQUARE: /* _square_annealing(step - warmup, max_steps - warmup) */
        return fmax2(lr * pow(((M - w) - (st - w)) / (M - w), 2.0), mn);
    case R_SQRT: /* _squareroot_annealing(step, max_steps): no warmup shift */
        return fmax2(lr * pow((M - st) / M, 0.5), mn);
    case R_COSINE:
        if (s->constant == 0) { /* _cosine_annealing(step - warmup, max_steps - warmup) */
            double mult = 0.5 * (1.0 + cos(M_PI * (st - w) / (M - w)));
            return (lr - mn) * mult + mn;
        }
        return linear_warmup_cosine(s, step);
    case R_NOAM_HOLD: {
        double hs = s->hold > 0 ? h - w : 0.0;
        double tw = fmax2(1.0, pow(w, s->decay_rate));
        double th = fmax2(1.0, pow(st - hs, s->decay_rate));
        return fmax2(lr * tw / th, mn);
    }
    case R_WARMUP_ANNEAL: {
        double mult = (st - w) / (M - w);
        return mn + (1.0 - mult) * (lr - mn);
    }
    case R_INV_SQRT: return lr / pow((st + 1.0) / (w + 1.0), 0.5);
    case R_T5_INV_SQRT: return 1.0 / pow(st, 0.5);
    case R_POLY: return poly_decay(lr, st - w, M - w, s->power, mn, s->cycle);
    case R_POLY_HOLD: return poly_decay(lr, st - h, M - fmax2(w, h), s->power, mn, s->cycle);
    case R_HOLD_LINEAR: return lr - (lr - mn) * ((st - h) / (M - h));
    case R_HOLD_1M_SQRT: return fmax2(mn, lr * (1.0 - pow((st - h) / (M - h), 0.5)));
    case R_NOAM: break; /* handled by its frame */
    }
    return lr;
}

double nc_sched_lr(const nc_sched *s, int64_t step) {
    const double lr = s->lr;
    const bool past_max = s->has_max && step > s->max_steps;
    switch (s->cls->fr) {
    case F_WARMUP:
        if (step <= s->warmup && s->warmup > 0)
            return lr * ((double)(step + 1) / (double)(s->warmup + 1));
        if (past_max) return s->min_lr;
        return anneal(s, step);
    case F_WARMUP_HOLD:
        if (step <= s->warmup && s->warmup > 0)
            return lr * ((double)(step + 1) / (double)(s->warmup + 1));
        if (step >= s->warmup && step < s->hold) return lr;
        if (past_max) return s->min_lr;
        return anneal(s, step);
    case F_ANNEAL_HOLD:
        if (s->warmup > 0 && step <= s->warmup) {
            if (s->constant == 0) return lr * ((double)(step + 1) / (double)(s->warmup + 1));
            return linear_warmup_cosine(s, step);
        }
        if (s->constant > 0 && s->warmup + s->decay < step && step <= s->max_steps)
            return linear_warmup_cosine(s, step);
        if (past_max) return s->min_lr;
        return anneal(s, step);
    case F_NOAM: {
        /* NoamAnnealing: step = max(1, last_epoch); no max_steps cut-off */
        double st = step > 1 ? (double)step : 1.0;
        double mult;
        if (s->warmup > 0) {
            double a = pow(st, -0.5), b = st * pow((double)s->warmup, -1.5);
            mult = s->normalize * (a <= b ? a : b);
        } else {
            mult = s->normalize * pow(st, -0.5);
        }
        double out = lr * mult;
        if (st > (double)s->warmup) out = fmax2(out, s->min_lr);
        return out;
    }
    case F_SQRT_CONST:
        if (step <= s->constant) return s->constant_lr;
        if (past_max) return s->min_lr;
        return anneal(s, step);
    }
    return lr;
}

double nc_sched_lr_for_step(const nc_sched *s, int64_t global_step) {
    return nc_sched_lr(s, global_step + s->offset);
}
