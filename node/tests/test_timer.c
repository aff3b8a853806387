/*
 * test_timer.c: unit tests for loop/timer.c, fired through a real h2o evloop
 * the way the worker runs it (h2o_evloop_run(loop, ah_timers_wait_ms(...))).
 * Many timers are armed, stopped and re-armed in an order drawn from a seeded
 * PRNG (AIHUB_TEST_SEED overrides the seed); a model kept alongside says which
 * must fire and when. Checked: the heap invariant after every operation, every
 * armed timer firing exactly once at or after its deadline and in deadline
 * order, stopped timers never firing, timers re-armed or stopped from
 * callbacks, and the wait ah_timers_wait_ms allows. Deadlines are 0..30 ms.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <h2o.h>

#include "loop/timer.h"
#include "tap.h"

#define NTIMERS 300
#define WALL_LIMIT_MS 5000

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static uint64_t rng_below(uint64_t n)
{
    return rng() % n;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* one timer under test and the model of what it should do */
typedef struct st_tt_t {
    ah_timer_t t;
    size_t id;
    int armed;          /**< model: armed and not yet fired */
    uint64_t expect_at; /**< model: its deadline */
    int fires;          /**< times it fired */
    int chaos;          /**< its callback disturbs other timers */
} tt_t;

static h2o_evloop_t *loop;
static ah_timers_t ts;
static tt_t timers[NTIMERS];
static size_t narmed;               /* model: how many are armed */
static int bad_fires;               /* fired while the model says unarmed, or at the wrong deadline */
static int early_fires;             /* fired before the deadline */
static int out_of_order;            /* fired with a deadline before the previous one's */
static uint64_t last_fired_at;
static size_t nfired;

static int heap_ok(void)
{
    for (size_t i = 0; i != ts.len; i++) {
        if (ts.heap[i]->slot != i + 1)
            return 0;
        if (i > 0 && ts.heap[(i - 1) / 2]->at > ts.heap[i]->at)
            return 0;
    }
    return 1;
}

static void on_fire(ah_timer_t *t);

static void model_start(tt_t *x, uint64_t delay)
{
    ah_timer_start(&ts, &x->t, delay, on_fire);
    if (!x->armed)
        narmed++;
    x->armed = 1;
    x->expect_at = h2o_now(loop) + delay;
}

static void model_stop(tt_t *x)
{
    ah_timer_stop(&ts, &x->t);
    if (x->armed)
        narmed--;
    x->armed = 0;
}

/* one random operation on a random timer; delays 0..maxdelay */
static void random_op(uint64_t maxdelay)
{
    tt_t *x = &timers[rng_below(NTIMERS)];
    switch (rng_below(4)) {
    case 0:
    case 1:
        model_start(x, rng_below(maxdelay + 1)); /* starts, or re-arms an armed one */
        break;
    default:
        model_stop(x); /* also on unarmed timers: must be a no-op */
        break;
    }
}

static void on_fire(ah_timer_t *t)
{
    tt_t *x = H2O_STRUCT_FROM_MEMBER(tt_t, t, t);
    uint64_t now = h2o_now(loop);
    x->fires++;
    nfired++;
    if (!x->armed || t->at != x->expect_at)
        bad_fires++;
    if (now < t->at)
        early_fires++;
    if (t->at < last_fired_at)
        out_of_order++;
    last_fired_at = t->at;
    if (ah_timer_is_armed(t))
        bad_fires++; /* disarmed before its callback runs */
    if (x->armed)
        narmed--;
    x->armed = 0;
    if (x->chaos) {
        /* disturb: stop, arm or re-arm some others from inside the firing pass */
        for (int i = 0; i != 3; i++)
            random_op(10);
    }
}

/* runs the loop as the worker does until the model has nothing armed (or the wall limit) */
static int run_until_idle(int *wait_ok)
{
    uint64_t start = mono_ms();
    while (narmed != 0 && mono_ms() - start < WALL_LIMIT_MS) {
        int32_t w = ah_timers_wait_ms(&ts, 50);
        /* the wait never passes the earliest modelled deadline, and never exceeds the cap */
        uint64_t now = h2o_now(loop), min_at = UINT64_MAX;
        for (size_t i = 0; i != NTIMERS; i++)
            if (timers[i].armed && timers[i].expect_at < min_at)
                min_at = timers[i].expect_at;
        if (w < 0 || w > 50 || (min_at != UINT64_MAX && now + (uint64_t)w > (min_at > now ? min_at : now)))
            *wait_ok = 0;
        h2o_evloop_run(loop, w);
    }
    return narmed == 0;
}

