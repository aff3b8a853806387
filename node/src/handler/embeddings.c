/*
 * POST /v1/embeddings: OpenAI embeddings, relayed to OpenAI-type upstreams
 * (OpenAI, Azure, the OpenAI-compatible family) with the same admission,
 * limits, credits and logs as chat; never streamed.
 */
#include "handler/client_auth.h"
#include "handler/routes.h"
#include "http/reply.h"
#include "relay/relay.h"

void ah_handle_embeddings(h2o_req_t *req, const ah_route_params_t *p)
{
    h2o_iovec_t key = ah_client_key(req);
    if (key.base == NULL || !ah_client_key_well_formed(key)) {
        ah_reply_error(req, 401, "authentication_error", "invalid_api_key", "the API key is missing, unknown, disabled or expired", 0);
        return;
    }
    json_error_t jerr;
    json_t *body = req->entity.base != NULL ? json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    json_t *model = json_object_get(body, "model"), *input = json_object_get(body, "input");
    const char *complaint = !json_is_object(body)                                        ? "the request body must be a JSON object"
                            : !json_is_string(model) || json_string_length(model) == 0 ? "'model' is required"
                            : !(json_is_string(input) || json_is_array(input))          ? "'input' must be a string or an array"
                                                                                        : NULL;
    if (complaint != NULL) {
        json_decref(body);
        json_t *e = ah_error_body("invalid_request_error", "invalid_request", complaint);
        ah_reply_json(req, 400, e);
        return;
    }
    ah_relay_request_t rq = {.format = AH_FMT_OPENAI, .embeddings = 1, .model = json_string_value(model), .stream = 0};
    ah_relay_start(req, body, key.base, key.len, &rq);
}
