/*
 * Users (/api/users, /api/users/{id}) and their API keys (/api/users/{id}/keys,
 * /api/keys/{id}). Users and keys are Redis hashes read by the admission
 * script, not configuration: a change is in force on every node at once.
 * A new key is shown once; only its keyed hash (HMAC-SHA256 under a key
 * derived from AIHUB_SECRET_KEY) is stored, as the name of its record.
 */
#include <string.h>
#include "aihub/crypto.h"
#include "aihub/mask.h"
#include "handler/admin.h"
#include "http/reply.h"

#define KEY_RANDOM_CHARS 48

enum { F_STR, F_INT, F_BOOL, F_JSON, F_INT_OR_NULL };

typedef struct st_field_t {
    const char *name;
    int type;
} field_t;

static const field_t user_view_fields[] = {{"id", F_STR}, {"name", F_STR}, {"balance", F_INT}, {"rpm", F_INT}, {"tpm", F_INT},
                                           {"max_in_flight", F_INT}, {"enabled", F_BOOL}, {"created_at", F_INT}, {NULL, 0}};
static const field_t key_view_fields[] = {{"id", F_STR}, {"user_id", F_STR}, {"name", F_STR}, {"masked", F_STR}, {"rpm", F_INT},
                                          {"tpm", F_INT}, {"max_in_flight", F_INT}, {"models", F_JSON}, {"spend_limit_monthly", F_INT},
                                          {"enabled", F_BOOL}, {"expires_at", F_INT_OR_NULL}, {"created_at", F_INT},
                                          {"last_used_at", F_INT_OR_NULL}, {NULL, 0}};

/* a record (JSON object of strings, from a flat HGETALL) as its typed public view */
static json_t *typed_view(json_t *rec, const field_t *fields)
{
    json_t *view = json_object();
    for (const field_t *f = fields; f->name != NULL; ++f) {
        const char *s = json_string_value(json_object_get(rec, f->name));
        json_t *v;
        switch (f->type) {
        case F_STR:
            v = json_string(s != NULL ? s : "");
            break;
        case F_INT:
            v = json_integer(s != NULL ? atoll(s) : 0);
            break;
        case F_INT_OR_NULL:
            v = s != NULL && atoll(s) != 0 ? json_integer(atoll(s)) : json_null();
            break;
        case F_BOOL:
            v = json_boolean(s != NULL && strcmp(s, "1") == 0);
            break;
        default: {
            json_error_t jerr;
            v = s != NULL && s[0] != '\0' ? json_loads(s, 0, &jerr) : NULL;
            if (v == NULL)
                v = json_array();
        }
        }
        json_object_set_new(view, f->name, v);
    }
    return view;
}

/* validated body fields as flat "field","value" strings appended to argv (pool memory); returns the complaint or NULL */
static const char *flatten(h2o_req_t *req, json_t *in, const char *const *allowed, const char **argv, int *argc, char *buf, size_t cap)
{
    const char *unknown = ah_unknown_field(in, allowed), *k, *e;
    json_t *v;
    if (unknown != NULL) {
        snprintf(buf, cap, "unknown field '%.100s'", unknown);
        return buf;
    }
    json_object_foreach(in, k, v)
    {
        const char *val;
        if (strcmp(k, "name") == 0) {
            if ((e = ah_check_string(v, "name", 1, 100, buf, cap)) != NULL)
                return e;
            continue; /* passed separately: it is unique */
        } else if (strcmp(k, "enabled") == 0) {
            if ((e = ah_check_bool(v, "enabled", buf, cap)) != NULL)
                return e;
            val = json_is_true(v) ? "1" : "0";
        } else if (strcmp(k, "models") == 0) {
            if (json_is_null(v))
                v = json_array();
            else
                json_incref(v);
            e = ah_check_string_array(v, "models", 0, buf, cap);
            if (e != NULL) {
                json_decref(v);
                return e;
            }
            char *text = json_dumps(v, JSON_COMPACT);
            json_decref(v);
            val = h2o_strdup(&req->pool, text, SIZE_MAX).base;
            free(text);
        } else {
            int64_t max = strcmp(k, "expires_at") == 0 ? 253402300799LL : (int64_t)1 << 52;
            if (json_is_null(v) && strcmp(k, "expires_at") == 0)
                v = json_integer(0);
            else
                json_incref(v);
            e = ah_check_int(v, k, 0, max, buf, cap);
            int64_t n = json_integer_value(v);
            json_decref(v);
            if (e != NULL)
                return e;
            val = ah_admin_int_str(req, n);
        }
        argv[(*argc)++] = h2o_strdup(&req->pool, k, SIZE_MAX).base; /* in may be released before the call */
        argv[(*argc)++] = val;
    }
    return NULL;
}

