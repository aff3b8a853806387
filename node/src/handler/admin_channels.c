/*
 * /api/channels: create, list, read, change (partial PUT) and delete provider
 * channels. Stored as JSON in ah:cfg:channels; secrets inside a channel
 * (header values, proxy credentials) are sealed with AES-256-GCM and only a
 * masked copy is ever returned. Every change bumps the configuration version,
 * so all nodes pick it up.
 */
#include <string.h>
#include "aihub/crypto.h"
#include "aihub/mask.h"
#include "config/snapshot.h"
#include "handler/admin.h"
#include "http/reply.h"

static const char *const channel_fields[] = {"name", "type", "base_url", "models", "weight", "priority", "enabled", "timeout_ms",
                                             "stream_idle_timeout_ms", "cooldowns", "headers", "params", "status_map", "proxy",
                                             "api_version", "deployments", NULL};

static const char *check_headers(json_t *v, char *buf, size_t cap)
{
    const char *k;
    json_t *val;
    if (!json_is_object(v))
        return "'headers' must be an object of header names to string values";
    json_object_foreach(v, k, val)
    {
        int ok = k[0] != '\0' && strlen(k) < 128 && json_is_string(val) && json_string_length(val) < 4096;
        for (const char *c = k; ok && *c; ++c)
            ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("-_!#$%&'*+.^`|~", *c);
        for (const char *c = ok ? json_string_value(val) : ""; ok && *c; ++c)
            ok = *c != '\r' && *c != '\n';
        if (!ok) {
            snprintf(buf, cap, "header '%.100s' must be a valid name with a single-line string value", k);
            return buf;
        }
    }
    return NULL;
}

static const char *check_cooldowns(json_t *v, char *buf, size_t cap)
{
    static const char *const allowed[] = {"429", "5xx", "timeout", NULL};
    const char *k;
    json_t *val;
    if (!json_is_object(v) || ah_unknown_field(v, allowed) != NULL)
        return "'cooldowns' must be an object with any of \"429\", \"5xx\", \"timeout\" (seconds)";
    json_object_foreach(v, k, val)
    {
        if (ah_check_int(val, k, 0, 30 * 86400, buf, cap) != NULL)
            return buf;
    }
    return NULL;
}

static const char *check_params(json_t *v)
{
    static const char *const allowed[] = {"set", "remove", NULL};
    json_t *set = json_object_get(v, "set"), *rm = json_object_get(v, "remove");
    if (!json_is_object(v) || ah_unknown_field(v, allowed) != NULL || (set != NULL && !json_is_object(set)))
        return "'params' must be {\"set\": {...}, \"remove\": [...]}";
    if (rm != NULL) {
        size_t i;
        json_t *e;
        if (!json_is_array(rm))
            return "'params.remove' must be an array of field names";
        json_array_foreach(rm, i, e)
        {
            if (!json_is_string(e))
                return "'params.remove' must be an array of field names";
        }
    }
    return NULL;
}

static const char *check_status_map(json_t *v, char *buf, size_t cap)
{
    const char *k;
    json_t *val;
    if (!json_is_object(v))
        return "'status_map' must be an object such as {\"400\": 500}";
    json_object_foreach(v, k, val)
    {
        int64_t from;
        if (strlen(k) != 3 || ah_parse_int64(k, 3, &from) != 0 || from < 100 || from > 599 ||
            ah_check_int(val, "status_map value", 100, 599, buf, cap) != NULL) {
            snprintf(buf, cap, "'status_map' maps statuses 100..599 to statuses 100..599; '%.10s' is not valid", k);
            return buf;
        }
    }
    return NULL;
}

static const char *check_url(json_t *v, const char *field, const char *const *schemes, char *buf, size_t cap)
{
    if (ah_check_string(v, field, 1, 2048, buf, cap) == NULL) {
        const char *s = json_string_value(v);
        for (const char *const *p = schemes; *p != NULL; ++p)
            if (strncmp(s, *p, strlen(*p)) == 0 && strlen(s) > strlen(*p) && strpbrk(s, " \r\n\t") == NULL)
                return NULL;
    }
    snprintf(buf, cap, "'%s' must be a URL starting with %s%s", field, schemes[0], schemes[1] != NULL ? " or another supported scheme" : "");
    return buf;
}

