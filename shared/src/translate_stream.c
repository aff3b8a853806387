/*
 * translate_stream.c: the stream translator's frame (aihub/translate.h).
 *
 * Each upstream event goes to the decoder of the upstream's format, which
 * turns it into deltas (tr_delta_t: a piece of text or reasoning, a tool
 * call's start or a piece of its arguments, the finish reason) and records
 * usage; each delta goes to the encoder of the client's format, which
 * writes zero or more client events and keeps just enough state to produce
 * a well-formed stream (open content blocks, tool calls waiting for their
 * whole arguments). Nothing of the answer is buffered except a Gemini
 * client's function call arguments until the call is complete (Gemini sends
 * whole calls). The upstream's terminal event, or ah_translate_stream_end,
 * triggers the encoder's closing events once.
 *
 * Same-format streams pass each event's raw bytes through; only events
 * mentioning "usage" are parsed, for the usage count (and an OpenAI usage
 * chunk the client did not ask for is dropped).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aihub/mem.h"
#include "translate_internal.h"

ah_translate_stream_t *ah_translate_stream_new(ah_format_t upstream, ah_format_t client, const char *model)
{
    ah_translate_stream_t *t = ah_mem_alloc(sizeof(*t));
    memset(t, 0, sizeof(*t));
    t->up = upstream;
    t->client = client;
    t->identity = upstream == client;
    t->model = model != NULL ? tr_strdup(model) : NULL;
    t->created = (int64_t)time(NULL);
    t->open_block = -1;
    ah_tokens_counter_init(&t->counter, tr_family(upstream));
    return t;
}

void ah_translate_stream_set_include_usage(ah_translate_stream_t *t, int on)
{
    t->include_usage = on;
}

void ah_translate_stream_free(ah_translate_stream_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->ntools_enc; i++) {
        free(t->tools[i].id);
        free(t->tools[i].name);
        tr_buf_free(&t->tools[i].args);
    }
    free(t->tools);
    free(t->block_tool);
    free(t->started);
    free(t->model);
    free(t->id);
    tr_buf_free(&t->out);
    free(t);
}

const ah_usage_t *ah_translate_stream_usage(const ah_translate_stream_t *t)
{
    return &t->usage;
}

int64_t ah_translate_stream_estimate(const ah_translate_stream_t *t)
{
    return t->identity ? -1 : ah_tokens_counter_result(&t->counter);
}

const char *ah_translate_stream_error(const ah_translate_stream_t *t)
{
    return t->error;
}

int tr_stream_fail(ah_translate_stream_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof(t->error), fmt, ap);
    va_end(ap);
    return -1;
}

int tr_stream_decode_object(ah_translate_stream_t *t, const char *data, size_t len, const char *what, tr_event_decoder decode,
                            ah_translate_emit_cb emit, void *ud)
{
    json_error_t jerr;
    json_t *v = json_loadb(data, len, 0, &jerr);
    if (v == NULL)
        return tr_stream_fail(t, "upstream %s is not valid JSON: %s", what, jerr.text);
    int rc = json_is_object(v) ? decode(t, v, emit, ud) : tr_stream_fail(t, "upstream %s is not a JSON object", what);
    json_decref(v);
    return rc;
}

void tr_stream_set_id(ah_translate_stream_t *t, const char *id)
{
    if (t->id == NULL && id != NULL && *id != '\0')
        t->id = tr_strdup(id);
}

tr_tool_t *tr_stream_tool(ah_translate_stream_t *t, int i)
{
    if ((size_t)i >= t->ntools_enc) {
        size_t n = (size_t)i + 1;
        t->tools = ah_mem_realloc(t->tools, n * sizeof(*t->tools));
        memset(t->tools + t->ntools_enc, 0, (n - t->ntools_enc) * sizeof(*t->tools));
        t->ntools_enc = n;
    }
    return &t->tools[i];
}

int tr_emit_json(ah_translate_stream_t *t, const char *name, const json_t *v, ah_translate_emit_cb emit, void *ud)
{
    char *text = json_dumps(v, JSON_COMPACT);
    if (text == NULL)
        return tr_stream_fail(t, "could not serialise an event");
    size_t len = strlen(text), need = ah_sse_format_event(NULL, 0, name, text, len);
    t->out.len = 0;
    tr_buf_add(&t->out, NULL, need);
    ah_sse_format_event(t->out.p, need, name, text, len);
    free(text);
    return emit(ud, t->out.p, need);
}

int tr_upstream_error(ah_translate_stream_t *t, int status, const char *message, ah_translate_emit_cb emit, void *ud)
{
    size_t need = ah_translate_error_event(t->client, status, NULL, "upstream_error", message, NULL, 0);
    t->out.len = 0;
    tr_buf_add(&t->out, NULL, need);
    ah_translate_error_event(t->client, status, NULL, "upstream_error", message, t->out.p, need);
    t->finished = 1;
    return emit(ud, t->out.p, need);
}

/* a finish reason as a static string (the delta's may be borrowed from an event about to be freed) */
static const char *static_finish(const char *f)
{
    static const char *const known[] = {"stop", "length", "tool_calls", "content_filter", "function_call", NULL};
    for (int i = 0; f != NULL && known[i] != NULL; i++) {
        if (strcmp(f, known[i]) == 0)
            return known[i];
    }
    return "stop";
}

