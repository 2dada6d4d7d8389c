/* UTF-8 and the few Unicode properties the tokenizers need. Not public.
 *
 * Decoding follows sentencepiece's string_util::DecodeUTF8 (util.cc) to the
 * byte, because SentencePiece equality depends on it: a malformed sequence
 * decodes to U+FFFD with length 1, overlong forms and surrogates are
 * malformed. The property tables come from Python's unicodedata (generated
 * into unicode_{classes,nfd,nfc}.c by scripts/gen_unicode_tables.py), which is what
 * HF BertTokenizer and NeMo's parsers consult. */
#ifndef NC_TEXT_UNICODE_H
#define NC_TEXT_UNICODE_H

#include <stdbool.h>
#include <stdint.h>

#define NC_UNI_REPLACEMENT 0xFFFDu

/* Length of the UTF-8 sequence a lead byte announces (1 for continuation
 * and invalid bytes): sentencepiece's OneCharLen table. */
static inline int nc_utf8_lead_len(unsigned char c) {
    static const unsigned char len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

/* Decodes one code point from [s, end) (s < end). Sets *len to the bytes
 * used; a malformed sequence gives U+FFFD and *len = 1. */
uint32_t nc_utf8_decode(const char *s, const char *end, int *len);

/* True when the character at s is well formed (a literal U+FFFD counts as
 * well formed), as sentencepiece's IsValidDecodeUTF8. */
bool nc_utf8_valid_at(const char *s, const char *end, int *len);

/* Writes the UTF-8 form of cp (< 0x110000) to out; returns its length. */
int nc_utf8_encode(uint32_t cp, char out[4]);

bool nc_uni_is_punct(uint32_t cp); /* general category P* */
bool nc_uni_is_mn(uint32_t cp);    /* general category Mn */
bool nc_uni_is_ctrl(uint32_t cp);  /* general category Cc or Cf */
bool nc_uni_is_zs(uint32_t cp);    /* general category Zs */

/* Python's str.lower() of one code point: writes 1 or 2 code points. */
int nc_uni_lower(uint32_t cp, uint32_t out[3]);

/* Canonical decomposition (NFD) of one code point: writes 1..4 code points
 * (1 = cp itself when it does not decompose). Canonical reordering across
 * neighbouring characters is not applied. */
int nc_uni_nfd(uint32_t cp, uint32_t out[4]);

/* Canonical combining class (0 for starters). */
int nc_uni_ccc_of(uint32_t cp);

/* Primary composite of the pair (a, b), or 0 (Hangul included). */
uint32_t nc_uni_compose_pair(uint32_t a, uint32_t b);

/* NFC of in[0..n) into out (capacity >= 4 * n): full canonical
 * decomposition, canonical ordering of combining marks, then canonical
 * composition (UAX #15). Returns the number of code points written. */
int64_t nc_uni_nfc(const uint32_t *in, int64_t n, uint32_t *out);

/* ASCII folding of a Latin letter/form (NFKD minus marks, when that is
 * 1..4 ASCII characters): writes them to out and returns the count, or 0. */
int nc_uni_ascii_fold(uint32_t cp, char out[4]);

/* Tables from unicode_classes.c, unicode_nfd.c, unicode_nfc.c (generated). */
extern const uint32_t nc_uni_punct[][2];
extern const int64_t nc_uni_punct_n;
extern const uint32_t nc_uni_mn[][2];
extern const int64_t nc_uni_mn_n;
extern const uint32_t nc_uni_ctrl[][2];
extern const int64_t nc_uni_ctrl_n;
extern const uint32_t nc_uni_zs[][2];
extern const int64_t nc_uni_zs_n;
extern const uint32_t nc_uni_lower_map[][2];
extern const int64_t nc_uni_lower_map_n;
extern const uint32_t nc_uni_nfd_map[][5];
extern const int64_t nc_uni_nfd_map_n;
extern const uint32_t nc_uni_ccc[][3];
extern const int64_t nc_uni_ccc_n;
extern const uint32_t nc_uni_compose[][3];
extern const int64_t nc_uni_compose_n;
extern const uint32_t nc_uni_ascii_fold_map[][2];
extern const int64_t nc_uni_ascii_fold_map_n;

#endif
