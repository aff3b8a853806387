/*
 * Provider accounts: /api/channels/{id}/accounts (list, create, bulk import),
 * /api/accounts/{id} (change, delete) and /api/accounts/{id}/reset.
 * The provider key is sealed at rest (key_enc); a keyed hash (key_hmac)
 * detects the same key twice in one channel; only a masked copy is returned.
 * Live state (cooling, disabled, counters) is read from ah:acct:<id>.
 */
#include <string.h>
#include "aihub/crypto.h"
#include "aihub/mask.h"
#include "handler/admin.h"
#include "http/reply.h"

#define MAX_IMPORT 10000

static const char *const account_fields[] = {"key", "name", "weight", "enabled", "rpm", "tpm", NULL};

static const char *check_account(json_t *in, int create, char *buf, size_t cap)
{
    const char *unknown = ah_unknown_field(in, account_fields), *e;
    json_t *v;
    if (unknown != NULL) {
        snprintf(buf, cap, "unknown field '%.100s'", unknown);
        return buf;
    }
    if (create && json_object_get(in, "key") == NULL)
        return "'key' (the provider's secret) is required";
    if ((v = json_object_get(in, "key")) != NULL) {
        if ((e = ah_check_string(v, "key", 1, 4096, buf, cap)) != NULL)
            return e;
        const char *k = json_string_value(v);
        if (strpbrk(k, "\r\n") != NULL)
            return "'key' must be a single line";
        if (k[0] == ' ' || k[0] == '\t' || k[strlen(k) - 1] == ' ' || k[strlen(k) - 1] == '\t')
            return "'key' must not start or end with white space";
    }
    if ((v = json_object_get(in, "name")) != NULL && (e = ah_check_string(v, "name", 1, 100, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "weight")) != NULL && (e = ah_check_int(v, "weight", 0, 1000000, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "enabled")) != NULL && (e = ah_check_bool(v, "enabled", buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "rpm")) != NULL && (e = ah_check_int(v, "rpm", 0, 1000000000, buf, cap)) != NULL)
        return e;
    if ((v = json_object_get(in, "tpm")) != NULL && (e = ah_check_int(v, "tpm", 0, 1000000000000LL, buf, cap)) != NULL)
        return e;
    return NULL;
}

/* merges given fields into the stored account, sealing a new key; -1 when sealing failed */
static int apply_account(json_t *stored, json_t *in, const ah_node_t *node)
{
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        if (strcmp(k, "key") != 0) {
            json_object_set(stored, k, v);
            continue;
        }
        const char *secret = json_string_value(v);
        char *sealed = ah_crypto_seal(node->enc_key, secret, strlen(secret)), hmac[65], masked[64];
        if (sealed == NULL)
            return -1;
        ah_crypto_hmac_hex(node->hash_key, secret, strlen(secret), hmac);
        ah_mask_secret(secret, masked, sizeof(masked));
        json_object_set_new(stored, "key_enc", json_string(sealed));
        json_object_set_new(stored, "key_hmac", json_string(hmac));
        json_object_set_new(stored, "masked", json_string(masked));
        free(sealed);
        if (json_object_get(stored, "name") == NULL && json_object_get(in, "name") == NULL)
            json_object_set_new(stored, "name", json_string(masked));
    }
    return 0;
}

static json_t *new_account(const char *channel_id, char *id, size_t idcap)
{
    ah_admin_new_id("acc_", id, idcap);
    return json_pack("{s:s, s:s, s:i, s:b, s:i, s:i, s:I}", "id", id, "channel_id", channel_id, "weight", 1, "enabled", 1, "rpm", 0, "tpm",
                     0, "created_at", (json_int_t)(ah_now_ms() / 1000));
}

