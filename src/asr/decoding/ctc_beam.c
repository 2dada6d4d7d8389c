/* CTC prefix beam search without a language model (Hannun et al. 2014,
 * Algorithm 1; the blank / non-blank split of Graves 2012, ch. 7.5), in log
 * space.
 *
 * Every prefix keeps pb (log-prob of the alignments of frames 0..t that
 * collapse to it and end in blank) and pnb (those that end in its last
 * label). Per frame t, with y = log-probs of frame t:
 *   prefix l itself:  pb'(l)  += lse(pb, pnb)(l) + y[blank]
 *                     pnb'(l) += pnb(l) + y[last(l)]          (label repeated, not re-emitted)
 *   extension l + c:  pnb'(l+c) += pb(l) + y[c]               when c == last(l) (needs a blank between)
 *                     pnb'(l+c) += lse(pb, pnb)(l) + y[c]     otherwise
 * and the beam_size prefixes with the largest lse(pb', pnb') survive.
 *
 * Prefixes are nodes of a trie that only grows (parent pointer + last label),
 * so extending a prefix copies nothing. Candidates of one frame are merged
 * through a hash of the label sequence; equal hashes are confirmed by
 * walking both parent chains, so two nodes holding the same sequence (a
 * prefix that left the beam and came back) still merge. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "asr/decoding/ctc_decoding_internal.h"
#include "nemoc/alloc.h"

nc_ctc_beam_params nc_ctc_beam_default_params(void) {
    return (nc_ctc_beam_params){.beam_size = 4, .token_threshold = 20.0f, .max_tokens_per_frame = 0};
}

typedef struct bnode {
    int64_t parent; /* -1 for the root (empty prefix) */
    int64_t token;  /* last label, -1 for the root */
    int64_t frame;  /* frame at which this prefix entered the beam */
    int64_t len;
    uint64_t hash;  /* of the whole label sequence */
} bnode;

typedef struct beam {
    int64_t node;
    double pb, pnb;
} beam;

typedef struct cand {
    int64_t node; /* existing trie node, or -1 for a new extension */
    int64_t parent, token, len;
    uint64_t hash;
    double pb;    /* ends in blank */
    double carry; /* ends in the last label, already emitted before this frame */
    double fresh; /* ends in the last label, emitted at this frame */
} cand;

typedef struct ranked {
    double score;
    int64_t idx;
} ranked;

typedef struct bs_work {
    bnode *nodes;
    int64_t n_nodes;
    beam *beams, *next;
    int64_t n_beams;
    cand *cands;
    int64_t n_cands;
    int64_t *table, *stamp; /* open addressing over cands; stamp = frame + 1 marks live slots */
    uint64_t mask;
    ranked *rank;
    ranked *toks; /* labels of this frame: score = log-prob, idx = label */
} bs_work;

