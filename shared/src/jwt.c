/*
 * jwt.c: compact JWS parsing, RS256/ES256/HS256 verification, claim checks
 * and HS256 signing on OpenSSL 3 (see aihub/jwt.h).
 *
 * Keys come from JWK members with the EVP "fromdata" API: RSA from n and e,
 * EC P-256 from x and y (the point is checked to be on the curve). An ES256
 * signature is the raw r || s of RFC 7518 §3.4 (64 bytes); OpenSSL wants DER,
 * so it is re-encoded before verification. HMAC comparisons take constant
 * time. Nothing here keeps global state.
 */
#include "aihub/jwt.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#include "aihub/base64.h"
#include "aihub/mem.h"

/** Longest token accepted, in bytes: ID tokens with many group claims stay far below. */
#define MAX_TOKEN 65536
/** Most keys kept from one JWKS document. */
#define MAX_KEYS 32
#define MIN_RSA_BITS 2048

typedef struct st_jwk_t {
    char kid[128];
    ah_jwt_alg_t alg; /* AH_JWT_ALG_RS256 (RSA key) or AH_JWT_ALG_ES256 (P-256 key) */
    EVP_PKEY *pkey;
} jwk_t;

struct st_ah_jwks_t {
    size_t n;
    jwk_t keys[MAX_KEYS];
};

const char *ah_jwt_strerror(int err)
{
    switch (err) {
    case AH_JWT_OK: return "ok";
    case AH_JWT_EFORMAT: return "malformed token";
    case AH_JWT_EALG: return "signature algorithm refused";
    case AH_JWT_EKID: return "no usable key for the token's kid";
    case AH_JWT_ESIG: return "signature does not verify";
    case AH_JWT_EISS: return "wrong issuer";
    case AH_JWT_EAUD: return "wrong audience";
    case AH_JWT_EEXP: return "token expired";
    case AH_JWT_ENBF: return "token not yet valid";
    case AH_JWT_EIAT: return "token issued in the future";
    case AH_JWT_ENONCE: return "wrong or missing nonce";
    case AH_JWT_ECLAIM: return "required claim missing or malformed";
    default: return "unknown error";
    }
}

/* ---- base64url (strict: RFC 7515 §2, no padding, URL alphabet only) ---- */

static int is_b64url(const char *s, size_t n)
{
    if (n % 4 == 1)
        return 0;
    for (size_t i = 0; i != n; ++i) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* decodes s[0..n) into a new buffer (NUL-terminated for convenience); NULL if not strict base64url */
static uint8_t *b64url_decode(const char *s, size_t n, size_t *outlen)
{
    if (!is_b64url(s, n))
        return NULL;
    size_t cap = AH_BASE64_DECODED_MAX(n) + 1;
    uint8_t *out = ah_mem_alloc(cap);
    if (ah_base64_decode(s, n, out, cap, outlen) != 0) {
        free(out);
        return NULL;
    }
    out[*outlen] = '\0';
    return out;
}

static char *b64url_encode(const uint8_t *in, size_t len)
{
    char *out = ah_mem_alloc(AH_BASE64_ENCODED_SIZE(len));
    ah_base64url_encode(in, len, out);
    return out;
}

/* a base64url part holding a JSON object (no duplicate members); NULL otherwise */
static json_t *decode_object(const char *s, size_t n)
{
    size_t len;
    uint8_t *raw = b64url_decode(s, n, &len);
    if (raw == NULL)
        return NULL;
    json_error_t jerr;
    json_t *v = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, &jerr);
    free(raw);
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* ---- parsing ---- */

void ah_jwt_clear(ah_jwt_t *jwt)
{
    json_decref(jwt->header);
    json_decref(jwt->claims);
    free(jwt->signing_input);
    free(jwt->sig);
    memset(jwt, 0, sizeof(*jwt));
}

int ah_jwt_parse(const char *token, size_t len, ah_jwt_t *out)
{
    memset(out, 0, sizeof(*out));
    if (token == NULL || len == 0 || len > MAX_TOKEN)
        return AH_JWT_EFORMAT;
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', token + len - d1 - 1) : NULL;
    if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', token + len - d2 - 1) != NULL || d1 == token || d2 == d1 + 1)
        return AH_JWT_EFORMAT;
    out->header = decode_object(token, d1 - token);
    out->claims = decode_object(d1 + 1, d2 - d1 - 1);
    size_t slen = token + len - d2 - 1;
    out->sig = b64url_decode(d2 + 1, slen, &out->siglen);
    if (out->header == NULL || out->claims == NULL || out->sig == NULL)
        goto bad;
    /* no extension is understood, so a critical one must be refused (RFC 7515 §4.1.11) */
    if (json_object_get(out->header, "crit") != NULL)
        goto bad;
    const char *alg = json_string_value(json_object_get(out->header, "alg"));
    if (alg == NULL)
        goto bad;
    out->alg = strcmp(alg, "RS256") == 0 ? AH_JWT_ALG_RS256
               : strcmp(alg, "ES256") == 0 ? AH_JWT_ALG_ES256
               : strcmp(alg, "HS256") == 0 ? AH_JWT_ALG_HS256
                                           : AH_JWT_ALG_OTHER;
    json_t *kid = json_object_get(out->header, "kid");
    if (kid != NULL) {
        if (!json_is_string(kid) || json_string_length(kid) == 0 || json_string_length(kid) >= sizeof(out->kid))
            goto bad;
        memcpy(out->kid, json_string_value(kid), json_string_length(kid) + 1);
    }
    out->signing_input_len = d2 - token;
    out->signing_input = ah_mem_alloc(out->signing_input_len + 1);
    memcpy(out->signing_input, token, out->signing_input_len);
    out->signing_input[out->signing_input_len] = '\0';
    return AH_JWT_OK;
bad:
    ah_jwt_clear(out);
    return AH_JWT_EFORMAT;
}

/* ---- key sets ---- */

/* a base64url member decoded into a BIGNUM (NULL if absent or malformed); its byte length in *nbytes */
static BIGNUM *member_bn(json_t *jwk, const char *name, size_t *nbytes)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    if (s == NULL)
        return NULL;
    size_t len;
    uint8_t *raw = b64url_decode(s, strlen(s), &len);
    if (raw == NULL || len == 0) {
        free(raw);
        return NULL;
    }
    BIGNUM *bn = BN_bin2bn(raw, (int)len, NULL);
    free(raw);
    if (nbytes != NULL)
        *nbytes = len;
    return bn;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    if (pkey != NULL) {
        /* for EC this checks that the point is on the curve */
        EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        int good = check != NULL && EVP_PKEY_public_check(check) == 1;
        EVP_PKEY_CTX_free(check);
        if (!good) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    }
    return pkey;
}

