/* The byte-level BPE model: building it and encoding with it (see
 * bpe_model.h; openai/gpt-2 src/encoder.py Encoder.bpe/encode/decode). */
#include "text/bpe_model.h"

#include <string.h>

#include "core/utf8.h"
#include "core/vec.h"
#include "nemoc/alloc.h"
#include "text/bytelevel.h"
#include "text/unicode.h"
#include "text/tokenizer_impl.h"

void nc_bpe_init(nc_bpe *m) {
    memset(m, 0, sizeof *m);
    for (int b = 0; b < 256; b++) m->byte_id[b] = -1;
    m->use_regex = true;
    m->eos_id = -1;
}

void nc_bpe_free(nc_bpe *m) {
    if (!m) return;
    for (int64_t i = 0; i < m->n_ids; i++) nc_free(m->piece[i]);
    nc_free(m->piece);
    nc_trie_free(&m->vocab);
    nc_trie_free(&m->added[0]);
    nc_trie_free(&m->added[1]);
    nc_free(m->dec);
    nc_free(m->dec_off);
    nc_free(m->merges);
    memset(m, 0, sizeof *m);
}

static nc_status grow_ids(nc_bpe *m, int64_t n) {
    if (n <= m->n_ids) return NC_OK;
    if (nc_vec_reserve(&m->piece, &m->cap_ids, n, sizeof *m->piece))
        return nc_error(NC_ERR_OOM, "tokenizer: cannot allocate %lld vocabulary entries", (long long)n);
    for (int64_t i = m->n_ids; i < n; i++) m->piece[i] = NULL;
    m->n_ids = n;
    return NC_OK;
}

nc_status nc_bpe_set_piece(nc_bpe *m, int64_t id, const char *piece, int64_t len, const char *where) {
    if (id < 0 || id >= INT32_MAX) return nc_error(NC_ERR_FORMAT, "%s: id %lld is out of range", where, (long long)id);
    nc_status st = grow_ids(m, id + 1);
    if (st) return st;
    if (m->piece[id]) return nc_error(NC_ERR_FORMAT, "%s: id %lld is given twice", where, (long long)id);
    bool existed = false;
    if ((st = nc_trie_insert(&m->vocab, piece, len, (int32_t)id, &existed))) return st;
    if (existed)
        return nc_error(NC_ERR_FORMAT, "%s: the entry '%.*s' is listed twice", where, (int)(len > 60 ? 60 : len), piece);
    char *p = nc_malloc((size_t)len + 1);
    if (!p) return nc_error(NC_ERR_OOM, "tokenizer: out of memory");
    memcpy(p, piece, (size_t)len);
    p[len] = 0;
    m->piece[id] = p;
    return NC_OK;
}

static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

static uint64_t pair_hash(uint64_t k) {
    k *= 0x9E3779B97F4A7C15ull;
    return k ^ (k >> 31);
}

static nc_bpe_merge *find_slot(nc_bpe_merge *tab, int64_t cap, uint64_t key) {
    uint64_t mask = (uint64_t)cap - 1;
    for (uint64_t i = pair_hash(key) & mask;; i = (i + 1) & mask)
        if (tab[i].rank < 0 || tab[i].key == key) return &tab[i];
}

static const nc_bpe_merge *lookup(const nc_bpe *m, int32_t a, int32_t b) {
    if (!m->cap_merges) return NULL;
    uint64_t key = pair_key(a, b), mask = (uint64_t)m->cap_merges - 1;
    for (uint64_t i = pair_hash(key) & mask;; i = (i + 1) & mask) {
        const nc_bpe_merge *e = &m->merges[i];
        if (e->rank < 0) return NULL;
        if (e->key == key) return e;
    }
}

static nc_status grow_merges(nc_bpe *m) {
    int64_t cap = m->cap_merges ? m->cap_merges * 2 : 1024;
    nc_bpe_merge *t = nc_malloc((size_t)cap * sizeof *t);
    if (!t) return nc_error(NC_ERR_OOM, "tokenizer: cannot allocate %lld merges", (long long)cap);
    for (int64_t i = 0; i < cap; i++) t[i].rank = -1;
    for (int64_t j = 0; j < m->cap_merges; j++)
        if (m->merges[j].rank >= 0) *find_slot(t, cap, m->merges[j].key) = m->merges[j];
    nc_free(m->merges);
    m->merges = t;
    m->cap_merges = cap;
    return NC_OK;
}

