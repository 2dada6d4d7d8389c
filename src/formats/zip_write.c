/* ZIP writing for PyTorch checkpoints: STORED entries, sizes and CRC known
 * up front (no data descriptors), data aligned to 64 bytes like
 * caffe2/serialize/inline_container.cc, ZIP64 records only where a size,
 * offset or count needs them (APPNOTE.TXT 4.3.7, 4.3.12, 4.3.14-16, 4.5.3). */
#include <string.h>

#include "formats/zip.h"
#include "nemoc/alloc.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define SAT32 0xffffffffu
/* DOS date 1980-01-01, time 00:00: the file is reproducible byte for byte. */
#define DOS_DATE 0x0021u

static unsigned char *w16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    return p + 2;
}
static unsigned char *w32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
    return p + 4;
}
static unsigned char *w64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
    return p + 8;
}

static bool utf8_name(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return true;
    return false;
}

/* Bytes before the data: fixed header, name, ZIP64 extra, 'FB' padding extra. */
static uint64_t local_len(const nc_zip_wentry *e, uint64_t local_off, size_t *pad) {
    uint64_t fixed = 30 + strlen(e->name) + (e->zip64 ? 20 : 0) + 4;
    *pad = (size_t)((NC_ZIP_ALIGN - (local_off + fixed) % NC_ZIP_ALIGN) % NC_ZIP_ALIGN);
    return fixed + *pad;
}

static bool need_end64(int64_t n, uint64_t cd_off, uint64_t cd_size, bool force) {
    return force || n > 0xffff || cd_off >= SAT32 || cd_size >= SAT32;
}

uint64_t nc_zip_layout(nc_zip_wentry *e, int64_t n, bool force_zip64, uint64_t *total) {
    uint64_t off = 0, cd_size = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t pad;
        e[i].zip64 = force_zip64 || e[i].size >= SAT32 || off >= SAT32;
        e[i].local_off = off;
        e[i].data_off = off + local_len(&e[i], off, &pad);
        off = e[i].data_off + e[i].size;
        cd_size += 46 + strlen(e[i].name) + (e[i].zip64 ? 28 : 0);
    }
    *total = off + cd_size + (need_end64(n, off, cd_size, force_zip64) ? 56 + 20 : 0) + 22;
    return off;
}

nc_status nc_zip_emit_local(const nc_zip_wentry *e, nc_byte_sink sink, void *user) {
    size_t pad;
    size_t len = (size_t)local_len(e, e->local_off, &pad);
    size_t nlen = strlen(e->name);
    unsigned char stackbuf[512], *buf = stackbuf;
    if (len > sizeof stackbuf) {
        buf = nc_malloc(len);
        if (!buf) return nc_error(NC_ERR_OOM, "zip: header of '%s'", e->name);
    }
    unsigned char *p = buf;
    p = w32(p, SIG_LOCAL);
    p = w16(p, e->zip64 ? 45 : 20);
    p = w16(p, utf8_name(e->name) ? 0x0800 : 0);
    p = w16(p, 0); /* stored */
    p = w16(p, 0);
    p = w16(p, DOS_DATE);
    p = w32(p, e->crc);
    p = w32(p, e->zip64 ? SAT32 : (uint32_t)e->size);
    p = w32(p, e->zip64 ? SAT32 : (uint32_t)e->size);
    p = w16(p, (uint16_t)nlen);
    p = w16(p, (uint16_t)(len - 30 - nlen));
    memcpy(p, e->name, nlen);
    p += nlen;
    if (e->zip64) {
        p = w16(p, 0x0001);
        p = w16(p, 16);
        p = w64(p, e->size);
        p = w64(p, e->size);
    }
    p = w16(p, 0x4246); /* "FB" */
    p = w16(p, (uint16_t)pad);
    memset(p, 'Z', pad);
    nc_status st = sink(user, buf, len);
    if (buf != stackbuf) nc_free(buf);
    return st;
}

nc_status nc_zip_emit_central(const nc_zip_wentry *e, int64_t n, uint64_t cd_off, bool force_zip64,
                              nc_byte_sink sink, void *user) {
    uint64_t cd_size = 0;
    nc_status st = NC_OK;
    for (int64_t i = 0; i < n && !st; i++) {
        size_t nlen = strlen(e[i].name);
        unsigned char head[46 + 28], *p = head;
        p = w32(p, SIG_CENTRAL);
        p = w16(p, e[i].zip64 ? 45 : 20); /* made by: MS-DOS attributes, spec version */
        p = w16(p, e[i].zip64 ? 45 : 20);
        p = w16(p, utf8_name(e[i].name) ? 0x0800 : 0);
        p = w16(p, 0);
        p = w16(p, 0);
        p = w16(p, DOS_DATE);
        p = w32(p, e[i].crc);
        p = w32(p, e[i].zip64 ? SAT32 : (uint32_t)e[i].size);
        p = w32(p, e[i].zip64 ? SAT32 : (uint32_t)e[i].size);
        p = w16(p, (uint16_t)nlen);
        p = w16(p, e[i].zip64 ? 28 : 0);
        p = w16(p, 0); /* comment */
        p = w16(p, 0); /* disk */
        p = w16(p, 0); /* internal attributes */
        p = w32(p, 0); /* external attributes */
        p = w32(p, e[i].zip64 ? SAT32 : (uint32_t)e[i].local_off);
        st = sink(user, head, 46);
        if (!st) st = sink(user, e[i].name, nlen);
        if (!st && e[i].zip64) {
            unsigned char x[28], *q = x;
            q = w16(q, 0x0001);
            q = w16(q, 24);
            q = w64(q, e[i].size);
            q = w64(q, e[i].size);
            w64(q, e[i].local_off);
            st = sink(user, x, 28);
        }
        cd_size += 46 + nlen + (e[i].zip64 ? 28 : 0);
    }
    if (st) return st;
    bool z64 = need_end64(n, cd_off, cd_size, force_zip64);
    unsigned char end[56 + 20 + 22], *p = end;
    if (z64) {
        p = w32(p, SIG_EOCD64);
        p = w64(p, 44);
        p = w16(p, 45);
        p = w16(p, 45);
        p = w32(p, 0);
        p = w32(p, 0);
        p = w64(p, (uint64_t)n);
        p = w64(p, (uint64_t)n);
        p = w64(p, cd_size);
        p = w64(p, cd_off);
        p = w32(p, SIG_LOC64);
        p = w32(p, 0);
        p = w64(p, cd_off + cd_size);
        p = w32(p, 1);
    }
    p = w32(p, SIG_EOCD);
    p = w16(p, 0);
    p = w16(p, 0);
    p = w16(p, z64 && n > 0xffff ? 0xffff : (uint16_t)n);
    p = w16(p, z64 && n > 0xffff ? 0xffff : (uint16_t)n);
    p = w32(p, z64 && cd_size >= SAT32 ? SAT32 : (uint32_t)cd_size);
    p = w32(p, z64 && (cd_off >= SAT32 || force_zip64) ? SAT32 : (uint32_t)cd_off);
    p = w16(p, 0);
    return sink(user, end, (size_t)(p - end));
}
