/* The SentencePiece processor: loading (model_interface.cc
 * InitializePieces), encoding to ids (sentencepiece_processor.cc Encode and
 * PopulateSentencePieceText: unknown runs merged, or split into <0xNN> byte
 * pieces with byte_fallback) and decoding (Decode: U+2581 -> ' ', the first
 * piece's dummy-prefix space dropped, byte pieces reassembled into UTF-8). */
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "core/vec.h"
#include "nemoc/alloc.h"
#include "text/spm_model.h"
#include "text/tokenizer_impl.h"
#include "text/unicode.h"

static const char kSpace[] = "\xe2\x96\x81";

nc_status spm_segs_push(spm_segs *s, int64_t begin, int64_t len, int32_t id) {
    if (nc_vec_reserve(&s->v, &s->cap, s->n + 1, sizeof *s->v))
        return nc_error(NC_ERR_OOM, "sentencepiece: cannot allocate %lld segments", (long long)(s->n + 1));
    s->v[s->n++] = (spm_seg){.begin = begin, .len = (int32_t)len, .id = id};
    return NC_OK;
}

void spm_segs_free(spm_segs *s) {
    nc_free(s->v);
    memset(s, 0, sizeof *s);
}

int32_t spm_piece_to_id(const spm *sp, const char *s, int64_t len) {
    int32_t id = nc_trie_get(&sp->reserved, s, len);
    if (id >= 0) return id;
    id = nc_trie_get(&sp->normal, s, len);
    return id >= 0 ? id : sp->unk_id;
}

/* model_interface.cc PieceToByte: exactly "<0xNN>" with upper-case hex. */
static int piece_to_byte(const char *s, int32_t len) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') v = v * 16 + (c - '0');
        else if (c >= 'A' && c <= 'F') v = v * 16 + (c - 'A' + 10);
        else return -1;
    }
    return v;
}

static nc_status init_pieces(spm *sp) {
    const spm_model *m = &sp->m;
    nc_status st;
    sp->unk_id = -1;
    for (int b = 0; b < 256; b++) sp->byte_id[b] = -1;
    sp->min_score = FLT_MAX;
    sp->max_score = FLT_MIN; /* sic: unigram_model.cc starts from FLT_MIN, not -FLT_MAX */
    for (int64_t i = 0; i < m->n_pieces; i++) {
        const spm_piece *p = &m->pieces[i];
        if (p->len == 0) return nc_error(NC_ERR_FORMAT, "sentencepiece: piece %lld is empty", (long long)i);
        bool normal = p->type == SPM_NORMAL || p->type == SPM_USER_DEFINED || p->type == SPM_UNUSED;
        bool existed;
        if ((st = nc_trie_insert(normal ? &sp->normal : &sp->reserved, p->s, p->len, (int32_t)i, &existed)) != NC_OK)
            return st;
        if (existed) return nc_error(NC_ERR_FORMAT, "sentencepiece: piece '%s' (id %lld) is already defined", p->s, (long long)i);
        if (p->type == SPM_USER_DEFINED && (st = nc_trie_insert(&sp->user_defined, p->s, p->len, (int32_t)i, NULL)) != NC_OK)
            return st;
        if (p->type == SPM_UNKNOWN) {
            if (sp->unk_id >= 0) return nc_error(NC_ERR_FORMAT, "sentencepiece: unk is defined twice (ids %d and %lld)", sp->unk_id, (long long)i);
            sp->unk_id = (int32_t)i;
        }
        if (p->type == SPM_BYTE) {
            if (!m->trainer.byte_fallback)
                return nc_error(NC_ERR_FORMAT, "sentencepiece: byte piece %s found although byte_fallback is false", p->s);
            int b = piece_to_byte(p->s, p->len);
            if (b < 0) return nc_error(NC_ERR_FORMAT, "sentencepiece: byte piece '%s' is invalid", p->s);
            sp->byte_id[b] = (int32_t)i;
        }
        if (p->type == SPM_NORMAL) {
            if (p->score < sp->min_score) sp->min_score = p->score;
            if (p->score > sp->max_score) sp->max_score = p->score;
        }
    }
    if (sp->unk_id < 0) return nc_error(NC_ERR_FORMAT, "sentencepiece: unk is not defined");
    if (m->trainer.byte_fallback)
        for (int b = 0; b < 256; b++)
            if (sp->byte_id[b] < 0)
                return nc_error(NC_ERR_FORMAT, "sentencepiece: byte_fallback is set but piece <0x%02X> is missing", b);
    if (m->trainer.model_type == SPM_MODEL_UNIGRAM && sp->normal.n_keys == 0)
        return nc_error(NC_ERR_FORMAT, "sentencepiece: unigram model has no pieces");
    return NC_OK;
}

