/* `nemoc llm serve`: NeMo's megatron_gpt_eval.py with server=True (its
 * MegatronServer: PUT /generate, POST /v1/completions, POST
 * /v1/chat/completions) for a model file, with static batching of
 * concurrent requests (include/nemoc/llm_serve.h, docs/llm_serve.md).
 *
 *   nemoc llm serve model=M.nemo [port=5555] [host=127.0.0.1] [max_batch=8] ...
 *
 * SIGINT / SIGTERM stop it gracefully. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "nemoc/alloc.h"
#include "nemoc/collections.h"
#include "nemoc/llm_serve.h"

static void usage(void) {
    puts("usage: nemoc llm serve model=M.nemo [options]\n\n"
         "Serves a GPT model over HTTP (megatron_gpt_eval.py server=True; docs/llm_serve.md):\n"
         "  PUT  /generate              NeMo's text-generation API (sentences, tokens_to_generate, ...)\n"
         "  POST /v1/completions        OpenAI-style completion (prompt, max_tokens, stop, stream)\n"
         "  POST /v1/chat/completions   OpenAI-style chat (messages; NeMo's SFT chat template)\n"
         "Options:\n"
         "  model=PATH | gpt_model_file=PATH   .nemo or nemoc .ckpt of a MegatronGPTModel\n"
         "  host=127.0.0.1    address to listen on (loopback unless asked)\n"
         "  port=5555         0: a free port (printed)\n"
         "  max_batch=8       sequences per generate call (1: no batching)\n"
         "  batch_wait_ms=5   how long the first request waits for others to batch with\n"
         "  max_queue=64      waiting requests; more are answered 503\n"
         "  max_body=1048576  request body bytes; larger is answered 413\n"
         "  max_tokens_cap=0  clamp tokens_to_generate / max_tokens (0: the model's context)\n"
         "  model_name=\"nemo model\"  the model field of OpenAI-style answers\n"
         "SIGINT or SIGTERM: stop taking requests, finish the running ones, exit.");
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

static const char *const keys[] = {"model", "gpt_model_file", "model_path", "host", "port", "max_batch",
                                   "batch_wait_ms", "max_queue", "max_body", "max_tokens_cap", "model_name",
                                   NULL};

int nc_cmd_llm_serve(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        }
    nc_cfg *a = NULL;
    nc_model *m = NULL;
    nc_serve *srv = NULL;
    int rc = 1;
    if (nc_cfg_parse("{}", 2, "arguments", &a)) goto fail;
    for (int i = 1; i < argc; i++) {
        char *o = nc_malloc(strlen(argv[i]) + 3);
        if (!o) goto fail;
        sprintf(o, "++%s", argv[i][0] == '+' ? argv[i] + strspn(argv[i], "+") : argv[i]);
        nc_status s = nc_cfg_apply_override(a, o);
        nc_free(o);
        if (s) goto fail;
    }
    nc_serve_params p = nc_serve_default_params();
    const char *path = NULL;
    int64_t port = p.port;
    if (nc_cfg_check_keys(a, "", keys) || nc_cfg_get_str_or(a, "model", NULL, &path) ||
        (!path && nc_cfg_get_str_or(a, "gpt_model_file", NULL, &path)) ||
        (!path && nc_cfg_get_str_or(a, "model_path", NULL, &path)) ||
        nc_cfg_get_str_or(a, "host", p.host, &p.host) || nc_cfg_get_int_in_or(a, "port", p.port, 0, 65535, &port) ||
        nc_cfg_get_int_in_or(a, "max_batch", p.max_batch, 1, 4096, &p.max_batch) ||
        nc_cfg_get_int_in_or(a, "batch_wait_ms", p.batch_wait_ms, 0, 60000, &p.batch_wait_ms) ||
        nc_cfg_get_int_in_or(a, "max_queue", p.max_queue, 1, 1 << 20, &p.max_queue) ||
        nc_cfg_get_int_in_or(a, "max_body", p.max_body, 1, (int64_t)1 << 30, &p.max_body) ||
        nc_cfg_get_int_in_or(a, "max_tokens_cap", p.max_tokens_cap, 0, 1 << 24, &p.max_tokens_cap) ||
        nc_cfg_get_str_or(a, "model_name", p.model_name, &p.model_name))
        goto fail;
    p.port = (int)port;
    if (!path) {
        fprintf(stderr, "nemoc llm serve: model=PATH is required (see --help)\n");
        nc_cfg_free(a);
        return 2;
    }
    /* the flag only (a signal while the model loads is seen after it): the main
     * loop below stops the server */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (nc_register_collections() || nc_model_load(path, &m) ||
        nc_model_expect(m, "llm", false, "a language model", path))
        goto fail;
    if (nc_serve_start(m, &p, &srv)) goto fail;
    fprintf(stderr, "nemoc llm serve: %s listening on http://%s:%d (max_batch=%lld, batch_wait_ms=%lld, max_queue=%lld)\n",
            path, p.host, nc_serve_port(srv), (long long)p.max_batch, (long long)p.batch_wait_ms,
            (long long)p.max_queue);
    while (!g_stop) {
        struct timespec t = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    nc_serve_stats st = nc_serve_get_stats(srv);
    fprintf(stderr, "nemoc llm serve: %s: stopping\n", g_stop == SIGINT ? "SIGINT" : "SIGTERM");
    nc_serve_stop(srv);
    fprintf(stderr, "nemoc llm serve: stopped: %lld requests, %lld rejected, %lld generate calls for %lld sequences "
            "(largest batch %lld)\n",
            (long long)st.requests, (long long)st.rejected, (long long)st.calls, (long long)st.sequences,
            (long long)st.max_call_batch);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "nemoc llm serve: %s\n", nc_last_error());
done:
    nc_model_free(m);
    nc_cfg_free(a);
    return rc;
}