static void reset_all(void)
{
    for (size_t i = 0; i != NTIMERS; i++) {
        ah_timer_stop(&ts, &timers[i].t);
        timers[i] = (tt_t){.id = i};
    }
    narmed = 0;
    bad_fires = early_fires = out_of_order = 0;
    last_fired_at = 0;
    nfired = 0;
}

static void test_random_order(uint64_t seed)
{
    reset_all();
    rng_state = seed;
    int heap_good = 1, len_good = 1;
    for (int i = 0; i != 5000; i++) {
        random_op(30);
        heap_good &= heap_ok();
        len_good &= ts.len == narmed;
    }
    ok(heap_good, "random arm/stop/re-arm: heap order and slots hold after every operation");
    ok(len_good, "random arm/stop/re-arm: heap size equals the armed count");
    int armed_flags_ok = 1;
    for (size_t i = 0; i != NTIMERS; i++)
        armed_flags_ok &= ah_timer_is_armed(&timers[i].t) == timers[i].armed;
    ok(armed_flags_ok, "ah_timer_is_armed matches the model for every timer");
    ok(narmed > NTIMERS / 4, "a fair share of timers is armed before running");
    diag("%zu of %d timers armed", narmed, NTIMERS);

    int expect_fire[NTIMERS];
    for (size_t i = 0; i != NTIMERS; i++)
        expect_fire[i] = timers[i].armed;
    size_t want = narmed;
    int wait_ok = 1;
    ok(run_until_idle(&wait_ok), "all armed timers fired within the time limit");
    ok(wait_ok, "ah_timers_wait_ms never allowed a wait past the earliest deadline or the cap");
    is_int(nfired, want, "as many fires as armed timers");
    int once = 1, never = 1;
    for (size_t i = 0; i != NTIMERS; i++) {
        if (expect_fire[i])
            once &= timers[i].fires == 1;
        else
            never &= timers[i].fires == 0;
    }
    ok(once, "every armed timer fired exactly once");
    ok(never, "stopped (and never armed) timers never fired");
    is_int(bad_fires, 0, "each fire was of an armed timer at its latest deadline, already disarmed");
    is_int(early_fires, 0, "no timer fired before its deadline");
    is_int(out_of_order, 0, "timers fired in deadline order");
    is_int(ts.len, 0, "heap empty afterwards");
    is_int(ah_timers_wait_ms(&ts, 50), 50, "nothing armed: wait is the cap");
}

static void test_random_with_chaos(uint64_t seed)
{
    reset_all();
    rng_state = seed ^ 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i != NTIMERS; i++)
        timers[i].chaos = i % 5 == 0;
    for (int i = 0; i != 3000; i++)
        random_op(30);
    int heap_good = 1, wait_ok = 1;
    /* several rounds: run a little, then disturb from outside the loop too */
    for (int round = 0; round != 5; round++) {
        int32_t w = ah_timers_wait_ms(&ts, 50);
        h2o_evloop_run(loop, w > 5 ? 5 : w);
        for (int i = 0; i != 200; i++) {
            random_op(30);
            heap_good &= heap_ok();
        }
    }
    ok(run_until_idle(&wait_ok), "chaos: all armed timers fired within the time limit");
    ok(heap_good, "chaos: heap order holds between runs");
    ok(wait_ok, "chaos: waits never pass the earliest deadline");
    ok(nfired > 0, "chaos: timers fired");
    is_int(bad_fires, 0, "chaos: no stopped or stale timer fired, each at its latest deadline");
    is_int(early_fires, 0, "chaos: no timer fired early");
    is_int(out_of_order, 0, "chaos: fired in deadline order");
    is_int(ts.len, 0, "chaos: heap empty afterwards");
    diag("chaos: %zu fires", nfired);
    for (size_t i = 0; i != NTIMERS; i++)
        timers[i].chaos = 0;
}

/* a timer that re-arms itself from its callback */
typedef struct st_rearm_t {
    ah_timer_t t;
    int count, limit;
    uint64_t delay;
    uint64_t fired_at[8];
} rearm_t;

