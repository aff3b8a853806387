/*
 * Query parameters and local paths (see auth_util.h).
 */
#include <string.h>
#include "handler/auth_util.h"

h2o_iovec_t ah_auth_query(h2o_req_t *req, const char *name)
{
    if (req->query_at == SIZE_MAX)
        return h2o_iovec_init(NULL, 0);
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    size_t nlen = strlen(name);
    while (q < end) {
        const char *amp = memchr(q, '&', end - q);
        if (amp == NULL)
            amp = end;
        if ((size_t)(amp - q) >= nlen + 1 && memcmp(q, name, nlen) == 0 && q[nlen] == '=')
            return h2o_iovec_init(q + nlen + 1, amp - q - nlen - 1);
        q = amp + 1;
    }
    return h2o_iovec_init(NULL, 0);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int ah_auth_percent_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i != len; ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c == '\0' || n + 1 >= cap)
            return -1;
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

char *ah_auth_query_decoded(h2o_req_t *req, const char *name)
{
    h2o_iovec_t raw = ah_auth_query(req, name);
    if (raw.base == NULL)
        return NULL;
    char *out = h2o_mem_alloc_pool(&req->pool, raw.len + 1);
    return ah_auth_percent_decode(raw.base, raw.len, out, raw.len + 1) == 0 ? out : NULL;
}

int ah_auth_local_path(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > AH_AUTH_NEXT_MAX || s[0] != '/' || (n > 1 && (s[1] == '/' || s[1] == '\\')))
        return 0;
    for (size_t i = 0; i != n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '\\')
            return 0;
    }
    return 1;
}

int ah_auth_next_param(h2o_req_t *req, char out[AH_AUTH_NEXT_MAX + 1])
{
    h2o_iovec_t raw = ah_auth_query(req, "next");
    if (raw.base == NULL || raw.len == 0) {
        strcpy(out, "/admin/");
        return 0;
    }
    if (ah_auth_percent_decode(raw.base, raw.len, out, AH_AUTH_NEXT_MAX + 1) != 0)
        return -1;
    return ah_auth_local_path(out) ? 0 : -1;
}
