/*
 * The pieces of a console session the node computes itself: the session
 * token (an HS256 JWT under a key derived from AIHUB_SECRET_KEY, jti = the
 * session id), the one-time refresh token ("<sid>.<secret>", stored in Redis
 * only as its SHA-256), the CSRF token (an HMAC of the session id, so it
 * needs no storage and cannot be planted by another site), ids, and the
 * cookies that carry them. The session's life itself is in Redis (the
 * session_* scripts).
 */
#ifndef AH_AUTH_SESSION_H
#define AH_AUTH_SESSION_H

#include <stdint.h>
#include <h2o.h>
#include "node.h"

#define AH_SESSION_ISS "aihub"
#define AH_SESSION_AUD "aihub-session"
/** a refresh token replaced less than this long ago is answered "stale" (409), not treated as a reuse */
#define AH_REFRESH_GRACE_S 10
/** clock skew allowed on the node's own tokens (nodes' clocks differ a little) */
#define AH_SESSION_SKEW_S 5
/** characters of a session id: "ses_" and 24 random */
#define AH_SID_LEN 28
/** characters of a CSRF token */
#define AH_CSRF_LEN 43

/** a new session id (AH_SID_LEN characters and a NUL) */
void ah_session_new_id(char out[AH_SID_LEN + 1]);
/** 1 when s[0..len) looks like a session id (so it is safe in a Redis key name) */
int ah_session_is_id(const char *s, size_t len);
/** the session token for sid, valid from now for ttl seconds (caller frees) */
char *ah_session_token(const ah_node_t *node, const char *sid, const char *sub, int64_t now, int64_t ttl);
/**
 * Verifies a session token: 0 with the session id in sid; AH_JWT_EEXP when
 * it is only too old (sid is still filled: a logout may use it); another
 * AH_JWT_* error otherwise.
 */
int ah_session_verify(const ah_node_t *node, const char *token, size_t len, int64_t now, char sid[64]);

/** a new refresh token "<sid>.<secret>" into token (cap >= 96) and its SHA-256 hex into hash */
void ah_refresh_new(const char *sid, char *token, size_t cap, char hash[65]);
/** splits a presented refresh token: 0 with sid and the SHA-256 hex of the whole token, -1 when malformed */
int ah_refresh_parse(h2o_iovec_t token, char sid[64], char hash[65]);

/** the CSRF token bound to binding ("sid:<id>" or "header:<principal>") */
void ah_csrf_value(const ah_node_t *node, const char *binding, char out[AH_CSRF_LEN + 1]);
/** 1 when the request's X-CSRF-Token is the token bound to binding */
int ah_csrf_ok(h2o_req_t *req, const ah_node_t *node, const char *binding);

/** 32 hex characters naming one person's session index (ah:sess_idx:<phash>) */
void ah_principal_hash(const char *principal, char out[33]);

/** sets the session, refresh and CSRF cookies (refresh may be NULL to leave it) */
void ah_session_set_cookies(h2o_req_t *req, const ah_node_t *node, const char *token, const char *refresh, const char *sid);
/** clears the three cookies */
void ah_session_clear_cookies(h2o_req_t *req, const ah_node_t *node);
/** the cookie flags every console cookie gets (Secure when the public URL is https) */
int ah_session_cookie_secure(const ah_node_t *node);

#endif
