/* libFuzzer target: the restricted pickle interpreter and the torch.save
 * reader. The first byte picks the mode and options:
 *   bit 0 clear: the rest is data.pkl, wrapped in a zip that also holds
 *                storages "0".."15" of 2 KiB each (reaches tensor building
 *                without having to forge zip records and CRCs);
 *   bit 0 set:   the rest is a whole checkpoint image (bit 3: verify CRCs);
 *   bit 1: allow_unknown_globals; bit 2: select "" (everything).
 * Whatever loads is written back with nemoc's writer and must read back
 * identically. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "formats/zip.h"
#include "nemoc/alloc.h"
#include "nemoc/torch_ckpt.h"

#define N_STORAGES 16
#define STORAGE_BYTES 2048

typedef struct buf {
    unsigned char *b;
    size_t n, cap;
} buf;

static nc_status sink(void *ud, const void *p, size_t len) {
    buf *m = ud;
    if (len > m->cap - m->n) abort();
    memcpy(m->b + m->n, p, len);
    m->n += len;
    return NC_OK;
}

static unsigned char *wrap_pickle(const uint8_t *pkl, size_t len, size_t *out_len) {
    static unsigned char storage[STORAGE_BYTES];
    for (int i = 0; i < STORAGE_BYTES; i++) storage[i] = (unsigned char)(i * 37 + 11);
    nc_zip_wentry e[N_STORAGES + 1];
    char names[N_STORAGES + 1][32];
    snprintf(names[0], 32, "archive/data.pkl");
    e[0] = (nc_zip_wentry){.name = names[0], .size = len, .crc = (uint32_t)crc32(0, pkl, (uInt)len)};
    uint32_t scrc = (uint32_t)crc32(0, storage, STORAGE_BYTES);
    for (int i = 1; i <= N_STORAGES; i++) {
        snprintf(names[i], 32, "archive/data/%d", i - 1);
        e[i] = (nc_zip_wentry){.name = names[i], .size = STORAGE_BYTES, .crc = scrc};
    }
    uint64_t total;
    uint64_t cd = nc_zip_layout(e, N_STORAGES + 1, false, &total);
    buf m = {.b = malloc((size_t)total), .cap = (size_t)total};
    for (int i = 0; i <= N_STORAGES; i++) {
        nc_zip_emit_local(&e[i], sink, &m);
        if (i == 0) sink(&m, pkl, len);
        else sink(&m, storage, STORAGE_BYTES);
    }
    nc_zip_emit_central(e, N_STORAGES + 1, cd, false, sink, &m);
    if (m.n != m.cap) abort();
    *out_len = m.n;
    return m.b;
}

static void round_trip(const nc_tensor_list *l) {
    void *img;
    size_t len;
    nc_status st = nc_torch_ckpt_save_mem(l->items, l->n, NULL, &img, &len);
    if (st == NC_ERR_INVALID_ARG) return; /* e.g. a key that is not UTF-8 */
    if (st) abort();
    nc_tensor_list back = {0};
    if (nc_torch_ckpt_load_mem(img, len, "rewritten", NULL, &back) != NC_OK) abort();
    if (back.n != l->n) abort();
    for (int64_t i = 0; i < l->n; i++) {
        const nc_named_tensor *a = &l->items[i], *b = &back.items[i];
        if (strcmp(a->name, b->name) || a->torch_dtype != b->torch_dtype || !nc_same_shape(a->tensor, b->tensor) ||
            a->tensor->dtype != b->tensor->dtype)
            abort();
        /* bool storages normalise to 0/1; everything else is bit-exact. */
        if (a->torch_dtype != NC_TORCH_BOOL && memcmp(a->tensor->data, b->tensor->data, nc_nbytes(a->tensor)))
            abort();
    }
    nc_tensor_list_clear(&back);
    nc_free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    nc_torch_read_params p = nc_torch_read_default_params();
    p.allow_unknown_globals = (mode & 2) != 0;
    p.select = (mode & 4) ? "" : NULL;
    nc_tensor_list l = {0};
    nc_status st;
    if (mode & 1) {
        p.verify_crc = (mode & 8) != 0;
        st = nc_torch_ckpt_load_mem(data, size, "fuzz.pt", &p, &l);
    } else {
        size_t zlen;
        unsigned char *z = wrap_pickle(data, size, &zlen);
        st = nc_torch_ckpt_load_mem(z, zlen, "fuzz.pt", &p, &l);
        free(z);
    }
    if (st == NC_OK) round_trip(&l);
    else if (l.n != 0) abort(); /* a failed load leaves the list as it was */
    nc_tensor_list_clear(&l);
    return 0;
}
