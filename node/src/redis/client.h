/*
 * One asynchronous Redis connection on a worker's event loop, with the rules
 * hiredis 0.14 leaves to us: a deadline on every call, reconnection with
 * capped backoff, scripts loaded on every (re)connect and called by EVALSHA
 * (falling back to EVAL on NOSCRIPT), and readiness that the node reports.
 * Commands on one connection are pipelined; replies come back in order.
 */
#ifndef AH_REDIS_CLIENT_H
#define AH_REDIS_CLIENT_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include <h2o.h>
#include "loop/timer.h"
#include "redis/scripts.h"

typedef struct st_ah_redis_t ah_redis_t;

/**
 * Completion of a call: exactly one of reply (which may be a REDIS_REPLY_ERROR)
 * and err (timeout, disconnection) is set. reply is borrowed until return.
 */
typedef void (*ah_redis_cb)(void *ud, redisReply *reply, const char *err);

/** connection settings; strings are copied */
typedef struct st_ah_redis_conf_t {
    const char *host; /**< a name or an address; names are resolved at each (re)connect */
    int port;
    int db;
    const char *user;     /**< may be empty */
    const char *password; /**< may be empty */
    int timeout_ms;       /**< deadline of each call */
    int load_scripts;     /**< 1: SCRIPT LOAD every script before reporting ready */
} ah_redis_conf_t;

/** hooks: ready (connection usable) and down (connection lost); either may be NULL */
typedef struct st_ah_redis_hooks_t {
    void (*on_ready)(ah_redis_t *r, void *ud);
    void (*on_down)(ah_redis_t *r, void *ud);
    /** pub/sub message (subscriber connections only); strings borrowed */
    void (*on_message)(ah_redis_t *r, void *ud, const char *channel, const char *msg, size_t len);
    void *ud;
} ah_redis_hooks_t;

/** creates a client and starts connecting; destroy with ah_redis_destroy */
ah_redis_t *ah_redis_create(h2o_loop_t *loop, ah_timers_t *timers, const ah_redis_conf_t *conf, const ah_redis_hooks_t *hooks);
/** starts connecting (call once, after ah_redis_subscribe if wanted) */
void ah_redis_start(ah_redis_t *r);
/** closes the connection; pending calls complete with an error first */
void ah_redis_destroy(ah_redis_t **r);
/** 1 when connected and (if asked) the scripts are loaded */
int ah_redis_is_ready(const ah_redis_t *r);
/** turns the client into a subscriber of channel (re-subscribed after every reconnect) */
void ah_redis_subscribe(ah_redis_t *r, const char *channel);

/**
 * Sends a command (arguments are copied). Returns 0 and later calls cb once,
 * or returns -1 at once (not ready) and never calls cb. cb may be NULL.
 */
int ah_redis_command(ah_redis_t *r, ah_redis_cb cb, void *ud, int argc, const char **argv, const size_t *argvlen);
/** EVALSHA of a registered script: argv holds the keys first, then the arguments; same contract as ah_redis_command */
int ah_redis_script(ah_redis_t *r, ah_script_id_t id, int nkeys, int argc, const char **argv, const size_t *argvlen, ah_redis_cb cb,
                    void *ud);

/** calls made and their total latency, for metrics (monotonic) */
typedef struct st_ah_redis_stats_t {
    uint64_t calls, errors, timeouts, reconnects;
    uint64_t latency_buckets[12]; /**< cumulative counts <= 0.25,0.5,1,2,5,10,25,50,100,250,1000 ms, +Inf */
    double latency_sum_s;
} ah_redis_stats_t;
const ah_redis_stats_t *ah_redis_stats(const ah_redis_t *r);
extern const double ah_redis_latency_bounds_ms[11];

#endif
