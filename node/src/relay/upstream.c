/*
 * The upstream side of the relay: builds the provider request for the chosen
 * account (URL, auth header, channel headers and parameter overrides, the
 * upstream model name, and for streams a request for usage), runs it on the
 * worker's curl multi, and turns curl's callbacks into relay events:
 * response headers (commit or collect an error), body bytes (SSE events
 * forwarded as they come, with back-pressure), and the end of the transfer.
 */
#include <string.h>
#include "aihub/json_scan.h"
#include "aihub/log.h"
#include "http/buffer.h"
#include "relay/relay_internal.h"
#include "upstream/request.h"

/* the request body for this attempt: the client's JSON with the upstream's model and the channel's overrides */
/*
 * Fast path: when the upstream takes the client's body as it is (same model
 * name, no parameter overrides, not Azure), send the client's bytes instead of
 * re-serialising the parsed JSON; a stream that must ask for usage gets the
 * stream_options member spliced in before the closing brace. NULL when the
 * body needs a real edit.
 */
static char *pass_through_body(ah_relay_t *r, const ah_candidate_t *c, size_t *len)
{
    const ah_channel_t *ch = c->account->channel;
    h2o_req_t *req = r->super.req;
    if (req == NULL || r->client_fmt != AH_FMT_OPENAI || ch->type == AH_CHANNEL_AZURE || ch->params_set != NULL ||
        ch->params_remove != NULL || strcmp(c->upstream_model, r->model) != 0 || ah_relay_channel_format(ch) != AH_FMT_OPENAI)
        return NULL;
    int splice = r->stream && !r->client_wants_usage;
    if (splice && json_object_get(r->body, "stream_options") != NULL)
        return NULL;
    static const char member[] = ",\"stream_options\":{\"include_usage\":true}";
    size_t n = req->entity.len;
    while (n > 0 && (req->entity.base[n - 1] == ' ' || req->entity.base[n - 1] == '\n' || req->entity.base[n - 1] == '\r' ||
                     req->entity.base[n - 1] == '\t'))
        --n;
    if (n < 2 || req->entity.base[n - 1] != '}')
        return NULL;
    char *out = h2o_mem_alloc(n + sizeof(member));
    if (splice) {
        memcpy(out, req->entity.base, n - 1);
        memcpy(out + n - 1, member, sizeof(member) - 1);
        out[n - 1 + sizeof(member) - 1] = '}';
        *len = n + sizeof(member) - 1;
    } else {
        memcpy(out, req->entity.base, n);
        *len = n;
    }
    out[*len] = '\0';
    return out;
}

static char *build_body(ah_relay_t *r, const ah_candidate_t *c, size_t *len, char *err, size_t errcap)
{
    char *fast = pass_through_body(r, c, len);
    if (fast != NULL)
        return fast;
    const ah_channel_t *ch = c->account->channel;
    json_t *b;
    if (r->client_fmt != r->up_fmt || r->client_fmt != AH_FMT_OPENAI) {
        /* another API on one side: translate (a Gemini body carries no model; an Anthropic one needs it) */
        ah_translate_opts_t opts = {.default_max_tokens = r->snap->default_max_tokens, .stream = r->stream};
        b = ah_translate_request(r->client_fmt, r->up_fmt, r->body, c->upstream_model, &opts, err, errcap);
        if (b == NULL)
            return NULL;
    } else {
        b = json_copy(r->body); /* shallow: replace nested values, never edit them */
        json_object_set_new(b, "model", json_string(c->upstream_model));
    }
    if (r->up_fmt == AH_FMT_OPENAI && r->stream && !r->client_wants_usage) {
        json_t *so = json_object_get(r->body, "stream_options");
        so = json_is_object(so) ? json_deep_copy(so) : json_object();
        json_object_set_new(so, "include_usage", json_true());
        json_object_set_new(b, "stream_options", so);
    }
    if (ch->params_set != NULL)
        json_object_update(b, ch->params_set);
    if (ch->params_remove != NULL) {
        size_t i;
        json_t *v;
        json_array_foreach(ch->params_remove, i, v)
        {
            if (json_is_string(v))
                json_object_del(b, json_string_value(v));
        }
    }
    if (ch->type == AH_CHANNEL_AZURE)
        json_object_del(b, "model");
    if (r->up_fmt == AH_FMT_GEMINI)
        json_object_del(b, "model"); /* in the URL */
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    *len = text != NULL ? strlen(text) : 0;
    return text;
}

