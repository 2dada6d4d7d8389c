/* The one UTF-8 codec. Not public.
 *
 * Decoding follows sentencepiece's string_util::DecodeUTF8 (util.cc) to the
 * byte, because SentencePiece equality depends on it: a malformed sequence
 * decodes to U+FFFD with length 1; overlong forms, surrogates and values past
 * U+10FFFF are malformed. That is also RFC 3629's strict UTF-8, the check
 * Python's decoder and Rust's str::from_utf8 make, so the file-format readers
 * validate with the same code. */
#ifndef NC_CORE_UTF8_H
#define NC_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
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

/* True when all of s[0..n) is well formed. On failure *bad (if not NULL) is
 * the offset of the first byte of the first malformed sequence. */
bool nc_utf8_valid(const unsigned char *s, size_t n, size_t *bad);

/* Code points in s[0..n): the bytes that are not continuation bytes, which
 * is Python's len(str) for well-formed text. */
int64_t nc_utf8_count(const char *s, int64_t n);

/* Writes the UTF-8 form of cp (< 0x110000) to out; returns its length. */
int nc_utf8_encode(uint32_t cp, char out[4]);

#endif
