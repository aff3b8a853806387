/*
 * Session tokens, refresh tokens, CSRF tokens and cookies (see session.h).
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "aihub/base64.h"
#include "aihub/crypto.h"
#include "aihub/jwt.h"
#include "auth/auth.h"
#include "auth/cookies.h"
#include "auth/session.h"
#include "http/reply.h"

void ah_session_new_id(char out[AH_SID_LEN + 1])
{
    memcpy(out, "ses_", 4);
    if (ah_crypto_random_token(out + 4, AH_SID_LEN - 4) != 0)
        h2o_fatal("no randomness");
}

int ah_session_is_id(const char *s, size_t len)
{
    if (len < 8 || len > 63)
        return 0;
    for (size_t i = 0; i != len; ++i) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

char *ah_session_token(const ah_node_t *node, const char *sid, const char *sub, int64_t now, int64_t ttl)
{
    json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", AH_SESSION_ISS, "aud", AH_SESSION_AUD, "sub", sub, "jti", sid,
                               "iat", (json_int_t)now, "exp", (json_int_t)(now + ttl));
    char *token = ah_jwt_sign_hs256(claims, node->session_key, sizeof(node->session_key));
    json_decref(claims);
    return token;
}

int ah_session_verify(const ah_node_t *node, const char *token, size_t len, int64_t now, char sid[64])
{
    ah_jwt_t jwt;
    sid[0] = '\0';
    int rv = ah_jwt_parse(token, len, &jwt);
    if (rv == AH_JWT_OK)
        rv = ah_jwt_verify_hs256(&jwt, node->session_key, sizeof(node->session_key));
    if (rv == AH_JWT_OK) {
        json_t *jti = json_object_get(jwt.claims, "jti");
        if (!json_is_string(jti) || !ah_session_is_id(json_string_value(jti), json_string_length(jti))) {
            rv = AH_JWT_ECLAIM;
        } else {
            memcpy(sid, json_string_value(jti), json_string_length(jti) + 1);
            ah_jwt_expect_t e = {.iss = AH_SESSION_ISS, .aud = AH_SESSION_AUD, .now = now, .skew_s = AH_SESSION_SKEW_S, .require_iat = 1};
            rv = ah_jwt_check_claims(jwt.claims, &e);
            if (rv != AH_JWT_OK && rv != AH_JWT_EEXP)
                sid[0] = '\0';
        }
    }
    ah_jwt_clear(&jwt);
    return rv;
}

void ah_refresh_new(const char *sid, char *token, size_t cap, char hash[65])
{
    char secret[44];
    if (ah_crypto_random_token(secret, 43) != 0)
        h2o_fatal("no randomness");
    snprintf(token, cap, "%s.%s", sid, secret);
    ah_crypto_sha256_hex(token, strlen(token), hash);
    OPENSSL_cleanse(secret, sizeof(secret));
}

int ah_refresh_parse(h2o_iovec_t token, char sid[64], char hash[65])
{
    const char *dot = token.base != NULL ? memchr(token.base, '.', token.len) : NULL;
    if (dot == NULL || token.len > 160 || !ah_session_is_id(token.base, dot - token.base) || token.base + token.len - dot - 1 < 20)
        return -1;
    memcpy(sid, token.base, dot - token.base);
    sid[dot - token.base] = '\0';
    ah_crypto_sha256_hex(token.base, token.len, hash);
    return 0;
}

void ah_csrf_value(const ah_node_t *node, const char *binding, char out[AH_CSRF_LEN + 1])
{
    uint8_t mac[32];
    unsigned int len = sizeof(mac);
    char text[AH_BASE64_ENCODED_SIZE(32)];
    HMAC(EVP_sha256(), node->csrf_key, sizeof(node->csrf_key), (const unsigned char *)binding, strlen(binding), mac, &len);
    ah_base64url_encode(mac, sizeof(mac), text);
    memcpy(out, text, AH_CSRF_LEN);
    out[AH_CSRF_LEN] = '\0';
}

int ah_csrf_ok(h2o_req_t *req, const ah_node_t *node, const char *binding)
{
    char want[AH_CSRF_LEN + 1];
    ah_csrf_value(node, binding, want);
    h2o_iovec_t got = ah_req_header(req, "x-csrf-token");
    return got.len == AH_CSRF_LEN && CRYPTO_memcmp(got.base, want, AH_CSRF_LEN) == 0;
}

void ah_principal_hash(const char *principal, char out[33])
{
    char full[65];
    ah_crypto_sha256_hex(principal, strlen(principal), full);
    memcpy(out, full, 32);
    out[32] = '\0';
}

int ah_session_cookie_secure(const ah_node_t *node)
{
    return node->auth != NULL && node->auth->secure_cookies ? AH_COOKIE_SECURE : 0;
}

void ah_session_set_cookies(h2o_req_t *req, const ah_node_t *node, const char *token, const char *refresh, const char *sid)
{
    int secure = ah_session_cookie_secure(node);
    int64_t life = node->opts.session_max_s;
    char binding[80], csrf[AH_CSRF_LEN + 1];
    snprintf(binding, sizeof(binding), "sid:%s", sid);
    ah_csrf_value(node, binding, csrf);
    ah_cookie_set(req, AH_COOKIE_SESSION, token, "/", life, AH_COOKIE_HTTPONLY | AH_COOKIE_LAX | secure);
    if (refresh != NULL)
        ah_cookie_set(req, AH_COOKIE_REFRESH, refresh, "/auth/refresh", life, AH_COOKIE_HTTPONLY | AH_COOKIE_STRICT | secure);
    ah_cookie_set(req, AH_COOKIE_CSRF, csrf, "/", life, AH_COOKIE_LAX | secure);
    ah_reply_add_header(req, "cache-control", "no-store");
}

void ah_session_clear_cookies(h2o_req_t *req, const ah_node_t *node)
{
    int secure = ah_session_cookie_secure(node);
    ah_cookie_set(req, AH_COOKIE_SESSION, NULL, "/", 0, AH_COOKIE_HTTPONLY | AH_COOKIE_LAX | secure);
    ah_cookie_set(req, AH_COOKIE_REFRESH, NULL, "/auth/refresh", 0, AH_COOKIE_HTTPONLY | AH_COOKIE_STRICT | secure);
    ah_cookie_set(req, AH_COOKIE_CSRF, NULL, "/", 0, AH_COOKIE_LAX | secure);
    ah_reply_add_header(req, "cache-control", "no-store");
}
