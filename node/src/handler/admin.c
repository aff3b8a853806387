/*
 * Shared admin handler helpers (see admin.h).
 */
#include <stdarg.h>
#include <string.h>
#include "aihub/crypto.h"
#include "aihub/log.h"
#include "handler/admin.h"
#include "http/reply.h"

ah_admin_op_t *ah_admin_op_new(h2o_req_t *req)
{
    ah_admin_op_t *op = ah_async_new(req, sizeof(*op));
    op->w = ah_worker_of_req(req);
    return op;
}

void ah_admin_op_free(ah_admin_op_t *op)
{
    json_decref(op->obj);
    json_decref(op->extra);
    memset(op->secret, 0, sizeof(op->secret));
    ah_async_free(op);
}

static void on_reply(void *ud, redisReply *reply, const char *err)
{
    ah_admin_op_t *op = ud;
    if (op->super.req == NULL) {
        ah_admin_op_free(op);
        return;
    }
    if (err != NULL) {
        ah_admin_reply_unavailable(op->super.req);
        ah_admin_op_free(op);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        ah_log(AH_LOG_ERROR, "admin", "script error: %s", reply->str);
        ah_reply_error(op->super.req, 500, "api_error", "internal_error", "the state store refused the operation", 0);
        ah_admin_op_free(op);
        return;
    }
    op->cont(op, reply);
}

int ah_admin_call(ah_admin_op_t *op, ah_script_id_t script, int nkeys, int argc, const char **argv, ah_admin_cont cont)
{
    op->cont = cont;
    if (ah_redis_script(op->w->redis, script, nkeys, argc, argv, NULL, on_reply, op) != 0) {
        ah_admin_reply_unavailable(op->super.req);
        ah_admin_op_free(op);
        return -1;
    }
    return 0;
}

int ah_admin_command(ah_admin_op_t *op, int argc, const char **argv, ah_admin_cont cont)
{
    op->cont = cont;
    if (ah_redis_command(op->w->redis, on_reply, op, argc, argv, NULL) != 0) {
        ah_admin_reply_unavailable(op->super.req);
        ah_admin_op_free(op);
        return -1;
    }
    return 0;
}

void ah_admin_reply_bad(h2o_req_t *req, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ah_reply_error(req, 400, "invalid_request_error", "invalid_request", msg, 0);
}

void ah_admin_reply_not_found(h2o_req_t *req, const char *what)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "no such %s", what);
    ah_reply_error(req, 404, "invalid_request_error", "not_found", msg, 0);
}

void ah_admin_reply_conflict(h2o_req_t *req, const char *msg)
{
    ah_reply_error(req, 409, "invalid_request_error", "conflict", msg, 0);
}

void ah_admin_reply_unavailable(h2o_req_t *req)
{
    ah_reply_error(req, 503, "api_error", "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly", 0);
}

int ah_admin_reply_refusal(h2o_req_t *req, redisReply *reply, const char *what)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 || strcmp(reply->element[0]->str, "err") != 0)
        return 0;
    const char *code = reply->element[1]->str;
    char msg[160];
    if (strcmp(code, "not_found") == 0 || strcmp(code, "user_not_found") == 0) {
        ah_admin_reply_not_found(req, strcmp(code, "user_not_found") == 0 ? "user" : what);
    } else if (strcmp(code, "conflict") == 0 || strcmp(code, "exists") == 0) {
        snprintf(msg, sizeof(msg), "another %s already has this name or key", what);
        ah_admin_reply_conflict(req, msg);
    } else {
        snprintf(msg, sizeof(msg), "refused: %s", code);
        ah_reply_error(req, 409, "invalid_request_error", code, msg, 0);
    }
    return 1;
}

