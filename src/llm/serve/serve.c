/* The text-generation server's life: start (the model's context and special
 * ids, the generation thread, the listener), statistics, graceful stop. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "llm/serve/serve.h"
#include "nemoc/alloc.h"
#include "nemoc/config.h"

nc_serve_params nc_serve_default_params(void) {
    return (nc_serve_params){.host = "127.0.0.1", .port = 5555, .max_batch = 8, .batch_wait_ms = 5,
                             .max_queue = 64, .max_body = 1 << 20, .max_tokens_cap = 0, .model_name = "nemo model"};
}

nc_status nc_serve_start(nc_model *m, const nc_serve_params *p, nc_serve **out) {
    *out = NULL;
    nc_status st = nc_model_expect(m, "llm", false, "a language model", "model");
    if (st) return st;
    const nc_tokenizer *tok = nc_gpt_tokenizer(m);
    if (!tok) return nc_error(NC_ERR_UNSUPPORTED, "llm serve: the model names no tokenizer (model.tokenizer)");
    if (p->max_batch < 1 || p->batch_wait_ms < 0 || p->max_queue < 1 || p->max_body < 1 || p->max_tokens_cap < 0 ||
        p->port < 0 || p->port > 65535)
        return nc_error(NC_ERR_INVALID_ARG,
                        "llm serve: max_batch, max_queue and max_body must be >= 1, batch_wait_ms and "
                        "max_tokens_cap >= 0, port in [0, 65535]");
    nc_serve *s = nc_calloc(1, sizeof *s);
    if (!s) return nc_error(NC_ERR_OOM, "llm serve: server");
    s->model = m;
    s->tok = tok;
    s->p = *p;
    snprintf(s->host, sizeof s->host, "%s", p->host ? p->host : "127.0.0.1");
    snprintf(s->model_name, sizeof s->model_name, "%s", p->model_name ? p->model_name : "nemo model");
    s->p.host = s->host;
    s->p.model_name = s->model_name;
    nc_tokenizer_special sp = nc_tokenizer_special_ids(tok);
    /* as `nemoc llm generate`: bos, else <|endoftext|> (GPT-2 BPE) */
    s->bos_id = sp.bos_id >= 0 ? sp.bos_id : nc_tokenizer_piece_to_id(tok, "<|endoftext|>");
    s->eos_id = sp.eos_id >= 0 ? sp.eos_id : nc_tokenizer_piece_to_id(tok, "<|endoftext|>");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->ctx_len = nc_gpt_context(m); /* prompts longer than it are refused with 400 */
    if (pthread_create(&s->worker, NULL, srv_worker_main, s)) {
        nc_serve_stop(s);
        return nc_error(NC_ERR_INTERNAL, "llm serve: cannot start the generation thread");
    }
    s->worker_started = true;
    if ((st = srv_http_start(s))) {
        nc_serve_stop(s);
        return st;
    }
    *out = s;
    return NC_OK;
}

int nc_serve_port(const nc_serve *s) { return s->port; }

nc_serve_stats nc_serve_get_stats(nc_serve *s) {
    pthread_mutex_lock(&s->mu);
    nc_serve_stats st = s->stats;
    pthread_mutex_unlock(&s->mu);
    return st;
}

void nc_serve_stop(nc_serve *s) {
    if (!s) return;
    /* no new requests; the waiting ones get 503; the running call finishes
     * (its requests are bounded by their max_tokens) */
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    srv_fail_queued(s);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->worker_started) pthread_join(s->worker, NULL);
    /* every request is done now; MHD_stop_daemon would cut the answers still
     * being sent (a stream's last chunk), so wait for them (10 s at most) */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&s->mu);
    while (s->live > 0 && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0) {
    }
    pthread_mutex_unlock(&s->mu);
    srv_http_stop(s);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    nc_free(s);
}
