/*
 * translate_stream_openai.c: OpenAI Chat Completions streams, read from an
 * upstream and written for a client.
 *
 * Reading: each chunk's first choice gives deltas in order (reasoning
 * (reasoning_content, or reasoning as OpenRouter names it), content,
 * refusal as content, tool calls, finish_reason); a tool call starts when
 * its index is first seen (with id and function.name), and every non-empty
 * arguments string is one piece of its arguments. A chunk's usage is the
 * stream's usage; [DONE] ends the stream; {"error": {...}} is an upstream
 * error.
 *
 * Writing: one chat.completion.chunk per delta, the first one carrying
 * role "assistant"; at the end, the usage chunk (choices: []) if the client
 * asked for it, then data: [DONE].
 */
#include <string.h>

#include "aihub/mem.h"
#include "translate_internal.h"

static int deliver_text(ah_translate_stream_t *t, tr_kind_t kind, const json_t *v, ah_translate_emit_cb emit, void *ud)
{
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_array(v)) { /* content as text parts, as some compatible providers send it */
        size_t i;
        json_t *part;
        json_array_foreach(v, i, part)
        {
            const char *type = tr_str(part, "type");
            int rc = type != NULL && strcmp(type, "text") == 0 ? deliver_text(t, kind, json_object_get(part, "text"), emit, ud)
                                                               : tr_stream_fail(t, "upstream chunk: a delta part that is not text");
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    if (!json_is_string(v))
        return tr_stream_fail(t, "upstream chunk: a delta text is not a string");
    if (json_string_length(v) == 0)
        return 0;
    tr_delta_t d = {.kind = kind, .text = json_string_value(v), .len = json_string_length(v)};
    return tr_deliver(t, &d, emit, ud);
}

static int deliver_tools(ah_translate_stream_t *t, const json_t *calls, ah_translate_emit_cb emit, void *ud)
{
    if (!json_is_array(calls))
        return tr_stream_fail(t, "upstream chunk: delta.tool_calls is not an array");
    if (t->started == NULL) {
        t->started = ah_mem_alloc(TR_MAX_INDEX);
        memset(t->started, 0, TR_MAX_INDEX);
    }
    size_t j;
    json_t *c;
    json_array_foreach(calls, j, c)
    {
        json_t *idx = json_object_get(c, "index"), *fn = json_object_get(c, "function");
        json_int_t index = idx == NULL ? (json_int_t)j : json_is_integer(idx) ? json_integer_value(idx) : -1;
        if (!json_is_object(c) || index < 0 || index >= TR_MAX_INDEX || (fn != NULL && !json_is_object(fn)))
            return tr_stream_fail(t, "upstream chunk: malformed tool_calls[%zu]", j);
        json_t *name = json_object_get(fn, "name"), *args = json_object_get(fn, "arguments"), *id = json_object_get(c, "id");
        if ((name != NULL && !json_is_string(name)) || (args != NULL && !json_is_string(args) && !json_is_null(args)) ||
            (id != NULL && !json_is_string(id) && !json_is_null(id)))
            return tr_stream_fail(t, "upstream chunk: tool_calls[%zu] has fields of the wrong type", j);
        int rc;
        if (!t->started[index]) {
            if (name == NULL)
                return tr_stream_fail(t, "upstream chunk: tool call %d starts without a function name", (int)index);
            json_t *gen = json_is_string(id) ? NULL : tr_new_id("call_");
            tr_delta_t d = {.kind = TR_TOOL_START,
                            .index = (int)index,
                            .id = gen != NULL ? json_string_value(gen) : json_string_value(id),
                            .name = json_string_value(name)};
            t->started[index] = 1;
            rc = tr_deliver(t, &d, emit, ud);
            json_decref(gen);
            if (rc != 0)
                return rc;
        }
        if (json_is_string(args) && json_string_length(args) != 0) {
            tr_delta_t d = {.kind = TR_TOOL_ARGS, .index = (int)index, .text = json_string_value(args), .len = json_string_length(args)};
            if ((rc = tr_deliver(t, &d, emit, ud)) != 0)
                return rc;
        }
    }
    return 0;
}

static int openai_error_status(const json_t *e)
{
    const char *type = tr_str(e, "type");
    json_t *code = json_object_get(e, "code");
    if (json_is_integer(code) && json_integer_value(code) >= 400 && json_integer_value(code) < 600)
        return (int)json_integer_value(code);
    if (type != NULL && (strcmp(type, "rate_limit_error") == 0 || strcmp(type, "insufficient_quota") == 0))
        return 429;
    if (type != NULL && strcmp(type, "invalid_request_error") == 0)
        return 400;
    return 500;
}

static int decode(ah_translate_stream_t *t, const json_t *v, ah_translate_emit_cb emit, void *ud)
{
    if (!json_is_object(v))
        return tr_stream_fail(t, "upstream chunk is not a JSON object");
    json_t *e = json_object_get(v, "error");
    if (json_is_object(e)) {
        const char *m = tr_str(e, "message");
        return tr_upstream_error(t, openai_error_status(e), m != NULL ? m : "upstream error", emit, ud);
    }
    tr_stream_set_id(t, tr_str(v, "id"));
    json_t *usage = json_object_get(v, "usage");
    if (json_is_object(usage))
        tr_usage_openai(usage, &t->usage);
    json_t *choices = json_object_get(v, "choices");
    if (choices == NULL || json_is_null(choices))
        return 0;
    if (!json_is_array(choices))
        return tr_stream_fail(t, "upstream chunk: choices is not an array");
    size_t i;
    json_t *ch;
    json_array_foreach(choices, i, ch)
    {
        json_t *idx = json_object_get(ch, "index"), *delta = json_object_get(ch, "delta"), *fr = json_object_get(ch, "finish_reason");
        if (!json_is_object(ch) || (delta != NULL && !json_is_object(delta) && !json_is_null(delta)) ||
            (fr != NULL && !json_is_string(fr) && !json_is_null(fr)))
            return tr_stream_fail(t, "upstream chunk: malformed choices[%zu]", i);
        if (json_is_integer(idx) && json_integer_value(idx) != 0)
            continue; /* requests ask for one choice */
        json_t *r = json_object_get(delta, "reasoning_content");
        if (r == NULL && json_is_string(json_object_get(delta, "reasoning")))
            r = json_object_get(delta, "reasoning"); /* OpenRouter's name; other shapes of it are not text */
        int rc;
        if (json_is_string(json_object_get(delta, "role"))) {
            tr_delta_t d = {.kind = TR_TEXT, .text = "", .len = 0}; /* announces the answer (Anthropic's message_start) */
            if ((rc = tr_deliver(t, &d, emit, ud)) != 0)
                return rc;
        }
        if ((rc = deliver_text(t, TR_REASONING, r, emit, ud)) != 0 ||
            (rc = deliver_text(t, TR_TEXT, json_object_get(delta, "content"), emit, ud)) != 0 ||
            (rc = deliver_text(t, TR_TEXT, json_object_get(delta, "refusal"), emit, ud)) != 0)
            return rc;
        json_t *calls = json_object_get(delta, "tool_calls");
        if (calls != NULL && !json_is_null(calls) && (rc = deliver_tools(t, calls, emit, ud)) != 0)
            return rc;
        if (json_is_string(fr)) {
            tr_delta_t d = {.kind = TR_FINISH, .finish = json_string_value(fr)};
            if ((rc = tr_deliver(t, &d, emit, ud)) != 0)
                return rc;
        }
    }
    return 0;
}

int tr_dec_openai(ah_translate_stream_t *t, const char *data, size_t len, ah_translate_emit_cb emit, void *ud)
{
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        t->upstream_done = 1;
        return tr_stream_done(t, emit, ud);
    }
    json_error_t jerr;
    json_t *v = json_loadb(data, len, 0, &jerr);
    if (v == NULL)
        return tr_stream_fail(t, "upstream chunk is not valid JSON: %s", jerr.text);
    int rc = decode(t, v, emit, ud);
    json_decref(v);
    return rc;
}

