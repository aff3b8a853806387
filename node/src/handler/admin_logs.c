/*
 * The request log, kept by the admit and settle scripts in the capped Redis
 * stream ah:logs (one entry per request: flat string fields).
 *
 * GET /api/logs: a page, newest first. Without filters one XREVRANGE of
 * limit+1 entries (the extra one says whether there is more). With filters
 * (exact matches) the node scans backwards in growing batches of XREVRANGE on
 * the worker's connection, examining at most SCAN_MAX entries per call: when
 * that cap stops the scan, the page is marked "partial" and `next` points
 * where the scan stopped, so the client continues from there. `next` is
 * always the stream id to pass back as `before` (exclusive), or null at the
 * stream's start.
 *
 * GET /api/logs/stream: the same entries live, as Server-Sent Events (`id:`
 * the stream id, `data:` the entry), from the worker's log reader (see
 * redis/log_tail.h), with a keep-alive comment after KEEPALIVE_MS of silence.
 * One h2o_send outstanding at a time; entries wait in `pending` meanwhile. A
 * subscriber whose queue passes STREAM_QUEUE_MAX is dropped: its queue is
 * discarded and the stream ends with a comment saying why. HTTP/1 stops
 * reading the socket while a response is sent, so a client that went away is
 * noticed by peeking at the socket once a second (plain TCP) or at the next
 * write (TLS).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include "aihub/log.h"
#include "aihub/strutil.h"
#include "handler/admin.h"
#include "http/buffer.h"
#include "http/reply.h"
#include "redis/log_tail.h"

#define LOG_KEY "ah:logs"
#define SCAN_MAX 10000
#define BATCH_MIN 100
#define BATCH_MAX 1000
#define STREAM_QUEUE_MAX (1024 * 1024)
#define KEEPALIVE_MS 15000

/* ---- entries ---- */

enum { T_STR, T_INT, T_BOOL };

static const struct {
    const char *name;
    int type;
} entry_fields[] = {
    {"time", T_INT},           {"request_id", T_STR},    {"user_id", T_STR},       {"key_id", T_STR},
    {"model", T_STR},          {"upstream_model", T_STR}, {"channel_id", T_STR},   {"account_id", T_STR},
    {"status", T_INT},         {"stream", T_BOOL},       {"attempts", T_INT},      {"latency_ms", T_INT},
    {"first_byte_ms", T_INT},  {"prompt_tokens", T_INT}, {"cached_tokens", T_INT}, {"completion_tokens", T_INT},
    {"cost", T_INT},           {"unpaid", T_INT},        {"error", T_STR},         {"client_ip", T_STR},
    {"estimated", T_BOOL},
};
#define NFIELDS (sizeof(entry_fields) / sizeof(entry_fields[0]))

/* the value of field name in a flat field/value reply, or NULL */
static const redisReply *field_of(const redisReply *flat, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i + 1 < flat->elements; i += 2) {
        const redisReply *k = flat->element[i];
        if (k->type == REDIS_REPLY_STRING && k->len == len && memcmp(k->str, name, len) == 0)
            return flat->element[i + 1]->type == REDIS_REPLY_STRING ? flat->element[i + 1] : NULL;
    }
    return NULL;
}

/* a stored string as JSON: "" is null; bytes that are not UTF-8 become '?' rather than losing the value */
static json_t *string_value(const char *s, size_t len)
{
    if (len == 0)
        return json_null();
    json_t *v = json_stringn(s, len);
    if (v != NULL)
        return v;
    char *copy = h2o_mem_alloc(len);
    for (size_t i = 0; i != len; ++i)
        copy[i] = (unsigned char)s[i] < 0x80 && s[i] != '\0' ? s[i] : '?';
    v = json_stringn(copy, len);
    free(copy);
    return v != NULL ? v : json_null();
}

