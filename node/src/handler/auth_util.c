/*
 * Decoded query parameters and local paths (see auth_util.h).
 */
#include <string.h>
#include "aihub/strutil.h"
#include "handler/auth_util.h"
#include "http/reply.h"

char *ah_auth_query_decoded(h2o_req_t *req, const char *name)
{
    h2o_iovec_t raw = ah_req_query(req, name);
    if (raw.base == NULL)
        return NULL;
    char *out = h2o_mem_alloc_pool(&req->pool, raw.len + 1);
    return ah_form_decode(raw.base, raw.len, out, raw.len + 1) == 0 ? out : NULL;
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
    h2o_iovec_t raw = ah_req_query(req, "next");
    if (raw.base == NULL || raw.len == 0) {
        strcpy(out, "/admin/");
        return 0;
    }
    if (ah_form_decode(raw.base, raw.len, out, AH_AUTH_NEXT_MAX + 1) != 0)
        return -1;
    return ah_auth_local_path(out) ? 0 : -1;
}
