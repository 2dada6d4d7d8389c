/* ZIP reading through the central directory (APPNOTE.TXT 6.3: 4.3.12
 * central directory header, 4.3.16 end of central directory, 4.3.14/4.3.15
 * ZIP64 end record and locator, 4.5.3 ZIP64 extra field). */
#include <string.h>
#include <zlib.h>

#include "formats/zip.h"
#include "nemoc/alloc.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

typedef struct eocd {
    uint64_t n_entries, cd_size, cd_off;
} eocd;

/* Finds the end-of-central-directory record in the last 64 KiB + 22 bytes
 * (the record ends with a comment of at most 65535 bytes). */
static nc_status find_eocd(const nc_rsrc *s, eocd *out, uint64_t *eocd_pos) {
    const char *w = s->what;
    if (s->size < 22) return nc_error(NC_ERR_FORMAT, "%s: too short for a zip archive (%llu bytes)", w,
                                      (unsigned long long)s->size);
    uint64_t tail = s->size < 22 + 65535 ? s->size : 22 + 65535;
    unsigned char *buf = nc_malloc((size_t)tail);
    if (!buf) return nc_error(NC_ERR_OOM, "%s: zip tail", w);
    nc_status st = nc_rsrc_read(s, s->size - tail, buf, (size_t)tail);
    if (st) {
        nc_free(buf);
        return st;
    }
    int64_t at = -1;
    for (int64_t i = (int64_t)tail - 22; i >= 0; i--) {
        if (rd32(buf + i) != SIG_EOCD) continue;
        /* Prefer a record whose comment ends exactly at the end of the file. */
        if ((uint64_t)i + 22 + rd16(buf + i + 20) == tail) {
            at = i;
            break;
        }
        if (at < 0) at = i;
    }
    if (at < 0) {
        nc_free(buf);
        return nc_error(NC_ERR_FORMAT, "%s: not a zip archive (no end-of-central-directory record)", w);
    }
    const unsigned char *e = buf + at;
    out->n_entries = rd16(e + 10);
    out->cd_size = rd32(e + 12);
    out->cd_off = rd32(e + 16);
    *eocd_pos = s->size - tail + (uint64_t)at;
    nc_free(buf);
    return NC_OK;
}

/* ZIP64: a locator 20 bytes before the classic record points at the 56-byte
 * ZIP64 end record, whose 64-bit counts replace saturated classic ones. */
static nc_status read_zip64_end(const nc_rsrc *s, uint64_t eocd_pos, eocd *e) {
    if (eocd_pos < 20) return NC_OK;
    unsigned char loc[20];
    nc_status st = nc_rsrc_read(s, eocd_pos - 20, loc, 20);
    if (st) return st;
    if (rd32(loc) != SIG_LOC64) return NC_OK;
    uint64_t off = rd64(loc + 8);
    unsigned char r[56];
    st = nc_rsrc_read(s, off, r, 56);
    if (st) return nc_error_prefix(st, "%s: ZIP64 end record", s->what);
    if (rd32(r) != SIG_EOCD64)
        return nc_error(NC_ERR_FORMAT, "%s: bad ZIP64 end record signature at %llu", s->what,
                        (unsigned long long)off);
    e->n_entries = rd64(r + 32);
    e->cd_size = rd64(r + 40);
    e->cd_off = rd64(r + 48);
    return NC_OK;
}

/* Parses one central header at p (len bytes left); fills e, returns its length or 0. */
static size_t parse_central(const unsigned char *p, size_t len, nc_zip_entry *e, uint64_t *local_off,
                            uint16_t *flags, const char *w, nc_status *st) {
    *st = NC_OK;
    if (len < 46 || rd32(p) != SIG_CENTRAL) {
        *st = nc_error(NC_ERR_FORMAT, "%s: bad central directory header", w);
        return 0;
    }
    *flags = rd16(p + 8);
    e->method = rd16(p + 10);
    e->crc = rd32(p + 16);
    e->csize = rd32(p + 20);
    e->usize = rd32(p + 24);
    size_t nlen = rd16(p + 28), xlen = rd16(p + 30), clen = rd16(p + 32);
    *local_off = rd32(p + 42);
    size_t total = 46 + nlen + xlen + clen;
    if (total > len) {
        *st = nc_error(NC_ERR_FORMAT, "%s: central directory entry runs past its end", w);
        return 0;
    }
    /* ZIP64 extra: only the saturated fields are present, in this order. */
    const unsigned char *x = p + 46 + nlen, *xe = x + xlen;
    while (xe - x >= 4) {
        uint16_t id = rd16(x), sz = rd16(x + 2);
        if ((size_t)(xe - x - 4) < sz) break;
        if (id == 0x0001) {
            const unsigned char *f = x + 4, *fe = f + sz;
            if (e->usize == 0xffffffffu && fe - f >= 8) e->usize = rd64(f), f += 8;
            if (e->csize == 0xffffffffu && fe - f >= 8) e->csize = rd64(f), f += 8;
            if (*local_off == 0xffffffffu && fe - f >= 8) *local_off = rd64(f), f += 8;
        }
        x += 4 + sz;
    }
    e->name = nc_malloc(nlen + 1);
    if (!e->name) {
        *st = nc_error(NC_ERR_OOM, "%s: zip entry name", w);
        return 0;
    }
    memcpy(e->name, p + 46, nlen);
    e->name[nlen] = 0;
    return total;
}

