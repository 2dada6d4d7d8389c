/* Shared helpers for the torch checkpoint / .nemo tests: comparing a tensor
 * list with a fixture manifest (tests/ref/torch_ckpt/expect/<case>.txt +
 * <case>/<i>.npy, written by tests/ref/gen_torch_ckpt.py), building zips
 * with hand-written pickles, and running the torch cross-check script. */
#ifndef NC_TEST_CKPT_FIXTURE_H
#define NC_TEST_CKPT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/zip.h"
#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/npy.h"
#include "nemoc/torch_ckpt.h"

static inline const char *ckpt_ref(const char *rel) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", nc_test_src("tests/ref/torch_ckpt"));
    size_t n = strlen(buf);
    snprintf(buf + n, sizeof buf - n, "/%s", rel);
    return buf;
}

/* Bitwise comparison of got (nemoc's tensor) with the fixture array. */
static inline bool ckpt_same_values(const char *what, const nc_tensor *got, const nc_tensor *want) {
    nc_test_checks++;
    if (nc_numel(got) != nc_numel(want)) {
        nc_test_fail(__FILE__, __LINE__, "%s: %lld elements, want %lld", what, (long long)nc_numel(got),
                     (long long)nc_numel(want));
        return false;
    }
    if (got->dtype == NC_BF16) { /* fixtures hold bf16 as exact f32 */
        for (int64_t i = 0; i < nc_numel(got); i++) {
            float g = nc_bf16_to_f32(((const uint16_t *)got->data)[i]), w = nc_f32(want)[i];
            if (memcmp(&g, &w, 4) != 0) {
                nc_test_fail(__FILE__, __LINE__, "%s[%lld]: %g, want %g", what, (long long)i, g, w);
                return false;
            }
        }
        return true;
    }
    if (got->dtype != want->dtype || memcmp(got->data, want->data, nc_nbytes(got)) != 0) {
        nc_test_fail(__FILE__, __LINE__, "%s: values (%s) differ from the fixture (%s)", what,
                     nc_dtype_name(got->dtype), nc_dtype_name(want->dtype));
        return false;
    }
    return true;
}

/* Compares names, torch dtypes, shapes and values with expect/<kase>. */
static inline void ckpt_check_case(const nc_tensor_list *l, const char *kase) {
    char path[4096], line[1024];
    snprintf(path, sizeof path, "%.3000s/expect/%s.txt", nc_test_src("tests/ref/torch_ckpt"), kase);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    int64_t i = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *name = line, *dt = strchr(name, '\t'), *shape = dt ? strchr(dt + 1, '\t') : NULL;
        if (!shape) break;
        *dt++ = 0;
        *shape++ = 0;
        nc_test_checks++;
        if (i >= l->n) {
            nc_test_fail(__FILE__, __LINE__, "%s: tensor %lld ('%s') missing", kase, (long long)i, name);
            i++;
            continue;
        }
        const nc_named_tensor *it = &l->items[i];
        if (strcmp(it->name, name) != 0)
            nc_test_fail(__FILE__, __LINE__, "%s: tensor %lld is '%s', want '%s'", kase, (long long)i, it->name, name);
        if (strcmp(nc_torch_dtype_name(it->torch_dtype), dt) != 0)
            nc_test_fail(__FILE__, __LINE__, "%s: '%s' has torch dtype %s, want %s", kase, name,
                         nc_torch_dtype_name(it->torch_dtype), dt);
        char got_shape[256] = "";
        for (int d = 0; d < it->tensor->ndim; d++)
            snprintf(got_shape + strlen(got_shape), sizeof got_shape - strlen(got_shape), d ? ",%lld" : "%lld",
                     (long long)it->tensor->shape[d]);
        if (strcmp(got_shape, shape) != 0)
            nc_test_fail(__FILE__, __LINE__, "%s: '%s' has shape [%s], want [%s]", kase, name, got_shape, shape);
        char dir[4096], nm[32];
        snprintf(dir, sizeof dir, "%.3000s/expect/%s", nc_test_src("tests/ref/torch_ckpt"), kase);
        snprintf(nm, sizeof nm, "%lld", (long long)i);
        nc_tensor *want = nc_test_npy(dir, nm);
        if (want) {
            char what[1200];
            snprintf(what, sizeof what, "%.100s:%.1000s", kase, name);
            ckpt_same_values(what, it->tensor, want);
            nc_tensor_free(want);
        }
        i++;
    }
    fclose(f);
    nc_test_checks++;
    if (i != l->n) nc_test_fail(__FILE__, __LINE__, "%s: %lld tensors, want %lld", kase, (long long)l->n, (long long)i);
}

