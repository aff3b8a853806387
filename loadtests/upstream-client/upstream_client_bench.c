/*
 * upstream_client_bench: what does one plain-HTTP/1.1 upstream request cost the client, in CPU, with libcurl
 * (the node's way) and with h2o 2.2.5's own HTTP/1 client? See RESULTS.md in this folder.
 *
 * One process, one h2o evloop, one client library per run. It sends N requests of
 * POST /v1/chat/completions (the body and headers of loadtests/bench/bench.mjs) to an aihub-mock over keep-alive
 * HTTP/1.1, with C requests in flight, reads every response body whole, and prints one line: completed,
 * errors, wall time, user+sys CPU microseconds per request (getrusage) and, when the kernel lets us open a
 * hardware counter, instructions per request (user and kernel) for the measured phase only.
 *
 * --client curl: libcurl multi, socket API driven by the evloop as node/src/upstream/curl_loop.c does (our own few
 *   lines, not the node's code): easy handles pooled and curl_easy_reset between transfers, the node's common
 *   options, a header list built per request, a header callback and a write callback that copies the body.
 * --client h2o: h2o_http1client_connect_with_pool over an h2o_socketpool (keep-alive), the request head formatted
 *   per request, the body copied out of the socket buffer as it arrives.
 *
 * In both, a finished slot is restarted from a 0 ms h2o timeout (never from inside the library's callback: h2o's
 * client returns its socket to the pool only after the body callback returns). A warm-up phase (not measured)
 * opens the connections first.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <h2o.h>
#include <h2o/http1client.h>
#include <h2o/socketpool.h>

#define PATH "/v1/chat/completions"
/* loadtests/bench/bench.mjs chatBody(false) */
static const char BODY[] = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a terse assistant.\"},"
                           "{\"role\":\"user\",\"content\":\"Say hello in eight words.\"}],\"max_tokens\":64}";
#define API_KEY "sk-bench-direct"
#define IO_TIMEOUT_MS 10000
#define MAX_BODY (1024 * 1024)

typedef enum { CLIENT_CURL, CLIENT_H2O } client_kind_t;

typedef struct st_slot_t slot_t;

typedef struct st_bench_t {
    client_kind_t kind;
    h2o_loop_t *loop;
    char host[64];
    uint16_t port;
    size_t target;    /* completions wanted in the current phase */
    size_t started;   /* requests started in the current phase */
    size_t completed; /* 2xx with a whole body */
    size_t errors;
    size_t body_bytes;
    size_t connects; /* new TCP connections (curl: CURLINFO_NUM_CONNECTS; h2o: pool size growth) */
    slot_t *slots;
    size_t nslots;
    slot_t *restart; /* slots waiting for the 0 ms restart timeout */
    h2o_timeout_t zero;
    h2o_timeout_entry_t restart_entry;
    /* curl */
    CURLM *multi;
    uint64_t curl_deadline; /* h2o_now() ms; UINT64_MAX when curl wants no timer */
    h2o_timeout_entry_t curl_timer_entry;
    int curl_depth;
    struct st_sock_t *garbage;
    /* h2o */
    h2o_http1client_ctx_t h1ctx;
    h2o_timeout_t io_timeout;
    h2o_socketpool_t pool;
    char url[128];
} bench_t;

struct st_slot_t {
    bench_t *b;
    slot_t *next_restart;
    int in_restart;
    /* response */
    int status;
    long retry_after;
    char *body;
    size_t body_len, body_cap;
    /* curl */
    CURL *easy;
    struct curl_slist *headers;
    /* h2o */
    h2o_http1client_t *client;
    char head[512];
    h2o_iovec_t reqbufs[2];
};

static void slot_start(slot_t *s);

/* ---- bookkeeping shared by both clients --------------------------------------------------------------------- */

static int body_append(slot_t *s, const char *p, size_t n)
{
    if (s->body_len + n > MAX_BODY)
        return -1;
    if (s->body_len + n > s->body_cap) {
        size_t cap = s->body_cap ? s->body_cap : 1024;
        while (cap < s->body_len + n)
            cap *= 2;
        s->body = h2o_mem_realloc(s->body, cap);
        s->body_cap = cap;
    }
    memcpy(s->body + s->body_len, p, n);
    s->body_len += n;
    return 0;
}

