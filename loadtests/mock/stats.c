/*
 * Shared request counters. Plain counts are C11 atomics; the per-key counts and the last request body/authorization
 * live behind one mutex (a short critical section: a hash probe and a memcpy into a reused buffer).
 */
#include "stats.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOCK_KEY_SLOTS 1024            /* distinct keys tracked; later ones are counted under "(other)" */
#define MOCK_MAX_KEY 256               /* longer keys are counted under "(other)" */
#define MOCK_MAX_LAST_BODY (64u << 20) /* larger bodies are not kept */

typedef struct st_mock_key_count_t {
    char *key; /* owned; NULL = empty slot */
    size_t len;
    unsigned long count;
} mock_key_count_t;

static atomic_ulong mock_requests, mock_by_status[600], mock_active, mock_completed, mock_aborted, mock_reset,
    mock_aborted_requests;

static pthread_mutex_t mock_stats_lock = PTHREAD_MUTEX_INITIALIZER;
static mock_key_count_t mock_keys[MOCK_KEY_SLOTS];
static unsigned long mock_other_keys;
static char *mock_last_body; /* owned, mock_last_body_len bytes; NULL = none */
static size_t mock_last_body_len, mock_last_body_cap;
static char *mock_last_auth; /* owned; NULL = header absent */
static size_t mock_last_auth_len, mock_last_auth_cap;

/* Copies src into a reusable buffer; returns 0, or -1 when it cannot grow (the buffer is then left empty). */
static int mock_buf_set(char **buf, size_t *len, size_t *cap, const char *src, size_t n)
{
    if (n > *cap || *buf == NULL) {
        char *nb = realloc(*buf, n + 1);
        if (nb == NULL) {
            free(*buf);
            *buf = NULL;
            *len = *cap = 0;
            return -1;
        }
        *buf = nb;
        *cap = n;
    }
    memcpy(*buf, src, n);
    *len = n;
    return 0;
}

/* Caller holds the lock. */
static void mock_key_count(const char *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i != len; ++i)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    if (len <= MOCK_MAX_KEY) {
        for (unsigned probe = 0; probe != MOCK_KEY_SLOTS; ++probe) {
            mock_key_count_t *s = &mock_keys[(h + probe) % MOCK_KEY_SLOTS];
            if (s->key == NULL) {
                if ((s->key = malloc(len + 1)) == NULL)
                    break;
                memcpy(s->key, key, len);
                s->len = len;
                s->count = 1;
                return;
            }
            if (s->len == len && memcmp(s->key, key, len) == 0) {
                ++s->count;
                return;
            }
        }
    }
    ++mock_other_keys;
}

void mock_stats_record_chat(const char *key, size_t keylen, const char *body, size_t bodylen, int body_is_object,
                            const char *auth, size_t authlen)
{
    atomic_fetch_add_explicit(&mock_requests, 1, memory_order_relaxed);
    pthread_mutex_lock(&mock_stats_lock);
    if (key != NULL)
        mock_key_count(key, keylen);
    if (body_is_object && bodylen <= MOCK_MAX_LAST_BODY)
        mock_buf_set(&mock_last_body, &mock_last_body_len, &mock_last_body_cap, body, bodylen);
    if (auth != NULL) {
        mock_buf_set(&mock_last_auth, &mock_last_auth_len, &mock_last_auth_cap, auth, authlen);
    } else {
        free(mock_last_auth);
        mock_last_auth = NULL;
        mock_last_auth_len = mock_last_auth_cap = 0;
    }
    pthread_mutex_unlock(&mock_stats_lock);
}

void mock_stats_record_status(int status)
{
    if (status >= 0 && status < 600)
        atomic_fetch_add_explicit(&mock_by_status[status], 1, memory_order_relaxed);
}

void mock_stats_stream_begin(void)
{
    atomic_fetch_add(&mock_active, 1);
}

void mock_stats_stream_end(mock_stream_end_t how)
{
    atomic_fetch_add(how == MOCK_STREAM_COMPLETED ? &mock_completed : how == MOCK_STREAM_ABORTED ? &mock_aborted : &mock_reset, 1);
    atomic_fetch_sub(&mock_active, 1);
}

void mock_stats_request_aborted(void)
{
    atomic_fetch_add(&mock_aborted_requests, 1);
}

char *mock_stats_dump(void)
{
    json_t *o = json_object(), *keys = json_object(), *statuses = json_object(), *body = NULL, *auth = NULL;
    char *s = NULL, num[16];

    if (o == NULL || keys == NULL || statuses == NULL)
        goto out;
    for (int i = 0; i != 600; ++i) {
        unsigned long n = atomic_load(&mock_by_status[i]);
        if (n != 0) {
            snprintf(num, sizeof(num), "%d", i);
            json_object_set_new(statuses, num, json_integer(n));
        }
    }
    json_object_set_new(o, "requests", json_integer(atomic_load(&mock_requests)));
    json_object_set(o, "by_key", keys);
    json_object_set(o, "by_status", statuses);
    json_object_set_new(o, "active_streams", json_integer(atomic_load(&mock_active)));
    json_object_set_new(o, "completed_streams", json_integer(atomic_load(&mock_completed)));
    json_object_set_new(o, "aborted_streams", json_integer(atomic_load(&mock_aborted)));
    json_object_set_new(o, "reset_streams", json_integer(atomic_load(&mock_reset)));
    json_object_set_new(o, "aborted_requests", json_integer(atomic_load(&mock_aborted_requests)));
    pthread_mutex_lock(&mock_stats_lock);
    for (unsigned i = 0; i != MOCK_KEY_SLOTS; ++i) {
        if (mock_keys[i].key != NULL) {
            mock_keys[i].key[mock_keys[i].len] = '\0';
            json_object_set_new(keys, mock_keys[i].key, json_integer(mock_keys[i].count));
        }
    }
    if (mock_other_keys != 0)
        json_object_set_new(keys, "(other)", json_integer(mock_other_keys));
    if (mock_last_body != NULL)
        body = json_loadb(mock_last_body, mock_last_body_len, 0, NULL);
    if (mock_last_auth != NULL)
        auth = json_stringn(mock_last_auth, mock_last_auth_len); /* NULL if not UTF-8 */
    pthread_mutex_unlock(&mock_stats_lock);
    json_object_set_new(o, "last_body", body != NULL ? body : json_null());
    json_object_set_new(o, "last_authorization", auth != NULL ? auth : json_null());
    s = json_dumps(o, JSON_COMPACT);
out:
    json_decref(keys);
    json_decref(statuses);
    json_decref(o);
    return s;
}

void mock_stats_reset(void)
{
    atomic_store(&mock_requests, 0);
    for (int i = 0; i != 600; ++i)
        atomic_store(&mock_by_status[i], 0);
    /* active_streams is a gauge of work in flight: resetting it would make it go negative later */
    atomic_store(&mock_completed, 0);
    atomic_store(&mock_aborted, 0);
    atomic_store(&mock_reset, 0);
    atomic_store(&mock_aborted_requests, 0);
    pthread_mutex_lock(&mock_stats_lock);
    for (unsigned i = 0; i != MOCK_KEY_SLOTS; ++i) {
        free(mock_keys[i].key);
        mock_keys[i].key = NULL;
    }
    mock_other_keys = 0;
    free(mock_last_body);
    free(mock_last_auth);
    mock_last_body = mock_last_auth = NULL;
    mock_last_body_len = mock_last_body_cap = mock_last_auth_len = mock_last_auth_cap = 0;
    pthread_mutex_unlock(&mock_stats_lock);
}