/* checks every given field of a channel body; create also needs the required ones */
static const char *check_channel(json_t *in, int create, char *buf, size_t cap)
{
    static const char *const http_schemes[] = {"http://", "https://", NULL};
    static const char *const proxy_schemes[] = {"http://", "https://", "socks5://", "socks5h://", NULL};
    const char *unknown = ah_unknown_field(in, channel_fields), *e;
    json_t *v;
    if (unknown != NULL) {
        snprintf(buf, cap, "unknown field '%.100s'", unknown);
        return buf;
    }
    if (create) {
        static const char *const required[] = {"name", "type", "base_url", "models", NULL};
        for (const char *const *r = required; *r != NULL; ++r)
            if (json_object_get(in, *r) == NULL) {
                snprintf(buf, cap, "'%s' is required", *r);
                return buf;
            }
    }
    if ((v = json_object_get(in, "name")) != NULL && (e = ah_check_string(v, "name", 1, 100, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "type")) != NULL && (!json_is_string(v) || ah_channel_type_from_name(json_string_value(v)) < 0))
        return "'type' must be one of openai, openai-compatible, anthropic, gemini, azure";
    if ((v = json_object_get(in, "base_url")) != NULL && (e = check_url(v, "base_url", http_schemes, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "models")) != NULL && (e = ah_check_string_array(v, "models", 1, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "weight")) != NULL && (e = ah_check_int(v, "weight", 0, 1000000, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "priority")) != NULL && (e = ah_check_int(v, "priority", -1000000, 1000000, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "enabled")) != NULL && (e = ah_check_bool(v, "enabled", buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "timeout_ms")) != NULL && (e = ah_check_int(v, "timeout_ms", 1, 3600000, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "stream_idle_timeout_ms")) != NULL &&
        (e = ah_check_int(v, "stream_idle_timeout_ms", 1, 3600000, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "cooldowns")) != NULL && !json_is_null(v) && (e = check_cooldowns(v, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "headers")) != NULL && !json_is_null(v) && (e = check_headers(v, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "params")) != NULL && !json_is_null(v) && (e = check_params(v)) != NULL)
        return e;
    if ((v = json_object_get(in, "status_map")) != NULL && !json_is_null(v) && (e = check_status_map(v, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "proxy")) != NULL && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0) &&
        (e = check_url(v, "proxy", proxy_schemes, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "api_version")) != NULL && !json_is_null(v) && (e = ah_check_string(v, "api_version", 1, 64, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "deployments")) != NULL && !json_is_null(v)) {
        const char *k;
        json_t *d;
        if (!json_is_object(v))
            return "'deployments' must be an object of model names to deployment names";
        json_object_foreach(v, k, d)
        {
            if ((e = ah_check_string(d, "deployments value", 1, 256, buf, cap)) != NULL)
                return e;
        }
    }
    return NULL;
}

/* merges the given fields into the stored form, sealing secrets; -1 when sealing failed */
static int apply_channel(json_t *stored, json_t *in, const uint8_t key[32])
{
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        if (strcmp(k, "headers") == 0) {
            json_object_del(stored, "headers");
            json_object_del(stored, "headers_enc");
            if (json_is_null(v) || json_object_size(v) == 0)
                continue;
            char *text = json_dumps(v, JSON_COMPACT), *sealed = ah_crypto_seal(key, text, strlen(text));
            free(text);
            if (sealed == NULL)
                return -1;
            json_object_set_new(stored, "headers_enc", json_string(sealed));
            free(sealed);
            json_t *masked = json_object();
            const char *hk;
            json_t *hv;
            json_object_foreach(v, hk, hv)
            {
                char m[64];
                ah_mask_secret(json_string_value(hv), m, sizeof(m));
                json_object_set_new(masked, hk, json_string(m));
            }
            json_object_set_new(stored, "headers", masked);
        } else if (strcmp(k, "proxy") == 0) {
            json_object_del(stored, "proxy");
            json_object_del(stored, "proxy_enc");
            if (!json_is_string(v) || json_string_length(v) == 0)
                continue;
            char *sealed = ah_crypto_seal(key, json_string_value(v), json_string_length(v)), masked[2100];
            if (sealed == NULL)
                return -1;
            json_object_set_new(stored, "proxy_enc", json_string(sealed));
            free(sealed);
            ah_mask_url_credentials(json_string_value(v), masked, sizeof(masked));
            json_object_set_new(stored, "proxy", json_string(masked));
        } else if (json_is_null(v)) {
            json_object_del(stored, k);
        } else {
            json_object_set(stored, k, v);
        }
    }
    return 0;
}

