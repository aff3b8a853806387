/*
 * GET /api/stats?days=N: totals, a per-day and a per-hour series, and
 * breakdowns by model, channel, account and user, from the hashes the admit
 * and settle scripts keep: ah:stats:d:<YYYYMMDD> (totals and the m:, c:, a:,
 * u: dimensions) and ah:stats:h:<YYYYMMDDHH> (totals and m:). A field is
 * `req`, `err`, `pt`, `ct` or `cost` (micro-units), absent when 0; a
 * dimension field is `<d>:<name>:<field>`, split at the last ':' because
 * model names may hold ':'.
 *
 * The node names the keys from its own clock (UTC) and reads them in one
 * stats_read call: N day hashes and the last 24 hour hashes. Every day and
 * hour of the range is in the answer, oldest first, with zeros where nothing
 * happened. Breakdowns cover the N days, sorted by requests (most first);
 * top_users are the ten with the highest cost, then requests.
 */
#include <string.h>
#include <time.h>
#include "handler/admin.h"
#include "http/reply.h"

#define DAYS_DEFAULT 7
#define DAYS_MAX 90
#define HOURS 24
#define TOP_USERS 10
#define MAX_ROWS 1000 /* per breakdown: names come from traffic (a refused request's model is the client's) */

enum { F_REQ, F_ERR, F_PT, F_CT, F_COST, F__COUNT };
static const char *const stored_names[F__COUNT] = {"req", "err", "pt", "ct", "cost"};
static const char *const json_names[F__COUNT] = {"requests", "errors", "prompt_tokens", "completion_tokens", "cost"};

enum { D_MODEL, D_CHANNEL, D_ACCOUNT, D_USER, D__COUNT };
static const char dim_prefix[D__COUNT] = {'m', 'c', 'a', 'u'};
static const char *const dim_label[D__COUNT] = {"model", "channel_id", "account_id", "user_id"};

typedef struct st_counts_t {
    int64_t v[F__COUNT];
} counts_t;

static int field_index(const char *s, size_t len)
{
    for (int i = 0; i != F__COUNT; ++i)
        if (strlen(stored_names[i]) == len && memcmp(stored_names[i], s, len) == 0)
            return i;
    return -1;
}

/* the object {label: name, requests, errors, ...}; label NULL for none */
static json_t *counts_json(const char *label, json_t *name, const counts_t *c)
{
    json_t *o = json_object();
    if (label != NULL)
        json_object_set_new(o, label, name);
    for (int i = 0; i != F__COUNT; ++i)
        json_object_set_new(o, json_names[i], json_integer(c->v[i]));
    return o;
}

/* adds n to dimension row name (a JSON array of F__COUNT integers, created on first use) */
static void dim_add(json_t *dim, const char *name, size_t len, int field, int64_t n)
{
    json_t *row = json_object_getn(dim, name, len);
    if (row == NULL) {
        row = json_array();
        for (int i = 0; i != F__COUNT; ++i)
            json_array_append_new(row, json_integer(0));
        json_object_setn_new_nocheck(dim, name, len, row);
    }
    json_t *cell = json_array_get(row, field);
    json_integer_set(cell, json_integer_value(cell) + n);
}

/* one hash (flat HGETALL reply) into its totals, and into dims when given */
static void read_hash(const redisReply *flat, counts_t *totals, json_t **dims)
{
    for (size_t i = 0; flat->type == REDIS_REPLY_ARRAY && i + 1 < flat->elements; i += 2) {
        const redisReply *k = flat->element[i], *v = flat->element[i + 1];
        int64_t n;
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || ah_parse_int64(v->str, v->len, &n) != 0)
            continue;
        int f = field_index(k->str, k->len);
        if (f >= 0) {
            totals->v[f] += n;
            continue;
        }
        if (dims == NULL || k->len < 4 || k->str[1] != ':')
            continue;
        const char *name = k->str + 2, *end = k->str + k->len, *colon = end;
        while (colon > name && colon[-1] != ':')
            --colon;
        if (colon - 1 <= name || (f = field_index(colon, end - colon)) < 0)
            continue; /* no ':' after the name, an empty name, or an unknown field */
        for (int d = 0; d != D__COUNT; ++d)
            if (k->str[0] == dim_prefix[d])
                dim_add(dims[d], name, colon - 1 - name, f, n);
    }
}

/* a row of a breakdown while it is sorted */
typedef struct st_row_t {
    counts_t c;
    const char *name;
    size_t len;
} row_t;

/* first by field a, then b (greater first), then by name (bytewise, ascending) */
static int row_cmp(const void *pa, const void *pb, int a, int b)
{
    const row_t *x = *(const row_t *const *)pa, *y = *(const row_t *const *)pb;
    if (x->c.v[a] != y->c.v[a])
        return x->c.v[a] > y->c.v[a] ? -1 : 1;
    if (x->c.v[b] != y->c.v[b])
        return x->c.v[b] > y->c.v[b] ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->name, y->name, n);
    return r != 0 ? r : (x->len > y->len) - (x->len < y->len);
}
static int rows_by_requests(const void *a, const void *b) { return row_cmp(a, b, F_REQ, F_COST); }
static int rows_by_cost(const void *a, const void *b) { return row_cmp(a, b, F_COST, F_REQ); }

