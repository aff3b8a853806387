/*
 * Console sign-in: GET /auth/login and GET /auth/callback (docs/auth.md);
 * the refresh and logout are in auth_refresh.c, the shared steps in
 * auth_flow.c.
 *
 * Sign-in is OpenID Connect's authorization code flow with PKCE (S256),
 * state and nonce. Between /auth/login and /auth/callback the state, nonce,
 * code verifier and the page to return to travel in a short-lived cookie
 * sealed with AES-256-GCM under a key derived from AIHUB_SECRET_KEY (path
 * /auth/callback, ten minutes), so an unauthenticated visitor costs Redis
 * nothing. Its name ends with the state's first characters, so sign-ins in
 * two tabs do not overwrite each other.
 */
#include <string.h>
#include <openssl/crypto.h>
#include "aihub/base64.h"
#include "aihub/crypto.h"
#include "aihub/jwt.h"
#include "aihub/log.h"
#include "auth/auth.h"
#include "auth/cookies.h"
#include "auth/oidc.h"
#include "auth/session.h"
#include "handler/auth_flow.h"
#include "handler/auth_util.h"
#include "http/reply.h"

/** how long a sign-in may take between /auth/login and /auth/callback, seconds */
#define LOGIN_TTL_S 600

/* ---- GET /auth/login ---- */

static void login_with_meta(void *ud, const ah_oidc_meta_t *meta, const char *err)
{
    ah_flow_t *f = ud;
    if (!ah_flow_with_meta(f, meta, err))
        return;
    h2o_req_t *req = f->super.req;
    ah_node_t *node = f->w->node;
    const ah_options_t *o = &node->opts;
    if (ah_crypto_random_token(f->state, 32) != 0 || ah_crypto_random_token(f->nonce, 32) != 0 ||
        ah_crypto_random_token(f->verifier, 64) != 0) {
        ah_flow_fail(f, 500, "internal_error", "no randomness");
        return;
    }
    /* PKCE S256: the challenge is base64url(SHA-256(verifier)) */
    uint8_t digest[32];
    char hex[65], challenge[AH_BASE64_ENCODED_SIZE(32)];
    size_t dlen;
    ah_crypto_sha256_hex(f->verifier, strlen(f->verifier), hex);
    ah_hex_decode(hex, 64, digest, sizeof(digest), &dlen);
    ah_base64url_encode(digest, sizeof(digest), challenge);

    json_t *st = json_pack("{s:s, s:s, s:s, s:s, s:I}", "s", f->state, "n", f->nonce, "v", f->verifier, "x", f->next, "t",
                           (json_int_t)(ah_now_ms() / 1000));
    char *text = json_dumps(st, JSON_COMPACT), *sealed = ah_flow_seal(node, text);
    json_decref(st);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    char name[64];
    snprintf(name, sizeof(name), "%s%.8s", AH_COOKIE_LOGIN_PREFIX, f->state);
    ah_cookie_set(req, name, sealed, "/auth/callback", LOGIN_TTL_S, AH_COOKIE_HTTPONLY | AH_COOKIE_LAX | ah_session_cookie_secure(node));
    free(sealed);

    char *cid = ah_oidc_escape(o->oidc_client_id), *ruri = ah_oidc_escape(node->auth->redirect_uri), *scope = ah_oidc_escape(o->oidc_scopes);
    /* OpenID Connect Core §11: a refresh token for offline use is asked for with prompt=consent */
    int offline = strstr(o->oidc_scopes, "offline_access") != NULL;
    char *url;
    if (asprintf(&url,
                 "%s%cresponse_type=code&client_id=%s&redirect_uri=%s&scope=%s&state=%s&nonce=%s&code_challenge=%s"
                 "&code_challenge_method=S256%s",
                 meta->authorization_endpoint, strchr(meta->authorization_endpoint, '?') != NULL ? '&' : '?', cid, ruri, scope,
                 f->state, f->nonce, challenge, offline ? "&prompt=consent" : "") < 0)
        abort();
    free(cid);
    free(ruri);
    free(scope);
    ah_reply_add_header(req, "location", url);
    ah_reply_add_header(req, "cache-control", "no-store");
    free(url);
    ah_reply_raw(req, 302, "text/plain; charset=utf-8", "signing in\n", 11);
    ah_flow_free(f);
}

void ah_handle_auth_login(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_node_t *node = ah_worker_of_req(req)->node;
    if (!node->auth->oidc) {
        ah_reply_error(req, 404, "invalid_request_error", "sign_in_not_configured", "single sign-on is not configured on this gateway", 0);
        return;
    }
    char next[AH_AUTH_NEXT_MAX + 1];
    if (ah_auth_next_param(req, next) != 0) {
        ah_reply_error(req, 400, "invalid_request_error", "invalid_request", "next must be a local path such as /admin/", 0);
        return;
    }
    ah_flow_t *f = ah_flow_new(req);
    memcpy(f->next, next, sizeof(next));
    ah_oidc_meta(f->w, login_with_meta, f);
}

/* ---- GET /auth/callback ---- */

static void create_session(ah_flow_t *f);