int tr_deliver(ah_translate_stream_t *t, const tr_delta_t *dd, ah_translate_emit_cb emit, void *ud)
{
    tr_delta_t copy = *dd, *d = &copy;
    if (d->kind == TR_FINISH)
        d->finish = static_finish(d->finish);
    if (d->kind == TR_TEXT || d->kind == TR_REASONING || d->kind == TR_TOOL_ARGS)
        ah_tokens_counter_feed(&t->counter, d->text, d->len);
    else if (d->kind == TR_TOOL_START && d->name != NULL)
        ah_tokens_counter_feed(&t->counter, d->name, strlen(d->name));
    switch (t->client) {
    case AH_FMT_ANTHROPIC:
        return tr_enc_anthropic(t, d, emit, ud);
    case AH_FMT_GEMINI:
        return tr_enc_gemini(t, d, emit, ud);
    default:
        return tr_enc_openai(t, d, emit, ud);
    }
}

int tr_stream_done(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud)
{
    if (t->finished)
        return 0;
    t->finished = 1;
    switch (t->client) {
    case AH_FMT_ANTHROPIC:
        return tr_enc_anthropic_done(t, emit, ud);
    case AH_FMT_GEMINI:
        return tr_enc_gemini_done(t, emit, ud);
    default:
        return tr_enc_openai_done(t, emit, ud);
    }
}

/* same format: raw bytes through, usage read from the events that carry it */
static int identity_event(ah_translate_stream_t *t, const ah_sse_event_t *ev, ah_translate_emit_cb emit, void *ud)
{
    if (ev->data != NULL && ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0)
        t->upstream_done = 1;
    if (ev->data != NULL && memmem(ev->data, ev->data_len, "usage", 5) != NULL) { /* also finds "usageMetadata" */
        json_error_t jerr;
        json_t *v = json_loadb(ev->data, ev->data_len, 0, &jerr);
        int drop = 0;
        if (t->up == AH_FMT_OPENAI && json_is_object(json_object_get(v, "usage"))) {
            tr_usage_openai(json_object_get(v, "usage"), &t->usage);
            json_t *choices = json_object_get(v, "choices");
            drop = !t->include_usage && json_is_array(choices) && json_array_size(choices) == 0;
        } else if (t->up == AH_FMT_ANTHROPIC) {
            json_t *u = json_object_get(v, "usage");
            tr_usage_anthropic_merge(t, u != NULL ? u : json_object_get(json_object_get(v, "message"), "usage"));
        } else if (t->up == AH_FMT_GEMINI && json_is_object(json_object_get(v, "usageMetadata"))) {
            tr_usage_gemini(json_object_get(v, "usageMetadata"), &t->usage);
        }
        json_decref(v);
        if (drop)
            return 0;
    }
    return emit(ud, ev->raw, ev->raw_len);
}

int ah_translate_stream_event(ah_translate_stream_t *t, const ah_sse_event_t *ev, ah_translate_emit_cb emit, void *ud)
{
    t->error[0] = '\0';
    if (t->finished)
        return 0;
    if (t->identity)
        return identity_event(t, ev, emit, ud);
    if (ev->data == NULL || ev->data_len == 0)
        return 0; /* comments and keep-alives: the node sends its own */
    switch (t->up) {
    case AH_FMT_ANTHROPIC:
        return tr_dec_anthropic(t, ev->data, ev->data_len, emit, ud);
    case AH_FMT_GEMINI:
        return tr_dec_gemini(t, ev->data, ev->data_len, emit, ud);
    default:
        return tr_dec_openai(t, ev->data, ev->data_len, emit, ud);
    }
}

int ah_translate_stream_end(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud)
{
    t->error[0] = '\0';
    if (t->finished)
        return 0;
    if (t->identity) {
        t->finished = 1;
        return t->client == AH_FMT_OPENAI && !t->upstream_done ? emit(ud, "data: [DONE]\n\n", 14) : 0;
    }
    return tr_stream_done(t, emit, ud);
}