nc_status nc_bpe_add_merge(nc_bpe *m, const char *a, int64_t al, const char *b, int64_t bl, int32_t rank,
                           const char *where) {
    int32_t ia = nc_trie_get(&m->vocab, a, al), ib = nc_trie_get(&m->vocab, b, bl);
    if (ia < 0 || ib < 0) {
        const char *s = ia < 0 ? a : b;
        int64_t l = ia < 0 ? al : bl;
        return nc_error(NC_ERR_FORMAT, "%s: merge part '%.*s' is not in the vocabulary (vocab/merges mismatch)", where,
                        (int)(l > 60 ? 60 : l), s);
    }
    char buf[256], *ab = al + bl <= (int64_t)sizeof buf ? buf : nc_malloc((size_t)(al + bl));
    if (!ab) return nc_error(NC_ERR_OOM, "tokenizer: out of memory");
    memcpy(ab, a, (size_t)al);
    memcpy(ab + al, b, (size_t)bl);
    int32_t im = nc_trie_get(&m->vocab, ab, al + bl);
    if (ab != buf) nc_free(ab);
    if (im < 0)
        return nc_error(NC_ERR_FORMAT, "%s: the merge of '%.*s' and '%.*s' is not in the vocabulary (vocab/merges mismatch)",
                        where, (int)(al > 60 ? 60 : al), a, (int)(bl > 60 ? 60 : bl), b);
    if ((m->n_merges + 1) * 2 > m->cap_merges) {
        nc_status st = grow_merges(m);
        if (st) return st;
    }
    nc_bpe_merge *e = find_slot(m->merges, m->cap_merges, pair_key(ia, ib));
    if (e->rank < 0) m->n_merges++;
    *e = (nc_bpe_merge){.key = pair_key(ia, ib), .rank = rank, .merged = im};
    return NC_OK;
}

nc_status nc_bpe_add_token(nc_bpe *m, const char *content, int32_t id, bool normalized, const char *where) {
    int64_t len = (int64_t)strlen(content);
    if (!len) return nc_error(NC_ERR_FORMAT, "%s: empty content", where);
    if (id < 0) return nc_error(NC_ERR_FORMAT, "%s: id %d is negative", where, id);
    nc_status st = grow_ids(m, (int64_t)id + 1);
    if (st) return st;
    if (m->piece[id]) {
        if (strcmp(m->piece[id], content) != 0)
            return nc_error(NC_ERR_FORMAT, "%s: id %d is '%s' in the model vocabulary, not '%s'", where, id, m->piece[id],
                            content);
    } else if ((st = nc_bpe_set_piece(m, id, content, len, where))) {
        return st;
    }
    if ((st = nc_trie_put(&m->added[normalized], content, len, id))) return st;
    m->n_added[normalized]++;
    return NC_OK;
}