static EVP_PKEY *rsa_key(json_t *jwk)
{
    BIGNUM *n = member_bn(jwk, "n", NULL), *e = member_bn(jwk, "e", NULL);
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (n != NULL && e != NULL && bld != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        pkey = pkey_fromdata("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    if (pkey != NULL && EVP_PKEY_get_bits(pkey) < MIN_RSA_BITS) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

static EVP_PKEY *ec_key(json_t *jwk)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv")), *xs = json_string_value(json_object_get(jwk, "x")),
               *ys = json_string_value(json_object_get(jwk, "y"));
    if (crv == NULL || strcmp(crv, "P-256") != 0 || xs == NULL || ys == NULL)
        return NULL;
    size_t xl = 0, yl = 0;
    uint8_t *x = b64url_decode(xs, strlen(xs), &xl), *y = b64url_decode(ys, strlen(ys), &yl);
    EVP_PKEY *pkey = NULL;
    if (x != NULL && y != NULL && xl == 32 && yl == 32) {
        uint8_t point[65];
        point[0] = 0x04; /* uncompressed */
        memcpy(point + 1, x, 32);
        memcpy(point + 33, y, 32);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bld != NULL && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
            pkey = pkey_fromdata("EC", bld);
        OSSL_PARAM_BLD_free(bld);
    }
    free(x);
    free(y);
    return pkey;
}

/* 1 when the JWK may verify signatures with alg (its optional use, key_ops and alg members agree) */
static int jwk_usable_for(json_t *jwk, const char *alg)
{
    const char *use = json_string_value(json_object_get(jwk, "use"));
    if (json_object_get(jwk, "use") != NULL && (use == NULL || strcmp(use, "sig") != 0))
        return 0;
    json_t *ops = json_object_get(jwk, "key_ops");
    if (ops != NULL) {
        size_t i;
        json_t *op;
        int verify = 0;
        json_array_foreach(ops, i, op)
        {
            if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
                verify = 1;
        }
        if (!verify)
            return 0;
    }
    json_t *a = json_object_get(jwk, "alg");
    return a == NULL || (json_is_string(a) && strcmp(json_string_value(a), alg) == 0);
}

ah_jwks_t *ah_jwks_parse(const char *json, size_t len, char *err, size_t errcap)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, 0, &jerr), *keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        snprintf(err, errcap, "not a JWKS document (no \"keys\" array)");
        json_decref(doc);
        return NULL;
    }
    ah_jwks_t *set = calloc(1, sizeof(*set));
    if (set == NULL)
        abort();
    size_t i;
    json_t *jwk;
    json_array_foreach(keys, i, jwk)
    {
        if (set->n == MAX_KEYS)
            break;
        const char *kty = json_string_value(json_object_get(jwk, "kty"));
        json_t *kid = json_object_get(jwk, "kid");
        if (kty == NULL || (kid != NULL && (!json_is_string(kid) || json_string_length(kid) >= sizeof(set->keys[0].kid))))
            continue;
        jwk_t *k = &set->keys[set->n];
        if (strcmp(kty, "RSA") == 0 && jwk_usable_for(jwk, "RS256")) {
            k->alg = AH_JWT_ALG_RS256;
            k->pkey = rsa_key(jwk);
        } else if (strcmp(kty, "EC") == 0 && jwk_usable_for(jwk, "ES256")) {
            k->alg = AH_JWT_ALG_ES256;
            k->pkey = ec_key(jwk);
        }
        if (k->pkey == NULL)
            continue; /* symmetric, encryption, unsupported or malformed keys are not kept */
        snprintf(k->kid, sizeof(k->kid), "%s", kid != NULL ? json_string_value(kid) : "");
        ++set->n;
    }
    json_decref(doc);
    return set;
}

