/*
 * test_crypto.c: unit tests for aihub/crypto.h: known-answer tests for
 * HMAC, SHA-256 and the sealed format (vectors made independently with
 * Python's cryptography package), and tampering, wrong keys and malformed
 * input, which must all fail.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aihub/base64.h"
#include "aihub/crypto.h"
#include "tap.h"

static const char hex64[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void test_parse_secret(void)
{
    uint8_t out[64], want[32];
    size_t n = 0;
    for (int i = 0; i < 32; i++)
        want[i] = (uint8_t)i;

    ok(ah_crypto_parse_secret(hex64, out, sizeof(out), &n) == 0 && n == 32 && memcmp(out, want, 32) == 0, "64 hex digits -> 32 bytes");
    ok(ah_crypto_parse_secret("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", out, sizeof(out), &n) == 0 && n == 32 &&
           memcmp(out, want, 32) == 0,
       "upper-case hex");
    char b64[64];
    ah_base64_encode(want, 32, b64);
    ok(ah_crypto_parse_secret(b64, out, sizeof(out), &n) == 0 && n == 32 && memcmp(out, want, 32) == 0, "standard base64 with padding");
    ah_base64url_encode(want, 32, b64);
    ok(ah_crypto_parse_secret(b64, out, sizeof(out), &n) == 0 && n == 32 && memcmp(out, want, 32) == 0, "base64url without padding");
    char padded[80];
    snprintf(padded, sizeof(padded), "  %s\n", hex64);
    ok(ah_crypto_parse_secret(padded, out, sizeof(out), &n) == 0 && n == 32, "surrounding whitespace (a trailing newline) ignored");
    ok(ah_crypto_parse_secret("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", out, sizeof(out), &n) == 0 && n == 33,
       "longer secrets accepted");

    n = 77;
    is_int(ah_crypto_parse_secret("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e", out, sizeof(out), &n), -1,
           "31 bytes of hex: too short");
    is_int(n, 77, "outlen untouched on failure");
    /* 48 hex digits would be 36 bytes as base64 but are 24 as hex: refused, not reinterpreted. */
    is_int(ah_crypto_parse_secret("000102030405060708090a0b0c0d0e0f1011121314151617", out, sizeof(out), &n), -1,
           "short hex is not reread as base64");
    ah_base64_encode(want, 31, b64);
    is_int(ah_crypto_parse_secret(b64, out, sizeof(out), &n), -1, "31 bytes of base64: too short");
    is_int(ah_crypto_parse_secret("this is not a secret at all!! not base64 either", out, sizeof(out), &n), -1, "garbage");
    is_int(ah_crypto_parse_secret("", out, sizeof(out), &n), -1, "empty");
    is_int(ah_crypto_parse_secret("   \n", out, sizeof(out), &n), -1, "only whitespace");
    is_int(ah_crypto_parse_secret(NULL, out, sizeof(out), &n), -1, "NULL text");
    is_int(ah_crypto_parse_secret(hex64, out, 16, &n), -1, "output buffer too small");
    is_int(ah_crypto_parse_secret("00010203 0405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", out, sizeof(out), &n), -1,
           "inner space");
    is_int(ah_crypto_parse_secret("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0", out, sizeof(out), &n), -1,
           "odd-length hex (and not valid base64)");
}