static void on_rearm(ah_timer_t *t)
{
    rearm_t *r = H2O_STRUCT_FROM_MEMBER(rearm_t, t, t);
    if (r->count < 8)
        r->fired_at[r->count] = h2o_now(loop);
    if (++r->count < r->limit)
        ah_timer_start(&ts, t, r->delay, on_rearm);
}

static void run_while(int (*cond)(void *), void *arg)
{
    uint64_t start = mono_ms();
    while (cond(arg) && mono_ms() - start < WALL_LIMIT_MS)
        h2o_evloop_run(loop, ah_timers_wait_ms(&ts, 50));
}

static int rearm_pending(void *arg)
{
    rearm_t *r = arg;
    return r->count < r->limit;
}

static void test_rearm_from_callback(void)
{
    reset_all();
    rearm_t r = {.limit = 4, .delay = 3};
    ah_timer_start(&ts, &r.t, 2, on_rearm);
    run_while(rearm_pending, &r);
    is_int(r.count, 4, "a timer re-armed from its own callback fires again (4 times)");
    int spaced = 1;
    for (int i = 1; i != 4; i++)
        spaced &= r.fired_at[i] >= r.fired_at[i - 1] + 3;
    ok(spaced, "  each time at least its delay after the previous");
    ok(!ah_timer_is_armed(&r.t), "  and is disarmed after the last");

    rearm_t z = {.limit = 5, .delay = 0};
    ah_timer_start(&ts, &z.t, 0, on_rearm);
    run_while(rearm_pending, &z);
    is_int(z.count, 5, "re-armed with delay 0 from its callback: fires 5 times, no hang");
    is_int(ts.len, 0, "heap empty afterwards");
}

/* A stops B and re-arms C from its callback */
static ah_timer_t ta, tb, tc, td;
static int fa, fb, fc, fd;

static int fcount;
static void on_count(ah_timer_t *t)
{
    fcount++;
}
static void on_d(ah_timer_t *t)
{
    fd++;
}
static void on_c(ah_timer_t *t)
{
    fc++;
}
static void on_b(ah_timer_t *t)
{
    fb++;
}
static void on_a(ah_timer_t *t)
{
    fa++;
    ah_timer_stop(&ts, &tb);
    ah_timer_start(&ts, &tc, 0, on_c);
    ah_timer_start(&ts, &td, 1, on_d);
}

static int abcd_pending(void *arg)
{
    return ts.len != 0;
}

static void test_stop_from_callback(void)
{
    reset_all();
    fa = fb = fc = fd = 0;
    ah_timer_start(&ts, &tb, 4, on_b);
    ah_timer_start(&ts, &tc, 25, on_c);
    ah_timer_start(&ts, &ta, 2, on_a);
    /* both A and B become due before the loop next looks: they fire in one pass, A first */
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
    run_while(abcd_pending, NULL);
    is_int(fa, 1, "A fired once");
    is_int(fb, 0, "B, stopped by A's callback although due in the same pass, never fired");
    is_int(fc, 1, "C, re-armed by A's callback to 0 ms, fired once (not at its old deadline too)");
    is_int(fd, 1, "D, armed by A's callback, fired once");
    ok(!ah_timer_is_armed(&ta) && !ah_timer_is_armed(&tb) && !ah_timer_is_armed(&tc) && !ah_timer_is_armed(&td), "all disarmed");
}

