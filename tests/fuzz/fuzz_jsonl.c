/* libFuzzer target: the JSON Lines reader over a buffer. The first byte
 * picks the options (line limit, any value); every line is read, errors
 * included, until the end. */
#include <stdint.h>
#include <stdlib.h>

#include "nemoc/jsonl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    nc_jsonl_opts o = nc_jsonl_default_opts();
    o.max_line_bytes = (data[0] & 1) ? (int64_t)(data[0] >> 1) * 8 : 0;
    o.any_value = (data[0] & 2) != 0;
    nc_jsonl_reader *r;
    if (nc_jsonl_open_mem(data + 1, size - 1, "fuzz.jsonl", &o, &r) != NC_OK) return 0;
    int64_t prev = 0;
    for (;;) {
        cJSON *v = NULL;
        nc_status s = nc_jsonl_next(r, &v);
        if (s == NC_OK && !v) break;
        if (nc_jsonl_line(r) <= prev) abort(); /* every call consumes a line */
        prev = nc_jsonl_line(r);
        cJSON_Delete(v);
    }
    nc_jsonl_close(r);
    return 0;
}