nc_status nc_bpe_finish(nc_bpe *m, const char *what) {
    for (int64_t i = 0; i < m->n_ids; i++)
        if (!m->piece[i]) return nc_error(NC_ERR_FORMAT, "%s: no vocabulary entry has id %lld (ids must be 0..%lld)", what,
                                          (long long)i, (long long)m->n_ids - 1);
    for (int b = 0; b < 256; b++) {
        char c[4];
        int n = nc_utf8_encode(nc_bytelevel_char((uint8_t)b), c);
        m->byte_id[b] = nc_trie_get(&m->vocab, c, n);
        if (m->byte_id[b] < 0)
            return nc_error(NC_ERR_FORMAT, "%s: byte 0x%02X has no vocabulary entry '%.*s' (not a byte-level BPE vocabulary)",
                            what, b, n, c);
    }
    /* ordered: each merge's parts are bytes or made by an earlier merge.
     * Then a merge never creates a pair that outranks the one just merged,
     * so merging by (rank, position) from a heap (HF's Word::merge_all)
     * equals GPT-2's "lowest-ranked pair, every occurrence, left to right". */
    int32_t *made = nc_malloc((size_t)m->n_ids * sizeof *made);
    if (!made) return nc_error(NC_ERR_OOM, "%s: out of memory", what);
    for (int64_t i = 0; i < m->n_ids; i++) made[i] = INT32_MAX;
    for (int64_t i = 0; i < m->cap_merges; i++)
        if (m->merges[i].rank >= 0 && m->merges[i].rank < made[m->merges[i].merged])
            made[m->merges[i].merged] = m->merges[i].rank;
    m->ordered = true;
    for (int64_t i = 0; i < m->cap_merges && m->ordered; i++) {
        const nc_bpe_merge *e = &m->merges[i];
        if (e->rank < 0) continue;
        int32_t l = (int32_t)(e->key >> 32), r = (int32_t)(uint32_t)e->key;
        if ((made[l] != INT32_MAX && made[l] >= e->rank) || (made[r] != INT32_MAX && made[r] >= e->rank)) m->ordered = false;
    }
    nc_free(made);
    /* Decoded bytes per id, as HF's ByteLevel decoder: a piece made only of
     * byte characters becomes those bytes; any other piece (an added token
     * such as "<|endoftext|>") stays as it is written. */
    int64_t total = 0;
    for (int64_t i = 0; i < m->n_ids; i++) total += (int64_t)strlen(m->piece[i]);
    m->dec = nc_malloc((size_t)total + 1);
    m->dec_off = nc_malloc((size_t)(m->n_ids + 1) * sizeof *m->dec_off);
    if (!m->dec || !m->dec_off) return nc_error(NC_ERR_OOM, "%s: out of memory", what);
    int64_t o = 0;
    for (int64_t i = 0; i < m->n_ids; i++) {
        const char *p = m->piece[i], *end = p + strlen(p);
        m->dec_off[i] = o;
        int64_t start = o;
        bool all = true;
        for (const char *q = p; q < end && all;) {
            int k;
            int byte = nc_bytelevel_byte(nc_utf8_decode(q, end, &k));
            if (byte < 0) all = false;
            else m->dec[o++] = (char)byte;
            q += k;
        }
        if (!all) {
            o = start;
            memcpy(m->dec + o, p, (size_t)(end - p));
            o += end - p;
        }
    }
    m->dec_off[m->n_ids] = o;
    return NC_OK;
}

/* A pending merge of the symbols at pos and its successor. */
typedef struct hentry {
    int32_t rank;
    int32_t pos;
    int32_t left, right; /* the ids it was made for: stale when they changed */
} hentry;

static bool hless(const hentry *a, const hentry *b) { return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos); }

