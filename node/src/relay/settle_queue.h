/*
 * Settlements that could not be sent: when a request ends while the worker's
 * Redis connection is down (or between a drop and the reconnect), its settle
 * call waits here and is sent as soon as the connection is ready again. Without
 * it a served request would stay uncharged, its hold refunded by the sweep when
 * the lease expires. Only calls that were never sent are queued, so none runs
 * twice. One queue per worker, used from its loop thread only; bounded.
 */
#ifndef AH_RELAY_SETTLE_QUEUE_H
#define AH_RELAY_SETTLE_QUEUE_H
#include <stddef.h>

struct st_ah_worker_t;

/** most settlements a worker keeps waiting; beyond it they are dropped (logged; the sweep settles them) */
#define AH_SETTLE_QUEUE_MAX 10000

/** copies argv (keys first, as for ah_redis_script) into the worker's queue; -1 when full or out of memory */
int ah_settle_queue_push(struct st_ah_worker_t *w, int nkeys, int argc, const char **argv);
/**
 * Sends an idempotent settle call (one that changes nothing when run twice,
 * such as outcome "released") so that it is not lost with the connection: if
 * the connection goes before its reply, it is queued again (it may or may not
 * have run; running it again is harmless). -1 when it could not be sent or queued.
 */
int ah_settle_queue_send_idempotent(struct st_ah_worker_t *w, int nkeys, int argc, const char **argv);
/** sends what waits, oldest first, while the connection takes calls; what it cannot send stays */
void ah_settle_queue_flush(struct st_ah_worker_t *w);
/** settlements waiting (for /metrics and tests) */
size_t ah_settle_queue_length(const struct st_ah_worker_t *w);
/** frees the worker's queue and what it holds (at worker exit) */
void ah_settle_queue_destroy(struct st_ah_worker_t *w);

#endif
