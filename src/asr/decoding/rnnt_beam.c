/* Transducer beam search, one utterance at a time, as NeMo's default
 * searches: BeamRNNTInfer.default_beam_search (Graves 2012, "Sequence
 * Transduction with Recurrent Neural Networks", Algorithm 1, without the
 * prefix merge; nemo/collections/asr/parts/submodules/rnnt_beam_decoding.py)
 * and BeamTDTInfer.default_beam_search (tdt_beam_decoding.py). At beam_size 1
 * BeamRNNTInfer switches to its greedy_search (at most 5 symbols per frame),
 * which is nc_rnnt_greedy_decode with that limit; BeamTDTInfer keeps its
 * beam search.
 *
 * The order of NeMo's Python lists is kept wherever it decides ties (the
 * first maximum of max(), stable sorts, the dict order of
 * merge_duplicate_hypotheses), and TDT scores are rounded to float32 where
 * NeMo adds a Python float to a float32 tensor.
 *
 * NeMo caches the prediction network by token sequence (score_hypothesis'
 * `cache`); here the sequences form a prefix tree whose nodes hold the
 * projected prediction joint.pred(decoder(sequence)) and the LSTM state after
 * the sequence, computed when a hypothesis ending there is first expanded.
 * Emitted tokens and their frames are a second tree (each emission points to
 * the one before), so a hypothesis is four numbers and copying one is free.
 * Every buffer grows geometrically and is reused across utterances; each
 * step's tensors come from the ctx arena and are dropped by a rewind. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/vec.h"
#include "nemoc/alloc.h"
#include "nemoc/arena.h"
#include "nemoc/rnnt_modules.h"

nc_rnnt_beam_params nc_rnnt_beam_default_params(void) {
    return (nc_rnnt_beam_params){.beam_size = 4, .score_norm = true, .return_best_hypothesis = true,
                                 .durations = NULL, .n_durations = 0};
}

void nc_rnnt_nbest_free(nc_rnnt_nbest *nb) {
    if (!nb) return;
    for (int64_t i = 0; i < nb->n; i++) nc_rnnt_hyp_free(&nb->hyps[i]);
    nc_free(nb->hyps);
    nb->hyps = NULL;
    nb->n = 0;
}

typedef struct pnode {      /* a token sequence (NeMo's y_sequence, from the leading blank) */
    int64_t parent, token;  /* parent -1: the root, [blank] */
    int64_t child, sibling; /* first child, next sibling; -1: none */
    int64_t depth;          /* tokens after the leading blank */
    int64_t data;           /* offset of gproj (J), h (LH), c (LH) in ws.data; -1: not computed */
} pnode;

typedef struct emission {
    int64_t parent, token, frame; /* parent -1: none */
} emission;

typedef struct bhyp {
    double score;
    int64_t node, emit;  /* prefix-tree node; last emission (-1: none) */
    int64_t last_frame;  /* TDT: the frame the hypothesis continues at */
} bhyp;

typedef struct hlist {
    bhyp *v;
    int64_t n, cap;
} hlist;

typedef struct beam_ws {
    const nc_rnnt_decoder *dec;
    const nc_rnnt_joint *joint;
    int64_t J, LH, C, blank;
    pnode *nodes;
    int64_t n_nodes, cap_nodes;
    float *data;
    int64_t n_data, cap_data;
    emission *emits;
    int64_t n_emits, cap_emits;
    hlist A, K, tmp, sel; /* NeMo's hyps, kept_hyps, sort scratch, kept_most_prob */
    float *logits, *logp; /* (C), (C): token log-probs then duration log-probs */
    int64_t *top_tok, *top_dur, *top_sum;
    float *sums;          /* (n_dur * beam_k) */
} beam_ws;

static nc_status hl_push(hlist *l, bhyp h) {
    if (l->n == l->cap && nc_vec_reserve(&l->v, &l->cap, l->n + 1, sizeof *l->v)) return NC_ERR_OOM;
    l->v[l->n++] = h;
    return NC_OK;
}

