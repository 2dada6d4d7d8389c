/* English text cleaning of NeMo's char parser (ENCharParser ->
 * nemo/collections/common/parts/preprocessing/cleaners.py clean_text) and the
 * number spelling it relies on (the inflect package's number_to_words).
 * Not public. */
#ifndef NC_TEXT_EN_TEXT_H
#define NC_TEXT_EN_TEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/status.h"
#include "core/strbuf.h"

/* inflect.engine().number_to_words(num) with its defaults (group 0, "and",
 * "zero", "one", "point"), appended to out. Inputs where inflect raises
 * (empty text, more than 36 digits) give NC_ERR_INVALID_ARG. */
nc_status nc_en_number_to_words(const char *num, int64_t len, nc_strbuf *out);

/* cleaners.clean_numbers: spells out every whitespace-separated token that
 * holds a digit (times, ordinals, dollar amounts, decimals, digit groups
 * "1 000 000"). text must already be whitespace-collapsed ASCII. */
nc_status nc_en_clean_numbers(const char *text, int64_t len, nc_strbuf *out);

/* cleaners.clean_text with ENCharParser's table: transliterate to ASCII,
 * lower-case, collapse whitespace, numbers, abbreviations, '+' '&' '%' to
 * words, other punctuation (keep[c] false) to spaces, collapse, strip.
 * keep[c] is true for the ASCII punctuation characters that are labels. */
nc_status nc_en_clean_text(const char *text, int64_t len, const bool keep[128], nc_strbuf *out);

/* The ASCII transliteration step alone (unidecode stand-in), appended. */
nc_status nc_en_transliterate(const char *text, int64_t len, nc_strbuf *out);

#endif
