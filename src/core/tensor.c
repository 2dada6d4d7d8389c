/* Tensor headers, shapes, heap tensors and dtype conversion. */
#include "nemoc/tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nemoc/alloc.h"

size_t nc_dtype_size(nc_dtype dt) {
    switch (dt) {
    case NC_F32: return 4;
    case NC_BF16: return 2;
    case NC_F16: return 2;
    case NC_I32: return 4;
    case NC_I64: return 8;
    case NC_U8: return 1;
    default: return 0;
    }
}

const char *nc_dtype_name(nc_dtype dt) {
    switch (dt) {
    case NC_F32: return "float32";
    case NC_BF16: return "bfloat16";
    case NC_F16: return "float16";
    case NC_I32: return "int32";
    case NC_I64: return "int64";
    case NC_U8: return "uint8";
    default: return "invalid";
    }
}

int64_t nc_dims_numel(int ndim, const int64_t *shape) {
    /* A zero dim first: an empty tensor's other dims may be large enough
     * that their product overflows before the zero is reached. */
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) return 0;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

int64_t nc_numel(const nc_tensor *t) { return nc_dims_numel(t->ndim, t->shape); }

size_t nc_nbytes(const nc_tensor *t) { return (size_t)nc_numel(t) * nc_dtype_size(t->dtype); }

bool nc_same_shape(const nc_tensor *a, const nc_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

int64_t nc_dim(const nc_tensor *t, int d) {
    if (d < 0) d += t->ndim;
    return (d >= 0 && d < t->ndim) ? t->shape[d] : 1;
}

char *nc_dims_str(int ndim, const int64_t *shape, char *buf, size_t len) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "(");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (o < len) snprintf(buf + o, len - o, ")");
    return buf;
}

char *nc_shape_str(const nc_tensor *t, char *buf, size_t len) {
    return nc_dims_str(t->ndim, t->shape, buf, len);
}

nc_status nc_tensor_init(nc_tensor *t, nc_dtype dt, int ndim, const int64_t *shape, void *data) {
    if (ndim < 0 || ndim > NC_MAX_DIMS)
        return nc_error(NC_ERR_INVALID_ARG, "tensor: %d dims (at most %d)", ndim, NC_MAX_DIMS);
    if ((unsigned)dt >= NC_DTYPE_COUNT) return nc_error(NC_ERR_DTYPE, "tensor: bad dtype %d", dt);
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    /* The element count and the byte count must fit int64 and size_t, or
     * every later size computation wraps (a shape from a config or a file
     * header can be anything). */
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return nc_error(NC_ERR_INVALID_ARG, "tensor: negative size %lld in dim %d",
                            (long long)shape[i], i);
        if (numel != 0 && shape[i] > (INT64_MAX / 16) / numel)
            return nc_error(NC_ERR_INVALID_ARG, "tensor: a shape with dim %d = %lld has too many elements",
                            i, (long long)shape[i]);
        numel *= shape[i];
        t->shape[i] = shape[i];
    }
    t->data = data;
    return NC_OK;
}

nc_status nc_tensor_new(nc_dtype dt, int ndim, const int64_t *shape, nc_tensor **out) {
    *out = NULL;
    nc_tensor *t = nc_calloc(1, sizeof *t);
    if (!t) return nc_error(NC_ERR_OOM, "tensor: cannot allocate header");
    nc_status s = nc_tensor_init(t, dt, ndim, shape, NULL);
    if (s) {
        nc_free(t);
        return s;
    }
    size_t n = nc_nbytes(t);
    t->data = nc_calloc(1, n ? n : 1);
    if (!t->data) {
        nc_free(t);
        return nc_error(NC_ERR_OOM, "tensor: cannot allocate %zu bytes", n);
    }
    t->flags = NC_TF_OWNS_DATA;
    *out = t;
    return NC_OK;
}

nc_status nc_tensor_clone(const nc_tensor *src, nc_tensor **out) {
    nc_status s = nc_tensor_new(src->dtype, src->ndim, src->shape, out);
    if (s) return s;
    memcpy((*out)->data, src->data, nc_nbytes(src));
    return NC_OK;
}

void nc_tensor_free(nc_tensor *t) {
    if (!t) return;
    if (t->flags & NC_TF_OWNS_DATA) nc_free(t->data);
    nc_free(t);
}

/* bf16 is the top half of an fp32; round to nearest even like
 * c10::BFloat16's round_to_nearest_even, quieting NaNs. */
uint16_t nc_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    uint32_t rounding_bias = 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)((u + rounding_bias) >> 16);
}

