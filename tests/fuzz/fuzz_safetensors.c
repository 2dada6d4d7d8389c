/* libFuzzer target: safetensors header validation and views. Every view
 * of an accepted file is read in full (ASan checks the bounds), and the
 * loadable tensors are written out and read back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nc_st_file *f;
    if (nc_st_parse(data, size, "fuzz.safetensors", &f) != NC_OK) return 0;
    int64_t n = nc_st_count(f);
    nc_st_entry *e = calloc((size_t)(n ? n : 1), sizeof *e);
    nc_tensor *views = calloc((size_t)(n ? n : 1), sizeof *views);
    int64_t k = 0;
    volatile unsigned sum = 0;
    for (int64_t i = 0; i < n; i++) {
        const nc_st_info *in = nc_st_at(f, i);
        if (nc_st_find(f, in->name) != in) abort();
        for (int64_t b = 0; b < in->nbytes; b++) sum += ((const unsigned char *)in->data)[b];
        if (nc_st_get(f, in->name, &views[k]) == NC_OK) {
            e[k] = (nc_st_entry){.name = in->name, .tensor = &views[k], .as_bool = in->dtype == NC_ST_BOOL};
            k++;
        }
    }
    for (int64_t i = 0; i < nc_st_metadata_count(f); i++) sum += (unsigned)strlen(nc_st_metadata_value(f, i));
    const char **meta = calloc((size_t)(2 * nc_st_metadata_count(f) + 1), sizeof *meta);
    for (int64_t i = 0; i < nc_st_metadata_count(f); i++) {
        meta[2 * i] = nc_st_metadata_key(f, i);
        meta[2 * i + 1] = nc_st_metadata_value(f, i);
    }
    void *buf;
    size_t len;
    if (nc_st_serialize(e, k, meta, &buf, &len) == NC_OK) {
        nc_st_file *g;
        if (nc_st_parse(buf, len, "reserialized", &g) != NC_OK) abort();
        if (nc_st_count(g) != k) abort();
        nc_st_close(g);
        nc_free(buf);
    }
    free(meta);
    (void)sum;
    free(views);
    free(e);
    nc_st_close(f);
    return 0;
}
