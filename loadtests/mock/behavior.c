/*
 * Failure-injection rules, keyed by API key ("*" matches every key). The table is shared by all worker threads and
 * guarded by one mutex; an atomic rule count lets the common case (no rules) skip the lock entirely. Each rule stores
 * only the fields it was given (-1 = absent); a lookup overlays them on the CLI defaults.
 */
#include "behavior.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MOCK_MAX_RULES 1024

enum { F_STATUS, F_RETRY_AFTER, F_HANG_MS, F_RESET_AFTER, F_CHUNKS, F_CHUNK_DELAY, F_RESPONSE_BYTES, F_LATENCY, F_TIMES, F_COUNT };

/* Field names, accepted ranges, in the order of the enum above. */
static const struct {
    const char *name;
    long long min, max;
} mock_fields[F_COUNT] = {
    {"status", 200, 599},          {"retry_after", 0, 86400},           {"hang_ms", 0, 3600000},
    {"reset_after_chunks", 0, 100000}, {"chunks", 1, 100000},            {"chunk_delay_ms", 0, 3600000},
    {"response_bytes", 0, 64 << 20}, {"latency_ms", 0, 3600000},        {"times", 0, 1LL << 40},
};

typedef struct st_mock_rule_t {
    char *key; /* owned */
    size_t keylen;
    long long v[F_COUNT]; /* -1 = not set; v[F_TIMES] counts down remaining uses, 0 = unlimited */
} mock_rule_t;

static mock_params_t mock_defaults;
static pthread_mutex_t mock_rules_lock = PTHREAD_MUTEX_INITIALIZER;
static mock_rule_t mock_rules[MOCK_MAX_RULES];
static atomic_uint mock_nrules;

void mock_behavior_init(const mock_params_t *defaults)
{
    mock_defaults = *defaults;
}

/* Caller holds the lock. */
static mock_rule_t *mock_rule_find(const char *key, size_t keylen)
{
    unsigned n = atomic_load(&mock_nrules);
    for (unsigned i = 0; i != n; ++i)
        if (mock_rules[i].keylen == keylen && memcmp(mock_rules[i].key, key, keylen) == 0)
            return &mock_rules[i];
    return NULL;
}

/* Caller holds the lock. */
static void mock_rule_remove(mock_rule_t *r)
{
    unsigned n = atomic_load(&mock_nrules);
    free(r->key);
    *r = mock_rules[n - 1];
    atomic_store(&mock_nrules, n - 1);
}

int mock_behavior_set(const char *json, size_t len, const char **err)
{
    mock_rule_t nr;
    json_t *root = json_loadb(json, len, 0, NULL), *key, *val;
    const char *name;
    int ret = -1;

    for (int f = 0; f != F_COUNT; ++f)
        nr.v[f] = -1;
    nr.key = NULL;
    if (root == NULL || !json_is_object(root)) {
        *err = "body must be a JSON object";
        goto out;
    }
    if (!json_is_string(key = json_object_get(root, "key")) || json_string_length(key) == 0) {
        *err = "'key' must be a non-empty string";
        goto out;
    }
    json_object_foreach(root, name, val) {
        int f;
        if (strcmp(name, "key") == 0)
            continue;
        for (f = 0; f != F_COUNT && strcmp(name, mock_fields[f].name) != 0; ++f)
            ;
        if (f == F_COUNT) {
            *err = "unknown field in behaviour rule";
            goto out;
        }
        if (json_is_null(val))
            continue;
        if (!json_is_integer(val) || json_integer_value(val) < mock_fields[f].min || json_integer_value(val) > mock_fields[f].max) {
            *err = "behaviour field out of range or not an integer";
            goto out;
        }
        nr.v[f] = json_integer_value(val);
    }
    if (nr.v[F_TIMES] < 0)
        nr.v[F_TIMES] = 0;
    nr.keylen = json_string_length(key);
    if ((nr.key = malloc(nr.keylen)) == NULL) {
        *err = "out of memory";
        goto out;
    }
    memcpy(nr.key, json_string_value(key), nr.keylen);

    pthread_mutex_lock(&mock_rules_lock);
    mock_rule_t *old = mock_rule_find(nr.key, nr.keylen);
    if (old != NULL) {
        free(old->key);
        *old = nr;
        ret = 0;
    } else if (atomic_load(&mock_nrules) < MOCK_MAX_RULES) {
        mock_rules[atomic_load(&mock_nrules)] = nr;
        atomic_fetch_add(&mock_nrules, 1);
        ret = 0;
    } else {
        *err = "too many behaviour rules";
    }
    pthread_mutex_unlock(&mock_rules_lock);
    if (ret == 0)
        nr.key = NULL; /* ownership moved to the table */

out:
    free(nr.key);
    json_decref(root);
    return ret;
}

void mock_behavior_clear(void)
{
    pthread_mutex_lock(&mock_rules_lock);
    for (unsigned i = 0, n = atomic_load(&mock_nrules); i != n; ++i)
        free(mock_rules[i].key);
    atomic_store(&mock_nrules, 0);
    pthread_mutex_unlock(&mock_rules_lock);
}

void mock_behavior_lookup(const char *key, size_t keylen, mock_params_t *out)
{
    *out = mock_defaults;
    if (atomic_load_explicit(&mock_nrules, memory_order_relaxed) == 0)
        return;

    pthread_mutex_lock(&mock_rules_lock);
    mock_rule_t *r = mock_rule_find(key, keylen);
    if (r == NULL)
        r = mock_rule_find("*", 1);
    if (r != NULL) {
        const long long *v = r->v;
        if (v[F_STATUS] >= 0) out->status = (int)v[F_STATUS];
        if (v[F_RETRY_AFTER] >= 0) out->retry_after = (int)v[F_RETRY_AFTER];
        if (v[F_HANG_MS] >= 0) out->hang_ms = (unsigned)v[F_HANG_MS];
        if (v[F_RESET_AFTER] >= 0) out->reset_after_chunks = (int)v[F_RESET_AFTER];
        if (v[F_CHUNKS] >= 0) out->chunks = (unsigned)v[F_CHUNKS];
        if (v[F_CHUNK_DELAY] >= 0) out->chunk_delay_ms = (unsigned)v[F_CHUNK_DELAY];
        if (v[F_RESPONSE_BYTES] >= 0) out->response_bytes = (size_t)v[F_RESPONSE_BYTES];
        if (v[F_LATENCY] >= 0) out->latency_ms = (unsigned)v[F_LATENCY];
        /* a limited rule disappears after its last use */
        if (r->v[F_TIMES] > 0 && --r->v[F_TIMES] == 0)
            mock_rule_remove(r);
    }
    pthread_mutex_unlock(&mock_rules_lock);
}
