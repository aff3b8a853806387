/*
 * test_jwt.c: unit tests for aihub/jwt.h against tokens made by Node's own
 * crypto (fixtures/jwt/fixtures.json, written by make-fixtures.mjs): every
 * case is parsed, its signature verified (ID-token mode against the JWKS, or
 * HS256 under the fixture key) and its claims checked at the fixture's time;
 * the outcome must be the one the fixture names. Plus the key set's filtering,
 * HS256 signing byte for byte against Node, and claim edge cases built here.
 *
 * Usage: shared_test_jwt <fixtures dir>
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aihub/base64.h"
#include "aihub/jwt.h"
#include "tap.h"

static json_t *fx;
static ah_jwks_t *jwks, *single;
static uint8_t hs_key[32];

static const char *outcome_name(int rv)
{
    switch (rv) {
    case AH_JWT_OK: return "ok";
    case AH_JWT_EFORMAT: return "format";
    case AH_JWT_EALG: return "alg";
    case AH_JWT_EKID: return "kid";
    case AH_JWT_ESIG: return "sig";
    case AH_JWT_EISS: return "iss";
    case AH_JWT_EAUD: return "aud";
    case AH_JWT_EEXP: return "exp";
    case AH_JWT_ENBF: return "nbf";
    case AH_JWT_EIAT: return "iat";
    case AH_JWT_ENONCE: return "nonce";
    case AH_JWT_ECLAIM: return "claim";
    default: return "?";
    }
}

static ah_jwt_expect_t expect(void)
{
    return (ah_jwt_expect_t){.iss = json_string_value(json_object_get(fx, "iss")),
                             .aud = json_string_value(json_object_get(fx, "aud")),
                             .nonce = json_string_value(json_object_get(fx, "nonce")),
                             .now = json_integer_value(json_object_get(fx, "now")),
                             .skew_s = json_integer_value(json_object_get(fx, "skew")),
                             .require_iat = 1};
}

/* the whole check an ID token (or session token) goes through */
static int run_case(const char *token, const char *mode)
{
    ah_jwt_t jwt;
    int rv = ah_jwt_parse(token, strlen(token), &jwt);
    if (rv != AH_JWT_OK)
        return rv;
    if (strcmp(mode, "hs") == 0)
        rv = ah_jwt_verify_hs256(&jwt, hs_key, sizeof(hs_key));
    else
        rv = ah_jwt_verify_jwks(&jwt, strcmp(mode, "single") == 0 ? single : jwks);
    if (rv == AH_JWT_OK) {
        ah_jwt_expect_t e = expect();
        rv = ah_jwt_check_claims(jwt.claims, &e);
    }
    ah_jwt_clear(&jwt);
    return rv;
}

static void test_fixture_cases(void)
{
    json_t *cases = json_object_get(fx, "cases"), *c;
    size_t i;
    int seen_ok = 0, seen_bad = 0;
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name")), *token = json_string_value(json_object_get(c, "token")),
                   *want = json_string_value(json_object_get(c, "expect")), *mode = json_string_value(json_object_get(c, "mode"));
        int rv = run_case(token, mode);
        char label[256];
        snprintf(label, sizeof(label), "%s -> %s", name, want);
        is_str(outcome_name(rv), want, label);
        if (strcmp(want, "ok") == 0)
            ++seen_ok;
        else
            ++seen_bad;
    }
    ok(seen_ok >= 5 && seen_bad >= 40, "the fixtures hold good and bad cases");
}

static void test_jwks_filtering(void)
{
    is_int(ah_jwks_count(jwks), 3, "only the usable keys are kept (RSA 2048, RSA 4096, EC P-256)");
    json_t *kids = json_object_get(fx, "usable_kids"), *k;
    size_t i;
    json_array_foreach(kids, i, k)
    {
        char label[128];
        snprintf(label, sizeof(label), "kid %s kept", json_string_value(k));
        ok(ah_jwks_has_kid(jwks, json_string_value(k)), label);
    }
    const char *dropped[] = {"rsa-weak", "rsa-enc", "ec-384", "hmac-1", "rsa-broken"};
    for (size_t j = 0; j != sizeof(dropped) / sizeof(dropped[0]); ++j) {
        char label[128];
        snprintf(label, sizeof(label), "kid %s dropped", dropped[j]);
        ok(!ah_jwks_has_kid(jwks, dropped[j]), label);
    }
    char err[128];
    ok(ah_jwks_parse("{\"kids\":[]}", 11, err, sizeof(err)) == NULL, "a document without keys is refused");
    ok(ah_jwks_parse("[1,2]", 5, err, sizeof(err)) == NULL, "an array is refused");
    ah_jwks_t *empty = ah_jwks_parse("{\"keys\":[]}", 11, err, sizeof(err));
    ok(empty != NULL && ah_jwks_count(empty) == 0, "an empty key set parses");
    ah_jwks_free(&empty);
    ok(empty == NULL, "free leaves NULL");
    /* an EC point off the curve */
    const char *off = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"bad\",\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                      "\"y\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}";
    ah_jwks_t *offcurve = ah_jwks_parse(off, strlen(off), err, sizeof(err));
    ok(offcurve != NULL && ah_jwks_count(offcurve) == 0, "an EC key off the curve is dropped");
    ah_jwks_free(&offcurve);
}

