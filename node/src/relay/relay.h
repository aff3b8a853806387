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

/** relays an OpenAI chat completion request whose body has been parsed and checked; steals body */
void ah_relay_chat(h2o_req_t *req, json_t *body, const char *key, size_t keylen);

#endif
