/*
 * fuzz_translate.c: libFuzzer entry point for the format translators (built
 * only with -DAIHUB_FUZZ=ON and clang).
 *
 * The first input byte picks the mode. Its low two bits are the upstream
 * format, or 3 for JSON mode; the next two the client format; bit 4 turns
 * include_usage on; the top three bits pick how the stream is split.
 *
 * Stream mode: the rest is an upstream SSE stream, fed through ah_sse_feed
 * into a translator whole and in pieces, the way the relay will: events
 * until one returns -1 (then the caller's error event), else
 * ah_translate_stream_end. Results must be 0 or -1, both runs must emit the
 * same event names, and a translated client stream must be well formed for
 * its format: every data is JSON (or [DONE]); Anthropic's events come in
 * order (message_start, then blocks opened, filled and closed one at a time
 * with consecutive indexes, message_delta, message_stop last); OpenAI's tool
 * calls start with an id and a name and [DONE] comes last; Gemini's function
 * calls carry object args; nothing follows an error event. Any violation
 * aborts.
 *
 * JSON mode: the rest is a JSON body, translated as a request and as a
 * response between every pair of formats; every failure must come with a
 * message.
 *
 * Run (seeds: each stream fixture behind a mode byte):
 *   mkdir -p /tmp/ft && for f in shared/tests/fixtures/translate/stream/[a-z]*.sse; do
 *     for m in 04 08 01 09 02 06 12 1a 25; do (printf "\x$m"; cat $f) > /tmp/ft/$m-$(basename $f); done; done
 *   ./shared/fuzz_translate -max_total_time=60 /tmp/ft
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aihub/sse.h"
#include "aihub/translate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_translate: %s\n", what);
        abort();
    }
}

typedef struct {
    ah_translate_stream_t *t;
    char *out;
    size_t len, cap;
    int rc;
} run_t;

static int emit(void *ud, const char *bytes, size_t len)
{
    run_t *r = ud;
    if (r->len + len > r->cap) {
        r->cap = (r->len + len) * 2 + 64;
        r->out = realloc(r->out, r->cap);
        check(r->out != NULL, "out of memory");
    }
    memcpy(r->out + r->len, bytes, len);
    r->len += len;
    return 0;
}

static int on_event(void *ud, const ah_sse_event_t *ev)
{
    run_t *r = ud;
    if (r->rc != 0)
        return 0;
    r->rc = ah_translate_stream_event(r->t, ev, emit, r);
    check(r->rc == 0 || r->rc == -1, "stream_event returned neither 0 nor -1");
    check(r->rc == 0 || ah_translate_stream_error(r->t)[0] != '\0', "-1 without a reason");
    return 0;
}

static void run(run_t *r, ah_format_t up, ah_format_t client, int usage, const char *in, size_t len, size_t step)
{
    memset(r, 0, sizeof(*r));
    r->t = ah_translate_stream_new(up, client, "client-model");
    ah_translate_stream_set_include_usage(r->t, usage);
    ah_sse_parser_t p;
    ah_sse_init(&p, 4096);
    for (size_t off = 0; off < len && r->rc == 0; off += step)
        ah_sse_feed(&p, in + off, off + step <= len ? step : len - off, on_event, r);
    ah_sse_finish(&p, on_event, r);
    ah_sse_dispose(&p);
    if (r->rc == 0) {
        r->rc = ah_translate_stream_end(r->t, emit, r);
        check(r->rc == 0 || r->rc == -1, "stream_end returned neither 0 nor -1");
    } else {
        char buf[512];
        size_t n = ah_translate_error_event(client, 502, "api_error", "upstream_error", ah_translate_stream_error(r->t), buf, sizeof(buf));
        check(n > 0, "empty error event");
    }
    const ah_usage_t *u = ah_translate_stream_usage(r->t);
    check(u->present || (u->prompt_tokens == 0 && u->completion_tokens == 0), "usage counted but not present");
    (void)ah_translate_stream_estimate(r->t);
}

typedef struct {
    json_t *events; /* [{event, data}] */
} collect_t;

