/*
 * The audit hook and the summary of a change (see audit.h).
 *
 * The context is an h2o prefilter: h2o calls its on_setup_ostream when the
 * handler starts the response, with the status known. For a state-changing
 * request answered below 400 it inserts a pass-through output stream that
 * keeps the first bytes of the body (to find the id of what was created) and,
 * when the last bytes pass, appends the entry (XADD, not waited for). The
 * request's pool holds everything, so nothing outlives the request.
 */
#include <string.h>
#include "aihub/log.h"
#include "auth/audit.h"
#include "http/reply.h"

#define KEEP_BODY 2048

typedef struct st_audit_ctx_t {
    h2o_req_prefilter_t super;
    ah_identity_t id;
    const char *action;
    h2o_iovec_t path_id; /* the first {id} of the path, or empty */
    int write;
} audit_ctx_t;

typedef struct st_audit_ostream_t {
    h2o_ostream_t super;
    audit_ctx_t *ctx;
    size_t len;
    char body[KEEP_BODY];
} audit_ostream_t;

/* ---- summaries ---- */

static int secret_name(const char *k)
{
    static const char *const words[] = {"key", "secret", "token", "password", "passwd", "authorization", "credential", "cookie",
                                        "headers", "proxy", NULL};
    char low[64];
    size_t n = strlen(k);
    if (n >= sizeof(low))
        return 1; /* odd: better hidden */
    for (size_t i = 0; i <= n; ++i)
        low[i] = (k[i] >= 'A' && k[i] <= 'Z') ? k[i] - 'A' + 'a' : k[i];
    for (const char *const *w = words; *w != NULL; ++w)
        if (strstr(low, *w) != NULL)
            return 1;
    return 0;
}

static json_t *redact(json_t *v, int depth)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (strncmp(s, "sk-", 3) == 0 || strncmp(s, "ak-", 3) == 0 || strncmp(s, "Bearer ", 7) == 0)
            return json_string("[redacted]");
        if (n > 120) {
            size_t cut = 117;
            while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
                --cut; /* do not split a UTF-8 sequence */
            char buf[128];
            snprintf(buf, sizeof(buf), "%.*s...", (int)cut, s);
            return json_string(buf);
        }
        return json_incref(v);
    }
    if (json_is_array(v)) {
        if (json_array_size(v) > 20 || depth >= 3)
            return json_pack("{s:I}", "count", (json_int_t)json_array_size(v));
        json_t *out = json_array(), *e;
        size_t i;
        json_array_foreach(v, i, e)
        {
            json_array_append_new(out, redact(e, depth + 1));
        }
        return out;
    }
    if (json_is_object(v)) {
        if (depth >= 3)
            return json_pack("{s:I}", "members", (json_int_t)json_object_size(v));
        json_t *out = json_object(), *e;
        const char *k;
        json_object_foreach(v, k, e)
        {
            json_object_set_new(out, k, secret_name(k) ? json_string("[redacted]") : redact(e, depth + 1));
        }
        return out;
    }
    return json_incref(v);
}

char *ah_audit_summary(const char *body, size_t len)
{
    if (body == NULL || len == 0)
        return strdup("");
    json_error_t jerr;
    json_t *in = json_loadb(body, len, 0, &jerr), *out;
    if (json_is_object(in)) {
        out = redact(in, 0);
    } else if (json_is_array(in)) {
        out = json_pack("{s:I}", "items", (json_int_t)json_array_size(in));
    } else {
        size_t lines = 0;
        for (size_t i = 0; i != len; ++i)
            if (body[i] == '\n' || (i + 1 == len && body[i] != '\n'))
                ++lines;
        out = json_pack("{s:I, s:I}", "bytes", (json_int_t)len, "lines", (json_int_t)lines);
    }
    json_decref(in);
    char *text = json_dumps(out, JSON_COMPACT);
    if (text != NULL && strlen(text) > AH_AUDIT_MAX_SUMMARY && json_is_object(out)) {
        /* too long: the names of the members changed only */
        json_t *names = json_array(), *v;
        const char *k;
        json_object_foreach(out, k, v)
        {
            if (json_array_size(names) < 50 && strlen(k) <= 64)
                json_array_append_new(names, json_string(k));
        }
        free(text);
        json_t *short_ = json_pack("{s:o, s:b}", "fields", names, "truncated", 1);
        text = json_dumps(short_, JSON_COMPACT);
        json_decref(short_);
    }
    json_decref(out);
    if (text == NULL || strlen(text) > AH_AUDIT_MAX_SUMMARY) {
        free(text);
        text = strdup("{\"truncated\":true}");
    }
    return text;
}

/* ---- the hook ---- */