static void on_restart(h2o_timeout_entry_t *entry)
{
    bench_t *b = H2O_STRUCT_FROM_MEMBER(bench_t, restart_entry, entry);
    while (b->restart != NULL) {
        slot_t *s = b->restart;
        b->restart = s->next_restart;
        s->in_restart = 0;
        if (b->started < b->target)
            slot_start(s);
    }
}

/* one request ended (ok or not); the slot is started again from the 0 ms timeout */
static void slot_done(slot_t *s, int ok)
{
    bench_t *b = s->b;
    if (ok && s->status >= 200 && s->status < 300 && s->body_len != 0) {
        ++b->completed;
        b->body_bytes += s->body_len;
    } else {
        ++b->errors;
    }
    s->in_restart = 1;
    s->next_restart = b->restart;
    b->restart = s;
    if (!h2o_timeout_is_linked(&b->restart_entry))
        h2o_timeout_link(b->loop, &b->zero, &b->restart_entry);
}

/* ---- libcurl on the evloop (the approach of node/src/upstream/curl_loop.c, in brief) ------------------------ */

typedef struct st_sock_t {
    bench_t *b;
    h2o_socket_t *sock;
    curl_socket_t fd;
    int what;
    int removed;
    struct st_sock_t *next_garbage;
} sock_t;

static void curl_drain(bench_t *b)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(b->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        slot_t *s;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        long code = 0, nconn = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &nconn);
        b->connects += (size_t)nconn;
        s->status = (int)code;
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(b->multi, s->easy);
        curl_slist_free_all(s->headers);
        s->headers = NULL;
        curl_easy_reset(s->easy); /* what the node's pool does when a handle is released */
        slot_done(s, rc == CURLE_OK);
    }
    while (b->garbage != NULL) {
        sock_t *si = b->garbage;
        b->garbage = si->next_garbage;
        free(si);
    }
}

static void curl_action(bench_t *b, curl_socket_t fd, int ev)
{
    int running;
    ++b->curl_depth;
    curl_multi_socket_action(b->multi, fd, ev, &running);
    if (--b->curl_depth == 0)
        curl_drain(b);
}

static void curl_on_readable(h2o_socket_t *sock, const char *err)
{
    sock_t *si = sock->data;
    curl_action(si->b, si->fd, CURL_CSELECT_IN);
}

static void curl_on_writable(h2o_socket_t *sock, const char *err)
{
    sock_t *si = sock->data;
    bench_t *b = si->b;
    int running;
    ++b->curl_depth;
    curl_multi_socket_action(b->multi, si->fd, CURL_CSELECT_OUT, &running);
    /* evloop's write notification is one-shot and curl does not repeat an unchanged wish: re-arm */
    if (!si->removed && (si->what & CURL_POLL_OUT) && !h2o_socket_is_writing(si->sock))
        h2o_socket_notify_write(si->sock, curl_on_writable);
    if (--b->curl_depth == 0)
        curl_drain(b);
}

static int curl_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    bench_t *b = userp;
    sock_t *si = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (si != NULL) {
            if (h2o_socket_is_reading(si->sock))
                h2o_socket_read_stop(si->sock);
            si->sock->_cb.write = NULL; /* export asserts !writing; 2.2.5 cannot cancel notify_write */
            h2o_socket_export_t info;
            if (h2o_socket_export(si->sock, &info) == 0) /* off epoll, fd left open: curl owns it */
                h2o_buffer_dispose(&info.input);
            si->removed = 1;
            si->next_garbage = b->garbage; /* freed once curl has returned */
            b->garbage = si;
            curl_multi_assign(b->multi, fd, NULL);
        }
        return 0;
    }
    if (si == NULL) {
        si = h2o_mem_alloc(sizeof(*si));
        *si = (sock_t){.b = b, .fd = fd};
        si->sock = h2o_evloop_socket_create(b->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        si->sock->data = si;
        curl_multi_assign(b->multi, fd, si);
    }
    si->what = what;
    if (what & CURL_POLL_IN) {
        if (!h2o_socket_is_reading(si->sock))
            h2o_socket_read_start(si->sock, curl_on_readable);
    } else if (h2o_socket_is_reading(si->sock)) {
        h2o_socket_read_stop(si->sock);
    }
    if ((what & CURL_POLL_OUT) && !h2o_socket_is_writing(si->sock))
        h2o_socket_notify_write(si->sock, curl_on_writable);
    return 0;
}