/* the public view of a stored channel (caller owns) */
static json_t *channel_view(json_t *stored)
{
    json_t *view = json_deep_copy(stored);
    json_object_del(view, "headers_enc");
    json_object_del(view, "proxy_enc");
    return view;
}


/* ---- create ---- */

static void on_created(ah_admin_op_t *op, redisReply *reply)
{
    if (!ah_admin_reply_refusal(op->super.req, reply, "channel"))
        ah_reply_json(op->super.req, 201, channel_view(op->obj));
    ah_admin_op_free(op);
}

static void put_channel(ah_admin_op_t *op, const char *mode, const char *old_name, ah_admin_cont cont)
{
    h2o_req_t *req = op->super.req;
    char *text = json_dumps(op->obj, JSON_COMPACT | JSON_SORT_KEYS);
    const char *name = json_string_value(json_object_get(op->obj, "name"));
    char *unique = h2o_mem_alloc_pool(&req->pool, strlen(name) + 9), *old = "";
    sprintf(unique, "channel:%s", name);
    if (old_name != NULL && strcmp(old_name, name) != 0) {
        old = h2o_mem_alloc_pool(&req->pool, strlen(old_name) + 9);
        sprintf(old, "channel:%s", old_name);
    }
    h2o_iovec_t t = h2o_strdup(&req->pool, text, SIZE_MAX);
    free(text);
    const char *argv[] = {"ah:cfg:channels", "ah:cfg:names", "ah:cfg:ver", op->id, t.base, unique, old, mode};
    ah_admin_call(op, AH_SCRIPT_CONFIG_PUT, 3, 8, argv, cont);
}

