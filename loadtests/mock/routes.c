/*
 * One h2o handler for every path, dispatching on method and path: the provider endpoints (OpenAI chat, Anthropic
 * Messages, Gemini), the behaviour and stats control endpoints, and a JSON 404 for anything else (in Anthropic's or
 * Gemini's shape under their paths, else OpenAI's).
 */
#include "routes.h"

#include "anthropic.h"
#include "behavior.h"
#include "chat.h"
#include "gemini.h"
#include "respond.h"
#include "stats.h"

static const char mock_models_json[] = "{\"object\":\"list\",\"data\":[{\"id\":\"mock-gpt\",\"object\":\"model\",\"created\":0,\"owned_by\":\"mock\"}]}";
static const char mock_ok_json[] = "{\"ok\":true}";

static int mock_is(h2o_iovec_t v, const char *s)
{
    return h2o_memis(v.base, v.len, s, strlen(s));
}

static int mock_has_prefix(h2o_iovec_t v, const char *s)
{
    size_t n = strlen(s);
    return v.len >= n && memcmp(v.base, s, n) == 0;
}

static void mock_behavior_post(h2o_req_t *req)
{
    const char *err = NULL;
    if (mock_behavior_set(req->entity.base != NULL ? req->entity.base : "", req->entity.len, &err) != 0) {
        mock_respond_error(req, 400, "invalid_request_error", "invalid_request", err, 1);
        return;
    }
    mock_respond(req, 200, "application/json", h2o_iovec_init(H2O_STRLIT(mock_ok_json)));
}

static int mock_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    h2o_iovec_t path = req->path_normalized, m = req->method;
    (void)self;

    if (mock_is(path, "/v1/chat/completions") && mock_is(m, "POST")) {
        mock_chat_handle(req);
    } else if (mock_is(path, "/v1/messages") && mock_is(m, "POST")) {
        mock_anthropic_handle(req);
    } else if (mock_is(path, "/v1beta") || mock_has_prefix(path, "/v1beta/")) {
        mock_gemini_route(req);
    } else if (mock_is(path, "/v1/messages") || mock_has_prefix(path, "/v1/messages/")) {
        mock_respond_anthropic_error(req, 404, "not_found_error", "Unknown method or path");
    } else if (mock_is(path, "/v1/models") && mock_is(m, "GET")) {
        mock_respond(req, 200, "application/json", h2o_iovec_init(H2O_STRLIT(mock_models_json)));
    } else if (mock_is(path, "/_mock/behavior") && mock_is(m, "POST")) {
        mock_behavior_post(req);
    } else if (mock_is(path, "/_mock/behavior") && mock_is(m, "DELETE")) {
        mock_behavior_clear();
        mock_respond(req, 200, "application/json", h2o_iovec_init(H2O_STRLIT(mock_ok_json)));
    } else if (mock_is(path, "/_mock/stats") && mock_is(m, "GET")) {
        mock_respond_json_owned(req, 200, mock_stats_dump());
    } else if (mock_is(path, "/_mock/stats") && mock_is(m, "DELETE")) {
        mock_stats_reset();
        mock_respond(req, 200, "application/json", h2o_iovec_init(H2O_STRLIT(mock_ok_json)));
    } else {
        mock_respond_error(req, 404, "invalid_request_error", "not_found", "Unknown method or path", 1);
    }
    return 0;
}

void mock_routes_register(h2o_hostconf_t *hostconf)
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = mock_on_req;
}
