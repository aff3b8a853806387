/*
 * translate_resp.c: non-streaming responses of OpenAI and Anthropic read
 * into the pivot (an OpenAI chat.completion) and written from it.
 *
 * Anthropic text blocks are joined into the message content, thinking
 * blocks into reasoning_content (the field DeepSeek and others use),
 * tool_use blocks become tool_calls with their input as JSON text; the
 * other way, reasoning comes first as a thinking block (with an empty
 * signature: there is none to give), then the text, then tool_use blocks.
 * Usage goes through ah_usage_t (see translate.h for what each count holds).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "translate_internal.h"

json_t *tr_resp_openai_in(const json_t *r, char *err, size_t cap)
{
    json_t *choices = json_object_get(r, "choices");
    if (!json_is_object(r) || !json_is_array(choices) || json_array_size(choices) == 0)
        return tr_fail(err, cap, "the upstream response has no choices");
    json_t *msg = json_object_get(json_array_get(choices, 0), "message");
    if (!json_is_object(msg))
        return tr_fail(err, cap, "the upstream response's choice has no message");
    json_t *c = json_object_get(msg, "content");
    char *text = NULL;
    if (json_is_array(c) && (text = tr_content_text(c)) == NULL) /* text parts, as some compatible providers send */
        return tr_fail(err, cap, "the upstream response's message content holds parts that are not text");
    if (c != NULL && !json_is_string(c) && !json_is_null(c) && text == NULL)
        return tr_fail(err, cap, "the upstream response's message content is not a string");
    size_t i;
    json_t *call;
    json_array_foreach(json_object_get(msg, "tool_calls"), i, call)
    {
        json_t *fn = json_object_get(call, "function");
        if (tr_str(fn, "name") == NULL || (json_object_get(fn, "arguments") != NULL && tr_str(fn, "arguments") == NULL)) {
            free(text);
            return tr_fail(err, cap, "the upstream response's tool_calls[%zu] lacks function.name or arguments", i);
        }
    }
    if (text == NULL)
        return json_incref((json_t *)r);
    /* a copy with the parts joined: the writers read a string */
    json_t *copy = json_copy((json_t *)r), *cs = json_copy(choices);
    json_t *choice = json_copy(json_array_get(choices, 0)), *m = json_copy(msg);
    json_object_set_new(m, "content", json_string(text));
    json_object_set_new(choice, "message", m);
    json_array_set_new(cs, 0, choice);
    json_object_set_new(copy, "choices", cs);
    free(text);
    return copy;
}

/* a new pivot response around a message */
static json_t *pivot(const char *id, json_t *msg, const char *finish, const ah_usage_t *u)
{
    json_t *p = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:s?}]}", "id", id, "object", "chat.completion", "created",
                          (json_int_t)time(NULL), "model", "", "choices", "index", 0, "message", msg, "finish_reason", finish);
    if (u->present)
        json_object_set_new(p, "usage", tr_usage_to_openai(u));
    return p;
}

