/*
 * aihub-node: composition only. Reads the settings, derives the keys, sets up
 * h2o and the listeners, starts one event-loop thread per worker, and turns
 * SIGTERM into a drain: stop accepting, let running requests finish up to
 * AIHUB_DRAIN_TIMEOUT_S, then exit 0.
 */
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include "aihub/crypto.h"
#include "aihub/log.h"
#include "auth/auth.h"
#include "config/snapshot.h"
#include "http/buffer.h"
#include "http/server.h"
#include "http/static.h"
#include "node.h"
#include "relay/settle_queue.h"
#include "redis/config_loader.h"
#include "redis/log_tail.h"
#include "redis/scripts.h"

#define TICK_MS 100

#ifdef AIHUB_JEMALLOC
/*
 * Read by jemalloc at start (MALLOC_CONF adds to it). jemalloc returns freed
 * pages to the system on a 10 s decay schedule, but without a background
 * thread it only does so while the process keeps allocating: after a burst of
 * 10,000 streams a quiet node kept ~100 MiB of freed memory resident for good.
 * The background thread purges on schedule (one more thread, asleep when idle).
 */
const char *malloc_conf = "background_thread:true";
#endif

static void on_redis_ready(ah_redis_t *r, void *ud)
{
    ah_worker_t *w = ud;
    if (w->index == 0)
        ah_config_loader_on_ready(w);
    ah_settle_queue_flush(w);
}

static void on_tick(ah_timer_t *t)
{
    ah_worker_t *w = H2O_STRUCT_FROM_MEMBER(ah_worker_t, tick, t);
    ah_node_t *node = w->node;
    if (atomic_load(&node->draining)) {
        if (!w->closing) {
            w->closing = 1;
            ah_log_tail_shutdown(w);
            ah_server_unlisten(w);
            h2o_context_request_shutdown(&w->ctx);
        }
        if (w->in_flight == 0 || (uint64_t)ah_now_ms() >= atomic_load(&node->drain_deadline_ms)) {
            if (w->in_flight != 0)
                ah_log(AH_LOG_WARN, "node", "worker %d: drain deadline reached with %zu requests still running", w->index, w->in_flight);
            w->done = 1;
            return;
        }
    }
    ah_timer_start(&w->timers, &w->tick, TICK_MS, on_tick);
}

static pthread_mutex_t exit_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t exit_cond = PTHREAD_COND_INITIALIZER;
static int workers_done;

/* h2o keeps freed socket buffers in a per-thread list for reuse; hand them back before the thread ends */
static void release_recycled_buffers(void)
{
    h2o_mem_recycle_t *r = &h2o_socket_buffer_prototype.allocator;
    while (r->cnt != 0)
        free(h2o_mem_alloc_recycle(r, 0));
}

/* the sweep: expired holds refunded, their slots freed (idempotent: every node runs it) */
static void on_sweep(ah_timer_t *t)
{
    ah_worker_t *w = H2O_STRUCT_FROM_MEMBER(ah_worker_t, sweep, t);
    ah_redis_script(w->redis, AH_SCRIPT_SWEEP, 1, 2, (const char *[]){"ah:holds", "200"}, NULL, NULL, NULL);
    ah_timer_start(&w->timers, &w->sweep, w->node->opts.sweep_ms, on_sweep);
}

/* the stats: new request-log entries counted into the day/hour hashes (atomic: every node runs it) */
#define STATS_FOLD_MAX 10000
static void on_stats_fold(ah_timer_t *t);

static void on_stats_folded(void *ud, redisReply *reply, const char *err)
{
    (void)err;
    ah_worker_t *w = ud;
    /* a full batch: more are waiting, fold again at once */
    int more = reply != NULL && reply->type == REDIS_REPLY_INTEGER && reply->integer >= STATS_FOLD_MAX;
    if (!w->closing)
        ah_timer_start(&w->timers, &w->stats_fold, more ? 0 : w->node->opts.stats_fold_ms, on_stats_fold);
}

static void on_stats_fold(ah_timer_t *t)
{
    ah_worker_t *w = H2O_STRUCT_FROM_MEMBER(ah_worker_t, stats_fold, t);
    char max[16];
    snprintf(max, sizeof(max), "%d", STATS_FOLD_MAX);
    if (ah_redis_script(w->redis, AH_SCRIPT_STATS_FOLD, 2, 3, (const char *[]){"ah:logs", "ah:stats_cursor", max}, NULL,
                        on_stats_folded, w) != 0)
        ah_timer_start(&w->timers, &w->stats_fold, w->node->opts.stats_fold_ms, on_stats_fold);
}