static void curl_on_timer_entry(h2o_timeout_entry_t *entry)
{
    bench_t *b = H2O_STRUCT_FROM_MEMBER(bench_t, curl_timer_entry, entry);
    b->curl_deadline = UINT64_MAX;
    curl_action(b, CURL_SOCKET_TIMEOUT, 0);
}

static int curl_on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    bench_t *b = userp;
    b->curl_deadline = timeout_ms < 0 ? UINT64_MAX : h2o_now(b->loop) + (uint64_t)timeout_ms;
    if (timeout_ms < 0 && h2o_timeout_is_linked(&b->curl_timer_entry))
        h2o_timeout_unlink(&b->curl_timer_entry);
    return 0;
}

/* how long h2o_evloop_run may block; a due curl deadline fires from the 0 ms list, inside the loop */
static int32_t curl_wait_ms(bench_t *b, int32_t max_ms)
{
    if (b->kind != CLIENT_CURL || b->curl_deadline == UINT64_MAX)
        return max_ms;
    uint64_t now = h2o_now(b->loop);
    if (b->curl_deadline <= now) {
        if (!h2o_timeout_is_linked(&b->curl_timer_entry))
            h2o_timeout_link(b->loop, &b->zero, &b->curl_timer_entry);
        return 0;
    }
    return b->curl_deadline - now < (uint64_t)max_ms ? (int32_t)(b->curl_deadline - now) : max_ms;
}

static size_t curl_on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    slot_t *s = ud;
    size_t len = size * nitems;
    /* what the node's header callback looks at */
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0)
        s->retry_after = -1;
    else if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0)
        s->retry_after = strtol(buf + 12, NULL, 10);
    return len;
}

static size_t curl_on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    slot_t *s = ud;
    return body_append(s, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

static void curl_slot_start(slot_t *s)
{
    bench_t *b = s->b;
    CURL *e = s->easy;
    /* the header list is built per request, as node/src/upstream/request.c does */
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " API_KEY);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Expect:");
    s->headers = h;
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_URL, b->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, BODY);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(sizeof(BODY) - 1));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, curl_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    /* node/src/upstream/request.c ah_upstream_common_options */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)IO_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (curl_multi_add_handle(b->multi, e) != CURLM_OK) {
        curl_slist_free_all(s->headers);
        s->headers = NULL;
        curl_easy_reset(e);
        slot_done(s, 0);
    }
}

/* ---- h2o 2.2.5 http1client over a socket pool ---------------------------------------------------------------- */

static int h2o_on_body(h2o_http1client_t *client, const char *errstr)
{
    slot_t *s = client->data;
    h2o_buffer_t **in = &client->sock->input;
    if ((*in)->size != 0) {
        if (body_append(s, (*in)->bytes, (*in)->size) != 0) {
            s->client = NULL;
            slot_done(s, 0);
            return -1; /* the client closes the connection */
        }
        h2o_buffer_consume(in, (*in)->size);
    }
    if (errstr == NULL)
        return 0;
    s->client = NULL; /* the library frees it (and returns the socket to the pool) after we return */
    slot_done(s, errstr == h2o_http1client_error_is_eos);
    return 0;
}

