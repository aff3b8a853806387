/*
 * Operations endpoints: /healthz (alive), /readyz (Redis reachable, scripts
 * loaded, configuration loaded, not draining) and /metrics (Prometheus text,
 * summed over workers; the cooling-account gauge is read from Redis).
 */
#include <string.h>
#include "config/snapshot.h"
#include "handler/routes.h"
#include "http/async.h"
#include "http/buffer.h"
#include "http/reply.h"
#include "node.h"
#include "redis/config_loader.h"

void ah_handle_healthz(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_reply_raw(req, 200, "application/json", H2O_STRLIT("{\"status\":\"ok\"}"));
}

void ah_handle_readyz(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_worker_t *w = ah_worker_of_req(req);
    const char *why = NULL;
    if (atomic_load(&w->node->draining))
        why = "draining";
    else if (!ah_redis_is_ready(w->redis))
        why = "redis unreachable";
    else if (!ah_config_loaded())
        why = "configuration not loaded yet";
    if (why != NULL) {
        json_t *body = json_pack("{s:s, s:s}", "status", "not ready", "reason", why);
        ah_reply_json(req, 503, body);
        return;
    }
    ah_reply_raw(req, 200, "application/json", H2O_STRLIT("{\"status\":\"ready\"}"));
}

typedef struct st_metrics_ctx_t {
    ah_async_t super;
    ah_snapshot_t *snap;
    int pending;                 /* Redis reads outstanding */
    long cooling, disabled, holds;
} metrics_ctx_t;