static void hpush(hentry *h, int64_t *n, hentry e) {
    int64_t i = (*n)++;
    while (i > 0 && hless(&e, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = e;
}

static hentry hpop(hentry *h, int64_t *n) {
    hentry top = h[0], last = h[--*n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && hless(&h[c + 1], &h[c])) c++;
        if (!hless(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

/* The long-chunk merge: symbols in a linked list over their byte positions,
 * candidate merges in a heap ordered by (rank, position). */
static nc_status merge_heap(const nc_bpe *m, int32_t *sym, int64_t n, nc_token_ids *out) {
    int32_t *next = nc_malloc((size_t)n * sizeof *next), *prev = nc_malloc((size_t)n * sizeof *prev);
    hentry *h = nc_malloc((size_t)(3 * n) * sizeof *h); /* n - 1 initial pairs, at most 2 per merge */
    nc_status st = NC_OK;
    if (!next || !prev || !h) {
        st = nc_error(NC_ERR_OOM, "tokenizer: cannot allocate a %lld-byte chunk", (long long)n);
        goto done;
    }
    int64_t nh = 0;
    for (int64_t i = 0; i < n; i++) {
        next[i] = i + 1 < n ? (int32_t)(i + 1) : -1;
        prev[i] = (int32_t)i - 1;
        const nc_bpe_merge *e = i + 1 < n ? lookup(m, sym[i], sym[i + 1]) : NULL;
        if (e) hpush(h, &nh, (hentry){.rank = e->rank, .pos = (int32_t)i, .left = sym[i], .right = sym[i + 1]});
    }
    while (nh > 0) {
        hentry t = hpop(h, &nh);
        int32_t p = t.pos, q = next[p];
        if (sym[p] != t.left || q < 0 || sym[q] != t.right) continue; /* stale */
        sym[p] = lookup(m, t.left, t.right)->merged;
        sym[q] = -1; /* gone */
        next[p] = next[q];
        if (next[q] >= 0) prev[next[q]] = p;
        const nc_bpe_merge *e;
        if (prev[p] >= 0 && (e = lookup(m, sym[prev[p]], sym[p])))
            hpush(h, &nh, (hentry){.rank = e->rank, .pos = prev[p], .left = sym[prev[p]], .right = sym[p]});
        if (next[p] >= 0 && (e = lookup(m, sym[p], sym[next[p]])))
            hpush(h, &nh, (hentry){.rank = e->rank, .pos = p, .left = sym[p], .right = sym[next[p]]});
    }
    for (int32_t i = 0; i >= 0 && !st; i = next[i]) st = nc_token_ids_push(out, sym[i]);
done:
    nc_free(next);
    nc_free(prev);
    nc_free(h);
    return st;
}

/* Encoder.bpe of one chunk: sym[0..n) holds its byte ids on entry. */
static nc_status bpe_chunk(const nc_bpe *m, const char *chunk, int64_t len, int32_t *sym, nc_token_ids *out) {
    int64_t n = len;
    for (int64_t i = 0; i < len; i++) sym[i] = m->byte_id[(uint8_t)chunk[i]];
    if (m->ignore_merges && n > 1) {
        /* HF ignore_merges: the byte-level form of a whole chunk that is
         * itself a vocabulary entry is that entry */
        int32_t node = 0;
        for (int64_t i = 0; i < n && node >= 0; i++) {
            const char *p = m->piece[sym[i]];
            for (; *p && node >= 0; p++) node = nc_trie_step(&m->vocab, node, (uint8_t)*p);
        }
        if (node >= 0 && nc_trie_value(&m->vocab, node) >= 0) return nc_token_ids_push(out, nc_trie_value(&m->vocab, node));
    }
    if (n > NC_BPE_LONG_CHUNK && m->ordered && n < INT32_MAX / 3) return merge_heap(m, sym, n, out);
    while (n > 1) {
        int32_t best = INT32_MAX, merged = -1;
        int64_t at = -1;
        for (int64_t i = 0; i + 1 < n; i++) {
            const nc_bpe_merge *e = lookup(m, sym[i], sym[i + 1]);
            if (e && e->rank < best) {
                best = e->rank;
                merged = e->merged;
                at = i;
            }
        }
        if (at < 0) break;
        int32_t a = sym[at], b = sym[at + 1];
        int64_t w = at;
        for (int64_t i = at; i < n;) {
            if (i + 1 < n && sym[i] == a && sym[i + 1] == b) {
                sym[w++] = merged;
                i += 2;
            } else {
                sym[w++] = sym[i++];
            }
        }
        n = w;
    }
    for (int64_t i = 0; i < n; i++) {
        nc_status st = nc_token_ids_push(out, sym[i]);
        if (st) return st;
    }
    return NC_OK;
}

/* Pre-tokenised chunks of s (GPT-2's regex, or the whole segment without
 * use_regex), each through BPE. */
static nc_status chunks(const nc_bpe *m, const char *s, int64_t len, int32_t *sym, nc_token_ids *out) {
    if (!m->use_regex) return len ? bpe_chunk(m, s, len, sym, out) : NC_OK;
    nc_status st = NC_OK;
    for (int64_t pos = 0; pos < len && !st;) {
        int64_t end = nc_gpt2_pretok_next(s, len, pos);
        st = bpe_chunk(m, s + pos, end - pos, sym, out);
        pos = end;
    }
    return st;
}

/* A segment outside the added tokens. HF ByteLevel add_prefix_space
 * prepends ' ' to every segment that does not start with one. */
static nc_status encode_segment(const nc_bpe *m, const char *s, int64_t len, int32_t *sym, nc_token_ids *out) {
    if (!m->add_prefix_space || len == 0 || s[0] == ' ') return chunks(m, s, len, sym, out);
    char *tmp = nc_malloc((size_t)len + 1);
    if (!tmp) return nc_error(NC_ERR_OOM, "tokenizer: out of memory");
    tmp[0] = ' ';
    memcpy(tmp + 1, s, (size_t)len);
    nc_status st = chunks(m, tmp, len + 1, sym, out);
    nc_free(tmp);
    return st;
}

static nc_status encode_added(const nc_bpe *m, int pass, const char *s, int64_t len, int32_t *sym, nc_token_ids *out);

/* HF normalizer NFC on a segment outside the normalized=false added tokens,
 * then the normalized added tokens. Malformed UTF-8 bytes (which a Rust
 * String cannot hold) pass through as they are, splitting the NFC runs. */
static nc_status normalize_then(const nc_bpe *m, const char *s, int64_t len, nc_token_ids *out) {
    uint32_t *cp = nc_malloc((size_t)(len + 1) * sizeof *cp), *nf = nc_malloc((size_t)(4 * len + 4) * sizeof *nf);
    nc_strbuf b = {0};
    int32_t *sym = NULL;
    nc_status st = cp && nf ? NC_OK : nc_error(NC_ERR_OOM, "tokenizer: out of memory");
    for (int64_t i = 0, n = 0; i <= len && !st;) {
        int k = 1;
        uint32_t c = i < len ? nc_utf8_decode(s + i, s + len, &k) : 0;
        bool bad = i < len && c == NC_UNI_REPLACEMENT && k == 1 && (unsigned char)s[i] >= 0x80;
        if (i < len && !bad) {
            cp[n++] = c;
        } else { /* flush the run */
            int64_t nn = nc_uni_nfc(cp, n, nf);
            for (int64_t j = 0; j < nn && !st; j++) st = nc_sb_put_cp(&b, nf[j]);
            if (bad && !st) st = nc_sb_putc(&b, s[i]);
            n = 0;
        }
        i += k;
    }
    if (!st && !(sym = nc_malloc((b.n + 1) * sizeof *sym))) st = nc_error(NC_ERR_OOM, "tokenizer: out of memory");
    if (!st) st = encode_added(m, 1, nc_sb_str(&b), (int64_t)b.n, sym, out);
    nc_free(cp);
    nc_free(nf);
    nc_free(sym);
    nc_sb_free(&b);
    return st;
}

/* What follows pass `pass` of added-token matching on a segment. */
static nc_status next_pass(const nc_bpe *m, int pass, const char *s, int64_t len, int32_t *sym, nc_token_ids *out) {
    if (pass == 1) return encode_segment(m, s, len, sym, out);
    if (m->nfc && len > 0) return normalize_then(m, s, len, out);
    return encode_added(m, 1, s, len, sym, out);
}

/* HF AddedVocabulary: split at the leftmost-longest occurrences of the
 * added tokens of pass `pass` (0: normalized=false, on the raw text; 1:
 * normalized=true, on the normalized text); the rest goes on to the next
 * pass, then to the model. */
static nc_status encode_added(const nc_bpe *m, int pass, const char *s, int64_t len, int32_t *sym, nc_token_ids *out) {
    if (!m->n_added[pass]) return next_pass(m, pass, s, len, sym, out);
    nc_status st = NC_OK;
    int64_t seg = 0;
    for (int64_t pos = 0; pos < len && !st;) {
        int32_t id = -1;
        int64_t k = nc_trie_longest_prefix(&m->added[pass], s + pos, len - pos, &id);
        if (k > 0) {
            st = next_pass(m, pass, s + seg, pos - seg, sym, out);
            if (!st) st = nc_token_ids_push(out, id);
            pos += k;
            seg = pos;
        } else {
            pos++;
        }
    }
    if (!st) st = next_pass(m, pass, s + seg, len - seg, sym, out);
    return st;
}

nc_status nc_bpe_encode(const nc_bpe *m, const char *text, int64_t len, nc_token_ids *out) {
    /* one scratch array for every chunk of this text (+1: a prefix space) */
    int32_t *sym = nc_malloc((size_t)(len + 1) * sizeof *sym);
    if (!sym) return nc_error(NC_ERR_OOM, "tokenizer: cannot allocate %lld symbols", (long long)len + 1);
    nc_status st = encode_added(m, 0, text, len, sym, out);
    nc_free(sym);
    return st;
}

nc_status nc_bpe_decode(const nc_bpe *m, const int32_t *ids, int64_t n, nc_strbuf *out) {
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= m->n_ids)
            return nc_error(NC_ERR_INVALID_ARG, "tokenizer decode: id %d is outside the vocabulary (0..%lld)", ids[i],
                            (long long)m->n_ids - 1);
        nc_status st = nc_sb_append(out, m->dec + m->dec_off[ids[i]], (size_t)(m->dec_off[ids[i] + 1] - m->dec_off[ids[i]]));
        if (st) return st;
    }
    return NC_OK;
}
