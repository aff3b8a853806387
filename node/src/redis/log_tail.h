/*
 * The live request log of one worker thread: a dedicated Redis connection
 * that blocks on `XREAD BLOCK` for new entries of the ah:logs stream and hands
 * each one to the worker's subscribers (the /api/logs/stream clients served by
 * this thread). One reader per worker, never one per subscriber: it starts
 * with the first subscriber and stops shortly after the last one leaves.
 *
 * Everything here runs on the worker's own loop: no locks, no cross-thread
 * hand-off.
 */
#ifndef AH_REDIS_LOG_TAIL_H
#define AH_REDIS_LOG_TAIL_H

#include <stdint.h>
#include <h2o.h>
#include <hiredis/hiredis.h>
#include "node.h"

/** how long one XREAD blocks (ms); the connection's call deadline is this plus AIHUB_REDIS_TIMEOUT_MS */
#define AH_LOG_TAIL_BLOCK_MS 5000
/** entries asked for per XREAD */
#define AH_LOG_TAIL_BATCH 256
/** how long the reader stays after the last subscriber left (ms), so that a reconnecting client finds it running */
#define AH_LOG_TAIL_LINGER_MS 1000
/** period of the subscribers' on_tick (ms) */
#define AH_LOG_TAIL_TICK_MS 1000

typedef struct st_ah_log_sub_t ah_log_sub_t;

/** one subscriber; embed it in the subscriber's context and fill the callbacks */
struct st_ah_log_sub_t {
    /** the reader is positioned: every entry added from now on will be delivered */
    void (*on_ready)(ah_log_sub_t *s);
    /** one new entry: its stream id and flat field/value array, borrowed until return; may unsubscribe s */
    void (*on_entry)(ah_log_sub_t *s, const char *id, size_t idlen, const redisReply *fields);
    /** the reader could not be positioned in time (Redis unreachable); s is already unsubscribed */
    void (*on_fail)(ah_log_sub_t *s);
    /** the worker is shutting down; s is already unsubscribed */
    void (*on_close)(ah_log_sub_t *s);
    /** every AH_LOG_TAIL_TICK_MS while subscribed and ready (keep-alives, liveness); may unsubscribe s */
    void (*on_tick)(ah_log_sub_t *s, uint64_t now_ms);
    /* private */
    h2o_linklist_t _link;
    struct st_ah_log_tail_t *_tail;
    uint64_t _since; /**< when it subscribed, h2o_now() ms */
    int _ready;
};

/** adds s to the worker's subscribers, starting the reader if needed; on_ready may be called before this returns */
void ah_log_tail_subscribe(ah_worker_t *w, ah_log_sub_t *s);
/** removes s (a no-op when it is not subscribed); the reader stops AH_LOG_TAIL_LINGER_MS after the last one left */
void ah_log_tail_unsubscribe(ah_log_sub_t *s);
/** 1 while s is subscribed */
static inline int ah_log_tail_is_subscribed(const ah_log_sub_t *s) { return s->_tail != NULL; }
/**
 * At worker shutdown: every subscriber gets on_close, the reader stops and the
 * worker's state is freed. Idempotent; a later subscribe starts afresh.
 */
void ah_log_tail_shutdown(ah_worker_t *w);

#endif