static void on_timer(ah_timer_t *t)
{
    ah_relay_t *r = H2O_STRUCT_FROM_MEMBER(ah_relay_t, timer, t);
    r->timed_out = 1;
    ah_relay_upstream_abort(r);
}

static int is_success(int status)
{
    return status >= 200 && status < 300;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    ah_relay_t *r = ud;
    size_t len = size * nitems;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        r->retry_after = -1;
    } else if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
        long v = strtol(buf + 12, NULL, 10);
        if (v > 0)
            r->retry_after = v;
    } else if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        long code = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code < 200)
            return len; /* interim response */
        r->headers_done = 1;
        ah_timer_stop(&r->w->timers, &r->timer);
        ah_histogram_observe(&r->w->metrics.upstream_latency, (h2o_now(r->w->loop) - r->t_upstream) / 1000.0);
        r->status = ah_channel_map_status(r->cur->account->channel, (int)code);
        if (is_success(r->status) && r->stream) {
            if (!ah_relay_client_alive(r))
                return 0;
            ah_relay_commit(r, "text/event-stream; charset=utf-8", SIZE_MAX);
            int64_t idle = r->cur->account->channel->stream_idle_timeout_ms;
            if (idle > 0)
                ah_timer_start(&r->w->timers, &r->timer, idle, on_timer);
        }
    }
    return len;
}

/* the upstream's reported usage, whatever its API (read by the translation library) */
static void take_usage(ah_relay_t *r, const ah_usage_t *u)
{
    if (!u->present)
        return;
    r->have_usage = 1;
    r->prompt_tokens = u->prompt_tokens, r->completion_tokens = u->completion_tokens, r->cached_tokens = u->cached_tokens;
}

/* 1 when the event's JSON has a non-null "usage" member (OpenAI sends "usage":null in every chunk once
 * include_usage is on: those need no parse) */
static int carries_usage(const char *data, size_t len)
{
    const char *end = data + len, *p = data;
    while ((p = memmem(p, end - p, "\"usage\"", 7)) != NULL) {
        p += 7;
        while (p < end && (*p == ' ' || *p == ':' || *p == '\t'))
            ++p;
        if (p < end && *p != 'n')
            return 1;
    }
    return 0;
}

/*
 * Usage read from the usage member alone when ah_json_scan_member vouches
 * for the whole text (it refuses whatever jansson might read differently):
 * 0 with *u filled (present or not), -1 when the caller must parse it all.
 */
static int scan_usage(ah_format_t fmt, const char *text, size_t len, ah_usage_t *u)
{
    const char *val;
    size_t vlen;
    memset(u, 0, sizeof(*u));
    int found = ah_json_scan_member(text, len, ah_translate_usage_member(fmt), &val, &vlen);
    if (found == AH_JSON_SCAN_UNSURE)
        return -1;
    if (found == AH_JSON_SCAN_FOUND) {
        json_error_t jerr;
        json_t *usage = json_loadb(val, vlen, JSON_DECODE_ANY, &jerr);
        ah_translate_usage_value(fmt, usage, u);
        json_decref(usage);
    }
    return 0;
}

/* 1 if the vouched-for object text has name as an empty array, 0 if not, -1 if the scan cannot tell */
static int empty_array_member(const char *text, size_t len, const char *name)
{
    const char *val;
    size_t vlen;
    int found = ah_json_scan_member(text, len, name, &val, &vlen);
    if (found != AH_JSON_SCAN_FOUND)
        return found == AH_JSON_SCAN_ABSENT ? 0 : -1;
    if (vlen == 0 || val[0] != '[')
        return 0;
    size_t i = 1;
    while (i < vlen && (val[i] == ' ' || val[i] == '\t' || val[i] == '\n' || val[i] == '\r'))
        ++i;
    return i < vlen && val[i] == ']';
}

