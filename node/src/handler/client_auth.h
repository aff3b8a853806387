/*
 * Finding a client's API key in a request: Authorization: Bearer, x-api-key,
 * x-goog-api-key, in that order (?key= is for /v1beta paths only).
 */
#ifndef AH_HANDLER_CLIENT_AUTH_H
#define AH_HANDLER_CLIENT_AUTH_H

#include <h2o.h>
#include <hiredis/hiredis.h>
#include "redis/scripts.h"

/** the key (borrowed from the request), or {NULL,0} when none was sent */
h2o_iovec_t ah_client_key(h2o_req_t *req);
/** 1 when key has the shape of an AiHub key ("sk-" and at least 32 more URL-safe characters) */
int ah_client_key_well_formed(h2o_iovec_t key);

/**
 * Calls a key-scoped read script (KEYS[1] = ah:key:<keyed hash of the client's key>, then `nargs` arguments)
 * with ctx as the callback's data. Returns 0 when the call is under way, or -1 after answering the client
 * itself (no or malformed key: 401; Redis unreachable: 503); the callback is then never called.
 */
int ah_client_key_script(h2o_req_t *req, ah_script_id_t script, int nargs, const char **args, void (*cb)(void *, redisReply *, const char *),
                         void *ctx);
/** answers a key check that failed (Redis error: 503; {"err","user_disabled"}: 403; other refusals: 401); 1 when it answered */
int ah_client_key_refused(h2o_req_t *req, redisReply *reply, const char *err);

#endif
