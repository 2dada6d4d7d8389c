/* LLaMA's tokenizer as the npm package llama-tokenizer-js (1.2.x,
 * llama-tokenizer.js) implements it over the vocabulary and merges of
 * LLaMA's HF tokenizer.json, which it embeds as two base64 strings:
 *   llama_vocab_base64   the 32000 pieces, '\n'-separated, id = line;
 *   llama_merges_binary  merge k as two little-endian uint16 piece ids.
 *
 * Encoding (LlamaTokenizer.encode with its defaults): "" gives no ids;
 * otherwise <s> (1), then every character of " " + text with ' ' replaced
 * by "▁" (piece 29871) becomes its piece, or its UTF-8 bytes as <0xNN>
 * pieces when it has none; then merges are applied in priority order
 *   prio = (2k + 1) + origPos / text.length
 * (k = merge index, origPos = position of the left token before any merge,
 * text.length in UTF-16 code units, all in doubles), popped from the
 * package's binary heap. The heap below replays that heap operation for
 * operation, so even equal or out-of-order priorities (origPos can exceed
 * text.length when characters fall back to bytes) give the package's ids.
 * Decoding: skip a leading <s>, <0xNN> pieces are bytes, other pieces their
 * UTF-8, "▁" -> ' ', then one leading ' ' removed. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/utf8.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "text/piece_trie.h"
#include "text/tokenizer_impl.h"

#define LLAMA_SPACE_ID 29871 /* "▁" in LLaMA's vocabulary; the package reads the space piece from this id */

typedef struct llama_merge {
    uint64_t key;   /* left id << 32 | right id */
    int32_t prio;   /* 2k + 1; 0: empty slot */
    int32_t merged; /* id of left + right */
} llama_merge;

typedef struct llama {
    char *pool;    /* the decoded vocabulary, pieces NUL-terminated in place */
    char **piece;  /* per id */
    int64_t n;
    nc_trie vocab; /* piece -> id (a repeated piece keeps its last id, as the package's Map) */
    llama_merge *merges;
    int64_t cap_merges;
    int32_t byte_id[256]; /* <0xNN>, or 0 (<unk>) when absent */
    uint8_t *is_byte;     /* per id: 1 + byte value for <0xNN> pieces, else 0 */
    nc_llama_params p;
} llama;

nc_llama_params nc_llama_default_params(void) {
    return (nc_llama_params){.add_bos = true, .add_preceding_space = true};
}

static uint64_t mkey(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }
static uint64_t mhash(uint64_t k) {
    k *= 0x9E3779B97F4A7C15ull;
    return k ^ (k >> 31);
}

static llama_merge *mslot(const llama *t, uint64_t key) {
    uint64_t mask = (uint64_t)t->cap_merges - 1;
    for (uint64_t i = mhash(key) & mask;; i = (i + 1) & mask)
        if (!t->merges[i].prio || t->merges[i].key == key) return &t->merges[i];
}

static int b64val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* The base64 string literal that follows `name = "` in the JS source,
 * decoded into a new NUL-terminated buffer. */
static nc_status js_base64(const char *src, size_t len, const char *name, const char *path, char **out, size_t *out_len) {
    *out = NULL;
    char marker[96];
    snprintf(marker, sizeof marker, "%s = \"", name);
    const char *s = NULL;
    size_t ml = strlen(marker);
    for (const char *p = src; p + ml <= src + len; p++) {
        p = memchr(p, marker[0], (size_t)(src + len - p));
        if (!p || p + ml > src + len) break;
        if (!memcmp(p, marker, ml)) {
            s = p + ml;
            break;
        }
    }
    if (!s) return nc_error(NC_ERR_FORMAT, "llama tokenizer '%s': no '%s = \"...\"' string (not llama-tokenizer.js)", path, name);
    const char *e = memchr(s, '"', (size_t)(src + len - s));
    if (!e) return nc_error(NC_ERR_FORMAT, "llama tokenizer '%s': the %s string is not terminated", path, name);
    size_t n = (size_t)(e - s);
    char *o = nc_malloc(n / 4 * 3 + 4);
    if (!o) return nc_error(NC_ERR_OOM, "llama tokenizer: out of memory");
    size_t w = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' && (i + 1 == n || (i + 2 == n && s[i + 1] == '='))) break; /* padding */
        int v = b64val((unsigned char)s[i]);
        if (v < 0) {
            nc_free(o);
            return nc_error(NC_ERR_FORMAT, "llama tokenizer '%s': %s: character %zu is not base64", path, name, i);
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[w++] = (char)(acc >> bits & 0xFF);
        }
    }
    o[w] = 0;
    *out = o;
    *out_len = w;
    return NC_OK;
}

