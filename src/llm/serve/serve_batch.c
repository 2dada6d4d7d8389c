/* The request queue and the generation thread: static batching.
 *
 * One thread owns the model. It takes the oldest queued request, waits up
 * to batch_wait_ms from that request's arrival for others, and runs it
 * together with the queued requests that can share its sampling (same
 * greedy flag and min_tokens_to_generate; when sampling, also the same
 * temperature, top_k, top_p, repetition_penalty and seed: one
 * nc_gpt_generate call draws from one generator with one set of
 * parameters), up to max_batch sequences, as ONE nc_gpt_generate call: one
 * forward per step for all of them. Requests that cannot share wait for a
 * later call, in arrival order. A request with more prompts than max_batch
 * runs alone. What may differ inside a call is enforced per sequence through
 * the token callback: each request's own max_tokens, its own stop strings,
 * and a client gone away (its sequence stops; NeMo's generate has no such
 * hook, nc_gen_token_fn's return value is it). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "llm/serve/serve.h"
#include "nemoc/alloc.h"
#include "nemoc/log.h"

static double now_rt(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void srv_req_release(nc_serve *s, srv_req *r) {
    (void)s;
    if (--r->refs == 0) srv_req_free(r);
}

bool srv_enqueue(nc_serve *s, srv_req *r, char *msg, size_t msg_cap) {
    pthread_mutex_lock(&s->mu);
    bool ok = false;
    if (s->stopping) {
        snprintf(msg, msg_cap, "the server is shutting down");
    } else if (s->queued >= s->p.max_queue) {
        snprintf(msg, msg_cap, "the request queue is full (max_queue=%lld requests waiting): retry later",
                 (long long)s->p.max_queue);
    } else {
        ok = true;
        r->refs++;
        r->state = SRV_QUEUED;
        r->t_arrive = now_rt();
        snprintf(r->id, sizeof r->id, "%s-%llx%06llx", r->api == SRV_API_CHAT ? "chatcmpl" : "cmpl",
                 (unsigned long long)r->created, (unsigned long long)++s->next_id);
        if (s->tail) s->tail->next = r;
        else s->head = r;
        s->tail = r;
        s->queued++;
        s->stats.requests++;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static bool same_group(const srv_req *a, const srv_req *b) {
    if (a->gp.greedy != b->gp.greedy || a->gp.min_new_tokens != b->gp.min_new_tokens) return false;
    if (a->gp.greedy) return true;
    return a->gp.temperature == b->gp.temperature && a->gp.top_k == b->gp.top_k && a->gp.top_p == b->gp.top_p &&
           a->gp.repetition_penalty == b->gp.repetition_penalty && a->gp.seed == b->gp.seed;
}

/* Sequences queued that could share a call with the head. */
static int64_t company(const nc_serve *s) {
    int64_t n = 0;
    for (const srv_req *r = s->head; r; r = r->next)
        if (same_group(s->head, r)) n += r->n_seq;
    return n;
}

/* ---- streaming: text as it grows ---- */
/* Bytes at the end of text that may begin a stop string (held back until
 * the next token shows whether the stop string follows) or an unfinished
 * UTF-8 character (decoded as U+FFFD). */
static size_t hold_back(const srv_req *r, const char *text, size_t len) {
    size_t hold = 0;
    for (int64_t i = 0; i < r->n_stops; i++) {
        const size_t sl = strlen(r->stops[i]);
        for (size_t k = sl - 1 < len ? sl - 1 : len; k > hold; k--)
            if (!memcmp(text + len - k, r->stops[i], k)) {
                hold = k;
                break;
            }
    }
    if (len >= 3 && !memcmp(text + len - 3, "\xEF\xBF\xBD", 3) && hold < 3) hold = 3;
    return hold;
}

