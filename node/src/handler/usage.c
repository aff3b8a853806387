/*
 * GET /v1/usage: the calling key's own view — its user's balance, the key's
 * and user's limits with what remains of them, spend today and this month,
 * and its last requests. One read-only script call builds the answer.
 */
#include <string.h>
#include "aihub/crypto.h"
#include "handler/client_auth.h"
#include "handler/routes.h"
#include "http/async.h"
#include "http/reply.h"
#include "node.h"

#define USAGE_RECENT 10
#define USAGE_SCAN 2000

static void on_usage(void *ud, redisReply *reply, const char *err)
{
    ah_async_t *ctx = ud;
    h2o_req_t *req = ctx->req;
    ah_async_free(ctx);
    if (req == NULL)
        return;
    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
        ah_reply_error(req, 503, "api_error", "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly", 0);
        return;
    }
    if (strcmp(reply->element[0]->str, "ok") != 0) {
        if (strcmp(reply->element[1]->str, "user_disabled") == 0)
            ah_reply_error(req, 403, "permission_error", "user_disabled", "the user of this API key is disabled", 0);
        else
            ah_reply_error(req, 401, "authentication_error", "invalid_api_key", "the API key is missing, unknown, disabled or expired", 0);
        return;
    }
    ah_reply_raw(req, 200, "application/json", reply->element[1]->str, reply->element[1]->len);
}

void ah_handle_usage(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_worker_t *w = ah_worker_of_req(req);
    h2o_iovec_t key = ah_client_key(req);
    if (key.base == NULL || !ah_client_key_well_formed(key)) {
        ah_reply_error(req, 401, "authentication_error", "invalid_api_key", "the API key is missing, unknown, disabled or expired", 0);
        return;
    }
    char hmac[65], name[80];
    ah_crypto_hmac_hex(w->node->hash_key, key.base, key.len, hmac);
    snprintf(name, sizeof(name), "ah:key:%s", hmac);
    ah_async_t *ctx = ah_async_new(req, sizeof(*ctx));
    const char *argv[] = {name, H2O_TO_STR(USAGE_RECENT), H2O_TO_STR(USAGE_SCAN)};
    if (ah_redis_script(w->redis, AH_SCRIPT_USAGE_VIEW, 1, 3, argv, NULL, on_usage, ctx) != 0) {
        ah_async_free(ctx);
        ah_reply_error(req, 503, "api_error", "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly", 0);
    }
}
