/*
 * The node's shared types: the process (ah_node_t: settings, keys, h2o's
 * global configuration, the workers) and one event-loop thread (ah_worker_t:
 * its loop, h2o context, Redis client, curl multi and metrics).
 */
#ifndef AH_NODE_H
#define AH_NODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <h2o.h>
#include "aihub/strutil.h"
#include "config/options.h"
#include "loop/timer.h"
#include "metrics/metrics.h"
#include "redis/client.h"
#include "upstream/curl_loop.h"

#define AH_MAX_LISTENERS 3

typedef struct st_ah_node_t ah_node_t;
struct st_ah_auth_t;

/** one listening address: a descriptor per worker (SO_REUSEPORT) */
typedef struct st_ah_listener_conf_t {
    char host[128];
    int port;         /**< the bound port (resolved when 0 was asked) */
    int is_admin;     /**< serves /api, /admin, /auth and /metrics */
    int is_client;    /**< serves client paths */
    int tls;
    int *fds;         /**< one per worker */
} ah_listener_conf_t;

typedef struct st_ah_worker_t {
    ah_node_t *node;
    int index;
    pthread_t thread;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    ah_timers_t timers;
    h2o_accept_ctx_t accept_ctx[AH_MAX_LISTENERS];
    h2o_socket_t *listeners[AH_MAX_LISTENERS];
    ah_redis_t *redis;
    ah_redis_t *subscriber;  /**< worker 0 only: configuration change notices */
    ah_curl_loop_t *curl;
    ah_metrics_t metrics;
    size_t in_flight;        /**< client requests being relayed */
    ah_timer_t tick;         /**< housekeeping: drain */
    ah_timer_t sweep;        /**< worker 0: settles expired holds */
    ah_timer_t stats_fold;   /**< worker 0: folds the request log into the stats */
    int closing;
    int done;
    struct st_ah_log_tail_t *log_tail; /**< the live request-log reader and its subscribers (redis/log_tail.c); NULL until used */
    size_t log_subscribers;            /**< /api/logs/stream clients on this worker (read by /metrics from other threads) */
    int log_reader;                    /**< 1 while this worker's log reader holds a Redis connection (read by /metrics) */
    uint64_t log_stream_dropped;       /**< /api/logs/stream clients ended for reading too slowly (read by /metrics) */
    struct st_ah_settle_queue_t *settle_queue; /**< settle calls waiting for Redis (relay/settle_queue.c); NULL until used */
    size_t settle_waiting;                     /**< how many wait there (read by /metrics from other threads) */
} ah_worker_t;

struct st_ah_node_t {
    ah_options_t opts;
    uint8_t enc_key[32];     /**< seals provider secrets at rest */
    uint8_t hash_key[32];    /**< keys the API-key hashes */
    uint8_t session_key[32]; /**< signs the console's session tokens (HS256) */
    uint8_t csrf_key[32];    /**< derives the console's CSRF tokens from session ids */
    uint8_t seal_key[32];    /**< seals the sign-in state cookie and the provider's refresh tokens */
    struct st_ah_auth_t *auth; /**< console sign-in: settings, role map, trusted proxies, provider cache (auth/auth.h) */
    ah_redis_url_t redis;
    h2o_globalconf_t globalconf;
    SSL_CTX *ssl_ctx;
    ah_listener_conf_t listeners[AH_MAX_LISTENERS];
    int nlisteners;
    int nworkers;
    ah_worker_t *workers;
    atomic_int draining;
    atomic_ullong drain_deadline_ms; /**< wall-clock ms */
    int64_t started_at;
};

/** the worker that runs req */
static inline ah_worker_t *ah_worker_of_req(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(ah_worker_t, ctx, req->conn->ctx);
}

/** wall-clock milliseconds */
int64_t ah_now_ms(void);

#endif