/* Emits what is new in sequence b's text; final: all of it and the finish. */
static void stream_step(nc_serve *s, srv_req *r, int64_t b, const char *text, bool final) {
    srv_seq *q = &r->seq[b];
    size_t end = r->strip_stop ? srv_stop_cut(r, text) : strlen(text);
    if (!final) {
        const size_t h = hold_back(r, text, end);
        end = end > h ? end - h : 0;
    }
    if (end < q->sent) end = q->sent; /* decoding never takes back what was sent */
    if (end == q->sent && !final) return;
    const size_t len = strlen(text);
    if (!srv_stream_delta(s, r, b, text + (q->sent < len ? q->sent : len), end - q->sent, final))
        nc_log_msg(NC_LOG_WARN, "llm serve: out of memory streaming %s", r->id);
    q->sent = end;
}

typedef struct batch {
    nc_serve *s;
    srv_req **req; /* (B) the request of each sequence */
    int64_t *idx;  /* (B) its prompt index there */
} batch;

static int on_token(void *user, int64_t b, int32_t id, const char *piece) {
    (void)piece;
    batch *bt = user;
    nc_serve *s = bt->s;
    srv_req *r = bt->req[b];
    srv_seq *q = &r->seq[bt->idx[b]];
    int stop = 0;
    pthread_mutex_lock(&s->mu);
    if (q->n_gen == q->cap_gen) {
        int64_t cap = q->cap_gen ? 2 * q->cap_gen : 32;
        int32_t *g = nc_realloc(q->gen, (size_t)cap * sizeof(int32_t));
        if (!g) {
            q->finish = SRV_FIN_LENGTH;
            pthread_mutex_unlock(&s->mu);
            return 1;
        }
        q->gen = g, q->cap_gen = cap;
    }
    q->gen[q->n_gen++] = id;
    if (atomic_load(&r->cancelled)) {
        nc_log_msg(NC_LOG_INFO, "llm serve: %s: the client went away; its sequence stopped after %lld tokens", r->id,
                   (long long)q->n_gen);
        q->finish = SRV_FIN_CANCELLED;
        stop = 1;
    } else {
        char *text = NULL;
        if (id == s->eos_id) q->finish = SRV_FIN_STOP; /* nc_gpt_generate stops it */
        if (r->n_stops || r->stream) text = srv_completion_text(s, q);
        for (int64_t i = 0; text && i < r->n_stops && !q->finish; i++)
            if (strstr(text, r->stops[i])) q->finish = SRV_FIN_STOP, stop = 1;
        if (!q->finish && q->n_gen >= r->max_new) q->finish = SRV_FIN_LENGTH, stop = 1;
        if (r->stream && text && !q->finish) stream_step(s, r, bt->idx[b], text, false);
        nc_free(text);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* Marks r done (mutex held): the last events of a stream, the waiters woken. */
static void finish_req(nc_serve *s, srv_req *r) {
    for (int64_t b = 0; b < r->n_seq; b++) {
        srv_seq *q = &r->seq[b];
        if (!q->finish) q->finish = SRV_FIN_LENGTH; /* the context's end */
        if (r->stream && !r->http_status) {
            char *text = srv_completion_text(s, q);
            stream_step(s, r, b, text ? text : "", true);
            nc_free(text);
        }
    }
    if (r->stream && r->http_status) {
        char *e = srv_error_json(r->http_status, r->errmsg, NULL);
        if (e) srv_buf_put(&r->events, "data: ", 6), srv_buf_put(&r->events, e, strlen(e)),
            srv_buf_put(&r->events, "\n\n", 2);
        nc_free(e);
    }
    if (r->stream) srv_buf_put(&r->events, "data: [DONE]\n\n", 14);
    r->state = SRV_DONE;
    pthread_cond_broadcast(&s->cv);
}

static void run_batch(nc_serve *s, srv_req **reqs, int64_t n_req) {
    int64_t B = 0, max_new = 0;
    for (int64_t i = 0; i < n_req; i++) {
        B += reqs[i]->n_seq;
        if (reqs[i]->max_new > max_new) max_new = reqs[i]->max_new;
    }
    const int32_t **ids = nc_calloc((size_t)B, sizeof *ids);
    int64_t *n = nc_calloc((size_t)B, sizeof *n), *idx = nc_calloc((size_t)B, sizeof *idx);
    int64_t *out_n = nc_calloc((size_t)B, sizeof *out_n);
    int32_t **out = nc_calloc((size_t)B, sizeof *out);
    srv_req **map = nc_calloc((size_t)B, sizeof *map);
    nc_status st = NC_ERR_OOM;
    if (ids && n && idx && out_n && out && map) {
        int64_t b = 0;
        for (int64_t i = 0; i < n_req; i++)
            for (int64_t k = 0; k < reqs[i]->n_seq; k++, b++) {
                ids[b] = reqs[i]->seq[k].ids, n[b] = reqs[i]->seq[k].n;
                map[b] = reqs[i], idx[b] = k;
            }
        nc_gen_params gp = reqs[0]->gp;
        gp.max_new_tokens = max_new;
        gp.stop_strings = NULL;
        batch bt = {.s = s, .req = map, .idx = idx};
        st = nc_gpt_generate(s->model, B, ids, n, &gp, on_token, &bt, out, out_n, NULL);
        if (!st)
            for (int64_t q = 0; q < B; q++) nc_free(out[q]);
    }
    pthread_mutex_lock(&s->mu);
    s->stats.calls++;
    s->stats.sequences += B;
    if (B > s->stats.max_call_batch) s->stats.max_call_batch = B;
    for (int64_t i = 0; i < n_req; i++) {
        if (st) {
            reqs[i]->http_status = 500;
            snprintf(reqs[i]->errmsg, sizeof reqs[i]->errmsg, "generation failed: %s",
                     st == NC_ERR_OOM && !ids ? "out of memory" : nc_last_error());
        }
        finish_req(s, reqs[i]);
        srv_req_release(s, reqs[i]);
    }
    pthread_mutex_unlock(&s->mu);
    nc_free(ids), nc_free(n), nc_free(idx), nc_free(out_n), nc_free(out), nc_free(map);
}

static void wait_until(nc_serve *s, double t) {
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

void *srv_worker_main(void *arg) {
    nc_serve *s = arg;
    srv_req **take = nc_calloc((size_t)(s->p.max_batch + 1), sizeof *take);
    pthread_mutex_lock(&s->mu);
    while (take) {
        while (!s->stopping && !s->head) pthread_cond_wait(&s->cv, &s->mu);
        if (s->stopping) break;
        const double deadline = s->head->t_arrive + 1e-3 * (double)s->p.batch_wait_ms;
        while (!s->stopping && s->head && company(s) < s->p.max_batch && now_rt() < deadline) wait_until(s, deadline);
        if (s->stopping) break;
        /* the head and whoever can share its call, in arrival order */
        int64_t n_take = 0, seqs = 0;
        srv_req *head = s->head, *prev = NULL;
        for (srv_req *r = s->head, *next; r; r = next) {
            next = r->next;
            const bool fits = r == head || (same_group(head, r) && seqs + r->n_seq <= s->p.max_batch);
            if (fits && n_take < s->p.max_batch) {
                take[n_take++] = r;
                seqs += r->n_seq;
                if (prev) prev->next = next;
                else s->head = next;
                if (s->tail == r) s->tail = prev;
                r->next = NULL;
                r->state = SRV_RUNNING_STATE;
                s->queued--;
            } else {
                prev = r;
            }
            if (seqs >= s->p.max_batch) break;
        }
        pthread_mutex_unlock(&s->mu);
        run_batch(s, take, n_take);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    nc_free(take);
    return NULL;
}

void srv_fail_queued(nc_serve *s) {
    /* mutex held: every waiting request is answered 503 */
    for (srv_req *r = s->head, *next; r; r = next) {
        next = r->next;
        r->next = NULL;
        r->http_status = 503;
        snprintf(r->errmsg, sizeof r->errmsg, "the server is shutting down");
        finish_req(s, r);
        srv_req_release(s, r);
    }
    s->head = s->tail = NULL;
    s->queued = 0;
}