static nc_status check_entry(const nc_zip *z, nc_zip_entry *e, uint64_t local_off, uint16_t flags) {
    const nc_rsrc *s = &z->src;
    if (flags & 1) return nc_error(NC_ERR_UNSUPPORTED, "%s: entry '%s' is encrypted", s->what, e->name);
    if (e->method != 0 && e->method != 8)
        return nc_error(NC_ERR_UNSUPPORTED, "%s: entry '%s' uses compression method %u (only stored and deflate are supported)",
                        s->what, e->name, e->method);
    if (e->method == 0 && e->csize != e->usize)
        return nc_error(NC_ERR_FORMAT, "%s: stored entry '%s' has sizes %llu and %llu", s->what, e->name,
                        (unsigned long long)e->csize, (unsigned long long)e->usize);
    /* Deflate cannot expand data more than ~1032x; a larger claim is a lie
     * that would only make us allocate memory for nothing. */
    if (e->method == 8 && e->usize / 1032 > e->csize + 1)
        return nc_error(NC_ERR_FORMAT, "%s: entry '%s' claims %llu bytes from %llu compressed", s->what,
                        e->name, (unsigned long long)e->usize, (unsigned long long)e->csize);
    unsigned char lh[30];
    nc_status st = nc_rsrc_read(s, local_off, lh, 30);
    if (st) return nc_error_prefix(st, "local header of '%s'", e->name);
    if (rd32(lh) != SIG_LOCAL)
        return nc_error(NC_ERR_FORMAT, "%s: bad local header for '%s' at offset %llu", s->what, e->name,
                        (unsigned long long)local_off);
    e->data_off = local_off + 30 + rd16(lh + 26) + rd16(lh + 28);
    if (e->data_off > s->size || e->csize > s->size - e->data_off)
        return nc_error(NC_ERR_FORMAT, "%s: entry '%s' (%llu bytes at %llu) runs past the end of the archive (%llu bytes)",
                        s->what, e->name, (unsigned long long)e->csize, (unsigned long long)e->data_off,
                        (unsigned long long)s->size);
    return NC_OK;
}

void nc_zip_close(nc_zip *z) {
    if (!z) return;
    for (int64_t i = 0; i < z->n; i++) nc_free(z->entries[i].name);
    nc_free(z->entries);
    nc_strmap_free(z->index);
    nc_free(z);
}

nc_status nc_zip_open(const nc_rsrc *src, nc_zip **out) {
    *out = NULL;
    const char *w = src->what;
    eocd e = {0};
    uint64_t eocd_pos = 0;
    nc_status st = find_eocd(src, &e, &eocd_pos);
    if (!st) st = read_zip64_end(src, eocd_pos, &e);
    if (st) return st;
    if (e.cd_off > src->size || e.cd_size > src->size - e.cd_off)
        return nc_error(NC_ERR_FORMAT, "%s: central directory (%llu bytes at %llu) lies outside the file (%llu bytes); truncated?",
                        w, (unsigned long long)e.cd_size, (unsigned long long)e.cd_off,
                        (unsigned long long)src->size);
    if (e.n_entries > e.cd_size / 46)
        return nc_error(NC_ERR_FORMAT, "%s: %llu entries cannot fit a %llu-byte central directory", w,
                        (unsigned long long)e.n_entries, (unsigned long long)e.cd_size);
    nc_zip *z = nc_calloc(1, sizeof *z);
    unsigned char *cd = nc_malloc(e.cd_size ? (size_t)e.cd_size : 1);
    if (!z || !cd) {
        nc_free(z);
        nc_free(cd);
        return nc_error(NC_ERR_OOM, "%s: central directory of %llu bytes", w, (unsigned long long)e.cd_size);
    }
    z->src = *src;
    z->entries = nc_calloc(e.n_entries ? (size_t)e.n_entries : 1, sizeof(nc_zip_entry));
    st = z->entries ? nc_strmap_new(&z->index) : nc_error(NC_ERR_OOM, "%s: zip entries", w);
    if (!st) st = nc_rsrc_read(src, e.cd_off, cd, (size_t)e.cd_size);
    size_t pos = 0;
    for (uint64_t i = 0; !st && i < e.n_entries; i++) {
        nc_zip_entry *ze = &z->entries[z->n];
        uint64_t local_off = 0;
        uint16_t flags = 0;
        size_t used = parse_central(cd + pos, (size_t)e.cd_size - pos, ze, &local_off, &flags, w, &st);
        if (st) break;
        z->n++;
        pos += used;
        st = check_entry(z, ze, local_off, flags);
        if (!st && nc_strmap_get(z->index, ze->name, strlen(ze->name)) < 0)
            st = nc_strmap_put(z->index, ze->name, strlen(ze->name), z->n - 1);
    }
    nc_free(cd);
    if (st) {
        nc_zip_close(z);
        return st;
    }
    *out = z;
    return NC_OK;
}