static void test_hashes(void)
{
    char hex[65];
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;

    ah_crypto_sha256_hex("abc", 3, hex);
    is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256(\"abc\") (FIPS 180-2)");
    ah_crypto_sha256_hex(NULL, 0, hex);
    is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256 of nothing");

    ah_crypto_hmac_hex(key, "hello world", 11, hex);
    is_str(hex, "411b9a51e8565e1fc79643b2a6c4672f4a3c3e573c33d0995a08748cb6128e8e", "hmac_hex known answer");

    uint8_t d1[32], d2[32], d3[32];
    ah_crypto_derive((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", d1);
    ah_hex_encode(d1, 32, hex);
    is_str(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "derive = HMAC-SHA256 (RFC 4231 case 2)");
    ah_crypto_derive(key, 32, "seal", d1);
    ah_crypto_derive(key, 32, "session", d2);
    ah_crypto_derive(key, 32, "seal", d3);
    ok(memcmp(d1, d2, 32) != 0, "different labels give different keys");
    ok(memcmp(d1, d3, 32) == 0, "derivation is deterministic");
}

static void test_seal(void)
{
    uint8_t key[32], other[32];
    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)i;
        other[i] = (uint8_t)(i + 1);
    }
    size_t n = 0;

    /* Known answer: nonce 100..111, made with Python's AESGCM. */
    const char *kat = "v1:ZGVmZ2hpamtsbW5vO3DzChCfM7MOU23b7lBcynr7Z2joCJYUpy6MPJrKyUZqjnSM-6kse5H4vLuEq10";
    const char kat_plain[] = "sk-live-0123456789abcdef\0\xff tail";
    char *p = ah_crypto_open(key, kat, strlen(kat), &n);
    ok(p != NULL && n == sizeof(kat_plain) - 1 && memcmp(p, kat_plain, n) == 0 && p[n] == '\0',
       "opens a value sealed by an independent implementation (binary-safe, NUL-terminated)");
    free(p);
    const char *kat_empty = "v1:ZGVmZ2hpamtsbW5vYJvVD2rXbfZl8Ei6jF_XBg";
    p = ah_crypto_open(key, kat_empty, strlen(kat_empty), &n);
    ok(p != NULL && n == 0 && p[0] == '\0', "opens an independently sealed empty value");
    free(p);

    const char *secret = "sk-proj-abcdefghijklmnopqrstuvwxyz";
    char *s1 = ah_crypto_seal(key, secret, strlen(secret));
    char *s2 = ah_crypto_seal(key, secret, strlen(secret));
    ok(s1 != NULL && s2 != NULL, "seal succeeds");
    if (s1 == NULL || s2 == NULL)
        return;
    ok(strncmp(s1, "v1:", 3) == 0, "sealed value starts with v1:");
    size_t binlen = 12 + strlen(secret) + 16;
    is_int(strlen(s1), 3 + (4 * binlen + 2) / 3, "sealed length is 3 + unpadded base64 of nonce + ciphertext + tag");
    ok(strspn(s1 + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == strlen(s1) - 3, "only URL-safe characters");
    ok(strcmp(s1, s2) != 0, "fresh nonce: sealing twice gives different values");
    p = ah_crypto_open(key, s1, strlen(s1), &n);
    ok(p != NULL && n == strlen(secret) && strcmp(p, secret) == 0, "round trip");
    free(p);
    p = ah_crypto_open(key, s1, strlen(s1), NULL);
    ok(p != NULL, "outlen may be NULL");
    free(p);

    ok(ah_crypto_open(other, s1, strlen(s1), &n) == NULL, "wrong key: NULL");

    /* Change every character in turn to another valid one: each must be detected. */
    size_t len = strlen(s1), detected = 0;
    for (size_t i = 3; i < len; i++) {
        char *t = strdup(s1);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        char *q = ah_crypto_open(key, t, len, &n);
        detected += q == NULL;
        free(q);
        free(t);
    }
    is_int(detected, len - 3, "any changed character (nonce, ciphertext or tag) is detected");

    ok(ah_crypto_open(key, s1, len - 1, &n) == NULL, "truncated by one char: NULL");
    ok(ah_crypto_open(key, s1, len - 4, &n) == NULL, "truncated by a quantum: NULL");
    char *t = strdup(s1);
    t[1] = '2';
    ok(ah_crypto_open(key, t, len, &n) == NULL, "v2: prefix refused");
    free(t);
    ok(ah_crypto_open(key, s1 + 3, len - 3, &n) == NULL, "missing prefix refused");
    ok(ah_crypto_open(key, "v1:", 3, &n) == NULL, "empty body refused");
    ok(ah_crypto_open(key, "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 37, &n) == NULL, "shorter than nonce + tag refused");
    ok(ah_crypto_open(key, "v1:!!!!", 7, &n) == NULL, "bad base64 refused");
    ok(ah_crypto_open(key, "", 0, &n) == NULL, "empty string refused");
    ok(ah_crypto_open(key, NULL, 10, &n) == NULL, "NULL refused");
    ok(ah_crypto_seal(key, NULL, 5) == NULL, "seal of NULL with a length refused");

    char *e = ah_crypto_seal(key, NULL, 0);
    p = e != NULL ? ah_crypto_open(key, e, strlen(e), &n) : NULL;
    ok(p != NULL && n == 0, "empty plaintext round trip");
    free(p);
    free(e);
    free(s1);
    free(s2);
}

static void test_random(void)
{
    char tok[1025], tok2[33];
    is_int(ah_crypto_random_token(tok, 32), 0, "random_token ok");
    is_int(strlen(tok), 32, "random_token length");
    ok(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 32, "random_token alphabet");
    ah_crypto_random_token(tok2, 32);
    ok(strcmp(tok, tok2) != 0, "two tokens differ");
    is_int(ah_crypto_random_token(tok, 0), 0, "zero-length token");
    is_str(tok, "", "zero-length token is empty");
    is_int(ah_crypto_random_token(NULL, 4), -1, "NULL out refused");

    /* 64 symbols x ~1000 draws each: every count within 10 standard deviations. */
    int counts[256] = {0};
    for (int i = 0; i < 64; i++) {
        ah_crypto_random_token(tok, 1000);
        for (int j = 0; j < 1000; j++)
            counts[(unsigned char)tok[j]]++;
    }
    int used = 0, in_range = 1;
    for (int c = 0; c < 256; c++) {
        if (counts[c] != 0) {
            used++;
            in_range = in_range && counts[c] > 1000 - 320 && counts[c] < 1000 + 320;
        }
    }
    is_int(used, 64, "all 64 symbols appear");
    ok(in_range, "symbol counts are flat (no modulo bias)");

    is_int(ah_crypto_ct_equal("abcd", "abcd", 4), 1, "ct_equal: equal");
    is_int(ah_crypto_ct_equal("abcd", "abce", 4), 0, "ct_equal: last byte differs");
    is_int(ah_crypto_ct_equal("xbcd", "abcd", 4), 0, "ct_equal: first byte differs");
    is_int(ah_crypto_ct_equal("a", "b", 0), 1, "ct_equal: zero length is equal");

    double sum = 0, lo = 1, hi = 0;
    int in_unit = 1;
    for (int i = 0; i < 20000; i++) {
        double u = ah_crypto_random_unit();
        in_unit = in_unit && u >= 0.0 && u < 1.0 && (double)(uint64_t)(u * 0x1p53) == u * 0x1p53;
        sum += u;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    ok(in_unit, "random_unit in [0,1) on a 2^-53 grid");
    ok(sum / 20000 > 0.48 && sum / 20000 < 0.52 && lo < 0.01 && hi > 0.99, "random_unit looks uniform");

    int shape = 1, first[10] = {0};
    sum = 0, lo = 1, hi = 0;
    char prev[AH_CRYPTO_UNIT_TEXT] = "";
    for (int i = 0; i < 20000; i++) {
        char t[AH_CRYPTO_UNIT_TEXT];
        size_t n = ah_crypto_random_unit_text(t);
        shape = shape && n == 19 && strlen(t) == 19 && t[0] == '0' && t[1] == '.' && strspn(t + 2, "0123456789") == 17 && strcmp(t, prev) != 0;
        double u = strtod(t, NULL);
        shape = shape && u >= 0.0 && u < 1.0;
        first[t[2] - '0']++;
        sum += u;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        memcpy(prev, t, sizeof(t));
    }
    ok(shape, "random_unit_text: \"0.\" and 17 digits, below 1, never the same twice in a row");
    int flat = 1;
    for (int d = 0; d < 10; d++)
        flat = flat && first[d] > 1700 && first[d] < 2300;
    ok(flat && sum / 20000 > 0.48 && sum / 20000 < 0.52 && lo < 0.01 && hi > 0.99, "random_unit_text looks uniform");
}

/* hmac_hex against one-shot HMAC (ah_crypto_derive) for key and text */
static int hmac_matches(const uint8_t key[32], const char *text)
{
    char got[65], want[65];
    uint8_t d[32];
    ah_crypto_hmac_hex(key, text, strlen(text), got);
    ah_crypto_derive(key, 32, text, d);
    ah_hex_encode(d, 32, want);
    return strcmp(got, want) == 0;
}

static void *hmac_thread(void *arg)
{
    uint8_t key[32];
    memset(key, *(int *)arg, sizeof(key));
    int all = 1;
    for (int i = 0; i < 200; ++i)
        all = all && hmac_matches(key, i % 2 ? "sk-odd" : "sk-even-longer-input");
    *(int *)arg = all;
    return NULL;
}

/* the per-thread keyed context: reused for one key, re-keyed when the key changes, separate per thread */
static void test_hmac_cache(void)
{
    uint8_t a[32], b[32];
    memset(a, 0xa5, sizeof(a));
    memset(b, 0x5a, sizeof(b));
    int all = 1;
    for (int i = 0; i < 50; ++i)
        all = all && hmac_matches(i % 3 ? a : b, i % 2 ? "x" : "a longer input than one block of SHA-256, which is sixty-four bytes long");
    ok(all, "hmac_hex: the same as one-shot HMAC with keys alternating and repeating");
    char h1[65], h2[65];
    ah_crypto_hmac_hex(a, NULL, 0, h1);
    ah_crypto_hmac_hex(a, "", 0, h2);
    ok(strcmp(h1, h2) == 0 && hmac_matches(a, ""), "hmac_hex: empty input, NULL or not");
    pthread_t t[3];
    int args[3] = {1, 2, 3};
    for (int i = 0; i < 3; ++i)
        pthread_create(&t[i], NULL, hmac_thread, &args[i]);
    for (int i = 0; i < 3; ++i)
        pthread_join(t[i], NULL);
    ok(args[0] == 1 && args[1] == 1 && args[2] == 1, "hmac_hex: right on three threads at once, each with its key");
}

int main(void)
{
    test_parse_secret();
    test_hashes();
    test_hmac_cache();
    test_seal();
    test_random();
    return done_testing();
}
