/*
 * Authentication and authorisation of admin routes (see auth.h): the admin
 * key, trusted headers, then the session cookie (token in C, life in Redis),
 * then the route's role mask and the CSRF check. Also the node's sign-in
 * settings, parsed once at start.
 */
#include <string.h>
#include <strings.h>
#include "aihub/crypto.h"
#include "aihub/jwt.h"
#include "aihub/log.h"
#include "auth/audit.h"
#include "auth/auth.h"
#include "auth/cookies.h"
#include "auth/oidc.h"
#include "auth/session.h"
#include "http/async.h"
#include "http/reply.h"

/* ---- settings ---- */

int ah_auth_setup(ah_node_t *node, char *err, size_t errcap)
{
    ah_auth_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        abort();
    const ah_options_t *o = &node->opts;
    if (ah_role_map_parse(o->oidc_role_map, o->oidc_default_role, &a->roles, err, errcap) != 0 ||
        ah_cidr_list_parse(o->trusted_proxies, &a->proxies, err, errcap) != 0) {
        ah_role_map_free(&a->roles);
        free(a);
        return -1;
    }
    a->oidc = o->oidc_issuer[0] != '\0';
    a->secure_cookies = strncmp(o->public_url, "https://", 8) == 0;
    snprintf(a->redirect_uri, sizeof(a->redirect_uri), "%s/auth/callback", o->public_url);
    node->auth = a;
    a->provider = ah_oidc_create(node);
    if (a->oidc)
        ah_log(AH_LOG_INFO, "auth", "console sign-in through %s (redirect URI %s)", o->oidc_issuer, a->redirect_uri);
    if (o->trusted_header_user[0] != '\0')
        ah_log(AH_LOG_INFO, "auth", "trusted-header sign-in: %s from %zu proxy networks", o->trusted_header_user, a->proxies.n);
    return 0;
}

const char *ah_auth_via_name(ah_auth_via_t via)
{
    switch (via) {
    case AH_VIA_KEY: return "admin_key";
    case AH_VIA_SESSION: return "session";
    case AH_VIA_HEADER: return "header";
    default: return "none";
    }
}

int ah_auth_is_write(h2o_iovec_t m)
{
    return !(h2o_memis(m.base, m.len, H2O_STRLIT("GET")) || h2o_memis(m.base, m.len, H2O_STRLIT("HEAD")) ||
             h2o_memis(m.base, m.len, H2O_STRLIT("OPTIONS")));
}

const ah_identity_t *ah_auth_identity(h2o_req_t *req)
{
    ah_identity_t *id = ah_audit_identity(req);
    return id != NULL && id->via != AH_VIA_NONE ? id : NULL;
}

const char *ah_auth_client_ip(h2o_req_t *req)
{
    ah_node_t *node = ah_worker_of_req(req)->node;
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (void *)&ss);
    char *buf = h2o_mem_alloc_pool(&req->pool, 64);
    if (len == 0) {
        strcpy(buf, "-");
        return buf;
    }
    h2o_iovec_t xff = node->auth != NULL && node->auth->proxies.n != 0 ? ah_req_header(req, "x-forwarded-for") : h2o_iovec_init(NULL, 0);
    static const ah_cidr_list_t none = {0};
    return ah_client_addr(node->auth != NULL ? &node->auth->proxies : &none, (void *)&ss, xff.base, xff.len, buf, 64);
}

/* ---- decisions ---- */

/* a request header by its configured name (any case); {NULL,0} when absent or not configured */
static h2o_iovec_t header_named(h2o_req_t *req, const char *name)
{
    char lower[128];
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof(lower))
        return h2o_iovec_init(NULL, 0);
    for (size_t i = 0; i <= n; ++i)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    return ah_req_header(req, lower);
}


/* 1: a valid admin key; 0: none presented; -1: one presented that is not it (or admin-key access is off) */
static int admin_key(ah_node_t *node, h2o_req_t *req)
{
    h2o_iovec_t got = ah_req_header(req, "x-admin-key");
    if (got.base == NULL) {
        got = ah_req_header(req, "authorization");
        if (got.base == NULL)
            return 0;
        if (got.len < 7 || strncasecmp(got.base, "Bearer ", 7) != 0)
            return -1;
        got.base += 7, got.len -= 7;
    }
    const char *want = node->opts.admin_key;
    size_t wlen = strlen(want);
    return wlen != 0 && got.len == wlen && ah_crypto_ct_equal(got.base, want, wlen) ? 1 : -1;
}

static void unauthenticated(h2o_req_t *req, const char *code, const char *msg)
{
    ah_reply_error(req, 401, "authentication_error", code, msg, 0);
}