float nc_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* IEEE half conversions (storage only). */
uint16_t nc_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mant = x & 0x007fffffu;
    int32_t exp = (int32_t)((x >> 23) & 0xff);
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    exp = exp - 127 + 15;
    if (exp >= 0x1f) return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        mant |= 0x00800000u;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exp << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) half++;
    return (uint16_t)half;
}

float nc_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else {
            int e = -1;
            do {
                mant <<= 1;
                e++;
            } while (!(mant & 0x400u));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 0x1f) {
        u = sign | 0x7f800000u | (mant << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The same rounding as nc_f32_to_bf16 without a branch, 16 lanes at a time
 * (the scalar version's early return for NaN keeps the compilers from
 * vectorising it). */
typedef uint32_t v16u __attribute__((vector_size(64)));
typedef uint16_t v16h __attribute__((vector_size(32)));
static inline void bf16_block(const float *src, uint16_t *dst) {
    v16u u;
    memcpy(&u, src, sizeof u);
    v16u nan = (u & 0x7fffffffu) > 0x7f800000u; /* all ones where NaN */
    v16u r = (u + (0x7fffu + ((u >> 16) & 1u))) >> 16;
    v16u q = (u >> 16) | 0x40u;
    v16u o = (q & nan) | (r & ~nan);
    v16h h = __builtin_convertvector(o, v16h);
    memcpy(dst, &h, sizeof h);
}

static void convert_run(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) bf16_block(src + i, dst + i);
    for (; i < n; i++) dst[i] = nc_f32_to_bf16(src[i]);
}

void nc_convert_f32_to_bf16(const float *src, uint16_t *dst, int64_t n) {
    if (n <= 65536) {
        convert_run(src, dst, n);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < n; b += 16384) convert_run(src + b, dst + b, n - b < 16384 ? n - b : 16384);
}

void nc_convert_bf16_to_f32(const uint16_t *src, float *dst, int64_t n) {
#pragma omp parallel for if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) dst[i] = nc_bf16_to_f32(src[i]);
}

static double load_elem(const void *p, nc_dtype dt, int64_t i) {
    switch (dt) {
    case NC_F32: return ((const float *)p)[i];
    case NC_BF16: return nc_bf16_to_f32(((const uint16_t *)p)[i]);
    case NC_F16: return nc_f16_to_f32(((const uint16_t *)p)[i]);
    case NC_I32: return ((const int32_t *)p)[i];
    case NC_I64: return (double)((const int64_t *)p)[i];
    case NC_U8: return ((const uint8_t *)p)[i];
    default: return 0;
    }
}

nc_status nc_tensor_convert(const nc_tensor *src, nc_tensor *dst) {
    int64_t n = nc_numel(src);
    if (n != nc_numel(dst))
        return nc_error(NC_ERR_SHAPE, "convert: %lld elements into %lld", (long long)n,
                        (long long)nc_numel(dst));
    if (src->dtype == dst->dtype) {
        memcpy(dst->data, src->data, nc_nbytes(src));
        return NC_OK;
    }
    if (src->dtype == NC_F32 && dst->dtype == NC_BF16) {
        nc_convert_f32_to_bf16(src->data, dst->data, n);
        return NC_OK;
    }
    if (src->dtype == NC_BF16 && dst->dtype == NC_F32) {
        nc_convert_bf16_to_f32(src->data, dst->data, n);
        return NC_OK;
    }
    /* Integer-to-integer copies stay exact; everything else goes through double. */
    if (src->dtype == NC_I64 && dst->dtype == NC_I32) {
        for (int64_t i = 0; i < n; i++) ((int32_t *)dst->data)[i] = (int32_t)((int64_t *)src->data)[i];
        return NC_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = load_elem(src->data, src->dtype, i);
        switch (dst->dtype) {
        case NC_F32: ((float *)dst->data)[i] = (float)v; break;
        case NC_BF16: ((uint16_t *)dst->data)[i] = nc_f32_to_bf16((float)v); break;
        case NC_F16: ((uint16_t *)dst->data)[i] = nc_f32_to_f16((float)v); break;
        case NC_I32: ((int32_t *)dst->data)[i] = (int32_t)v; break;
        case NC_I64: ((int64_t *)dst->data)[i] = (int64_t)v; break;
        case NC_U8: ((uint8_t *)dst->data)[i] = (uint8_t)v; break;
        default: return nc_error(NC_ERR_DTYPE, "convert: bad dtype");
        }
    }
    return NC_OK;
}

bool nc_all_finite(const float *x, int64_t n) {
    int bad = 0;
#pragma omp parallel for reduction(| : bad) if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) bad |= !isfinite(x[i]);
    return !bad;
}
