/* SentencePiece behind the tokenizer interface (NeMo's `bpe` tokenizers,
 * nemo/collections/common/tokenizers/sentencepiece_tokenizer.py: text_to_ids
 * = encode_as_ids, ids_to_text = decode_ids). */
#include <string.h>

#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "text/spm_model.h"
#include "text/tokenizer_impl.h"

static nc_status spm_tok_encode(const void *impl, const char *text, int64_t len, nc_token_ids *out) {
    nc_strbuf norm = {0};
    spm_segs segs = {0};
    nc_status st = spm_encode_ids(impl, text, len, &norm, &segs, out);
    nc_sb_free(&norm);
    spm_segs_free(&segs);
    return st;
}

static nc_status spm_tok_decode(const void *impl, const int32_t *ids, int64_t n, nc_strbuf *out) {
    return spm_decode_ids(impl, ids, n, out);
}

static const char *spm_tok_id_to_piece(const void *impl, int32_t id) {
    const spm *sp = impl;
    return sp->m.pieces[id].s;
}

static int32_t spm_tok_piece_to_id(const void *impl, const char *piece) {
    return spm_piece_to_id(impl, piece, (int64_t)strlen(piece));
}

static void spm_tok_destroy(void *impl) {
    if (!impl) return;
    spm_free(impl);
    nc_free(impl);
}

static const nc_tokenizer_vtbl spm_vtbl = {
    .encode = spm_tok_encode,
    .decode = spm_tok_decode,
    .id_to_piece = spm_tok_id_to_piece,
    .piece_to_id = spm_tok_piece_to_id,
    .destroy = spm_tok_destroy,
};

/* SentencePieceProcessor::unk_id()/bos_id()/...: the id of the named piece
 * when it has the expected type. */
static int32_t special(const spm *sp, const char *piece, spm_piece_type type) {
    int32_t id = spm_piece_to_id(sp, piece, (int64_t)strlen(piece));
    return id >= 0 && sp->m.pieces[id].type == type ? id : -1;
}

static nc_status wrap(uint8_t *blob, int64_t len, nc_tokenizer **out) {
    spm *sp = nc_calloc(1, sizeof *sp);
    if (!sp) {
        nc_free(blob);
        return nc_error(NC_ERR_OOM, "sentencepiece: cannot allocate model");
    }
    nc_status st = spm_init(sp, blob, len); /* owns blob from here */
    if (st) {
        nc_free(sp);
        return st;
    }
    const spm_trainer_spec *ts = &sp->m.trainer;
    nc_tokenizer_special sx = {
        .unk_id = special(sp, ts->unk_piece, SPM_UNKNOWN),
        .bos_id = special(sp, ts->bos_piece, SPM_CONTROL),
        .eos_id = special(sp, ts->eos_piece, SPM_CONTROL),
        .pad_id = special(sp, ts->pad_piece, SPM_CONTROL),
        .cls_id = -1,
        .sep_id = -1,
        .mask_id = -1,
    };
    return nc_tokenizer_wrap(NC_TOKENIZER_SENTENCEPIECE, &spm_vtbl, sp, sp->m.n_pieces, sx, out);
}

nc_status nc_tokenizer_spm_from_memory(const void *data, int64_t len, nc_tokenizer **out) {
    *out = NULL;
    if (!data || len <= 0) return nc_error(NC_ERR_INVALID_ARG, "sentencepiece: empty model");
    uint8_t *blob = nc_malloc((size_t)len);
    if (!blob) return nc_error(NC_ERR_OOM, "sentencepiece: cannot allocate %lld bytes", (long long)len);
    memcpy(blob, data, (size_t)len);
    return wrap(blob, len, out);
}

nc_status nc_tokenizer_spm_load(const char *model_path, nc_tokenizer **out) {
    *out = NULL;
    void *buf;
    size_t len;
    nc_status st = nc_read_file(model_path, &buf, &len);
    if (st) return st;
    if (len == 0) {
        nc_free(buf);
        return nc_error(NC_ERR_FORMAT, "sentencepiece model '%s' is empty", model_path);
    }
    st = wrap(buf, (int64_t)len, out);
    if (st) nc_error_prefix(st, "loading sentencepiece model '%s'", model_path);
    return st;
}