json_t *tr_resp_anthropic_in(const json_t *r, char *err, size_t cap)
{
    json_t *content = json_object_get(r, "content");
    if (!json_is_object(r) || !json_is_array(content))
        return tr_fail(err, cap, "the upstream response has no content array");
    tr_buf_t text = {0}, reasoning = {0};
    json_t *calls = json_array();
    size_t i;
    json_t *b;
    json_array_foreach(content, i, b)
    {
        const char *type = tr_str(b, "type");
        if (type != NULL && strcmp(type, "text") == 0 && tr_str(b, "text") != NULL) {
            tr_buf_add(&text, tr_str(b, "text"), strlen(tr_str(b, "text")));
        } else if (type != NULL && strcmp(type, "thinking") == 0 && tr_str(b, "thinking") != NULL) {
            tr_buf_add(&reasoning, tr_str(b, "thinking"), strlen(tr_str(b, "thinking")));
        } else if (type != NULL && strcmp(type, "tool_use") == 0 && tr_str(b, "id") != NULL && tr_str(b, "name") != NULL) {
            json_t *input = json_object_get(b, "input");
            char *args = input != NULL ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY) : tr_strdup("{}");
            json_array_append_new(calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", tr_str(b, "id"), "type", "function", "function",
                                                   "name", tr_str(b, "name"), "arguments", args != NULL ? args : "{}"));
            free(args);
        } else if (type == NULL || strcmp(type, "redacted_thinking") != 0) {
            tr_buf_free(&text), tr_buf_free(&reasoning), json_decref(calls);
            return tr_fail(err, cap, "the upstream response's content block %s cannot be translated", type != NULL ? type : "(none)");
        }
    }
    tr_buf_add(&text, "", 1);
    json_t *msg = json_pack("{s:s, s:s}", "role", "assistant", "content", text.p);
    if (reasoning.len != 0) {
        tr_buf_add(&reasoning, "", 1);
        json_object_set_new(msg, "reasoning_content", json_string(reasoning.p));
    }
    if (json_array_size(calls) != 0)
        json_object_set(msg, "tool_calls", calls);
    if (text.len == 1 && json_array_size(calls) != 0)
        json_object_set_new(msg, "content", json_null());
    tr_buf_free(&text), tr_buf_free(&reasoning), json_decref(calls);
    ah_usage_t u;
    tr_usage_anthropic(json_object_get(r, "usage"), &u);
    const char *id = tr_str(r, "id");
    json_t *finish = json_object_get(r, "stop_reason");
    return pivot(id != NULL ? id : "msg", msg, json_is_string(finish) ? tr_finish_from_anthropic(json_string_value(finish)) : NULL, &u);
}

json_t *tr_resp_openai_out(const json_t *p, const char *model)
{
    json_t *r = json_copy((json_t *)p);
    if (model != NULL)
        json_object_set_new(r, "model", json_string(model));
    return r;
}

/* the pivot's usage as ah_usage_t */
static void pivot_usage(const json_t *p, ah_usage_t *u)
{
    tr_usage_openai(json_object_get(p, "usage"), u);
}

json_t *tr_resp_anthropic_out(const json_t *p, const char *model, char *err, size_t cap)
{
    json_t *choice = json_array_get(json_object_get(p, "choices"), 0), *msg = json_object_get(choice, "message");
    json_t *content = json_array();
    const char *reasoning = tr_str(msg, "reasoning_content"), *text = tr_str(msg, "content");
    if (reasoning != NULL && *reasoning != '\0')
        json_array_append_new(content, json_pack("{s:s, s:s, s:s}", "type", "thinking", "thinking", reasoning, "signature", ""));
    if (text == NULL)
        text = tr_str(msg, "refusal");
    if (text != NULL && *text != '\0')
        json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", text));
    size_t i;
    json_t *call;
    json_array_foreach(json_object_get(msg, "tool_calls"), i, call)
    {
        json_t *fn = json_object_get(call, "function");
        const char *args = tr_str(fn, "arguments"), *id = tr_str(call, "id");
        json_error_t jerr;
        json_t *input = args != NULL && *args != '\0' ? json_loads(args, JSON_DECODE_ANY, &jerr) : json_object();
        if (!json_is_object(input)) {
            json_decref(input), json_decref(content);
            return tr_fail(err, cap, "the upstream's tool call arguments are not a JSON object");
        }
        json_array_append_new(content, json_pack("{s:s, s:o, s:s, s:o}", "type", "tool_use", "id", tr_anthropic_client_id(id != NULL ? id : "toolu"),
                                                 "name", tr_str(fn, "name"), "input", input));
    }
    ah_usage_t u;
    pivot_usage(p, &u);
    const char *id = tr_str(p, "id");
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:n, s:o}", "id", id != NULL ? id : "msg", "type", "message", "role", "assistant",
                     "model", model != NULL ? model : (tr_str(p, "model") != NULL ? tr_str(p, "model") : ""), "content", content,
                     "stop_reason", tr_finish_to_anthropic(tr_str(choice, "finish_reason")), "stop_sequence", "usage",
                     tr_usage_to_anthropic(&u));
}
