/*
 * jwt.h: compact JWS (RFC 7515) parsing and verification for OpenID Connect
 * ID tokens and the node's own session tokens, on OpenSSL 3.
 *
 * Verification is split in two: the signature (ah_jwt_verify_jwks for ID
 * tokens: RS256 or ES256 against a key set, never "none" and never an HMAC
 * algorithm; ah_jwt_verify_hs256 for session tokens under the node's own
 * key), then the claims (ah_jwt_check_claims: iss, aud, azp, exp, nbf, iat
 * with a clock skew, nonce). A token must pass both. Everything is strict:
 * base64url without padding, JSON objects without duplicate members, a
 * "crit" header is refused (no extension is understood), and a key set's
 * keys that cannot be used for signatures (encryption keys, other curves,
 * RSA keys under 2048 bits, symmetric keys) are dropped when it is parsed.
 *
 * A key set is immutable once parsed and may be shared by threads.
 */
#ifndef AIHUB_JWT_H
#define AIHUB_JWT_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/** Errors (negative); ah_jwt_strerror names them. */
enum {
    AH_JWT_OK = 0,
    /** not three base64url parts of JSON objects, or a "crit" header */
    AH_JWT_EFORMAT = -1,
    /** the algorithm is refused here (none, HMAC for an ID token, unsupported, or not the key's type) */
    AH_JWT_EALG = -2,
    /** no usable key has the token's kid (or the token has no kid and the choice is ambiguous) */
    AH_JWT_EKID = -3,
    /** the signature does not verify */
    AH_JWT_ESIG = -4,
    /** iss is not the expected issuer */
    AH_JWT_EISS = -5,
    /** aud does not contain the client, or azp is missing or wrong */
    AH_JWT_EAUD = -6,
    /** exp has passed (beyond the skew) */
    AH_JWT_EEXP = -7,
    /** nbf is in the future (beyond the skew) */
    AH_JWT_ENBF = -8,
    /** iat is in the future (beyond the skew) */
    AH_JWT_EIAT = -9,
    /** nonce is missing or not the expected one */
    AH_JWT_ENONCE = -10,
    /** a required claim is missing or has the wrong type */
    AH_JWT_ECLAIM = -11,
};

/** Signature algorithms this library knows. */
typedef enum en_ah_jwt_alg_t { AH_JWT_ALG_OTHER = 0, AH_JWT_ALG_RS256, AH_JWT_ALG_ES256, AH_JWT_ALG_HS256 } ah_jwt_alg_t;

/** A parsed (not yet verified) token; fields owned by it, released by ah_jwt_clear. */
typedef struct st_ah_jwt_t {
    /** the header's alg (AH_JWT_ALG_OTHER for none and anything unknown) */
    ah_jwt_alg_t alg;
    /** the header's kid, or "" when absent */
    char kid[128];
    /** the decoded header */
    json_t *header;
    /** the decoded payload (the claims) */
    json_t *claims;
    /** "<header>.<payload>" as received: what the signature covers */
    char *signing_input;
    size_t signing_input_len;
    /** the decoded signature */
    uint8_t *sig;
    size_t siglen;
} ah_jwt_t;

/** An immutable set of verification keys from a JWKS document. */
typedef struct st_ah_jwks_t ah_jwks_t;

/** What ah_jwt_check_claims expects; NULL fields are not checked. */
typedef struct st_ah_jwt_expect_t {
    /** required value of iss */
    const char *iss;
    /** required member of aud (a string or an array); with several audiences azp must be present and equal to it */
    const char *aud;
    /** required value of nonce */
    const char *nonce;
    /** the current time, unix seconds */
    int64_t now;
    /** clock skew allowed on exp, nbf and iat, seconds */
    int64_t skew_s;
    /** 1: iat must be present */
    int require_iat;
} ah_jwt_expect_t;

/** A short English name of an error code ("signature does not verify"). */
const char *ah_jwt_strerror(int err);

/** Parses token[0..len) into out (zeroed first); 0, or AH_JWT_EFORMAT with out cleared. */
int ah_jwt_parse(const char *token, size_t len, ah_jwt_t *out);
/** Releases what ah_jwt_parse allocated; safe on a zeroed or already cleared struct. */
void ah_jwt_clear(ah_jwt_t *jwt);

/**
 * Parses a JWKS document ({"keys": [...]}); keys that cannot verify RS256 or
 * ES256 signatures are skipped. NULL (with a message in err) when the
 * document is not a JWKS; caller frees with ah_jwks_free.
 */
ah_jwks_t *ah_jwks_parse(const char *json, size_t len, char *err, size_t errcap);
/** Frees a key set and sets *jwks to NULL. */
void ah_jwks_free(ah_jwks_t **jwks);
/** Number of usable keys. */
size_t ah_jwks_count(const ah_jwks_t *jwks);
/** 1 when a usable key has this kid. */
int ah_jwks_has_kid(const ah_jwks_t *jwks, const char *kid);

/**
 * Verifies an ID token's signature: RS256 or ES256 only, with the key named
 * by kid (a token without kid is accepted only when the set has exactly one
 * key of the algorithm's type). 0, AH_JWT_EALG, AH_JWT_EKID or AH_JWT_ESIG.
 */
int ah_jwt_verify_jwks(const ah_jwt_t *jwt, const ah_jwks_t *jwks);
/** Verifies an HS256 signature under key[0..len); 0, AH_JWT_EALG (another alg) or AH_JWT_ESIG. */
int ah_jwt_verify_hs256(const ah_jwt_t *jwt, const uint8_t *key, size_t len);
/** Checks the registered claims as e asks (exp is always required); 0 or the first failing check's error. */
int ah_jwt_check_claims(const json_t *claims, const ah_jwt_expect_t *e);

/**
 * Signs claims (an object, serialised compactly in its own member order) as
 * an HS256 JWS with header {"alg":"HS256","typ":"JWT"}; returns the
 * NUL-terminated token (caller frees), or NULL when claims is not an object.
 */
char *ah_jwt_sign_hs256(const json_t *claims, const uint8_t *key, size_t len);

#endif
