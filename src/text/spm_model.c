/* Parses a serialized sentencepiece ModelProto with the wire reader.
 *
 * Only the fields the encoder and decoder use are kept; all others
 * (self_test_data, training-only TrainerSpec fields) are skipped by wire
 * type. Absent fields take their proto2 defaults from
 * sentencepiece_model.proto; an enum value outside the schema is treated as
 * absent, as proto2 parsers do. */
#include <string.h>

#include "io/protowire.h"
#include "nemoc/alloc.h"
#include "text/spm_model.h"

typedef struct bytes_ref {
    const uint8_t *d;
    int64_t n;
    bool set;
} bytes_ref;

/* Strings found while parsing, copied into one NUL-separated pool at the end. */
typedef struct string_refs {
    bytes_ref *piece; /* per piece */
    bytes_ref unk_piece, bos_piece, eos_piece, pad_piece, unk_surface;
    bytes_ref norm_name, denorm_name;
} string_refs;

static nc_status get_ref(const nc_pb_reader *r, const nc_pb_field *f, bytes_ref *out) {
    nc_status st = nc_pb_get_bytes(r, f, &out->d, &out->n);
    out->set = st == NC_OK;
    return st;
}

static nc_status parse_piece(const nc_pb_field *outer, spm_piece *p, bytes_ref *s) {
    nc_pb_reader r = nc_pb_sub(outer, "ModelProto.SentencePiece");
    nc_status st = NC_OK;
    p->type = SPM_NORMAL;
    p->score = 0.0f;
    while (!st && !nc_pb_done(&r)) {
        nc_pb_field f;
        if ((st = nc_pb_next(&r, &f)) != NC_OK) break;
        if (f.number == 1) st = get_ref(&r, &f, s);
        else if (f.number == 2) st = nc_pb_get_float(&r, &f, &p->score);
        else if (f.number == 3) {
            int32_t t;
            st = nc_pb_get_int32(&r, &f, &t);
            if (!st && t >= SPM_NORMAL && t <= SPM_BYTE) p->type = (uint8_t)t;
        }
    }
    return st;
}

static nc_status parse_trainer(const nc_pb_field *outer, spm_trainer_spec *t, string_refs *refs) {
    nc_pb_reader r = nc_pb_sub(outer, "TrainerSpec");
    nc_status st = NC_OK;
    while (!st && !nc_pb_done(&r)) {
        nc_pb_field f;
        if ((st = nc_pb_next(&r, &f)) != NC_OK) break;
        int32_t v;
        switch (f.number) {
        case 3:
            st = nc_pb_get_int32(&r, &f, &v);
            if (!st && v >= SPM_MODEL_UNIGRAM && v <= SPM_MODEL_CHAR) t->model_type = (spm_model_type)v;
            break;
        case 4: st = nc_pb_get_int32(&r, &f, &t->vocab_size); break;
        case 24: st = nc_pb_get_bool(&r, &f, &t->treat_whitespace_as_suffix); break;
        case 25: st = nc_pb_get_bool(&r, &f, &t->split_digits); break;
        case 26: st = nc_pb_get_bool(&r, &f, &t->allow_whitespace_only_pieces); break;
        case 35: st = nc_pb_get_bool(&r, &f, &t->byte_fallback); break;
        case 40: st = nc_pb_get_int32(&r, &f, &t->unk_id); break;
        case 41: st = nc_pb_get_int32(&r, &f, &t->bos_id); break;
        case 42: st = nc_pb_get_int32(&r, &f, &t->eos_id); break;
        case 43: st = nc_pb_get_int32(&r, &f, &t->pad_id); break;
        case 44: st = get_ref(&r, &f, &refs->unk_surface); break;
        case 45: st = get_ref(&r, &f, &refs->unk_piece); break;
        case 46: st = get_ref(&r, &f, &refs->bos_piece); break;
        case 47: st = get_ref(&r, &f, &refs->eos_piece); break;
        case 48: st = get_ref(&r, &f, &refs->pad_piece); break;
        default: break; /* training-only fields */
        }
    }
    return st;
}

static nc_status parse_normalizer(const nc_pb_field *outer, spm_normalizer_spec *n, bytes_ref *name,
                                  const char *what) {
    nc_pb_reader r = nc_pb_sub(outer, what);
    nc_status st = NC_OK;
    n->present = true;
    while (!st && !nc_pb_done(&r)) {
        nc_pb_field f;
        if ((st = nc_pb_next(&r, &f)) != NC_OK) break;
        switch (f.number) {
        case 1: st = get_ref(&r, &f, name); break;
        case 2: st = nc_pb_get_bytes(&r, &f, &n->charsmap, &n->charsmap_len); break;
        case 3: st = nc_pb_get_bool(&r, &f, &n->add_dummy_prefix); break;
        case 4: st = nc_pb_get_bool(&r, &f, &n->remove_extra_whitespaces); break;
        case 5: st = nc_pb_get_bool(&r, &f, &n->escape_whitespaces); break;
        default: break;
        }
    }
    return st;
}

static void normalizer_defaults(spm_normalizer_spec *n) {
    *n = (spm_normalizer_spec){
        .present = false,
        .name = "",
        .charsmap = NULL,
        .charsmap_len = 0,
        .add_dummy_prefix = true,
        .remove_extra_whitespaces = true,
        .escape_whitespaces = true,
    };
}

/* Copies a string into the pool; an unset (or, with empty_is_default, empty)
 * reference takes `def`. */
