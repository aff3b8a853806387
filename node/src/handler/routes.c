/*
 * The dispatch of every request (see routes.h). Guard clauses first: request
 * id, draining, body size; then the route, the listener's role, and, for
 * admin routes, the caller and its role against the route's allow mask
 * (auth/auth.h). Handlers below this point only do their own work.
 */
#include <string.h>
#include "aihub/reqid.h"
#include "auth/auth.h"
#include "http/reply.h"
#include "http/static.h"
#include "handler/routes.h"
#include "node.h"

enum { KIND_CLIENT = 1, KIND_ADMIN = 2, KIND_OPS = 4, KIND_NOAUTH = 8 };

/* who may call an admin route (docs/auth.md): every role reads; operators change everything but users, keys,
 * credits and settings; those are the admin's. A route with no allow bits is refused to everyone. */
#define READ (AH_ALLOW_VIEWER | AH_ALLOW_OPERATOR | AH_ALLOW_ADMIN)
#define OPERATE (AH_ALLOW_OPERATOR | AH_ALLOW_ADMIN)
#define ADMIN AH_ALLOW_ADMIN
#define SELF READ /* the caller's own identity and sessions: anyone signed in */

typedef struct st_route_t {
    const char *method;
    const char *pattern; /* "{}" matches one path segment */
    ah_route_fn fn;
    int kind;
    unsigned allow; /* admin routes: the roles admitted (AH_ALLOW_* bits) */
} route_t;

