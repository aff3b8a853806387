/*
 * test_redis_client.c: the deadline policy of redis/client.c, driven on a real
 * h2o evloop against a scripted fake Redis (a thread speaking just enough RESP
 * on 127.0.0.1). Checked:
 *   - slow but answering: six pipelined calls answered 400 ms apart with a
 *     1000 ms deadline; the first two succeed, the other four fail alone by
 *     their deadline, the connection is kept, the late replies are swallowed
 *     (the next call gets its own reply, not a stale one) and freed (the
 *     sanitizer build checks for leaks at exit);
 *   - stuck: no reply at all while calls are pending; each call times out,
 *     then the connection is dropped and re-established, and serves again.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <h2o.h>

#include "loop/timer.h"
#include "redis/client.h"
#include "tap.h"

/* --- the fake Redis ------------------------------------------------------------------------------------------- */

typedef struct st_fake_t {
    int lfd, port;
    int stuck;        /* first connection: never answer a command other than PING */
    int gap_ms;       /* first connection: the k-th command (0-based, PINGs aside) is answered at first + (k+1) * gap */
    int scheduled;    /* how many commands follow that schedule; later ones are answered at once */
    pthread_t thread;
} fake_t;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_until(uint64_t at)
{
    uint64_t now = mono_ms();
    if (at > now) {
        struct timespec ts = {.tv_sec = (time_t)((at - now) / 1000), .tv_nsec = (long)((at - now) % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* one complete RESP command at buf: its length (0 if incomplete); name gets the first argument (truncated) */
static size_t parse_command(const char *buf, size_t len, char *name, size_t namecap)
{
    const char *p = buf, *end = buf + len;
    if (p == end || *p != '*')
        return 0;
    char *e;
    long n = strtol(p + 1, &e, 10);
    if (e + 2 > end || memcmp(e, "\r\n", 2) != 0)
        return 0;
    p = e + 2;
    for (long i = 0; i != n; ++i) {
        if (p == end || *p != '$')
            return 0;
        long l = strtol(p + 1, &e, 10);
        if (e + 2 > end || memcmp(e, "\r\n", 2) != 0 || e + 2 + l + 2 > end)
            return 0;
        if (i == 0) {
            size_t c = (size_t)l < namecap - 1 ? (size_t)l : namecap - 1;
            memcpy(name, e + 2, c);
            name[c] = '\0';
        }
        p = e + 2 + l + 2;
    }
    return (size_t)(p - buf);
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n != 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w, n -= (size_t)w;
    }
}

/* serves one connection until the client closes it */
static void serve(fake_t *f, int fd, int first)
{
    char buf[65536];
    size_t have = 0;
    int k = 0;
    uint64_t t_first = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - have);
        if (n <= 0)
            return;
        have += (size_t)n;
        size_t used;
        char name[16];
        while ((used = parse_command(buf, have, name, sizeof(name))) != 0) {
            memmove(buf, buf + used, have - used);
            have -= used;
            if (strcmp(name, "PING") == 0) {
                write_all(fd, "+PONG\r\n", 7);
                continue;
            }
            if (t_first == 0)
                t_first = mono_ms();
            int idx = k++;
            if (first && f->stuck)
                continue;
            if (first && idx < f->scheduled)
                sleep_until(t_first + (uint64_t)(idx + 1) * (uint64_t)f->gap_ms);
            char rep[32];
            write_all(fd, rep, (size_t)snprintf(rep, sizeof(rep), ":%d\r\n", idx));
        }
    }
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    for (int first = 1;; first = 0) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        serve(f, fd, first);
        close(fd);
    }
}

static void fake_start(fake_t *f)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(f->lfd, 8) != 0 ||
        getsockname(f->lfd, (struct sockaddr *)&a, &al) != 0)
        abort();
    f->port = ntohs(a.sin_port);
    pthread_create(&f->thread, NULL, fake_main, f);
}

static void fake_stop(fake_t *f)
{
    shutdown(f->lfd, SHUT_RDWR); /* accept() fails: the thread ends once its client is gone */
    pthread_join(f->thread, NULL);
    close(f->lfd);
}

/* --- the client on a loop ------------------------------------------------------------------------------------- */

static h2o_loop_t *loop;
static ah_timers_t timers;

typedef struct st_result_t {
    int done;
    long long value;
    const char *err;
} result_t;

static void on_result(void *ud, redisReply *reply, const char *err)
{
    result_t *x = ud;
    x->done = 1;
    x->err = err;
    x->value = reply != NULL && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
}