static const char *pool_put(char **cur, const bytes_ref *r, const char *def, bool empty_is_default) {
    const char *src = def;
    int64_t n = (int64_t)strlen(def);
    if (r->set && !(empty_is_default && r->n == 0)) {
        src = (const char *)r->d;
        n = r->n;
    }
    char *dst = *cur;
    memcpy(dst, src, (size_t)n);
    dst[n] = 0;
    *cur += n + 1;
    return dst;
}

static nc_status build_pool(spm_model *m, string_refs *refs) {
    /* defaults are at most 8 bytes; count them generously */
    int64_t total = 0;
    for (int64_t i = 0; i < m->n_pieces; i++) total += refs->piece[i].n + 1;
    const bytes_ref *fixed[] = {&refs->unk_piece, &refs->bos_piece, &refs->eos_piece, &refs->pad_piece,
                                &refs->unk_surface, &refs->norm_name, &refs->denorm_name};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) total += fixed[i]->n + 16;
    m->pool = nc_malloc((size_t)total);
    if (!m->pool) return nc_error(NC_ERR_OOM, "sentencepiece: cannot allocate %lld bytes", (long long)total);
    char *cur = m->pool;
    for (int64_t i = 0; i < m->n_pieces; i++) {
        m->pieces[i].s = pool_put(&cur, &refs->piece[i], "", false);
        m->pieces[i].len = (int32_t)refs->piece[i].n;
    }
    /* model_interface.cc RETURN_PIECE: an empty name means the default. */
    m->trainer.unk_piece = pool_put(&cur, &refs->unk_piece, "<unk>", true);
    m->trainer.bos_piece = pool_put(&cur, &refs->bos_piece, "<s>", true);
    m->trainer.eos_piece = pool_put(&cur, &refs->eos_piece, "</s>", true);
    m->trainer.pad_piece = pool_put(&cur, &refs->pad_piece, "<pad>", true);
    /* sentencepiece_processor.cc Decode: has_unk_surface() decides. */
    m->trainer.unk_surface = pool_put(&cur, &refs->unk_surface, " \xE2\x81\x87 ", false);
    m->normalizer.name = pool_put(&cur, &refs->norm_name, "", false);
    m->denormalizer.name = pool_put(&cur, &refs->denorm_name, "", false);
    return NC_OK;
}

nc_status spm_model_parse(uint8_t *blob, int64_t len, spm_model *m) {
    memset(m, 0, sizeof *m);
    m->blob = blob;
    m->blob_len = len;
    m->trainer = (spm_trainer_spec){
        .model_type = SPM_MODEL_UNIGRAM,
        .vocab_size = 8000,
        .unk_id = 0,
        .bos_id = 1,
        .eos_id = 2,
        .pad_id = -1,
    };
    normalizer_defaults(&m->normalizer);
    normalizer_defaults(&m->denormalizer);

    /* Pass 1: count pieces. */
    nc_status st = NC_OK;
    int64_t n_pieces = 0;
    nc_pb_reader r = nc_pb_reader_init(blob, len, "ModelProto");
    while (!nc_pb_done(&r)) {
        nc_pb_field f;
        if ((st = nc_pb_next(&r, &f)) != NC_OK) return st;
        if (f.number == 1) n_pieces++;
    }
    if (n_pieces == 0) return nc_error(NC_ERR_FORMAT, "ModelProto: no pieces (not a sentencepiece model?)");
    if (n_pieces > INT32_MAX) return nc_error(NC_ERR_FORMAT, "ModelProto: too many pieces");

    string_refs refs;
    memset(&refs, 0, sizeof refs);
    m->pieces = nc_calloc((size_t)n_pieces, sizeof *m->pieces);
    refs.piece = nc_calloc((size_t)n_pieces, sizeof *refs.piece);
    if (!m->pieces || !refs.piece) {
        nc_free(refs.piece);
        return nc_error(NC_ERR_OOM, "ModelProto: cannot allocate %lld pieces", (long long)n_pieces);
    }
    m->n_pieces = n_pieces;

    /* Pass 2: fill. */
    int64_t k = 0;
    r = nc_pb_reader_init(blob, len, "ModelProto");
    while (!st && !nc_pb_done(&r)) {
        nc_pb_field f;
        if ((st = nc_pb_next(&r, &f)) != NC_OK) break;
        if (f.wire_type != NC_PB_LEN && f.number <= 5) {
            st = nc_error(NC_ERR_FORMAT, "ModelProto: field %u is not a message", f.number);
            break;
        }
        switch (f.number) {
        case 1:
            st = parse_piece(&f, &m->pieces[k], &refs.piece[k]);
            if (st) nc_error_prefix(st, "piece %lld", (long long)k);
            k++;
            break;
        case 2: st = parse_trainer(&f, &m->trainer, &refs); break;
        case 3: st = parse_normalizer(&f, &m->normalizer, &refs.norm_name, "NormalizerSpec"); break;
        case 5:
            st = parse_normalizer(&f, &m->denormalizer, &refs.denorm_name, "denormalizer NormalizerSpec");
            break;
        default: break; /* self_test_data, extensions */
        }
    }
    if (!st) st = build_pool(m, &refs);
    nc_free(refs.piece);
    return st;
}

void spm_model_free(spm_model *m) {
    nc_free(m->blob);
    nc_free(m->pool);
    nc_free(m->pieces);
    memset(m, 0, sizeof *m);
}
