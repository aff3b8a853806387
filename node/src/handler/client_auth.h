/*
 * Finding a client's API key in a request: Authorization: Bearer, x-api-key,
 * x-goog-api-key, in that order (?key= is for /v1beta paths only).
 */
#ifndef AH_HANDLER_CLIENT_AUTH_H
#define AH_HANDLER_CLIENT_AUTH_H

#include <h2o.h>

/** the key (borrowed from the request), or {NULL,0} when none was sent */
h2o_iovec_t ah_client_key(h2o_req_t *req);
/** 1 when key has the shape of an AiHub key ("sk-" and at least 32 more URL-safe characters) */
int ah_client_key_well_formed(h2o_iovec_t key);

#endif