static void test_sign(void)
{
    const char *want = json_string_value(json_object_get(fx, "sign_expected"));
    char *token = ah_jwt_sign_hs256(json_object_get(fx, "sign_claims"), hs_key, sizeof(hs_key));
    is_str(token, want, "HS256 signing matches Node byte for byte");
    ah_jwt_t jwt;
    ok(ah_jwt_parse(token, strlen(token), &jwt) == AH_JWT_OK && jwt.alg == AH_JWT_ALG_HS256, "own token parses");
    is_int(ah_jwt_verify_hs256(&jwt, hs_key, sizeof(hs_key)), AH_JWT_OK, "own token verifies");
    uint8_t other[32];
    memcpy(other, hs_key, 32);
    other[0] ^= 1;
    is_int(ah_jwt_verify_hs256(&jwt, other, sizeof(other)), AH_JWT_ESIG, "own token under another key fails");
    is_int(ah_jwt_verify_jwks(&jwt, jwks), AH_JWT_EALG, "own HS256 token is never accepted as an ID token");
    is_str(json_string_value(json_object_get(jwt.claims, "jti")), "sess_abc", "claims round-trip");
    ah_jwt_clear(&jwt);
    ah_jwt_clear(&jwt);
    ok(jwt.claims == NULL, "clear twice is safe");
    free(token);
    json_t *arr = json_array();
    ok(ah_jwt_sign_hs256(arr, hs_key, 32) == NULL, "signing a non-object fails");
    json_decref(arr);
}

static int claims_rv(const char *json, ah_jwt_expect_t e)
{
    json_error_t jerr;
    json_t *c = json_loads(json, 0, &jerr);
    int rv = ah_jwt_check_claims(c, &e);
    json_decref(c);
    return rv;
}