void ah_jwks_free(ah_jwks_t **jwks)
{
    if (*jwks == NULL)
        return;
    for (size_t i = 0; i != (*jwks)->n; ++i)
        EVP_PKEY_free((*jwks)->keys[i].pkey);
    free(*jwks);
    *jwks = NULL;
}

size_t ah_jwks_count(const ah_jwks_t *jwks)
{
    return jwks != NULL ? jwks->n : 0;
}

int ah_jwks_has_kid(const ah_jwks_t *jwks, const char *kid)
{
    for (size_t i = 0; jwks != NULL && i != jwks->n; ++i)
        if (strcmp(jwks->keys[i].kid, kid) == 0)
            return 1;
    return 0;
}

/* ---- signatures ---- */

static int digest_verify(EVP_PKEY *pkey, const uint8_t *sig, size_t siglen, const char *data, size_t len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int good = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
               EVP_DigestVerify(md, sig, siglen, (const unsigned char *)data, len) == 1;
    EVP_MD_CTX_free(md);
    return good;
}

/* raw r || s (32 + 32 bytes) to DER; the DER buffer is allocated by OpenSSL */
static int es256_to_der(const uint8_t *raw, unsigned char **der)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return -1;
    }
    *der = NULL;
    int len = i2d_ECDSA_SIG(sig, der);
    ECDSA_SIG_free(sig);
    return len;
}

int ah_jwt_verify_jwks(const ah_jwt_t *jwt, const ah_jwks_t *jwks)
{
    if (jwt->alg != AH_JWT_ALG_RS256 && jwt->alg != AH_JWT_ALG_ES256)
        return AH_JWT_EALG;
    const jwk_t *key = NULL;
    int other_type = 0, candidates = 0;
    for (size_t i = 0; jwks != NULL && i != jwks->n; ++i) {
        const jwk_t *k = &jwks->keys[i];
        if (jwt->kid[0] != '\0') {
            if (strcmp(k->kid, jwt->kid) != 0)
                continue;
            if (k->alg != jwt->alg) {
                other_type = 1;
                continue;
            }
            key = k;
            break;
        }
        if (k->alg == jwt->alg) {
            key = k;
            ++candidates;
        }
    }
    if (key == NULL)
        return other_type ? AH_JWT_EALG : AH_JWT_EKID;
    if (jwt->kid[0] == '\0' && candidates != 1)
        return AH_JWT_EKID;
    if (jwt->alg == AH_JWT_ALG_RS256)
        return digest_verify(key->pkey, jwt->sig, jwt->siglen, jwt->signing_input, jwt->signing_input_len) ? AH_JWT_OK : AH_JWT_ESIG;
    if (jwt->siglen != 64)
        return AH_JWT_ESIG;
    unsigned char *der = NULL;
    int dlen = es256_to_der(jwt->sig, &der);
    int good = dlen > 0 && digest_verify(key->pkey, der, (size_t)dlen, jwt->signing_input, jwt->signing_input_len);
    OPENSSL_free(der);
    return good ? AH_JWT_OK : AH_JWT_ESIG;
}

static void hmac_sha256(const uint8_t *key, size_t keylen, const void *data, size_t len, uint8_t out[32])
{
    unsigned int outlen = 32;
    if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) == NULL)
        abort();
}

