/*
 * reqid.h: request ids, generated for each request or taken from the
 * client's own x-request-id header when it is safe to echo.
 *
 * Globals (stated, as the style asks): each thread keeps its own generator
 * state, seeded from OpenSSL's RAND_bytes on first use and reseeded in a
 * child after fork(); one process-wide fork counter tells threads to reseed.
 */
#ifndef AIHUB_REQID_H
#define AIHUB_REQID_H

#include <stddef.h>

/** Longest client-supplied request id accepted, in bytes. */
#define AH_REQID_MAX_LEN 64

/** Writes 32 random lower-case hex digits and a NUL into out (not for secrets: a fast per-thread PRNG). */
void ah_reqid_new(char out[33]);

/** Returns 1 if s[0..len) may be echoed as a request id: 1 to 64 bytes, each printable ASCII 0x21..0x7e; else 0. */
int ah_reqid_is_acceptable(const char *s, size_t len);

#endif
