/* UTF-8 validation shared by the file-format readers. Not public. */
#ifndef NC_IO_UTF8_H
#define NC_IO_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Strict UTF-8 as Rust's str::from_utf8 and Python's decoder check it: no
 * overlong forms, no surrogates, nothing past U+10FFFF. On failure *bad (if
 * not NULL) is the offset of the first invalid byte. */
bool nc_utf8_valid(const unsigned char *s, size_t n, size_t *bad);

#endif
