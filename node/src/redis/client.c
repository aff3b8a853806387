/*
 * Asynchronous Redis client on an h2o evloop (see client.h).
 *
 * Every call is a heap-allocated record handed to hiredis as privdata. A call
 * ends once: by its reply, by its deadline, or by the loss of the connection.
 * When the deadline fires first the caller is told at once and the record
 * stays with hiredis, marked finished: its late reply (or the NULL reply
 * hiredis hands back when the connection goes) only frees it. One slow call
 * therefore fails alone, not the calls pipelined behind it.
 * The connection itself is dropped only when Redis looks stuck: calls are
 * pending and no reply at all has arrived for longer than the deadline (a
 * watchdog timer checks). Replies come in order, so a Redis that is slow but
 * answering (a burst queued on the connection) keeps its connection. Blocking
 * commands (XREAD BLOCK) belong on a connection of their own whose deadline
 * exceeds the block time (see log_tail.c).
 * Setup commands (AUTH, SELECT, SCRIPT LOAD, SUBSCRIBE) are queued right after
 * connect; the client is ready once all of them succeeded.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <hiredis/async.h>
#include "aihub/log.h"
#include "redis/adapter.h"
#include "redis/client.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

const double ah_redis_latency_bounds_ms[11] = {0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000};

enum { R_DOWN, R_CONNECTING, R_SETUP, R_READY };

struct st_ah_redis_t {
    h2o_loop_t *loop;
    ah_timers_t *timers;
    char *host, *user, *password, *channel;
    int port, db, timeout_ms, load_scripts;
    ah_redis_hooks_t hooks;
    redisAsyncContext *ac;
    int state;
    int setup_pending;
    ah_timer_t reconnect_timer, connect_timer;
    ah_timer_t watchdog;     /* armed while calls are pending on ac: fires to check that replies still arrive */
    size_t awaiting;         /* calls sent on ac whose reply has not arrived (timed-out ones included) */
    uint64_t last_progress;  /* h2o_now when the last reply arrived, or when awaiting last rose from 0 */
    uint32_t backoff_ms;
    ah_redis_stats_t stats;
};

typedef struct st_call_t {
    ah_redis_t *r;
    ah_redis_cb cb;
    void *ud;
    ah_timer_t deadline;
    int finished;
    int setup;      /* part of connection setup */
    int script;     /* index+1 of the script for NOSCRIPT fallback, else 0 */
    uint64_t started_at;
    int argc;
    char **argv;    /* copies, kept only for scripts (NOSCRIPT resend); one block with argvlen and the bytes */
    size_t *argvlen;
} call_t;

static void start_connect(ah_redis_t *r);
static void drop_connection(ah_redis_t *r, const char *why);

static void free_call(call_t *c)
{
    free(c->argv);
    free(c);
}

static void record_latency(ah_redis_t *r, uint64_t started_at)
{
    double ms = (double)(h2o_now(r->loop) - started_at);
    size_t i = 0;
    while (i != 11 && ms > ah_redis_latency_bounds_ms[i])
        ++i;
    for (; i != 12; ++i)
        ++r->stats.latency_buckets[i];
    r->stats.latency_sum_s += ms / 1000.0;
}

static void on_backoff_done(ah_timer_t *t)
{
    ah_redis_t *r = H2O_STRUCT_FROM_MEMBER(ah_redis_t, reconnect_timer, t);
    start_connect(r);
}

