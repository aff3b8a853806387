/* Arbitrary-duration timers on h2o 2.2.5's fixed-duration timeout lists. */
#ifndef MOCK_TIMERS_H
#define MOCK_TIMERS_H

#include <h2o.h>

/**
 * Links entry (cb already set) to fire after ms milliseconds on loop. The list for each distinct duration is created on
 * first use and kept per thread. Returns 0, or -1 on allocation failure (entry is then not linked).
 */
int mock_timer_start(h2o_loop_t *loop, h2o_timeout_entry_t *entry, uint64_t ms);

#endif
