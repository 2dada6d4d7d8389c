/* SentencePiece BPE encoding, as bpe_model.cc Model::SampleEncode (alpha 0).
 *
 * The normalised text starts as one symbol per character (a user-defined
 * symbol is one frozen symbol). Every adjacent pair whose concatenation is a
 * piece goes on a max-heap keyed by that piece's score (ties: leftmost
 * first). The best pair is merged, stale heap entries are skipped by checking
 * the summed length, and the new neighbours are pushed, until nothing merges.
 * Pieces marked UNUSED are split back into the pair that formed them. */
#include <string.h>

#include "core/vec.h"
#include "nemoc/alloc.h"
#include "text/spm_model.h"

typedef struct sym {
    int64_t begin;
    int32_t len; /* 0: merged into its left neighbour */
    int32_t prev, next;
    bool freeze;
} sym;

typedef struct pair {
    int32_t left, right;
    float score;
    int64_t size;
} pair;

typedef struct heap {
    pair *v;
    int64_t n, cap;
} heap;

/* bpe_model.cc SymbolPairComparator, inverted: a ranks above b. */
static bool above(const pair *a, const pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static nc_status heap_push(heap *h, pair p) {
    if (nc_vec_reserve(&h->v, &h->cap, h->n + 1, sizeof *h->v))
        return nc_error(NC_ERR_OOM, "bpe: cannot allocate agenda of %lld", (long long)(h->n + 1));
    int64_t i = h->n++;
    while (i > 0) {
        int64_t up = (i - 1) / 2;
        if (!above(&p, &h->v[up])) break;
        h->v[i] = h->v[up];
        i = up;
    }
    h->v[i] = p;
    return NC_OK;
}

static pair heap_pop(heap *h) {
    pair top = h->v[0];
    pair last = h->v[--h->n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && above(&h->v[c + 1], &h->v[c])) c++;
        if (!above(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0) h->v[i] = last;
    return top;
}

/* rev_merge of bpe_model.cc: merged UNUSED piece -> the two halves. Rare
 * (only models with UNUSED pieces), so a list searched from the back gives
 * flat_hash_map's last-write-wins behaviour simply. */
typedef struct rev_entry {
    int64_t begin, len, left_len;
} rev_entry;

typedef struct rev_list {
    rev_entry *v;
    int64_t n, cap;
} rev_list;

typedef struct bpe_ctx {
    const spm *sp;
    const char *s;
    sym *syms;
    heap agenda;
    rev_list rev;
} bpe_ctx;

static nc_status rev_put(rev_list *r, int64_t begin, int64_t len, int64_t left_len) {
    if (nc_vec_reserve(&r->v, &r->cap, r->n + 1, sizeof *r->v))
        return nc_error(NC_ERR_OOM, "bpe: cannot allocate resegmentation table");
    r->v[r->n++] = (rev_entry){.begin = begin, .len = len, .left_len = left_len};
    return NC_OK;
}

static nc_status maybe_add_pair(bpe_ctx *c, int32_t left, int32_t right) {
    if (left == -1 || right == -1 || c->syms[left].freeze || c->syms[right].freeze) return NC_OK;
    int64_t begin = c->syms[left].begin;
    int64_t size = (int64_t)c->syms[left].len + c->syms[right].len;
    int32_t id = nc_trie_get(&c->sp->normal, c->s + begin, size);
    if (id < 0) return NC_OK;
    nc_status st = heap_push(&c->agenda, (pair){.left = left, .right = right,
                                                 .score = c->sp->m.pieces[id].score, .size = size});
    if (!st && c->sp->m.pieces[id].type == SPM_UNUSED) st = rev_put(&c->rev, begin, size, c->syms[left].len);
    return st;
}

static nc_status resegment(const bpe_ctx *c, int64_t begin, int64_t len, spm_segs *out, int depth) {
    int32_t id = spm_piece_to_id(c->sp, c->s + begin, len);
    if (id < 0 || c->sp->m.pieces[id].type != SPM_UNUSED || depth > 4096)
        return spm_segs_push(out, begin, len, id);
    for (int64_t i = c->rev.n - 1; i >= 0; i--) {
        const rev_entry *e = &c->rev.v[i];
        if (e->len == len && memcmp(c->s + e->begin, c->s + begin, (size_t)len) == 0) {
            nc_status st = resegment(c, begin, e->left_len, out, depth + 1);
            if (st) return st;
            return resegment(c, begin + e->left_len, len - e->left_len, out, depth + 1);
        }
    }
    return spm_segs_push(out, begin, len, id); /* never reached for a merged piece */
}

nc_status spm_encode_bpe(const spm *sp, const char *s, int64_t len, spm_segs *out) {
    out->n = 0;
    if (len == 0) return NC_OK;
    if (len > INT32_MAX) return nc_error(NC_ERR_INVALID_ARG, "bpe: text of %lld bytes is too long", (long long)len);
    bpe_ctx c = {.sp = sp, .s = s};
    c.syms = nc_malloc((size_t)len * sizeof *c.syms);
    if (!c.syms) return nc_error(NC_ERR_OOM, "bpe: cannot allocate %lld symbols", (long long)len);

    /* Splits the input into characters (or whole user-defined symbols). */
    int32_t n = 0;
    for (int64_t pos = 0; pos < len;) {
        bool found;
        int64_t mb = spm_prefix_match(&sp->user_defined, s + pos, len - pos, &found);
        c.syms[n] = (sym){.begin = pos, .len = (int32_t)mb, .prev = n - 1, .freeze = found};
        pos += mb;
        c.syms[n].next = pos < len ? n + 1 : -1;
        n++;
    }

    nc_status st = NC_OK;
    for (int32_t i = 1; i < n && !st; i++) st = maybe_add_pair(&c, i - 1, i);

    while (!st && c.agenda.n > 0) {
        pair top = heap_pop(&c.agenda);
        sym *l = &c.syms[top.left], *r = &c.syms[top.right];
        /* `top` is stale when either side has changed since it was pushed. */
        if (l->len == 0 || r->len == 0 || (int64_t)l->len + r->len != top.size) continue;
        l->len += r->len;
        l->next = r->next;
        if (r->next >= 0) c.syms[r->next].prev = top.left;
        r->len = 0;
        st = maybe_add_pair(&c, l->prev, top.left);
        if (!st) st = maybe_add_pair(&c, top.left, c.syms[top.left].next);
    }

    for (int32_t i = 0; !st && i != -1; i = c.syms[i].next) st = resegment(&c, c.syms[i].begin, c.syms[i].len, out, 0);

    nc_free(c.syms);
    nc_free(c.agenda.v);
    nc_free(c.rev.v);
    return st;
}
