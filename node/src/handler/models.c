/*
 * GET /v1/models: the aliases and upstream model names this key may use, in
 * OpenAI's list shape. One read-only script call checks the key.
 */
#include <string.h>
#include "aihub/crypto.h"
#include "config/snapshot.h"
#include "handler/client_auth.h"
#include "handler/routes.h"
#include "http/async.h"
#include "http/reply.h"
#include "node.h"
#include "router/candidates.h"

typedef struct st_models_ctx_t {
    ah_async_t super;
} models_ctx_t;

static int allowed(json_t *restriction, const char *name)
{
    if (!json_is_array(restriction) || json_array_size(restriction) == 0)
        return 1;
    size_t i;
    json_t *v;
    json_array_foreach(restriction, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return 1;
    }
    return 0;
}

static void on_key(void *ud, redisReply *reply, const char *err)
{
    models_ctx_t *ctx = ud;
    h2o_req_t *req = ctx->super.req;
    ah_async_free(ctx);
    if (req == NULL || ah_client_key_refused(req, reply, err))
        return;
    json_error_t jerr;
    json_t *restriction = reply->elements >= 4 ? json_loads(reply->element[3]->str, 0, &jerr) : NULL;
    ah_snapshot_t *snap = ah_snapshot_acquire();
    json_t *names = ah_router_model_names(snap), *data = json_array(), *v;
    size_t i;
    json_array_foreach(names, i, v)
    {
        const char *name = json_string_value(v);
        if (allowed(restriction, name))
            json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}", "id", name, "object", "model", "created", 0, "owned_by", "aihub"));
    }
    json_decref(names);
    json_decref(restriction);
    ah_snapshot_release(&snap);
    ah_reply_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

void ah_handle_models(h2o_req_t *req, const ah_route_params_t *p)
{
    models_ctx_t *ctx = ah_async_new(req, sizeof(*ctx));
    if (ah_client_key_script(req, AH_SCRIPT_KEY_CHECK, 0, NULL, on_key, ctx) != 0)
        ah_async_free(ctx);
}