static h2o_http1client_body_cb h2o_on_head(h2o_http1client_t *client, const char *errstr, int minor_version, int status,
                                           h2o_iovec_t msg, h2o_header_t *headers, size_t num_headers, int rlen)
{
    slot_t *s = client->data;
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        s->client = NULL;
        slot_done(s, 0);
        return NULL;
    }
    s->status = status;
    s->retry_after = -1;
    for (size_t i = 0; i != num_headers; ++i)
        if (h2o_memis(headers[i].name->base, headers[i].name->len, H2O_STRLIT("retry-after")))
            s->retry_after = h2o_strtosize(headers[i].value.base, headers[i].value.len);
    if (errstr == h2o_http1client_error_is_eos) { /* no body */
        s->client = NULL;
        slot_done(s, 1);
        return NULL;
    }
    return h2o_on_body;
}

static h2o_http1client_head_cb h2o_on_connect(h2o_http1client_t *client, const char *errstr, h2o_iovec_t **reqbufs,
                                              size_t *reqbufcnt, int *method_is_head)
{
    slot_t *s = client->data;
    if (errstr != NULL) {
        s->client = NULL;
        slot_done(s, 0);
        return NULL;
    }
    bench_t *b = s->b;
    /* the request head is formatted per request, as the node would have to */
    int n = snprintf(s->head, sizeof(s->head),
                     "POST " PATH " HTTP/1.1\r\nHost: %s:%u\r\nAuthorization: Bearer " API_KEY "\r\n"
                     "Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: %zu\r\n\r\n",
                     b->host, (unsigned)b->port, sizeof(BODY) - 1);
    if (n < 0 || (size_t)n >= sizeof(s->head)) {
        s->client = NULL;
        slot_done(s, 0);
        return NULL;
    }
    s->reqbufs[0] = h2o_iovec_init(s->head, (size_t)n);
    s->reqbufs[1] = h2o_iovec_init(BODY, sizeof(BODY) - 1);
    *reqbufs = s->reqbufs;
    *reqbufcnt = 2;
    *method_is_head = 0;
    return h2o_on_head;
}

static void h2o_slot_start(slot_t *s)
{
    bench_t *b = s->b;
    size_t before = b->pool._shared.count;
    h2o_http1client_connect_with_pool(&s->client, s, &b->h1ctx, &b->pool, h2o_on_connect);
    if (b->pool._shared.count > before)
        b->connects += b->pool._shared.count - before;
}

/* ---- driver ------------------------------------------------------------------------------------------------- */

static void slot_start(slot_t *s)
{
    s->status = 0;
    s->retry_after = -1;
    s->body_len = 0;
    ++s->b->started;
    if (s->b->kind == CLIENT_CURL)
        curl_slot_start(s);
    else
        h2o_slot_start(s);
}

static int phase_idle(bench_t *b)
{
    return b->completed + b->errors >= b->started && b->started >= b->target && b->restart == NULL;
}

/* runs until `n` more requests have ended; 0, or -1 when the loop failed or `limit_s` passed */
static int run_phase(bench_t *b, size_t n, double limit_s)
{
    b->target = b->started + n;
    for (size_t i = 0; i != b->nslots && b->started < b->target; ++i)
        if (!b->slots[i].in_restart)
            slot_start(&b->slots[i]);
    uint64_t until = h2o_now(b->loop) + (uint64_t)(limit_s * 1000);
    while (!phase_idle(b)) {
        if (h2o_evloop_run(b->loop, curl_wait_ms(b, 100)) != 0) {
            fprintf(stderr, "h2o_evloop_run: %s\n", strerror(errno));
            return -1;
        }
        if (h2o_now(b->loop) > until) {
            fprintf(stderr, "time limit of %.0f s reached\n", limit_s);
            return -1;
        }
    }
    return 0;
}

