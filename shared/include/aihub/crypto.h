/*
 * crypto.h: the project's few cryptographic primitives, on OpenSSL 3.
 *
 * A master secret (from the environment) is parsed once, per-purpose keys
 * are derived from it with HMAC-SHA256 and a label, and secrets stored in
 * Redis (upstream API keys) are sealed with AES-256-GCM. Randomness always
 * comes from OpenSSL's CSPRNG. No global state of our own.
 */
#ifndef AIHUB_CRYPTO_H
#define AIHUB_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/** Minimum length in bytes of a master secret accepted by ah_crypto_parse_secret. */
#define AH_CRYPTO_MIN_SECRET 32
/** Largest plaintext ah_crypto_seal accepts, in bytes. */
#define AH_CRYPTO_SEAL_MAX ((size_t)1 << 30)

/** Parses a secret given as hex (even length, all hex digits; tried first) or base64 of either alphabet (padding optional), ignoring surrounding whitespace; 0 with out[0..*outlen) filled, or -1 if malformed, shorter than 32 bytes or longer than outcap. */
int ah_crypto_parse_secret(const char *text, uint8_t *out, size_t outcap, size_t *outlen);

/** Derives a 32-byte key for one purpose: out = HMAC-SHA256(key = master[0..len), data = label). */
void ah_crypto_derive(const uint8_t *master, size_t len, const char *label, uint8_t out[32]);

/** Writes HMAC-SHA256(key, data[0..len)) as 64 lower-case hex digits and a NUL into out. */
void ah_crypto_hmac_hex(const uint8_t key[32], const void *data, size_t len, char out[65]);

/** Writes SHA-256(data[0..len)) as 64 lower-case hex digits and a NUL into out. */
void ah_crypto_sha256_hex(const void *data, size_t len, char out[65]);

/** Encrypts plain[0..len) with AES-256-GCM and a fresh random nonce; returns "v1:" + base64url(nonce || ciphertext || tag), NUL-terminated, or NULL on failure; caller frees. */
char *ah_crypto_seal(const uint8_t key[32], const void *plain, size_t len);

/** Decrypts sealed[0..len) made by ah_crypto_seal; returns the plaintext NUL-terminated with *outlen set (outlen may be NULL), or NULL if the format, key or tag is wrong; caller frees. */
char *ah_crypto_open(const uint8_t key[32], const char *sealed, size_t len, size_t *outlen);

/** Writes nchars random characters from [A-Za-z0-9_-] (6 bits each, no bias) and a NUL into out (nchars + 1 bytes); 0, or -1 if the CSPRNG fails. */
int ah_crypto_random_token(char *out, size_t nchars);

/** Compares a[0..n) and b[0..n) in time independent of their contents; 1 if equal, 0 if not. */
int ah_crypto_ct_equal(const void *a, const void *b, size_t n);

/**
 * Returns a uniform double in [0, 1) built from 53 random bits of the CSPRNG; aborts if the CSPRNG fails.
 * The bits come from a small per-thread pool filled from the CSPRNG (these values choose, they protect nothing).
 */
double ah_crypto_random_unit(void);

/** Bytes ah_crypto_random_unit_text writes, NUL included. */
#define AH_CRYPTO_UNIT_TEXT 20

/** Writes a fresh random unit as decimal text, "0." and 17 digits (its exact value truncated: below 1); returns the length. */
size_t ah_crypto_random_unit_text(char out[AH_CRYPTO_UNIT_TEXT]);

#endif