static void put_histogram(h2o_buffer_t **buf, const char *name, const char *help, const ah_histogram_t *hs, int n)
{
    uint64_t buckets[AH_METRICS_BUCKETS] = {0}, count = 0;
    double sum = 0;
    for (int i = 0; i != n; ++i) {
        for (int b = 0; b != AH_METRICS_BUCKETS; ++b)
            buckets[b] += __atomic_load_n(&hs[i].buckets[b], __ATOMIC_RELAXED);
        count += __atomic_load_n(&hs[i].count, __ATOMIC_RELAXED);
        sum += hs[i].sum;
    }
    char line[256];
    int len = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    ah_buffer_append(buf, line, len);
    uint64_t cum = 0;
    for (int b = 0; b != AH_METRICS_BUCKETS; ++b) {
        cum += buckets[b];
        if (b == AH_METRICS_BUCKETS - 1)
            len = snprintf(line, sizeof(line), "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
        else
            len = snprintf(line, sizeof(line), "%s_bucket{le=\"%g\"} %llu\n", name, ah_metrics_bounds_s[b], (unsigned long long)cum);
        ah_buffer_append(buf, line, len);
    }
    len = snprintf(line, sizeof(line), "%s_sum %.6f\n%s_count %llu\n", name, sum, name, (unsigned long long)count);
    ah_buffer_append(buf, line, len);
}

static void put_counter(h2o_buffer_t **buf, const char *name, const char *help, const char *type, double value)
{
    char line[512];
    int len = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
    ah_buffer_append(buf, line, len);
}

/* label values from configuration or clients: escape backslash, quote and newline */
static void put_label(h2o_buffer_t **buf, const char *v)
{
    for (; *v != '\0'; ++v) {
        if (*v == '\\' || *v == '"')
            ah_buffer_append(buf, "\\", 1), ah_buffer_append(buf, v, 1);
        else if (*v == '\n')
            ah_buffer_append(buf, "\\n", 2);
        else
            ah_buffer_append(buf, v, 1);
    }
}

static void render(h2o_req_t *req, ah_node_t *node, ah_snapshot_t *snap, long cooling, long disabled, long holds)
{
    h2o_buffer_t *buf;
    h2o_buffer_init(&buf, &h2o_socket_buffer_prototype);
    const char *h = "# HELP aihub_requests_total Client requests by final status, requested model and serving channel.\n"
                    "# TYPE aihub_requests_total counter\n";
    ah_buffer_append(&buf, h, strlen(h));
    ah_histogram_t up[64], fb[64];
    int n = node->nworkers > 64 ? 64 : node->nworkers;
    uint64_t failovers = 0, disconnects = 0, calls = 0, rerrors = 0, rtimeouts = 0, reconnects = 0, relay_calls = 0, cost = 0;
    uint64_t refusals[AH_METRICS_REFUSALS] = {0};
    size_t in_flight = 0;
    int64_t buffered = 0;
    uint64_t log_subs = 0, log_readers = 0, log_dropped = 0, settle_waiting = 0;
    uint64_t rb[12] = {0};
    double rsum = 0;
    for (int i = 0; i != n; ++i) {
        ah_worker_t *w = &node->workers[i];
        for (ah_metrics_series_t *s = __atomic_load_n(&w->metrics.series, __ATOMIC_ACQUIRE); s != NULL; s = s->next) {
            char line[64];
            ah_buffer_append(&buf, H2O_STRLIT("aihub_requests_total{status=\""));
            ah_buffer_append(&buf, line, snprintf(line, sizeof(line), "%d", s->status));
            ah_buffer_append(&buf, H2O_STRLIT("\",model=\""));
            put_label(&buf, s->model);
            ah_buffer_append(&buf, H2O_STRLIT("\",channel=\""));
            put_label(&buf, s->channel);
            ah_buffer_append(&buf, line, snprintf(line, sizeof(line), "\"} %llu\n", (unsigned long long)__atomic_load_n(&s->count, __ATOMIC_RELAXED)));
        }
        up[i] = w->metrics.upstream_latency;
        fb[i] = w->metrics.first_byte_latency;
        failovers += __atomic_load_n(&w->metrics.failovers, __ATOMIC_RELAXED);
        disconnects += __atomic_load_n(&w->metrics.client_disconnects, __ATOMIC_RELAXED);
        in_flight += __atomic_load_n(&w->in_flight, __ATOMIC_RELAXED);
        relay_calls += __atomic_load_n(&w->metrics.relay_redis_calls, __ATOMIC_RELAXED);
        buffered += __atomic_load_n(&w->metrics.relay_buffered, __ATOMIC_RELAXED);
        log_subs += __atomic_load_n(&w->log_subscribers, __ATOMIC_RELAXED);
        settle_waiting += __atomic_load_n(&w->settle_waiting, __ATOMIC_RELAXED);
        log_readers += (uint64_t)__atomic_load_n(&w->log_reader, __ATOMIC_RELAXED);
        log_dropped += __atomic_load_n(&w->log_stream_dropped, __ATOMIC_RELAXED);
        cost += __atomic_load_n(&w->metrics.cost_micro, __ATOMIC_RELAXED);
        for (int k = 0; k != AH_METRICS_REFUSALS; ++k)
            refusals[k] += __atomic_load_n(&w->metrics.refusals[k], __ATOMIC_RELAXED);
        if (w->redis != NULL) {
            const ah_redis_stats_t *rs = ah_redis_stats(w->redis);
            calls += rs->calls, rerrors += rs->errors, rtimeouts += rs->timeouts, reconnects += rs->reconnects, rsum += rs->latency_sum_s;
            for (int b = 0; b != 12; ++b)
                rb[b] += rs->latency_buckets[b];
        }
    }
    put_histogram(&buf, "aihub_upstream_latency_seconds", "Time from sending a request upstream to its response headers.", up, n);
    put_histogram(&buf, "aihub_first_byte_seconds", "Time from receiving a client request to sending it the first response byte.", fb, n);
    put_counter(&buf, "aihub_in_flight_requests", "Client requests being relayed now.", "gauge", (double)in_flight);
    put_counter(&buf, "aihub_relay_buffered_bytes", "Bytes of upstream answers queued for slow clients now.", "gauge", (double)buffered);
    put_counter(&buf, "aihub_settlements_waiting", "Settle calls waiting for the Redis connection to come back (sent when it does).", "gauge",
                (double)settle_waiting);
    put_counter(&buf, "aihub_log_stream_subscribers", "Clients following /api/logs/stream on this node.", "gauge", (double)log_subs);
    put_counter(&buf, "aihub_log_stream_readers", "Redis connections reading the request log for those clients (at most one per worker).", "gauge",
                (double)log_readers);
    put_counter(&buf, "aihub_log_stream_dropped_total", "Live-log clients dropped for not keeping up.", "counter", (double)log_dropped);
    put_counter(&buf, "aihub_failovers_total", "Failover steps taken (an upstream failed before the response was committed).", "counter", (double)failovers);
    put_counter(&buf, "aihub_client_disconnects_total", "Client requests abandoned by the client before the end.", "counter", (double)disconnects);
    put_counter(&buf, "aihub_redis_calls_total", "Redis calls made.", "counter", (double)calls);
    put_counter(&buf, "aihub_relay_redis_calls_total", "Redis script calls made by the relay (admit, failover steps, settle, lease renewals).",
                "counter", (double)relay_calls);
    put_counter(&buf, "aihub_cost_micro_units_total", "Cost of relayed requests in micro-units (what was charged plus any unpaid shortfall).",
                "counter", (double)cost);
    {
        const char *hh = "# HELP aihub_refusals_total Client requests refused at admission, by reason.\n# TYPE aihub_refusals_total counter\n";
        ah_buffer_append(&buf, hh, strlen(hh));
        for (int k = 0; k != AH_METRICS_REFUSALS; ++k) {
            char line[128];
            int len = snprintf(line, sizeof(line), "aihub_refusals_total{reason=\"%s\"} %llu\n", ah_metrics_refusal_names[k],
                               (unsigned long long)refusals[k]);
            ah_buffer_append(&buf, line, len);
        }
    }
    put_counter(&buf, "aihub_redis_errors_total", "Redis calls that failed (error reply, timeout or lost connection).", "counter", (double)rerrors);
    put_counter(&buf, "aihub_redis_timeouts_total", "Redis calls that passed their deadline.", "counter", (double)rtimeouts);
    put_counter(&buf, "aihub_redis_reconnects_total", "Redis reconnection attempts.", "counter", (double)reconnects);
    {
        char line[128];
        const char *hh = "# HELP aihub_redis_call_duration_seconds Latency of Redis calls.\n# TYPE aihub_redis_call_duration_seconds histogram\n";
        ah_buffer_append(&buf, hh, strlen(hh));
        for (int b = 0; b != 12; ++b) {
            int len = b == 11 ? snprintf(line, sizeof(line), "aihub_redis_call_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)rb[b])
                              : snprintf(line, sizeof(line), "aihub_redis_call_duration_seconds_bucket{le=\"%g\"} %llu\n",
                                         ah_redis_latency_bounds_ms[b] / 1000.0, (unsigned long long)rb[b]);
            ah_buffer_append(&buf, line, len);
        }
        int len = snprintf(line, sizeof(line), "aihub_redis_call_duration_seconds_sum %.6f\naihub_redis_call_duration_seconds_count %llu\n", rsum,
                           (unsigned long long)rb[11]);
        ah_buffer_append(&buf, line, len);
    }
    put_counter(&buf, "aihub_accounts", "Provider accounts in the configuration.", "gauge", snap != NULL ? (double)snap->naccounts : 0);
    put_counter(&buf, "aihub_accounts_cooling", "Provider accounts cooling down now (-1 when Redis could not be read).", "gauge", (double)cooling);
    put_counter(&buf, "aihub_accounts_disabled", "Provider accounts disabled until reset (-1 when Redis could not be read).", "gauge", (double)disabled);
    put_counter(&buf, "aihub_holds_open", "Credit holds of requests running now, cluster-wide (-1 when Redis could not be read).", "gauge",
                (double)holds);
    put_counter(&buf, "aihub_config_version", "Version of the configuration snapshot in force.", "gauge", (double)ah_snapshot_current_version());
    put_counter(&buf, "aihub_ready", "1 when this worker can serve client requests.", "gauge", ah_redis_is_ready(ah_worker_of_req(req)->redis) ? 1 : 0);
    put_counter(&buf, "aihub_start_time_seconds", "When the process started (Unix time).", "gauge", node->started_at / 1000.0);
    ah_reply_raw(req, 200, "text/plain; version=0.0.4", buf->bytes, buf->size);
    h2o_buffer_dispose(&buf);
}

static void metrics_read_done(metrics_ctx_t *ctx)
{
    if (--ctx->pending != 0)
        return;
    if (ctx->super.req != NULL)
        render(ctx->super.req, ah_worker_of_req(ctx->super.req)->node, ctx->snap, ctx->cooling, ctx->disabled, ctx->holds);
    ah_snapshot_release(&ctx->snap);
    ah_async_free(ctx);
}

static void on_states(void *ud, redisReply *reply, const char *err)
{
    metrics_ctx_t *ctx = ud;
    if (err == NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
        long long now = reply->element[0]->integer;
        ctx->cooling = ctx->disabled = 0;
        for (size_t i = 0; i != reply->element[1]->elements; ++i) {
            redisReply *st = reply->element[1]->element[i];
            if (strcmp(st->element[1]->str, "1") == 0)
                ++ctx->disabled;
            else if (atoll(st->element[0]->str) > now)
                ++ctx->cooling;
        }
    }
    metrics_read_done(ctx);
}

static void on_holds(void *ud, redisReply *reply, const char *err)
{
    metrics_ctx_t *ctx = ud;
    if (err == NULL && reply->type == REDIS_REPLY_INTEGER)
        ctx->holds = reply->integer;
    metrics_read_done(ctx);
}

void ah_handle_metrics(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_worker_t *w = ah_worker_of_req(req);
    metrics_ctx_t *ctx = ah_async_new(req, sizeof(*ctx));
    ctx->snap = ah_snapshot_acquire();
    ctx->cooling = ctx->disabled = ctx->holds = -1;
    size_t n = ctx->snap->naccounts;
    if (n == 0)
        ctx->cooling = ctx->disabled = 0;
    const char **keys = h2o_mem_alloc_pool(&req->pool, sizeof(char *) * (n + 1));
    for (size_t i = 0; i != n; ++i) {
        size_t len = strlen(ctx->snap->accounts[i].id) + 9;
        char *k = h2o_mem_alloc_pool(&req->pool, len);
        snprintf(k, len, "ah:acct:%s", ctx->snap->accounts[i].id);
        keys[i] = k;
    }
    ctx->pending = 1; /* held until both reads are sent */
    if (n != 0 && ah_redis_script(w->redis, AH_SCRIPT_ACCOUNT_STATES, (int)n, (int)n, keys, NULL, on_states, ctx) == 0)
        ++ctx->pending;
    if (ah_redis_command(w->redis, on_holds, ctx, 2, (const char *[]){"ZCARD", "ah:holds"}, NULL) == 0)
        ++ctx->pending;
    metrics_read_done(ctx);
}
