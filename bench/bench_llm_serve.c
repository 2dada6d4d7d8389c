/* A load generator for `nemoc llm serve`: C concurrent clients (threads, one
 * HTTP/1.1 connection per request) send R completion requests in all to
 * POST /v1/completions with max_tokens = min_tokens = T (every answer is T
 * tokens long, so runs compare the same work) and report requests/s,
 * generated tokens/s and the p50 / p99 latency. Run it against a server
 * with max_batch=8 and with max_batch=1 to see what static batching gives
 * (bench/README.md).
 *
 *   bench_llm_serve --port P [--host 127.0.0.1] [--clients 8] [--requests 64] [--tokens 16] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *const prompts[] = {"in the beginning", "and god said", "the lord", "and he said unto",
                                      "let there be",     "and the earth", "and it was", "in the"};

typedef struct bench {
    struct sockaddr_in addr;
    int requests, tokens;
    atomic_int next, failed;
    double *lat; /* (requests) seconds */
} bench;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* One request on its own connection; true on a 200 with a whole answer. */
static bool one(const bench *b, int i) {
    char body[256], req[512], buf[4096];
    int n = snprintf(body, sizeof body, "{\"prompt\": \"%s\", \"max_tokens\": %d, \"min_tokens\": %d}",
                     prompts[i % (int)(sizeof prompts / sizeof *prompts)], b->tokens, b->tokens);
    int m = snprintf(req, sizeof req,
                     "POST /v1/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                     n, body);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    bool ok = connect(fd, (const struct sockaddr *)&b->addr, sizeof b->addr) == 0 && write(fd, req, (size_t)m) == m;
    size_t got = 0;
    ssize_t k;
    while (ok && (k = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
        got += (size_t)k;
        if (got == sizeof buf - 1) got = 16; /* keep the status line, drop the rest */
    }
    close(fd);
    buf[got] = 0;
    return ok && !strncmp(buf, "HTTP/1.1 200", 12);
}

static void *client(void *arg) {
    bench *b = arg;
    for (int i; (i = atomic_fetch_add(&b->next, 1)) < b->requests;) {
        const double t0 = now_s();
        if (!one(b, i)) atomic_fetch_add(&b->failed, 1);
        b->lat[i] = now_s() - t0;
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 0, clients = 8;
    bench b = {.requests = 64, .tokens = 16};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--host")) host = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--clients")) clients = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--requests")) b.requests = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tokens")) b.tokens = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_llm_serve: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (port <= 0 || clients < 1 || clients > 1024 || b.requests < 1 || b.tokens < 1) {
        fprintf(stderr, "usage: bench_llm_serve --port P [--host 127.0.0.1] [--clients 8] [--requests 64] "
                        "[--tokens 16]\n");
        return 2;
    }
    b.addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &b.addr.sin_addr) != 1) {
        fprintf(stderr, "bench_llm_serve: --host %s is not an IPv4 address\n", host);
        return 2;
    }
    b.lat = calloc((size_t)b.requests, sizeof *b.lat);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    if (!b.lat || !th) return 1;
    const double t0 = now_s();
    for (int c = 0; c < clients; c++) pthread_create(&th[c], NULL, client, &b);
    for (int c = 0; c < clients; c++) pthread_join(th[c], NULL);
    const double wall = now_s() - t0;
    qsort(b.lat, (size_t)b.requests, sizeof *b.lat, cmp);
    const int p50 = (b.requests - 1) / 2, p99 = (int)((b.requests - 1) * 0.99 + 0.5);
    printf("%d requests (%d clients, %d tokens each) in %.2f s: %.1f requests/s, %.0f generated tokens/s, "
           "latency p50 %.1f ms p99 %.1f ms, %d failed\n",
           b.requests, clients, b.tokens, wall, b.requests / wall, (double)b.requests * b.tokens / wall,
           1e3 * b.lat[p50], 1e3 * b.lat[p99], atomic_load(&b.failed));
    free(b.lat);
    free(th);
    return atomic_load(&b.failed) ? 1 : 0;
}
