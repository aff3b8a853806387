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
    if (req == NULL || ah_client_key_refused(req, reply, err))
        return;
    ah_reply_raw(req, 200, "application/json", reply->element[1]->str, reply->element[1]->len);
}

void ah_handle_usage(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_async_t *ctx = ah_async_new(req, sizeof(*ctx));
    const char *args[] = {H2O_TO_STR(USAGE_RECENT), H2O_TO_STR(USAGE_SCAN)};
    if (ah_client_key_script(req, AH_SCRIPT_USAGE_VIEW, 2, args, on_usage, ctx) != 0)
        ah_async_free(ctx);
}