/* a stream event that carries usage: taken; 1 when it is the usage-only chunk we asked for on the client's behalf (dropped) */
static int usage_chunk(ah_relay_t *r, const char *data, size_t len)
{
    ah_usage_t u;
    int empty = 0;
    if (scan_usage(AH_FMT_OPENAI, data, len, &u) == 0 && (!u.present || (empty = empty_array_member(data, len, "choices")) >= 0)) {
        if (!u.present)
            return 0;
        take_usage(r, &u);
        return !r->client_wants_usage && empty;
    }
    json_error_t jerr;
    json_t *chunk = json_loadb(data, len, 0, &jerr);
    ah_translate_usage(AH_FMT_OPENAI, chunk, &u);
    int drop = 0;
    if (u.present) {
        take_usage(r, &u);
        json_t *choices = json_object_get(chunk, "choices");
        drop = !r->client_wants_usage && json_is_array(choices) && json_array_size(choices) == 0;
    }
    json_decref(chunk);
    return drop;
}

/* one upstream SSE event: forwarded as received, except the usage chunk we asked for on our own behalf */
static int emit_translated(void *ud, const char *bytes, size_t len)
{
    ah_relay_write(ud, bytes, len);
    return 0;
}

static int on_event(void *ud, const ah_sse_event_t *ev)
{
    ah_relay_t *r = ud;
    if (r->tr != NULL) {
        if (ah_translate_stream_event(r->tr, ev, emit_translated, r) != 0) {
            const char *why = ah_translate_stream_error(r->tr);
            snprintf(r->error, sizeof(r->error), "malformed upstream event: %.200s", why != NULL ? why : "cannot translate");
            return -1;
        }
        return 0;
    }
    if (ev->data != NULL && ev->data_len > 9 && carries_usage(ev->data, ev->data_len) && usage_chunk(r, ev->data, ev->data_len))
        return 0;
    /* kept to estimate the tokens generated if no usage arrives (the client leaves, the upstream gives none) */
    if (ev->data != NULL && ev->data_len != 0 && !(ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0)) {
        if (r->gen_data == NULL)
            h2o_buffer_init(&r->gen_data, &h2o_socket_buffer_prototype);
        if (r->gen_data->size + ev->data_len + 1 <= AH_RELAY_MAX_GEN_DATA) {
            ah_buffer_append(&r->gen_data, ev->data, ev->data_len);
            ah_buffer_append(&r->gen_data, "\n", 1);
        }
        if (r->gen_data->size >= AH_RELAY_GEN_FOLD)
            ah_relay_usage_fold(r);
    }
    ah_relay_write(r, ev->raw, ev->raw_len);
    return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    ah_relay_t *r = ud;
    size_t len = size * nmemb;
    if (!ah_relay_client_alive(r))
        return 0; /* the client is gone: abort the transfer */
    if (!is_success(r->status)) {
        size_t room = AH_RELAY_MAX_ERROR_BODY - r->respbody->size;
        ah_buffer_append(&r->respbody, ptr, len < room ? len : room);
        return len;
    }
    if (!r->stream) {
        if (r->respbody->size + len > AH_RELAY_MAX_RESPONSE)
            return 0;
        ah_buffer_append(&r->respbody, ptr, len);
        return len;
    }
    if (ah_relay_queued(r) >= AH_RELAY_HIGH_WATER) {
        r->paused = 1;
        return CURL_WRITEFUNC_PAUSE; /* curl keeps this chunk and hands it again on unpause */
    }
    int64_t idle = r->cur->account->channel->stream_idle_timeout_ms;
    if (idle > 0)
        ah_timer_start(&r->w->timers, &r->timer, idle, on_timer);
    int rv = ah_sse_feed(&r->sse, ptr, len, on_event, r);
    if (rv == AH_SSE_ETOOBIG) {
        snprintf(r->error, sizeof(r->error), "upstream sent an oversized stream event");
        return 0;
    }
    if (rv != 0)
        return 0; /* a malformed event: end the stream with an error */
    return len;
}

