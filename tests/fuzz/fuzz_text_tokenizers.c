/* libFuzzer target: arbitrary bytes as text for the char ('en' parser:
 * transliteration, number spelling, abbreviations) and WordPiece tokenizers,
 * and as a WordPiece vocabulary. Errors are fine; faults are not. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/tokenizer.h"

static nc_tokenizer *char_tok, *wpe_tok;

static void setup(void) {
    static const char *labels[] = {" ", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
                                   "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "'", "<unk>"};
    nc_tokenizer_char_new(labels, 29, NULL, &char_tok);
    static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\n##a\n##b\nab\n##ab\n.\n,\n\xc3\xa9\n##\xc3\xa9\n";
    nc_wordpiece_params p = nc_wordpiece_default_params();
    p.lower_case = true;
    nc_tokenizer_wordpiece_from_memory(vocab, sizeof vocab - 1, &p, &wpe_tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!char_tok) setup();
    nc_token_ids ids = {0};
    char *out = NULL;
    const char *text = (const char *)data;
    if (nc_tokenizer_encode(char_tok, text, (int64_t)size, &ids) == NC_OK &&
        nc_tokenizer_decode(char_tok, ids.ids, ids.n, &out) == NC_OK)
        nc_free(out);
    out = NULL;
    if (nc_tokenizer_encode(wpe_tok, text, (int64_t)size, &ids) == NC_OK &&
        nc_tokenizer_decode(wpe_tok, ids.ids, ids.n, &out) == NC_OK)
        nc_free(out);
    nc_tokenizer *v = NULL;
    if (nc_tokenizer_wordpiece_from_memory(text, (int64_t)size, NULL, &v) == NC_OK) {
        if (nc_tokenizer_encode(v, "ab abc [CLS] x", -1, &ids) == NC_OK) {
            out = NULL;
            if (nc_tokenizer_decode(v, ids.ids, ids.n, &out) == NC_OK) nc_free(out);
        }
        nc_tokenizer_free(v);
    }
    nc_token_ids_free(&ids);
    return 0;
}