const nc_zip_entry *nc_zip_find(const nc_zip *z, const char *name) {
    int64_t i = nc_strmap_get(z->index, name, strlen(name));
    return i < 0 ? NULL : &z->entries[i];
}

static nc_status inflate_entry(const nc_zip *z, const nc_zip_entry *e, unsigned char *dst) {
    const nc_rsrc *s = &z->src;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
        return nc_error(NC_ERR_INTERNAL, "%s: inflateInit failed", s->what);
    enum { CHUNK = 1 << 16 };
    unsigned char *in = nc_malloc(CHUNK);
    nc_status st = in ? NC_OK : nc_error(NC_ERR_OOM, "%s: inflate buffer", s->what);
    uint64_t done_in = 0, done_out = 0;
    int zr = Z_OK;
    while (!st && zr != Z_STREAM_END) {
        if (zs.avail_in == 0) {
            uint64_t left = e->csize - done_in;
            if (left == 0) {
                st = nc_error(NC_ERR_FORMAT, "%s: deflate data of '%s' ends early", s->what, e->name);
                break;
            }
            size_t n = left < CHUNK ? (size_t)left : CHUNK;
            st = nc_rsrc_read(s, e->data_off + done_in, in, n);
            if (st) break;
            zs.next_in = in;
            zs.avail_in = (uInt)n;
            done_in += n;
        }
        uint64_t room = e->usize - done_out;
        zs.next_out = dst + done_out;
        zs.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
        uInt before = zs.avail_out;
        zr = inflate(&zs, Z_NO_FLUSH);
        done_out += before - zs.avail_out;
        if (zr == Z_BUF_ERROR && done_out == e->usize && zs.avail_in > 0) zr = Z_DATA_ERROR;
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
            st = nc_error(NC_ERR_FORMAT, "%s: bad deflate data in '%s' (%s)", s->what, e->name,
                          zs.msg ? zs.msg : "zlib error");
        else if (zr == Z_BUF_ERROR && done_out == e->usize)
            st = nc_error(NC_ERR_FORMAT, "%s: '%s' inflates to more than its recorded %llu bytes",
                          s->what, e->name, (unsigned long long)e->usize);
    }
    if (!st && done_out != e->usize)
        st = nc_error(NC_ERR_FORMAT, "%s: '%s' inflates to %llu bytes, recorded %llu", s->what, e->name,
                      (unsigned long long)done_out, (unsigned long long)e->usize);
    inflateEnd(&zs);
    nc_free(in);
    return st;
}

nc_status nc_zip_read(const nc_zip *z, const nc_zip_entry *e, void *dst, bool check_crc) {
    nc_status st = e->method == 0 ? nc_rsrc_read(&z->src, e->data_off, dst, (size_t)e->usize)
                                  : inflate_entry(z, e, dst);
    if (st) return st;
    if (check_crc) {
        /* zlib's crc32 takes a uInt length: feed it in 1 GiB pieces. */
        uLong crc = crc32(0L, Z_NULL, 0);
        const unsigned char *p = dst;
        for (uint64_t left = e->usize; left;) {
            uInt n = left > (1u << 30) ? (1u << 30) : (uInt)left;
            crc = crc32(crc, p, n);
            p += n;
            left -= n;
        }
        if ((uint32_t)crc != e->crc)
            return nc_error(NC_ERR_FORMAT, "%s: CRC-32 mismatch in '%s' (stored %08x, computed %08x); the file is corrupt",
                            z->src.what, e->name, e->crc, (uint32_t)crc);
    }
    return NC_OK;
}