/* the chunk frame: {id, object, created, model, choices: [{index: 0, delta, finish_reason}]} with delta stolen */
static json_t *chunk(ah_translate_stream_t *t, json_t *delta, const char *finish)
{
    if (t->id == NULL) {
        json_t *id = tr_new_id("chatcmpl-");
        t->id = tr_strdup(json_string_value(id));
        json_decref(id);
    }
    if (!t->began) {
        json_object_set_new(delta, "role", json_string("assistant"));
        t->began = 1;
    }
    return json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:s?}]}", "id", t->id, "object", "chat.completion.chunk", "created",
                     (json_int_t)t->created, "model", t->model != NULL ? t->model : "", "choices", "index", 0, "delta", delta,
                     "finish_reason", finish);
}

int tr_enc_openai(ah_translate_stream_t *t, const tr_delta_t *d, ah_translate_emit_cb emit, void *ud)
{
    json_t *delta = json_object();
    const char *finish = NULL;
    switch (d->kind) {
    case TR_TEXT:
        json_object_set_new(delta, "content", json_stringn(d->text, d->len));
        break;
    case TR_REASONING:
        json_object_set_new(delta, "reasoning_content", json_stringn(d->text, d->len));
        break;
    case TR_TOOL_START:
        json_object_set_new(delta, "tool_calls",
                            json_pack("[{s:i, s:s, s:s, s:{s:s, s:s}}]", "index", d->index, "id", d->id, "type", "function",
                                      "function", "name", d->name, "arguments", ""));
        break;
    case TR_TOOL_ARGS:
        json_object_set_new(delta, "tool_calls",
                            json_pack("[{s:i, s:{s:s%}}]", "index", d->index, "function", "arguments", d->text, d->len));
        break;
    case TR_FINISH:
        finish = t->finish = d->finish;
        break;
    }
    json_t *c = chunk(t, delta, finish);
    int rc = tr_emit_json(t, NULL, c, emit, ud);
    json_decref(c);
    return rc;
}

int tr_enc_openai_done(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud)
{
    int rc;
    if (t->finish == NULL) {
        tr_delta_t d = {.kind = TR_FINISH, .finish = "stop"};
        if ((rc = tr_enc_openai(t, &d, emit, ud)) != 0)
            return rc;
    }
    if (t->include_usage && t->usage.present) {
        json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", t->id, "object", "chat.completion.chunk", "created",
                              (json_int_t)t->created, "model", t->model != NULL ? t->model : "", "choices", "usage",
                              tr_usage_to_openai(&t->usage));
        rc = tr_emit_json(t, NULL, c, emit, ud);
        json_decref(c);
        if (rc != 0)
            return rc;
    }
    return emit(ud, "data: [DONE]\n\n", 14);
}
