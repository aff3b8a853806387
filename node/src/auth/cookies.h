/*
 * The console's cookies: reading one from a request (every Cookie header,
 * HTTP/2 may split them) and setting or clearing one on the response, with
 * the attributes the console needs. Names and values are the node's own
 * (base64url, "v1:" seals, ids), so no quoting is ever needed.
 */
#ifndef AH_AUTH_COOKIES_H
#define AH_AUTH_COOKIES_H

#include <stdint.h>
#include <h2o.h>

#define AH_COOKIE_SESSION "aihub_session"
#define AH_COOKIE_REFRESH "aihub_refresh"
#define AH_COOKIE_CSRF "aihub_csrf"
/** prefix of the sign-in state cookie; the first characters of the state complete its name */
#define AH_COOKIE_LOGIN_PREFIX "aihub_login_"

enum {
    AH_COOKIE_HTTPONLY = 1,
    AH_COOKIE_SECURE = 2,
    AH_COOKIE_LAX = 4,
    AH_COOKIE_STRICT = 8,
};

/** the value of cookie name, borrowed from the request; {NULL,0} when absent */
h2o_iovec_t ah_cookie_get(h2o_req_t *req, const char *name);
/** adds Set-Cookie: name=value; Path=path; Max-Age=max_age (clears it when value is NULL) and the flags */
void ah_cookie_set(h2o_req_t *req, const char *name, const char *value, const char *path, int64_t max_age, int flags);

#endif