int ah_jwt_verify_hs256(const ah_jwt_t *jwt, const uint8_t *key, size_t len)
{
    if (jwt->alg != AH_JWT_ALG_HS256)
        return AH_JWT_EALG;
    uint8_t mac[32];
    hmac_sha256(key, len, jwt->signing_input, jwt->signing_input_len, mac);
    int good = jwt->siglen == 32 && CRYPTO_memcmp(mac, jwt->sig, 32) == 0;
    OPENSSL_cleanse(mac, sizeof(mac));
    return good ? AH_JWT_OK : AH_JWT_ESIG;
}

/* ---- claims ---- */

/* a NumericDate claim: 1 when present and a number (value in *out), 0 when absent, -1 when malformed */
static int numeric_date(const json_t *claims, const char *name, int64_t *out)
{
    json_t *v = json_object_get(claims, name);
    if (v == NULL)
        return 0;
    if (!json_is_number(v))
        return -1;
    double d = json_number_value(v);
    if (d < 0 || d > 253402300799.0)
        return -1;
    *out = (int64_t)d;
    return 1;
}

static int str_eq(json_t *v, const char *want)
{
    return json_is_string(v) && json_string_length(v) == strlen(want) &&
           CRYPTO_memcmp(json_string_value(v), want, json_string_length(v)) == 0;
}

static int check_aud(const json_t *claims, const char *aud)
{
    json_t *v = json_object_get(claims, "aud"), *azp = json_object_get(claims, "azp");
    size_t n = 1;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        int found = 0;
        n = json_array_size(v);
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e))
                return AH_JWT_EAUD;
            if (str_eq(e, aud))
                found = 1;
        }
        if (!found)
            return AH_JWT_EAUD;
    } else if (!str_eq(v, aud)) {
        return AH_JWT_EAUD;
    }
    /* OpenID Connect Core §3.1.3.7: with several audiences azp names the client; when present it must be us */
    if ((n > 1 || azp != NULL) && !str_eq(azp, aud))
        return AH_JWT_EAUD;
    return AH_JWT_OK;
}

int ah_jwt_check_claims(const json_t *claims, const ah_jwt_expect_t *e)
{
    int64_t exp = 0, nbf = 0, iat = 0;
    int has;
    if (!json_is_object(claims))
        return AH_JWT_ECLAIM;
    if (e->iss != NULL && !str_eq(json_object_get(claims, "iss"), e->iss))
        return AH_JWT_EISS;
    if (e->aud != NULL) {
        int rv = check_aud(claims, e->aud);
        if (rv != AH_JWT_OK)
            return rv;
    }
    if ((has = numeric_date(claims, "exp", &exp)) != 1)
        return AH_JWT_ECLAIM;
    if (e->now >= exp + e->skew_s)
        return AH_JWT_EEXP;
    if ((has = numeric_date(claims, "nbf", &nbf)) < 0)
        return AH_JWT_ECLAIM;
    if (has && nbf > e->now + e->skew_s)
        return AH_JWT_ENBF;
    if ((has = numeric_date(claims, "iat", &iat)) < 0 || (has == 0 && e->require_iat))
        return AH_JWT_ECLAIM;
    if (has && iat > e->now + e->skew_s)
        return AH_JWT_EIAT;
    if (e->nonce != NULL && !str_eq(json_object_get(claims, "nonce"), e->nonce))
        return AH_JWT_ENONCE;
    return AH_JWT_OK;
}

/* ---- signing ---- */

char *ah_jwt_sign_hs256(const json_t *claims, const uint8_t *key, size_t len)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    if (!json_is_object(claims))
        return NULL;
    char *payload = json_dumps(claims, JSON_COMPACT);
    if (payload == NULL)
        return NULL;
    char *h = b64url_encode((const uint8_t *)header, sizeof(header) - 1), *p = b64url_encode((const uint8_t *)payload, strlen(payload));
    free(payload);
    size_t hl = strlen(h), pl = strlen(p);
    char *token = ah_mem_alloc(hl + 1 + pl + 1 + AH_BASE64_ENCODED_SIZE(32));
    memcpy(token, h, hl);
    token[hl] = '.';
    memcpy(token + hl + 1, p, pl);
    free(h);
    free(p);
    uint8_t mac[32];
    hmac_sha256(key, len, token, hl + 1 + pl, mac);
    token[hl + 1 + pl] = '.';
    ah_base64url_encode(mac, sizeof(mac), token + hl + 1 + pl + 1);
    return token;
}