static int on_out(void *ud, const ah_sse_event_t *ev)
{
    collect_t *c = ud;
    if (ev->data == NULL && ev->event == NULL)
        return 0;
    json_t *data = NULL;
    if (ev->data != NULL && !(ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0)) {
        data = json_loadb(ev->data, ev->data_len, 0, NULL);
        check(json_is_object(data), "client event data is not a JSON object");
    }
    json_t *e = json_pack("{s:o?, s:b}", "data", data, "done", data == NULL);
    json_object_set_new(e, "event", ev->event != NULL ? json_stringn(ev->event, ev->event_len) : json_null());
    json_array_append_new(c->events, e);
    return 0;
}

/* the client events of r (new reference); each must be JSON or [DONE] */
static json_t *events_of(const run_t *r)
{
    collect_t c = {json_array()};
    ah_sse_parser_t p;
    ah_sse_init(&p, 0);
    check(ah_sse_feed(&p, r->out != NULL ? r->out : "", r->len, on_out, &c) == 0, "client stream does not parse");
    check(ah_sse_finish(&p, on_out, &c) == 0, "client stream ends inside an event");
    ah_sse_dispose(&p);
    return c.events;
}

static int is_error(const json_t *e)
{
    json_t *d = json_object_get(e, "data");
    return json_object_get(d, "error") != NULL && (json_object_get(d, "candidates") == NULL || json_is_object(json_object_get(d, "error")));
}

static void check_anthropic(const json_t *evs, int clean)
{
    int started = 0, open = -1, next = 0, delta = 0, stopped = 0;
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e)
    {
        json_t *d = json_object_get(e, "data");
        const char *name = json_string_value(json_object_get(e, "event")), *type = json_string_value(json_object_get(d, "type"));
        check(name != NULL && type != NULL && strcmp(name, type) == 0, "Anthropic event name and type differ");
        check(!stopped, "Anthropic event after message_stop or error");
        int index = (int)json_integer_value(json_object_get(d, "index"));
        if (strcmp(type, "error") == 0) {
            stopped = 1;
        } else if (strcmp(type, "message_start") == 0) {
            check(!started, "two message_start");
            started = 1;
        } else if (strcmp(type, "content_block_start") == 0) {
            check(started && open < 0 && !delta && index == next, "content_block_start out of order");
            open = next++;
        } else if (strcmp(type, "content_block_delta") == 0) {
            check(open >= 0 && index == open, "content_block_delta outside its block");
        } else if (strcmp(type, "content_block_stop") == 0) {
            check(open >= 0 && index == open, "content_block_stop of a block not open");
            open = -1;
        } else if (strcmp(type, "message_delta") == 0) {
            check(started && open < 0 && !delta, "message_delta out of order");
            delta = 1;
        } else if (strcmp(type, "message_stop") == 0) {
            check(delta, "message_stop before message_delta");
            stopped = 1;
        } else {
            check(0, "unknown Anthropic event type");
        }
    }
    if (clean && json_array_size(evs) != 0)
        check(stopped, "a clean Anthropic stream does not end with message_stop or error");
}

static void check_openai(const json_t *evs, int clean)
{
    unsigned char started[1024] = {0};
    size_t i, j, n = json_array_size(evs);
    json_t *e, *tc;
    json_array_foreach(evs, i, e)
    {
        if (json_is_true(json_object_get(e, "done"))) {
            check(i == n - 1, "[DONE] is not last");
            continue;
        }
        if (is_error(e)) {
            check(i == n - 1, "an OpenAI event after an error");
            continue;
        }
        json_t *ch = json_array_get(json_object_get(json_object_get(e, "data"), "choices"), 0);
        json_array_foreach(json_object_get(json_object_get(ch, "delta"), "tool_calls"), j, tc)
        {
            json_int_t idx = json_integer_value(json_object_get(tc, "index"));
            check(idx >= 0 && idx < 1024, "tool call index out of range");
            if (!started[idx]) {
                check(json_is_string(json_object_get(tc, "id")) && json_is_string(json_object_get(json_object_get(tc, "function"), "name")),
                      "a tool call starts without id and name");
                started[idx] = 1;
            }
        }
    }
    if (clean && n != 0)
        check(json_is_true(json_object_get(json_array_get(evs, n - 1), "done")) || is_error(json_array_get(evs, n - 1)),
              "a clean OpenAI stream does not end with [DONE] or an error");
}

