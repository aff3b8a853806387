/*
 * POST /api/channels/{id}/test: probes each model of a channel with a
 * one-token chat request through the channel's first enabled account, all
 * models at once, and reports per model whether it answered, its status and
 * latency. Probes go straight to the provider: no admission, no charge, no
 * cooldown (an operator's test is not traffic).
 */
#include <string.h>
#include "config/snapshot.h"
#include "handler/admin.h"
#include "http/buffer.h"
#include "http/reply.h"
#include "upstream/request.h"

#define PROBE_MAX_MODELS 64
#define PROBE_MAX_BODY 4096

typedef struct st_probe_t probe_t;

typedef struct st_probe_call_t {
    probe_t *probe;
    const char *model;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    uint64_t started;
    char response[PROBE_MAX_BODY];
    size_t response_len;
    json_t *result;
} probe_call_t;

struct st_probe_t {
    ah_async_t super;
    ah_worker_t *w;
    ah_snapshot_t *snap; /* keeps the channel and account alive */
    size_t pending, n;
    probe_call_t calls[PROBE_MAX_MODELS];
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    probe_call_t *c = ud;
    size_t len = size * nmemb, room = PROBE_MAX_BODY - 1 - c->response_len;
    memcpy(c->response + c->response_len, ptr, len < room ? len : room);
    c->response_len += len < room ? len : room;
    return len;
}

static void finish(probe_t *p)
{
    if (p->super.req != NULL) {
        json_t *data = json_array();
        for (size_t i = 0; i != p->n; ++i)
            json_array_append(data, p->calls[i].result);
        ah_reply_json(p->super.req, 200, json_pack("{s:o}", "data", data));
    }
    for (size_t i = 0; i != p->n; ++i)
        json_decref(p->calls[i].result);
    ah_snapshot_release(&p->snap);
    ah_async_free(p);
}

static void on_done(void *ud, CURL *easy, CURLcode result)
{
    probe_call_t *c = ud;
    probe_t *p = c->probe;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    int64_t latency = (int64_t)(h2o_now(p->w->loop) - c->started);
    const char *error = NULL;
    char buf[300];
    json_t *body = NULL;
    if (result != CURLE_OK) {
        error = curl_easy_strerror(result);
    } else if (status < 200 || status >= 300) {
        json_error_t jerr;
        body = json_loadb(c->response, c->response_len, 0, &jerr);
        const char *m = json_string_value(json_object_get(json_object_get(body, "error"), "message"));
        snprintf(buf, sizeof(buf), "upstream %ld: %.200s", status, m != NULL ? m : "error");
        error = buf;
    }
    c->result = json_pack("{s:s, s:b, s:i, s:I, s:s?}", "model", c->model, "ok", error == NULL, "status", (int)status, "latency_ms",
                          (json_int_t)latency, "error", error);
    json_decref(body);
    curl_slist_free_all(c->headers);
    free(c->body);
    ah_curl_loop_release(p->w->curl, easy);
    if (--p->pending == 0)
        finish(p);
}

static int start_call(probe_t *p, probe_call_t *c, const ah_account_t *a)
{
    const ah_channel_t *ch = a->channel;
    char *url = ah_upstream_chat_url(ch, c->model);
    json_t *body = json_pack("{s:s, s:[{s:s, s:s}], s:i}", "model", c->model, "messages", "role", "user", "content", "ping", "max_tokens", 1);
    if (ch->type == AH_CHANNEL_AZURE)
        json_object_del(body, "model");
    c->body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (url == NULL || c->body == NULL) {
        free(url);
        return -1;
    }
    c->headers = ah_upstream_headers(a, 0);
    CURL *e = ah_curl_loop_easy(p->w->curl);
    c->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(c->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    ah_upstream_common_options(e, ch);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ch->timeout_ms);
    free(url);
    c->started = h2o_now(p->w->loop);
    if (ah_curl_loop_add(p->w->curl, e, on_done, c) != 0) {
        ah_curl_loop_release(p->w->curl, e);
        curl_slist_free_all(c->headers);
        free(c->body);
        return -1;
    }
    return 0;
}

void ah_handle_channel_test(h2o_req_t *req, const ah_route_params_t *params)
{
    char id[80];
    if (ah_admin_path_id(req, params, 0, id, sizeof(id)) != 0)
        return;
    ah_snapshot_t *snap = ah_snapshot_acquire();
    const ah_channel_t *ch = NULL;
    const ah_account_t *acct = NULL;
    for (size_t i = 0; i != snap->nchannels; ++i)
        if (strcmp(snap->channels[i].id, id) == 0)
            ch = &snap->channels[i];
    for (size_t i = 0; ch != NULL && acct == NULL && i != snap->naccounts; ++i)
        if (snap->accounts[i].channel == ch && snap->accounts[i].enabled)
            acct = &snap->accounts[i];
    if (ch == NULL || acct == NULL || (ch->type != AH_CHANNEL_OPENAI && ch->type != AH_CHANNEL_OPENAI_COMPATIBLE &&
                                       ch->type != AH_CHANNEL_AZURE)) {
        if (ch == NULL)
            ah_admin_reply_not_found(req, "channel");
        else if (acct == NULL)
            ah_reply_error(req, 409, "invalid_request_error", "no_account", "the channel has no enabled account to test with", 0);
        else
            ah_reply_error(req, 409, "invalid_request_error", "unsupported", "testing this channel type is not supported yet", 0);
        ah_snapshot_release(&snap);
        return;
    }
    probe_t *p = ah_async_new(req, sizeof(*p));
    p->w = ah_worker_of_req(req);
    p->snap = snap;
    p->pending = 1; /* held until every call has started */
    for (size_t i = 0; i != ch->nmodels && i != PROBE_MAX_MODELS; ++i) {
        probe_call_t *c = &p->calls[p->n++];
        c->probe = p;
        c->model = ch->models[i];
        ++p->pending;
        if (start_call(p, c, acct) != 0) {
            --p->pending;
            c->result = json_pack("{s:s, s:b, s:i, s:i, s:s}", "model", c->model, "ok", 0, "status", 0, "latency_ms", 0, "error",
                                  "cannot start the probe");
        }
    }
    if (--p->pending == 0)
        finish(p);
}
