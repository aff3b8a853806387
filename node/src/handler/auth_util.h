/*
 * Small request helpers the sign-in and session endpoints share: query
 * parameters (raw and percent-decoded) and the check that a sign-in's
 * "next" is a path on this site, never another site's URL.
 */
#ifndef AH_HANDLER_AUTH_UTIL_H
#define AH_HANDLER_AUTH_UTIL_H

#include <stddef.h>
#include <h2o.h>

/** longest "next" accepted, bytes */
#define AH_AUTH_NEXT_MAX 1024

/** the value percent-decoded ('+' is a space) into the pool; NULL when absent, malformed or holding a NUL */
char *ah_auth_query_decoded(h2o_req_t *req, const char *name);
/**
 * 1 when s is a local path: it starts with one "/" (not "//" nor "/\"), has
 * no backslash, no control character, no space and no byte outside ASCII,
 * and is at most AH_AUTH_NEXT_MAX bytes.
 */
int ah_auth_local_path(const char *s);
/** the request's next= (decoded and checked) into out, "/admin/" when absent; 0, or -1 when it is not a local path */
int ah_auth_next_param(h2o_req_t *req, char out[AH_AUTH_NEXT_MAX + 1]);

#endif
