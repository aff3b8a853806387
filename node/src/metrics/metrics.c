/*
 * Metric recording for one worker (see metrics.h). Series are a short linked
 * list: their number is bounded by statuses × configured models × channels.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/metrics.h"

const double ah_metrics_bounds_s[AH_METRICS_BUCKETS - 1] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

const char *const ah_metrics_refusal_names[AH_METRICS_REFUSALS] = {
    "invalid_api_key",      "user_disabled",        "model_not_allowed",   "model_not_found", "rate_limit_exceeded",
    "insufficient_quota",   "no_available_account", "service_unavailable", "other"};

size_t ah_metrics_refusal_index(const char *code)
{
    size_t i;
    for (i = 0; i != AH_METRICS_REFUSALS - 1; ++i)
        if (strcmp(ah_metrics_refusal_names[i], code) == 0)
            break;
    return i;
}

void ah_histogram_observe(ah_histogram_t *h, double seconds)
{
    size_t i = 0;
    while (i != AH_METRICS_BUCKETS - 1 && seconds > ah_metrics_bounds_s[i])
        ++i;
    __atomic_fetch_add(&h->buckets[i], 1, __ATOMIC_RELAXED);
    h->sum += seconds; /* read approximately by /metrics */
    __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
}

void ah_metrics_count_request(ah_metrics_t *m, int status, const char *model, const char *channel)
{
    ah_metrics_series_t *s;
    for (s = m->series; s != NULL; s = s->next)
        if (s->status == status && strncmp(s->model, model, sizeof(s->model) - 1) == 0 &&
            strncmp(s->channel, channel, sizeof(s->channel) - 1) == 0)
            break;
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            return;
        s->status = status;
        snprintf(s->model, sizeof(s->model), "%s", model);
        snprintf(s->channel, sizeof(s->channel), "%s", channel);
        s->next = m->series;
        __atomic_store_n(&m->series, s, __ATOMIC_RELEASE); /* /metrics on another worker walks the list */
    }
    __atomic_fetch_add(&s->count, 1, __ATOMIC_RELAXED);
}

void ah_metrics_dispose(ah_metrics_t *m)
{
    while (m->series != NULL) {
        ah_metrics_series_t *s = m->series;
        m->series = s->next;
        free(s);
    }
}