static void go_down(ah_redis_t *r, const char *why)
{
    int was_ready = r->state == R_READY;
    r->state = R_DOWN;
    r->awaiting = 0;
    ah_timer_stop(r->timers, &r->connect_timer);
    ah_timer_stop(r->timers, &r->watchdog);
    if (was_ready) {
        ah_log(AH_LOG_WARN, "redis", "connection to %s:%d lost: %s", r->host, r->port, why);
        if (r->hooks.on_down != NULL)
            r->hooks.on_down(r, r->hooks.ud);
    }
    ++r->stats.reconnects;
    ah_timer_start(r->timers, &r->reconnect_timer, r->backoff_ms, on_backoff_done);
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/*
 * The watchdog: while calls are pending, some reply must arrive at least every
 * timeout_ms. It fires 1 ms after the deadline of a call sent at the last
 * progress, so that such a call times out (and is counted) before the
 * connection is judged stuck.
 */
static void on_watchdog(ah_timer_t *t)
{
    ah_redis_t *r = H2O_STRUCT_FROM_MEMBER(ah_redis_t, watchdog, t);
    if (r->ac == NULL || r->awaiting == 0)
        return;
    uint64_t idle = h2o_now(r->loop) - r->last_progress;
    if (idle > (uint64_t)r->timeout_ms) {
        char why[96];
        snprintf(why, sizeof(why), "no reply for %llu ms with %zu calls pending", (unsigned long long)idle, r->awaiting);
        drop_connection(r, why);
        return;
    }
    ah_timer_start(r->timers, &r->watchdog, (uint64_t)r->timeout_ms + 1 - idle, on_watchdog);
}

/* a call went out on r->ac */
static void note_sent(ah_redis_t *r)
{
    if (r->awaiting++ == 0) {
        /* idle until now: the watchdog counts from this call, so it comes due after this call's deadline (a
         * watchdog still armed from earlier traffic would come due first and could drop the connection before
         * the call is counted as timed out) */
        r->last_progress = h2o_now(r->loop);
        ah_timer_start(r->timers, &r->watchdog, (uint64_t)r->timeout_ms + 1, on_watchdog);
    } else if (!ah_timer_is_armed(&r->watchdog)) {
        ah_timer_start(r->timers, &r->watchdog, (uint64_t)r->timeout_ms + 1, on_watchdog);
    }
}

/* a call's reply (or, when got_reply is 0, its NULL at disconnection) came back from r->ac */
static void note_reply(ah_redis_t *r, int got_reply)
{
    if (r->awaiting != 0)
        --r->awaiting;
    if (got_reply)
        r->last_progress = h2o_now(r->loop);
}

/* the reply callback of every call made through send_call */
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    call_t *c = privdata;
    redisReply *rep = reply;
    ah_redis_t *r = c->r;
    if (ac == r->ac)
        note_reply(r, rep != NULL);
    if (c->finished) {
        /* the late reply of a call that timed out, or its NULL when the connection went: nobody waits for it */
        free_call(c);
        return;
    }
    ah_timer_stop(r->timers, &c->deadline);
    if (rep != NULL && c->script != 0 && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0 && r->ac == ac) {
        /* the server lost its script cache (restart, failover): send the body once */
        const ah_script_t *s = ah_script_get(c->script - 1);
        const char *argv0 = c->argv[0], *argv1 = c->argv[1];
        size_t len0 = c->argvlen[0], len1 = c->argvlen[1];
        c->argv[0] = "EVAL", c->argvlen[0] = 4;
        c->argv[1] = (char *)s->body, c->argvlen[1] = s->len;
        int rv = redisAsyncCommandArgv(ac, on_reply, c, c->argc, (const char **)c->argv, c->argvlen);
        c->argv[0] = (char *)argv0, c->argvlen[0] = len0;
        c->argv[1] = (char *)argv1, c->argvlen[1] = len1;
        c->script = 0;
        if (rv == REDIS_OK) {
            note_sent(r);
            ah_timer_start(r->timers, &c->deadline, r->timeout_ms, c->deadline.cb);
            return;
        }
    }
    c->finished = 1;
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
        ++r->stats.errors;
    if (rep != NULL)
        record_latency(r, c->started_at);
    if (c->cb != NULL)
        c->cb(c->ud, rep, rep == NULL ? "redis connection lost" : NULL);
    free_call(c);
}