static inline double lse2(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

/* splitmix64 finaliser over (hash, label) */
static inline uint64_t hash_step(uint64_t h, int64_t tok) {
    uint64_t x = h ^ ((uint64_t)tok + 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Do trie nodes a and b (or -1) hold the same label sequence? */
static bool same_prefix(const bnode *nodes, int64_t a, int64_t b) {
    while (a != b) {
        if (a < 0 || b < 0) return false;
        const bnode *x = &nodes[a], *y = &nodes[b];
        if (x->len != y->len || x->hash != y->hash || x->token != y->token) return false;
        a = x->parent;
        b = y->parent;
    }
    return true;
}

/* The candidate for sequence (parent's labels) + token, added when absent. */
static cand *cand_get(bs_work *w, int64_t stamp, int64_t node, int64_t parent, int64_t token,
                      int64_t len, uint64_t hash) {
    uint64_t i = hash & w->mask;
    for (; w->stamp[i] == stamp; i = (i + 1) & w->mask) {
        cand *c = &w->cands[w->table[i]];
        if (c->hash == hash && c->len == len && c->token == token &&
            same_prefix(w->nodes, c->parent, parent))
            return c;
    }
    w->stamp[i] = stamp;
    w->table[i] = w->n_cands;
    cand *c = &w->cands[w->n_cands++];
    *c = (cand){.node = node, .parent = parent, .token = token, .len = len, .hash = hash,
                .pb = -INFINITY, .carry = -INFINITY, .fresh = -INFINITY};
    return c;
}

/* Higher score first, then lower index: a strict total order, so results
 * do not depend on the selection algorithm. */
static inline bool better(const ranked *a, const ranked *b) {
    return a->score > b->score || (a->score == b->score && a->idx < b->idx);
}

static int cmp_ranked(const void *a, const void *b) {
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* Min-heap (worst kept item at the root) sift-down over h[0..n). */
static void sift_down(ranked *h, int64_t n, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && better(&h[m], &h[l])) m = l;
        if (r < n && better(&h[m], &h[r])) m = r;
        if (m == i) return;
        ranked t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Moves the best min(n, k) items to the front, sorted best first, in
 * O(n log k): a size-k heap of the best seen so far replaces a full sort of
 * beam_size * V candidates per frame. */
static int64_t top_k(ranked *a, int64_t n, int64_t k) {
    if (k < n) {
        for (int64_t i = k / 2 - 1; i >= 0; i--) sift_down(a, k, i);
        for (int64_t i = k; i < n; i++) {
            if (better(&a[i], &a[0])) {
                a[0] = a[i];
                sift_down(a, k, 0);
            }
        }
        n = k;
    }
    qsort(a, (size_t)n, sizeof *a, cmp_ranked);
    return n;
}

/* Labels that may extend prefixes at this frame; returns their count. */
static int64_t pick_tokens(const float *y, int64_t V, int64_t blank, const nc_ctc_beam_params *p,
                           ranked *toks) {
    float m = -INFINITY;
    for (int64_t c = 0; c < V; c++)
        if (c != blank && y[c] > m) m = y[c];
    int64_t k = 0;
    for (int64_t c = 0; c < V; c++) {
        if (c == blank || y[c] == -INFINITY) continue;
        if (p->token_threshold > 0 && y[c] < m - p->token_threshold) continue;
        toks[k++] = (ranked){.score = y[c], .idx = c};
    }
    if (p->max_tokens_per_frame > 0 && k > p->max_tokens_per_frame)
        k = top_k(toks, k, p->max_tokens_per_frame);
    return k;
}

/* One frame: candidates from every beam, merged, best beam_size kept. */
static void beam_step(bs_work *w, const float *y, int64_t t, int64_t blank, int64_t beam_size,
                      int64_t n_toks) {
    int64_t stamp = t + 1;
    w->n_cands = 0;
    /* the beams' own prefixes first, so that an extension equal to a live
     * prefix lands on that prefix's candidate and keeps its node */
    for (int64_t i = 0; i < w->n_beams; i++) {
        const beam *bm = &w->beams[i];
        const bnode *nd = &w->nodes[bm->node];
        cand *c = cand_get(w, stamp, bm->node, nd->parent, nd->token, nd->len, nd->hash);
        c->pb = lse2(c->pb, lse2(bm->pb, bm->pnb) + y[blank]);
        if (nd->token >= 0) c->carry = lse2(c->carry, bm->pnb + y[nd->token]);
    }
    for (int64_t i = 0; i < w->n_beams; i++) {
        const beam bm = w->beams[i];
        const bnode nd = w->nodes[bm.node];
        double total = lse2(bm.pb, bm.pnb);
        for (int64_t k = 0; k < n_toks; k++) {
            int64_t c = w->toks[k].idx;
            double from = c == nd.token ? bm.pb : total;
            if (from == -INFINITY) continue;
            cand *e = cand_get(w, stamp, -1, bm.node, c, nd.len + 1, hash_step(nd.hash, c));
            e->fresh = lse2(e->fresh, from + y[c]);
        }
    }
    for (int64_t i = 0; i < w->n_cands; i++)
        w->rank[i] = (ranked){
            .score = lse2(w->cands[i].pb, lse2(w->cands[i].carry, w->cands[i].fresh)), .idx = i};
    int64_t n_top = top_k(w->rank, w->n_cands, beam_size), n = 0;
    for (int64_t r = 0; r < n_top; r++) {
        /* unreachable prefixes leave, unless nothing else is left */
        if (w->rank[r].score == -INFINITY && n > 0) break;
        cand *c = &w->cands[w->rank[r].idx];
        int64_t node = c->node;
        /* The last label's frame is where most of the prefix's mass emitted
         * it: a live prefix re-emitted now with more probability than it
         * carries gets a copy of its node stamped with this frame (its
         * descendants keep the old node; merging compares label sequences). */
        if (node < 0 || c->fresh > lse2(c->pb, c->carry)) {
            node = w->n_nodes++;
            w->nodes[node] = (bnode){.parent = c->parent, .token = c->token, .frame = t,
                                     .len = c->len, .hash = c->hash};
        }
        w->next[n++] = (beam){.node = node, .pb = c->pb, .pnb = lse2(c->carry, c->fresh)};
    }
    beam *tmp = w->beams;
    w->beams = w->next;
    w->next = tmp;
    w->n_beams = n;
}

static void work_free(bs_work *w) {
    nc_free(w->nodes);
    nc_free(w->beams);
    nc_free(w->next);
    nc_free(w->cands);
    nc_free(w->table);
    nc_free(w->stamp);
    nc_free(w->rank);
    nc_free(w->toks);
}

static bool work_alloc(bs_work *w, int64_t L, int64_t V, int64_t beam_size) {
    int64_t n_toks = V; /* upper bound on labels per frame */
    int64_t max_c = beam_size * (n_toks + 1);
    uint64_t size = 16;
    while (size < (uint64_t)(2 * max_c)) size <<= 1;
    *w = (bs_work){.mask = size - 1};
    w->nodes = nc_malloc((size_t)(L * beam_size + 1) * sizeof(bnode));
    w->beams = nc_malloc((size_t)beam_size * sizeof(beam));
    w->next = nc_malloc((size_t)beam_size * sizeof(beam));
    w->cands = nc_malloc((size_t)max_c * sizeof(cand));
    w->table = nc_malloc((size_t)size * sizeof(int64_t));
    w->stamp = nc_calloc((size_t)size, sizeof(int64_t));
    w->rank = nc_malloc((size_t)max_c * sizeof(ranked));
    w->toks = nc_malloc((size_t)n_toks * sizeof(ranked));
    if (!w->nodes || !w->beams || !w->next || !w->cands || !w->table || !w->stamp || !w->rank ||
        !w->toks) {
        work_free(w);
        return false;
    }
    return true;
}

/* Beam search over one utterance lp (T, V), first L frames. */
static nc_status beam_one(const float *lp, int64_t V, int64_t L, int64_t blank,
                          const nc_ctc_beam_params *p, nc_ctc_nbest *out) {
    bs_work w;
    if (!work_alloc(&w, L, V, p->beam_size)) return NC_ERR_OOM;
    w.nodes[0] = (bnode){.parent = -1, .token = -1, .frame = 0, .len = 0, .hash = 0x6a09e667f3bcc908ull};
    w.n_nodes = 1;
    w.beams[0] = (beam){.node = 0, .pb = 0.0, .pnb = -INFINITY};
    w.n_beams = 1;
    for (int64_t t = 0; t < L; t++) {
        const float *y = lp + t * V;
        beam_step(&w, y, t, blank, p->beam_size, pick_tokens(y, V, blank, p, w.toks));
    }
    nc_status st = NC_OK;
    out->hyps = nc_calloc((size_t)w.n_beams, sizeof(nc_ctc_hyp));
    out->n = out->hyps ? w.n_beams : 0;
    for (int64_t i = 0; out->hyps && i < w.n_beams; i++) {
        const bnode *nd = &w.nodes[w.beams[i].node];
        nc_ctc_hyp *h = &out->hyps[i];
        h->score = lse2(w.beams[i].pb, w.beams[i].pnb);
        if (!nd->len) continue;
        h->tokens = nc_malloc((size_t)nd->len * sizeof(nc_ctc_token));
        if (!h->tokens) {
            st = NC_ERR_OOM;
            break;
        }
        h->n_tokens = nd->len;
        for (int64_t k = nd->len - 1; k >= 0; k--, nd = &w.nodes[nd->parent])
            h->tokens[k] = (nc_ctc_token){.id = nd->token, .frame = nd->frame, .last_frame = nd->frame};
        nc_ctc_fill_offsets(h);
    }
    if (!out->hyps) st = NC_ERR_OOM;
    work_free(&w);
    return st;
}

nc_status nc_ctc_beam_decode(const nc_tensor *log_probs, const nc_tensor *lengths, int64_t blank,
                             const nc_ctc_beam_params *p, nc_ctc_nbest *out) {
    nc_status st = nc_ctc_decode_check("ctc beam", log_probs, lengths, blank);
    if (st) return st;
    nc_ctc_beam_params d = nc_ctc_beam_default_params();
    if (!p) p = &d;
    if (p->beam_size < 1 || p->max_tokens_per_frame < 0)
        return nc_error(NC_ERR_INVALID_ARG, "ctc beam: beam_size %lld must be >= 1 and "
                        "max_tokens_per_frame %lld >= 0",
                        (long long)p->beam_size, (long long)p->max_tokens_per_frame);
    int64_t B = log_probs->shape[0], T = log_probs->shape[1], V = log_probs->shape[2];
    for (int64_t b = 0; b < B; b++) out[b] = (nc_ctc_nbest){.hyps = NULL, .n = 0};
    int failed = 0;
    const float *LP = log_probs->data;
#pragma omp parallel for schedule(dynamic) if (B > 1) reduction(| : failed)
    for (int64_t b = 0; b < B; b++)
        failed |= beam_one(LP + b * T * V, V, nc_ctc_len(lengths, b, T), blank, p, &out[b]) != NC_OK;
    if (failed) {
        for (int64_t b = 0; b < B; b++) nc_ctc_nbest_free(&out[b]);
        return nc_error(NC_ERR_OOM, "ctc beam: out of memory (beam_size %lld, V %lld, T %lld)",
                        (long long)p->beam_size, (long long)V, (long long)T);
    }
    return NC_OK;
}