/* one stream entry in the contract's log-entry shape, typed, with "id"; absent fields are null (caller owns) */
static json_t *entry_json(const char *id, size_t idlen, const redisReply *flat)
{
    const redisReply *vals[NFIELDS] = {NULL};
    for (size_t i = 0; i + 1 < flat->elements; i += 2) {
        const redisReply *k = flat->element[i], *v = flat->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        for (size_t j = 0; j != NFIELDS; ++j) {
            if (strlen(entry_fields[j].name) == k->len && memcmp(entry_fields[j].name, k->str, k->len) == 0) {
                vals[j] = v;
                break;
            }
        }
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_stringn(id, idlen));
    for (size_t j = 0; j != NFIELDS; ++j) {
        const redisReply *v = vals[j];
        json_t *jv = NULL;
        int64_t n;
        if (v != NULL) {
            switch (entry_fields[j].type) {
            case T_STR:
                jv = string_value(v->str, v->len);
                break;
            case T_INT:
                /* first_byte_ms is -1 when no byte reached the client */
                if (ah_parse_int64(v->str, v->len, &n) == 0 && (n >= 0 || strcmp(entry_fields[j].name, "first_byte_ms") != 0))
                    jv = json_integer(n);
                break;
            default:
                if (v->len == 1 && (v->str[0] == '0' || v->str[0] == '1'))
                    jv = json_boolean(v->str[0] == '1');
            }
        }
        json_object_set_new(o, entry_fields[j].name, jv != NULL ? jv : json_null());
    }
    return o;
}

/* ---- filters ---- */

typedef struct st_log_filter_t {
    char model[257], user[129], key[129], channel[129];
    int64_t status; /**< 0: any */
} log_filter_t;

/* query parameter name, form-decoded into out ("" when absent); 0, or -1 after replying 400 */
static int query_text(h2o_req_t *req, const char *name, char *out, size_t cap)
{
    h2o_iovec_t v = ah_req_query(req, name);
    int rv = v.base != NULL ? ah_form_decode(v.base, v.len, out, cap) : (out[0] = '\0', 0);
    if (rv == -1)
        ah_admin_reply_bad(req, "%s is not a well-formed percent-encoded value", name);
    else if (rv == -2)
        ah_admin_reply_bad(req, "%s is longer than %zu characters", name, cap - 1);
    return rv == 0 ? 0 : -1;
}

/* model=, user=, key=, channel=, status=; 0, or -1 after replying 400 */
static int parse_filter(h2o_req_t *req, log_filter_t *f)
{
    char status[16];
    memset(f, 0, sizeof(*f));
    if (query_text(req, "model", f->model, sizeof(f->model)) != 0 || query_text(req, "user", f->user, sizeof(f->user)) != 0 ||
        query_text(req, "key", f->key, sizeof(f->key)) != 0 || query_text(req, "channel", f->channel, sizeof(f->channel)) != 0 ||
        query_text(req, "status", status, sizeof(status)) != 0)
        return -1;
    if (status[0] != '\0' && (ah_parse_int64(status, strlen(status), &f->status) != 0 || f->status < 100 || f->status > 599)) {
        ah_admin_reply_bad(req, "status must be an HTTP status code (an integer from 100 to 599)");
        return -1;
    }
    return 0;
}

static int filter_is_empty(const log_filter_t *f)
{
    return f->model[0] == '\0' && f->user[0] == '\0' && f->key[0] == '\0' && f->channel[0] == '\0' && f->status == 0;
}

static int field_equals(const redisReply *flat, const char *name, const char *want)
{
    const redisReply *v = field_of(flat, name);
    return v != NULL && v->len == strlen(want) && memcmp(v->str, want, v->len) == 0;
}

static int filter_match(const log_filter_t *f, const redisReply *flat)
{
    if (f->model[0] != '\0' && !field_equals(flat, "model", f->model))
        return 0;
    if (f->user[0] != '\0' && !field_equals(flat, "user_id", f->user))
        return 0;
    if (f->key[0] != '\0' && !field_equals(flat, "key_id", f->key))
        return 0;
    if (f->channel[0] != '\0' && !field_equals(flat, "channel_id", f->channel))
        return 0;
    if (f->status != 0) {
        const redisReply *v = field_of(flat, "status");
        int64_t n;
        if (v == NULL || ah_parse_int64(v->str, v->len, &n) != 0 || n != f->status)
            return 0;
    }
    return 1;
}

/* ---- GET /api/logs ---- */

typedef struct st_list_op_t {
    ah_async_t super;
    ah_worker_t *w;
    log_filter_t f;
    int limit;
    int filtered;
    size_t examined;  /**< entries looked at so far (at most SCAN_MAX) */
    size_t batch;     /**< entries asked for by the next XREVRANGE */
    size_t asked;     /**< entries asked for by the outstanding one */
    char end[48];     /**< its end: "+" or "(<id>" (exclusive) */
    char last[48];    /**< the id of the last entry in data */
    json_t *data;
} list_op_t;