static void test_claims(void)
{
    ah_jwt_expect_t e = {.now = 1000, .skew_s = 0};
    is_int(claims_rv("{\"exp\":1001}", e), AH_JWT_OK, "exp one second ahead, no skew");
    is_int(claims_rv("{\"exp\":1000}", e), AH_JWT_EEXP, "exp == now is expired");
    is_int(claims_rv("{\"exp\":1000.9}", e), AH_JWT_EEXP, "fractional exp truncates");
    is_int(claims_rv("{\"exp\":-5}", e), AH_JWT_ECLAIM, "negative exp is malformed");
    is_int(claims_rv("{\"exp\":2000,\"nbf\":\"0\"}", e), AH_JWT_ECLAIM, "string nbf is malformed");
    is_int(claims_rv("{\"exp\":2000,\"nbf\":1000}", e), AH_JWT_OK, "nbf == now is valid");
    is_int(claims_rv("{\"exp\":2000,\"nbf\":1001}", e), AH_JWT_ENBF, "nbf one second ahead");
    is_int(claims_rv("{\"exp\":2000}", e), AH_JWT_OK, "iat optional unless required");
    e.require_iat = 1;
    is_int(claims_rv("{\"exp\":2000}", e), AH_JWT_ECLAIM, "iat required");
    is_int(claims_rv("{\"exp\":2000,\"iat\":1001}", e), AH_JWT_EIAT, "iat in the future");
    e.skew_s = 5;
    is_int(claims_rv("{\"exp\":2000,\"iat\":1005}", e), AH_JWT_OK, "iat within the skew");
    is_int(claims_rv("{\"exp\":996,\"iat\":900}", e), AH_JWT_OK, "exp within the skew");
    is_int(claims_rv("{\"exp\":995,\"iat\":900}", e), AH_JWT_EEXP, "exp at the skew");
    e = (ah_jwt_expect_t){.now = 1000, .iss = "x", .aud = "c", .nonce = "n"};
    is_int(claims_rv("{\"exp\":2000,\"iss\":\"x\",\"aud\":\"c\",\"nonce\":\"n\"}", e), AH_JWT_OK, "all claims as expected");
    is_int(claims_rv("{\"exp\":2000,\"iss\":\"x\",\"aud\":\"c\",\"nonce\":\"nn\"}", e), AH_JWT_ENONCE, "nonce prefix is not the nonce");
    is_int(claims_rv("{\"exp\":2000,\"iss\":\"x\",\"aud\":\"c\",\"nonce\":null}", e), AH_JWT_ENONCE, "null nonce");
    is_int(claims_rv("{\"exp\":2000,\"iss\":\"x\",\"aud\":[],\"nonce\":\"n\"}", e), AH_JWT_EAUD, "empty aud array");
    is_int(claims_rv("{\"exp\":2000,\"iss\":\"x\",\"aud\":[\"c\",1],\"nonce\":\"n\"}", e), AH_JWT_EAUD, "aud array with a non-string");
    is_int(claims_rv("{\"exp\":2000,\"iss\":\"x\",\"aud\":\"c\",\"azp\":\"c\",\"nonce\":\"n\"}", e), AH_JWT_OK, "azp equal to the client");
    is_int(claims_rv("{\"exp\":2000,\"iss\":\"X\",\"aud\":\"c\",\"nonce\":\"n\"}", e), AH_JWT_EISS, "iss is case-sensitive");
    ok(ah_jwt_check_claims(NULL, &e) == AH_JWT_ECLAIM, "NULL claims");
}

static void test_parse_edges(void)
{
    ah_jwt_t jwt;
    is_int(ah_jwt_parse("", 0, &jwt), AH_JWT_EFORMAT, "empty token");
    is_int(ah_jwt_parse("..", 2, &jwt), AH_JWT_EFORMAT, "only dots");
    is_int(ah_jwt_parse("a.b.", 4, &jwt), AH_JWT_EFORMAT, "garbage parts");
    /* header {"alg":"HS256"}, payload {} and an empty signature: parses, fails verification */
    const char *nosig = "eyJhbGciOiJIUzI1NiJ9.e30.";
    is_int(ah_jwt_parse(nosig, strlen(nosig), &jwt), AH_JWT_OK, "empty signature part parses");
    is_int(ah_jwt_verify_hs256(&jwt, hs_key, 32), AH_JWT_ESIG, "and does not verify");
    ah_jwt_clear(&jwt);
    char *big = malloc(70000);
    memset(big, 'A', 69999);
    big[20] = '.', big[40] = '.', big[69999] = '\0';
    is_int(ah_jwt_parse(big, strlen(big), &jwt), AH_JWT_EFORMAT, "oversized token refused");
    free(big);
    ok(strcmp(ah_jwt_strerror(AH_JWT_ESIG), "signature does not verify") == 0, "strerror names errors");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <fixtures/jwt dir>\n", argv[0]);
        return 2;
    }
    char path[1024], err[256];
    snprintf(path, sizeof(path), "%s/fixtures.json", argv[1]);
    json_error_t jerr;
    fx = json_load_file(path, 0, &jerr);
    if (fx == NULL) {
        fprintf(stderr, "cannot read %s: %s\n", path, jerr.text);
        return 2;
    }
    size_t n;
    const char *hex = json_string_value(json_object_get(fx, "hs_key_hex"));
    if (ah_hex_decode(hex, strlen(hex), hs_key, sizeof(hs_key), &n) != 0 || n != 32)
        return 2;
    char *doc = json_dumps(json_object_get(fx, "jwks"), 0);
    jwks = ah_jwks_parse(doc, strlen(doc), err, sizeof(err));
    free(doc);
    doc = json_dumps(json_object_get(fx, "single_jwks"), 0);
    single = ah_jwks_parse(doc, strlen(doc), err, sizeof(err));
    free(doc);
    ok(jwks != NULL && single != NULL, "fixture key sets parse");

    test_jwks_filtering();
    test_fixture_cases();
    test_sign();
    test_claims();
    test_parse_edges();

    ah_jwks_free(&jwks);
    ah_jwks_free(&single);
    json_decref(fx);
    return done_testing();
}
