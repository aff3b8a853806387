/*
 * POST /v1/chat/completions: authentication shape, body validation (the
 * contract's 400s), then the relay. Unknown fields pass through untouched.
 */
#include <string.h>
#include "handler/client_auth.h"
#include "handler/routes.h"
#include "http/reply.h"
#include "relay/relay.h"

static void bad_request(h2o_req_t *req, const char *msg, const char *param)
{
    json_t *body = ah_error_body("invalid_request_error", "invalid_request", msg);
    if (param != NULL)
        json_object_set_new(json_object_get(body, "error"), "param", json_string(param));
    ah_reply_json(req, 400, body);
}

/* the contract's checks; returns the complaint or NULL, and the offending field in *param */
static const char *check_body(json_t *body, const char **param)
{
    json_t *v;
    *param = "model";
    v = json_object_get(body, "model");
    if (v == NULL)
        return "'model' is required";
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 256)
        return "'model' must be a non-empty string";
    *param = "messages";
    v = json_object_get(body, "messages");
    if (v == NULL)
        return "'messages' is required";
    if (!json_is_array(v) || json_array_size(v) == 0)
        return "'messages' must be a non-empty array";
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m)
    {
        if (!json_is_object(m) || !json_is_string(json_object_get(m, "role")))
            return "each message must be an object with a string 'role'";
    }
    *param = "stream";
    v = json_object_get(body, "stream");
    if (v != NULL && !json_is_boolean(v) && !json_is_null(v))
        return "'stream' must be a boolean";
    *param = "stream_options";
    v = json_object_get(body, "stream_options");
    if (v != NULL && !json_is_object(v) && !json_is_null(v))
        return "'stream_options' must be an object";
    static const char *counts[] = {"max_tokens", "max_completion_tokens", "n"};
    for (size_t k = 0; k != sizeof(counts) / sizeof(counts[0]); ++k) {
        *param = counts[k];
        v = json_object_get(body, counts[k]);
        if (v != NULL && !json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0))
            return k == 2 ? "'n' must be a non-negative integer" : "token limits must be non-negative integers";
    }
    *param = "temperature";
    v = json_object_get(body, "temperature");
    if (v != NULL && !json_is_null(v) && (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 2))
        return "'temperature' must be a number between 0 and 2";
    *param = NULL;
    return NULL;
}

void ah_handle_chat(h2o_req_t *req, const ah_route_params_t *p)
{
    h2o_iovec_t key = ah_client_key(req);
    if (key.base == NULL || key.len == 0) {
        ah_reply_error(req, 401, "authentication_error", "invalid_api_key",
                       "no API key: send it as 'Authorization: Bearer sk-...' or in 'x-api-key'", 0);
        return;
    }
    if (!ah_client_key_well_formed(key)) {
        ah_reply_error(req, 401, "authentication_error", "invalid_api_key", "the API key is missing, unknown, disabled or expired", 0);
        return;
    }
    if (req->entity.base == NULL || req->entity.len == 0) {
        bad_request(req, "the request body must be a JSON object", NULL);
        return;
    }
    json_error_t jerr;
    json_t *body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL) {
        char msg[256];
        snprintf(msg, sizeof(msg), "malformed JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        bad_request(req, msg, NULL);
        return;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        bad_request(req, "the request body must be a JSON object", NULL);
        return;
    }
    const char *param, *complaint = check_body(body, &param);
    if (complaint != NULL) {
        json_decref(body);
        bad_request(req, complaint, param);
        return;
    }
    ah_relay_request_t rq = {.format = AH_FMT_OPENAI, .model = json_string_value(json_object_get(body, "model")),
                             .stream = json_is_true(json_object_get(body, "stream"))};
    ah_relay_start(req, body, key.base, key.len, &rq);
}