static const route_t routes[] = {
    {"POST", "/v1/chat/completions", ah_handle_chat, KIND_CLIENT, 0},
    {"GET", "/v1/models", ah_handle_models, KIND_CLIENT, 0},
    {"GET", "/v1/usage", ah_handle_usage, KIND_CLIENT, 0},
    {"POST", "/v1/messages", ah_handle_messages, KIND_CLIENT, 0},
    {"POST", "/v1/embeddings", ah_handle_embeddings, KIND_CLIENT, 0},
    {"POST", "/v1beta/models/{}", ah_handle_gemini, KIND_CLIENT, 0},
    {"GET", "/healthz", ah_handle_healthz, KIND_OPS, 0},
    {"GET", "/readyz", ah_handle_readyz, KIND_OPS, 0},
    {"GET", "/metrics", ah_handle_metrics, KIND_ADMIN | KIND_NOAUTH, 0}, /* scrapers send no credentials: keep it private with AIHUB_ADMIN_LISTEN */
    /* sign-in: no session yet, so no role (each checks what it needs itself) */
    {"GET", "/auth/login", ah_handle_auth_login, KIND_ADMIN | KIND_NOAUTH, 0},
    {"GET", "/auth/callback", ah_handle_auth_callback, KIND_ADMIN | KIND_NOAUTH, 0},
    {"POST", "/auth/refresh", ah_handle_auth_refresh, KIND_ADMIN | KIND_NOAUTH, 0},
    {"POST", "/auth/logout", ah_handle_auth_logout, KIND_ADMIN | KIND_NOAUTH, 0},
    {"GET", "/api/me", ah_handle_me, KIND_ADMIN, SELF},
    {"GET", "/api/sessions", ah_handle_sessions_list, KIND_ADMIN, SELF},
    {"DELETE", "/api/sessions", ah_handle_sessions_delete_others, KIND_ADMIN, SELF},
    {"DELETE", "/api/sessions/{}", ah_handle_session_delete, KIND_ADMIN, SELF},
    {"GET", "/api/audit", ah_handle_audit_list, KIND_ADMIN, READ},
    {"GET", "/api/channels", ah_handle_channels_list, KIND_ADMIN, READ},
    {"POST", "/api/channels", ah_handle_channels_create, KIND_ADMIN, OPERATE},
    {"GET", "/api/channels/{}", ah_handle_channel_get, KIND_ADMIN, READ},
    {"PUT", "/api/channels/{}", ah_handle_channel_update, KIND_ADMIN, OPERATE},
    {"DELETE", "/api/channels/{}", ah_handle_channel_delete, KIND_ADMIN, OPERATE},
    {"POST", "/api/channels/{}/test", ah_handle_channel_test, KIND_ADMIN, OPERATE},
    {"GET", "/api/channels/{}/accounts", ah_handle_accounts_list, KIND_ADMIN, READ},
    {"POST", "/api/channels/{}/accounts", ah_handle_accounts_create, KIND_ADMIN, OPERATE},
    {"POST", "/api/channels/{}/accounts/import", ah_handle_accounts_import, KIND_ADMIN, OPERATE},
    {"PUT", "/api/accounts/{}", ah_handle_account_update, KIND_ADMIN, OPERATE},
    {"DELETE", "/api/accounts/{}", ah_handle_account_delete, KIND_ADMIN, OPERATE},
    {"POST", "/api/accounts/{}/reset", ah_handle_account_reset, KIND_ADMIN, OPERATE},
    {"GET", "/api/model-map", ah_handle_modelmap_get, KIND_ADMIN, READ},
    {"PUT", "/api/model-map", ah_handle_modelmap_put, KIND_ADMIN, OPERATE},
    {"GET", "/api/settings", ah_handle_settings_get, KIND_ADMIN, READ},
    {"PUT", "/api/settings", ah_handle_settings_put, KIND_ADMIN, ADMIN},
    {"GET", "/api/users", ah_handle_users_list, KIND_ADMIN, READ},
    {"POST", "/api/users", ah_handle_users_create, KIND_ADMIN, ADMIN},
    {"GET", "/api/users/{}", ah_handle_user_get, KIND_ADMIN, READ},
    {"PUT", "/api/users/{}", ah_handle_user_update, KIND_ADMIN, ADMIN},
    {"DELETE", "/api/users/{}", ah_handle_user_delete, KIND_ADMIN, ADMIN},
    {"GET", "/api/users/{}/keys", ah_handle_keys_list, KIND_ADMIN, READ},
    {"POST", "/api/users/{}/keys", ah_handle_keys_create, KIND_ADMIN, ADMIN},
    {"PUT", "/api/keys/{}", ah_handle_key_update, KIND_ADMIN, ADMIN},
    {"DELETE", "/api/keys/{}", ah_handle_key_delete, KIND_ADMIN, ADMIN},
    {"GET", "/api/stats", ah_handle_stats, KIND_ADMIN, READ},
    {"GET", "/api/logs", ah_handle_logs_list, KIND_ADMIN, READ},
    {"GET", "/api/logs/stream", ah_handle_logs_stream, KIND_ADMIN, READ},
    {"GET", "/api/prices", ah_handle_prices_get, KIND_ADMIN, READ},
    {"PUT", "/api/prices", ah_handle_prices_put, KIND_ADMIN, OPERATE},
    {"POST", "/api/users/{}/credits", ah_handle_user_credits, KIND_ADMIN, ADMIN},
    {"GET", "/api/users/{}/ledger", ah_handle_user_ledger, KIND_ADMIN, READ},
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
    return ah_auth_client_ip(req);
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
    if (listener_allows(node, req, KIND_ADMIN) && (ah_auth_console_gate(req) || ah_static_serve(req)))
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
    if ((found->kind & KIND_ADMIN) && !(found->kind & KIND_NOAUTH)) {
        /* the caller and its role: at once (admin key, proxy headers) or after the session check */
        ah_auth_route_t r = {.method = found->method, .pattern = found->pattern, .allow = found->allow};
        ah_auth_dispatch(req, &r, &params, found->fn);
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

void ah_routes_dump(FILE *out)
{
    for (size_t i = 0; i != sizeof(routes) / sizeof(routes[0]); ++i) {
        const route_t *r = &routes[i];
        const char *kind = (r->kind & KIND_CLIENT) ? "client" : (r->kind & KIND_OPS) ? "ops" : (r->kind & KIND_NOAUTH) ? "admin-open" : "admin";
        fprintf(out, "{\"method\":\"%s\",\"pattern\":\"%s\",\"kind\":\"%s\",\"roles\":[", r->method, r->pattern, kind);
        const char *sep = "";
        for (int role = AH_ROLE_ADMIN; role >= AH_ROLE_VIEWER; --role) {
            if (ah_role_allowed(r->allow, role)) {
                fprintf(out, "%s\"%s\"", sep, ah_role_name(role));
                sep = ",";
            }
        }
        fprintf(out, "]}\n");
    }
}

void ah_routes_register(h2o_hostconf_t *host)
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;
}
