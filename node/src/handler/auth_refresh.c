/*
 * POST /auth/refresh and POST /auth/logout (docs/auth.md): the one-time
 * refresh token rotated (and the role re-read from the identity provider
 * when the node holds its refresh token), reuse of an old token revoking the
 * session; logout revoking it and pointing at the provider's end-session URL.
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

/* ---- POST /auth/refresh ---- */

static void refresh_reply_error(ah_flow_t *f, const char *why)
{
    h2o_req_t *req = f->super.req;
    if (strcmp(why, "stale") == 0) {
        ah_flow_fail(f, 409, "refresh_conflict", "this refresh token was replaced a moment ago (by another tab?); the newer one is in effect");
        return;
    }
    if (strcmp(why, "busy") == 0) {
        ah_flow_fail(f, 409, "refresh_in_progress", "this session is being refreshed (by another tab?); retry in a moment");
        return;
    }
    ah_session_clear_cookies(req, f->w->node);
    if (strcmp(why, "reuse") == 0)
        ah_flow_fail(f, 401, "session_revoked", "a refresh token was used twice: the session has been ended; sign in again");
    else if (strcmp(why, "revoked") == 0)
        ah_flow_fail(f, 401, "session_revoked", "this session was ended; sign in again");
    else if (strcmp(why, "expired") == 0)
        ah_flow_fail(f, 401, "session_expired", "this session has expired; sign in again");
    else
        ah_flow_fail(f, 401, "unauthorized", "the refresh token is not valid; sign in again");
}

/* a session script's refusal: {"err", why}; NULL for a success, "" for a failure to reach Redis (503 sent) */
static const char *script_refusal(ah_flow_t *f, redisReply *reply, const char *err)
{
    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 || reply->element[0]->type != REDIS_REPLY_STRING) {
        if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
            ah_log(AH_LOG_ERROR, "auth", "session script: %s", reply->str);
        ah_flow_fail(f, 503, "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly");
        return "";
    }
    return strcmp(reply->element[0]->str, "ok") == 0 ? NULL : reply->element[1]->str;
}

/* 1 when a session script succeeded and the client is still there; otherwise the flow is answered (or freed) */
static int script_succeeded(ah_flow_t *f, redisReply *reply, const char *err)
{
    if (!ah_flow_alive(f))
        return 0;
    const char *why = script_refusal(f, reply, err);
    if (why == NULL)
        return 1;
    if (why[0] != '\0')
        refresh_reply_error(f, why);
    return 0;
}

static void on_rotated(void *ud, redisReply *reply, const char *err)
{
    ah_flow_t *f = ud;
    if (!script_succeeded(f, reply, err))
        return;
    h2o_req_t *req = f->super.req;
    ah_node_t *node = f->w->node;
    const char *role = reply->element[1]->str;
    char *token = ah_session_token(node, f->sid, f->sub, ah_now_ms() / 1000, node->opts.session_token_s);
    ah_session_set_cookies(req, node, token, f->new_refresh, f->sid);
    free(token);
    ah_reply_json(req, 200,
                  json_pack("{s:s, s:s, s:I}", "session_id", f->sid, "role", role, "expires_in", (json_int_t)node->opts.session_token_s));
    ah_flow_free(f);
}

static void rotate(ah_flow_t *f)
{
    ah_node_t *node = f->w->node;
    char key[80], used[90], idle[24], grace[24], hash[65];
    ah_refresh_new(f->sid, f->new_refresh, sizeof(f->new_refresh), hash);
    snprintf(key, sizeof(key), "ah:sess:%s", f->sid);
    snprintf(used, sizeof(used), "ah:sess:%s:rt", f->sid);
    snprintf(idle, sizeof(idle), "%lld", (long long)node->opts.session_idle_s);
    snprintf(grace, sizeof(grace), "%d", AH_REFRESH_GRACE_S);
    const char *argv[] = {key, used, "rotate", f->sid, f->rt_hash, idle, grace, hash, f->role_known ? ah_role_name(f->role) : "",
                          f->new_sealed_idp != NULL ? f->new_sealed_idp : ""};
    if (ah_redis_script(f->w->redis, AH_SCRIPT_SESSION_REFRESH, 2, 10, argv, NULL, on_rotated, f) != 0)
        ah_flow_fail(f, 503, "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly");
}