/* ---- users ---- */

static const char *const user_create_fields[] = {"name", "balance", "rpm", "tpm", "max_in_flight", "enabled", NULL};
static const char *const user_update_fields[] = {"name", "rpm", "tpm", "max_in_flight", "enabled", NULL};

static void on_user_read(ah_admin_op_t *op, redisReply *reply)
{
    json_t *rec = ah_admin_flat_to_object(reply);
    if (json_object_size(rec) == 0)
        ah_admin_reply_not_found(op->super.req, "user");
    else
        ah_reply_json(op->super.req, op->limit == 201 ? 201 : 200, typed_view(rec, user_view_fields));
    json_decref(rec);
    ah_admin_op_free(op);
}

static void read_user(ah_admin_op_t *op)
{
    const char *argv[] = {op->id2, "hash"};
    ah_admin_call(op, AH_SCRIPT_RECORD_GET, 1, 2, argv, on_user_read);
}

static void on_user_credited(ah_admin_op_t *op, redisReply *reply)
{
    read_user(op);
}

static void on_user_saved_then_read(ah_admin_op_t *op, redisReply *reply)
{
    if (ah_admin_reply_refusal(op->super.req, reply, "user")) {
        ah_admin_op_free(op);
        return;
    }
    /* an initial balance is a top-up like any other: through the ledger */
    json_int_t initial = json_integer_value(op->extra);
    if (initial > 0) {
        ah_admin_credit(op, initial, "initial balance", "", on_user_credited);
        return;
    }
    read_user(op);
}