static void list_free(list_op_t *op)
{
    json_decref(op->data);
    ah_async_free(op);
}

static void list_finish(list_op_t *op, const char *next, int partial)
{
    json_t *body = ah_admin_list(op->data, next);
    op->data = NULL;
    json_object_set_new(body, "partial", json_boolean(partial));
    ah_reply_json(op->super.req, 200, body);
    list_free(op);
}

static void list_next_batch(list_op_t *op);

static void on_batch(void *ud, redisReply *reply, const char *err)
{
    list_op_t *op = ud;
    if (op->super.req == NULL) {
        list_free(op);
        return;
    }
    if (err != NULL || reply->type != REDIS_REPLY_ARRAY) {
        if (err != NULL)
            ah_admin_reply_unavailable(op->super.req);
        else {
            ah_log(AH_LOG_ERROR, "admin", "reading %s failed: %s", LOG_KEY, reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
            ah_reply_error(op->super.req, 500, "api_error", "internal_error", "the state store refused the operation", 0);
        }
        list_free(op);
        return;
    }
    const char *last_examined = NULL;
    for (size_t i = 0; i != reply->elements; ++i) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[0]->len >= sizeof(op->last) || e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *id = e->element[0], *fields = e->element[1];
        int match = filter_match(&op->f, fields);
        if ((int)json_array_size(op->data) == op->limit) {
            /* the page is full: one more match already fetched proves there is a next page */
            if (match) {
                list_finish(op, op->last, 0);
                return;
            }
            continue;
        }
        ++op->examined;
        last_examined = id->str;
        if (match) {
            json_array_append_new(op->data, entry_json(id->str, id->len, fields));
            memcpy(op->last, id->str, id->len + 1);
        }
    }
    int exhausted = reply->elements < op->asked;
    if ((int)json_array_size(op->data) == op->limit) {
        list_finish(op, exhausted ? NULL : op->last, 0);
    } else if (exhausted || last_examined == NULL) {
        list_finish(op, NULL, 0);
    } else if (op->examined >= SCAN_MAX) {
        list_finish(op, last_examined, 1);
    } else {
        snprintf(op->end, sizeof(op->end), "(%s", last_examined);
        op->batch = op->batch * 2 > BATCH_MAX ? BATCH_MAX : op->batch * 2;
        list_next_batch(op);
    }
}

static void list_next_batch(list_op_t *op)
{
    size_t count = op->filtered ? op->batch : (size_t)op->limit + 1;
    if (op->filtered && count > SCAN_MAX - op->examined)
        count = SCAN_MAX - op->examined;
    op->asked = count;
    char cnt[16];
    snprintf(cnt, sizeof(cnt), "%zu", count);
    const char *argv[] = {"XREVRANGE", LOG_KEY, op->end, "-", "COUNT", cnt};
    if (ah_redis_command(op->w->redis, on_batch, op, 6, argv, NULL) != 0) {
        ah_admin_reply_unavailable(op->super.req);
        list_free(op);
    }
}

/* a stream id "ms" or "ms-seq" (decimal, each below 2^64) as "ms-seq" in out; 0, or -1 */
static int parse_stream_id(h2o_iovec_t v, char *out, size_t cap)
{
    uint64_t part[2] = {0, 0};
    size_t np = 0, digits = 0;
    for (size_t i = 0; i <= v.len; ++i) {
        if (i == v.len || v.base[i] == '-') {
            if (digits == 0 || (i != v.len && np == 1))
                return -1; /* an empty part, or a second '-' */
            ++np, digits = 0;
            continue;
        }
        unsigned d = (unsigned char)v.base[i] - '0';
        if (d > 9 || part[np] > (UINT64_MAX - d) / 10)
            return -1;
        part[np] = part[np] * 10 + d;
        ++digits;
    }
    snprintf(out, cap, "%llu-%llu", (unsigned long long)part[0], (unsigned long long)part[1]);
    return 0;
}

