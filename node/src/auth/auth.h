/*
 * Who may call the admin API and the console, decided once per request by
 * the dispatcher (handler/routes.c calls ah_auth_dispatch for every admin
 * route). Three ways in, tried in this order:
 *
 *   1. the admin key (Authorization: Bearer or X-Admin-Key): role admin;
 *   2. trusted-header mode: identity and groups from headers an auth proxy
 *      set, believed only when the peer is in AIHUB_TRUSTED_PROXIES;
 *   3. the session cookie: its HS256 token is verified here, in C, then one
 *      Lua call (session_check) confirms the session is alive in Redis and
 *      gives its current role, so a logout, a revocation or a role change on
 *      any node holds on every node from the next request.
 *
 * Then the route's allow mask must admit the role (a route with no entry
 * admits nobody), and a state-changing call made with a cookie or by a
 * proxy's headers must carry X-CSRF-Token. The caller's identity stays
 * attached to the request (ah_auth_identity) for the handlers, and the
 * request is audited when it changed something (auth/audit.c).
 */
#ifndef AH_AUTH_AUTH_H
#define AH_AUTH_AUTH_H

#include <stdint.h>
#include <h2o.h>
#include "auth/roles.h"
#include "auth/trusted.h"
#include "handler/routes.h"
#include "node.h"

typedef struct st_ah_oidc_t ah_oidc_t;

/** the node's sign-in settings, parsed at start and shared read-only by the workers */
typedef struct st_ah_auth_t {
    ah_role_map_t roles;
    ah_cidr_list_t proxies;
    int oidc;               /**< OpenID Connect sign-in is configured */
    int secure_cookies;     /**< the public URL is https: cookies get Secure */
    char redirect_uri[600]; /**< {public_url}/auth/callback */
    ah_oidc_t *provider;    /**< discovery document and key set cache */
} ah_auth_t;

/** parses the sign-in settings into node->auth; -1 with a message in err */
int ah_auth_setup(ah_node_t *node, char *err, size_t errcap);

/** how the caller got in */
typedef enum en_ah_auth_via_t { AH_VIA_NONE = 0, AH_VIA_KEY, AH_VIA_SESSION, AH_VIA_HEADER } ah_auth_via_t;

/** the caller of an admin route; strings live in the request's pool */
typedef struct st_ah_identity_t {
    ah_auth_via_t via;
    ah_role_t role;
    const char *sub;       /**< the provider's subject, the proxy's user name, or "admin-key" */
    const char *email;     /**< "" when unknown */
    const char *name;      /**< "" when unknown */
    const char *principal; /**< one person across sessions: "<iss>#<sub>", "header:<user>" or "admin-key" */
    char phash[33];        /**< 32 hex: names the person's session index in Redis */
    char sid[64];          /**< the session id, "" unless via a session */
} ah_identity_t;

/** a route as the dispatcher sees it */
typedef struct st_ah_auth_route_t {
    const char *method;
    const char *pattern; /**< "{}" marks an id */
    unsigned allow;      /**< AH_ALLOW_* bits; 0 = no entry: refused */
} ah_auth_route_t;

/**
 * Authenticates and authorises req for route, then calls fn(req, params),
 * at once or after the session check; or replies 401/403/302/503 itself.
 * params must stay valid as long as req does (they point into it).
 */
void ah_auth_dispatch(h2o_req_t *req, const ah_auth_route_t *route, const ah_route_params_t *params, ah_route_fn fn);
/**
 * Sends a browser that opens a console page (GET /admin, /admin/ or a path
 * under it without a file extension) and holds no session cookie with a
 * valid signature to /auth/login?next=<that page>; returns 1 when it did.
 * Only when sign-in is configured and no trusted proxy vouches for the
 * caller. The page itself holds no data: every API call is checked in full.
 */
int ah_auth_console_gate(h2o_req_t *req);
/** the identity the dispatcher attached to req, or NULL */
const ah_identity_t *ah_auth_identity(h2o_req_t *req);
/** the client's address: the peer, or X-Forwarded-For's client behind trusted proxies (in the pool) */
const char *ah_auth_client_ip(h2o_req_t *req);

/** "admin_key", "session", "header" */
const char *ah_auth_via_name(ah_auth_via_t via);
/** 1 for methods that change state (anything but GET, HEAD and OPTIONS) */
int ah_auth_is_write(h2o_iovec_t method);

#endif
