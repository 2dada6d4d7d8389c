/* libFuzzer target: .nemo archives from memory (libarchive index, in-place
 * member reads with tar data offsets, gzip re-reads, weights through the
 * torch reader). Every member that reads must have its recorded size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/nemo_archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nc_nemo *n;
    if (nc_nemo_open_mem(data, size, "fuzz.nemo", &n) != NC_OK) return 0;
    for (int64_t i = 0; i < nc_nemo_count(n); i++) {
        const nc_nemo_member *m = nc_nemo_member_at(n, i);
        const nc_nemo_member *f = nc_nemo_find(n, m->path);
        if (!f || strcmp(f->path, m->path)) abort(); /* lookups find the last of a name */
        if (!m->is_file) continue;
        void *b;
        size_t len;
        if (nc_nemo_read(n, m->name, &b, &len) == NC_OK) {
            if ((int64_t)len != m->size || ((char *)b)[len] != 0) abort();
            nc_free(b);
        }
    }
    char *yaml;
    size_t ylen;
    if (nc_nemo_read_config(n, &yaml, &ylen) == NC_OK) nc_free(yaml);
    nc_tensor_list l = {0};
    nc_torch_read_params p = nc_torch_read_default_params();
    p.allow_unknown_globals = true;
    nc_nemo_load_weights(n, NULL, &p, &l);
    nc_tensor_list_clear(&l);
    nc_nemo_close(n);
    return 0;
}