/* the usage of a non-streaming answer passed through as it is: from its usage member alone when the scan vouches for it (a malformed answer still counts as no usage) */
static void take_answer_usage(ah_relay_t *r)
{
    ah_usage_t u;
    if (scan_usage(r->up_fmt, r->respbody->bytes, r->respbody->size, &u) != 0) {
        json_error_t jerr;
        json_t *resp = json_loadb(r->respbody->bytes, r->respbody->size, 0, &jerr);
        ah_translate_usage(r->up_fmt, resp, &u);
        json_decref(resp);
    }
    take_usage(r, &u);
}

static void send_stream_error(ah_relay_t *r, const char *message)
{
    char buf[1024];
    size_t n = ah_translate_error_event(r->client_fmt, 502, "api_error", "upstream_error", message, buf, sizeof(buf));
    if (n > 0 && n < sizeof(buf))
        ah_relay_write(r, buf, n);
}

static void finish_success(ah_relay_t *r, CURLcode result)
{
    if (r->stream) {
        ah_sse_finish(&r->sse, on_event, r);
        if (r->tr != NULL)
            take_usage(r, ah_translate_stream_usage(r->tr));
        if (result != CURLE_OK || r->error[0] != '\0') {
            if (r->error[0] == '\0')
                snprintf(r->error, sizeof(r->error), "upstream stream broke: %s",
                         r->timed_out ? "no event within stream_idle_timeout_ms" : curl_easy_strerror(result));
            send_stream_error(r, r->error);
            ah_relay_end(r);
            ah_relay_finish(r, "stream_error");
            return;
        }
        if (r->tr != NULL)
            ah_translate_stream_end(r->tr, emit_translated, r);
        ah_relay_end(r);
        ah_relay_finish(r, "ok");
        return;
    }
    if (r->up_fmt == r->client_fmt) {
        take_answer_usage(r);
        ah_relay_commit(r, "application/json", r->respbody->size);
        ah_relay_write(r, r->respbody->bytes, r->respbody->size);
    } else {
        json_error_t jerr;
        json_t *resp = json_loadb(r->respbody->bytes, r->respbody->size, 0, &jerr);
        ah_usage_t u = {0};
        ah_translate_usage(r->up_fmt, resp, &u);
        take_usage(r, &u);
        char err[256];
        json_t *out = resp != NULL ? ah_translate_response(r->up_fmt, r->client_fmt, resp, r->model, err, sizeof(err)) : NULL;
        if (out == NULL) {
            json_decref(resp);
            snprintf(r->error, sizeof(r->error), "cannot translate the upstream's answer: %.200s", resp == NULL ? "not JSON" : err);
            ah_relay_reply_error(r, 502, "api_error", "upstream_error", r->error, 0);
            ah_relay_finish(r, "stream_error");
            return;
        }
        char *text = json_dumps(out, JSON_COMPACT);
        size_t tlen = strlen(text);
        ah_relay_commit(r, "application/json", tlen);
        ah_relay_write(r, text, tlen);
        free(text);
        json_decref(out);
        json_decref(resp);
    }
    ah_relay_end(r);
    ah_relay_finish(r, "ok");
}

