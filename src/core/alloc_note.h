/* Out-of-memory messages name the size that failed: nc_malloc notes the size
 * of a refused allocation (per thread), and the next NC_ERR_OOM message set
 * with nc_error takes it ("... (an allocation of N bytes failed)"). Not
 * public. */
#ifndef NC_CORE_ALLOC_NOTE_H
#define NC_CORE_ALLOC_NOTE_H

#include <stddef.h>

void nc_note_failed_alloc(size_t bytes);

#endif
