/*
 * The live request-log reader of one worker (see log_tail.h).
 *
 * The reader owns an ah_redis_t of its own (blocking reads cannot share the
 * worker's pipelined connection) whose call deadline is longer than the block
 * time. It first positions itself at the stream's last entry (XREVRANGE + -
 * COUNT 1; "0-0" for an empty stream) and only then tells waiting subscribers
 * that they are live, so an entry added after a client saw its stream open is
 * never missed. From there it loops on `XREAD COUNT n BLOCK ms STREAMS ah:logs
 * <last id>`; after a lost connection it resumes from the last id it handed
 * out, so a Redis blip loses nothing that is still in the stream.
 *
 * Only one command is outstanding at a time (call_out). The reader is stopped
 * from a timer, never from inside one of its own replies, so hiredis never
 * frees a context while it is delivering a reply.
 */
#include <string.h>
#include "aihub/log.h"
#include "redis/log_tail.h"

#define LOG_KEY "ah:logs"
#define RETRY_MS 1000

typedef struct st_ah_log_tail_t {
    ah_worker_t *w;
    ah_redis_t *redis;   /**< NULL while stopped */
    h2o_linklist_t subs; /**< ah_log_sub_t._link */
    size_t nsubs;
    char last_id[48];    /**< where the next XREAD starts; "" until positioned */
    int call_out;        /**< a command is outstanding on redis */
    ah_timer_t tick;     /**< subscribers' ticks and start deadlines, while any are subscribed */
    ah_timer_t linger;   /**< stops the reader once nobody came back */
    ah_timer_t retry;    /**< after an error reply, try again later rather than spin */
} ah_log_tail_t;

static void issue(ah_log_tail_t *t);

static void set_gauges(ah_log_tail_t *t)
{
    __atomic_store_n(&t->w->log_subscribers, t->nsubs, __ATOMIC_RELAXED);
    __atomic_store_n(&t->w->log_reader, t->redis != NULL, __ATOMIC_RELAXED);
}

static void detach(ah_log_tail_t *t, ah_log_sub_t *s)
{
    h2o_linklist_unlink(&s->_link);
    s->_tail = NULL;
    s->_ready = 0;
    --t->nsubs;
}

static void on_retry(ah_timer_t *timer)
{
    issue(H2O_STRUCT_FROM_MEMBER(ah_log_tail_t, retry, timer));
}

/* an error reply (WRONGTYPE on ah:logs, a refused command): log it and try again in a while */
static void failed_reply(ah_log_tail_t *t, const redisReply *reply)
{
    ah_log(AH_LOG_ERROR, "log_tail", "reading %s failed: %.*s", LOG_KEY, (int)reply->len, reply->str);
    ah_timer_start(&t->w->timers, &t->retry, RETRY_MS, on_retry);
}

static void on_position(void *ud, redisReply *reply, const char *err)
{
    ah_log_tail_t *t = ud;
    t->call_out = 0;
    if (t->redis == NULL || err != NULL)
        return; /* stopped, or the connection went: on_ready of the next connection issues again */
    if (reply->type == REDIS_REPLY_ERROR) {
        failed_reply(t, reply);
        return;
    }
    const redisReply *last = reply->type == REDIS_REPLY_ARRAY && reply->elements != 0 ? reply->element[0] : NULL;
    if (last != NULL && last->type == REDIS_REPLY_ARRAY && last->elements >= 1 && last->element[0]->type == REDIS_REPLY_STRING &&
        last->element[0]->len < sizeof(t->last_id))
        snprintf(t->last_id, sizeof(t->last_id), "%s", last->element[0]->str);
    else
        strcpy(t->last_id, "0-0");
    /* every waiting subscriber is live from here; on_ready may unsubscribe its own s */
    h2o_linklist_t *node, *next;
    for (node = t->subs.next; node != &t->subs; node = next) {
        next = node->next;
        ah_log_sub_t *s = H2O_STRUCT_FROM_MEMBER(ah_log_sub_t, _link, node);
        if (!s->_ready) {
            s->_ready = 1;
            s->on_ready(s);
        }
    }
    issue(t);
}

static void dispatch(ah_log_tail_t *t, const redisReply *entry)
{
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 || entry->element[0]->type != REDIS_REPLY_STRING)
        return;
    const redisReply *id = entry->element[0], *fields = entry->element[1];
    if (id->len >= sizeof(t->last_id))
        return;
    memcpy(t->last_id, id->str, id->len + 1);
    if (fields->type != REDIS_REPLY_ARRAY)
        return;
    h2o_linklist_t *node, *next;
    for (node = t->subs.next; node != &t->subs; node = next) {
        next = node->next; /* on_entry may unsubscribe its own s, never another */
        ah_log_sub_t *s = H2O_STRUCT_FROM_MEMBER(ah_log_sub_t, _link, node);
        if (s->_ready)
            s->on_entry(s, id->str, id->len, fields);
    }
}

static void on_read(void *ud, redisReply *reply, const char *err)
{
    ah_log_tail_t *t = ud;
    t->call_out = 0;
    if (t->redis == NULL || err != NULL)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        failed_reply(t, reply);
        return;
    }
    /* NIL: the block time passed with nothing new; else [[key, [[id, [field, value, ...]], ...]]] */
    if (reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i != reply->elements; ++i) {
            const redisReply *st = reply->element[i];
            if (st->type != REDIS_REPLY_ARRAY || st->elements < 2 || st->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            for (size_t j = 0; j != st->element[1]->elements; ++j)
                dispatch(t, st->element[1]->element[j]);
        }
    }
    issue(t);
}

