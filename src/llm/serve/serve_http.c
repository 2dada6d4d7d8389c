/* The HTTP side of the text-generation server, on libmicrohttpd with a
 * thread per connection (a handler may block until its request is done; a
 * streamed answer's reader blocks until the generation thread has new
 * events). Routes, as NeMo's MegatronServer registers them:
 *   PUT  /generate              NeMo's text-generation API
 *   POST /v1/completions        OpenAI-style completion (NeMo's completion)
 *   POST /v1/chat/completions   OpenAI-style chat (NeMo's chat_completion)
 * Every error is a JSON body {"error": {message, type, param, code}}: 404
 * unknown path, 405 wrong method (with Allow), 413 body over max_body, 400
 * malformed JSON or a bad field, 503 queue full or shutting down, 500 a
 * failed generation. A client that goes away is noticed when MHD fails to
 * send to it (the completion callback); its sequences then stop at their
 * next token. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "llm/serve/serve.h"
#include "nemoc/alloc.h"
#include "nemoc/log.h"

typedef struct conn {
    srv_api api;
    int route_status; /* 0; 404, 405 or 413 answered on the headers; -1 answered after the body */
    const char *allow;
    srv_buf body;
    bool too_big;
    srv_req *req;
} conn;

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type, char *text,
                                 const char *allow) {
    static char oom[] = "{\"error\": {\"message\": \"out of memory\", \"type\": \"server_error\", "
                        "\"param\": null, \"code\": 500}}";
    struct MHD_Response *r = text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_COPY)
                                  : MHD_create_response_from_buffer(strlen(oom), oom, MHD_RESPMEM_PERSISTENT);
    if (!text) status = 500, type = "application/json";
    nc_free(text);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    if (allow) MHD_add_response_header(r, "Allow", allow);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(nc_serve *s, struct MHD_Connection *c, unsigned status, const char *msg,
                                  const char *param, const char *allow) {
    pthread_mutex_lock(&s->mu);
    s->stats.rejected++;
    pthread_mutex_unlock(&s->mu);
    return send_text(c, status, "application/json", srv_error_json((int)status, msg, param), allow);
}

/* Routes a path and method: 0, or 404 / 405 with the allowed method. */
static int route(const char *url, const char *method, srv_api *api, const char **allow) {
    const char *want;
    if (!strcmp(url, "/generate")) *api = SRV_API_NEMO, want = "PUT";
    else if (!strcmp(url, "/v1/completions")) *api = SRV_API_COMPLETION, want = "POST";
    else if (!strcmp(url, "/v1/chat/completions")) *api = SRV_API_CHAT, want = "POST";
    else return 404;
    *allow = want;
    return strcmp(method, want) ? 405 : 0;
}

/* A streamed answer: the events the generation thread has appended. */
typedef struct stream {
    nc_serve *s;
    srv_req *r;
} stream;

static ssize_t read_events(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream *st = cls;
    srv_req *r = st->r;
    pthread_mutex_lock(&st->s->mu);
    while (r->events_off == r->events.n && r->state != SRV_DONE) pthread_cond_wait(&st->s->cv, &st->s->mu);
    size_t k = r->events.n - r->events_off;
    if (k > max) k = max;
    if (k) memcpy(buf, r->events.p + r->events_off, k);
    r->events_off += k;
    pthread_mutex_unlock(&st->s->mu);
    return k ? (ssize_t)k : MHD_CONTENT_READER_END_OF_STREAM;
}

static void free_stream(void *cls) {
    stream *st = cls;
    pthread_mutex_lock(&st->s->mu);
    srv_req_release(st->s, st->r);
    pthread_mutex_unlock(&st->s->mu);
    nc_free(st);
}

