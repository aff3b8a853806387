/*
 * What the sign-in endpoints share (handler/auth.c: /auth/login and
 * /auth/callback; handler/auth_refresh.c: /auth/refresh and /auth/logout).
 * Each request is a chain of asynchronous steps (discovery, the token
 * endpoint, the key set, userinfo, a session script) over one ah_flow_t,
 * freed by whichever step replies. The client may leave at any step: the
 * next step sees super.req == NULL and only frees (ah_flow_alive).
 */
#ifndef AH_HANDLER_AUTH_FLOW_H
#define AH_HANDLER_AUTH_FLOW_H

#include <jansson.h>
#include "auth/fetch.h"
#include "auth/oidc.h"
#include "auth/roles.h"
#include "handler/auth_util.h"
#include "http/async.h"
#include "node.h"

/** one sign-in, refresh or logout in flight */
typedef struct st_ah_flow_t {
    ah_async_t super;
    ah_worker_t *w;
    const ah_oidc_meta_t *meta; /* a reference, or NULL */
    char next[AH_AUTH_NEXT_MAX + 1];
    char state[44], nonce[44], verifier[72];
    char login_cookie[64];       /* the sign-in cookie to clear */
    char *access_token;          /* the provider's, from its token endpoint */
    char *idp_refresh;           /* the provider's refresh token (plain), when it gave one */
    json_t *claims;              /* the verified ID token's claims, merged with userinfo */
    ah_role_t role;
    int fresh;                   /* claims came from the provider just now (refresh: else the role is kept) */
    int role_known;              /* refresh: the role was recomputed from fresh claims */
    char new_refresh[128];       /* the node's next refresh token: the cookie's value */
    char sid[64], rt_hash[65];   /* refresh: the session and the presented token's hash */
    char sub[256];               /* refresh: the session's subject */
    char *sealed_idp;            /* refresh: the stored provider refresh token, sealed */
    char *new_sealed_idp;        /* the provider's new refresh token, sealed for storage ("" = keep) */
} ah_flow_t;

/** a new flow tied to req */
ah_flow_t *ah_flow_new(h2o_req_t *req);
/** frees the flow (secrets wiped, the provider document released) */
void ah_flow_free(ah_flow_t *f);
/** replies an error (if the client is still there; clears the sign-in cookie if set) and frees the flow */
void ah_flow_fail(ah_flow_t *f, int status, const char *code, const char *msg);
/** 1 when the flow should go on; 0 when the client left (the flow is then freed) */
int ah_flow_alive(ah_flow_t *f);
/**
 * The provider's document arrived (meta, or NULL and err): keeps it in f and
 * returns 1 when the flow goes on; 0 when the client left or the document
 * could not be had (the flow is then answered 502 and freed).
 */
int ah_flow_with_meta(ah_flow_t *f, const ah_oidc_meta_t *meta, const char *err);
/** text sealed under the node's seal key (caller frees) */
char *ah_flow_seal(const ah_node_t *node, const char *text);
/** merges a userinfo answer into f->claims when it is for the same subject; 1 when it was */
int ah_flow_merge_userinfo(ah_flow_t *f, long status, const char *body, size_t len);
/** next(f) once the groups are known: at once when the claims have them, else after asking userinfo (userinfo_cb) */
void ah_flow_with_claims(ah_flow_t *f, void (*next)(ah_flow_t *), ah_fetch_cb userinfo_cb);
/** the token endpoint's JSON answer (caller owns; access and refresh tokens copied into f), or NULL after failing the flow */
json_t *ah_flow_token_reply(ah_flow_t *f, long status, const char *body, size_t len, const char *err);

#endif