nc_status spm_init(spm *sp, uint8_t *blob, int64_t len) {
    memset(sp, 0, sizeof *sp);
    nc_status st = spm_model_parse(blob, len, &sp->m);
    if (!st) st = init_pieces(sp);
    if (!st) st = spm_normalizer_init(&sp->norm, &sp->m.normalizer, &sp->user_defined,
                                      sp->m.trainer.treat_whitespace_as_suffix);
    /* sentencepiece_processor.cc Load: a denormaliser only when it has rules. */
    if (!st && sp->m.denormalizer.present && sp->m.denormalizer.charsmap_len > 0) {
        st = spm_normalizer_init(&sp->denorm, &sp->m.denormalizer, NULL, false);
        sp->has_denorm = st == NC_OK;
    }
    if (st) spm_free(sp);
    return st;
}

void spm_free(spm *sp) {
    spm_normalizer_free(&sp->norm);
    spm_normalizer_free(&sp->denorm);
    nc_trie_free(&sp->normal);
    nc_trie_free(&sp->reserved);
    nc_trie_free(&sp->user_defined);
    spm_model_free(&sp->m);
}

static bool is_type(const spm *sp, int32_t id, spm_piece_type t) {
    return id >= 0 && id < sp->m.n_pieces && sp->m.pieces[id].type == t;
}

nc_status spm_encode_ids(const spm *sp, const char *text, int64_t len, nc_strbuf *norm, spm_segs *segs,
                         nc_token_ids *out) {
    nc_status st = spm_normalize(&sp->norm, text, len, norm);
    if (st) return st;
    switch (sp->m.trainer.model_type) {
    case SPM_MODEL_BPE: st = spm_encode_bpe(sp, norm->p, norm->n, segs); break;
    case SPM_MODEL_CHAR: st = spm_encode_char(sp, norm->p, norm->n, segs); break;
    case SPM_MODEL_WORD: st = spm_encode_word(sp, norm->p, norm->n, segs); break;
    default: st = spm_encode_unigram(sp, norm->p, norm->n, segs); break;
    }
    if (st) return st;
    out->n = 0;
    bool prev_unk = false;
    for (int64_t i = 0; i < segs->n; i++) {
        const spm_seg *g = &segs->v[i];
        bool unk = is_type(sp, g->id, SPM_UNKNOWN);
        if (unk && sp->m.trainer.byte_fallback) {
            /* Decomposes an unknown piece into its UTF-8 bytes. */
            for (int32_t k = 0; k < g->len && !st; k++)
                st = nc_token_ids_push(out, sp->byte_id[(uint8_t)norm->p[g->begin + k]]);
        } else if (!(unk && prev_unk)) {
            /* A run of unknown pieces becomes one <unk>. */
            st = nc_token_ids_push(out, g->id);
        }
        if (st) return st;
        prev_unk = unk;
    }
    return NC_OK;
}

/* Appends the UTF-8 of byte pieces ids[b..e): each well-formed character as
 * is, each malformed byte as U+FFFD (Decode's ProcessBytePieces). */