json_t *ah_admin_body(h2o_req_t *req)
{
    json_error_t jerr;
    json_t *body = req->entity.base != NULL ? json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (body == NULL) {
        if (req->entity.base == NULL || req->entity.len == 0)
            ah_admin_reply_bad(req, "the request body must be a JSON object");
        else
            ah_admin_reply_bad(req, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        ah_admin_reply_bad(req, "the request body must be a JSON object");
        return NULL;
    }
    return body;
}

void ah_admin_new_id(const char *prefix, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char ms[12], rnd[7];
    uint64_t t = (uint64_t)ah_now_ms();
    for (int i = 10; i >= 0; --i) {
        ms[i] = digits[t % 36];
        t /= 36;
    }
    ms[11] = '\0';
    ah_crypto_random_token(rnd, 6);
    for (int i = 0; i != 6; ++i)
        rnd[i] = digits[(unsigned char)rnd[i] % 36];
    snprintf(out, cap, "%s%s%s", prefix, ms, rnd);
}

int ah_admin_path_id(h2o_req_t *req, const ah_route_params_t *p, size_t i, char *out, size_t cap)
{
    h2o_iovec_t v = p->p[i];
    int ok = v.len > 0 && v.len < cap && v.len <= 64;
    for (size_t j = 0; ok && j != v.len; ++j) {
        char c = v.base[j];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    }
    if (!ok) {
        ah_admin_reply_not_found(req, "object");
        return -1;
    }
    memcpy(out, v.base, v.len);
    out[v.len] = '\0';
    return 0;
}


int ah_admin_limit(h2o_req_t *req)
{
    h2o_iovec_t v = ah_req_query(req, "limit");
    if (v.base == NULL)
        return AH_ADMIN_DEFAULT_LIMIT;
    int64_t n;
    if (ah_parse_int64(v.base, v.len, &n) != 0 || n < 1 || n > AH_ADMIN_MAX_LIMIT) {
        ah_admin_reply_bad(req, "limit must be an integer from 1 to %d", AH_ADMIN_MAX_LIMIT);
        return -1;
    }
    return (int)n;
}

const char *ah_check_int(json_t *v, const char *field, int64_t min, int64_t max, char *buf, size_t cap)
{
    if (json_is_integer(v) && json_integer_value(v) >= min && json_integer_value(v) <= max)
        return NULL;
    snprintf(buf, cap, "'%s' must be an integer from %lld to %lld", field, (long long)min, (long long)max);
    return buf;
}

const char *ah_check_string(json_t *v, const char *field, size_t min, size_t max, char *buf, size_t cap)
{
    if (json_is_string(v) && json_string_length(v) >= min && json_string_length(v) <= max &&
        strlen(json_string_value(v)) == json_string_length(v)) {
        const unsigned char *c = (const unsigned char *)json_string_value(v);
        while (*c >= 0x20 && *c != 0x7f)
            ++c;
        if (*c == '\0')
            return NULL;
    }
    snprintf(buf, cap, "'%s' must be a string of %zu to %zu characters with no control characters", field, min, max);
    return buf;
}

const char *ah_check_bool(json_t *v, const char *field, char *buf, size_t cap)
{
    if (json_is_boolean(v))
        return NULL;
    snprintf(buf, cap, "'%s' must be true or false", field);
    return buf;
}

const char *ah_check_string_array(json_t *v, const char *field, int nonempty, char *buf, size_t cap)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v) || (nonempty && json_array_size(v) == 0) || json_array_size(v) > 10000)
        goto bad;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > 256)
            goto bad;
    }
    return NULL;
bad:
    snprintf(buf, cap, "'%s' must be an array of%s model names (non-empty strings)", field, nonempty ? " one or more" : "");
    return buf;
}

const char *ah_unknown_field(json_t *obj, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        const char *const *a;
        for (a = allowed; *a != NULL; ++a)
            if (strcmp(*a, k) == 0)
                break;
        if (*a == NULL)
            return k;
    }
    return NULL;
}

const char *ah_admin_int_str(h2o_req_t *req, int64_t v)
{
    char *buf = h2o_mem_alloc_pool(&req->pool, 24);
    snprintf(buf, 24, "%lld", (long long)v);
    return buf;
}

json_t *ah_admin_flat_to_object(redisReply *flat)
{
    json_t *o = json_object();
    for (size_t i = 0; flat->type == REDIS_REPLY_ARRAY && i + 1 < flat->elements; i += 2)
        json_object_set_new(o, flat->element[i]->str, json_stringn(flat->element[i + 1]->str, flat->element[i + 1]->len));
    return o;
}

json_t *ah_admin_list(json_t *data, const char *next)
{
    return json_pack("{s:o, s:s?}", "data", data, "next", next != NULL && next[0] != '\0' ? next : NULL);
}

json_t *ah_admin_parse_object(const char *text, size_t len)
{
    json_error_t jerr;
    json_t *v = json_loadb(text, len, 0, &jerr);
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

int ah_admin_by_id_desc(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "id")), *y = json_string_value(json_object_get(*(json_t *const *)b, "id"));
    return -strcmp(x != NULL ? x : "", y != NULL ? y : "");
}