/* A growable byte buffer used as an nc_byte_sink. */
typedef struct ckpt_buf {
    unsigned char *b;
    size_t n, cap;
} ckpt_buf;

static inline nc_status ckpt_buf_sink(void *ud, const void *p, size_t len) {
    ckpt_buf *m = ud;
    if (m->n + len > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->n + len) cap *= 2;
        unsigned char *nb = realloc(m->b, cap);
        if (!nb) return nc_error(NC_ERR_OOM, "test buffer");
        m->b = nb;
        m->cap = cap;
    }
    memcpy(m->b + m->n, p, len);
    m->n += len;
    return NC_OK;
}

/* A torch-style zip "archive/..." holding data.pkl = pkl and the records
 * data/<keys[i]> = datas[i]. */
static inline ckpt_buf ckpt_make_zip(const void *pkl, size_t pkl_len, int n, const char *const *keys,
                                     const void *const *datas, const size_t *lens) {
    ckpt_buf out = {0};
    nc_zip_wentry e[16];
    char names[16][64];
    const void *payload[16];
    size_t plen[16];
    snprintf(names[0], 64, "archive/data.pkl");
    payload[0] = pkl;
    plen[0] = pkl_len;
    for (int i = 0; i < n && i < 15; i++) {
        snprintf(names[i + 1], 64, "archive/data/%s", keys[i]);
        payload[i + 1] = datas[i];
        plen[i + 1] = lens[i];
    }
    int ne = n + 1;
    for (int i = 0; i < ne; i++) {
        /* zlib's crc32 through the reader's own path would be circular; a
         * plain bitwise CRC-32 keeps the test independent. */
        uint32_t c = 0xffffffffu;
        const unsigned char *p = payload[i];
        for (size_t k = 0; k < plen[i]; k++) {
            c ^= p[k];
            for (int b = 0; b < 8; b++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
        }
        e[i] = (nc_zip_wentry){.name = names[i], .size = plen[i], .crc = ~c};
    }
    uint64_t total;
    uint64_t cd = nc_zip_layout(e, ne, false, &total);
    for (int i = 0; i < ne; i++) {
        nc_zip_emit_local(&e[i], ckpt_buf_sink, &out);
        ckpt_buf_sink(&out, payload[i], plen[i]);
    }
    nc_zip_emit_central(e, ne, cd, false, ckpt_buf_sink, &out);
    CHECK(out.n == total);
    return out;
}

/* True when /usr/bin/python3 can import torch (the cross-check needs it). */
static inline bool ckpt_have_torch(void) {
    static int have = -1;
    if (have < 0) have = system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
    return have == 1;
}

/* Runs tests/ref/check_torch_load.py <mode> <file> <expect_dir>; returns its exit status. */
static inline int ckpt_run_check(const char *mode, const char *file, const char *expect_dir) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%.2000s' %.8s '%.2000s' '%.2000s'", nc_test_src("tests/ref/check_torch_load.py"), mode,
             file, expect_dir);
    return system(cmd);
}

/* Writes a tensor list as the check script's expectation (manifest + npy). */
static inline void ckpt_write_expect(const nc_named_tensor *items, int64_t n, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%.3000s/expect.txt", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    for (int64_t i = 0; i < n; i++) {
        const nc_tensor *t = items[i].tensor;
        nc_torch_dtype td = items[i].torch_dtype;
        if (td == NC_TORCH_AUTO) {
            switch (t->dtype) {
            case NC_F32: td = NC_TORCH_FLOAT; break;
            case NC_F16: td = NC_TORCH_HALF; break;
            case NC_BF16: td = NC_TORCH_BFLOAT16; break;
            case NC_I64: td = NC_TORCH_LONG; break;
            case NC_I32: td = NC_TORCH_INT; break;
            default: td = NC_TORCH_BYTE; break;
            }
        }
        fprintf(f, "%s\t%s\t", items[i].name, nc_torch_dtype_name(td));
        for (int d = 0; d < t->ndim; d++) fprintf(f, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        fprintf(f, "\n");
        snprintf(path, sizeof path, "%.3000s/%lld.npy", dir, (long long)i);
        if (t->dtype == NC_BF16) {
            nc_tensor *c = NULL;
            CHECK_OK(nc_tensor_new(NC_F32, t->ndim, t->shape, &c));
            if (c) {
                CHECK_OK(nc_tensor_convert(t, c));
                CHECK_OK(nc_npy_save(path, c));
                nc_tensor_free(c);
            }
        } else {
            CHECK_OK(nc_npy_save(path, t));
        }
    }
    fclose(f);
}

#endif
