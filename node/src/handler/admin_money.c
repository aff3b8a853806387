/*
 * Money in the admin API: /api/prices (the price table, configuration),
 * POST /api/users/{id}/credits (top-ups and deductions, idempotent with an
 * Idempotency-Key) and GET /api/users/{id}/ledger (every balance change,
 * newest first). Amounts are integer micro-units; prices are units per
 * million tokens (see docs/money.md).
 */
#include <math.h>
#include <string.h>
#include "config/snapshot.h"
#include "handler/admin.h"
#include "http/reply.h"

/* ---- prices ---- */

static void on_prices(ah_admin_op_t *op, redisReply *reply)
{
    json_t *v = reply->type == REDIS_REPLY_STRING ? ah_admin_parse_object(reply->str, reply->len) : NULL;
    ah_reply_json(op->super.req, 200, v != NULL ? v : json_object());
    ah_admin_op_free(op);
}

void ah_handle_prices_get(h2o_req_t *req, const ah_route_params_t *p)
{
    ah_admin_op_t *op = ah_admin_op_new(req);
    ah_admin_command(op, 2, (const char *[]){"GET", "ah:cfg:prices"}, on_prices);
}

static void on_prices_saved(ah_admin_op_t *op, redisReply *reply)
{
    ah_reply_json(op->super.req, 200, json_incref(op->obj));
    ah_admin_op_free(op);
}

void ah_handle_prices_put(h2o_req_t *req, const ah_route_params_t *p)
{
    static const char *const fields[] = {"input", "output", "cached_input", NULL};
    json_t *in = ah_admin_body(req);
    if (in == NULL)
        return;
    const char *model;
    json_t *price;
    json_object_foreach(in, model, price)
    {
        const char *unknown = json_is_object(price) ? ah_unknown_field(price, fields) : NULL;
        json_t *i = json_object_get(price, "input"), *o = json_object_get(price, "output"), *c = json_object_get(price, "cached_input");
        int ok = model[0] != '\0' && strlen(model) <= 256 && json_is_object(price) && unknown == NULL && json_is_number(i) &&
                 json_is_number(o) && (c == NULL || json_is_number(c));
        if (ok) {
            double vals[3] = {json_number_value(i), json_number_value(o), c != NULL ? json_number_value(c) : 0};
            for (int k = 0; k != 3; ++k)
                ok = ok && ah_money_price_from_units(vals[k]) >= 0;
        }
        if (!ok) {
            ah_admin_reply_bad(req, "prices are {\"model\": {\"input\": 2.5, \"output\": 10, \"cached_input\": 1.25}} in units per million "
                                    "tokens, non-negative; '%.100s' is not valid",
                               model);
            json_decref(in);
            return;
        }
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    op->obj = in;
    char *text = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
    h2o_iovec_t t = h2o_strdup(&req->pool, text, SIZE_MAX);
    free(text);
    const char *argv[] = {"ah:cfg:prices", "ah:cfg:ver", t.base};
    ah_admin_call(op, AH_SCRIPT_CONFIG_SET, 2, 3, argv, on_prices_saved);
}

/* ---- credits ---- */

static void on_credited(ah_admin_op_t *op, redisReply *reply)
{
    h2o_req_t *req = op->super.req;
    const char *verdict = reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 ? reply->element[0]->str : "";
    if (strcmp(verdict, "ok") == 0) {
        json_t *body = json_pack("{s:I}", "balance", (json_int_t)reply->element[1]->integer);
        if (reply->elements >= 3 && reply->element[2]->integer == 1)
            ah_reply_add_header(req, "idempotent-replayed", "true");
        ah_reply_json(req, 200, body);
    } else if (strcmp(reply->element[1]->str, "not_found") == 0) {
        ah_admin_reply_not_found(req, "user");
    } else if (strcmp(reply->element[1]->str, "insufficient_balance") == 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the deduction would take the balance (%lld) below zero", (long long)reply->element[2]->integer);
        ah_reply_error(req, 409, "invalid_request_error", "insufficient_balance", msg, 0);
    } else {
        ah_reply_error(req, 409, "invalid_request_error", "idempotency_conflict",
                       "this Idempotency-Key was already used with a different amount", 0);
    }
    ah_admin_op_free(op);
}

/* starts the credits script for op->id (the user id); a NULL continuation makes cont the caller's */
void ah_admin_credit(ah_admin_op_t *op, int64_t delta, const char *reason, const char *idem, ah_admin_cont cont)
{
    h2o_req_t *req = op->super.req;
    char *k1 = h2o_mem_alloc_pool(&req->pool, 200), *k2 = h2o_mem_alloc_pool(&req->pool, 200), *k3 = h2o_mem_alloc_pool(&req->pool, 400);
    snprintf(k1, 200, "ah:user:%s", op->id);
    snprintf(k2, 200, "ah:ledger:%s", op->id);
    if (idem[0] != '\0')
        snprintf(k3, 400, "ah:idem:%s:%s", op->id, idem);
    else
        k3[0] = '\0';
    const char *argv[] = {k1, k2, k3, h2o_strdup(&req->pool, op->id, SIZE_MAX).base, ah_admin_int_str(req, delta),
                          h2o_strdup(&req->pool, reason, SIZE_MAX).base, h2o_strdup(&req->pool, idem, SIZE_MAX).base};
    ah_admin_call(op, AH_SCRIPT_CREDITS, 3, 7, argv, cont);
}

void ah_handle_user_credits(h2o_req_t *req, const ah_route_params_t *p)
{
    static const char *const fields[] = {"delta", "reason", NULL};
    char id[80], buf[256], idem[160] = "";
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    h2o_iovec_t ik = ah_req_header(req, "idempotency-key");
    if (ik.base != NULL) {
        int ok = ik.len >= 1 && ik.len <= 128;
        for (size_t i = 0; ok && i != ik.len; ++i)
            ok = ik.base[i] > 0x20 && ik.base[i] < 0x7f;
        if (!ok) {
            ah_admin_reply_bad(req, "Idempotency-Key must be 1 to 128 visible ASCII characters");
            return;
        }
        memcpy(idem, ik.base, ik.len);
        idem[ik.len] = '\0';
    }
    json_t *in = ah_admin_body(req);
    if (in == NULL)
        return;
    const char *unknown = ah_unknown_field(in, fields), *e = NULL;
    json_t *delta = json_object_get(in, "delta"), *reason = json_object_get(in, "reason");
    if (unknown != NULL)
        snprintf(buf, sizeof(buf), "unknown field '%.100s'", unknown), e = buf;
    else if (delta == NULL || (e = ah_check_int(delta, "delta", -999999999999999LL, 999999999999999LL, buf, sizeof(buf))) != NULL ||
             json_integer_value(delta) == 0)
        e = e != NULL ? e : "'delta' must be a non-zero integer number of micro-units (negative to deduct)";
    else if (reason == NULL || (e = ah_check_string(reason, "reason", 1, 500, buf, sizeof(buf))) != NULL)
        e = e != NULL ? e : "'reason' is required: it is recorded in the ledger";
    if (e != NULL) {
        ah_admin_reply_bad(req, "%s", e);
        json_decref(in);
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    snprintf(op->id, sizeof(op->id), "%s", id);
    ah_admin_credit(op, json_integer_value(delta), json_string_value(reason), idem, on_credited);
    json_decref(in);
}

/* ---- ledger ---- */

static json_t *ledger_entry(redisReply *e)
{
    json_t *o = json_object();
    const char *id = e->element[0]->str;
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "time", json_integer(atoll(id) / 1000));
    redisReply *f = e->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *k = f->element[i]->str, *v = f->element[i + 1]->str;
        if (strcmp(k, "delta") == 0 || strcmp(k, "balance") == 0 || strcmp(k, "hold") == 0 || strcmp(k, "cost") == 0 ||
            strcmp(k, "unpaid") == 0)
            json_object_set_new(o, k, json_integer(atoll(v)));
        else if (v[0] != '\0')
            json_object_set_new(o, k, json_string(v));
    }
    return o;
}

