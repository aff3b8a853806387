/*
 * aihub-mock: a fast mock LLM provider used as the upstream in AiHub's tests and benchmarks.
 * This file parses the command line, opens one SO_REUSEPORT listener per worker thread on one port (port 0 = a free
 * one), prints AIHUB_MOCK_PORT=<port>, and runs one h2o evloop per thread.
 * SIGTERM/SIGINT end the process at once with status 0 (there is no state worth flushing).
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>

#include "behavior.h"
#include "routes.h"

#define MOCK_MAX_THREADS 64

/* Numeric options: the one table that drives parsing, --help and the defaults. */
enum { OPT_THREADS, OPT_CHUNKS, OPT_CHUNK_DELAY, OPT_RESPONSE_BYTES, OPT_LATENCY, OPT_COUNT };
static struct {
    const char *name;
    unsigned long value, min, max;
    const char *help;
} mock_opts[OPT_COUNT] = {
    {"threads", 1, 1, MOCK_MAX_THREADS, "worker threads (event loops)"},
    {"chunks", 8, 1, 100000, "content chunks (words) per completion"},
    {"chunk-delay-ms", 0, 0, 3600000, "pause between stream chunks"},
    {"response-bytes", 0, 0, 64 << 20, "minimum content bytes (0 = just the words)"},
    {"latency-ms", 0, 0, 3600000, "pause before the response headers"},
};

typedef struct st_mock_thread_t {
    pthread_t tid;
    int fd; /* listening socket; owned by the thread's loop once it starts */
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
} mock_thread_t;

static h2o_globalconf_t mock_config;
static mock_thread_t mock_threads[MOCK_MAX_THREADS];

static void mock_usage(FILE *out)
{
    fprintf(out, "usage: aihub-mock --listen HOST:PORT [options]\n  --listen HOST:PORT    address to serve (PORT 0 = any free port)\n");
    for (int i = 0; i != OPT_COUNT; ++i)
        fprintf(out, "  --%-19s %s (default %lu)\n", mock_opts[i].name, mock_opts[i].help, mock_opts[i].value);
}

static void mock_on_signal(int sig)
{
    (void)sig;
    _exit(0);
}

/* Resolves "HOST:PORT" or "[V6]:PORT" (numeric only) into *ss. Returns 0 or -1. */
static int mock_parse_listen(const char *arg, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(arg, ':');
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *res;

    if (colon == NULL || colon == arg || (size_t)(colon - arg) >= sizeof(host))
        return -1;
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/*
 * Binds a TCP socket to *ss. A probe (listen == 0) binds without SO_REUSEPORT, so that a port already in use (even by
 * another SO_REUSEPORT listener of this user, which Linux would let us share) is an error; it stores the bound address
 * (the port chosen for port 0) in *ss and closes again. A listener sets SO_REUSEPORT so that every worker thread can
 * bind the same port. Returns the listening fd, 0 after a probe, or -1 (errno set).
 */
static int mock_bind(struct sockaddr_storage *ss, socklen_t *len, int listen_)
{
    int fd, on = 1, ret = -1, e;

    if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0 &&
        (!listen_ || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == 0) &&
        bind(fd, (struct sockaddr *)ss, *len) == 0 && (listen_ ? listen(fd, 4096) : getsockname(fd, (struct sockaddr *)ss, len)) == 0)
        ret = listen_ ? fd : 0;
    e = errno;
    if (ret == -1 || !listen_)
        close(fd);
    errno = e;
    return ret;
}

static void mock_on_accept(h2o_socket_t *listener, const char *err)
{
    mock_thread_t *t = listener->data;
    h2o_socket_t *sock;

    if (err != NULL)
        return;
    for (int i = 0; i != 64 && (sock = h2o_evloop_socket_accept(listener)) != NULL; ++i)
        h2o_accept(&t->accept_ctx, sock);
}

static void *mock_thread_main(void *arg)
{
    mock_thread_t *t = arg;
    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_socket_t *listener;

    h2o_context_init(&t->ctx, loop, &mock_config);
    t->accept_ctx = (h2o_accept_ctx_t){.ctx = &t->ctx, .hosts = mock_config.hosts};
    listener = h2o_evloop_socket_create(loop, t->fd, H2O_SOCKET_FLAG_DONT_READ);
    listener->data = t;
    h2o_socket_read_start(listener, mock_on_accept);
    while (h2o_evloop_run(loop, INT32_MAX) == 0)
        ;
    fprintf(stderr, "aihub-mock: event loop failed\n");
    exit(1);
}

