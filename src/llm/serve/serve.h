/* Internal types of the text-generation server (include/nemoc/llm_serve.h):
 * a parsed request (srv_req), the server (nc_serve), the request parser
 * (serve_parse.c), the answers (serve_reply.c), the batching queue and the
 * generation thread (serve_batch.c) and the HTTP side (serve_http.c). */
#ifndef NC_LLM_SERVE_INTERNAL_H
#define NC_LLM_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "nemoc/llm_gpt.h"
#include "nemoc/llm_serve.h"
#include "nemoc/tokenizer.h"

typedef enum srv_api { SRV_API_NEMO, SRV_API_COMPLETION, SRV_API_CHAT } srv_api;

typedef enum srv_finish { SRV_RUNNING = 0, SRV_FIN_STOP, SRV_FIN_LENGTH, SRV_FIN_CANCELLED } srv_finish;

/* A growable byte buffer (answers, server-sent events). */
typedef struct srv_buf {
    char *p;
    size_t n, cap;
} srv_buf;
bool srv_buf_put(srv_buf *b, const char *s, size_t n);
void srv_buf_free(srv_buf *b);

/* One prompt of a request and what has been generated for it. */
typedef struct srv_seq {
    int32_t *ids; /* the prompt (bos included when add_BOS) */
    int64_t n;
    int32_t *gen; /* generated ids */
    int64_t n_gen, cap_gen;
    char *prompt_text; /* the decoded prompt: the completion is what follows it */
    size_t sent;       /* bytes of completion text already streamed */
    srv_finish finish;
} srv_seq;

typedef enum srv_state { SRV_QUEUED, SRV_RUNNING_STATE, SRV_DONE } srv_state;

typedef struct srv_req {
    srv_api api;
    bool stream;
    int64_t n_seq;
    srv_seq *seq;
    /* sampling: the parameters that must be equal to share a generate call
     * (srv_same_group); max_new_tokens and stops are per request */
    nc_gen_params gp;
    int64_t max_new;
    char **stops; /* end strings */
    int64_t n_stops;
    bool strip_stop; /* OpenAI: the answer ends before the stop string */
    char id[48];     /* "cmpl-..." */
    long long created;
    char *model_name;
    double t_arrive;
    /* under the server's mutex */
    srv_state state;
    int refs;
    int http_status; /* non-zero: failed with this status and errmsg */
    char errmsg[320];
    srv_buf events;    /* streamed server-sent events so far */
    size_t events_off; /* bytes the HTTP side has sent */
    atomic_bool cancelled;
    struct srv_req *next;
} srv_req;

struct nc_serve {
    nc_model *model;
    const nc_tokenizer *tok;
    nc_serve_params p;
    char host[64];
    char model_name[128];
    int64_t ctx_len; /* the model's context in tokens */
    int32_t eos_id, bos_id;
    void *daemon; /* struct MHD_Daemon */
    int port;
    pthread_t worker;
    bool worker_started;
    pthread_mutex_t mu; /* queue, request state, stats (the tokenizer is read-only) */
    pthread_cond_t cv;  /* the queue changed / a request progressed */
    srv_req *head, *tail;
    int64_t queued;
    bool stopping;
    int64_t live; /* requests whose connection has not completed yet */
    uint64_t next_id;
    nc_serve_stats stats;
};

/* ---- serve_parse.c ---- */
/* Parses and validates a request body for api; tokenizes its prompts. On a
 * client error returns NULL with *status (400, ...) and msg/param set. */
srv_req *srv_parse(nc_serve *s, srv_api api, const char *body, size_t len, int *status, char *msg, size_t msg_cap,
                   const char **param);
void srv_req_free(srv_req *r);
/* NeMo's SFT chat prompt for OpenAI messages (documented in serve_parse.c). */
bool srv_chat_prompt(const void *messages_json, srv_buf *out, char *msg, size_t msg_cap);

/* ---- serve_reply.c ---- */
/* The JSON answer of a finished request (nc_free it); NULL when out of memory. */
char *srv_reply(nc_serve *s, const srv_req *r);
/* {"error": {"message", "type", "param", "code"}} (nc_free it). */
char *srv_error_json(int status, const char *msg, const char *param);
/* Appends the server-sent event of new completion text of sequence b
 * (finish set: its final event); mutex held. */
bool srv_stream_delta(const nc_serve *s, srv_req *r, int64_t b, const char *text, size_t n, bool final);
/* Where an OpenAI answer's text ends: before the first stop string. */
size_t srv_stop_cut(const srv_req *r, const char *text);
/* The completion text of sequence b so far (nc_free it): what follows the
 * prompt in the decoded prompt + generated ids; mutex held. */
char *srv_completion_text(const nc_serve *s, const srv_seq *q);

/* ---- serve_batch.c ---- */
/* Queues r (takes a reference); false (503) when the queue is full or the
 * server is stopping. */
bool srv_enqueue(nc_serve *s, srv_req *r, char *msg, size_t msg_cap);
void *srv_worker_main(void *arg);
void srv_req_release(nc_serve *s, srv_req *r); /* mutex held */
/* Answers every queued request 503 (mutex held; on stop). */
void srv_fail_queued(nc_serve *s);

/* ---- serve_http.c ---- */
nc_status srv_http_start(nc_serve *s);
void srv_http_stop(nc_serve *s);

#endif