/* an instructions counter for this process (and threads it starts), or -1 */
static int perf_open(int user)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.type = PERF_TYPE_HARDWARE;
    a.config = PERF_COUNT_HW_INSTRUCTIONS;
    a.disabled = 1;
    a.inherit = 1;
    a.exclude_hv = 1;
    a.exclude_kernel = user;
    a.exclude_user = !user;
    return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static uint64_t perf_read(int fd)
{
    uint64_t v = 0;
    if (fd < 0 || read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        return 0;
    return v;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv_us(struct timeval tv)
{
    return tv.tv_sec * 1e6 + tv.tv_usec;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: upstream_client_bench --client curl|h2o --port PORT [--host 127.0.0.1] [--requests N]\n"
               "                             [--concurrency C] [--warmup W] [--time-limit S]\n"
               "  Sends N POST " PATH " to an aihub-mock over keep-alive HTTP/1.1 with C in flight, after W unmeasured\n"
               "  ones, and prints one result line. Defaults: N 50000, C 1, W 2000, time limit 120 s.\n");
}

int main(int argc, char **argv)
{
    bench_t b = {.curl_deadline = UINT64_MAX};
    const char *client = NULL;
    long port = 0, requests = 50000, concurrency = 1, warmup = 2000;
    double limit_s = 120;
    snprintf(b.host, sizeof(b.host), "127.0.0.1");
    static const struct option opts[] = {{"client", required_argument, NULL, 'k'},      {"port", required_argument, NULL, 'p'},
                                         {"host", required_argument, NULL, 'H'},        {"requests", required_argument, NULL, 'n'},
                                         {"concurrency", required_argument, NULL, 'c'}, {"warmup", required_argument, NULL, 'w'},
                                         {"time-limit", required_argument, NULL, 't'},  {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "k:p:H:n:c:w:t:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'k': client = optarg; break;
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 'H': snprintf(b.host, sizeof(b.host), "%s", optarg); break;
        case 'n': requests = strtol(optarg, NULL, 10); break;
        case 'c': concurrency = strtol(optarg, NULL, 10); break;
        case 'w': warmup = strtol(optarg, NULL, 10); break;
        case 't': limit_s = strtod(optarg, NULL); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (client == NULL || (strcmp(client, "curl") != 0 && strcmp(client, "h2o") != 0) || port <= 0 || port > 65535 ||
        requests <= 0 || requests > 100000000 || concurrency <= 0 || concurrency > 10000 || warmup < 0 || limit_s <= 0) {
        usage(stderr);
        return 2;
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, b.host, &sin.sin_addr) != 1) {
        fprintf(stderr, "--host must be a numeric IPv4 address\n");
        return 2;
    }
    b.kind = strcmp(client, "curl") == 0 ? CLIENT_CURL : CLIENT_H2O;
    b.port = (uint16_t)port;
    snprintf(b.url, sizeof(b.url), "http://%s:%u" PATH, b.host, (unsigned)b.port);

    b.loop = h2o_evloop_create();
    h2o_timeout_init(b.loop, &b.zero, 0);
    b.restart_entry.cb = on_restart;
    b.curl_timer_entry.cb = curl_on_timer_entry;
    b.nslots = (size_t)concurrency;
    b.slots = h2o_mem_alloc(b.nslots * sizeof(*b.slots));
    for (size_t i = 0; i != b.nslots; ++i)
        b.slots[i] = (slot_t){.b = &b};

    if (b.kind == CLIENT_CURL) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (b.multi = curl_multi_init()) == NULL) {
            fprintf(stderr, "curl initialisation failed\n");
            return 1;
        }
        curl_multi_setopt(b.multi, CURLMOPT_SOCKETFUNCTION, curl_on_socket);
        curl_multi_setopt(b.multi, CURLMOPT_SOCKETDATA, &b);
        curl_multi_setopt(b.multi, CURLMOPT_TIMERFUNCTION, curl_on_timer);
        curl_multi_setopt(b.multi, CURLMOPT_TIMERDATA, &b);
        curl_multi_setopt(b.multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
        curl_multi_setopt(b.multi, CURLMOPT_MAXCONNECTS, 1024L);
        for (size_t i = 0; i != b.nslots; ++i)
            if ((b.slots[i].easy = curl_easy_init()) == NULL) {
                fprintf(stderr, "curl_easy_init failed\n");
                return 1;
            }
    } else {
        h2o_timeout_init(b.loop, &b.io_timeout, IO_TIMEOUT_MS);
        b.h1ctx = (h2o_http1client_ctx_t){.loop = b.loop, .io_timeout = &b.io_timeout};
        h2o_socketpool_init_by_address(&b.pool, (struct sockaddr *)&sin, sizeof(sin), 0, (size_t)concurrency);
        h2o_socketpool_set_timeout(&b.pool, b.loop, 2000); /* idle connections closed after 2 s, as a node would */
    }

    int rc = 0;
    if (warmup > 0 && run_phase(&b, (size_t)warmup, limit_s) != 0)
        rc = 1;
    size_t completed0 = b.completed, errors0 = b.errors, bytes0 = b.body_bytes;
    int ifd_u = perf_open(1), ifd_k = perf_open(0);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now_s();
    if (ifd_u >= 0)
        ioctl(ifd_u, PERF_EVENT_IOC_ENABLE, 0);
    if (ifd_k >= 0)
        ioctl(ifd_k, PERF_EVENT_IOC_ENABLE, 0);
    if (rc == 0 && run_phase(&b, (size_t)requests, limit_s) != 0)
        rc = 1;
    if (ifd_u >= 0)
        ioctl(ifd_u, PERF_EVENT_IOC_DISABLE, 0);
    if (ifd_k >= 0)
        ioctl(ifd_k, PERF_EVENT_IOC_DISABLE, 0);
    double wall = now_s() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    uint64_t ins_u = perf_read(ifd_u), ins_k = perf_read(ifd_k);

    size_t done = b.completed - completed0, errs = b.errors - errors0;
    size_t ended = done + errs;
    double usr = tv_us(ru1.ru_utime) - tv_us(ru0.ru_utime), sys = tv_us(ru1.ru_stime) - tv_us(ru0.ru_stime);
    double per = ended ? 1.0 / (double)ended : 0;
    char ins[3][32] = {"n/a", "n/a", "n/a"};
    if (ifd_u >= 0 && ifd_k >= 0 && ended != 0) {
        snprintf(ins[0], sizeof(ins[0]), "%.0f", (double)(ins_u + ins_k) * per);
        snprintf(ins[1], sizeof(ins[1]), "%.0f", (double)ins_u * per);
        snprintf(ins[2], sizeof(ins[2]), "%.0f", (double)ins_k * per);
    }
    printf("client=%s concurrency=%ld requests=%zu completed=%zu errors=%zu wall_s=%.3f req_per_s=%.0f "
           "cpu_us_per_req=%.2f user_us_per_req=%.2f sys_us_per_req=%.2f ins_per_req=%s ins_user_per_req=%s "
           "ins_kernel_per_req=%s body_bytes_per_req=%.0f connects=%zu\n",
           client, concurrency, ended, done, errs, wall, wall > 0 ? ended / wall : 0, (usr + sys) * per, usr * per, sys * per,
           ins[0], ins[1], ins[2], done ? (double)(b.body_bytes - bytes0) / done : 0, b.connects);
    fflush(stdout);

    /* teardown: no transfer is in flight once a phase has ended */
    if (ifd_u >= 0)
        close(ifd_u);
    if (ifd_k >= 0)
        close(ifd_k);
    for (size_t i = 0; i != b.nslots; ++i) {
        slot_t *s = &b.slots[i];
        if (s->client != NULL)
            h2o_http1client_cancel(s->client);
        if (s->easy != NULL) {
            curl_multi_remove_handle(b.multi, s->easy);
            curl_slist_free_all(s->headers);
            curl_easy_cleanup(s->easy);
        }
        free(s->body);
    }
    if (b.kind == CLIENT_CURL) {
        curl_multi_cleanup(b.multi);
        while (b.garbage != NULL) {
            sock_t *si = b.garbage;
            b.garbage = si->next_garbage;
            free(si);
        }
        curl_global_cleanup();
    } else {
        h2o_socketpool_dispose(&b.pool);
        h2o_timeout_dispose(b.loop, &b.io_timeout);
    }
    if (h2o_timeout_is_linked(&b.restart_entry))
        h2o_timeout_unlink(&b.restart_entry);
    if (h2o_timeout_is_linked(&b.curl_timer_entry))
        h2o_timeout_unlink(&b.curl_timer_entry);
    h2o_timeout_dispose(b.loop, &b.zero);
    free(b.slots);
    h2o_evloop_destroy(b.loop);
    return rc != 0 || errs != 0 ? 1 : 0;
}
