/* libFuzzer target: Megatron indexed datasets as `nemoc llm inspect` and the
 * GPT dataset read them (nc_indexed_open's header, count, size, pointer and
 * document-index checks, then nc_indexed_get of every sequence and the
 * GPTDataset index mappings over the first sequences). Input: a 2-byte
 * little-endian .idx length, the .idx bytes, then the .bin bytes, written
 * to /dev/shm since the reader maps files. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "llm/data/gpt_index.h"
#include "nemoc/alloc.h"
#include "nemoc/llm_data.h"

static char prefix[64], idx_path[80], bin_path[80];

static int write_file(const char *path, const uint8_t *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    if (n) fwrite(data, 1, n, f);
    fclose(f);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    if (!prefix[0]) {
        snprintf(prefix, sizeof prefix, "/dev/shm/nc_fuzz_llm_%ld", (long)getpid());
        snprintf(idx_path, sizeof idx_path, "%s.idx", prefix);
        snprintf(bin_path, sizeof bin_path, "%s.bin", prefix);
    }
    size_t ni = (size_t)data[0] | ((size_t)data[1] << 8);
    if (ni > size - 2) ni = size - 2;
    if (write_file(idx_path, data + 2, ni) || write_file(bin_path, data + 2 + ni, size - 2 - ni)) return 0;
    nc_indexed_dataset *d;
    if (nc_indexed_open(prefix, &d) != NC_OK) return 0;
    int32_t buf[4096];
    int64_t n = nc_indexed_len(d), limit = n < 4096 ? n : 4096;
    for (int64_t i = 0; i < limit; i++) {
        int32_t sz = nc_indexed_size(d, i);
        if (sz <= 4096) nc_indexed_get(d, i, 0, -1, buf, NULL);
        if (sz >= 2) nc_indexed_get(d, i, 1, sz - 1 < 4096 ? sz - 1 : 4096, buf, NULL);
    }
    /* The sampling maps over up to 64 sequences, a few samples of 4 tokens. */
    nc_gpt_index ix;
    if (n > 0 && nc_gpt_index_build(d, 0, n < 64 ? n : 64, 16, 4, 7, size & 1, 1, true, &ix) == NC_OK)
        nc_gpt_index_free(&ix);
    nc_indexed_close(d);
    return 0;
}