static void on_deadline(ah_timer_t *t)
{
    call_t *c = H2O_STRUCT_FROM_MEMBER(call_t, deadline, t);
    ah_redis_t *r = c->r;
    c->finished = 1;
    ++r->stats.timeouts;
    ++r->stats.errors;
    /* hiredis still owns c: it comes back through on_reply with its late reply, or NULL when the connection goes;
     * whether the connection itself is stuck is the watchdog's decision */
    if (c->cb != NULL)
        c->cb(c->ud, NULL, "redis timeout");
}

/* digits of n (n >= 0) then CRLF at p; returns the bytes written */
static size_t put_count(char *p, size_t n)
{
    char tmp[20];
    size_t k = 0, len = 0;
    do {
        tmp[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0);
    while (k > 0)
        p[len++] = tmp[--k];
    p[len++] = '\r', p[len++] = '\n';
    return len;
}

/*
 * redisAsyncCommandArgv without its sds formatting (sdscatfmt per argument
 * cost more than the rest of a script call): the RESP array written by hand
 * into a stack buffer (the heap past 4 KiB), then queued as it is.
 */
static int command_argv(redisAsyncContext *ac, int argc, const char **argv, const size_t *argvlen, void *priv)
{
    size_t total = 1 + 20 + 2;
    for (int i = 0; i != argc; ++i)
        total += 1 + 20 + 2 + (argvlen != NULL ? argvlen[i] : strlen(argv[i])) + 2;
    char stack[4096], *buf = total <= sizeof(stack) ? stack : h2o_mem_alloc(total);
    size_t n = 0;
    buf[n++] = '*';
    n += put_count(buf + n, (size_t)argc);
    for (int i = 0; i != argc; ++i) {
        size_t len = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
        buf[n++] = '$';
        n += put_count(buf + n, len);
        memcpy(buf + n, argv[i], len);
        n += len;
        buf[n++] = '\r', buf[n++] = '\n';
    }
    int rv = redisAsyncFormattedCommand(ac, on_reply, priv, buf, n);
    if (buf != stack)
        free(buf);
    return rv;
}

static int send_call(ah_redis_t *r, call_t *c, int argc, const char **argv, const size_t *argvlen)
{
    c->r = r;
    c->started_at = h2o_now(r->loop);
    if (command_argv(r->ac, argc, argv, argvlen, c) != REDIS_OK) {
        free_call(c);
        return -1;
    }
    ++r->stats.calls;
    note_sent(r);
    ah_timer_start(r->timers, &c->deadline, r->timeout_ms, on_deadline);
    return 0;
}

static void drop_connection(ah_redis_t *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    if (ac == NULL)
        return;
    r->ac = NULL;
    ac->data = NULL;
    go_down(r, why);
    redisAsyncFree(ac); /* fails every pending call with a NULL reply */
}

static void setup_done(void *ud, redisReply *reply, const char *err)
{
    ah_redis_t *r = ud;
    if (err != NULL || reply->type == REDIS_REPLY_ERROR) {
        if (r->ac != NULL && r->state == R_SETUP) {
            ah_log(AH_LOG_ERROR, "redis", "connection setup failed: %s", err != NULL ? err : reply->str);
            drop_connection(r, "setup failed");
        }
        return;
    }
    if (--r->setup_pending == 0 && r->state == R_SETUP) {
        r->state = R_READY;
        r->backoff_ms = BACKOFF_MIN_MS;
        ah_log(AH_LOG_INFO, "redis", "ready on %s:%d", r->host, r->port);
        if (r->hooks.on_ready != NULL)
            r->hooks.on_ready(r, r->hooks.ud);
    }
}

static void send_setup(ah_redis_t *r, int argc, const char **argv, const size_t *argvlen)
{
    call_t *c = h2o_mem_alloc(sizeof(*c));
    *c = (call_t){.cb = setup_done, .ud = r, .setup = 1};
    ++r->setup_pending;
    if (send_call(r, c, argc, argv, argvlen) != 0)
        --r->setup_pending;
}

static void on_subscription(redisAsyncContext *ac, void *reply, void *privdata)
{
    ah_redis_t *r = privdata;
    redisReply *rep = reply;
    if (rep == NULL || r->ac != ac || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3)
        return;
    if (strcmp(rep->element[0]->str, "subscribe") == 0) {
        setup_done(r, rep, NULL);
    } else if (strcmp(rep->element[0]->str, "message") == 0 && r->hooks.on_message != NULL &&
               rep->element[2]->type == REDIS_REPLY_STRING) {
        r->hooks.on_message(r, r->hooks.ud, rep->element[1]->str, rep->element[2]->str, rep->element[2]->len);
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    ah_redis_t *r = ac->data;
    if (r == NULL || r->ac != ac)
        return;
    ah_timer_stop(r->timers, &r->connect_timer);
    if (status != REDIS_OK) {
        ah_log(AH_LOG_WARN, "redis", "cannot connect to %s:%d: %s", r->host, r->port, ac->errstr);
        r->ac = NULL; /* hiredis frees ac after this callback */
        go_down(r, "connect failed");
        return;
    }
    r->state = R_SETUP;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    ah_redis_t *r = ac->data;
    if (r == NULL || r->ac != ac)
        return;
    r->ac = NULL;
    go_down(r, ac->errstr[0] != '\0' ? ac->errstr : "closed by server");
}

static void on_connect_timeout(ah_timer_t *t)
{
    ah_redis_t *r = H2O_STRUCT_FROM_MEMBER(ah_redis_t, connect_timer, t);
    drop_connection(r, "connect timed out");
}

/* resolves r->host into a numeric address; blocking for names (only at (re)connect, never per request) */
static int resolve(const char *host, char *out, size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -1;
    int rv = getnameinfo(res->ai_addr, res->ai_addrlen, out, cap, NULL, 0, NI_NUMERICHOST) == 0 ? 0 : -1;
    freeaddrinfo(res);
    return rv;
}

static void start_connect(ah_redis_t *r)
{
    char addr[INET6_ADDRSTRLEN];
    if (resolve(r->host, addr, sizeof(addr)) != 0) {
        ah_log(AH_LOG_WARN, "redis", "cannot resolve %s", r->host);
        go_down(r, "resolve failed");
        return;
    }
    redisAsyncContext *ac = redisAsyncConnect(addr, r->port);
    if (ac == NULL || ac->err) {
        ah_log(AH_LOG_WARN, "redis", "cannot connect to %s:%d: %s", r->host, r->port, ac ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        go_down(r, "connect failed");
        return;
    }
    ac->data = r;
    ah_redis_adapter_attach(ac, r->loop);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    r->state = R_CONNECTING;
    r->setup_pending = 0;
    ah_timer_start(r->timers, &r->connect_timer, r->timeout_ms, on_connect_timeout);

    /* hiredis queues these until the socket is connected */
    if (r->password[0] != '\0') {
        if (r->user[0] != '\0')
            send_setup(r, 3, (const char *[]){"AUTH", r->user, r->password}, NULL);
        else
            send_setup(r, 2, (const char *[]){"AUTH", r->password}, NULL);
    }
    if (r->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", r->db);
        send_setup(r, 2, (const char *[]){"SELECT", db}, NULL);
    }
    if (r->load_scripts) {
        for (int i = 0; i != AH_SCRIPT__COUNT; ++i) {
            const ah_script_t *s = ah_script_get(i);
            send_setup(r, 3, (const char *[]){"SCRIPT", "LOAD", s->body}, (const size_t[]){6, 4, s->len});
        }
    }
    if (r->channel != NULL) {
        ++r->setup_pending;
        redisAsyncCommand(ac, on_subscription, r, "SUBSCRIBE %s", r->channel);
    }
    if (r->setup_pending == 0) {
        /* nothing to wait for: ready once connected; a PING tells us */
        send_setup(r, 1, (const char *[]){"PING"}, NULL);
    }
}

ah_redis_t *ah_redis_create(h2o_loop_t *loop, ah_timers_t *timers, const ah_redis_conf_t *conf, const ah_redis_hooks_t *hooks)
{
    ah_redis_t *r = h2o_mem_alloc(sizeof(*r));
    *r = (ah_redis_t){.loop = loop, .timers = timers, .port = conf->port, .db = conf->db, .timeout_ms = conf->timeout_ms,
                      .load_scripts = conf->load_scripts, .backoff_ms = BACKOFF_MIN_MS};
    r->host = h2o_strdup(NULL, conf->host, SIZE_MAX).base;
    r->user = h2o_strdup(NULL, conf->user ? conf->user : "", SIZE_MAX).base;
    r->password = h2o_strdup(NULL, conf->password ? conf->password : "", SIZE_MAX).base;
    if (hooks != NULL)
        r->hooks = *hooks;
    r->state = R_DOWN;
    return r;
}

void ah_redis_subscribe(ah_redis_t *r, const char *channel)
{
    free(r->channel);
    r->channel = h2o_strdup(NULL, channel, SIZE_MAX).base;
}

/* the first connect is started explicitly so that the caller can subscribe first */
void ah_redis_start(ah_redis_t *r)
{
    start_connect(r);
}

void ah_redis_destroy(ah_redis_t **pr)
{
    ah_redis_t *r = *pr;
    if (r == NULL)
        return;
    r->hooks = (ah_redis_hooks_t){0};
    drop_connection(r, "shutting down");
    ah_timer_stop(r->timers, &r->reconnect_timer);
    ah_timer_stop(r->timers, &r->connect_timer);
    ah_timer_stop(r->timers, &r->watchdog);
    free(r->host);
    free(r->user);
    free(r->password);
    free(r->channel);
    free(r);
    *pr = NULL;
}

int ah_redis_is_ready(const ah_redis_t *r)
{
    return r->state == R_READY;
}

int ah_redis_command(ah_redis_t *r, ah_redis_cb cb, void *ud, int argc, const char **argv, const size_t *argvlen)
{
    if (r->state != R_READY)
        return -1;
    call_t *c = h2o_mem_alloc(sizeof(*c));
    *c = (call_t){.cb = cb, .ud = ud};
    return send_call(r, c, argc, argv, argvlen);
}

int ah_redis_script(ah_redis_t *r, ah_script_id_t id, int nkeys, int argc, const char **argv, const size_t *argvlen, ah_redis_cb cb,
                    void *ud)
{
    if (r->state != R_READY)
        return -1;
    const ah_script_t *s = ah_script_get(id);
    call_t *c = h2o_mem_alloc(sizeof(*c));
    *c = (call_t){.cb = cb, .ud = ud, .script = (int)id + 1, .argc = argc + 3};
    /* one allocation: the pointer array, the lengths, then every argument's bytes */
    char nk[16];
    size_t nklen = (size_t)snprintf(nk, sizeof(nk), "%d", nkeys), bytes = 7 + 40 + nklen;
    for (int i = 0; i != argc; ++i)
        bytes += argvlen != NULL ? argvlen[i] : strlen(argv[i]);
    size_t head = (sizeof(char *) + sizeof(size_t)) * c->argc;
    char *block = h2o_mem_alloc(head + bytes);
    c->argv = (char **)block;
    c->argvlen = (size_t *)(block + sizeof(char *) * c->argc);
    char *p = block + head;
#define PUT(i, src, n)                                                                                                                     \
    do {                                                                                                                                   \
        memcpy(p, (src), (n));                                                                                                             \
        c->argv[i] = p, c->argvlen[i] = (n), p += (n);                                                                                     \
    } while (0)
    PUT(0, "EVALSHA", 7);
    PUT(1, s->sha, 40);
    PUT(2, nk, nklen);
    for (int i = 0; i != argc; ++i) {
        size_t len = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
        PUT(i + 3, argv[i], len);
    }
#undef PUT
    return send_call(r, c, c->argc, (const char **)c->argv, c->argvlen);
}

const ah_redis_stats_t *ah_redis_stats(const ah_redis_t *r)
{
    return &r->stats;
}