static void on_revoked_by_idp(void *ud, redisReply *reply, const char *err)
{
    ah_flow_t *f = ud;
    if (!ah_flow_alive(f))
        return;
    ah_session_clear_cookies(f->super.req, f->w->node);
    if (f->role_known && f->role == AH_ROLE_NONE)
        ah_flow_fail(f, 403, "no_role", "none of your groups gives a role in this console any more; the session has been ended");
    else
        ah_flow_fail(f, 401, "session_revoked", "the identity provider no longer accepts this sign-in; the session has been ended");
}

static void revoke_for_idp(ah_flow_t *f)
{
    char key[80];
    snprintf(key, sizeof(key), "ah:sess:%s", f->sid);
    const char *argv[] = {key, f->sid, "", "idp_refused"};
    if (ah_redis_script(f->w->redis, AH_SCRIPT_SESSION_REVOKE, 1, 4, argv, NULL, on_revoked_by_idp, f) != 0)
        ah_flow_fail(f, 503, "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly");
}

/*
 * The provider's current claims are known (or not): the role is computed
 * from them exactly as at sign-in (no groups claim = the default role), the
 * session rotated with it, or ended when it is none. Without fresh claims
 * (no new ID token and no userinfo) the role is kept.
 */
static void refresh_with_claims(ah_flow_t *f)
{
    ah_node_t *node = f->w->node;
    if (f->fresh) {
        f->role_known = 1;
        f->role = ah_role_map_claim(&node->auth->roles, ah_claim_get(f->claims, node->opts.oidc_roles_claim));
    }
    if (f->role_known && f->role == AH_ROLE_NONE) {
        revoke_for_idp(f);
        return;
    }
    rotate(f);
}

static void on_refresh_userinfo(void *ud, long status, const char *body, size_t len, const char *err)
{
    ah_flow_t *f = ud;
    if (!ah_flow_alive(f))
        return;
    if (err != NULL) {
        ah_flow_fail(f, 502, "idp_unavailable", "the identity provider's userinfo endpoint could not be reached; retry shortly");
        return;
    }
    if (ah_flow_merge_userinfo(f, status, body, len))
        f->fresh = 1;
    refresh_with_claims(f);
}

static void on_refresh_id_token(void *ud, int rv, json_t *claims, const char *why)
{
    ah_flow_t *f = ud;
    if (!ah_flow_alive(f)) {
        json_decref(claims);
        return;
    }
    if (rv != AH_JWT_OK || strcmp(json_string_value(json_object_get(claims, "sub")), f->sub) != 0) {
        json_decref(claims);
        ah_log(AH_LOG_WARN, "auth", "refresh: the provider's new ID token was refused: %s", why != NULL ? why : "another subject");
        ah_flow_fail(f, 502, "idp_error", "the identity provider's new ID token was refused");
        return;
    }
    f->claims = claims;
    f->fresh = 1;
    ah_flow_with_claims(f, refresh_with_claims, on_refresh_userinfo);
}