/* Parses argv into the option table and *listen; returns 0, 1 after --help, or -1 on bad input (message printed). */
static int mock_parse_args(int argc, char **argv, const char **listen_arg)
{
    struct option longopts[OPT_COUNT + 3];
    int c;

    for (int i = 0; i != OPT_COUNT; ++i)
        longopts[i] = (struct option){mock_opts[i].name, required_argument, NULL, 1000 + i};
    longopts[OPT_COUNT] = (struct option){"listen", required_argument, NULL, 'l'};
    longopts[OPT_COUNT + 1] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[OPT_COUNT + 2] = (struct option){NULL, 0, NULL, 0};
    *listen_arg = NULL;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'l') {
            *listen_arg = optarg;
        } else if (c == 'h') {
            mock_usage(stdout);
            return 1;
        } else if (c >= 1000 && c < 1000 + OPT_COUNT) {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno != 0 || *optarg == '\0' || *optarg == '-' || *end != '\0' || v < mock_opts[c - 1000].min ||
                v > mock_opts[c - 1000].max) {
                fprintf(stderr, "aihub-mock: --%s must be an integer in [%lu, %lu]\n", mock_opts[c - 1000].name,
                        mock_opts[c - 1000].min, mock_opts[c - 1000].max);
                return -1;
            }
            mock_opts[c - 1000].value = v;
        } else {
            mock_usage(stderr);
            return -1;
        }
    }
    if (*listen_arg == NULL || optind != argc) {
        mock_usage(stderr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen_arg;
    struct sockaddr_storage ss;
    socklen_t sslen;
    unsigned nthreads;
    int r;

    if ((r = mock_parse_args(argc, argv, &listen_arg)) != 0)
        return r > 0 ? 0 : 2;
    if (mock_parse_listen(listen_arg, &ss, &sslen) != 0) {
        fprintf(stderr, "aihub-mock: --listen wants a numeric HOST:PORT, got '%s'\n", listen_arg);
        return 2;
    }
    nthreads = (unsigned)mock_opts[OPT_THREADS].value;

    mock_behavior_init(&(mock_params_t){.chunks = (unsigned)mock_opts[OPT_CHUNKS].value,
                                        .chunk_delay_ms = (unsigned)mock_opts[OPT_CHUNK_DELAY].value,
                                        .latency_ms = (unsigned)mock_opts[OPT_LATENCY].value,
                                        .response_bytes = mock_opts[OPT_RESPONSE_BYTES].value,
                                        .status = 200,
                                        .retry_after = -1,
                                        .reset_after_chunks = -1});

    struct sigaction sa = {.sa_handler = mock_on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    h2o_config_init(&mock_config);
    mock_config.server_name = h2o_iovec_init(H2O_STRLIT("aihub-mock"));
    mock_config.max_request_entity_size = 64 << 20;
    mock_routes_register(h2o_config_register_host(&mock_config, h2o_iovec_init(H2O_STRLIT("default")), 65535));

    for (unsigned i = 0; i != nthreads; ++i) {
        if ((i == 0 && mock_bind(&ss, &sslen, 0) != 0) || (mock_threads[i].fd = mock_bind(&ss, &sslen, 1)) == -1) {
            fprintf(stderr, "aihub-mock: cannot listen on %s: %s\n", listen_arg, strerror(errno));
            return 1;
        }
    }
    printf("AIHUB_MOCK_PORT=%u\n", ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                                   : ((struct sockaddr_in *)&ss)->sin_port));
    fflush(stdout);

    for (unsigned i = 1; i < nthreads; ++i) {
        if ((r = pthread_create(&mock_threads[i].tid, NULL, mock_thread_main, &mock_threads[i])) != 0) {
            fprintf(stderr, "aihub-mock: pthread_create: %s\n", strerror(r));
            return 1;
        }
    }
    mock_thread_main(&mock_threads[0]);
    return 1;
}
