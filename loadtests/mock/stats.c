/*
 * Shared request counters. Plain counts are C11 atomics; the per-key counts (a jansson object used as a map) and the
 * last request's body, authorization, path and API headers live behind one mutex, held for a hash probe and a few
 * pointer swaps.
 */
#include "stats.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOCK_MAX_KEYS 10000 /* distinct keys tracked; later ones (and keys that are not UTF-8) count as "(other)" */

static atomic_ulong mock_requests, mock_by_status[600], mock_active, mock_completed, mock_aborted, mock_reset,
    mock_aborted_requests, mock_by_path[MOCK_API_COUNT];
static const char *const mock_path_names[MOCK_API_COUNT] = {"/v1/chat/completions", "/v1/messages", "/v1beta"};

static pthread_mutex_t mock_stats_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *mock_by_key;      /* owned; key -> integer */
static json_t *mock_last_body;   /* owned string holding the raw body, or NULL */
static json_t *mock_last_auth;   /* owned string, or NULL when the header was absent */
static char *mock_last_path;     /* owned buffer of mock_last_path_cap bytes (reused: no allocation per request) */
static size_t mock_last_path_len, mock_last_path_cap;
static int mock_last_path_set;
static json_t *mock_last_headers; /* owned object, or NULL when the last request had none of the API headers */

/* Caller holds the lock. */
static void mock_key_count(const char *key, size_t len)
{
    json_t *n;

    if (mock_by_key == NULL && (mock_by_key = json_object()) == NULL)
        return;
    if ((n = json_object_getn(mock_by_key, key, len)) != NULL) {
        json_integer_set(n, json_integer_value(n) + 1);
    } else if (json_object_size(mock_by_key) >= MOCK_MAX_KEYS || json_object_setn_new(mock_by_key, key, len, json_integer(1)) != 0) {
        if ((n = json_object_get(mock_by_key, "(other)")) != NULL)
            json_integer_set(n, json_integer_value(n) + 1);
        else
            json_object_set_new(mock_by_key, "(other)", json_integer(1));
    }
}

void mock_stats_record_request(const mock_stats_req_t *r)
{
    /* build the new values outside the lock; json_stringn copies (and returns NULL for text that is not UTF-8) */
    json_t *b = r->body_is_object ? json_stringn(r->body, r->bodylen) : NULL,
           *a = r->auth != NULL ? json_stringn(r->auth, r->authlen) : NULL, *h = r->headers, *tmp;

    atomic_fetch_add_explicit(&mock_requests, 1, memory_order_relaxed);
    if ((unsigned)r->api < MOCK_API_COUNT)
        atomic_fetch_add_explicit(&mock_by_path[r->api], 1, memory_order_relaxed);
    pthread_mutex_lock(&mock_stats_lock);
    if (r->key != NULL)
        mock_key_count(r->key, r->keylen);
    if (b != NULL) {
        tmp = mock_last_body;
        mock_last_body = b;
        b = tmp;
    }
    tmp = mock_last_auth;
    mock_last_auth = a;
    a = tmp;
    if (r->pathlen > mock_last_path_cap) {
        char *grown = realloc(mock_last_path, r->pathlen);
        if (grown != NULL) {
            mock_last_path = grown;
            mock_last_path_cap = r->pathlen;
        }
    }
    if (r->pathlen <= mock_last_path_cap) {
        if (r->pathlen != 0)
            memcpy(mock_last_path, r->path, r->pathlen);
        mock_last_path_len = r->pathlen;
        mock_last_path_set = 1;
    }
    tmp = mock_last_headers;
    mock_last_headers = h;
    h = tmp;
    pthread_mutex_unlock(&mock_stats_lock);
    json_decref(b);
    json_decref(a);
    json_decref(h);
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
    json_t *o = json_object(), *statuses = json_object(), *paths = json_object(), *keys, *body = NULL;
    char *s = NULL, num[16];

    if (o == NULL || statuses == NULL || paths == NULL)
        goto out;
    for (int i = 0; i != 600; ++i) {
        unsigned long n = atomic_load(&mock_by_status[i]);
        if (n != 0) {
            snprintf(num, sizeof(num), "%d", i);
            json_object_set_new(statuses, num, json_integer(n));
        }
    }
    pthread_mutex_lock(&mock_stats_lock);
    keys = mock_by_key != NULL ? json_deep_copy(mock_by_key) : json_object();
    if (mock_last_body != NULL)
        body = json_loadb(json_string_value(mock_last_body), json_string_length(mock_last_body), 0, NULL);
    json_t *auth = mock_last_auth != NULL ? json_copy(mock_last_auth) : json_null();
    json_t *path = mock_last_path_set ? json_stringn(mock_last_path, mock_last_path_len) : json_null();
    json_t *headers = mock_last_headers != NULL ? json_deep_copy(mock_last_headers) : json_object();
    pthread_mutex_unlock(&mock_stats_lock);
    for (int i = 0; i != MOCK_API_COUNT; ++i)
        json_object_set_new(paths, mock_path_names[i], json_integer(atomic_load(&mock_by_path[i])));

    json_object_set_new(o, "requests", json_integer(atomic_load(&mock_requests)));
    json_object_set_new(o, "by_key", keys != NULL ? keys : json_object());
    json_object_set(o, "by_status", statuses);
    json_object_set_new(o, "active_streams", json_integer(atomic_load(&mock_active)));
    json_object_set_new(o, "completed_streams", json_integer(atomic_load(&mock_completed)));
    json_object_set_new(o, "aborted_streams", json_integer(atomic_load(&mock_aborted)));
    json_object_set_new(o, "reset_streams", json_integer(atomic_load(&mock_reset)));
    json_object_set_new(o, "aborted_requests", json_integer(atomic_load(&mock_aborted_requests)));
    json_object_set_new(o, "last_body", body != NULL ? body : json_null());
    json_object_set_new(o, "last_authorization", auth != NULL ? auth : json_null());
    json_object_set(o, "by_path", paths);
    json_object_set_new(o, "last_path", path != NULL ? path : json_null());
    json_object_set_new(o, "last_headers", headers != NULL ? headers : json_object());
    s = json_dumps(o, JSON_COMPACT);
out:
    json_decref(paths);
    json_decref(statuses);
    json_decref(o);
    return s;
}

void mock_stats_reset(void)
{
    json_t *keys, *body, *auth, *headers;

    atomic_store(&mock_requests, 0);
    for (int i = 0; i != MOCK_API_COUNT; ++i)
        atomic_store(&mock_by_path[i], 0);
    for (int i = 0; i != 600; ++i)
        atomic_store(&mock_by_status[i], 0);
    /* active_streams is a gauge of work in flight: resetting it would make it go negative later */
    atomic_store(&mock_completed, 0);
    atomic_store(&mock_aborted, 0);
    atomic_store(&mock_reset, 0);
    atomic_store(&mock_aborted_requests, 0);
    pthread_mutex_lock(&mock_stats_lock);
    keys = mock_by_key;
    body = mock_last_body;
    auth = mock_last_auth;
    headers = mock_last_headers;
    mock_by_key = mock_last_body = mock_last_auth = mock_last_headers = NULL;
    mock_last_path_set = 0;
    pthread_mutex_unlock(&mock_stats_lock);
    json_decref(headers);
    json_decref(keys);
    json_decref(body);
    json_decref(auth);
}