static void llama_destroy(void *impl) {
    llama *t = impl;
    if (!t) return;
    nc_free(t->pool);
    nc_free(t->piece);
    nc_trie_free(&t->vocab);
    nc_free(t->merges);
    nc_free(t->is_byte);
    nc_free(t);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static nc_status build(llama *t, const char *path, const unsigned char *mb, size_t mlen) {
    nc_status st;
    /* vocabulary: split at '\n' (decodeVocabulary) */
    int64_t n = 1;
    for (const char *p = t->pool; *p; p++) n += *p == '\n';
    t->piece = nc_malloc((size_t)n * sizeof *t->piece);
    t->is_byte = nc_calloc((size_t)n, 1);
    if (!t->piece || !t->is_byte) return nc_error(NC_ERR_OOM, "llama tokenizer: out of memory");
    t->n = n;
    char *p = t->pool;
    for (int64_t i = 0; i < n; i++) {
        t->piece[i] = p;
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        if ((st = nc_trie_put(&t->vocab, p, (int64_t)strlen(p), (int32_t)i))) return st;
        size_t l = strlen(p);
        if (l == 6 && !memcmp(p, "<0x", 3) && p[5] == '>' && hexval(p[3]) >= 0 && hexval(p[4]) >= 0)
            t->is_byte[i] = (uint8_t)(1 + (hexval(p[3]) * 16 + hexval(p[4])));
        p = nl ? nl + 1 : p + l;
    }
    if (n <= LLAMA_SPACE_ID || strcmp(t->piece[LLAMA_SPACE_ID], "\xe2\x96\x81") != 0)
        return nc_error(NC_ERR_FORMAT, "llama tokenizer '%s': piece %d is not \"\xe2\x96\x81\" (not LLaMA's vocabulary)", path,
                        LLAMA_SPACE_ID);
    for (int b = 0; b < 256; b++) {
        char hx[8];
        snprintf(hx, sizeof hx, "<0x%02X>", b);
        int32_t id = nc_trie_get(&t->vocab, hx, 6);
        t->byte_id[b] = id >= 0 ? id : 0; /* the package falls back to <unk> (0) */
    }
    /* merges: decompressMerges; a repeated pair keeps the later priority */
    if (mlen % 4) return nc_error(NC_ERR_FORMAT, "llama tokenizer '%s': llama_merges_binary is %zu bytes, not whole id pairs", path, mlen);
    int64_t nm = (int64_t)(mlen / 4), cap = 1024;
    if (nm >= INT32_MAX / 2) return nc_error(NC_ERR_FORMAT, "llama tokenizer '%s': too many merges", path);
    while (cap < 2 * nm + 2) cap *= 2;
    t->merges = nc_calloc((size_t)cap, sizeof *t->merges);
    if (!t->merges) return nc_error(NC_ERR_OOM, "llama tokenizer: out of memory");
    t->cap_merges = cap;
    char buf[512];
    for (int64_t k = 0; k < nm; k++) {
        int32_t a = mb[4 * k] | mb[4 * k + 1] << 8, b = mb[4 * k + 2] | mb[4 * k + 3] << 8;
        if (a >= n || b >= n)
            return nc_error(NC_ERR_FORMAT, "llama tokenizer '%s': merge %lld names id %d past the vocabulary (%lld pieces)", path,
                            (long long)k, a >= n ? a : b, (long long)n);
        size_t la = strlen(t->piece[a]), lb = strlen(t->piece[b]);
        if (la + lb > sizeof buf) return nc_error(NC_ERR_FORMAT, "llama tokenizer '%s': merge %lld is too long", path, (long long)k);
        memcpy(buf, t->piece[a], la);
        memcpy(buf + la, t->piece[b], lb);
        int32_t m = nc_trie_get(&t->vocab, buf, (int64_t)(la + lb));
        if (m < 0)
            return nc_error(NC_ERR_FORMAT, "llama tokenizer '%s': merge %lld ('%s' + '%s') is not in the vocabulary", path,
                            (long long)k, t->piece[a], t->piece[b]);
        /* key by the ids the vocabulary map gives these strings (the package keys merges by string) */
        uint64_t key = mkey(nc_trie_get(&t->vocab, t->piece[a], (int64_t)la), nc_trie_get(&t->vocab, t->piece[b], (int64_t)lb));
        *mslot(t, key) = (llama_merge){.key = key, .prio = (int32_t)(2 * k + 1), .merged = m};
    }
    return NC_OK;
}

/* ---- encoding ------------------------------------------------------------ */

/* One node of the package's linked list. A merge replaces the left
 * neighbour by a copy (its heap entry, if any, goes stale and is skipped when
 * popped, comparing by the old priority meanwhile), as the package does; the
 * merged node takes the popped node's slot, which no heap entry refers to
 * any more (every node is pushed at most once). So 2n slots suffice. */
typedef struct lnode {
    double prio;
    int32_t orig, prev, next;
    int32_t id, merged;
    bool deleted;
} lnode;

typedef struct lstate {
    const llama *t;
    lnode *nd;
    int64_t n_nd;
    int32_t *heap;
    int64_t n_heap;
    double len16; /* prompt.length */
} lstate;

/* PriorityQueue with comparator (a, b) => a.mergePrio < b.mergePrio: the
 * package's siftUp/siftDown, step for step. */
static bool hgreater(const lstate *s, int64_t i, int64_t j) { return s->nd[s->heap[i]].prio < s->nd[s->heap[j]].prio; }
static void hswap(lstate *s, int64_t i, int64_t j) {
    int32_t x = s->heap[i];
    s->heap[i] = s->heap[j];
    s->heap[j] = x;
}

static void hpush(lstate *s, int32_t v) {
    s->heap[s->n_heap++] = v;
    int64_t node = s->n_heap - 1;
    while (node > 0 && hgreater(s, node, ((node + 1) >> 1) - 1)) {
        hswap(s, node, ((node + 1) >> 1) - 1);
        node = ((node + 1) >> 1) - 1;
    }
}

static int32_t hpop(lstate *s) {
    int32_t top = s->heap[0];
    int64_t bottom = s->n_heap - 1;
    if (bottom > 0) hswap(s, 0, bottom);
    s->n_heap--;
    int64_t node = 0, n = s->n_heap;
    for (;;) {
        int64_t l = 2 * node + 1, r = 2 * node + 2;
        if (!((l < n && hgreater(s, l, node)) || (r < n && hgreater(s, r, node)))) break;
        int64_t c = (r < n && hgreater(s, r, l)) ? r : l;
        hswap(s, node, c);
        node = c;
    }
    return top;
}

static int32_t new_node(lstate *s, int32_t orig, int32_t id, int32_t prev, int32_t next) {
    s->nd[s->n_nd] = (lnode){.orig = orig, .prev = prev, .next = next, .id = id, .merged = -1};
    return (int32_t)s->n_nd++;
}

/* addToMergeQueue */
static void add_merge(lstate *s, int32_t left) {
    lnode *l = &s->nd[left];
    const llama_merge *m = mslot(s->t, mkey(l->id, s->nd[l->next].id));
    if (!m->prio) return;
    l->prio = (double)m->prio + (double)l->orig / s->len16;
    l->merged = m->merged;
    hpush(s, left);
}

static nc_status llama_encode(const void *impl, const char *text, int64_t len, nc_token_ids *out) {
    const llama *t = impl;
    if (len == 0) return NC_OK;
    /* mapCharactersToTokenIds */
    nc_status st = NC_OK;
    if (t->p.add_bos) st = nc_token_ids_push(out, 1);
    if (!st && t->p.add_preceding_space) st = nc_token_ids_push(out, LLAMA_SPACE_ID);
    double len16 = 0;
    for (int64_t i = 0; i < len && !st;) {
        int k;
        uint32_t cp = nc_utf8_decode(text + i, text + len, &k);
        len16 += cp >= 0x10000 ? 2 : 1;
        int32_t id = text[i] == ' ' ? LLAMA_SPACE_ID : nc_trie_get(&t->vocab, text + i, k);
        /* a malformed byte has no piece: it falls back to itself */
        if (cp == NC_UNI_REPLACEMENT && k == 1 && (unsigned char)text[i] >= 0x80) id = -1;
        if (id >= 0) {
            st = nc_token_ids_push(out, id);
        } else {
            for (int j = 0; j < k && !st; j++) st = nc_token_ids_push(out, t->byte_id[(unsigned char)text[i + j]]);
        }
        i += k;
    }
    if (st) return st;
    int64_t n = out->n;
    if (n >= INT32_MAX / 3)
        return nc_error(NC_ERR_INVALID_ARG, "llama tokenizer: a text of %lld tokens is too long to encode at once", (long long)n);
    lstate s = {.t = t, .len16 = len16};
    s.nd = nc_malloc((size_t)(2 * n + 1) * sizeof *s.nd);
    s.heap = nc_malloc((size_t)(3 * n + 1) * sizeof *s.heap); /* n - 1 pairs, then at most 2 per merge */
    if (!s.nd || !s.heap) {
        nc_free(s.nd);
        nc_free(s.heap);
        return nc_error(NC_ERR_OOM, "llama tokenizer: cannot allocate %lld nodes", (long long)(2 * n + 1));
    }
    int32_t first = new_node(&s, 0, out->ids[0], -1, -1), prev = first;
    for (int32_t i = 1; i < (int32_t)n; i++) {
        int32_t cur = new_node(&s, i, out->ids[i], prev, -1);
        s.nd[prev].next = cur;
        add_merge(&s, prev);
        prev = cur;
    }
    while (s.n_heap > 0) {
        int32_t L = hpop(&s);
        lnode *l = &s.nd[L];
        if (l->deleted || l->next < 0 || s.nd[l->next].deleted) continue;
        int32_t R = l->next;
        s.nd[R].deleted = true;
        if (l->prev >= 0) { /* replace the left neighbour by a copy of itself */
            int32_t P = l->prev;
            s.nd[P].deleted = true;
            int32_t np = new_node(&s, s.nd[P].orig, s.nd[P].id, s.nd[P].prev, s.nd[P].next);
            l = &s.nd[L];
            l->prev = np;
            if (s.nd[np].prev >= 0) s.nd[s.nd[np].prev].next = np;
            else first = np;
        }
        /* the merged node, in L's slot */
        *l = (lnode){.orig = l->orig, .prev = l->prev, .next = s.nd[R].next, .id = l->merged, .merged = -1};
        if (l->prev >= 0) {
            s.nd[l->prev].next = L;
            add_merge(&s, l->prev);
        } else {
            first = L;
        }
        if (s.nd[L].next >= 0) {
            s.nd[s.nd[L].next].prev = L;
            add_merge(&s, L);
        }
    }
    out->n = 0;
    for (int32_t c = first; c >= 0; c = s.nd[c].next) out->ids[out->n++] = s.nd[c].id;
    nc_free(s.nd);
    nc_free(s.heap);
    return NC_OK;
}

static nc_status llama_decode(const void *impl, const int32_t *ids, int64_t n, nc_strbuf *out) {
    const llama *t = impl;
    size_t start = out->n;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n)
            return nc_error(NC_ERR_INVALID_ARG, "tokenizer decode: id %d is outside the vocabulary (0..%lld)", ids[i],
                            (long long)t->n - 1);
        if (i == 0 && t->p.add_bos && ids[0] == 1) continue;
        nc_status st;
        if (t->is_byte[ids[i]]) {
            st = nc_sb_putc(out, (char)(t->is_byte[ids[i]] - 1));
        } else {
            /* "▁" -> ' ' (the package replaces it after UTF-8 decoding, so
             * a "▁" spelt in byte pieces turns into a space too; done below) */
            st = nc_sb_puts(out, t->piece[ids[i]]);
        }
        if (st) return st;
    }
    /* replace every "▁" (E2 96 81) by ' ' in place */
    size_t w = start;
    for (size_t r = start; r < out->n;) {
        if (r + 2 < out->n && (unsigned char)out->p[r] == 0xE2 && (unsigned char)out->p[r + 1] == 0x96 &&
            (unsigned char)out->p[r + 2] == 0x81) {
            out->p[w++] = ' ';
            r += 3;
        } else {
            out->p[w++] = out->p[r++];
        }
    }
    out->n = w;
    if (t->p.add_preceding_space && out->n > start && out->p[start] == ' ') {
        memmove(out->p + start, out->p + start + 1, out->n - start - 1);
        out->n--;
    }
    if (out->p) out->p[out->n] = 0;
    return NC_OK;
}