void ah_handle_logs_list(h2o_req_t *req, const ah_route_params_t *p)
{
    int limit = ah_admin_limit(req);
    if (limit < 0)
        return;
    log_filter_t f;
    if (parse_filter(req, &f) != 0)
        return;
    char before[44] = "";
    h2o_iovec_t b = ah_req_query(req, "before");
    if (b.base != NULL && parse_stream_id(b, before, sizeof(before)) != 0) {
        ah_admin_reply_bad(req, "before must be a log entry id as returned in next (\"<ms>-<seq>\")");
        return;
    }
    if (strcmp(before, "0-0") == 0) {
        ah_reply_json(req, 200, json_pack("{s:[], s:n, s:b}", "data", "next", "partial", 0));
        return;
    }
    list_op_t *op = ah_async_new(req, sizeof(*op));
    op->w = ah_worker_of_req(req);
    op->f = f;
    op->limit = limit;
    op->filtered = !filter_is_empty(&f);
    op->batch = (size_t)limit * 2 < BATCH_MIN ? BATCH_MIN : (size_t)limit * 2 > BATCH_MAX ? BATCH_MAX : (size_t)limit * 2;
    op->data = json_array();
    if (before[0] != '\0')
        snprintf(op->end, sizeof(op->end), "(%s", before);
    else
        strcpy(op->end, "+");
    list_next_batch(op);
}

/* ---- GET /api/logs/stream ---- */

typedef struct st_stream_t {
    ah_async_t super;
    ah_log_sub_t sub;
    ah_worker_t *w;
    log_filter_t f;
    h2o_generator_t gen;
    h2o_buffer_t *pending, *inflight;
    uint64_t last_write; /**< h2o_now() ms of the last bytes queued */
    int started;         /**< h2o_start_response was called */
    int sending;         /**< an h2o_send is outstanding */
    int ending;          /**< the stream ends with the next send */
    int error;           /**< ... as an error (the client is gone) */
    int done;            /**< the last send was made, or the client is gone: no h2o call on req from now on */
} stream_t;

static void stream_do_send(stream_t *s)
{
    h2o_req_t *req = s->super.req;
    if (req == NULL || !s->started || s->done || s->sending)
        return;
    if (s->pending->size == 0 && !s->ending)
        return;
    h2o_buffer_t *t = s->inflight;
    s->inflight = s->pending;
    s->pending = t;
    h2o_iovec_t buf = h2o_iovec_init(s->inflight->bytes, s->inflight->size);
    h2o_send_state_t state = H2O_SEND_STATE_IN_PROGRESS;
    if (s->ending) {
        state = s->error ? H2O_SEND_STATE_ERROR : H2O_SEND_STATE_FINAL;
        s->done = 1;
    }
    s->sending = 1;
    /* after a final send h2o may dispose the request (and free s) before returning */
    h2o_send(req, &buf, buf.len != 0 ? 1 : 0, state);
}

static void stream_queue(stream_t *s, const char *text, size_t len)
{
    ah_buffer_append(&s->pending, text, len);
    s->last_write = h2o_now(s->w->loop);
}

/* ends the stream after what is queued (or at once, discarding it, when discard) with an optional comment */
static void stream_end(stream_t *s, const char *comment, int discard, int error)
{
    ah_log_tail_unsubscribe(&s->sub);
    if (s->ending || s->done)
        return;
    if (discard)
        h2o_buffer_consume(&s->pending, s->pending->size);
    if (comment != NULL)
        stream_queue(s, comment, strlen(comment));
    s->ending = 1;
    s->error = error;
    stream_do_send(s); /* may free s */
}

static void on_stream_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, gen, gen);
    h2o_buffer_consume(&s->inflight, s->inflight->size);
    s->sending = 0;
    stream_do_send(s);
}

static void on_stream_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, gen, gen);
    s->done = 1; /* the client is gone; the pool watcher frees s */
    ah_log_tail_unsubscribe(&s->sub);
}

static void on_stream_gone(ah_async_t *a)
{
    stream_t *s = (stream_t *)a;
    ah_log_tail_unsubscribe(&s->sub);
    if (s->pending != NULL)
        h2o_buffer_dispose(&s->pending);
    if (s->inflight != NULL)
        h2o_buffer_dispose(&s->inflight);
    ah_async_free(s);
}