static void on_ledger(ah_admin_op_t *op, redisReply *reply)
{
    json_t *data = json_array();
    const char *next = NULL;
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i != reply->elements; ++i) {
        if ((int)i == op->limit) {
            next = reply->element[i - 1]->element[0]->str;
            break;
        }
        json_array_append_new(data, ledger_entry(reply->element[i]));
    }
    ah_reply_json(op->super.req, 200, ah_admin_list(data, next));
    ah_admin_op_free(op);
}

static void on_user_for_ledger(ah_admin_op_t *op, redisReply *reply)
{
    h2o_req_t *req = op->super.req;
    if (reply->type != REDIS_REPLY_INTEGER || reply->integer != 1) {
        ah_admin_reply_not_found(req, "user");
        ah_admin_op_free(op);
        return;
    }
    const char *argv[] = {"XREVRANGE", op->id2, op->secret[0] != '\0' ? op->secret : "+", "-", "COUNT", ah_admin_int_str(req, op->limit + 1)};
    ah_admin_command(op, 6, argv, on_ledger);
}

void ah_handle_user_ledger(h2o_req_t *req, const ah_route_params_t *p)
{
    char id[80];
    if (ah_admin_path_id(req, p, 0, id, sizeof(id)) != 0)
        return;
    int limit = ah_admin_limit(req);
    if (limit < 0)
        return;
    h2o_iovec_t before = ah_req_query(req, "before");
    ah_admin_op_t *op = ah_admin_op_new(req);
    op->limit = limit;
    if (before.base != NULL) {
        /* a stream id "<ms>-<seq>": exclusive bound */
        int ok = before.len > 0 && before.len < 40;
        for (size_t i = 0; ok && i != before.len; ++i)
            ok = (before.base[i] >= '0' && before.base[i] <= '9') || before.base[i] == '-';
        if (!ok) {
            ah_admin_op_free(op);
            ah_admin_reply_bad(req, "'before' must be a cursor returned as 'next'");
            return;
        }
        snprintf(op->secret, sizeof(op->secret), "(%.*s", (int)before.len, before.base);
    }
    snprintf(op->id, sizeof(op->id), "ah:user:%s", id);
    snprintf(op->id2, sizeof(op->id2), "ah:ledger:%s", id);
    ah_admin_command(op, 2, (const char *[]){"EXISTS", op->id}, on_user_for_ledger);
}
