/* `nemoc llm serve`: an HTTP server for a MegatronGPTModel, with NeMo's
 * text-generation API (nemo/collections/nlp/modules/common/
 * text_generation_server.py: PUT /generate) and its OpenAI-style
 * /v1/completions and /v1/chat/completions (server-sent events when
 * `stream` is true). Requests that arrive within batch_wait_ms and share
 * sampling parameters run as one nc_gpt_generate call (static batching).
 * docs/llm_serve.md describes the endpoints, fields and errors. */
#ifndef NEMOC_LLM_SERVE_H
#define NEMOC_LLM_SERVE_H

#include <stdint.h>

#include "nemoc/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_serve_params {
    const char *host;       /* "127.0.0.1": loopback unless asked (IPv4 name or address) */
    int port;               /* 5555; 0 lets the system pick a free one (nc_serve_port) */
    int64_t max_batch;      /* 8: sequences per nc_gpt_generate call; 1 turns batching off */
    int64_t batch_wait_ms;  /* 5: how long the first queued request waits for company */
    int64_t max_queue;      /* 64: requests waiting; one more is answered 503 */
    int64_t max_body;       /* 1 MiB: a larger request body is answered 413 */
    int64_t max_tokens_cap; /* 0: the model's context; tokens_to_generate/max_tokens are clamped to it */
    const char *model_name; /* "model" field of OpenAI-style answers ("nemo model", NeMo's) */
} nc_serve_params;

nc_serve_params nc_serve_default_params(void);

typedef struct nc_serve nc_serve;

/* Starts listening (a listener thread per connection and one generation
 * thread that owns the model). The model must stay alive until
 * nc_serve_stop returns and must not be used by anyone else meanwhile. */
nc_status nc_serve_start(nc_model *m, const nc_serve_params *p, nc_serve **out);

/* The port bound (the chosen one when port was 0). */
int nc_serve_port(const nc_serve *s);

typedef struct nc_serve_stats {
    int64_t requests;  /* accepted for generation */
    int64_t rejected;  /* answered with an error status */
    int64_t calls;     /* nc_gpt_generate calls */
    int64_t sequences; /* sequences generated (sum of the calls' batch sizes) */
    int64_t max_call_batch;
} nc_serve_stats;
nc_serve_stats nc_serve_get_stats(nc_serve *s);

/* Graceful stop: new and waiting requests are answered 503, the running
 * generate call finishes and its answers are sent, the listener closes;
 * then everything is freed. NULL is a no-op. */
void nc_serve_stop(nc_serve *s);

#ifdef __cplusplus
}
#endif
#endif