static void on_session_created(void *ud, redisReply *reply, const char *err)
{
    ah_flow_t *f = ud;
    if (!ah_flow_alive(f))
        return;
    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 || reply->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(reply->element[0]->str, "ok") != 0) {
        if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
            ah_log(AH_LOG_ERROR, "auth", "session_create: %s", reply->str);
        ah_flow_fail(f, 503, "service_unavailable", "the session could not be stored; retry shortly");
        return;
    }
    h2o_req_t *req = f->super.req;
    ah_node_t *node = f->w->node;
    const char *sub = json_string_value(json_object_get(f->claims, "sub"));
    char *token = ah_session_token(node, f->sid, sub, ah_now_ms() / 1000, node->opts.session_token_s);
    ah_session_set_cookies(req, node, token, f->new_refresh, f->sid);
    free(token);
    ah_cookie_set(req, f->login_cookie, NULL, "/auth/callback", 0, AH_COOKIE_HTTPONLY | AH_COOKIE_LAX | ah_session_cookie_secure(node));
    ah_reply_add_header(req, "location", f->next);
    ah_log(AH_LOG_INFO, "auth", "signed in: %s as %s (session %s)", sub, ah_role_name(f->role), f->sid);
    ah_reply_raw(req, 302, "text/plain; charset=utf-8", "signed in\n", 10);
    ah_flow_free(f);
}

static void create_session(ah_flow_t *f)
{
    ah_node_t *node = f->w->node;
    const ah_options_t *o = &node->opts;
    h2o_req_t *req = f->super.req;
    f->role = ah_role_map_claim(&node->auth->roles, ah_claim_get(f->claims, o->oidc_roles_claim));
    if (f->role == AH_ROLE_NONE) {
        char msg[300];
        snprintf(msg, sizeof(msg), "none of your groups (claim '%s') gives a role in this console", o->oidc_roles_claim);
        ah_flow_fail(f, 403, "no_role", msg);
        return;
    }
    const char *sub = json_string_value(json_object_get(f->claims, "sub")), *iss = json_string_value(json_object_get(f->claims, "iss"));
    const char *email = json_string_value(json_object_get(f->claims, "email"));
    const char *name = json_string_value(json_object_get(f->claims, "name"));
    if (name == NULL)
        name = json_string_value(json_object_get(f->claims, "preferred_username"));
    char principal[800], phash[33], key[80], idx[64], idle[24], max[24];
    snprintf(principal, sizeof(principal), "%s#%s", iss, sub);
    ah_principal_hash(principal, phash);
    ah_session_new_id(f->sid);
    ah_refresh_new(f->sid, f->new_refresh, sizeof(f->new_refresh), f->rt_hash);
    char *sealed_idp = f->idp_refresh != NULL ? ah_flow_seal(node, f->idp_refresh) : NULL;
    snprintf(key, sizeof(key), "ah:sess:%s", f->sid);
    snprintf(idx, sizeof(idx), "ah:sess_idx:%s", phash);
    snprintf(idle, sizeof(idle), "%lld", (long long)o->session_idle_s);
    snprintf(max, sizeof(max), "%lld", (long long)o->session_max_s);
    h2o_iovec_t ua = ah_req_header(req, "user-agent");
    char uabuf[201];
    snprintf(uabuf, sizeof(uabuf), "%.*s", (int)(ua.len < 200 ? ua.len : 200), ua.base != NULL ? ua.base : "");
    const char *argv[] = {key, idx, f->sid, phash, f->rt_hash, idle, max, "principal", principal, "sub", sub, "email",
                          email != NULL ? email : "", "name", name != NULL ? name : "", "role", ah_role_name(f->role), "ip",
                          ah_auth_client_ip(req), "user_agent", uabuf, "idp_rt", sealed_idp != NULL ? sealed_idp : ""};
    int rv = ah_redis_script(f->w->redis, AH_SCRIPT_SESSION_CREATE, 2, sizeof(argv) / sizeof(argv[0]), argv, NULL, on_session_created, f);
    free(sealed_idp);
    if (rv != 0)
        ah_flow_fail(f, 503, "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly");
}

/* the provider's answer to userinfo: its claims fill what the ID token lacked (same subject only) */
static void on_callback_userinfo(void *ud, long status, const char *body, size_t len, const char *err)
{
    ah_flow_t *f = ud;
    if (!ah_flow_alive(f))
        return;
    if (err != NULL) {
        ah_flow_fail(f, 502, "idp_unavailable", "the identity provider's userinfo endpoint could not be reached");
        return;
    }
    ah_flow_merge_userinfo(f, status, body, len);
    create_session(f);
}

/* groups are in the ID token, or else asked of userinfo */
static void on_callback_id_token(void *ud, int rv, json_t *claims, const char *why)
{
    ah_flow_t *f = ud;
    if (!ah_flow_alive(f)) {
        json_decref(claims);
        return;
    }
    if (rv != AH_JWT_OK) {
        ah_log(AH_LOG_WARN, "auth", "sign-in refused: %s", why);
        ah_flow_fail(f, 401, "invalid_id_token", why);
        return;
    }
    f->claims = claims;
    ah_flow_with_claims(f, create_session, on_callback_userinfo);
}

