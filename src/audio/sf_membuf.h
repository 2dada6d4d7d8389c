/* A seekable file in memory for libsndfile's virtual I/O: WAV writing
 * (audio_write.c) encodes into it before writing to disk, and codec round
 * trips (augment_transcode.c) encode into it and decode from it. Not public. */
#ifndef NC_AUDIO_SF_MEMBUF_H
#define NC_AUDIO_SF_MEMBUF_H

#include <sndfile.h>

#include "core/strbuf.h"

typedef struct nc_sf_membuf {
    nc_strbuf s;    /* the file's bytes; s.n is its length */
    sf_count_t pos; /* where the next read or write goes */
} nc_sf_membuf;

/* The callbacks; the user pointer of sf_open_virtual is an nc_sf_membuf. */
SF_VIRTUAL_IO nc_sf_membuf_io(void);

#endif
