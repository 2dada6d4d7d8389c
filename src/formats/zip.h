/* Minimal ZIP archives for PyTorch checkpoints. Not public.
 *
 * torch.save (>= 1.6) writes a ZIP whose entries are STORED (uncompressed),
 * with sizes only in data descriptors and the central directory, and ZIP64
 * end records even for small files (miniz, caffe2/serialize/inline_container.cc).
 * A stream reader cannot find where an entry ends, so the reader here works
 * from the central directory with random access (nc_rsrc). DEFLATE entries
 * (a checkpoint re-zipped by another tool) are inflated with zlib. */
#ifndef NC_IO_ZIP_H
#define NC_IO_ZIP_H

#include <stdbool.h>
#include <stdint.h>

#include "io/rsrc.h"
#include "formats/strmap.h"
#include "nemoc/torch_ckpt.h"

typedef struct nc_zip_entry {
    char *name; /* NUL-terminated copy */
    uint64_t csize, usize;
    uint64_t data_off; /* first byte of the (compressed) data in the source */
    uint32_t crc;
    uint16_t method; /* 0 stored, 8 deflate */
} nc_zip_entry;

typedef struct nc_zip {
    nc_rsrc src;
    nc_zip_entry *entries;
    int64_t n;
    nc_strmap *index; /* name -> entry index (first entry of a name wins) */
} nc_zip;

/* Reads the central directory and every local header. `src` is copied. */
nc_status nc_zip_open(const nc_rsrc *src, nc_zip **out);
void nc_zip_close(nc_zip *z);
const nc_zip_entry *nc_zip_find(const nc_zip *z, const char *name);
/* Reads the whole uncompressed entry (usize bytes) into dst, verifying its CRC-32 when asked. */
nc_status nc_zip_read(const nc_zip *z, const nc_zip_entry *e, void *dst, bool check_crc);

/* Writing: the caller lays entries out, then emits each local header, the
 * entry data, and finally the central directory. */
typedef struct nc_zip_wentry {
    const char *name;
    uint64_t size;
    uint32_t crc;
    bool zip64;         /* set by nc_zip_layout */
    uint64_t local_off; /* set by nc_zip_layout */
    uint64_t data_off;  /* set by nc_zip_layout; a multiple of NC_ZIP_ALIGN */
} nc_zip_wentry;

/* PyTorch aligns every record's data to 64 bytes (kFieldAlignment) with an
 * extra field 'FB' of 'Z' bytes, so storages can be mmapped in place. */
#define NC_ZIP_ALIGN 64

/* Places the entries back to back from offset 0; returns the offset of the
 * central directory and sets *total to the size of the whole archive. */
uint64_t nc_zip_layout(nc_zip_wentry *e, int64_t n, bool force_zip64, uint64_t *total);
/* Emits the local header (and alignment padding) of entry e. */
nc_status nc_zip_emit_local(const nc_zip_wentry *e, nc_byte_sink sink, void *user);
/* Emits the central directory and end records. */
nc_status nc_zip_emit_central(const nc_zip_wentry *e, int64_t n, uint64_t cd_off, bool force_zip64,
                              nc_byte_sink sink, void *user);

#endif
