/*
 * mask.h: redacting secrets and URL credentials before they reach a log,
 * an error message or the admin API.
 */
#ifndef AIHUB_MASK_H
#define AIHUB_MASK_H

#include <stddef.h>

/** Output buffer size that always suffices for ah_mask_secret (8-char prefix + "..." + 4 + NUL). */
#define AH_MASK_SECRET_MAX 16

/**
 * Writes a recognisable but safe form of secret into out: "****" for 8 chars or fewer, else
 * [prefix] "..." last4, where prefix runs up to and including a '-' among the first 8 chars
 * ("sk-...abcd") and is kept only when at least 8 chars stay hidden. Bytes outside printable
 * ASCII in what is shown become '*'. If outcap is too small, writes "****" (or "" if even that
 * does not fit); never writes more than outcap bytes. NULL secret gives "****".
 */
void ah_mask_secret(const char *secret, char *out, size_t outcap);

/**
 * Copies url into out with the password of "scheme://user:pass@host..." replaced by "****"
 * ("user:****@"), and a userinfo without ':' (a bare token) replaced entirely ("****@").
 * The authority ends at the first '/', '?' or '#' and the userinfo at its last '@'.
 * Returns 0 (also when there was nothing to mask), or -1 if url is NULL or out is too small
 * (out then holds "" when outcap > 0).
 */
int ah_mask_url_credentials(const char *url, char *out, size_t outcap);

#endif
