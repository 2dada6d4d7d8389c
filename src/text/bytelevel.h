/* GPT-2's byte-level pieces: the byte <-> printable-character map and the
 * pre-tokenisation regex, shared by the GPT-2 / HF BPE encoders and the
 * byte-level BPE trainer. Not public. */
#ifndef NC_TEXT_BYTELEVEL_H
#define NC_TEXT_BYTELEVEL_H

#include <stdint.h>

/* GPT-2 encoder.py bytes_to_unicode(): byte b -> the code point that stands
 * for it inside vocabulary entries. The printable Latin-1 bytes ('!'..'~',
 * U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves; the other 68 bytes
 * take U+0100, U+0101, ... in byte order (so ' ' is 'Ġ' U+0120). */
uint32_t nc_bytelevel_char(uint8_t b);
/* The inverse: the byte cp stands for, or -1. */
int nc_bytelevel_byte(uint32_t cp);
/* The position of byte b in bytes_to_unicode()'s order (the printable bytes
 * first): GPT-2's vocabulary lists the 256 byte characters as ids 0..255 in
 * this order. */
int nc_bytelevel_rank(uint8_t b);
/* The byte whose rank is r (0..255). */
uint8_t nc_bytelevel_by_rank(int r);

/* GPT-2's pre-tokenisation, encoder.py:
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * matched by hand over the Unicode tables: returns the end of the chunk
 * that starts at s[pos] (pos < len). \s is Unicode White_Space (see
 * unicode.h); a malformed UTF-8 byte is one character of the
 * "[^\s\p{L}\p{N}]" class, so no byte is ever lost. */
int64_t nc_gpt2_pretok_next(const char *s, int64_t len, int64_t pos);

#endif