/* a dimension as a sorted array of {label: name, counts...}, at most max rows */
static json_t *breakdown(json_t *dim, const char *label, int (*cmp)(const void *, const void *), size_t max)
{
    size_t n = json_object_size(dim), i = 0;
    row_t *rows = h2o_mem_alloc(sizeof(*rows) * (n + 1));
    row_t **order = h2o_mem_alloc(sizeof(*order) * (n + 1));
    const char *key;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(dim, key, klen, v)
    {
        rows[i].name = key;
        rows[i].len = klen;
        for (int f = 0; f != F__COUNT; ++f)
            rows[i].c.v[f] = json_integer_value(json_array_get(v, f));
        order[i] = &rows[i];
        ++i;
    }
    qsort(order, n, sizeof(*order), cmp);
    json_t *out = json_array();
    for (i = 0; i != n && i != max; ++i)
        json_array_append_new(out, counts_json(label, json_stringn(order[i]->name, order[i]->len), &order[i]->c));
    free(order);
    free(rows);
    return out;
}

static void on_stats(ah_admin_op_t *op, redisReply *reply)
{
    int days = op->limit;
    time_t now = (time_t)json_integer_value(op->extra);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != (size_t)(days + HOURS)) {
        ah_reply_error(op->super.req, 500, "api_error", "internal_error", "unexpected reply from the state store", 0);
        ah_admin_op_free(op);
        return;
    }
    json_t *dims[D__COUNT];
    for (int d = 0; d != D__COUNT; ++d)
        dims[d] = json_object();
    counts_t totals = {{0}};
    json_t *daily = json_array(), *hourly = json_array();
    char label[32];
    struct tm tm;
    for (int i = 0; i != days; ++i) {
        counts_t c = {{0}};
        read_hash(reply->element[i], &c, dims);
        for (int f = 0; f != F__COUNT; ++f)
            totals.v[f] += c.v[f];
        time_t t = now - (time_t)(days - 1 - i) * 86400;
        gmtime_r(&t, &tm);
        strftime(label, sizeof(label), "%Y-%m-%d", &tm);
        json_array_append_new(daily, counts_json("date", json_string(label), &c));
    }
    for (int i = 0; i != HOURS; ++i) {
        counts_t c = {{0}};
        read_hash(reply->element[days + i], &c, NULL);
        time_t t = now - (time_t)(HOURS - 1 - i) * 3600;
        gmtime_r(&t, &tm);
        strftime(label, sizeof(label), "%Y-%m-%dT%H:00:00Z", &tm);
        json_array_append_new(hourly, counts_json("hour", json_string(label), &c));
    }
    json_t *body = json_object();
    json_object_set_new(body, "days", json_integer(days));
    json_object_set_new(body, "totals", counts_json(NULL, NULL, &totals));
    json_object_set_new(body, "daily", daily);
    json_object_set_new(body, "hourly", hourly);
    json_object_set_new(body, "by_model", breakdown(dims[D_MODEL], dim_label[D_MODEL], rows_by_requests, MAX_ROWS));
    json_object_set_new(body, "by_channel", breakdown(dims[D_CHANNEL], dim_label[D_CHANNEL], rows_by_requests, MAX_ROWS));
    json_object_set_new(body, "by_account", breakdown(dims[D_ACCOUNT], dim_label[D_ACCOUNT], rows_by_requests, MAX_ROWS));
    json_object_set_new(body, "top_users", breakdown(dims[D_USER], dim_label[D_USER], rows_by_cost, TOP_USERS));
    for (int d = 0; d != D__COUNT; ++d)
        json_decref(dims[d]);
    ah_reply_json(op->super.req, 200, body);
    ah_admin_op_free(op);
}

void ah_handle_stats(h2o_req_t *req, const ah_route_params_t *p)
{
    int64_t days = DAYS_DEFAULT;
    h2o_iovec_t v = ah_req_query(req, "days");
    if (v.base != NULL && (ah_parse_int64(v.base, v.len, &days) != 0 || days < 1 || days > DAYS_MAX)) {
        ah_admin_reply_bad(req, "days must be an integer from 1 to %d", DAYS_MAX);
        return;
    }
    time_t now = (time_t)(ah_now_ms() / 1000);
    int nkeys = (int)days + HOURS;
    const char **keys = h2o_mem_alloc_pool(&req->pool, sizeof(*keys) * nkeys);
    struct tm tm;
    for (int i = 0; i != (int)days; ++i) {
        time_t t = now - (time_t)(days - 1 - i) * 86400;
        char *k = h2o_mem_alloc_pool(&req->pool, 24);
        gmtime_r(&t, &tm);
        strftime(k, 24, "ah:stats:d:%Y%m%d", &tm);
        keys[i] = k;
    }
    for (int i = 0; i != HOURS; ++i) {
        time_t t = now - (time_t)(HOURS - 1 - i) * 3600;
        char *k = h2o_mem_alloc_pool(&req->pool, 24);
        gmtime_r(&t, &tm);
        strftime(k, 24, "ah:stats:h:%Y%m%d%H", &tm);
        keys[days + i] = k;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    op->limit = (int)days;
    op->extra = json_integer((json_int_t)now);
    ah_admin_call(op, AH_SCRIPT_STATS_READ, nkeys, nkeys, keys, on_stats);
}