int ah_auth_console_gate(h2o_req_t *req)
{
    ah_node_t *node = ah_worker_of_req(req)->node;
    h2o_iovec_t path = req->path_normalized;
    if (node->auth == NULL || !node->auth->oidc || !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        return 0;
    if (!(h2o_memis(path.base, path.len, H2O_STRLIT("/admin")) || (path.len >= 7 && memcmp(path.base, "/admin/", 7) == 0)))
        return 0;
    /* assets (a dot in the last segment) are public; pages are the console's client-side routes */
    const char *last = path.base + path.len;
    while (last > path.base && last[-1] != '/')
        --last;
    if (memchr(last, '.', path.base + path.len - last) != NULL)
        return 0;
    const ah_options_t *o = &node->opts;
    if (o->trusted_header_user[0] != '\0' && header_named(req, o->trusted_header_user).base != NULL)
        return 0;
    h2o_iovec_t cookie = ah_cookie_get(req, AH_COOKIE_SESSION);
    char sid[64];
    int rv = cookie.base != NULL ? ah_session_verify(node, cookie.base, cookie.len, ah_now_ms() / 1000, sid) : AH_JWT_EFORMAT;
    if (rv == AH_JWT_OK || rv == AH_JWT_EEXP)
        return 0; /* signed in (an expired token is refreshed by the console itself) */
    char *next = ah_oidc_escape(h2o_strdup(&req->pool, req->path.base, req->path.len).base);
    size_t cap = strlen(next) + 32;
    char *loc = h2o_mem_alloc_pool(&req->pool, cap);
    snprintf(loc, cap, "/auth/login?next=%s", next);
    free(next);
    ah_reply_add_header(req, "location", loc);
    ah_reply_add_header(req, "cache-control", "no-store");
    ah_reply_raw(req, 302, "text/plain; charset=utf-8", "sign in first\n", 14);
    return 1;
}

static void authorize(h2o_req_t *req, const ah_auth_route_t *route, const ah_identity_t *id, const ah_route_params_t *params,
                      ah_route_fn fn)
{
    ah_node_t *node = ah_worker_of_req(req)->node;
    if (!ah_role_allowed(route->allow, id->role)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the %s role may not %s %s", ah_role_name(id->role), route->method, route->pattern);
        ah_reply_error(req, 403, "permission_error", "forbidden", msg, 0);
        return;
    }
    if (id->via != AH_VIA_KEY && ah_auth_is_write(req->method)) {
        char binding[300];
        if (id->via == AH_VIA_SESSION)
            snprintf(binding, sizeof(binding), "sid:%s", id->sid);
        else
            snprintf(binding, sizeof(binding), "header:%s", id->principal);
        if (!ah_csrf_ok(req, node, binding)) {
            ah_reply_error(req, 403, "permission_error", "csrf_failed",
                           "this call needs the X-CSRF-Token header set to the aihub_csrf cookie's value", 0);
            return;
        }
    }
    fn(req, params);
}

/* trusted-header mode: 1 when the request carries a proxy's identity (and was handled), 0 to go on */
static int by_header(h2o_req_t *req, const ah_auth_route_t *route, const ah_route_params_t *params, ah_route_fn fn)
{
    ah_node_t *node = ah_worker_of_req(req)->node;
    const ah_options_t *o = &node->opts;
    if (o->trusted_header_user[0] == '\0')
        return 0;
    h2o_iovec_t user = header_named(req, o->trusted_header_user);
    if (user.base == NULL || user.len == 0 || user.len > 255)
        return 0;
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (void *)&ss);
    if (len == 0 || !ah_cidr_list_match(&node->auth->proxies, (void *)&ss)) {
        ah_log(AH_LOG_DEBUG, "auth", "%s ignored: the peer is not a trusted proxy", o->trusted_header_user);
        return 0;
    }
    ah_identity_t *id = ah_audit_attach(req, route, params);
    id->via = AH_VIA_HEADER;
    id->sub = h2o_strdup(&req->pool, user.base, user.len).base;
    id->name = id->sub;
    h2o_iovec_t email = header_named(req, o->trusted_header_email);
    if (email.base != NULL && email.len <= 255)
        id->email = h2o_strdup(&req->pool, email.base, email.len).base;
    h2o_iovec_t groups = header_named(req, o->trusted_header_groups);
    id->role = ah_role_map_csv(&node->auth->roles, groups.base != NULL ? groups.base : "", groups.len);
    size_t plen = user.len + 8;
    char *principal = h2o_mem_alloc_pool(&req->pool, plen);
    snprintf(principal, plen, "header:%.*s", (int)user.len, user.base);
    id->principal = principal;
    ah_principal_hash(principal, id->phash);
    if (id->role == AH_ROLE_NONE) {
        ah_reply_error(req, 403, "permission_error", "no_role", "none of your groups gives a role in this console", 0);
        return 1;
    }
    authorize(req, route, id, params, fn);
    return 1;
}

/* ---- the session check ---- */

