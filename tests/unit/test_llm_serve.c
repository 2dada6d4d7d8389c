/* The text-generation server's request side without HTTP or a model
 * (src/llm/serve/): NeMo's defaults and exact validation messages for PUT
 * /generate (text_generation_server.py MegatronGenerate.put), the OpenAI-style
 * defaults (NeMo's completion / chat_completion), NeMo's SFT chat prompt for
 * messages (gpt_sft_chat_dataset.py with the default chat_prompt_tokens,
 * written out by hand from those functions), prompts over the context,
 * max_tokens_cap, the bounded queue (503 messages), and the JSON error body.
 * The HTTP side, batching and streaming are covered by
 * tests/e2e/llm_serve.sh. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "llm/serve/serve.h"
#include "nc_test.h"
#include "nemoc/alloc.h"

static nc_serve S;

static srv_req *parse(srv_api api, const char *body, int want_status, const char *want_msg) {
    int status = 0;
    char msg[320] = "";
    const char *param = NULL;
    srv_req *r = srv_parse(&S, api, body, strlen(body), &status, msg, sizeof msg, &param);
    if (want_status) {
        CHECK(r == NULL);
        if (status != want_status || !strstr(msg, want_msg))
            nc_test_fail(__FILE__, __LINE__, "%s: status %d '%s', wanted %d with '%s'", body, status, msg,
                         want_status, want_msg);
        srv_req_free(r);
        return NULL;
    }
    if (!r) nc_test_fail(__FILE__, __LINE__, "%s: refused: %d %s", body, status, msg);
    return r;
}

static void nemo_api(void) {
    srv_req *r = parse(SRV_API_NEMO, "{\"sentences\": [\"in the beginning\", \"and god\"]}", 0, NULL);
    if (r) {
        /* MegatronGenerate.put's defaults */
        CHECK(r->n_seq == 2 && r->max_new == 64 && !r->gp.greedy && r->gp.temperature == 1.0 && r->gp.top_k == 0);
        CHECK(r->gp.top_p == 0.9 && r->gp.repetition_penalty == 1.0 && r->gp.min_new_tokens == 0);
        CHECK(r->n_stops == 1 && !strcmp(r->stops[0], "<|endoftext|>") && !r->strip_stop && !r->stream);
        CHECK(r->seq[0].n > 1 && !strcmp(r->seq[0].prompt_text, "in the beginning"));
        srv_req_free(r);
    }
    r = parse(SRV_API_NEMO,
              "{\"sentences\": [\"a\"], \"tokens_to_generate\": 5, \"greedy\": true, \"add_BOS\": true, "
              "\"end_strings\": [\"x\", \"\"], \"top_k\": 3.7, \"random_seed\": 9, \"unknown\": 1}",
              0, NULL);
    if (r) {
        CHECK(r->max_new == 5 && r->gp.greedy && r->gp.top_k == 3 && r->gp.seed == 9);
        CHECK(r->n_stops == 1 && !strcmp(r->stops[0], "x")); /* an empty end string is dropped */
        CHECK(r->seq[0].ids[0] == S.bos_id);
        srv_req_free(r);
    }
    /* NeMo's messages, word for word */
    static const char *const bad[][2] = {
        {"{\"sentences\": [\"a\"], \"tokens_to_generate\": 0}", "tokens_to_generate must be an integer greater than 0"},
        {"{\"sentences\": [\"a\"], \"tokens_to_generate\": 2.5}", "tokens_to_generate must be an integer greater than 0"},
        {"{\"sentences\": [\"a\"], \"all_probs\": 1}", "all_probs must be a boolean value"},
        {"{\"sentences\": [\"a\"], \"temperature\": 0}", "temperature must be a positive number less than or equal to 100.0"},
        {"{\"sentences\": [\"a\"], \"temperature\": 101}", "temperature must be a positive number less than or equal to 100.0"},
        {"{\"sentences\": [\"a\"], \"add_BOS\": \"yes\"}", "add_BOS must be a boolean value"},
        {"{\"sentences\": [\"a\"], \"greedy\": 1}", "greedy must be a boolean value"},
        {"{\"sentences\": [\"a\"], \"top_k\": -1}", "top_k must be a positive integer number"},
        {"{\"sentences\": [\"a\"], \"top_p\": 1.5}", "top_p must be a positive number less than or equal to 1.0"},
        {"{\"sentences\": [\"a\"], \"repetition_penalty\": 0.5}", "repetition_penalty must be a positive number no less than 1.0"},
        {"{\"sentences\": [\"a\"], \"end_strings\": [1]}", "expect end_strings to be a list of strings"},
        {"{\"sentences\": [\"a\"], \"min_tokens_to_generate\": -1}", "min_tokens_to_generate must be an integer no less than 0"},
        {"{\"sentences\": [\"a\"], \"neighbors\": -2}", "num of neighbors must be an integer no less than 0"},
        {"{\"sentences\": [\"a\"], \"compute_logprob\": 0}", "compute_logprob must be a boolean value"},
        {"{\"sentences\": [\"a\"], \"random_seed\": -1}", "random_seed must be a positive integer number or None"},
        {"{\"sentences\": [\"a\"], \"task_ids\": [0]}", "Input at 'sentences' must by a tuple"},
        {"{\"sentences\": [\"a\"], \"all_probs\": true}", "all_probs is not supported"},
        {"{\"sentences\": [\"a\"], \"compute_logprob\": true}", "compute_logprob is not supported"},
        {"{\"tokens_to_generate\": 3}", "sentences is required"},
        {"{\"sentences\": \"a\"}", "sentences must be a non-empty list of strings"},
        {"{\"sentences\": [\"a\", 2]}", "sentences must be a non-empty list of strings"},
        {"{\"sentences\": [\"\"]}", "sentences[0] is empty"},
        {"[1]", "the request body must be a JSON object"},
        {"{\"sentences\": [\"a\"]", "malformed JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) parse(SRV_API_NEMO, bad[i][0], 400, bad[i][1]);
    /* more than 128 sentences */
    char big[2048] = "{\"sentences\": [";
    for (int i = 0; i < 129; i++) strcat(big, i ? ",\"a\"" : "\"a\"");
    strcat(big, "]}");
    parse(SRV_API_NEMO, big, 400, "Maximum number of sentences is 128");
    /* a prompt over the context (64 tokens here) */
    char lng[1024] = "{\"sentences\": [\"";
    for (int i = 0; i < 80; i++) strcat(lng, "beginning ");
    strcat(lng, "\"]}");
    parse(SRV_API_NEMO, lng, 400, "more than the model's context of 64 tokens");
}

static void openai_api(void) {
    S.p.max_tokens_cap = 50;
    srv_req *r = parse(SRV_API_COMPLETION, "{\"prompt\": \"in the\"}", 0, NULL);
    if (r) {
        /* NeMo's completion: max_tokens 32, temperature 0 (greedy), top_p 1.0 */
        CHECK(r->n_seq == 1 && r->max_new == 32 && r->gp.greedy && r->gp.top_p == 1.0 && r->strip_stop);
        CHECK(r->n_stops == 1 && !strcmp(r->stops[0], "<|endoftext|>"));
        srv_req_free(r);
    }
    r = parse(SRV_API_COMPLETION,
              "{\"prompt\": [\"a\", \"b\", \"c\"], \"max_tokens\": 1000, \"temperature\": 0.7, \"stop\": \"\\n\", "
              "\"stream\": true, \"min_tokens\": 2, \"logprobs\": null}",
              0, NULL);
    if (r) {
        CHECK(r->n_seq == 3 && !r->gp.greedy && r->gp.temperature == 0.7 && r->stream && r->gp.min_new_tokens == 2);
        CHECK(r->max_new == 50 && r->gp.max_new_tokens == 50); /* max_tokens_cap */
        CHECK(r->n_stops == 2 && !strcmp(r->stops[1], "\n"));
        /* the answer ends before the first stop string */
        CHECK(srv_stop_cut(r, "ab<|endoftext|>c\nd") == 2 && srv_stop_cut(r, "ab\ncd<|endoftext|>") == 2 &&
              srv_stop_cut(r, "abc") == 3);
        srv_req_free(r);
    }
    r = parse(SRV_API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stop\": [\"z\"]}", 0, NULL);
    if (r) {
        /* chat_completion: top_p 0.95; stops <|endoftext|>, turn_start, label_start */
        CHECK(r->gp.top_p == 0.95 && r->n_stops == 4 && !strcmp(r->stops[1], "<extra_id_1>") &&
              !strcmp(r->stops[2], "<extra_id_2>") && !strcmp(r->stops[3], "z"));
        srv_req_free(r);
    }
    parse(SRV_API_COMPLETION, "{\"prompt\": \"a\", \"n\": 2}", 400, "n must be 1");
    parse(SRV_API_COMPLETION, "{\"prompt\": \"a\", \"logprobs\": 3}", 400, "logprobs is not supported");
    parse(SRV_API_COMPLETION, "{\"prompt\": \"a\", \"echo\": true}", 400, "echo is not supported");
    parse(SRV_API_COMPLETION, "{\"prompt\": \"a\", \"stop\": 3}", 400, "stop must be a string or a list of strings");
    parse(SRV_API_COMPLETION, "{\"prompt\": []}", 400, "prompt must be a string or a non-empty list of strings");
    parse(SRV_API_COMPLETION, "{\"prompt\": \"a\", \"temperature\": -1}", 400, "temperature must be");
    parse(SRV_API_CHAT, "{\"messages\": []}", 400, "messages must be a non-empty list");
    parse(SRV_API_CHAT, "{\"messages\": [{\"role\": \"user\"}]}", 400, "messages[0] must have string fields");
    parse(SRV_API_CHAT, "{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}", 400,
          "messages[0].role 'tool' is not one of system, user, assistant");
}

static void chat_template(void) {
    cJSON *m = cJSON_Parse("[{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"system\", \"content\": \"S1\"},"
                           " {\"role\": \"assistant\", \"content\": \"yo\"}, {\"role\": \"system\", \"content\": \"S2\"},"
                           " {\"role\": \"user\", \"content\": \"and?\"}]");
    srv_buf b = {0};
    char msg[256];
    CHECK(m && srv_chat_prompt(m, &b, msg, sizeof msg));
    /* convert_messages keeps the first system message; the header, each
     * turn as turn_start + Role + end_of_name + text + end_of_turn, and the
     * empty assistant turn cut after its name */
    const char *want = "<extra_id_0>System\nS1\n<extra_id_1>User\nhi\n<extra_id_1>Assistant\nyo\n"
                       "<extra_id_1>User\nand?\n<extra_id_1>Assistant\n";
    if (!b.p || strcmp(b.p, want)) nc_test_fail(__FILE__, __LINE__, "chat prompt:\n%s\nwanted:\n%s", b.p, want);
    nc_test_checks++;
    srv_buf_free(&b);
    cJSON_Delete(m);
    m = cJSON_Parse("[{\"role\": \"user\", \"content\": \"q\"}]");
    CHECK(m && srv_chat_prompt(m, &b, msg, sizeof msg) &&
          !strcmp(b.p, "<extra_id_0>System\n\n<extra_id_1>User\nq\n<extra_id_1>Assistant\n"));
    srv_buf_free(&b);
    cJSON_Delete(m);
}

static void queue(void) {
    char msg[320];
    S.p.max_queue = 2;
    srv_req *r[3];
    for (int i = 0; i < 3; i++) r[i] = parse(SRV_API_COMPLETION, "{\"prompt\": \"a\"}", 0, NULL);
    if (!r[0] || !r[1] || !r[2]) return;
    for (int i = 0; i < 3; i++) r[i]->refs = 1; /* the connection's */
    CHECK(srv_enqueue(&S, r[0], msg, sizeof msg) && srv_enqueue(&S, r[1], msg, sizeof msg));
    CHECK(!srv_enqueue(&S, r[2], msg, sizeof msg) && strstr(msg, "the request queue is full (max_queue=2"));
    CHECK(S.queued == 2 && S.head == r[0] && S.tail == r[1] && r[0]->refs == 2);
    CHECK(!strncmp(r[0]->id, "cmpl-", 5) && strcmp(r[0]->id, r[1]->id));
    /* stopping: the waiting ones are answered 503, new ones refused */
    pthread_mutex_lock(&S.mu);
    S.stopping = true;
    srv_fail_queued(&S);
    pthread_mutex_unlock(&S.mu);
    CHECK(S.queued == 0 && !S.head && r[0]->state == SRV_DONE && r[0]->http_status == 503 && r[1]->refs == 1);
    CHECK(!srv_enqueue(&S, r[2], msg, sizeof msg) && strstr(msg, "shutting down"));
    for (int i = 0; i < 3; i++) srv_req_release(&S, r[i]);
    S.stopping = false;
}

static void error_body(void) {
    char *j = srv_error_json(413, "too \"big\"", NULL);
    cJSON *o = j ? cJSON_Parse(j) : NULL;
    const cJSON *e = cJSON_GetObjectItem(o, "error");
    CHECK(e && !strcmp(cJSON_GetObjectItem(e, "message")->valuestring, "too \"big\"") &&
          !strcmp(cJSON_GetObjectItem(e, "type")->valuestring, "request_too_large") &&
          cJSON_IsNull(cJSON_GetObjectItem(e, "param")) && cJSON_GetObjectItem(e, "code")->valueint == 413);
    cJSON_Delete(o);
    nc_free(j);
}

int main(void) {
    nc_tokenizer *tok = NULL;
    CHECK_OK(nc_tokenizer_spm_load(nc_test_src("tests/ref/spm/bpe_v1024.model"), &tok));
    if (!tok) return nc_test_finish("llm_serve");
    S.tok = tok;
    S.p = nc_serve_default_params();
    S.ctx_len = 64;
    S.bos_id = nc_tokenizer_special_ids(tok).bos_id;
    S.eos_id = nc_tokenizer_special_ids(tok).eos_id;
    snprintf(S.model_name, sizeof S.model_name, "nemo model");
    pthread_mutex_init(&S.mu, NULL);
    pthread_cond_init(&S.cv, NULL);
    nemo_api();
    openai_api();
    chat_template();
    queue();
    error_body();
    pthread_cond_destroy(&S.cv);
    pthread_mutex_destroy(&S.mu);
    nc_tokenizer_free(tok);
    return nc_test_finish("llm_serve");
}