static void issue(ah_log_tail_t *t)
{
    if (t->redis == NULL || t->call_out || ah_timer_is_armed(&t->retry) || !ah_redis_is_ready(t->redis))
        return;
    int rv;
    if (t->last_id[0] == '\0') {
        const char *argv[] = {"XREVRANGE", LOG_KEY, "+", "-", "COUNT", "1"};
        rv = ah_redis_command(t->redis, on_position, t, 6, argv, NULL);
    } else {
        char count[16], block[16];
        snprintf(count, sizeof(count), "%d", AH_LOG_TAIL_BATCH);
        snprintf(block, sizeof(block), "%d", AH_LOG_TAIL_BLOCK_MS);
        const char *argv[] = {"XREAD", "COUNT", count, "BLOCK", block, "STREAMS", LOG_KEY, t->last_id};
        rv = ah_redis_command(t->redis, on_read, t, 8, argv, NULL);
    }
    if (rv == 0)
        t->call_out = 1;
}

static void on_reader_ready(ah_redis_t *r, void *ud)
{
    issue(ud);
}

static void start_reader(ah_log_tail_t *t)
{
    ah_node_t *node = t->w->node;
    ah_redis_conf_t conf = {.host = node->redis.host,
                            .port = node->redis.port,
                            .db = node->redis.db,
                            .user = node->redis.user,
                            .password = node->redis.password,
                            .timeout_ms = AH_LOG_TAIL_BLOCK_MS + (int)node->opts.redis_timeout_ms,
                            .load_scripts = 0};
    ah_redis_hooks_t hooks = {.on_ready = on_reader_ready, .ud = t};
    t->last_id[0] = '\0';
    t->call_out = 0;
    t->redis = ah_redis_create(t->w->loop, &t->w->timers, &conf, &hooks);
    ah_redis_start(t->redis);
    set_gauges(t);
}

static void stop_reader(ah_log_tail_t *t)
{
    ah_redis_t *r = t->redis;
    if (r == NULL)
        return;
    t->redis = NULL; /* the pending call's callback (run inside destroy) sees the reader gone */
    ah_redis_destroy(&r);
    t->call_out = 0;
    t->last_id[0] = '\0';
    ah_timer_stop(&t->w->timers, &t->retry);
    set_gauges(t);
}

static void on_linger(ah_timer_t *timer)
{
    ah_log_tail_t *t = H2O_STRUCT_FROM_MEMBER(ah_log_tail_t, linger, timer);
    if (t->nsubs == 0)
        stop_reader(t);
}

static void on_tick(ah_timer_t *timer)
{
    ah_log_tail_t *t = H2O_STRUCT_FROM_MEMBER(ah_log_tail_t, tick, timer);
    uint64_t now = h2o_now(t->w->loop);
    uint64_t start_timeout = (uint64_t)t->w->node->opts.redis_timeout_ms + 2000;
    h2o_linklist_t *node, *next;
    for (node = t->subs.next; node != &t->subs; node = next) {
        next = node->next;
        ah_log_sub_t *s = H2O_STRUCT_FROM_MEMBER(ah_log_sub_t, _link, node);
        if (s->_ready) {
            s->on_tick(s, now);
        } else if (now - s->_since >= start_timeout) {
            detach(t, s);
            s->on_fail(s);
        }
    }
    set_gauges(t);
    if (t->nsubs != 0)
        ah_timer_start(&t->w->timers, &t->tick, AH_LOG_TAIL_TICK_MS, on_tick);
    else
        ah_timer_start(&t->w->timers, &t->linger, AH_LOG_TAIL_LINGER_MS, on_linger);
}

void ah_log_tail_subscribe(ah_worker_t *w, ah_log_sub_t *s)
{
    ah_log_tail_t *t = w->log_tail;
    if (t == NULL) {
        t = h2o_mem_alloc(sizeof(*t));
        *t = (ah_log_tail_t){.w = w};
        h2o_linklist_init_anchor(&t->subs);
        w->log_tail = t;
    }
    ah_timer_stop(&w->timers, &t->linger);
    s->_tail = t;
    s->_since = h2o_now(w->loop);
    s->_ready = 0;
    h2o_linklist_insert(&t->subs, &s->_link);
    ++t->nsubs;
    if (!ah_timer_is_armed(&t->tick))
        ah_timer_start(&w->timers, &t->tick, AH_LOG_TAIL_TICK_MS, on_tick);
    if (t->redis == NULL)
        start_reader(t);
    set_gauges(t);
    if (t->last_id[0] != '\0') {
        s->_ready = 1;
        s->on_ready(s);
    }
}

void ah_log_tail_unsubscribe(ah_log_sub_t *s)
{
    ah_log_tail_t *t = s->_tail;
    if (t == NULL)
        return;
    detach(t, s);
    set_gauges(t);
    if (t->nsubs == 0) {
        ah_timer_stop(&t->w->timers, &t->tick);
        ah_timer_start(&t->w->timers, &t->linger, AH_LOG_TAIL_LINGER_MS, on_linger);
    }
}

void ah_log_tail_shutdown(ah_worker_t *w)
{
    ah_log_tail_t *t = w->log_tail;
    if (t == NULL)
        return;
    while (!h2o_linklist_is_empty(&t->subs)) {
        ah_log_sub_t *s = H2O_STRUCT_FROM_MEMBER(ah_log_sub_t, _link, t->subs.next);
        detach(t, s);
        s->on_close(s);
    }
    stop_reader(t);
    ah_timer_stop(&w->timers, &t->tick);
    ah_timer_stop(&w->timers, &t->linger);
    ah_timer_stop(&w->timers, &t->retry);
    set_gauges(t);
    w->log_tail = NULL;
    free(t);
}