static void on_stream_ready(ah_log_sub_t *sub)
{
    stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, sub, sub);
    h2o_req_t *req = s->super.req;
    h2o_buffer_init(&s->pending, &h2o_socket_buffer_prototype);
    h2o_buffer_init(&s->inflight, &h2o_socket_buffer_prototype);
    s->gen.proceed = on_stream_proceed;
    s->gen.stop = on_stream_stop;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0, NULL, H2O_STRLIT("no"));
    h2o_start_response(req, &s->gen);
    s->started = 1;
    stream_queue(s, H2O_STRLIT(": connected\n\n"));
    stream_do_send(s);
}

static void on_stream_entry(ah_log_sub_t *sub, const char *id, size_t idlen, const redisReply *fields)
{
    stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, sub, sub);
    if (s->ending || s->done || !filter_match(&s->f, fields))
        return;
    json_t *o = entry_json(id, idlen, fields);
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);
    h2o_iovec_t dst = h2o_buffer_reserve(&s->pending, idlen + n + 16);
    char *p = dst.base;
    memcpy(p, "id: ", 4), p += 4;
    memcpy(p, id, idlen), p += idlen;
    memcpy(p, "\ndata: ", 7), p += 7;
    p += json_dumpb(o, p, n, JSON_COMPACT);
    memcpy(p, "\n\n", 2), p += 2;
    s->pending->size += p - dst.base;
    s->last_write = h2o_now(s->w->loop);
    json_decref(o);
    if (s->pending->size + s->inflight->size > STREAM_QUEUE_MAX) {
        __atomic_add_fetch(&s->w->log_stream_dropped, 1, __ATOMIC_RELAXED);
        ah_log(AH_LOG_WARN, "admin", "a /api/logs/stream client reads too slowly: dropped after %d KiB queued", STREAM_QUEUE_MAX / 1024);
        stream_end(s, ": dropped: this client read too slowly; reconnect (and page /api/logs?before= for what was missed)\n\n", 1, 0);
        return;
    }
    stream_do_send(s);
}

/* 1 when a plain-TCP HTTP/1 client has closed its side (h2o does not read the socket while it streams a response) */
static int client_closed(h2o_req_t *req)
{
    if (req->version >= 0x200 || req->conn->callbacks->get_socket == NULL)
        return 0;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->ssl != NULL)
        return 0;
    char c;
    ssize_t n = recv(h2o_socket_get_fd(sock), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void on_stream_tick(ah_log_sub_t *sub, uint64_t now)
{
    stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, sub, sub);
    if (s->super.req == NULL || s->ending || s->done)
        return;
    if (atomic_load(&s->w->node->draining)) {
        stream_end(s, ": this node is shutting down; reconnect\n\n", 0, 0);
    } else if (client_closed(s->super.req)) {
        stream_end(s, NULL, 1, 1);
    } else if (now - s->last_write >= KEEPALIVE_MS) {
        stream_queue(s, H2O_STRLIT(": keep-alive\n\n"));
        stream_do_send(s);
    }
}

static void on_stream_fail(ah_log_sub_t *sub)
{
    stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, sub, sub);
    ah_admin_reply_unavailable(s->super.req); /* not started yet; the pool watcher frees s */
}

static void on_stream_close(ah_log_sub_t *sub)
{
    stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, sub, sub);
    if (!s->started) {
        ah_reply_error(s->super.req, 503, "api_error", "service_unavailable", "this node is shutting down; retry on another", 0);
        return;
    }
    stream_end(s, ": this node is shutting down; reconnect\n\n", 0, 0);
}

void ah_handle_logs_stream(h2o_req_t *req, const ah_route_params_t *p)
{
    log_filter_t f;
    if (parse_filter(req, &f) != 0)
        return;
    ah_worker_t *w = ah_worker_of_req(req);
    if (w->closing || atomic_load(&w->node->draining)) {
        ah_reply_error(req, 503, "api_error", "service_unavailable", "this node is shutting down; retry on another", 0);
        return;
    }
    if (!ah_redis_is_ready(w->redis)) {
        ah_admin_reply_unavailable(req);
        return;
    }
    stream_t *s = ah_async_new(req, sizeof(*s));
    s->super.on_gone = on_stream_gone;
    s->w = w;
    s->f = f;
    s->sub = (ah_log_sub_t){.on_ready = on_stream_ready,
                            .on_entry = on_stream_entry,
                            .on_fail = on_stream_fail,
                            .on_close = on_stream_close,
                            .on_tick = on_stream_tick};
    ah_log_tail_subscribe(w, &s->sub);
}
