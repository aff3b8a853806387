/*
 * Deadline timers on an h2o evloop: a binary min-heap ordered by deadline.
 * Firing happens from a 0 ms h2o timeout entry (see timer.h for why).
 */
#include <stdlib.h>
#include "loop/timer.h"

static void heap_swap(ah_timers_t *ts, size_t a, size_t b)
{
    ah_timer_t *t = ts->heap[a];
    ts->heap[a] = ts->heap[b];
    ts->heap[b] = t;
    ts->heap[a]->slot = a + 1;
    ts->heap[b]->slot = b + 1;
}

static void heap_up(ah_timers_t *ts, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (ts->heap[parent]->at <= ts->heap[i]->at)
            break;
        heap_swap(ts, parent, i);
        i = parent;
    }
}

static void heap_down(ah_timers_t *ts, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < ts->len && ts->heap[l]->at < ts->heap[min]->at)
            min = l;
        if (r < ts->len && ts->heap[r]->at < ts->heap[min]->at)
            min = r;
        if (min == i)
            break;
        heap_swap(ts, i, min);
        i = min;
    }
}

static void fire_expired(h2o_timeout_entry_t *entry)
{
    ah_timers_t *ts = H2O_STRUCT_FROM_MEMBER(ah_timers_t, zero_entry, entry);
    uint64_t now = h2o_now(ts->loop);
    while (ts->len != 0 && ts->heap[0]->at <= now) {
        ah_timer_t *t = ts->heap[0];
        ah_timer_stop(ts, t);
        t->cb(t);
    }
}

void ah_timers_init(ah_timers_t *ts, h2o_loop_t *loop)
{
    *ts = (ah_timers_t){.loop = loop};
    h2o_timeout_init(loop, &ts->zero, 0);
    ts->zero_entry.cb = fire_expired;
}

void ah_timers_dispose(ah_timers_t *ts)
{
    if (h2o_timeout_is_linked(&ts->zero_entry))
        h2o_timeout_unlink(&ts->zero_entry);
    h2o_timeout_dispose(ts->loop, &ts->zero);
    for (size_t i = 0; i != ts->len; ++i)
        ts->heap[i]->slot = 0;
    free(ts->heap);
    ts->heap = NULL;
    ts->len = ts->cap = 0;
}

void ah_timer_start(ah_timers_t *ts, ah_timer_t *t, uint64_t delay_ms, ah_timer_cb cb)
{
    ah_timer_stop(ts, t);
    t->at = h2o_now(ts->loop) + delay_ms;
    t->cb = cb;
    if (ts->len == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 64;
        ts->heap = h2o_mem_realloc(ts->heap, ts->cap * sizeof(*ts->heap));
    }
    ts->heap[ts->len] = t;
    t->slot = ++ts->len;
    heap_up(ts, ts->len - 1);
    if (delay_ms == 0 && !h2o_timeout_is_linked(&ts->zero_entry))
        h2o_timeout_link(ts->loop, &ts->zero, &ts->zero_entry);
}

void ah_timer_stop(ah_timers_t *ts, ah_timer_t *t)
{
    if (t->slot == 0)
        return;
    size_t i = t->slot - 1;
    t->slot = 0;
    --ts->len;
    if (i == ts->len)
        return;
    ts->heap[i] = ts->heap[ts->len];
    ts->heap[i]->slot = i + 1;
    heap_down(ts, i);
    heap_up(ts, i);
}

int32_t ah_timers_wait_ms(ah_timers_t *ts, int32_t max_ms)
{
    if (ts->len == 0)
        return max_ms;
    uint64_t now = h2o_now(ts->loop), at = ts->heap[0]->at;
    if (at <= now) {
        if (!h2o_timeout_is_linked(&ts->zero_entry))
            h2o_timeout_link(ts->loop, &ts->zero, &ts->zero_entry);
        return 0;
    }
    return at - now < (uint64_t)max_ms ? (int32_t)(at - now) : max_ms;
}
