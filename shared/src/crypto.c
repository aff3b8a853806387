/*
 * crypto.c: secret parsing, key derivation, hashing, sealing and
 * randomness on OpenSSL 3 (see aihub/crypto.h).
 *
 * Sealed format, version 1: "v1:" followed by base64url without padding of
 * nonce (12 bytes) || ciphertext (as long as the plaintext) || GCM tag
 * (16 bytes). No associated data. A new version gets a new prefix, so old
 * values stay readable during a migration. Buffers that held key material
 * or plaintext are wiped with OPENSSL_cleanse before they are freed.
 */
#include "aihub/crypto.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "aihub/base64.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define PREFIX "v1:"
#define PREFIX_LEN 3

/* Failures that cannot happen short of a broken OpenSSL or no memory. */
static void fatal(const char *what)
{
    fprintf(stderr, "aihub: crypto: %s failed\n", what);
    abort();
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int ah_crypto_parse_secret(const char *text, uint8_t *out, size_t outcap, size_t *outlen)
{
    if (text == NULL || out == NULL || outlen == NULL)
        return -1;
    size_t n = strlen(text);
    while (n > 0 && is_space(text[n - 1]))
        n--;
    while (n > 0 && is_space(*text)) {
        text++;
        n--;
    }
    if (n == 0)
        return -1;

    int all_hex = 1;
    for (size_t i = 0; i < n && all_hex; i++)
        all_hex = is_hex(text[i]);

    /* An all-hex, even-length text is hex and only hex: reading a short hex
     * key as base64 instead would silently accept a weak secret. */
    size_t got = 0;
    int rc = all_hex && n % 2 == 0 ? ah_hex_decode(text, n, out, outcap, &got) : ah_base64_decode(text, n, out, outcap, &got);
    if (rc != 0 || got < AH_CRYPTO_MIN_SECRET) {
        OPENSSL_cleanse(out, outcap);
        return -1;
    }
    *outlen = got;
    return 0;
}

void ah_crypto_derive(const uint8_t *master, size_t len, const char *label, uint8_t out[32])
{
    static const uint8_t empty[1] = {0};
    unsigned int outl = 0;
    if (label == NULL)
        label = "";
    if (len > INT_MAX || HMAC(EVP_sha256(), master != NULL && len != 0 ? master : empty, (int)len, (const uint8_t *)label, strlen(label),
                              out, &outl) == NULL ||
        outl != 32)
        fatal("HMAC-SHA256");
}

/*
 * HMAC-SHA256 keyed once per thread: HMAC() fetches the algorithm and sets
 * the key up on every call, which costs several times the hashing itself on
 * short inputs (the API-key hash of every request). Each thread keeps an
 * EVP_MAC_CTX keyed with the last key it used (a copy of the key, wiped when
 * the thread ends); the same key again only re-initialises the context.
 */
typedef struct {
    EVP_MAC_CTX *ctx;
    int keyed;
    uint8_t key[32];
} hmac_cache_t;

static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static pthread_key_t hmac_tls;
static EVP_MAC *hmac_alg; /* process lifetime */

static void hmac_cache_free(void *p)
{
    hmac_cache_t *c = p;
    EVP_MAC_CTX_free(c->ctx);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

static void hmac_init_once(void)
{
    if (pthread_key_create(&hmac_tls, hmac_cache_free) != 0 || (hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
        fatal("HMAC-SHA256 setup");
}

/* this thread's context, ready for data under key */
static EVP_MAC_CTX *hmac_ctx_for(const uint8_t key[32])
{
    pthread_once(&hmac_once, hmac_init_once);
    hmac_cache_t *c = pthread_getspecific(hmac_tls);
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL || (c->ctx = EVP_MAC_CTX_new(hmac_alg)) == NULL || pthread_setspecific(hmac_tls, c) != 0)
            fatal("HMAC-SHA256 context");
    }
    if (c->keyed && memcmp(c->key, key, 32) == 0) {
        if (EVP_MAC_init(c->ctx, NULL, 0, NULL) != 1)
            fatal("HMAC-SHA256 init");
        return c->ctx;
    }
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0), OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(c->ctx, key, 32, params) != 1)
        fatal("HMAC-SHA256 init");
    memcpy(c->key, key, 32);
    c->keyed = 1;
    return c->ctx;
}

void ah_crypto_hmac_hex(const uint8_t key[32], const void *data, size_t len, char out[65])
{
    static const uint8_t empty[1] = {0};
    uint8_t mac[32];
    size_t outl = 0;
    EVP_MAC_CTX *ctx = hmac_ctx_for(key);
    if (EVP_MAC_update(ctx, data != NULL ? data : empty, len) != 1 || EVP_MAC_final(ctx, mac, &outl, sizeof(mac)) != 1 || outl != 32)
        fatal("HMAC-SHA256");
    ah_hex_encode(mac, sizeof(mac), out);
}

void ah_crypto_sha256_hex(const void *data, size_t len, char out[65])
{
    static const uint8_t empty[1] = {0};
    uint8_t md[32];
    unsigned int outl = 0;
    if (EVP_Digest(data != NULL ? data : empty, len, md, &outl, EVP_sha256(), NULL) != 1 || outl != 32)
        fatal("SHA-256");
    ah_hex_encode(md, sizeof(md), out);
}