static void test_wait_ms(void)
{
    reset_all();
    ah_timer_t t1 = {0}, t2 = {0}, t3 = {0}, far = {0};
    fcount = 0;
    is_int(ah_timers_wait_ms(&ts, 50), 50, "empty: wait is the cap");
    is_int(ah_timers_wait_ms(&ts, 0), 0, "empty: cap 0");
    ok(!ah_timer_is_armed(&t1), "a zeroed timer is not armed");
    ah_timer_stop(&ts, &t1);
    is_int(ts.len, 0, "stopping an unarmed timer is a no-op");

    /* h2o_now stays put while the loop is not run, so the waits below are exact */
    h2o_evloop_run(loop, 0);
    ah_timer_start(&ts, &t1, 30, on_count);
    ok(ah_timer_is_armed(&t1), "started timer is armed");
    is_int(ah_timers_wait_ms(&ts, 50), 30, "one timer at 30 ms, cap 50: 30");
    is_int(ah_timers_wait_ms(&ts, 10), 10, "one timer at 30 ms, cap 10: 10");
    is_int(ah_timers_wait_ms(&ts, 30), 30, "one timer at 30 ms, cap 30: 30");
    ok(!h2o_timeout_is_linked(&ts.zero_entry), "nothing due: the 0 ms entry is not linked");
    ah_timer_start(&ts, &t2, 20, on_count);
    is_int(ah_timers_wait_ms(&ts, 50), 20, "an earlier timer (20 ms) shortens the wait");
    ah_timer_start(&ts, &t2, 25, on_count);
    is_int(ah_timers_wait_ms(&ts, 50), 25, "re-armed later (25 ms): the wait follows");
    ah_timer_stop(&ts, &t2);
    is_int(ah_timers_wait_ms(&ts, 50), 30, "stopped: back to 30");
    ah_timer_start(&ts, &far, 100000, on_count);
    is_int(ah_timers_wait_ms(&ts, 50), 30, "a far timer does not change the earliest");
    ah_timer_stop(&ts, &t1);
    is_int(ah_timers_wait_ms(&ts, 50), 50, "only a far timer: the cap");
    is_int(ah_timers_wait_ms(&ts, INT32_MAX), 100000, "only a far timer, huge cap: its distance");
    ah_timer_stop(&ts, &far);

    ah_timer_start(&ts, &t3, 0, on_count);
    ok(h2o_timeout_is_linked(&ts.zero_entry), "a 0 ms timer links the 0 ms entry");
    is_int(ah_timers_wait_ms(&ts, 50), 0, "a due timer: wait 0");
    ah_timer_stop(&ts, &t3);
    is_int(ah_timers_wait_ms(&ts, 50), 50, "stopped again: the cap");
    h2o_evloop_run(loop, 0); /* the stale 0 ms entry runs and finds nothing */
    is_int(fcount, 0, "a stopped 0 ms timer does not fire");

    /* a timer that comes due while nobody looks: wait_ms must link the entry itself */
    ah_timer_start(&ts, &t1, 1, on_count);
    ok(!h2o_timeout_is_linked(&ts.zero_entry), "1 ms timer: entry not linked yet");
    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, NULL);
    h2o_evloop_run(loop, 0); /* updates h2o_now past the deadline; nothing is linked, so nothing fires */
    is_int(fcount, 0, "not fired before wait_ms saw it due");
    is_int(ah_timers_wait_ms(&ts, 50), 0, "overdue timer: wait 0");
    ok(h2o_timeout_is_linked(&ts.zero_entry), "  and the 0 ms entry is linked");
    h2o_evloop_run(loop, 0);
    is_int(fcount, 1, "the overdue timer fired on the next run");
}

static void test_dispose(void)
{
    reset_all();
    h2o_evloop_t *l2 = h2o_evloop_create();
    ah_timers_t t2s;
    ah_timers_init(&t2s, l2);
    ah_timer_t a = {0}, b = {0};
    fb = 0;
    ah_timer_start(&t2s, &a, 0, on_b);
    ah_timer_start(&t2s, &b, 10, on_b);
    ah_timers_dispose(&t2s);
    ok(!ah_timer_is_armed(&a) && !ah_timer_is_armed(&b), "dispose disarms the armed timers");
    ok(t2s.heap == NULL && t2s.len == 0, "dispose frees the heap");
    h2o_evloop_run(l2, 0);
    is_int(fb, 0, "disposed timers never fire");
    h2o_evloop_destroy(l2);
}

int main(void)
{
    uint64_t seed = 0x5eed1234abcdULL;
    const char *env = getenv("AIHUB_TEST_SEED");
    if (env != NULL && env[0] != '\0')
        seed = strtoull(env, NULL, 0);
    if (seed == 0)
        seed = 1;
    diag("seed %" PRIu64 " (set AIHUB_TEST_SEED to repeat another)", seed);
    loop = h2o_evloop_create();
    ah_timers_init(&ts, loop);
    test_wait_ms();
    test_random_order(seed);
    test_random_order(seed * 3 + 1);
    test_random_with_chaos(seed);
    test_rearm_from_callback();
    test_stop_from_callback();
    reset_all();
    ah_timers_dispose(&ts);
    h2o_evloop_destroy(loop);
    test_dispose();
    return done_testing();
}