void ah_handle_channels_create(h2o_req_t *req, const ah_route_params_t *p)
{
    json_t *in = ah_admin_body(req);
    char buf[256];
    if (in == NULL)
        return;
    const char *complaint = check_channel(in, 1, buf, sizeof(buf));
    if (complaint != NULL) {
        json_decref(in);
        ah_admin_reply_bad(req, "%s", complaint);
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    ah_admin_new_id("ch_", op->id, sizeof(op->id));
    op->obj = json_pack("{s:s, s:i, s:i, s:b, s:i, s:i, s:I}", "id", op->id, "weight", 1, "priority", 0, "enabled", 1, "timeout_ms",
                        60000, "stream_idle_timeout_ms", 120000, "created_at", (json_int_t)(ah_now_ms() / 1000));
    int rv = apply_channel(op->obj, in, op->w->node->enc_key);
    json_decref(in);
    if (rv != 0) {
        ah_reply_error(req, 500, "api_error", "internal_error", "cannot seal the channel's secrets", 0);
        ah_admin_op_free(op);
        return;
    }
    put_channel(op, "create", NULL, on_created);
}

/* ---- list and read ---- */


static void on_all(ah_admin_op_t *op, redisReply *reply)
{
    h2o_req_t *req = op->super.req;
    size_t n = reply->type == REDIS_REPLY_ARRAY ? reply->elements / 2 : 0, m = 0;
    json_t **items = h2o_mem_alloc_pool(&req->pool, sizeof(json_t *) * (n + 1));
    for (size_t i = 0; i != n; ++i) {
        json_t *c = ah_admin_parse_object(reply->element[2 * i + 1]->str, reply->element[2 * i + 1]->len);
        if (c != NULL && op->id[0] != '\0' && strcmp(reply->element[2 * i]->str, op->id) >= 0) {
            json_decref(c);
            continue;
        }
        if (c != NULL)
            items[m++] = c;
    }
    qsort(items, m, sizeof(*items), ah_admin_by_id_desc);
    json_t *data = json_array();
    const char *next = NULL;
    for (size_t i = 0; i != m; ++i) {
        if ((int)i < op->limit)
            json_array_append_new(data, channel_view(items[i]));
        if ((int)i == op->limit - 1 && i + 1 < m)
            next = h2o_strdup(&req->pool, json_string_value(json_object_get(items[i], "id")), SIZE_MAX).base;
        json_decref(items[i]);
    }
    ah_reply_json(req, 200, ah_admin_list(data, next));
    ah_admin_op_free(op);
}

void ah_handle_channels_list(h2o_req_t *req, const ah_route_params_t *p)
{
    int limit = ah_admin_limit(req);
    if (limit < 0)
        return;
    ah_admin_op_t *op = ah_admin_op_new(req);
    op->limit = limit;
    h2o_iovec_t before = ah_req_query(req, "before");
    if (before.base != NULL)
        snprintf(op->id, sizeof(op->id), "%.*s", (int)(before.len < 64 ? before.len : 64), before.base);
    ah_admin_command(op, 2, (const char *[]){"HGETALL", "ah:cfg:channels"}, on_all);
}

static void on_one(ah_admin_op_t *op, redisReply *reply)
{
    json_t *c = reply->type == REDIS_REPLY_STRING ? ah_admin_parse_object(reply->str, reply->len) : NULL;
    if (c == NULL)
        ah_admin_reply_not_found(op->super.req, "channel");
    else
        ah_reply_json(op->super.req, 200, channel_view(c));
    json_decref(c);
    ah_admin_op_free(op);
}

void ah_handle_channel_get(h2o_req_t *req, const ah_route_params_t *p)
{
    char id[80];
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    ah_admin_op_t *op = ah_admin_op_new(req);
    ah_admin_command(op, 3, (const char *[]){"HGET", "ah:cfg:channels", id}, on_one);
}

/* ---- update ---- */

static void on_updated(ah_admin_op_t *op, redisReply *reply)
{
    if (!ah_admin_reply_refusal(op->super.req, reply, "channel"))
        ah_reply_json(op->super.req, 200, channel_view(op->obj));
    ah_admin_op_free(op);
}

static void on_current(ah_admin_op_t *op, redisReply *reply)
{
    h2o_req_t *req = op->super.req;
    json_t *stored = reply->type == REDIS_REPLY_STRING ? ah_admin_parse_object(reply->str, reply->len) : NULL;
    if (stored == NULL) {
        ah_admin_reply_not_found(req, "channel");
        ah_admin_op_free(op);
        return;
    }
    char old_name[128];
    snprintf(old_name, sizeof(old_name), "%s", json_string_value(json_object_get(stored, "name")) ?: "");
    json_t *in = op->extra;
    op->extra = NULL;
    int rv = apply_channel(stored, in, op->w->node->enc_key);
    json_decref(in);
    op->obj = stored;
    if (rv != 0) {
        ah_reply_error(req, 500, "api_error", "internal_error", "cannot seal the channel's secrets", 0);
        ah_admin_op_free(op);
        return;
    }
    put_channel(op, "update", old_name, on_updated);
}

void ah_handle_channel_update(h2o_req_t *req, const ah_route_params_t *p)
{
    char id[80], buf[256];
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    json_t *in = ah_admin_body(req);
    if (in == NULL)
        return;
    const char *complaint = check_channel(in, 0, buf, sizeof(buf));
    if (complaint == NULL && (json_is_null(json_object_get(in, "name")) || json_is_null(json_object_get(in, "type")) ||
                              json_is_null(json_object_get(in, "base_url")) || json_is_null(json_object_get(in, "models"))))
        complaint = "name, type, base_url and models cannot be removed";
    if (complaint != NULL) {
        json_decref(in);
        ah_admin_reply_bad(req, "%s", complaint);
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    snprintf(op->id, sizeof(op->id), "%s", id);
    op->extra = in;
    ah_admin_command(op, 3, (const char *[]){"HGET", "ah:cfg:channels", id}, on_current);
}

/* ---- delete ---- */

static void on_deleted(ah_admin_op_t *op, redisReply *reply)
{
    if (!ah_admin_reply_refusal(op->super.req, reply, "channel")) {
        json_int_t n = reply->elements >= 3 ? reply->element[2]->integer : 0;
        ah_reply_json(op->super.req, 200, json_pack("{s:s, s:b, s:I}", "id", op->id, "deleted", 1, "accounts_deleted", n));
    }
    ah_admin_op_free(op);
}

void ah_handle_channel_delete(h2o_req_t *req, const ah_route_params_t *p)
{
    char id[80];
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    ah_admin_op_t *op = ah_admin_op_new(req);
    snprintf(op->id, sizeof(op->id), "%s", id);
    const char *argv[] = {"ah:cfg:channels", "ah:cfg:accounts", "ah:cfg:names", "ah:cfg:ver", op->id};
    ah_admin_call(op, AH_SCRIPT_CHANNEL_DELETE, 4, 5, argv, on_deleted);
}