/* the public view: stored fields without secrets, plus live state when given (a reply row of account_states) */
static json_t *account_view(json_t *stored, redisReply *state, long long now_ms)
{
    json_t *view = json_deep_copy(stored);
    json_object_del(view, "key_enc");
    json_object_del(view, "key_hmac");
    const char *status = "active";
    json_int_t until = 0;
    json_object_set_new(view, "disabled_reason", json_null());
    json_object_set_new(view, "requests", json_integer(0));
    json_object_set_new(view, "errors", json_integer(0));
    json_object_set_new(view, "latency_ms_avg", json_real(0));
    if (state != NULL && state->type == REDIS_REPLY_ARRAY && state->elements >= 6) {
        long long cd = atoll(state->element[0]->str);
        if (strcmp(state->element[1]->str, "1") == 0)
            status = "disabled";
        else if (cd > now_ms)
            status = "cooling", until = (cd + 999) / 1000;
        json_object_set_new(view, "disabled_reason",
                            strcmp(status, "disabled") == 0 ? json_string(state->element[2]->str) : json_null());
        json_object_set_new(view, "requests", json_integer(atoll(state->element[3]->str)));
        json_object_set_new(view, "errors", json_integer(atoll(state->element[4]->str)));
        json_object_set_new(view, "latency_ms_avg", json_real(atof(state->element[5]->str)));
    }
    json_object_set_new(view, "status", json_string(status));
    json_object_set_new(view, "cooldown_until", until != 0 ? json_integer(until) : json_null());
    return view;
}


static void put_account(ah_admin_op_t *op, json_t *stored, const char *mode, const char *old_hmac, ah_redis_cb cb, void *ud,
                        ah_admin_cont cont)
{
    h2o_req_t *req = op->super.req;
    char *text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS);
    const char *channel = json_string_value(json_object_get(stored, "channel_id")), *hmac = json_string_value(json_object_get(stored, "key_hmac"));
    const char *id = json_string_value(json_object_get(stored, "id"));
    char *unique = h2o_mem_alloc_pool(&req->pool, 160), *old = "";
    snprintf(unique, 160, "acctkey:%s:%s", channel, hmac);
    if (old_hmac != NULL && strcmp(old_hmac, hmac) != 0) {
        old = h2o_mem_alloc_pool(&req->pool, 160);
        snprintf(old, 160, "acctkey:%s:%s", channel, old_hmac);
    }
    h2o_iovec_t t = h2o_strdup(&req->pool, text, SIZE_MAX);
    free(text);
    const char *argv[] = {"ah:cfg:accounts", "ah:cfg:names", "ah:cfg:ver", h2o_strdup(&req->pool, id, SIZE_MAX).base, t.base, unique, old, mode};
    if (cb != NULL) {
        if (ah_redis_script(op->w->redis, AH_SCRIPT_CONFIG_PUT, 3, 8, argv, NULL, cb, ud) != 0)
            cb(ud, NULL, "redis unavailable");
        return;
    }
    ah_admin_call(op, AH_SCRIPT_CONFIG_PUT, 3, 8, argv, cont);
}

/* ---- create ---- */

static void on_created(ah_admin_op_t *op, redisReply *reply)
{
    if (!ah_admin_reply_refusal(op->super.req, reply, "account"))
        ah_reply_json(op->super.req, 201, account_view(op->obj, NULL, 0));
    ah_admin_op_free(op);
}

static void on_channel_for_create(ah_admin_op_t *op, redisReply *reply)
{
    if (reply->type != REDIS_REPLY_INTEGER || reply->integer != 1) {
        ah_admin_reply_not_found(op->super.req, "channel");
        ah_admin_op_free(op);
        return;
    }
    put_account(op, op->obj, "create", NULL, NULL, NULL, on_created);
}

