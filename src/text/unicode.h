/* The few Unicode properties the tokenizers need (the UTF-8 codec is
 * core/utf8.h). Not public.
 *
 * The property tables come from Python's unicodedata (generated
 * into unicode_{classes,nfd,nfc}.c by scripts/gen_unicode_tables.py), which is what
 * HF BertTokenizer and NeMo's parsers consult. */
#ifndef NC_TEXT_UNICODE_H
#define NC_TEXT_UNICODE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/utf8.h"

/* Python's str.isspace() of one code point: what str.split() and
 * str.strip() treat as whitespace. */
bool nc_uni_is_space(uint32_t cp);
bool nc_uni_is_punct(uint32_t cp); /* general category P* */
bool nc_uni_is_mn(uint32_t cp);    /* general category Mn */
bool nc_uni_is_ctrl(uint32_t cp);  /* general category Cc or Cf */
bool nc_uni_is_zs(uint32_t cp);    /* general category Zs */
bool nc_uni_is_letter(uint32_t cp); /* general category L* (regex \p{L}) */
bool nc_uni_is_number(uint32_t cp); /* general category N* (regex \p{N}) */
/* The Unicode White_Space property: what \s matches in Python's `regex`
 * module (GPT-2's encoder.py) and in HF tokenizers' Rust regex. Differs
 * from str.isspace() (no U+001C..U+001F) and from JavaScript's \s (which
 * adds U+FEFF and drops U+0085). */
bool nc_uni_is_white_space(uint32_t cp);

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
extern const uint32_t nc_uni_letter[][2];
extern const int64_t nc_uni_letter_n;
extern const uint32_t nc_uni_number[][2];
extern const int64_t nc_uni_number_n;
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