static void record(h2o_req_t *req, audit_ctx_t *c, const char *resp, size_t resp_len)
{
    ah_worker_t *w = ah_worker_of_req(req);
    const ah_identity_t *id = &c->id;
    char target[200] = "", status[8], maxlen[24];
    json_error_t jerr;
    json_t *r = resp_len != 0 ? json_loadb(resp, resp_len, 0, &jerr) : NULL;
    const char *rid = json_string_value(json_object_get(r, "id"));
    if (rid != NULL && strlen(rid) < sizeof(target))
        snprintf(target, sizeof(target), "%s", rid);
    else if (c->path_id.len != 0 && c->path_id.len < sizeof(target))
        snprintf(target, sizeof(target), "%.*s", (int)c->path_id.len, c->path_id.base);
    json_decref(r);
    char *summary = ah_audit_summary(req->entity.base, req->entity.base != NULL ? req->entity.len : 0);
    snprintf(status, sizeof(status), "%d", req->res.status);
    snprintf(maxlen, sizeof(maxlen), "%lld", (long long)w->node->opts.audit_max_entries);
    h2o_iovec_t reqid = ah_request_id(req);
    char rid_buf[80];
    snprintf(rid_buf, sizeof(rid_buf), "%.*s", (int)(reqid.len < 79 ? reqid.len : 79), reqid.base);
    const char *actor = id->email[0] != '\0' ? id->email : id->sub;
    const char *argv[] = {"XADD",      AH_AUDIT_KEY,        "MAXLEN",     "~",       maxlen,  "*",       "actor",   actor,
                          "sub",       id->sub,             "role",       ah_role_name(id->role), "via", ah_auth_via_name(id->via),
                          "action",    c->action,           "target",     target,    "summary", summary, "status",  status,
                          "request_id", rid_buf,            "ip",         ah_auth_client_ip(req)};
    if (ah_redis_command(w->redis, NULL, NULL, sizeof(argv) / sizeof(argv[0]), argv, NULL) != 0)
        ah_log(AH_LOG_WARN, "audit", "not recorded (Redis unavailable): %s %s by %s", c->action, target, actor);
    free(summary);
}

static void on_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t cnt, h2o_send_state_t state)
{
    audit_ostream_t *os = (audit_ostream_t *)self;
    for (size_t i = 0; i != cnt && os->len < KEEP_BODY; ++i) {
        size_t n = bufs[i].len < KEEP_BODY - os->len ? bufs[i].len : KEEP_BODY - os->len;
        memcpy(os->body + os->len, bufs[i].base, n);
        os->len += n;
    }
    if (state == H2O_SEND_STATE_FINAL)
        record(req, os->ctx, os->body, os->len);
    h2o_ostream_send_next(&os->super, req, bufs, cnt, state);
}

static void on_setup_ostream(h2o_req_prefilter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    audit_ctx_t *c = (audit_ctx_t *)self;
    if (c->write && c->id.via != AH_VIA_NONE && req->res.status >= 200 && req->res.status < 400) {
        audit_ostream_t *os = (audit_ostream_t *)h2o_add_ostream(req, sizeof(*os), slot);
        os->super.do_send = on_send;
        os->ctx = c;
        os->len = 0;
        slot = &os->super.next;
    }
    h2o_setup_next_prefilter(self, req, slot);
}

ah_identity_t *ah_audit_attach(h2o_req_t *req, const ah_auth_route_t *route, const ah_route_params_t *params)
{
    audit_ctx_t *c = (audit_ctx_t *)h2o_add_prefilter(req, sizeof(*c));
    c->super.on_setup_ostream = on_setup_ostream;
    memset(&c->id, 0, sizeof(c->id));
    c->id.sub = c->id.email = c->id.name = c->id.principal = "";
    c->write = ah_auth_is_write(req->method);
    c->path_id = params->n != 0 ? params->p[0] : h2o_iovec_init(NULL, 0);
    /* "METHOD /api/users/{id}/keys" */
    size_t plen = strlen(route->pattern), n = 0, cap = strlen(route->method) + 1 + plen * 2 + 1;
    char *a = h2o_mem_alloc_pool(&req->pool, cap);
    n = snprintf(a, cap, "%s ", route->method);
    for (const char *p = route->pattern; *p != '\0'; ++p) {
        if (p[0] == '{' && p[1] == '}') {
            memcpy(a + n, "{id}", 4);
            n += 4;
            ++p;
        } else {
            a[n++] = *p;
        }
    }
    a[n] = '\0';
    c->action = a;
    return &c->id;
}

ah_identity_t *ah_audit_identity(h2o_req_t *req)
{
    for (h2o_req_prefilter_t *p = req->prefilters; p != NULL; p = p->next)
        if (p->on_setup_ostream == on_setup_ostream)
            return &((audit_ctx_t *)p)->id;
    return NULL;
}
