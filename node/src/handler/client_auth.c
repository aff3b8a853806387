/*
 * Client API key extraction (see client_auth.h).
 */
#include <string.h>
#include "handler/client_auth.h"
#include "http/reply.h"

h2o_iovec_t ah_client_key(h2o_req_t *req)
{
    h2o_iovec_t v = ah_req_header(req, "authorization");
    if (v.base != NULL) {
        if (v.len > 7 && strncasecmp(v.base, "Bearer ", 7) == 0) {
            v.base += 7, v.len -= 7;
            while (v.len > 0 && v.base[0] == ' ')
                ++v.base, --v.len;
            return v;
        }
        return h2o_iovec_init(NULL, 0);
    }
    if ((v = ah_req_header(req, "x-api-key")).base != NULL)
        return v;
    return ah_req_header(req, "x-goog-api-key");
}

int ah_client_key_well_formed(h2o_iovec_t key)
{
    if (key.len < 35 || key.len > 200 || memcmp(key.base, "sk-", 3) != 0)
        return 0;
    for (size_t i = 3; i != key.len; ++i) {
        char c = key.base[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}