static void hl_free(hlist *l) {
    nc_free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- the prediction network over the prefix tree ---- */

static nc_status node_child(beam_ws *w, int64_t parent, int64_t token, int64_t *out) {
    for (int64_t c = w->nodes[parent].child; c >= 0; c = w->nodes[c].sibling)
        if (w->nodes[c].token == token) {
            *out = c;
            return NC_OK;
        }
    if (w->n_nodes == w->cap_nodes && nc_vec_reserve(&w->nodes, &w->cap_nodes, w->n_nodes + 1, sizeof(pnode)))
        return NC_ERR_OOM;
    int64_t n = w->n_nodes++;
    w->nodes[n] = (pnode){.parent = parent, .token = token, .child = -1, .sibling = w->nodes[parent].child,
                          .depth = w->nodes[parent].depth + 1, .data = -1};
    w->nodes[parent].child = n;
    *out = n;
    return NC_OK;
}

/* RNNTDecoder.score_hypothesis for the sequence of node n: the root (last
 * token blank) runs predict(None, state=None), the start of signal from a
 * zero state; any other node feeds its token with the parent's state. */
static nc_status node_compute(nc_ctx *ctx, beam_ws *w, int64_t n) {
    if (w->nodes[n].data >= 0) return NC_OK;
    const int64_t L = w->dec->hp.pred_rnn_layers, H = w->dec->hp.pred_hidden, J = w->J, LH = w->LH;
    const int64_t per = J + 2 * LH;
    if (w->n_data + per > w->cap_data &&
        nc_vec_reserve(&w->data, &w->cap_data, w->n_data + per, sizeof(float)))
        return NC_ERR_OOM;
    const int64_t parent = w->nodes[n].parent;
    nc_arena_mark m = nc_arena_mark_get(nc_ctx_arena(ctx));
    int64_t label = parent < 0 ? -1 : w->nodes[n].token;
    nc_tensor *lab = nc_from_data(ctx, NC_I64, NC_DIMS(1), &label);
    nc_tensor *h = NULL, *c = NULL, *hn = NULL, *cn = NULL;
    if (parent >= 0) {
        const float *pd = w->data + w->nodes[parent].data;
        h = nc_from_data(ctx, NC_F32, NC_DIMS(L, 1, H), pd + J);
        c = nc_from_data(ctx, NC_F32, NC_DIMS(L, 1, H), pd + J + LH);
    }
    nc_tensor *g = nc_rnnt_decoder_step(ctx, w->dec, lab, h, c, &hn, &cn);
    nc_tensor *gp = nc_rnnt_joint_project_prednet(ctx, w->joint, g); /* (1, 1, J) */
    nc_status st = nc_ctx_status(ctx);
    if (st == NC_OK) {
        float *d = w->data + w->n_data;
        memcpy(d, nc_f32(gp), (size_t)J * sizeof(float));
        memcpy(d + J, nc_f32(hn), (size_t)LH * sizeof(float));
        memcpy(d + J + LH, nc_f32(cn), (size_t)LH * sizeof(float));
        w->nodes[n].data = w->n_data;
        w->n_data += per;
    }
    nc_arena_rewind(nc_ctx_arena(ctx), m);
    return st;
}

/* logits (C) = joint_after_projection(f (J), gproj of node n). */
static nc_status joint_logits(nc_ctx *ctx, beam_ws *w, const float *f, int64_t n) {
    nc_arena_mark m = nc_arena_mark_get(nc_ctx_arena(ctx));
    nc_tensor *ft = nc_from_data(ctx, NC_F32, NC_DIMS(1, 1, w->J), f);
    nc_tensor *gt = nc_from_data(ctx, NC_F32, NC_DIMS(1, 1, w->J), w->data + w->nodes[n].data);
    nc_tensor *y = nc_rnnt_joint_after_projection(ctx, w->joint, ft, gt);
    nc_status st = nc_ctx_status(ctx);
    if (st == NC_OK) memcpy(w->logits, nc_f32(y), (size_t)w->C * sizeof(float));
    nc_arena_rewind(nc_ctx_arena(ctx), m);
    return st;
}

/* torch.log_softmax of x[0..n) into y, rounded to float32 as torch returns it. */
static void log_softmax(const float *x, int64_t n, float *y) {
    double mx = x[0], s = 0;
    for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (int64_t i = 0; i < n; i++) s += exp((double)x[i] - mx);
    double lse = mx + log(s);
    for (int64_t i = 0; i < n; i++) y[i] = (float)((double)x[i] - lse);
}

/* torch.topk(x[0..n), k): indices of the k largest, largest first; equal
 * values by lower index. O(n k): k is a beam width. */
static void topk(const float *x, int64_t n, int64_t k, int64_t *idx) {
    for (int64_t j = 0; j < k; j++) {
        int64_t best = -1;
        for (int64_t i = 0; i < n; i++) {
            bool used = false;
            for (int64_t q = 0; q < j && !used; q++) used = idx[q] == i;
            if (!used && (best < 0 || x[i] > x[best])) best = i;
        }
        idx[j] = best;
    }
}

/* ---- Python's list operations on hypotheses ---- */

/* max(hyps, key=score): the first maximum. */
static int64_t first_max(const hlist *l) {
    int64_t k = 0;
    for (int64_t i = 1; i < l->n; i++)
        if (l->v[i].score > l->v[k].score) k = i;
    return k;
}

static bhyp take(hlist *l, int64_t i) { /* hyps.remove(max_hyp), keeping the order */
    bhyp h = l->v[i];
    memmove(l->v + i, l->v + i + 1, (size_t)(l->n - i - 1) * sizeof *l->v);
    l->n--;
    return h;
}

enum { ASCENDING, DESCENDING, DESCENDING_NORM };

static double sort_key(const beam_ws *w, const bhyp *h, int mode) {
    /* sort_nbest: score / len(y_sequence), the leading blank included */
    return mode == DESCENDING_NORM ? h->score / (double)(w->nodes[h->node].depth + 1) : h->score;
}

/* Python's sorted() (stable, also with reverse=True): a merge sort. */
static void stable_sort(const beam_ws *w, bhyp *a, int64_t n, bhyp *tmp, int mode) {
    if (n < 2) return;
    int64_t m = n / 2;
    stable_sort(w, a, m, tmp, mode);
    stable_sort(w, a + m, n - m, tmp, mode);
    int64_t i = 0, j = m, k = 0;
    while (i < m && j < n) {
        double ki = sort_key(w, &a[i], mode), kj = sort_key(w, &a[j], mode);
        bool right_first = mode == ASCENDING ? kj < ki : kj > ki;
        tmp[k++] = right_first ? a[j++] : a[i++];
    }
    while (i < m) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    memcpy(a, tmp, (size_t)n * sizeof *a);
}

static nc_status sort_list(beam_ws *w, hlist *l, int mode) {
    if (l->n > w->tmp.cap && nc_vec_reserve(&w->tmp.v, &w->tmp.cap, l->n, sizeof(bhyp))) return NC_ERR_OOM;
    stable_sort(w, l->v, l->n, w->tmp.v, mode);
    return NC_OK;
}

/* kept_most_prob = sorted([h for h in kept if h.score > hyps_max], key=score) into w->sel;
 * true (and kept = kept_most_prob) when it holds at least `beam`. */
static nc_status prune(beam_ws *w, int64_t beam, bool *done) {
    double hyps_max = w->A.v[first_max(&w->A)].score;
    w->sel.n = 0;
    for (int64_t i = 0; i < w->K.n; i++)
        if (w->K.v[i].score > hyps_max && hl_push(&w->sel, w->K.v[i])) return NC_ERR_OOM;
    *done = w->sel.n >= beam;
    if (!*done) return NC_OK;
    if (sort_list(w, &w->sel, ASCENDING)) return NC_ERR_OOM;
    hlist t = w->K;
    w->K = w->sel;
    w->sel = t;
    return NC_OK;
}

static nc_status extend(beam_ws *w, const bhyp *from, int64_t token, int64_t frame, bhyp *to) {
    nc_status st = node_child(w, from->node, token, &to->node);
    if (st) return st;
    if (w->n_emits == w->cap_emits && nc_vec_reserve(&w->emits, &w->cap_emits, w->n_emits + 1, sizeof(emission)))
        return NC_ERR_OOM;
    w->emits[w->n_emits] = (emission){.parent = from->emit, .token = token, .frame = frame};
    to->emit = w->n_emits++;
    return NC_OK;
}

/* ---- the searches ---- */

/* BeamRNNTInfer.default_beam_search over the projected frames f (len, J). */
static nc_status search_rnnt(nc_ctx *ctx, beam_ws *w, const float *f, int64_t len, int64_t beam_size) {
    const int64_t V = w->blank; /* blank = V, the last class: index_incr 0 */
    const int64_t beam = beam_size < V ? beam_size : V, beam_k = beam < V - 1 ? beam : V - 1;
    nc_status st;
    for (int64_t t = 0; t < len; t++) {
        hlist tl = w->A; /* hyps = kept_hyps; kept_hyps = [] */
        w->A = w->K;
        w->K = tl;
        w->K.n = 0;
        for (;;) {
            bhyp mx = take(&w->A, first_max(&w->A));
            if ((st = node_compute(ctx, w, mx.node)) || (st = joint_logits(ctx, w, f + t * w->J, mx.node)))
                return st;
            log_softmax(w->logits, w->C, w->logp);
            topk(w->logp, V, beam_k, w->top_tok); /* ytu[ids].topk(beam_k), blank removed */
            for (int64_t j = 0; j < beam_k; j++) {
                int64_t k = w->top_tok[j];
                bhyp nh = {.score = mx.score + (double)w->logp[k], .last_frame = 0};
                if ((st = extend(w, &mx, k, t, &nh)) || (st = hl_push(&w->A, nh))) return st;
            }
            bhyp bh = mx;
            bh.score = mx.score + (double)w->logp[V];
            if ((st = hl_push(&w->K, bh))) return st;
            bool done;
            if ((st = prune(w, beam, &done))) return st;
            if (done) break;
        }
    }
    return NC_OK;
}

/* torch.logaddexp on float32 scalars. */
static float logaddexpf_t(float a, float b) {
    if (isinf(a) && a == b) return a;
    float m = a > b ? a : b;
    return m + log1pf(expf(-fabsf(a - b)));
}

/* BeamTDTInfer.merge_duplicate_hypotheses on w->K: sorted by score (best
 * first), the first of each (sequence, last_frame) kept, later ones' scores
 * log-added into it in float32 (torch.tensor of Python floats). */
static nc_status merge_duplicates(beam_ws *w) {
    if (sort_list(w, &w->K, DESCENDING)) return NC_ERR_OOM;
    int64_t n = 0;
    for (int64_t i = 0; i < w->K.n; i++) {
        bhyp h = w->K.v[i];
        int64_t j = 0;
        while (j < n && !(w->K.v[j].node == h.node && w->K.v[j].last_frame == h.last_frame)) j++;
        if (j < n)
            w->K.v[j].score = (double)logaddexpf_t((float)w->K.v[j].score, (float)h.score);
        else
            w->K.v[n++] = h;
    }
    w->K.n = n;
    return NC_OK;
}

/* BeamTDTInfer.default_beam_search: logits are V + 1 token logits then
 * n_dur duration logits, each group log-normalised on its own. */
static nc_status search_tdt(nc_ctx *ctx, beam_ws *w, const float *f, int64_t len, int64_t beam_size,
                            const int64_t *durations, int64_t n_dur) {
    const int64_t V = w->blank, n_tok = V + 1;
    const int64_t beam = beam_size < V ? beam_size : V, beam_k = beam < V - 1 ? beam : V - 1;
    const int64_t dbk = beam < n_dur ? beam : n_dur;
    int64_t zero_idx = -1, min_nz = -1;
    for (int64_t i = 0; i < n_dur; i++) {
        if (durations[i] == 0 && zero_idx < 0) zero_idx = i;
        if (durations[i] != 0 && (min_nz < 0 || durations[i] < durations[min_nz])) min_nz = i;
    }
    nc_status st;
    for (int64_t t = 0; t < len; t++) {
        /* hyps: kept hypotheses at this frame; kept_hyps: those beyond it */
        w->A.n = 0;
        int64_t nk = 0;
        for (int64_t i = 0; i < w->K.n; i++) {
            if (w->K.v[i].last_frame == t) {
                if ((st = hl_push(&w->A, w->K.v[i]))) return st;
            } else if (w->K.v[i].last_frame > t) {
                w->K.v[nk++] = w->K.v[i];
            }
        }
        w->K.n = nk;
        while (w->A.n > 0) {
            bhyp mx = take(&w->A, first_max(&w->A));
            if ((st = node_compute(ctx, w, mx.node)) || (st = joint_logits(ctx, w, f + t * w->J, mx.node)))
                return st;
            float *lp = w->logp, *dlp = w->logp + n_tok;
            log_softmax(w->logits, n_tok, lp);
            log_softmax(w->logits + n_tok, n_dur, dlp);
            topk(lp, V, beam_k, w->top_tok);
            topk(dlp, n_dur, dbk, w->top_dur);
            /* torch.cartesian_prod(dur_topk, tok_topk).sum(-1).topk(beam_k): row d * beam_k + j */
            for (int64_t d = 0; d < dbk; d++)
                for (int64_t j = 0; j < beam_k; j++)
                    w->sums[d * beam_k + j] = dlp[w->top_dur[d]] + lp[w->top_tok[j]];
            topk(w->sums, dbk * beam_k, beam_k, w->top_sum);
            for (int64_t q = 0; q < beam_k; q++) {
                int64_t s = w->top_sum[q];
                int64_t token = w->top_tok[s % beam_k], dur = durations[w->top_dur[s / beam_k]];
                /* float(max_hyp.score + total_logp_topk): a float32 tensor sum */
                bhyp nh = {.score = (double)((float)mx.score + w->sums[s]), .last_frame = mx.last_frame + dur};
                if ((st = extend(w, &mx, token, t + dur, &nh))) return st;
                if ((st = hl_push(dur == 0 ? &w->A : &w->K, nh))) return st;
            }
            /* blanks move on by a non-zero duration only */
            for (int64_t d = 0; d < dbk; d++) {
                int64_t di = w->top_dur[d];
                if (di == zero_idx) {
                    if (dbk != 1) continue;
                    di = min_nz;
                }
                bhyp bh = mx;
                bh.score = (double)(((float)mx.score + lp[V]) + dlp[di]);
                bh.last_frame = mx.last_frame + durations[di];
                if ((st = hl_push(&w->K, bh))) return st;
            }
            if ((st = merge_duplicates(w))) return st;
            if (w->A.n > 0) {
                bool done;
                if ((st = prune(w, beam, &done))) return st;
                if (done) break;
            } else {
                if ((st = sort_list(w, &w->K, DESCENDING))) return st;
                if (w->K.n > beam) w->K.n = beam;
            }
        }
    }
    return NC_OK;
}

/* The sorted final hypotheses (sort_nbest) of w->K into nb. */
static nc_status collect(beam_ws *w, bool score_norm, bool best_only, nc_rnnt_nbest *nb) {
    if (sort_list(w, &w->K, score_norm ? DESCENDING_NORM : DESCENDING)) return NC_ERR_OOM;
    int64_t n = best_only && w->K.n > 1 ? 1 : w->K.n;
    nb->hyps = nc_calloc((size_t)n, sizeof *nb->hyps);
    if (!nb->hyps) return NC_ERR_OOM;
    nb->n = n;
    for (int64_t i = 0; i < n; i++) {
        const bhyp *h = &w->K.v[i];
        nc_rnnt_hyp *o = &nb->hyps[i];
        int64_t m = w->nodes[h->node].depth;
        o->score = h->score;
        o->n = m;
        if (!m) continue;
        o->tokens = nc_malloc((size_t)m * sizeof(int64_t));
        o->frames = nc_malloc((size_t)m * sizeof(int64_t));
        if (!o->tokens || !o->frames) return NC_ERR_OOM;
        int64_t e = h->emit;
        for (int64_t k = m - 1; k >= 0; k--, e = w->emits[e].parent) {
            o->tokens[k] = w->emits[e].token;
            o->frames[k] = w->emits[e].frame;
        }
    }
    return NC_OK;
}

static nc_status check_args(const nc_rnnt_decoder *dec, const nc_rnnt_joint *joint, const nc_tensor *enc,
                            const int64_t *lengths, const nc_rnnt_beam_params *bp) {
    if (!enc || enc->dtype != NC_F32 || enc->ndim != 3 || enc->shape[2] != joint->hp.encoder_hidden)
        return nc_error(NC_ERR_SHAPE, "RNNT beam: encoder output must be (B, T, %lld) float32",
                        (long long)joint->hp.encoder_hidden);
    if (dec->hp.vocab_size != joint->hp.num_classes || dec->hp.pred_hidden != joint->hp.pred_hidden)
        return nc_error(NC_ERR_CONFIG, "RNNT beam: decoder (vocab %lld, hidden %lld) and joint (num_classes "
                        "%lld, pred_hidden %lld) do not fit",
                        (long long)dec->hp.vocab_size, (long long)dec->hp.pred_hidden,
                        (long long)joint->hp.num_classes, (long long)joint->hp.pred_hidden);
    if (bp->beam_size < 1) return nc_error(NC_ERR_CONFIG, "beam.beam_size: must be >= 1 (NeMo: 'Beam search "
                                                          "size cannot be less than 1')");
    /* with one token NeMo's top-k is empty and max() of no hypotheses raises */
    if (dec->hp.vocab_size < 2 && (bp->beam_size > 1 || bp->durations))
        return nc_error(NC_ERR_CONFIG, "RNNT beam: a vocabulary of %lld token(s) needs beam_size 1",
                        (long long)dec->hp.vocab_size);
    if (bp->durations) {
        if (bp->n_durations < 1 || bp->n_durations != joint->hp.num_extra_outputs)
            return nc_error(NC_ERR_CONFIG, "TDT beam: %lld durations for %lld extra joint outputs",
                            (long long)bp->n_durations, (long long)joint->hp.num_extra_outputs);
        bool nonzero = false;
        for (int64_t i = 0; i < bp->n_durations; i++) {
            if (bp->durations[i] < 0)
                return nc_error(NC_ERR_CONFIG, "TDT beam: duration %lld is negative", (long long)bp->durations[i]);
            nonzero |= bp->durations[i] != 0;
        }
        if (!nonzero) return nc_error(NC_ERR_CONFIG, "TDT beam: needs a non-zero duration");
    } else if (joint->hp.num_extra_outputs != 0) {
        return nc_error(NC_ERR_UNSUPPORTED, "RNNT beam: the joint has %lld extra outputs (TDT needs durations; "
                        "nemoc has no multi-blank beam search)", (long long)joint->hp.num_extra_outputs);
    }
    for (int64_t b = 0; b < enc->shape[0]; b++)
        if (lengths[b] < 0 || lengths[b] > enc->shape[1])
            return nc_error(NC_ERR_INVALID_ARG, "RNNT beam: length[%lld] = %lld outside [0, %lld]", (long long)b,
                            (long long)lengths[b], (long long)enc->shape[1]);
    return NC_OK;
}

/* beam_size 1 (RNN-T): BeamRNNTInfer.greedy_search, greedy with 5 symbols per frame. */
static nc_status greedy_fallback(nc_ctx *ctx, const nc_rnnt_decoder *dec, const nc_rnnt_joint *joint,
                                 nc_tensor *enc, const int64_t *lengths, nc_rnnt_nbest *out) {
    const int64_t B = enc->shape[0];
    nc_rnnt_hyp *hyps = nc_calloc((size_t)(B > 0 ? B : 1), sizeof *hyps);
    if (!hyps) return nc_error(NC_ERR_OOM, "RNNT beam: hypotheses");
    nc_rnnt_greedy_params gp = nc_rnnt_greedy_default_params();
    gp.max_symbols_per_step = 5; /* the "hard coding" of greedy_search */
    nc_status st = nc_rnnt_greedy_decode(ctx, dec, joint, enc, lengths, &gp, hyps);
    for (int64_t b = 0; b < B && st == NC_OK; b++) {
        out[b].hyps = nc_malloc(sizeof(nc_rnnt_hyp));
        if (!out[b].hyps) {
            st = nc_error(NC_ERR_OOM, "RNNT beam: hypotheses");
            break;
        }
        out[b].hyps[0] = hyps[b];
        out[b].n = 1;
        memset(&hyps[b], 0, sizeof hyps[b]);
    }
    for (int64_t b = 0; b < B; b++) nc_rnnt_hyp_free(&hyps[b]);
    nc_free(hyps);
    return st;
}

static void ws_free(beam_ws *w) {
    nc_free(w->nodes);
    nc_free(w->data);
    nc_free(w->emits);
    hl_free(&w->A);
    hl_free(&w->K);
    hl_free(&w->tmp);
    hl_free(&w->sel);
    nc_free(w->logits);
    nc_free(w->top_tok);
    nc_free(w->sums);
}

nc_status nc_rnnt_beam_decode(nc_ctx *ctx, const nc_rnnt_decoder *dec, const nc_rnnt_joint *joint, nc_tensor *enc,
                              const int64_t *lengths, const nc_rnnt_beam_params *bp, nc_rnnt_nbest *out) {
    nc_status st = check_args(dec, joint, enc, lengths, bp);
    if (st) return st;
    const int64_t B = enc->shape[0], T = enc->shape[1];
    memset(out, 0, (size_t)B * sizeof *out);
    const bool tdt = bp->durations != NULL;
    if (!tdt && bp->beam_size == 1) {
        st = greedy_fallback(ctx, dec, joint, enc, lengths, out);
        if (st)
            for (int64_t b = 0; b < B; b++) nc_rnnt_nbest_free(&out[b]);
        return st ? nc_error_prefix(st, "RNNT beam search (beam_size 1: greedy)") : NC_OK;
    }
    beam_ws w = {.dec = dec, .joint = joint, .J = joint->hp.joint_hidden, .C = joint->n_out, .blank = dec->blank,
                 .LH = (int64_t)dec->hp.pred_rnn_layers * dec->hp.pred_hidden};
    const int64_t K = bp->beam_size, nd = tdt ? bp->n_durations : 1;
    float *f_all = nc_malloc((size_t)(B * T * w.J > 0 ? B * T * w.J : 1) * sizeof(float));
    w.logits = nc_malloc((size_t)(2 * w.C) * sizeof(float));
    w.top_tok = nc_malloc((size_t)(2 * K + K * nd) * sizeof(int64_t));
    w.sums = nc_malloc((size_t)(K * nd) * sizeof(float));
    if (!f_all || !w.logits || !w.top_tok || !w.sums) {
        nc_free(f_all);
        ws_free(&w);
        return nc_error(NC_ERR_OOM, "RNNT beam: buffers");
    }
    w.logp = w.logits + w.C;
    w.top_dur = w.top_tok + K;
    w.top_sum = w.top_dur + K;

    bool grad = nc_set_grad_enabled(ctx, false);
    bool train = nc_training(ctx);
    nc_set_training(ctx, false); /* decoder.eval(), joint.eval() */
    {
        nc_arena_mark m = nc_arena_mark_get(nc_ctx_arena(ctx));
        nc_tensor *f = nc_rnnt_joint_project_encoder(ctx, joint, enc);
        st = nc_ctx_status(ctx);
        if (st == NC_OK) memcpy(f_all, nc_f32(f), (size_t)(B * T * w.J) * sizeof(float));
        nc_arena_rewind(nc_ctx_arena(ctx), m);
    }
    for (int64_t b = 0; b < B && st == NC_OK; b++) {
        /* a fresh cache and the start hypothesis [blank] with score 0 */
        w.n_nodes = w.n_data = w.n_emits = 0;
        w.A.n = w.K.n = 0;
        if (nc_vec_reserve(&w.nodes, &w.cap_nodes, 1, sizeof(pnode))) {
            st = NC_ERR_OOM;
            break;
        }
        w.nodes[w.n_nodes++] = (pnode){.parent = -1, .token = dec->blank, .child = -1, .sibling = -1,
                                       .depth = 0, .data = -1};
        if ((st = hl_push(&w.K, (bhyp){.score = 0.0, .node = 0, .emit = -1, .last_frame = 0}))) break;
        const float *f = f_all + b * T * w.J;
        st = tdt ? search_tdt(ctx, &w, f, lengths[b], K, bp->durations, bp->n_durations)
                 : search_rnnt(ctx, &w, f, lengths[b], K);
        if (st == NC_OK) st = collect(&w, bp->score_norm, bp->return_best_hypothesis, &out[b]);
    }
    nc_set_training(ctx, train);
    nc_set_grad_enabled(ctx, grad);
    nc_free(f_all);
    ws_free(&w);
    if (st != NC_OK) {
        for (int64_t b = 0; b < B; b++) nc_rnnt_nbest_free(&out[b]);
        return nc_error_prefix(st, tdt ? "TDT beam search" : "RNNT beam search");
    }
    return NC_OK;
}