static nc_status flush_bytes(const spm *sp, const int32_t *ids, int64_t b, int64_t e, nc_strbuf *bytes,
                             nc_strbuf *out) {
    if (b >= e) return NC_OK;
    nc_sb_clear(bytes);
    nc_status st;
    for (int64_t i = b; i < e; i++) {
        const spm_piece *p = &sp->m.pieces[ids[i]];
        int v = piece_to_byte(p->s, p->len);
        if (v < 0) return nc_error(NC_ERR_FORMAT, "sentencepiece: byte piece '%s' is invalid", p->s);
        if ((st = nc_sb_putc(bytes, (char)v)) != NC_OK) return st;
    }
    for (int64_t off = 0; off < (int64_t)bytes->n;) {
        int mb;
        if (nc_utf8_valid_at(bytes->p + off, bytes->p + bytes->n, &mb)) st = nc_sb_append(out, bytes->p + off, mb);
        else st = nc_sb_append(out, "\xef\xbf\xbd", 3);
        if (st) return st;
        off += mb;
    }
    return NC_OK;
}

nc_status spm_decode_ids(const spm *sp, const int32_t *ids, int64_t n, nc_strbuf *out) {
    nc_sb_clear(out);
    nc_strbuf bytes = {0};
    nc_status st = NC_OK;
    const spm_normalizer_spec *ns = &sp->m.normalizer;
    int64_t byte_start = 0;
    bool is_bos_ws = true, bos_ws_seen = false;
    for (int64_t i = 0; i < n && !st; i++) {
        if (ids[i] < 0 || ids[i] >= sp->m.n_pieces) {
            st = nc_error(NC_ERR_INVALID_ARG, "sentencepiece: invalid id %d at position %lld (vocabulary has %lld)",
                          ids[i], (long long)i, (long long)sp->m.n_pieces);
            break;
        }
        const spm_piece *p = &sp->m.pieces[ids[i]];
        if (p->type == SPM_BYTE) continue;
        if ((st = flush_bytes(sp, ids, byte_start, i, &bytes, out)) != NC_OK) break;
        if (bos_ws_seen || out->n > 0) is_bos_ws = false;
        byte_start = i + 1;
        bos_ws_seen = false;
        if (p->type == SPM_CONTROL) continue; /* <s>, </s>: invisible */
        if (p->type == SPM_UNKNOWN) {
            st = nc_sb_append(out, sp->m.trainer.unk_surface, (int64_t)strlen(sp->m.trainer.unk_surface));
            continue;
        }
        const char *s = p->s;
        int64_t len = p->len;
        if (is_bos_ws && (ns->add_dummy_prefix || ns->remove_extra_whitespaces)) {
            /* Consumes the first piece's leading U+2581 (the dummy prefix). */
            if (len >= 3 && memcmp(s, kSpace, 3) == 0) {
                s += 3;
                len -= 3;
                bos_ws_seen = true;
            }
            /* With remove_extra_whitespaces every leading space goes, so keep looking. */
            if (ns->remove_extra_whitespaces) bos_ws_seen = false;
        }
        for (int64_t k = 0; k < len && !st;) {
            if (k + 3 <= len && memcmp(s + k, kSpace, 3) == 0) {
                st = nc_sb_putc(out, ' ');
                k += 3;
            } else {
                st = nc_sb_putc(out, s[k]);
                k++;
            }
        }
    }
    if (!st) st = flush_bytes(sp, ids, byte_start, n, &bytes, out);
    nc_sb_free(&bytes);
    if (!st && sp->has_denorm) {
        nc_strbuf d = {0};
        st = spm_normalize(&sp->denorm, out->p ? out->p : "", out->n, &d);
        if (!st) {
            nc_sb_free(out);
            *out = d;
        } else {
            nc_sb_free(&d);
        }
    }
    return st;
}