/* The last call of a request: parse, queue, then answer or stream. */
static enum MHD_Result run(nc_serve *s, struct MHD_Connection *c, conn *cn) {
    char msg[320];
    const char *param = NULL;
    int status = 0;
    if (cn->too_big) {
        snprintf(msg, sizeof msg, "the request body is larger than max_body=%lld bytes", (long long)s->p.max_body);
        return send_error(s, c, 413, msg, NULL, NULL);
    }
    srv_req *r = srv_parse(s, cn->api, cn->body.p ? cn->body.p : "", cn->body.n, &status, msg, sizeof msg, &param);
    if (!r) return send_error(s, c, (unsigned)status, msg, param, NULL);
    r->refs = 1; /* the connection's */
    cn->req = r;
    pthread_mutex_lock(&s->mu);
    s->live++;
    pthread_mutex_unlock(&s->mu);
    if (!srv_enqueue(s, r, msg, sizeof msg)) return send_error(s, c, 503, msg, NULL, NULL);
    if (r->stream) {
        stream *st = nc_malloc(sizeof *st);
        struct MHD_Response *resp =
            st ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_events, st, free_stream) : NULL;
        if (!resp) {
            nc_free(st);
            atomic_store(&r->cancelled, true);
            return send_text(c, 500, "application/json", srv_error_json(500, "out of memory", NULL), NULL);
        }
        pthread_mutex_lock(&s->mu);
        r->refs++; /* the response's, released by free_stream */
        pthread_mutex_unlock(&s->mu);
        *st = (stream){.s = s, .r = r};
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        enum MHD_Result ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    pthread_mutex_lock(&s->mu);
    while (r->state != SRV_DONE) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    /* done: the generation thread no longer touches r */
    if (r->http_status) return send_error(s, c, (unsigned)r->http_status, r->errmsg, NULL, NULL);
    return send_text(c, 200, "application/json", srv_reply(s, r), NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    nc_serve *s = cls;
    conn *cn = *con_cls;
    if (!cn) {
        /* the first call: headers only */
        if (!(cn = nc_calloc(1, sizeof *cn))) return MHD_NO;
        *con_cls = cn;
        cn->route_status = route(url, method, &cn->api, &cn->allow);
        if (cn->route_status == 404) {
            char msg[320];
            snprintf(msg, sizeof msg, "no endpoint %s: PUT /generate, POST /v1/completions, POST /v1/chat/completions",
                     url);
            return send_error(s, c, 404, msg, NULL, NULL);
        }
        if (cn->route_status == 405) {
            char msg[128];
            snprintf(msg, sizeof msg, "%s takes %s, not %s", url, cn->allow, method);
            return send_error(s, c, 405, msg, NULL, cn->allow);
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoll(cl, NULL, 10) > s->p.max_body) {
            cn->route_status = 413; /* answered now; the body is dropped */
            char msg[128];
            snprintf(msg, sizeof msg, "the request body (%s bytes) is larger than max_body=%lld bytes", cl,
                     (long long)s->p.max_body);
            return send_error(s, c, 413, msg, NULL, NULL);
        }
        return MHD_YES;
    }
    if (cn->route_status) {
        *upload_size = 0; /* answered already; the body is dropped */
        return MHD_YES;
    }
    if (*upload_size) {
        if (cn->too_big || cn->body.n + *upload_size > (size_t)s->p.max_body) {
            cn->too_big = true; /* read and dropped: the answer is 413 */
            srv_buf_free(&cn->body);
        } else if (!srv_buf_put(&cn->body, upload, *upload_size)) {
            return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cn->req) return MHD_YES; /* already answered */
    cn->route_status = -1;        /* answered from here on */
    return run(s, c, cn);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why) {
    (void)c;
    nc_serve *s = cls;
    conn *cn = *con_cls;
    if (!cn) return;
    if (cn->req) {
        /* a client gone away mid-stream: its sequences stop at their next token */
        if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK) atomic_store(&cn->req->cancelled, true);
        pthread_mutex_lock(&s->mu);
        srv_req_release(s, cn->req);
        s->live--;
        pthread_cond_broadcast(&s->cv); /* nc_serve_stop waits for the last answers */
        pthread_mutex_unlock(&s->mu);
    }
    srv_buf_free(&cn->body);
    nc_free(cn);
    *con_cls = NULL;
}

nc_status srv_http_start(nc_serve *s) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->p.port)};
    if (inet_pton(AF_INET, s->host, &sa.sin_addr) != 1) {
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
        if (getaddrinfo(s->host, NULL, &hints, &res) || !res)
            return nc_error(NC_ERR_INVALID_ARG, "host=%s: not an IPv4 address or a name that resolves to one",
                            s->host);
        sa.sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
        freeaddrinfo(res);
    }
    const unsigned limit = (unsigned)(s->p.max_queue + s->p.max_batch + 64);
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                     MHD_USE_ERROR_LOG,
                                 (uint16_t)s->p.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sa,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT, limit,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_END);
    if (!s->daemon)
        return nc_error(NC_ERR_IO, "host=%s port=%d: cannot listen (address in use or not local?)", s->host,
                        s->p.port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? (int)di->port : s->p.port;
    return NC_OK;
}

void srv_http_stop(nc_serve *s) {
    if (s->daemon) MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}
