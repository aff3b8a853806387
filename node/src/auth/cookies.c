/*
 * Cookie reading and writing (see cookies.h).
 */
#include <string.h>
#include "auth/cookies.h"

static h2o_iovec_t find_in(const char *p, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    const char *end = p + len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ';'))
            ++p;
        const char *semi = memchr(p, ';', end - p);
        const char *item_end = semi != NULL ? semi : end;
        if ((size_t)(item_end - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1, *ve = item_end;
            while (ve > v && ve[-1] == ' ')
                --ve;
            return h2o_iovec_init(v, ve - v);
        }
        p = item_end;
    }
    return h2o_iovec_init(NULL, 0);
}

h2o_iovec_t ah_cookie_get(h2o_req_t *req, const char *name)
{
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) != -1;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        h2o_iovec_t found = find_in(v.base, v.len, name);
        if (found.base != NULL)
            return found;
    }
    return h2o_iovec_init(NULL, 0);
}

void ah_cookie_set(h2o_req_t *req, const char *name, const char *value, const char *path, int64_t max_age, int flags)
{
    size_t cap = strlen(name) + (value != NULL ? strlen(value) : 0) + strlen(path) + 128;
    char *buf = h2o_mem_alloc_pool(&req->pool, cap);
    int n = snprintf(buf, cap, "%s=%s; Path=%s; Max-Age=%lld%s%s%s", name, value != NULL ? value : "", path,
                     (long long)(value != NULL ? max_age : 0), (flags & AH_COOKIE_HTTPONLY) ? "; HttpOnly" : "",
                     (flags & AH_COOKIE_SECURE) ? "; Secure" : "",
                     (flags & AH_COOKIE_STRICT) ? "; SameSite=Strict" : (flags & AH_COOKIE_LAX) ? "; SameSite=Lax" : "");
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, buf, (size_t)n);
}