typedef struct st_check_t {
    ah_async_t super;
    ah_auth_route_t route;
    ah_route_params_t params;
    ah_route_fn fn;
    char sid[64];
} check_t;

static const char *reply_str(redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "";
}

static void on_checked(void *ud, redisReply *reply, const char *err)
{
    check_t *c = ud;
    h2o_req_t *req = c->super.req;
    if (req == NULL)
        goto out;
    if (err != NULL || reply->type == REDIS_REPLY_ERROR) {
        if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
            ah_log(AH_LOG_ERROR, "auth", "session_check: %s", reply->str);
        ah_reply_error(req, 503, "api_error", "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly", 0);
        goto out;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 || strcmp(reply_str(reply, 0), "ok") != 0) {
        const char *why = reply->type == REDIS_REPLY_ARRAY ? reply_str(reply, 1) : "";
        unauthenticated(req, strcmp(why, "revoked") == 0 ? "session_revoked" : strcmp(why, "expired") == 0 ? "session_expired" : "unauthorized",
                        strcmp(why, "revoked") == 0   ? "this session was ended; sign in again"
                        : strcmp(why, "expired") == 0 ? "this session has expired; sign in again"
                                                      : "no such session; sign in again");
        goto out;
    }
    ah_identity_t *id = ah_audit_attach(req, &c->route, &c->params);
    id->via = AH_VIA_SESSION;
    const char *role = reply_str(reply, 1);
    int r = ah_role_parse(role, strlen(role));
    id->role = r < 0 ? AH_ROLE_NONE : r;
    id->sub = h2o_strdup(&req->pool, reply_str(reply, 2), SIZE_MAX).base;
    id->email = h2o_strdup(&req->pool, reply_str(reply, 3), SIZE_MAX).base;
    id->name = h2o_strdup(&req->pool, reply_str(reply, 4), SIZE_MAX).base;
    id->principal = h2o_strdup(&req->pool, reply_str(reply, 5), SIZE_MAX).base;
    snprintf(id->phash, sizeof(id->phash), "%s", reply_str(reply, 6));
    snprintf(id->sid, sizeof(id->sid), "%s", c->sid);
    authorize(req, &c->route, id, &c->params, c->fn);
out:
    ah_async_free(c);
}

static void by_session(h2o_req_t *req, const ah_auth_route_t *route, const ah_route_params_t *params, ah_route_fn fn, h2o_iovec_t cookie)
{
    ah_worker_t *w = ah_worker_of_req(req);
    char sid[64];
    int rv = ah_session_verify(w->node, cookie.base, cookie.len, ah_now_ms() / 1000, sid);
    if (rv == AH_JWT_EEXP) {
        unauthenticated(req, "session_expired", "the session token has expired; refresh it at POST /auth/refresh");
        return;
    }
    if (rv != AH_JWT_OK) {
        unauthenticated(req, "unauthorized", "the session cookie is not valid; sign in again");
        return;
    }
    check_t *c = ah_async_new(req, sizeof(*c));
    c->route = *route;
    c->params = *params;
    c->fn = fn;
    snprintf(c->sid, sizeof(c->sid), "%s", sid);
    char key[80], idle[24];
    snprintf(key, sizeof(key), "ah:sess:%s", sid);
    snprintf(idle, sizeof(idle), "%lld", (long long)w->node->opts.session_idle_s);
    const char *argv[] = {key, sid, idle};
    if (ah_redis_script(w->redis, AH_SCRIPT_SESSION_CHECK, 1, 3, argv, NULL, on_checked, c) != 0) {
        ah_reply_error(req, 503, "api_error", "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly", 0);
        ah_async_free(c);
    }
}

void ah_auth_dispatch(h2o_req_t *req, const ah_auth_route_t *route, const ah_route_params_t *params, ah_route_fn fn)
{
    ah_node_t *node = ah_worker_of_req(req)->node;
    int key = admin_key(node, req);
    if (key < 0) {
        ah_reply_error(req, 401, "authentication_error", "unauthorized", "a valid admin key is required", 0);
        return;
    }
    if (key > 0) {
        ah_identity_t *id = ah_audit_attach(req, route, params);
        id->via = AH_VIA_KEY;
        id->role = AH_ROLE_ADMIN;
        id->sub = id->principal = "admin-key";
        id->name = "admin key";
        ah_principal_hash(id->principal, id->phash);
        authorize(req, route, id, params, fn);
        return;
    }
    if (by_header(req, route, params, fn))
        return;
    h2o_iovec_t cookie = ah_cookie_get(req, AH_COOKIE_SESSION);
    if (cookie.base != NULL && cookie.len != 0) {
        by_session(req, route, params, fn, cookie);
        return;
    }
    unauthenticated(req, "unauthorized", "sign in to the console, or send a valid admin key");
}
