/*
 * Helpers of the sign-in flows (see auth_flow.h).
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

ah_flow_t *ah_flow_new(h2o_req_t *req)
{
    ah_flow_t *f = ah_async_new(req, sizeof(*f));
    f->w = ah_worker_of_req(req);
    return f;
}

void ah_flow_free(ah_flow_t *f)
{
    ah_oidc_meta_release(f->meta);
    if (f->access_token != NULL)
        OPENSSL_cleanse(f->access_token, strlen(f->access_token));
    if (f->idp_refresh != NULL)
        OPENSSL_cleanse(f->idp_refresh, strlen(f->idp_refresh));
    free(f->access_token);
    free(f->idp_refresh);
    free(f->sealed_idp);
    free(f->new_sealed_idp);
    json_decref(f->claims);
    OPENSSL_cleanse(f->verifier, sizeof(f->verifier));
    OPENSSL_cleanse(f->new_refresh, sizeof(f->new_refresh));
    ah_async_free(f);
}

/* replies an error (if the client is still there) and ends the flow */
void ah_flow_fail(ah_flow_t *f, int status, const char *code, const char *msg)
{
    h2o_req_t *req = f->super.req;
    if (req != NULL) {
        if (f->login_cookie[0] != '\0')
            ah_cookie_set(req, f->login_cookie, NULL, "/auth/callback", 0, AH_COOKIE_HTTPONLY | AH_COOKIE_LAX | ah_session_cookie_secure(f->w->node));
        ah_reply_add_header(req, "cache-control", "no-store");
        const char *type = status == 401 ? "authentication_error" : status == 403 ? "permission_error" : status >= 500 ? "api_error" : "invalid_request_error";
        ah_reply_error(req, status, type, code, msg, 0);
    }
    ah_flow_free(f);
}

/* 1 when the flow should go on; else the client left and the flow was freed */
int ah_flow_alive(ah_flow_t *f)
{
    if (f->super.req != NULL)
        return 1;
    ah_flow_free(f);
    return 0;
}

int ah_flow_with_meta(ah_flow_t *f, const ah_oidc_meta_t *meta, const char *err)
{
    f->meta = meta;
    if (!ah_flow_alive(f))
        return 0;
    if (meta == NULL) {
        ah_flow_fail(f, 502, "idp_unavailable", err);
        return 0;
    }
    return 1;
}

char *ah_flow_seal(const ah_node_t *node, const char *text)
{
    return ah_crypto_seal(node->seal_key, text, strlen(text));
}

int ah_flow_merge_userinfo(ah_flow_t *f, long status, const char *body, size_t len)
{
    int merged = 0;
    json_error_t jerr;
    json_t *ui = status == 200 ? json_loadb(body, len, 0, &jerr) : NULL;
    const char *sub = json_string_value(json_object_get(ui, "sub"));
    if (json_is_object(ui) && sub != NULL && strcmp(sub, json_string_value(json_object_get(f->claims, "sub"))) == 0) {
        const char *k;
        json_t *v;
        json_object_foreach(ui, k, v)
        {
            if (json_object_get(f->claims, k) == NULL)
                json_object_set(f->claims, k, v);
        }
        merged = 1;
    } else {
        ah_log(AH_LOG_WARN, "auth", "userinfo ignored (status %ld, or another subject)", status);
    }
    json_decref(ui);
    return merged;
}

void ah_flow_with_claims(ah_flow_t *f, void (*next)(ah_flow_t *), ah_fetch_cb userinfo_cb)
{
    const char *claim = f->w->node->opts.oidc_roles_claim;
    if (ah_claim_get(f->claims, claim) != NULL || f->access_token == NULL || f->meta->userinfo_endpoint == NULL ||
        ah_oidc_userinfo(f->w, f->meta, f->access_token, userinfo_cb, f) != 0)
        next(f);
}

json_t *ah_flow_token_reply(ah_flow_t *f, long status, const char *body, size_t len, const char *err)
{
    json_error_t jerr;
    json_t *j = err == NULL ? json_loadb(body, len, 0, &jerr) : NULL;
    if (err != NULL || status != 200 || !json_is_object(j)) {
        const char *e = json_string_value(json_object_get(j, "error")), *d = json_string_value(json_object_get(j, "error_description"));
        char msg[400];
        if (err != NULL)
            snprintf(msg, sizeof(msg), "the identity provider could not be reached: %s", err);
        else
            snprintf(msg, sizeof(msg), "the identity provider refused (%ld): %.80s%s%.200s", status, e != NULL ? e : "error",
                     d != NULL ? ": " : "", d != NULL ? d : "");
        ah_log(AH_LOG_WARN, "auth", "token endpoint: %s", msg);
        int grant = e != NULL && strcmp(e, "invalid_grant") == 0;
        json_decref(j);
        ah_flow_fail(f, err != NULL || (!grant && status >= 500) ? 502 : 401, grant ? "invalid_grant" : "idp_error", msg);
        return NULL;
    }
    const char *at = json_string_value(json_object_get(j, "access_token")), *rt = json_string_value(json_object_get(j, "refresh_token"));
    free(f->access_token);
    f->access_token = at != NULL ? strdup(at) : NULL;
    if (rt != NULL) {
        free(f->idp_refresh);
        f->idp_refresh = strdup(rt);
    }
    return j;
}

