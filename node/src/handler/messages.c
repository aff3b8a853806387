/*
 * POST /v1/messages: the Anthropic Messages API. Authentication (x-api-key
 * or Bearer), the API's own 400s in Anthropic's error shape, then the relay,
 * which serves it from any upstream type, translating when needed.
 */
#include <string.h>
#include "handler/client_auth.h"
#include "handler/routes.h"
#include "http/reply.h"
#include "relay/relay.h"

static void bad(h2o_req_t *req, const char *msg)
{
    ah_reply_error_as(req, AH_FMT_ANTHROPIC, 400, "invalid_request_error", "invalid_request", msg, 0);
}

static const char *check(json_t *body)
{
    json_t *v = json_object_get(body, "model");
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 256)
        return "model: a non-empty string is required";
    v = json_object_get(body, "max_tokens");
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return "max_tokens: a positive integer is required";
    v = json_object_get(body, "messages");
    if (!json_is_array(v) || json_array_size(v) == 0)
        return "messages: a non-empty array is required";
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        json_t *content = json_object_get(m, "content");
        if (role == NULL || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0))
            return "messages: each message needs a role of user or assistant";
        if (!json_is_string(content) && !json_is_array(content))
            return "messages: content must be a string or an array of content blocks";
    }
    v = json_object_get(body, "stream");
    if (v != NULL && !json_is_boolean(v))
        return "stream: must be a boolean";
    v = json_object_get(body, "system");
    if (v != NULL && !json_is_string(v) && !json_is_array(v))
        return "system: must be a string or an array of text blocks";
    return NULL;
}

void ah_handle_messages(h2o_req_t *req, const ah_route_params_t *p)
{
    h2o_iovec_t key = ah_client_key(req);
    if (key.base == NULL || !ah_client_key_well_formed(key)) {
        ah_reply_error_as(req, AH_FMT_ANTHROPIC, 401, "authentication_error", "invalid_api_key",
                          "invalid x-api-key: the API key is missing, unknown, disabled or expired", 0);
        return;
    }
    json_error_t jerr;
    json_t *body = req->entity.base != NULL ? json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        bad(req, "the request body must be a JSON object");
        return;
    }
    const char *complaint = check(body);
    if (complaint != NULL) {
        json_decref(body);
        bad(req, complaint);
        return;
    }
    ah_relay_request_t rq = {.format = AH_FMT_ANTHROPIC, .model = json_string_value(json_object_get(body, "model")),
                             .stream = json_is_true(json_object_get(body, "stream"))};
    ah_relay_start(req, body, key.base, key.len, &rq);
}