void ah_handle_accounts_create(h2o_req_t *req, const ah_route_params_t *p)
{
    char channel[80], buf[256];
    if (ah_admin_path_id(req, p, 0, channel, sizeof(channel)) != 0)
        return;
    json_t *in = ah_admin_body(req);
    if (in == NULL)
        return;
    const char *complaint = check_account(in, 1, buf, sizeof(buf));
    if (complaint != NULL) {
        json_decref(in);
        ah_admin_reply_bad(req, "%s", complaint);
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    op->obj = new_account(channel, op->id, sizeof(op->id));
    int rv = apply_account(op->obj, in, op->w->node);
    json_decref(in);
    if (rv != 0) {
        ah_reply_error(req, 500, "api_error", "internal_error", "cannot seal the account's key", 0);
        ah_admin_op_free(op);
        return;
    }
    ah_admin_command(op, 3, (const char *[]){"HEXISTS", "ah:cfg:channels", channel}, on_channel_for_create);
}

/* ---- bulk import ---- */

static void import_done(ah_admin_op_t *op)
{
    if (op->super.req != NULL)
        ah_reply_json(op->super.req, op->failed != 0 ? 503 : 200,
                      json_pack("{s:I, s:I, s:I}", "imported", (json_int_t)op->ok, "skipped", (json_int_t)op->skipped, "failed",
                                (json_int_t)op->failed));
    ah_admin_op_free(op);
}

static void on_imported_one(void *ud, redisReply *reply, const char *err)
{
    ah_admin_op_t *op = ud;
    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
        ++op->failed;
    else if (strcmp(reply->element[0]->str, "ok") == 0)
        ++op->ok;
    else
        ++op->skipped; /* the same key is already in this channel */
    if (--op->pending == 0)
        import_done(op);
}

/* the accounts to import, as an array of account bodies; NULL after replying 400 */
static json_t *import_items(h2o_req_t *req)
{
    h2o_iovec_t ct = ah_req_header(req, "content-type");
    json_t *items = json_array();
    if (ct.base != NULL && ct.len >= 16 && strncasecmp(ct.base, "application/json", 16) == 0) {
        json_error_t jerr;
        json_t *arr = json_loadb(req->entity.base != NULL ? req->entity.base : "", req->entity.len, 0, &jerr);
        size_t i;
        json_t *v;
        if (!json_is_array(arr)) {
            json_decref(arr);
            json_decref(items);
            ah_admin_reply_bad(req, "the body must be a JSON array of accounts (or of key strings)");
            return NULL;
        }
        json_array_foreach(arr, i, v)
        {
            if (json_is_string(v) && json_string_length(v) != 0)
                json_array_append_new(items, json_pack("{s:O}", "key", v));
            else
                json_array_append(items, v);
        }
        json_decref(arr);
    } else {
        const char *s = req->entity.base, *end = s + req->entity.len;
        while (s != NULL && s < end) {
            const char *nl = memchr(s, '\n', end - s), *e = nl != NULL ? nl : end;
            while (s < e && (*s == ' ' || *s == '\t'))
                ++s;
            while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
                --e;
            if (e > s)
                json_array_append_new(items, json_pack("{s:s%}", "key", s, (size_t)(e - s)));
            s = nl != NULL ? nl + 1 : NULL;
        }
    }
    if (json_array_size(items) > MAX_IMPORT) {
        json_decref(items);
        ah_admin_reply_bad(req, "at most %d accounts per import", MAX_IMPORT);
        return NULL;
    }
    return items;
}

static void on_channel_for_import(ah_admin_op_t *op, redisReply *reply)
{
    h2o_req_t *req = op->super.req;
    if (reply->type != REDIS_REPLY_INTEGER || reply->integer != 1) {
        ah_admin_reply_not_found(req, "channel");
        ah_admin_op_free(op);
        return;
    }
    size_t i;
    json_t *in;
    op->pending = 1; /* held until every call is sent */
    json_array_foreach(op->extra, i, in)
    {
        char id[80];
        json_t *stored = new_account(op->id, id, sizeof(id));
        if (apply_account(stored, in, op->w->node) != 0) {
            ++op->failed;
        } else {
            ++op->pending;
            put_account(op, stored, "create", NULL, on_imported_one, op, NULL);
        }
        json_decref(stored);
    }
    if (--op->pending == 0)
        import_done(op);
}

void ah_handle_accounts_import(h2o_req_t *req, const ah_route_params_t *p)
{
    char channel[80], buf[256];
    if (ah_admin_path_id(req, p, 0, channel, sizeof(channel)) != 0)
        return;
    json_t *items = import_items(req);
    if (items == NULL)
        return;
    size_t i;
    json_t *in;
    json_t *valid = json_array();
    json_array_foreach(items, i, in)
    {
        const char *complaint = json_is_object(in) ? check_account(in, 1, buf, sizeof(buf)) : "each item must be an account object";
        if (complaint != NULL) {
            json_decref(items);
            json_decref(valid);
            ah_admin_reply_bad(req, "item %zu: %s", i + 1, complaint);
            return;
        }
        json_array_append(valid, in);
    }
    json_decref(items);
    ah_admin_op_t *op = ah_admin_op_new(req);
    snprintf(op->id, sizeof(op->id), "%s", channel);
    op->extra = valid;
    ah_admin_command(op, 3, (const char *[]){"HEXISTS", "ah:cfg:channels", channel}, on_channel_for_import);
}

/* ---- list ---- */


static void on_states(ah_admin_op_t *op, redisReply *reply)
{
    h2o_req_t *req = op->super.req;
    json_t *data = json_array();
    redisReply *rows = reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 ? reply->element[1] : NULL;
    long long now = rows != NULL ? reply->element[0]->integer : 0;
    size_t i;
    json_t *stored;
    json_array_foreach(op->obj, i, stored)
    {
        json_array_append_new(data, account_view(stored, rows != NULL && i < rows->elements ? rows->element[i] : NULL, now));
    }
    ah_reply_json(req, 200, ah_admin_list(data, op->id2[0] != '\0' ? op->id2 : NULL));
    ah_admin_op_free(op);
}

static void on_all(ah_admin_op_t *op, redisReply *reply)
{
    h2o_req_t *req = op->super.req;
    size_t n = reply->type == REDIS_REPLY_ARRAY ? reply->elements / 2 : 0, m = 0;
    json_t **items = h2o_mem_alloc_pool(&req->pool, sizeof(json_t *) * (n + 1));
    h2o_iovec_t before = ah_req_query(req, "before");
    for (size_t i = 0; i != n; ++i) {
        json_t *a = ah_admin_parse_object(reply->element[2 * i + 1]->str, reply->element[2 * i + 1]->len);
        const char *ch = json_string_value(json_object_get(a, "channel_id")), *id = reply->element[2 * i]->str;
        int keep = a != NULL && ch != NULL && strcmp(ch, op->id) == 0 &&
                   (before.base == NULL || strncmp(id, before.base, before.len) < 0 || (strlen(id) < before.len && strncmp(id, before.base, strlen(id)) == 0));
        if (keep)
            items[m++] = a;
        else
            json_decref(a);
    }
    qsort(items, m, sizeof(*items), ah_admin_by_id_desc);
    op->obj = json_array();
    size_t shown = m < (size_t)op->limit ? m : (size_t)op->limit;
    if (m > shown)
        snprintf(op->id2, sizeof(op->id2), "%s", json_string_value(json_object_get(items[shown - 1], "id")));
    const char **keys = h2o_mem_alloc_pool(&req->pool, sizeof(char *) * (shown + 1));
    for (size_t i = 0; i != m; ++i) {
        if (i < shown) {
            const char *id = json_string_value(json_object_get(items[i], "id"));
            char *k = h2o_mem_alloc_pool(&req->pool, strlen(id) + 9);
            sprintf(k, "ah:acct:%s", id);
            keys[i] = k;
            json_array_append(op->obj, items[i]);
        }
        json_decref(items[i]);
    }
    if (shown == 0) {
        ah_reply_json(req, 200, ah_admin_list(json_array(), NULL));
        ah_admin_op_free(op);
        return;
    }
    ah_admin_call(op, AH_SCRIPT_ACCOUNT_STATES, (int)shown, (int)shown, keys, on_states);
}

static void on_channel_for_list(ah_admin_op_t *op, redisReply *reply)
{
    if (reply->type != REDIS_REPLY_INTEGER || reply->integer != 1) {
        ah_admin_reply_not_found(op->super.req, "channel");
        ah_admin_op_free(op);
        return;
    }
    ah_admin_command(op, 2, (const char *[]){"HGETALL", "ah:cfg:accounts"}, on_all);
}

void ah_handle_accounts_list(h2o_req_t *req, const ah_route_params_t *p)
{
    char channel[80];
    if (ah_admin_path_id(req, p, 0, channel, sizeof(channel)) != 0)
        return;
    int limit = ah_admin_limit(req);
    if (limit < 0)
        return;
    ah_admin_op_t *op = ah_admin_op_new(req);
    op->limit = limit;
    snprintf(op->id, sizeof(op->id), "%s", channel);
    ah_admin_command(op, 3, (const char *[]){"HEXISTS", "ah:cfg:channels", channel}, on_channel_for_list);
}

/* ---- update, delete, reset ---- */

static void on_updated_state(ah_admin_op_t *op, redisReply *reply)
{
    redisReply *row = reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 && reply->element[1]->elements == 1
                          ? reply->element[1]->element[0]
                          : NULL;
    ah_reply_json(op->super.req, 200, account_view(op->obj, row, row != NULL ? reply->element[0]->integer : 0));
    ah_admin_op_free(op);
}

static void on_updated(ah_admin_op_t *op, redisReply *reply)
{
    if (ah_admin_reply_refusal(op->super.req, reply, "account")) {
        ah_admin_op_free(op);
        return;
    }
    snprintf(op->id2, sizeof(op->id2), "ah:acct:%s", json_string_value(json_object_get(op->obj, "id")));
    const char *argv[] = {op->id2};
    ah_admin_call(op, AH_SCRIPT_ACCOUNT_STATES, 1, 1, argv, on_updated_state);
}

static void on_current(ah_admin_op_t *op, redisReply *reply)
{
    h2o_req_t *req = op->super.req;
    json_t *stored = reply->type == REDIS_REPLY_STRING ? ah_admin_parse_object(reply->str, reply->len) : NULL;
    if (stored == NULL) {
        ah_admin_reply_not_found(req, "account");
        ah_admin_op_free(op);
        return;
    }
    char old_hmac[80];
    snprintf(old_hmac, sizeof(old_hmac), "%s", json_string_value(json_object_get(stored, "key_hmac")) ?: "");
    op->obj = stored;
    if (apply_account(stored, op->extra, op->w->node) != 0) {
        ah_reply_error(req, 500, "api_error", "internal_error", "cannot seal the account's key", 0);
        ah_admin_op_free(op);
        return;
    }
    put_account(op, stored, "update", old_hmac, NULL, NULL, on_updated);
}

void ah_handle_account_update(h2o_req_t *req, const ah_route_params_t *p)
{
    char id[80], buf[256];
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    json_t *in = ah_admin_body(req);
    if (in == NULL)
        return;
    const char *complaint = check_account(in, 0, buf, sizeof(buf));
    if (complaint != NULL) {
        json_decref(in);
        ah_admin_reply_bad(req, "%s", complaint);
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    op->extra = in;
    ah_admin_command(op, 3, (const char *[]){"HGET", "ah:cfg:accounts", id}, on_current);
}

static void on_deleted(ah_admin_op_t *op, redisReply *reply)
{
    if (!ah_admin_reply_refusal(op->super.req, reply, "account")) {
        ah_redis_command(op->w->redis, NULL, NULL, 2, (const char *[]){"DEL", op->id2}, NULL);
        ah_reply_json(op->super.req, 200, json_pack("{s:s, s:b}", "id", op->id, "deleted", 1));
    }
    ah_admin_op_free(op);
}

static void on_current_for_delete(ah_admin_op_t *op, redisReply *reply)
{
    h2o_req_t *req = op->super.req;
    json_t *stored = reply->type == REDIS_REPLY_STRING ? ah_admin_parse_object(reply->str, reply->len) : NULL;
    if (stored == NULL) {
        ah_admin_reply_not_found(req, "account");
        ah_admin_op_free(op);
        return;
    }
    char *unique = h2o_mem_alloc_pool(&req->pool, 200);
    snprintf(unique, 200, "acctkey:%s:%s", json_string_value(json_object_get(stored, "channel_id")) ?: "",
             json_string_value(json_object_get(stored, "key_hmac")) ?: "");
    json_decref(stored);
    snprintf(op->id2, sizeof(op->id2), "ah:acct:%s", op->id);
    const char *argv[] = {"ah:cfg:accounts", "ah:cfg:names", "ah:cfg:ver", op->id, unique};
    ah_admin_call(op, AH_SCRIPT_CONFIG_DELETE, 3, 5, argv, on_deleted);
}

void ah_handle_account_delete(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_admin_op_t *op;
    char id[80];
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    op = ah_admin_op_new(req);
    snprintf(op->id, sizeof(op->id), "%s", id);
    ah_admin_command(op, 3, (const char *[]){"HGET", "ah:cfg:accounts", id}, on_current_for_delete);
}

static void on_reset(ah_admin_op_t *op, redisReply *reply)
{
    ah_reply_json(op->super.req, 200, json_pack("{s:s, s:s}", "id", op->id, "status", "active"));
    ah_admin_op_free(op);
}

static void on_exists_for_reset(ah_admin_op_t *op, redisReply *reply)
{
    if (reply->type != REDIS_REPLY_INTEGER || reply->integer != 1) {
        ah_admin_reply_not_found(op->super.req, "account");
        ah_admin_op_free(op);
        return;
    }
    const char *argv[] = {op->id2};
    ah_admin_call(op, AH_SCRIPT_ACCOUNT_RESET, 1, 1, argv, on_reset);
}

void ah_handle_account_reset(h2o_req_t *req, const ah_route_params_t *p)
{
    char id[80];
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    ah_admin_op_t *op = ah_admin_op_new(req);
    snprintf(op->id, sizeof(op->id), "%s", id);
    snprintf(op->id2, sizeof(op->id2), "ah:acct:%s", id);
    ah_admin_command(op, 3, (const char *[]){"HEXISTS", "ah:cfg:accounts", id}, on_exists_for_reset);
}
