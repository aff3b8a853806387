/*
 * Client API key extraction (see client_auth.h).
 */
#include <string.h>
#include "handler/client_auth.h"
#include "aihub/crypto.h"
#include "http/reply.h"
#include "node.h"

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

static const char unavailable[] = "the gateway's state store (Redis) is unreachable; retry shortly";
static const char unknown_key[] = "the API key is missing, unknown, disabled or expired";

int ah_client_key_script(h2o_req_t *req, ah_script_id_t script, int nargs, const char **args, void (*cb)(void *, redisReply *, const char *),
                         void *ctx)
{
    ah_worker_t *w = ah_worker_of_req(req);
    h2o_iovec_t key = ah_client_key(req);
    if (key.base == NULL || !ah_client_key_well_formed(key)) {
        ah_reply_error(req, 401, "authentication_error", "invalid_api_key", unknown_key, 0);
        return -1;
    }
    char hmac[65], name[80];
    ah_crypto_hmac_hex(w->node->hash_key, key.base, key.len, hmac);
    snprintf(name, sizeof(name), "ah:key:%s", hmac);
    const char *argv[8] = {name};
    for (int i = 0; i != nargs && i != 7; ++i)
        argv[i + 1] = args[i];
    if (ah_redis_script(w->redis, script, 1, 1 + nargs, argv, NULL, cb, ctx) != 0) {
        ah_reply_error(req, 503, "api_error", "service_unavailable", unavailable, 0);
        return -1;
    }
    return 0;
}

int ah_client_key_refused(h2o_req_t *req, redisReply *reply, const char *err)
{
    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
        ah_reply_error(req, 503, "api_error", "service_unavailable", unavailable, 0);
        return 1;
    }
    if (strcmp(reply->element[0]->str, "ok") == 0)
        return 0;
    if (strcmp(reply->element[1]->str, "user_disabled") == 0)
        ah_reply_error(req, 403, "permission_error", "user_disabled", "the user of this API key is disabled", 0);
    else
        ah_reply_error(req, 401, "authentication_error", "invalid_api_key", unknown_key, 0);
    return 1;
}
