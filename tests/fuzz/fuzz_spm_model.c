/* libFuzzer target: arbitrary bytes as a sentencepiece ModelProto. Loading
 * must fail cleanly or give a tokenizer that encodes and decodes without
 * faults. */
#include <stddef.h>
#include <stdint.h>

#include "nemoc/alloc.h"
#include "nemoc/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nc_tokenizer *t = NULL;
    if (nc_tokenizer_spm_from_memory(data, (int64_t)size, &t) != NC_OK) return 0;
    nc_token_ids ids = {0};
    static const char text[] = "Hello  W\xc3\xb6rld 123 \xe6\x97\xa5\xe6\x9c\xac <sep> \xff";
    if (nc_tokenizer_encode(t, text, -1, &ids) == NC_OK) {
        char *out = NULL;
        if (nc_tokenizer_decode(t, ids.ids, ids.n, &out) == NC_OK) nc_free(out);
    }
    nc_token_ids_free(&ids);
    nc_tokenizer_free(t);
    return 0;
}
