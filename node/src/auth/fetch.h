/*
 * Small HTTP calls to the identity provider (discovery, JWKS, token and
 * userinfo endpoints) on a worker's curl loop: never blocking the loop, with
 * a deadline, no redirects, and a cap on the response body.
 */
#ifndef AH_AUTH_FETCH_H
#define AH_AUTH_FETCH_H

#include <stddef.h>
#include <curl/curl.h>
#include "node.h"

/** largest response body kept, bytes; a longer one fails the call */
#define AH_FETCH_MAX_BODY (1024 * 1024)
/** deadline of one call, ms */
#define AH_FETCH_TIMEOUT_MS 10000

/**
 * Completion: err is NULL when the server answered (any status), else a
 * short reason and status is 0. body is NUL-terminated, borrowed until return.
 */
typedef void (*ah_fetch_cb)(void *ud, long status, const char *body, size_t len, const char *err);

/**
 * GET url, or POST form (application/x-www-form-urlencoded, copied) when
 * form is not NULL. headers is taken over (freed by the call). Returns 0 and
 * later calls cb exactly once, or -1 at once (cb never called).
 */
int ah_fetch(ah_worker_t *w, const char *url, const char *form, struct curl_slist *headers, ah_fetch_cb cb, void *ud);

#endif