static void *worker_main(void *arg)
{
    ah_worker_t *w = arg;
    ah_node_t *node = w->node;
    ah_buffer_tune_socket_prototype();
    w->loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, w->loop, &node->globalconf);
    ah_timers_init(&w->timers, w->loop);
    w->curl = ah_curl_loop_create(w->loop, &w->timers);
    ah_redis_conf_t conf = {.host = node->redis.host, .port = node->redis.port, .db = node->redis.db, .user = node->redis.user,
                            .password = node->redis.password, .timeout_ms = node->opts.redis_timeout_ms, .load_scripts = 1};
    ah_redis_hooks_t hooks = {.on_ready = on_redis_ready, .ud = w};
    w->redis = ah_redis_create(w->loop, &w->timers, &conf, &hooks);
    ah_redis_start(w->redis);
    if (w->index == 0) {
        ah_config_loader_start(w);
        ah_timer_start(&w->timers, &w->sweep, node->opts.sweep_ms, on_sweep);
        ah_timer_start(&w->timers, &w->stats_fold, node->opts.stats_fold_ms, on_stats_fold);
    }
    ah_server_listen(w);
    ah_timer_start(&w->timers, &w->tick, TICK_MS, on_tick);

    while (!w->done)
        h2o_evloop_run(w->loop, ah_timers_wait_ms(&w->timers, 1000));

    if (w->index == 0) {
        ah_timer_stop(&w->timers, &w->sweep);
        ah_timer_stop(&w->timers, &w->stats_fold);
        ah_config_loader_stop(w);
    }
    ah_log_tail_shutdown(w);
    ah_redis_destroy(&w->redis);
    ah_settle_queue_destroy(w);
    ah_curl_loop_destroy(&w->curl);
    release_recycled_buffers();
    /* Park instead of returning: h2o keeps per-thread memory caches in thread-local storage with no
     * public way to empty them; a parked thread keeps them reachable until the process exits. */
    pthread_mutex_lock(&exit_lock);
    ++workers_done;
    pthread_cond_signal(&exit_cond);
    pthread_mutex_unlock(&exit_lock);
    for (;;)
        pause();
    return NULL;
}

static int derive_keys(ah_node_t *node)
{
    uint8_t master[512];
    size_t len;
    if (node->opts.secret_key[0] == '\0' ||
        ah_crypto_parse_secret(node->opts.secret_key, master, sizeof(master), &len) != 0) {
        ah_log(AH_LOG_ERROR, "node", "AIHUB_SECRET_KEY must be set to at least 32 bytes, hex or base64 (e.g. `openssl rand -hex 32`)");
        return -1;
    }
    ah_crypto_derive(master, len, "aihub provider secrets v1", node->enc_key);
    ah_crypto_derive(master, len, "aihub api key hash v1", node->hash_key);
    ah_crypto_derive(master, len, "aihub console session token v1", node->session_key);
    ah_crypto_derive(master, len, "aihub console csrf v1", node->csrf_key);
    ah_crypto_derive(master, len, "aihub console sealed state v1", node->seal_key);
    memset(master, 0, sizeof(master));
    return 0;
}

int main(int argc, char **argv)
{
    static ah_node_t node;
    char err[512];
    if (argc > 1 && strcmp(argv[1], "--routes") == 0) {
        ah_routes_dump(stdout); /* the route table and the roles each admin route admits */
        return 0;
    }
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        ah_options_usage(stdout);
        return 0;
    }
    if (ah_options_load(&node.opts, err, sizeof(err)) != 0) {
        ah_log(AH_LOG_ERROR, "node", "%s", err);
        return 2;
    }
    int level = ah_log_parse_level(node.opts.log_level);
    ah_log_set_level(level < 0 ? AH_LOG_INFO : level);
    if (derive_keys(&node) != 0)
        return 2;
    if (ah_parse_redis_url(node.opts.redis_url, &node.redis) != 0) {
        ah_log(AH_LOG_ERROR, "node", "AIHUB_REDIS_URL is malformed (want redis://[user:password@]host:port/db)");
        return 2;
    }
    if (ah_scripts_init() != 0)
        return 2;
    if (ah_auth_setup(&node, err, sizeof(err)) != 0) {
        ah_log(AH_LOG_ERROR, "node", "%s", err);
        return 2;
    }
    int nstatic = ah_static_load(node.opts.webui_dir);
    if (nstatic < 0)
        ah_log(AH_LOG_INFO, "http", "no console at %s: /admin/ answers 404 until it is built", node.opts.webui_dir);
    else
        ah_log(AH_LOG_INFO, "http", "console: %d files from %s", nstatic, node.opts.webui_dir);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    node.nworkers = (int)node.opts.threads;
    node.started_at = ah_now_ms();
    ah_snapshot_publish(ah_snapshot_empty());

    /* signals are taken by sigwait in this thread only */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (ah_server_setup(&node, err, sizeof(err)) != 0) {
        ah_log(AH_LOG_ERROR, "node", "%s", err);
        return 1;
    }
    node.workers = calloc(node.nworkers, sizeof(*node.workers));
    for (int i = 0; i != node.nworkers; ++i) {
        node.workers[i].node = &node;
        node.workers[i].index = i;
        pthread_create(&node.workers[i].thread, NULL, worker_main, &node.workers[i]);
    }
    ah_log(AH_LOG_INFO, "node", "aihub-node started with %d worker threads", node.nworkers);

    int sig;
    sigwait(&set, &sig);
    atomic_store(&node.drain_deadline_ms, (unsigned long long)(ah_now_ms() + node.opts.drain_timeout_s * 1000));
    atomic_store(&node.draining, 1);
    ah_log(AH_LOG_INFO, "node", "%s received: draining (up to %llds)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
           (long long)node.opts.drain_timeout_s);
    pthread_mutex_lock(&exit_lock);
    while (workers_done != node.nworkers)
        pthread_cond_wait(&exit_cond, &exit_lock);
    pthread_mutex_unlock(&exit_lock);
    ah_log(AH_LOG_INFO, "node", "drained; exiting");
    exit(0);
}