static const char *llama_id_to_piece(const void *impl, int32_t id) { return ((const llama *)impl)->piece[id]; }

static int32_t llama_piece_to_id(const void *impl, const char *piece) {
    return nc_trie_get(&((const llama *)impl)->vocab, piece, (int64_t)strlen(piece));
}

static const nc_tokenizer_vtbl llama_vtbl = {
    .encode = llama_encode,
    .decode = llama_decode,
    .id_to_piece = llama_id_to_piece,
    .piece_to_id = llama_piece_to_id,
    .destroy = llama_destroy,
};

nc_status nc_tokenizer_llama_js_load(const char *path, const nc_llama_params *params, nc_tokenizer **out) {
    *out = NULL;
    if (!path) return nc_error(NC_ERR_INVALID_ARG, "llama tokenizer: path is required");
    struct stat sb;
    char *file = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? nc_strdupf("%s/llama-tokenizer.js", path) : nc_strdupf("%s", path);
    llama *t = nc_calloc(1, sizeof *t);
    if (!file || !t) {
        nc_free(file);
        nc_free(t);
        return nc_error(NC_ERR_OOM, "llama tokenizer: out of memory");
    }
    t->p = params ? *params : nc_llama_default_params();
    void *src = NULL;
    size_t len = 0, vlen = 0, mlen = 0;
    char *mb = NULL;
    nc_status st = nc_check_readable(file, "llama-tokenizer.js");
    if (!st) st = nc_read_file(file, &src, &len);
    if (!st) st = js_base64(src, len, "llama_vocab_base64", file, &t->pool, &vlen);
    if (!st) st = js_base64(src, len, "llama_merges_binary", file, &mb, &mlen);
    if (!st && strlen(t->pool) != vlen)
        st = nc_error(NC_ERR_FORMAT, "llama tokenizer '%s': the vocabulary holds a NUL byte", file);
    if (!st) st = build(t, file, (const unsigned char *)mb, mlen);
    nc_free(src);
    nc_free(mb);
    nc_free(file);
    if (st) {
        llama_destroy(t);
        return st;
    }
    nc_tokenizer_special sp = {.unk_id = -1, .bos_id = -1, .eos_id = -1, .pad_id = -1, .cls_id = -1, .sep_id = -1, .mask_id = -1};
    if (t->n > 2 && !strcmp(t->piece[0], "<unk>")) sp.unk_id = 0;
    if (t->n > 2 && !strcmp(t->piece[1], "<s>")) sp.bos_id = 1;
    if (t->n > 2 && !strcmp(t->piece[2], "</s>")) sp.eos_id = 2;
    return nc_tokenizer_wrap(NC_TOKENIZER_LLAMA, &llama_vtbl, t, t->n, sp, out);
}
