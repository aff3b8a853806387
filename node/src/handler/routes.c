/*
 * The dispatch of every request (see routes.h). Guard clauses first: request
 * id, draining, body size; then the route, the listener's role, and admin
 * authentication. Handlers below this point only do their own work.
 */
#include <string.h>
#include "aihub/crypto.h"
#include "aihub/reqid.h"
#include "http/reply.h"
#include "http/static.h"
#include "handler/routes.h"
#include "node.h"

enum { KIND_CLIENT = 1, KIND_ADMIN = 2, KIND_OPS = 4, KIND_NOAUTH = 8 };

typedef struct st_route_t {
    const char *method;
    const char *pattern; /* "{}" matches one path segment */
    ah_route_fn fn;
    int kind;
} route_t;

static const route_t routes[] = {
    {"POST", "/v1/chat/completions", ah_handle_chat, KIND_CLIENT},
    {"GET", "/v1/models", ah_handle_models, KIND_CLIENT},
    {"GET", "/v1/usage", ah_handle_usage, KIND_CLIENT},
    {"GET", "/healthz", ah_handle_healthz, KIND_OPS},
    {"GET", "/readyz", ah_handle_readyz, KIND_OPS},
    {"GET", "/metrics", ah_handle_metrics, KIND_ADMIN | KIND_NOAUTH}, /* scrapers send no credentials: keep it private with AIHUB_ADMIN_LISTEN */
    {"GET", "/api/channels", ah_handle_channels_list, KIND_ADMIN},
    {"POST", "/api/channels", ah_handle_channels_create, KIND_ADMIN},
    {"GET", "/api/channels/{}", ah_handle_channel_get, KIND_ADMIN},
    {"PUT", "/api/channels/{}", ah_handle_channel_update, KIND_ADMIN},
    {"DELETE", "/api/channels/{}", ah_handle_channel_delete, KIND_ADMIN},
    {"POST", "/api/channels/{}/test", ah_handle_channel_test, KIND_ADMIN},
    {"GET", "/api/channels/{}/accounts", ah_handle_accounts_list, KIND_ADMIN},
    {"POST", "/api/channels/{}/accounts", ah_handle_accounts_create, KIND_ADMIN},
    {"POST", "/api/channels/{}/accounts/import", ah_handle_accounts_import, KIND_ADMIN},
    {"PUT", "/api/accounts/{}", ah_handle_account_update, KIND_ADMIN},
    {"DELETE", "/api/accounts/{}", ah_handle_account_delete, KIND_ADMIN},
    {"POST", "/api/accounts/{}/reset", ah_handle_account_reset, KIND_ADMIN},
    {"GET", "/api/model-map", ah_handle_modelmap_get, KIND_ADMIN},
    {"PUT", "/api/model-map", ah_handle_modelmap_put, KIND_ADMIN},
    {"GET", "/api/settings", ah_handle_settings_get, KIND_ADMIN},
    {"PUT", "/api/settings", ah_handle_settings_put, KIND_ADMIN},
    {"GET", "/api/users", ah_handle_users_list, KIND_ADMIN},
    {"POST", "/api/users", ah_handle_users_create, KIND_ADMIN},
    {"GET", "/api/users/{}", ah_handle_user_get, KIND_ADMIN},
    {"PUT", "/api/users/{}", ah_handle_user_update, KIND_ADMIN},
    {"DELETE", "/api/users/{}", ah_handle_user_delete, KIND_ADMIN},
    {"GET", "/api/users/{}/keys", ah_handle_keys_list, KIND_ADMIN},
    {"POST", "/api/users/{}/keys", ah_handle_keys_create, KIND_ADMIN},
    {"PUT", "/api/keys/{}", ah_handle_key_update, KIND_ADMIN},
    {"DELETE", "/api/keys/{}", ah_handle_key_delete, KIND_ADMIN},
    {"GET", "/api/stats", ah_handle_stats, KIND_ADMIN},
    {"GET", "/api/logs", ah_handle_logs_list, KIND_ADMIN},
    {"GET", "/api/logs/stream", ah_handle_logs_stream, KIND_ADMIN},
    {"GET", "/api/prices", ah_handle_prices_get, KIND_ADMIN},
    {"PUT", "/api/prices", ah_handle_prices_put, KIND_ADMIN},
    {"POST", "/api/users/{}/credits", ah_handle_user_credits, KIND_ADMIN},
    {"GET", "/api/users/{}/ledger", ah_handle_user_ledger, KIND_ADMIN},
};

/* matches path (without query) against pattern; fills params */
static int match(const char *pattern, h2o_iovec_t path, ah_route_params_t *params)
{
    const char *p = pattern, *s = path.base, *end = path.base + path.len;
    params->n = 0;
    while (*p != '\0') {
        if (p[0] == '{' && p[1] == '}') {
            const char *seg = s;
            while (s != end && *s != '/')
                ++s;
            if (s == seg || params->n == AH_ROUTE_MAX_PARAMS)
                return 0;
            params->p[params->n++] = h2o_iovec_init(seg, s - seg);
            p += 2;
        } else {
            if (s == end || *s != *p)
                return 0;
            ++s, ++p;
        }
    }
    return s == end;
}

h2o_iovec_t ah_request_id(h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("x-request-id"), -1);
    return i < 0 ? h2o_iovec_init(H2O_STRLIT("-")) : req->res.headers.entries[i].value;
}

