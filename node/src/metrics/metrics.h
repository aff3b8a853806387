/*
 * Per-worker metrics: each worker writes only its own counters (no locks on
 * the hot path); /metrics sums all workers. Label sets are bounded: models and
 * channels come from the configuration, anything else counts as "other".
 */
#ifndef AH_METRICS_METRICS_H
#define AH_METRICS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define AH_METRICS_BUCKETS 14
extern const double ah_metrics_bounds_s[AH_METRICS_BUCKETS - 1];

typedef struct st_ah_histogram_t {
    uint64_t buckets[AH_METRICS_BUCKETS]; /**< non-cumulative; the last is +Inf */
    double sum;
    uint64_t count;
} ah_histogram_t;

/** one labelled request counter */
typedef struct st_ah_metrics_series_t {
    char model[64], channel[64];
    int status;
    uint64_t count;
    struct st_ah_metrics_series_t *next;
} ah_metrics_series_t;

/** refusal reasons counted by aihub_refusals_total (the last is "other") */
#define AH_METRICS_REFUSALS 9
extern const char *const ah_metrics_refusal_names[AH_METRICS_REFUSALS];
/** the index of a refusal code in ah_metrics_refusal_names ("other" for unknown codes) */
size_t ah_metrics_refusal_index(const char *code);

typedef struct st_ah_metrics_t {
    ah_metrics_series_t *series;         /**< requests by status, model and channel */
    ah_histogram_t upstream_latency;     /**< until the upstream's response headers */
    ah_histogram_t first_byte_latency;   /**< until the first byte reached the client */
    uint64_t failovers, client_disconnects;
    int64_t relay_buffered;              /**< bytes queued for clients by the relay now (pending + being written) */
    uint64_t relay_redis_calls;          /**< script calls made by the relay (admit, failover, settle, renew) */
    uint64_t cost_micro;                 /**< cost of relayed requests, micro-units */
    uint64_t refusals[AH_METRICS_REFUSALS];
} ah_metrics_t;

void ah_histogram_observe(ah_histogram_t *h, double seconds);
/** counts one request; model and channel are truncated to fit */
void ah_metrics_count_request(ah_metrics_t *m, int status, const char *model, const char *channel);
void ah_metrics_dispose(ah_metrics_t *m);

#endif
