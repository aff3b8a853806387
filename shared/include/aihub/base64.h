/*
 * base64.h: base64 and hex encoding and decoding.
 *
 * The encoder writes the URL-safe alphabet without padding (what sealed
 * secrets and tokens use) or the standard alphabet with padding. The
 * decoder accepts both alphabets, with or without padding, and rejects
 * anything else: whitespace, stray '=', impossible lengths and non-zero
 * trailing bits. No allocation, no global state.
 */
#ifndef AIHUB_BASE64_H
#define AIHUB_BASE64_H

#include <stddef.h>
#include <stdint.h>

/** Error: the input is not valid base64 or hex. */
#define AH_BASE64_EINVAL (-1)
/** Error: the decoded bytes do not fit in the output buffer. */
#define AH_BASE64_ENOSPC (-2)

/** Size of the output buffer ah_base64url_encode and ah_base64_encode need for len input bytes, NUL included. */
#define AH_BASE64_ENCODED_SIZE(len) (4 * (((len) + 2) / 3) + 1)
/** Upper bound of the bytes ah_base64_decode produces from len characters. */
#define AH_BASE64_DECODED_MAX(len) (((len) + 3) / 4 * 3)

/** Encodes in[0..len) as base64url without padding into out (AH_BASE64_ENCODED_SIZE(len) bytes); NUL-terminates and returns the characters written. */
size_t ah_base64url_encode(const uint8_t *in, size_t len, char *out);

/** Encodes in[0..len) as standard base64 with padding into out (AH_BASE64_ENCODED_SIZE(len) bytes); NUL-terminates and returns the characters written. */
size_t ah_base64_encode(const uint8_t *in, size_t len, char *out);

/** Decodes len characters of base64 (standard or URL-safe alphabet, padding optional) into out; 0 with *outlen set, AH_BASE64_EINVAL, or AH_BASE64_ENOSPC (then *outlen holds the size needed). */
int ah_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);

/** Encodes in[0..len) as lower-case hex into out (2 * len + 1 bytes); NUL-terminates and returns 2 * len. */
size_t ah_hex_encode(const uint8_t *in, size_t len, char *out);

/** Decodes len hex digits (either case) into out; 0 with *outlen set, AH_BASE64_EINVAL on odd length or a bad digit, AH_BASE64_ENOSPC when cap is too small. */
int ah_hex_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);

#endif
