/*
 * The OpenID Provider as the node sees it: its discovery document and its
 * key set, fetched asynchronously on a worker's curl loop and cached for the
 * whole process (any worker may refresh them; readers take references), ID
 * token verification against them, and calls to its token and userinfo
 * endpoints with the node's client credentials.
 *
 * The key set is fetched when first needed, again when an ID token names a
 * kid it does not hold (at most once per AIHUB_OIDC_JWKS_MIN_REFRESH_S, so a
 * stream of forged kids cannot make the node hammer the provider), and when
 * it is older than an hour. Rotation at the provider therefore needs no
 * restart. The discovery document is refetched in the background after an
 * hour; a failed refetch keeps the old one.
 */
#ifndef AH_AUTH_OIDC_H
#define AH_AUTH_OIDC_H

#include <jansson.h>
#include "auth/fetch.h"
#include "node.h"

/** clock skew allowed on ID tokens, seconds */
#define AH_OIDC_SKEW_S 60

typedef struct st_ah_oidc_t ah_oidc_t;

/** what the node uses of the discovery document (immutable; shared by reference) */
typedef struct st_ah_oidc_meta_t {
    char *issuer;
    char *authorization_endpoint;
    char *token_endpoint;
    char *jwks_uri;
    char *userinfo_endpoint;    /**< NULL when the provider has none */
    char *end_session_endpoint; /**< NULL when the provider has none */
    int client_secret_post;     /**< the provider takes the client secret in the form, not HTTP Basic */
} ah_oidc_meta_t;

/** the provider cache for node's settings (never freed: it lives as long as the process) */
ah_oidc_t *ah_oidc_create(ah_node_t *node);

/** completion of ah_oidc_meta: a reference to release with ah_oidc_meta_release, or NULL and a reason */
typedef void (*ah_oidc_meta_cb)(void *ud, const ah_oidc_meta_t *meta, const char *err);
/** the discovery document, from the cache or fetched; cb runs exactly once, possibly before this returns */
void ah_oidc_meta(ah_worker_t *w, ah_oidc_meta_cb cb, void *ud);
/** the cached document (a reference) or NULL; fetches nothing */
const ah_oidc_meta_t *ah_oidc_meta_cached(ah_oidc_t *o);
void ah_oidc_meta_release(const ah_oidc_meta_t *meta);
/** parses and checks a discovery document against the configured issuer (exported for tests); NULL with a reason */
ah_oidc_meta_t *ah_oidc_meta_parse(const char *json, size_t len, const char *issuer, char *err, size_t errcap);

/**
 * Completion of ah_oidc_verify_id_token: rv is 0 or an AH_JWT_* error, why a
 * short reason when rv != 0, claims a new reference the callee owns when
 * rv == 0 (else NULL).
 */
typedef void (*ah_oidc_verify_cb)(void *ud, int rv, json_t *claims, const char *why);
/**
 * Verifies an ID token: RS256 or ES256 with a key of the provider's key set
 * (refetched as described above), then iss = meta->issuer, aud (and azp) =
 * the client id, exp, nbf and iat within AH_OIDC_SKEW_S, and nonce when it is
 * not NULL. cb runs exactly once, possibly before this returns.
 */
void ah_oidc_verify_id_token(ah_worker_t *w, const ah_oidc_meta_t *meta, const char *token, const char *nonce, ah_oidc_verify_cb cb,
                             void *ud);

/** POSTs form (url-encoded grant parameters) to the token endpoint with the client's credentials; as ah_fetch */
int ah_oidc_token_request(ah_worker_t *w, const ah_oidc_meta_t *meta, const char *form, ah_fetch_cb cb, void *ud);
/** GETs the userinfo endpoint with an access token; as ah_fetch (-1 when the provider has none) */
int ah_oidc_userinfo(ah_worker_t *w, const ah_oidc_meta_t *meta, const char *access_token, ah_fetch_cb cb, void *ud);
/** s percent-encoded for a query or form (caller frees) */
char *ah_oidc_escape(const char *s);

#endif