char *ah_crypto_seal(const uint8_t key[32], const void *plain, size_t len)
{
    if (key == NULL || (plain == NULL && len != 0) || len > AH_CRYPTO_SEAL_MAX)
        return NULL;

    size_t binlen = NONCE_LEN + len + TAG_LEN;
    uint8_t *bin = malloc(binlen);
    char *out = malloc(PREFIX_LEN + AH_BASE64_ENCODED_SIZE(binlen));
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, finl = 0;
    if (bin == NULL || out == NULL || ctx == NULL)
        goto fail;
    if (RAND_bytes(bin, NONCE_LEN) != 1)
        goto fail;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, bin) != 1)
        goto fail;
    if (len != 0 && EVP_EncryptUpdate(ctx, bin + NONCE_LEN, &outl, plain, (int)len) != 1)
        goto fail;
    if (EVP_EncryptFinal_ex(ctx, bin + NONCE_LEN + outl, &finl) != 1 || (size_t)outl + (size_t)finl != len)
        goto fail;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, bin + NONCE_LEN + len) != 1)
        goto fail;

    memcpy(out, PREFIX, PREFIX_LEN);
    ah_base64url_encode(bin, binlen, out + PREFIX_LEN);
    EVP_CIPHER_CTX_free(ctx);
    free(bin);
    return out;

fail:
    EVP_CIPHER_CTX_free(ctx);
    free(bin);
    free(out);
    return NULL;
}

char *ah_crypto_open(const uint8_t key[32], const char *sealed, size_t len, size_t *outlen)
{
    if (key == NULL || sealed == NULL || len < PREFIX_LEN || memcmp(sealed, PREFIX, PREFIX_LEN) != 0)
        return NULL;
    const char *b64 = sealed + PREFIX_LEN;
    size_t b64len = len - PREFIX_LEN;
    if (b64len > AH_BASE64_ENCODED_SIZE(NONCE_LEN + AH_CRYPTO_SEAL_MAX + TAG_LEN))
        return NULL;

    size_t cap = AH_BASE64_DECODED_MAX(b64len), binlen = 0;
    uint8_t *bin = malloc(cap != 0 ? cap : 1);
    char *plain = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    int outl = 0, finl = 0;
    if (bin == NULL || ah_base64_decode(b64, b64len, bin, cap, &binlen) != 0 || binlen < NONCE_LEN + TAG_LEN)
        goto fail;

    size_t plen = binlen - NONCE_LEN - TAG_LEN;
    if ((plain = malloc(plen + 1)) == NULL || (ctx = EVP_CIPHER_CTX_new()) == NULL)
        goto fail;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, bin) != 1)
        goto fail;
    if (plen != 0 && EVP_DecryptUpdate(ctx, (uint8_t *)plain, &outl, bin + NONCE_LEN, (int)plen) != 1)
        goto fail;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, bin + NONCE_LEN + plen) != 1)
        goto fail;
    /* The tag is checked here: any change to nonce, ciphertext or tag fails. */
    if (EVP_DecryptFinal_ex(ctx, (uint8_t *)plain + outl, &finl) != 1 || (size_t)outl + (size_t)finl != plen)
        goto fail;

    plain[plen] = '\0';
    if (outlen != NULL)
        *outlen = plen;
    EVP_CIPHER_CTX_free(ctx);
    free(bin);
    return plain;

fail:
    EVP_CIPHER_CTX_free(ctx);
    if (plain != NULL) {
        OPENSSL_cleanse(plain, binlen - NONCE_LEN - TAG_LEN + 1);
        free(plain);
    }
    free(bin);
    return NULL;
}

int ah_crypto_random_token(char *out, size_t nchars)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t buf[64];
    if (out == NULL)
        return -1;
    /* 64 symbols: each byte's low 6 bits pick one, so every symbol is equally likely. */
    for (size_t i = 0; i < nchars;) {
        size_t n = nchars - i < sizeof(buf) ? nchars - i : sizeof(buf);
        if (RAND_bytes(buf, (int)n) != 1) {
            OPENSSL_cleanse(buf, sizeof(buf));
            OPENSSL_cleanse(out, i);
            out[0] = '\0';
            return -1;
        }
        for (size_t j = 0; j < n; j++)
            out[i + j] = alphabet[buf[j] & 63];
        i += n;
    }
    out[nchars] = '\0';
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

int ah_crypto_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

/* 53 random bits: 8 bytes from a per-thread pool refilled from the CSPRNG 32 draws at a time (RAND_bytes per draw cost more than the draw's use) */
static uint64_t random_53(void)
{
    static _Thread_local uint8_t pool[256];
    static _Thread_local size_t used = sizeof(pool);
    if (used == sizeof(pool)) {
        if (RAND_bytes(pool, sizeof(pool)) != 1)
            fatal("RAND_bytes");
        used = 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | pool[used + i];
    OPENSSL_cleanse(pool + used, 8);
    used += 8;
    return v >> 11;
}

double ah_crypto_random_unit(void)
{
    return (double)random_53() * 0x1.0p-53;
}

size_t ah_crypto_random_unit_text(char out[AH_CRYPTO_UNIT_TEXT])
{
    /* the exact decimal digits of k / 2^53: each step moves one digit above bit 53 (k * 10 < 2^57) */
    const uint64_t mask = ((uint64_t)1 << 53) - 1;
    uint64_t k = random_53();
    size_t n = 0;
    out[n++] = '0';
    out[n++] = '.';
    for (int i = 0; i < 17; i++) {
        k *= 10;
        out[n++] = (char)('0' + (k >> 53));
        k &= mask;
    }
    out[n] = '\0';
    return n;
}