/* the token endpoint's answer: JSON with id_token (and access_token, maybe refresh_token), or an OAuth error */
static void on_code_exchanged(void *ud, long status, const char *body, size_t len, const char *err)
{
    ah_flow_t *f = ud;
    if (!ah_flow_alive(f))
        return;
    json_t *j = ah_flow_token_reply(f, status, body, len, err);
    if (j == NULL)
        return;
    const char *idt = json_string_value(json_object_get(j, "id_token"));
    if (idt == NULL) {
        json_decref(j);
        ah_flow_fail(f, 502, "idp_error", "the identity provider returned no ID token (is the openid scope allowed?)");
        return;
    }
    char *copy = strdup(idt);
    json_decref(j);
    ah_oidc_verify_id_token(f->w, f->meta, copy, f->nonce, on_callback_id_token, f);
    free(copy);
}

static void callback_with_meta(void *ud, const ah_oidc_meta_t *meta, const char *err)
{
    ah_flow_t *f = ud;
    if (!ah_flow_with_meta(f, meta, err))
        return;
    h2o_req_t *req = f->super.req;
    h2o_iovec_t code = ah_req_query(req, "code");
    char *c = ah_oidc_escape(h2o_strdup(&req->pool, code.base, code.len).base), *ruri = ah_oidc_escape(f->w->node->auth->redirect_uri),
         *form;
    if (asprintf(&form, "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s", c, ruri, f->verifier) < 0)
        abort();
    free(c);
    free(ruri);
    int rv = ah_oidc_token_request(f->w, meta, form, on_code_exchanged, f);
    OPENSSL_cleanse(form, strlen(form));
    free(form);
    if (rv != 0)
        ah_flow_fail(f, 502, "idp_unavailable", "cannot start a request to the identity provider");
}

/* the sealed sign-in cookie for this state: 0 with nonce, verifier and next filled in f */
static int open_login_state(h2o_req_t *req, ah_flow_t *f, h2o_iovec_t state)
{
    ah_node_t *node = f->w->node;
    snprintf(f->login_cookie, sizeof(f->login_cookie), "%s%.8s", AH_COOKIE_LOGIN_PREFIX, state.base);
    h2o_iovec_t sealed = ah_cookie_get(req, f->login_cookie);
    if (sealed.base == NULL)
        return -1;
    size_t len;
    char *text = ah_crypto_open(node->seal_key, sealed.base, sealed.len, &len);
    json_error_t jerr;
    json_t *st = text != NULL ? json_loadb(text, len, 0, &jerr) : NULL;
    if (text != NULL) {
        OPENSSL_cleanse(text, len);
        free(text);
    }
    const char *s = json_string_value(json_object_get(st, "s")), *n = json_string_value(json_object_get(st, "n")),
               *v = json_string_value(json_object_get(st, "v")), *x = json_string_value(json_object_get(st, "x"));
    int64_t t = json_integer_value(json_object_get(st, "t")), now = ah_now_ms() / 1000;
    int good = s != NULL && n != NULL && v != NULL && x != NULL && strlen(s) == state.len && ah_crypto_ct_equal(s, state.base, state.len) &&
               now - t <= LOGIN_TTL_S && now >= t - AH_SESSION_SKEW_S && strlen(n) < sizeof(f->nonce) && strlen(v) < sizeof(f->verifier) &&
               strlen(x) <= AH_AUTH_NEXT_MAX;
    if (good) {
        strcpy(f->nonce, n);
        strcpy(f->verifier, v);
        strcpy(f->next, x);
    }
    json_decref(st);
    return good ? 0 : -1;
}

void ah_handle_auth_callback(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_node_t *node = ah_worker_of_req(req)->node;
    if (!node->auth->oidc) {
        ah_reply_error(req, 404, "invalid_request_error", "sign_in_not_configured", "single sign-on is not configured on this gateway", 0);
        return;
    }
    h2o_iovec_t error = ah_req_query(req, "error"), code = ah_req_query(req, "code"), state = ah_req_query(req, "state");
    if (error.base != NULL) {
        char *e = ah_auth_query_decoded(req, "error"), *d = ah_auth_query_decoded(req, "error_description"), msg[400];
        snprintf(msg, sizeof(msg), "the identity provider refused the sign-in: %.80s%s%.200s", e != NULL ? e : "error", d != NULL ? ": " : "",
                 d != NULL ? d : "");
        ah_reply_error(req, 401, "authentication_error", "idp_refused", msg, 0);
        return;
    }
    if (code.base == NULL || code.len == 0 || code.len > 2048 || state.len != 32 || !ah_session_is_id(state.base, state.len)) {
        ah_reply_error(req, 400, "invalid_request_error", "invalid_request", "code and state are required", 0);
        return;
    }
    ah_flow_t *f = ah_flow_new(req);
    if (open_login_state(req, f, state) != 0) {
        ah_flow_fail(f, 400, "login_state_invalid", "this sign-in was not started here, was already used, or took too long; start again");
        return;
    }
    ah_oidc_meta(f->w, callback_with_meta, f);
}