/* runs the loop until *flag or for at most ms (flag may be NULL: run for ms) */
static void run_until(const int *flag, uint64_t ms)
{
    uint64_t end = mono_ms() + ms;
    while ((flag == NULL || !*flag) && mono_ms() < end)
        h2o_evloop_run(loop, ah_timers_wait_ms(&timers, 10));
}

static void wait_ready(ah_redis_t *r, uint64_t ms)
{
    uint64_t end = mono_ms() + ms;
    while (!ah_redis_is_ready(r) && mono_ms() < end)
        h2o_evloop_run(loop, ah_timers_wait_ms(&timers, 10));
}

static int get(ah_redis_t *r, result_t *x)
{
    *x = (result_t){0};
    return ah_redis_command(r, on_result, x, 2, (const char *[]){"GET", "k"}, NULL);
}

static ah_redis_t *client_for(const fake_t *f, int timeout_ms)
{
    ah_redis_conf_t conf = {.host = "127.0.0.1", .port = f->port, .timeout_ms = timeout_ms};
    ah_redis_t *r = ah_redis_create(loop, &timers, &conf, NULL);
    ah_redis_start(r);
    wait_ready(r, 3000);
    return r;
}

static void finish_client(ah_redis_t **r)
{
    ah_redis_destroy(r);
    run_until(NULL, 20); /* h2o frees closed sockets on its next turn */
}

static void test_slow_but_answering(void)
{
    fake_t f = {.gap_ms = 400, .scheduled = 6};
    fake_start(&f);
    ah_redis_t *r = client_for(&f, 1000);
    ok(ah_redis_is_ready(r), "slow: connected");

    result_t x[6];
    for (int i = 0; i != 6; ++i)
        is_int(get(r, &x[i]), 0, "slow: call sent");
    run_until(&x[5].done, 3000);
    for (int i = 0; i != 2; ++i) {
        ok(x[i].done && x[i].err == NULL, "slow: a call answered within its deadline succeeds");
        is_int(x[i].value, i, "slow: with its own reply");
    }
    for (int i = 2; i != 6; ++i) {
        ok(x[i].done && x[i].err != NULL && strcmp(x[i].err, "redis timeout") == 0, "slow: a call past its deadline fails alone");
    }
    /* the late replies keep arriving (the last at 2400 ms); the connection must survive them */
    run_until(NULL, 1800);
    ok(ah_redis_is_ready(r), "slow: the connection is kept while replies arrive");
    const ah_redis_stats_t *st = ah_redis_stats(r);
    is_int(st->timeouts, 4, "slow: four timeouts counted");
    is_int(st->errors, 4, "slow: and four errors");
    is_int(st->reconnects, 0, "slow: no reconnect");

    result_t y;
    is_int(get(r, &y), 0, "slow: next call sent");
    run_until(&y.done, 2000);
    ok(y.done && y.err == NULL, "slow: the next call succeeds");
    is_int(y.value, 6, "slow: and gets its own reply, not a late one");

    finish_client(&r);
    fake_stop(&f);
}

static void test_stuck(void)
{
    fake_t f = {.stuck = 1};
    fake_start(&f);
    ah_redis_t *r = client_for(&f, 500);
    ok(ah_redis_is_ready(r), "stuck: connected");

    result_t x[3];
    uint64_t t0 = mono_ms();
    for (int i = 0; i != 3; ++i)
        get(r, &x[i]);
    run_until(&x[2].done, 2000);
    uint64_t took = mono_ms() - t0;
    for (int i = 0; i != 3; ++i)
        ok(x[i].done && x[i].err != NULL && strcmp(x[i].err, "redis timeout") == 0, "stuck: each call fails by its deadline");
    ok(took >= 450 && took < 1500, "stuck: at about the deadline");
    const ah_redis_stats_t *st = ah_redis_stats(r);
    run_until(NULL, 100);
    is_int(st->reconnects, 1, "stuck: then the connection is dropped");
    is_int(st->timeouts, 3, "stuck: three timeouts counted");

    wait_ready(r, 3000);
    ok(ah_redis_is_ready(r), "stuck: reconnected");
    result_t y;
    is_int(get(r, &y), 0, "stuck: call sent on the new connection");
    run_until(&y.done, 2000);
    ok(y.done && y.err == NULL && y.value == 0, "stuck: served again");

    finish_client(&r);
    fake_stop(&f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the fake server may write to a connection the client dropped */
    loop = h2o_evloop_create();
    ah_timers_init(&timers, loop);
    test_slow_but_answering();
    test_stuck();
    ah_timers_dispose(&timers);
    h2o_evloop_destroy(loop);
    return done_testing();
}