static void save_user(h2o_req_t *req, json_t *in, const char *mode, const char *id, const char *const *allowed)
{
    char buf[256];
    const char *argv[64];
    int argc = 0;
    const char *name = json_string_value(json_object_get(in, "name"));
    if (name != NULL)
        name = h2o_strdup(&req->pool, name, SIZE_MAX).base; /* in is released below */
    argv[argc++] = "";
    argv[argc++] = "ah:user_names";
    argv[argc++] = "ah:users";
    argv[argc++] = mode;
    argv[argc++] = id;
    argv[argc++] = name != NULL ? name : "";
    if (strcmp(mode, "create") == 0) {
        argv[argc++] = "enabled", argv[argc++] = "1";
        argv[argc++] = "balance", argv[argc++] = "0";
        argv[argc++] = "credited", argv[argc++] = "0";
        argv[argc++] = "held", argv[argc++] = "0";
        argv[argc++] = "spent", argv[argc++] = "0";
        argv[argc++] = "rpm", argv[argc++] = "0";
        argv[argc++] = "tpm", argv[argc++] = "0";
        argv[argc++] = "max_in_flight", argv[argc++] = "0";
        argv[argc++] = "created_at", argv[argc++] = ah_admin_int_str(req, ah_now_ms() / 1000);
    }
    json_t *balance = json_incref(json_object_get(in, "balance"));
    json_object_del(in, "balance");
    const char *complaint = flatten(req, in, allowed, argv, &argc, buf, sizeof(buf));
    if (complaint == NULL && strcmp(mode, "create") == 0 && name == NULL)
        complaint = "'name' is required";
    if (complaint == NULL && balance != NULL)
        complaint = ah_check_int(balance, "balance", 0, 999999999999999LL, buf, sizeof(buf)); /* what the credits script takes */
    json_decref(in);
    if (complaint != NULL)
        json_decref(balance);
    if (complaint != NULL) {
        ah_admin_reply_bad(req, "%s", complaint);
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    op->extra = balance;
    snprintf(op->id, sizeof(op->id), "%s", id);
    snprintf(op->id2, sizeof(op->id2), "ah:user:%s", id);
    op->limit = strcmp(mode, "create") == 0 ? 201 : 200;
    argv[0] = op->id2;
    ah_admin_call(op, AH_SCRIPT_RECORD_PUT, 3, argc, argv, on_user_saved_then_read);
}

void ah_handle_users_create(h2o_req_t *req, const ah_route_params_t *p)
{
    json_t *in = ah_admin_body(req);
    if (in == NULL)
        return;
    char id[40];
    ah_admin_new_id("usr_", id, sizeof(id));
    save_user(req, in, "create", h2o_strdup(&req->pool, id, SIZE_MAX).base, user_create_fields);
}

void ah_handle_user_update(h2o_req_t *req, const ah_route_params_t *p)
{
    char id[80];
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    json_t *in = ah_admin_body(req);
    if (in == NULL)
        return;
    if (json_object_get(in, "balance") != NULL) {
        json_decref(in);
        ah_admin_reply_bad(req, "a balance changes only through POST /api/users/{id}/credits, which records the change");
        return;
    }
    save_user(req, in, "update", h2o_strdup(&req->pool, id, SIZE_MAX).base, user_update_fields);
}

void ah_handle_user_get(h2o_req_t *req, const ah_route_params_t *p)
{
    char id[80];
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    ah_admin_op_t *op = ah_admin_op_new(req);
    snprintf(op->id2, sizeof(op->id2), "ah:user:%s", id);
    const char *argv[] = {op->id2, "hash"};
    ah_admin_call(op, AH_SCRIPT_RECORD_GET, 1, 2, argv, on_user_read);
}

static void on_list(ah_admin_op_t *op, redisReply *reply)
{
    json_t *data = json_array();
    const field_t *fields = op->limit == 1 ? key_view_fields : user_view_fields;
    for (size_t i = 1; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; ++i) {
        json_t *rec = ah_admin_flat_to_object(reply->element[i]);
        if (json_object_size(rec) != 0)
            json_array_append_new(data, typed_view(rec, fields));
        json_decref(rec);
    }
    const char *next = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 ? reply->element[0]->str : NULL;
    ah_reply_json(op->super.req, 200, ah_admin_list(data, next));
    ah_admin_op_free(op);
}

static void list_records(h2o_req_t *req, const char *zset, const char *prefix, int keys)
{
    int limit = ah_admin_limit(req);
    if (limit < 0)
        return;
    h2o_iovec_t before = ah_req_query(req, "before");
    ah_admin_op_t *op = ah_admin_op_new(req);
    op->limit = keys;
    const char *argv[] = {zset, prefix, before.base != NULL ? h2o_strdup(&req->pool, before.base, before.len).base : "",
                          ah_admin_int_str(req, limit)};
    ah_admin_call(op, AH_SCRIPT_RECORDS_LIST, 1, 4, argv, on_list);
}

void ah_handle_users_list(h2o_req_t *req, const ah_route_params_t *p)
{
    list_records(req, "ah:users", "ah:user:", 0);
}

static void on_user_deleted(ah_admin_op_t *op, redisReply *reply)
{
    if (!ah_admin_reply_refusal(op->super.req, reply, "user"))
        ah_reply_json(op->super.req, 200,
                      json_pack("{s:s, s:b, s:I}", "id", op->id, "deleted", 1, "keys_revoked", (json_int_t)reply->element[1]->integer));
    ah_admin_op_free(op);
}

void ah_handle_user_delete(h2o_req_t *req, const ah_route_params_t *p)
{
    char id[80];
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    ah_admin_op_t *op = ah_admin_op_new(req);
    snprintf(op->id, sizeof(op->id), "%s", id);
    snprintf(op->id2, sizeof(op->id2), "ah:user:%s", id);
    char *keys = h2o_mem_alloc_pool(&req->pool, 100);
    snprintf(keys, 100, "ah:user:%s:keys", id);
    const char *argv[] = {op->id2, "ah:user_names", "ah:users", keys, op->id};
    ah_admin_call(op, AH_SCRIPT_USER_DELETE, 4, 5, argv, on_user_deleted);
}

/* ---- keys ---- */

static const char *const key_fields[] = {"name", "rpm", "tpm", "max_in_flight", "models", "spend_limit_monthly", "expires_at", "enabled",
                                         NULL};

static void on_key_created(ah_admin_op_t *op, redisReply *reply)
{
    if (!ah_admin_reply_refusal(op->super.req, reply, "key")) {
        json_t *view = typed_view(op->obj, key_view_fields);
        json_object_set_new(view, "key", json_string(op->secret));
        ah_reply_json(op->super.req, 201, view);
    }
    ah_admin_op_free(op);
}

void ah_handle_keys_create(h2o_req_t *req, const ah_route_params_t *p)
{
    char uid[80], buf[256];
    if (ah_admin_path_id(req, p, 0, uid, sizeof(uid)) != 0)
        return;
    json_t *in = ah_admin_body(req);
    if (in == NULL)
        return;
    const char *argv[48];
    int argc = 6;
    const char *complaint = flatten(req, in, key_fields, argv, &argc, buf, sizeof(buf));
    if (complaint != NULL) {
        json_decref(in);
        ah_admin_reply_bad(req, "%s", complaint);
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    char hmac[65], masked[64], id[40];
    memcpy(op->secret, "sk-", 3);
    ah_crypto_random_token(op->secret + 3, KEY_RANDOM_CHARS);
    ah_crypto_hmac_hex(op->w->node->hash_key, op->secret, strlen(op->secret), hmac);
    ah_mask_secret(op->secret, masked, sizeof(masked));
    ah_admin_new_id("key_", id, sizeof(id));
    const char *name = json_string_value(json_object_get(in, "name"));
    /* defaults first, then the given fields (a later HSET pair wins) */
    op->obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "user_id", uid, "name",
                        name != NULL ? name : masked, "masked", masked, "enabled", "1", "rpm", "0", "tpm", "0", "max_in_flight", "0",
                        "models", "[]", "spend_limit_monthly", "0", "expires_at", "0", "created_at", ah_admin_int_str(req, ah_now_ms() / 1000));
    for (int i = 6; i + 1 < argc; i += 2)
        json_object_set_new(op->obj, argv[i], json_string(argv[i + 1]));
    json_decref(in);
    const char *full[64];
    int n = 0;
    full[n++] = h2o_strdup(&req->pool, "ah:key:", 7).base;
    char *k1 = h2o_mem_alloc_pool(&req->pool, 80), *k2 = h2o_mem_alloc_pool(&req->pool, 80), *k3 = h2o_mem_alloc_pool(&req->pool, 100),
         *k4 = h2o_mem_alloc_pool(&req->pool, 100);
    snprintf(k1, 80, "ah:key:%s", hmac);
    snprintf(k2, 80, "ah:keyid:%s", id);
    snprintf(k3, 100, "ah:user:%s:keys", uid);
    snprintf(k4, 100, "ah:user:%s", uid);
    n = 0;
    full[n++] = k1, full[n++] = k2, full[n++] = k3, full[n++] = k4;
    full[n++] = h2o_strdup(&req->pool, id, SIZE_MAX).base;
    full[n++] = h2o_strdup(&req->pool, hmac, SIZE_MAX).base;
    const char *fk;
    json_t *fv;
    json_object_foreach(op->obj, fk, fv)
    {
        if (strcmp(fk, "id") == 0)
            continue;
        full[n++] = fk;
        full[n++] = json_string_value(fv);
    }
    ah_admin_call(op, AH_SCRIPT_KEY_CREATE, 4, n, full, on_key_created);
}

static void on_user_for_keys(ah_admin_op_t *op, redisReply *reply)
{
    h2o_req_t *req = op->super.req;
    if (reply->type != REDIS_REPLY_INTEGER || reply->integer != 1) {
        ah_admin_reply_not_found(req, "user");
        ah_admin_op_free(op);
        return;
    }
    h2o_iovec_t before = ah_req_query(req, "before");
    const char *argv[] = {op->id2, "keyid", before.base != NULL ? h2o_strdup(&req->pool, before.base, before.len).base : "",
                          ah_admin_int_str(req, op->ok)};
    op->limit = 1; /* list keys */
    ah_admin_call(op, AH_SCRIPT_RECORDS_LIST, 1, 4, argv, on_list);
}

void ah_handle_keys_list(h2o_req_t *req, const ah_route_params_t *p)
{
    char uid[80];
    if (ah_admin_path_id(req, p, 0, uid, sizeof(uid)) != 0)
        return;
    int limit = ah_admin_limit(req);
    if (limit < 0)
        return;
    ah_admin_op_t *op = ah_admin_op_new(req);
    op->ok = (size_t)limit;
    snprintf(op->id, sizeof(op->id), "ah:user:%s", uid);
    snprintf(op->id2, sizeof(op->id2), "ah:user:%s:keys", uid);
    ah_admin_command(op, 2, (const char *[]){"EXISTS", op->id}, on_user_for_keys);
}

static void on_key_read(ah_admin_op_t *op, redisReply *reply)
{
    json_t *rec = ah_admin_flat_to_object(reply);
    if (json_object_size(rec) == 0)
        ah_admin_reply_not_found(op->super.req, "key");
    else
        ah_reply_json(op->super.req, 200, typed_view(rec, key_view_fields));
    json_decref(rec);
    ah_admin_op_free(op);
}

static void on_key_updated(ah_admin_op_t *op, redisReply *reply)
{
    if (ah_admin_reply_refusal(op->super.req, reply, "key")) {
        ah_admin_op_free(op);
        return;
    }
    const char *argv[] = {op->id2, "keyid"};
    ah_admin_call(op, AH_SCRIPT_RECORD_GET, 1, 2, argv, on_key_read);
}

void ah_handle_key_update(h2o_req_t *req, const ah_route_params_t *p)
{
    char id[80], buf[256];
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    json_t *in = ah_admin_body(req);
    if (in == NULL)
        return;
    const char *argv[48];
    int argc = 2;
    const char *complaint = flatten(req, in, key_fields, argv, &argc, buf, sizeof(buf));
    const char *name = json_string_value(json_object_get(in, "name"));
    if (complaint == NULL && name != NULL) {
        argv[argc++] = "name";
        argv[argc++] = h2o_strdup(&req->pool, name, SIZE_MAX).base;
    }
    json_decref(in);
    if (complaint != NULL) {
        ah_admin_reply_bad(req, "%s", complaint);
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    snprintf(op->id2, sizeof(op->id2), "ah:keyid:%s", id);
    argv[0] = op->id2;
    argv[1] = h2o_strdup(&req->pool, id, SIZE_MAX).base;
    ah_admin_call(op, AH_SCRIPT_KEY_UPDATE, 1, argc, argv, on_key_updated);
}

static void on_key_deleted(ah_admin_op_t *op, redisReply *reply)
{
    if (!ah_admin_reply_refusal(op->super.req, reply, "key"))
        ah_reply_json(op->super.req, 200, json_pack("{s:s, s:b}", "id", op->id, "deleted", 1));
    ah_admin_op_free(op);
}

void ah_handle_key_delete(h2o_req_t *req, const ah_route_params_t *p)
{
    char id[80];
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    ah_admin_op_t *op = ah_admin_op_new(req);
    snprintf(op->id, sizeof(op->id), "%s", id);
    snprintf(op->id2, sizeof(op->id2), "ah:keyid:%s", id);
    const char *argv[] = {op->id2, op->id};
    ah_admin_call(op, AH_SCRIPT_KEY_DELETE, 1, 2, argv, on_key_deleted);
}