static void check_gemini(const json_t *evs)
{
    size_t i, j, n = json_array_size(evs);
    json_t *e, *part;
    json_array_foreach(evs, i, e)
    {
        if (is_error(e)) {
            check(i == n - 1, "a Gemini event after an error");
            continue;
        }
        json_t *cand = json_array_get(json_object_get(json_object_get(e, "data"), "candidates"), 0);
        check(cand != NULL, "a Gemini event without a candidate");
        json_array_foreach(json_object_get(json_object_get(cand, "content"), "parts"), j, part)
        {
            json_t *fc = json_object_get(part, "functionCall");
            check(fc == NULL || json_is_object(json_object_get(fc, "args")), "a functionCall without object args");
        }
    }
}

static void fuzz_json(const char *in, size_t len, uint8_t flags)
{
    json_t *body = json_loadb(in, len, JSON_DECODE_ANY, NULL);
    if (body == NULL)
        return;
    ah_translate_opts_t opts = {.default_max_tokens = flags & 0x20 ? 77 : 0, .stream = flags & 0x10, .openai_max_completion_tokens = flags & 0x40};
    char err[256];
    for (int from = 0; from < AH_FMT_COUNT; from++) {
        for (int to = 0; to < AH_FMT_COUNT; to++) {
            err[0] = '\0';
            json_t *out = ah_translate_request((ah_format_t)from, (ah_format_t)to, body, "upstream", &opts, err, sizeof(err));
            check(out != NULL || err[0] != '\0', "a request refused without a message");
            char *text = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
            check(out == NULL || text != NULL, "a translated request does not serialise");
            free(text);
            json_decref(out);
            err[0] = '\0';
            out = ah_translate_response((ah_format_t)from, (ah_format_t)to, body, flags & 0x80 ? NULL : "m", err, sizeof(err));
            check(out != NULL || err[0] != '\0', "a response refused without a message");
            json_decref(out);
        }
        ah_usage_t u;
        ah_translate_usage((ah_format_t)from, body, &u);
        (void)ah_translate_estimate_completion((ah_format_t)from, body);
        (void)ah_translate_is_stream((ah_format_t)from, body);
        (void)ah_translate_max_tokens((ah_format_t)from, body);
    }
    (void)ah_translate_upstream_error_message(body);
    json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    if ((flags & 3) == 3) {
        fuzz_json(in, len, flags);
        return 0;
    }
    ah_format_t up = (ah_format_t)(flags & 3), client = (ah_format_t)(((flags >> 2) & 3) % 3);
    int usage = (flags >> 4) & 1;
    static const size_t steps[8] = {1, 2, 3, 5, 7, 16, 64, 1000};
    run_t whole, split;
    run(&whole, up, client, usage, in, len, len != 0 ? len : 1);
    run(&split, up, client, usage, in, len, steps[flags >> 5]);
    check(whole.rc == split.rc, "whole and split feeds end differently");
    if (up != client) {
        json_t *a = events_of(&whole), *b = events_of(&split);
        check(json_array_size(a) == json_array_size(b), "whole and split feeds give different event counts");
        for (size_t i = 0; i < json_array_size(a); i++) {
            const char *na = json_string_value(json_object_get(json_array_get(a, i), "event"));
            const char *nb = json_string_value(json_object_get(json_array_get(b, i), "event"));
            check((na == NULL) == (nb == NULL) && (na == NULL || strcmp(na, nb) == 0), "whole and split feeds give different events");
        }
        int clean = whole.rc == 0;
        if (client == AH_FMT_ANTHROPIC)
            check_anthropic(a, clean);
        else if (client == AH_FMT_OPENAI)
            check_openai(a, clean);
        else
            check_gemini(a);
        json_decref(a);
        json_decref(b);
    } else {
        check(whole.len == split.len && (whole.len == 0 || memcmp(whole.out, split.out, whole.len) == 0), "same format: splits differ");
    }
    ah_translate_stream_free(whole.t);
    ah_translate_stream_free(split.t);
    free(whole.out);
    free(split.out);
    return 0;
}
