/* libFuzzer target: .npy parsing (nc_npy_parse). */
#include <stdint.h>

#include "nemoc/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nc_tensor *t = NULL;
    if (nc_npy_parse(data, size, "fuzz.npy", &t) == NC_OK) {
        volatile unsigned sum = 0;
        const unsigned char *p = t->data;
        for (size_t i = 0; i < nc_nbytes(t); i++) sum += p[i];
        nc_tensor_free(t);
        (void)sum;
    }
    return 0;
}
