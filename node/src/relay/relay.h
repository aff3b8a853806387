/*
 * One client request's life on the relay: admit (one script call: key, user,
 * model, account choice), call the upstream, fail over before commit (one
 * script call per step: cool the failed account, pick the next), stream the
 * answer back, settle (one script call). See docs/relay.md.
 */
#ifndef AH_RELAY_RELAY_H
#define AH_RELAY_RELAY_H

#include <h2o.h>
#include <jansson.h>
#include "aihub/translate.h"

/** what a client surface hands the relay */
typedef struct st_ah_relay_request_t {
    ah_format_t format;   /**< the client's API: OpenAI chat, Anthropic messages or Gemini */
    int embeddings;       /**< OpenAI /v1/embeddings (OpenAI-type upstreams only, no stream) */
    const char *model;    /**< the model as asked (borrowed: from the body or the request's pool) */
    int stream;
    int gemini_sse;       /**< Gemini clients: ?alt=sse */
} ah_relay_request_t;

/** relays a client request whose body has been parsed and checked; steals body */
void ah_relay_start(h2o_req_t *req, json_t *body, const char *key, size_t keylen, const ah_relay_request_t *rq);

#endif