static void on_done(void *ud, CURL *easy, CURLcode result)
{
    ah_relay_t *r = ud;
    ah_timer_stop(&r->w->timers, &r->timer);
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    free(r->upbody);
    r->upbody = NULL;
    r->easy = NULL;
    ah_curl_loop_release(r->w->curl, easy);

    if (!ah_relay_client_alive(r)) {
        ah_relay_finish(r, "client_closed");
    } else if (r->headers_done && is_success(r->status) && (r->committed || result == CURLE_OK)) {
        finish_success(r, result);
    } else {
        if (!r->headers_done) {
            r->fail = r->timed_out ? AH_FAIL_TIMEOUT : AH_FAIL_CONNECT;
            snprintf(r->error, sizeof(r->error), "%s", r->timed_out ? "upstream timed out" : curl_easy_strerror(result));
        } else if (!is_success(r->status)) {
            r->fail = AH_FAIL_STATUS;
        } else {
            r->fail = AH_FAIL_CONNECT; /* a non-streaming answer broke before its end */
            snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(result));
        }
        ah_relay_attempt_failed(r);
    }
    ah_relay_release(r);
}

int ah_relay_upstream_start(ah_relay_t *r)
{
    const ah_candidate_t *c = r->cur;
    const ah_channel_t *ch = c->account->channel;
    r->up_fmt = ah_relay_channel_format(ch);
    char terr[200] = "";
    size_t uplen = 0;
    r->upbody = build_body(r, c, &uplen, terr, sizeof(terr));
    if (r->upbody == NULL && terr[0] != '\0') {
        /* the request cannot be expressed in this upstream's API: the client's problem, not the account's */
        snprintf(r->error, sizeof(r->error), "%s", terr);
        return -2;
    }
    char *url = ah_upstream_url(ch, c->upstream_model, r->embeddings ? AH_UPSTREAM_EMBEDDINGS : AH_UPSTREAM_CHAT, r->stream);
    if (url == NULL || r->upbody == NULL) {
        free(url);
        free(r->upbody);
        r->upbody = NULL;
        r->fail = AH_FAIL_CONNECT;
        snprintf(r->error, sizeof(r->error), "cannot build the upstream request");
        return -1;
    }
    if (r->tr != NULL)
        ah_translate_stream_free(r->tr);
    r->tr = NULL;
    if (r->stream && (r->up_fmt != r->client_fmt || r->up_fmt != AH_FMT_OPENAI)) {
        r->tr = ah_translate_stream_new(r->up_fmt, r->client_fmt, r->model);
        if (r->client_fmt == AH_FMT_OPENAI)
            ah_translate_stream_set_include_usage(r->tr, r->client_wants_usage);
    }
    r->status = 0, r->retry_after = -1, r->headers_done = 0, r->timed_out = 0, r->paused = 0, r->fail = AH_FAIL_NONE;
    r->error[0] = '\0';
    if (r->respbody == NULL)
        h2o_buffer_init(&r->respbody, &h2o_socket_buffer_prototype);
    else
        h2o_buffer_consume(&r->respbody, r->respbody->size);
    ah_sse_dispose(&r->sse);
    ah_sse_init(&r->sse, 0);

    r->headers = ah_upstream_headers_for(c->account, r->stream, r->anthropic_version, r->anthropic_beta);

    CURL *e = ah_curl_loop_easy(r->w->curl);
    r->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->upbody);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)uplen);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    ah_upstream_common_options(e, ch);
    if (r->stream)
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)AH_RELAY_STREAM_RECV_BUFFER);
    free(url); /* curl copies string options */

    if (ah_curl_loop_add(r->w->curl, e, on_done, r) != 0) {
        ah_curl_loop_release(r->w->curl, e);
        r->easy = NULL;
        curl_slist_free_all(r->headers);
        r->headers = NULL;
        free(r->upbody);
        r->upbody = NULL;
        r->fail = AH_FAIL_CONNECT;
        snprintf(r->error, sizeof(r->error), "cannot start the upstream transfer");
        return -1;
    }
    ++r->refs;
    r->t_upstream = h2o_now(r->w->loop);
    if (ch->timeout_ms > 0)
        ah_timer_start(&r->w->timers, &r->timer, ch->timeout_ms, on_timer);
    return 0;
}

void ah_relay_upstream_abort(ah_relay_t *r)
{
    if (r->easy != NULL)
        ah_curl_loop_abort(r->w->curl, r->easy);
}