static void on_idp_refreshed(void *ud, long status, const char *body, size_t len, const char *err)
{
    ah_flow_t *f = ud;
    if (!ah_flow_alive(f))
        return;
    json_error_t jerr;
    json_t *j = err == NULL ? json_loadb(body, len, 0, &jerr) : NULL;
    const char *e = json_string_value(json_object_get(j, "error"));
    if (err == NULL && (status == 400 || status == 401) && e != NULL && strcmp(e, "invalid_grant") == 0) {
        /* the provider ended the sign-in (user disabled, grant revoked, token expired): so do we */
        json_decref(j);
        revoke_for_idp(f);
        return;
    }
    json_decref(j);
    free(f->idp_refresh);
    f->idp_refresh = NULL;
    if ((j = ah_flow_token_reply(f, status, body, len, err)) == NULL)
        return;
    if (f->idp_refresh != NULL) {
        /* the provider rotated its refresh token too */
        f->new_sealed_idp = ah_flow_seal(f->w->node, f->idp_refresh);
        OPENSSL_cleanse(f->idp_refresh, strlen(f->idp_refresh));
        free(f->idp_refresh);
        f->idp_refresh = NULL;
    }
    const char *idt = json_string_value(json_object_get(j, "id_token"));
    if (idt != NULL) {
        char *copy = strdup(idt);
        json_decref(j);
        ah_oidc_verify_id_token(f->w, f->meta, copy, NULL, on_refresh_id_token, f);
        free(copy);
        return;
    }
    json_decref(j);
    /* no new ID token: ask userinfo for the groups, if the provider has it */
    f->claims = json_pack("{s:s}", "sub", f->sub);
    if (f->access_token != NULL && f->meta->userinfo_endpoint != NULL &&
        ah_oidc_userinfo(f->w, f->meta, f->access_token, on_refresh_userinfo, f) == 0)
        return;
    rotate(f);
}

static void refresh_with_meta(void *ud, const ah_oidc_meta_t *meta, const char *err)
{
    ah_flow_t *f = ud;
    if (!ah_flow_with_meta(f, meta, err))
        return;
    size_t len;
    char *rt = ah_crypto_open(f->w->node->seal_key, f->sealed_idp, strlen(f->sealed_idp), &len);
    if (rt == NULL) {
        /* sealed under another AIHUB_SECRET_KEY: nothing to ask the provider with */
        rotate(f);
        return;
    }
    char *esc = ah_oidc_escape(rt), *form;
    OPENSSL_cleanse(rt, len);
    free(rt);
    if (asprintf(&form, "grant_type=refresh_token&refresh_token=%s", esc) < 0)
        abort();
    OPENSSL_cleanse(esc, strlen(esc));
    free(esc);
    int rv = ah_oidc_token_request(f->w, meta, form, on_idp_refreshed, f);
    OPENSSL_cleanse(form, strlen(form));
    free(form);
    if (rv != 0)
        ah_flow_fail(f, 502, "idp_unavailable", "cannot start a request to the identity provider");
}

static void on_refresh_checked(void *ud, redisReply *reply, const char *err)
{
    ah_flow_t *f = ud;
    if (!script_succeeded(f, reply, err))
        return;
    /* {"ok", role, sub, email, name, principal, phash, idp_rt, created_at, expires_at} */
    snprintf(f->sub, sizeof(f->sub), "%s", reply->element[2]->str);
    const char *sealed = reply->elements > 7 && reply->element[7]->type == REDIS_REPLY_STRING ? reply->element[7]->str : "";
    if (sealed[0] != '\0' && f->w->node->auth->oidc) {
        f->sealed_idp = strdup(sealed);
        ah_oidc_meta(f->w, refresh_with_meta, f);
        return;
    }
    rotate(f);
}