const char *ah_client_ip(h2o_req_t *req)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (void *)&ss);
    char *buf = h2o_mem_alloc_pool(&req->pool, NI_MAXHOST);
    if (len == 0 || h2o_socket_getnumerichost((void *)&ss, len, buf) == SIZE_MAX)
        return "-";
    return buf;
}

static int listener_port(h2o_req_t *req)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_sockname(req->conn, (void *)&ss);
    return len == 0 ? -1 : h2o_socket_getport((void *)&ss);
}

static int listener_allows(ah_node_t *node, h2o_req_t *req, int kind)
{
    if (kind & KIND_OPS)
        return 1;
    int port = listener_port(req);
    for (int i = 0; i != node->nlisteners; ++i) {
        if (node->listeners[i].port != port)
            continue;
        return (kind & KIND_ADMIN) ? node->listeners[i].is_admin : node->listeners[i].is_client;
    }
    return 1;
}

static int admin_authorized(ah_node_t *node, h2o_req_t *req)
{
    const char *want = node->opts.admin_key;
    size_t wlen = strlen(want);
    if (wlen == 0)
        return 0;
    h2o_iovec_t got = ah_req_header(req, "x-admin-key");
    if (got.base == NULL) {
        got = ah_req_header(req, "authorization");
        if (got.len < 7 || strncasecmp(got.base, "Bearer ", 7) != 0)
            return 0;
        got.base += 7, got.len -= 7;
    }
    return got.len == wlen && ah_crypto_ct_equal(got.base, want, wlen);
}

/* CORS for client paths: returns 1 when the request was a preflight and has been answered */
static int handle_cors(ah_node_t *node, h2o_req_t *req)
{
    const char *allowed = node->opts.cors_origins;
    h2o_iovec_t origin = ah_req_header(req, "origin");
    if (allowed[0] == '\0' || origin.base == NULL)
        return 0;
    int ok = strcmp(allowed, "*") == 0;
    for (const char *p = allowed; !ok && *p != '\0';) {
        size_t n = strcspn(p, ",");
        while (n > 0 && p[0] == ' ')
            ++p, --n;
        if (n == origin.len && memcmp(p, origin.base, n) == 0)
            ok = 1;
        p += n + (p[n] == ',');
    }
    if (!ok)
        return 0;
    h2o_iovec_t o = strcmp(allowed, "*") == 0 ? h2o_iovec_init(H2O_STRLIT("*")) : h2o_strdup(&req->pool, origin.base, origin.len);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-origin"), 1, NULL, o.base, o.len);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")))
        return 0;
    ah_reply_add_header(req, "access-control-allow-methods", "GET, POST, OPTIONS");
    ah_reply_add_header(req, "access-control-allow-headers", "authorization, content-type, x-api-key, x-goog-api-key, "
                                                             "anthropic-version, anthropic-beta, x-request-id");
    ah_reply_add_header(req, "access-control-max-age", "600");
    req->res.status = 204;
    req->res.reason = "No Content";
    h2o_send_inline(req, NULL, 0);
    return 1;
}

static void set_request_id(h2o_req_t *req)
{
    h2o_iovec_t theirs = ah_req_header(req, "x-request-id");
    h2o_iovec_t id;
    if (theirs.base != NULL && ah_reqid_is_acceptable(theirs.base, theirs.len)) {
        id = theirs;
    } else {
        char *buf = h2o_mem_alloc_pool(&req->pool, 33);
        ah_reqid_new(buf);
        id = h2o_iovec_init(buf, 32);
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    ah_worker_t *w = ah_worker_of_req(req);
    ah_node_t *node = w->node;
    set_request_id(req);

    h2o_iovec_t path = req->path_normalized;
    if (listener_allows(node, req, KIND_ADMIN) && ah_static_serve(req))
        return 0;
    const route_t *found = NULL, *path_match = NULL;
    ah_route_params_t params;
    for (size_t i = 0; i != sizeof(routes) / sizeof(routes[0]); ++i) {
        if (!match(routes[i].pattern, path, &params))
            continue;
        path_match = &routes[i];
        if (h2o_memis(req->method.base, req->method.len, routes[i].method, strlen(routes[i].method))) {
            found = &routes[i];
            break;
        }
    }
    if (path_match != NULL && (path_match->kind & KIND_CLIENT) && listener_allows(node, req, KIND_CLIENT) && handle_cors(node, req))
        return 0;
    if (path_match == NULL || !listener_allows(node, req, path_match->kind)) {
        ah_reply_error(req, 404, "invalid_request_error", "not_found", "no such endpoint", 0);
        return 0;
    }
    if (found == NULL) {
        ah_reply_error(req, 405, "invalid_request_error", "method_not_allowed", "method not allowed on this endpoint", 0);
        return 0;
    }
    if (req->entity.base != NULL && (int64_t)req->entity.len > node->opts.max_body) {
        req->http1_is_persistent = 0;
        ah_reply_error(req, 413, "invalid_request_error", "request_too_large", "request body is larger than the configured limit", 0);
        return 0;
    }
    if ((found->kind & KIND_ADMIN) && !(found->kind & KIND_NOAUTH) && !admin_authorized(node, req)) {
        ah_reply_error(req, 401, "authentication_error", "unauthorized", "a valid admin key is required", 0);
        return 0;
    }
    if ((found->kind & KIND_CLIENT) && atomic_load(&node->draining)) {
        req->http1_is_persistent = 0;
        ah_reply_error(req, 503, "api_error", "service_unavailable", "this node is shutting down; retry on another", 0);
        return 0;
    }
    found->fn(req, &params);
    return 0;
}

void ah_routes_register(h2o_hostconf_t *host)
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;
}
