/*
 * Arbitrary-deadline timers for one h2o evloop.
 *
 * h2o 2.2.5 only offers fixed-duration timeout lists. This module keeps a
 * binary min-heap of absolute deadlines per loop; the worker's run loop asks
 * ah_timers_wait_ms() how long h2o_evloop_run may block, and expired timers
 * fire from a 0 ms h2o timeout entry so that their callbacks always run inside
 * h2o_evloop_run (calling h2o from outside it stalls the loop).
 */
#ifndef AH_LOOP_TIMER_H
#define AH_LOOP_TIMER_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>

typedef struct st_ah_timer_t ah_timer_t;
typedef void (*ah_timer_cb)(ah_timer_t *t);

/** a timer; embed it in the object it belongs to */
struct st_ah_timer_t {
    uint64_t at;     /**< absolute deadline, h2o_now() milliseconds */
    size_t slot;     /**< heap index + 1; 0 when not armed */
    ah_timer_cb cb;  /**< called once when the deadline passes */
};

/** the heap of one loop */
typedef struct st_ah_timers_t {
    h2o_loop_t *loop;
    ah_timer_t **heap;
    size_t len, cap;
    h2o_timeout_t zero;             /**< 0 ms list used to fire inside the loop */
    h2o_timeout_entry_t zero_entry;
} ah_timers_t;

void ah_timers_init(ah_timers_t *ts, h2o_loop_t *loop);
/** disposes the heap; armed timers are forgotten without firing */
void ah_timers_dispose(ah_timers_t *ts);
/** arms (or re-arms) t to fire after delay_ms */
void ah_timer_start(ah_timers_t *ts, ah_timer_t *t, uint64_t delay_ms, ah_timer_cb cb);
/** disarms t; a no-op when it is not armed */
void ah_timer_stop(ah_timers_t *ts, ah_timer_t *t);
static inline int ah_timer_is_armed(const ah_timer_t *t) { return t->slot != 0; }
/** how long the loop may block (ms, capped at max_ms); links the 0 ms entry when something is due */
int32_t ah_timers_wait_ms(ah_timers_t *ts, int32_t max_ms);

#endif
