/*
 * libcurl's multi interface on a worker's h2o evloop: curl's sockets are
 * watched by h2o (without h2o reading them), curl's timer is a loop timer, and
 * easy handles are pooled and reused so that a request costs no handle setup.
 */
#ifndef AH_UPSTREAM_CURL_LOOP_H
#define AH_UPSTREAM_CURL_LOOP_H

#include <curl/curl.h>
#include <h2o.h>
#include "loop/timer.h"

typedef struct st_ah_curl_loop_t ah_curl_loop_t;

/** end of a transfer; called exactly once per ah_curl_loop_add that returned 0 */
typedef void (*ah_curl_done_cb)(void *ud, CURL *easy, CURLcode result);

ah_curl_loop_t *ah_curl_loop_create(h2o_loop_t *loop, ah_timers_t *timers);
/** aborts running transfers (their done callbacks run) and frees everything */
void ah_curl_loop_destroy(ah_curl_loop_t **cl);
/** an easy handle in its default state (from the pool); owned by the caller until added or released */
CURL *ah_curl_loop_easy(ah_curl_loop_t *cl);
/** gives an easy handle back to the pool (not while it is added) */
void ah_curl_loop_release(ah_curl_loop_t *cl, CURL *easy);
/** starts the transfer; the caller must not set CURLOPT_PRIVATE. 0, or -1 (cb not called) */
int ah_curl_loop_add(ah_curl_loop_t *cl, CURL *easy, ah_curl_done_cb cb, void *ud);
/**
 * Stops a running transfer. Its done callback runs with CURLE_ABORTED_BY_CALLBACK,
 * either before this returns or, when called from inside a curl callback, right
 * after curl returns control to the loop.
 */
void ah_curl_loop_abort(ah_curl_loop_t *cl, CURL *easy);
/** resumes a paused transfer; safe from h2o callbacks (curl may call the write callback at once) */
void ah_curl_loop_unpause(ah_curl_loop_t *cl, CURL *easy);
/** transfers currently added */
size_t ah_curl_loop_running(const ah_curl_loop_t *cl);

#endif
