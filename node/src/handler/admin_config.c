/*
 * /api/model-map (alias -> upstream models; PUT replaces the whole map) and
 * /api/settings (partial PUT over the defaults). Both are configuration:
 * stored as JSON text, versioned, and pushed to every node.
 */
#include <string.h>
#include "handler/admin.h"
#include "http/reply.h"

static json_t *parse_object(redisReply *reply)
{
    json_error_t jerr;
    json_t *v = reply->type == REDIS_REPLY_STRING ? json_loadb(reply->str, reply->len, 0, &jerr) : NULL;
    if (!json_is_object(v)) {
        json_decref(v);
        v = json_object();
    }
    return v;
}

static void on_saved(ah_admin_op_t *op, redisReply *reply)
{
    ah_reply_json(op->super.req, 200, json_incref(op->obj));
    ah_admin_op_free(op);
}

static void save(ah_admin_op_t *op, const char *key)
{
    char *text = json_dumps(op->obj, JSON_COMPACT | JSON_SORT_KEYS);
    h2o_iovec_t t = h2o_strdup(&op->super.req->pool, text, SIZE_MAX);
    free(text);
    const char *argv[] = {key, "ah:cfg:ver", t.base};
    ah_admin_call(op, AH_SCRIPT_CONFIG_SET, 2, 3, argv, on_saved);
}

/* ---- model map ---- */

static void on_modelmap(ah_admin_op_t *op, redisReply *reply)
{
    ah_reply_json(op->super.req, 200, parse_object(reply));
    ah_admin_op_free(op);
}

void ah_handle_modelmap_get(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_admin_op_t *op = ah_admin_op_new(req);
    ah_admin_command(op, 2, (const char *[]){"GET", "ah:cfg:modelmap"}, on_modelmap);
}

void ah_handle_modelmap_put(h2o_req_t *req, const ah_route_params_t *p)
{
    json_t *in = ah_admin_body(req);
    if (in == NULL)
        return;
    const char *alias;
    json_t *v;
    char buf[256];
    json_object_foreach(in, alias, v)
    {
        if (alias[0] == '\0' || strlen(alias) > 256 || ah_check_string_array(v, "model map entry", 1, buf, sizeof(buf)) != NULL) {
            ah_admin_reply_bad(req, "the model map is {\"alias\": [\"upstream-model\", ...]}: '%.100s' needs one or more model names", alias);
            json_decref(in); /* owns alias */
            return;
        }
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    op->obj = in;
    save(op, "ah:cfg:modelmap");
}

/* ---- settings ---- */

static json_t *settings_defaults(void)
{
    return json_pack("{s:i, s:i, s:i, s:{s:i, s:i, s:i}, s:i, s:i, s:i}", "global_rpm", 0, "global_tpm", 0, "max_retries", 3, "cooldowns",
                     "429", 60, "5xx", 300, "timeout", 120, "hold_ttl_s", 600, "default_max_tokens", 4096, "log_max_entries", 1000000);
}

static const char *check_settings(json_t *in, char *buf, size_t cap)
{
    static const char *const allowed[] = {"global_rpm", "global_tpm", "max_retries", "cooldowns", "hold_ttl_s", "default_max_tokens",
                                          "log_max_entries", NULL};
    static const char *const cooldown_fields[] = {"429", "5xx", "timeout", NULL};
    const char *unknown = ah_unknown_field(in, allowed), *e;
    json_t *v;
    if (unknown != NULL) {
        snprintf(buf, cap, "unknown setting '%.100s'", unknown);
        return buf;
    }
    if ((v = json_object_get(in, "global_rpm")) != NULL && (e = ah_check_int(v, "global_rpm", 0, 1000000000, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "global_tpm")) != NULL && (e = ah_check_int(v, "global_tpm", 0, 1000000000000LL, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "max_retries")) != NULL && (e = ah_check_int(v, "max_retries", 0, 20, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "hold_ttl_s")) != NULL && (e = ah_check_int(v, "hold_ttl_s", 10, 86400, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "default_max_tokens")) != NULL && (e = ah_check_int(v, "default_max_tokens", 1, 10000000, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "log_max_entries")) != NULL && (e = ah_check_int(v, "log_max_entries", 1000, 1000000000, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "cooldowns")) != NULL) {
        const char *k;
        json_t *s;
        if (!json_is_object(v) || ah_unknown_field(v, cooldown_fields) != NULL)
            return "'cooldowns' must be an object with any of \"429\", \"5xx\", \"timeout\" (seconds)";
        json_object_foreach(v, k, s)
        {
            if ((e = ah_check_int(s, k, 0, 30 * 86400, buf, cap)) != NULL)
                return e;
        }
    }
    return NULL;
}

static void on_settings(ah_admin_op_t *op, redisReply *reply)
{
    json_t *merged = settings_defaults(), *stored = parse_object(reply);
    json_t *cd = json_deep_copy(json_object_get(merged, "cooldowns"));
    if (json_is_object(json_object_get(stored, "cooldowns")))
        json_object_update(cd, json_object_get(stored, "cooldowns"));
    json_object_update(merged, stored);
    json_object_set_new(merged, "cooldowns", cd);
    json_decref(stored);
    if (op->extra == NULL) {
        ah_reply_json(op->super.req, 200, merged);
        ah_admin_op_free(op);
        return;
    }
    /* PUT: the given fields over what is in force (cooldowns merged field by field) */
    json_t *in = op->extra, *incd = json_object_get(in, "cooldowns");
    if (incd != NULL)
        json_object_update(json_object_get(merged, "cooldowns"), incd);
    json_object_del(in, "cooldowns");
    json_object_update(merged, in);
    op->obj = merged;
    save(op, "ah:cfg:settings");
}

void ah_handle_settings_get(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_admin_op_t *op = ah_admin_op_new(req);
    ah_admin_command(op, 2, (const char *[]){"GET", "ah:cfg:settings"}, on_settings);
}

void ah_handle_settings_put(h2o_req_t *req, const ah_route_params_t *p)
{
    char buf[256];
    json_t *in = ah_admin_body(req);
    if (in == NULL)
        return;
    const char *complaint = check_settings(in, buf, sizeof(buf));
    if (complaint != NULL) {
        json_decref(in);
        ah_admin_reply_bad(req, "%s", complaint);
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    op->extra = in;
    ah_admin_command(op, 2, (const char *[]){"GET", "ah:cfg:settings"}, on_settings);
}