void ah_handle_auth_refresh(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_worker_t *w = ah_worker_of_req(req);
    char sid[64], hash[65], binding[80];
    if (ah_refresh_parse(ah_cookie_get(req, AH_COOKIE_REFRESH), sid, hash) != 0) {
        ah_reply_error(req, 401, "authentication_error", "unauthorized", "no refresh token: sign in again", 0);
        return;
    }
    snprintf(binding, sizeof(binding), "sid:%s", sid);
    if (!ah_csrf_ok(req, w->node, binding)) {
        ah_reply_error(req, 403, "permission_error", "csrf_failed", "this call needs the X-CSRF-Token header set to the aihub_csrf cookie's value", 0);
        return;
    }
    ah_flow_t *f = ah_flow_new(req);
    strcpy(f->sid, sid);
    strcpy(f->rt_hash, hash);
    char key[80], used[90], idle[24], grace[24];
    snprintf(key, sizeof(key), "ah:sess:%s", sid);
    snprintf(used, sizeof(used), "ah:sess:%s:rt", sid);
    snprintf(idle, sizeof(idle), "%lld", (long long)w->node->opts.session_idle_s);
    snprintf(grace, sizeof(grace), "%d", AH_REFRESH_GRACE_S);
    const char *argv[] = {key, used, "check", sid, hash, idle, grace};
    if (ah_redis_script(w->redis, AH_SCRIPT_SESSION_REFRESH, 2, 7, argv, NULL, on_refresh_checked, f) != 0)
        ah_flow_fail(f, 503, "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly");
}

/* ---- POST /auth/logout ---- */

static void finish_logout(ah_flow_t *f)
{
    h2o_req_t *req = f->super.req;
    ah_node_t *node = f->w->node;
    ah_session_clear_cookies(req, node);
    const ah_oidc_meta_t *meta = node->auth->oidc ? ah_oidc_meta_cached(node->auth->provider) : NULL;
    char *url = NULL;
    if (meta != NULL && meta->end_session_endpoint != NULL) {
        char back[600];
        snprintf(back, sizeof(back), "%s/admin/", node->opts.public_url);
        char *cid = ah_oidc_escape(node->opts.oidc_client_id), *b = ah_oidc_escape(back);
        if (asprintf(&url, "%s%cclient_id=%s&post_logout_redirect_uri=%s", meta->end_session_endpoint,
                     strchr(meta->end_session_endpoint, '?') != NULL ? '&' : '?', cid, b) < 0)
            abort();
        free(cid);
        free(b);
    }
    ah_oidc_meta_release(meta);
    ah_reply_json(req, 200, json_pack("{s:b, s:s?}", "ok", 1, "end_session_url", url));
    free(url);
    ah_flow_free(f);
}

static void on_logged_out(void *ud, redisReply *reply, const char *err)
{
    ah_flow_t *f = ud;
    if (!ah_flow_alive(f))
        return;
    if (err != NULL || reply->type == REDIS_REPLY_ERROR) {
        ah_flow_fail(f, 503, "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly");
        return;
    }
    ah_log(AH_LOG_INFO, "auth", "signed out: session %s", f->sid);
    finish_logout(f);
}

void ah_handle_auth_logout(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_worker_t *w = ah_worker_of_req(req);
    char sid[64] = "", hash[65];
    h2o_iovec_t token = ah_cookie_get(req, AH_COOKIE_SESSION);
    int rv = token.base != NULL ? ah_session_verify(w->node, token.base, token.len, ah_now_ms() / 1000, sid) : -1;
    if (rv != AH_JWT_OK && rv != AH_JWT_EEXP && ah_refresh_parse(ah_cookie_get(req, AH_COOKIE_REFRESH), sid, hash) != 0)
        sid[0] = '\0';
    ah_flow_t *f = ah_flow_new(req);
    if (sid[0] == '\0') {
        finish_logout(f); /* nothing to end: just clear what the browser holds */
        return;
    }
    char binding[80];
    snprintf(binding, sizeof(binding), "sid:%s", sid);
    if (!ah_csrf_ok(req, w->node, binding)) {
        ah_flow_fail(f, 403, "csrf_failed", "this call needs the X-CSRF-Token header set to the aihub_csrf cookie's value");
        return;
    }
    strcpy(f->sid, sid);
    char key[80];
    snprintf(key, sizeof(key), "ah:sess:%s", sid);
    const char *argv[] = {key, sid, "", "logout"};
    if (ah_redis_script(w->redis, AH_SCRIPT_SESSION_REVOKE, 1, 4, argv, NULL, on_logged_out, f) != 0)
        ah_flow_fail(f, 503, "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly");
}

