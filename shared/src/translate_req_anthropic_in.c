/*
 * translate_req_anthropic_in.c: an Anthropic Messages request read into the
 * pivot (an OpenAI Chat Completions body).
 *
 * system becomes a system message; each user message's tool_result blocks
 * become "tool" messages placed before the rest of its content (OpenAI wants
 * tool results right after the assistant's tool calls); tool_use blocks
 * become tool_calls with their input as JSON text; image sources become
 * image_url parts (base64 as data: URLs); PDF documents become file parts.
 * Thinking blocks of earlier turns are left out (Anthropic itself does not
 * show them to the model again), as are cache_control marks. Server tools,
 * MCP servers, containers and block types with no OpenAI form are refused.
 */
#include <stdlib.h>
#include <string.h>

#include "translate_internal.h"

static json_t *text_part(const char *text)
{
    return json_pack("{s:s, s:s}", "type", "text", "text", text);
}

/* an image block's source as an image_url part */
static json_t *image_part(const json_t *block, size_t i, char *err, size_t cap)
{
    json_t *src = json_object_get(block, "source");
    const char *type = tr_str(src, "type");
    if (type != NULL && strcmp(type, "base64") == 0) {
        const char *mt = tr_str(src, "media_type"), *data = tr_str(src, "data");
        if (mt == NULL || data == NULL)
            return tr_fail(err, cap, "messages[%zu]: an image source needs media_type and data", i);
        return json_pack("{s:s, s:{s:o}}", "type", "image_url", "image_url", "url", tr_data_url(mt, data));
    }
    if (type != NULL && strcmp(type, "url") == 0 && tr_str(src, "url") != NULL)
        return json_pack("{s:s, s:{s:O}}", "type", "image_url", "image_url", "url", json_object_get(src, "url"));
    return tr_fail(err, cap, "messages[%zu]: image source type %s cannot be translated", i, type != NULL ? type : "(none)");
}

/* a document block: base64 PDF as a file part, plain text as a text part */
static json_t *document_part(const json_t *block, size_t i, char *err, size_t cap)
{
    json_t *src = json_object_get(block, "source");
    const char *type = tr_str(src, "type"), *mt = tr_str(src, "media_type"), *data = tr_str(src, "data");
    if (type != NULL && strcmp(type, "base64") == 0 && mt != NULL && data != NULL) {
        const char *title = tr_str(block, "title");
        return json_pack("{s:s, s:{s:o, s:s}}", "type", "file", "file", "file_data", tr_data_url(mt, data), "filename",
                         title != NULL ? title : "document.pdf");
    }
    if (type != NULL && strcmp(type, "text") == 0 && data != NULL)
        return text_part(data);
    return tr_fail(err, cap, "messages[%zu]: document source type %s cannot be translated", i, type != NULL ? type : "(none)");
}

/* a tool_result block as a "tool" message */
static json_t *tool_message(const json_t *block, size_t i, char *err, size_t cap)
{
    const char *id = tr_str(block, "tool_use_id");
    if (id == NULL)
        return tr_fail(err, cap, "messages[%zu]: tool_result needs tool_use_id", i);
    json_t *c = json_object_get(block, "content"), *content;
    if (c == NULL || json_is_string(c)) {
        content = c != NULL ? json_incref(c) : json_string("");
    } else if (json_is_array(c)) {
        content = json_array();
        size_t j;
        json_t *b;
        json_array_foreach(c, j, b)
        {
            const char *t = tr_str(b, "type"), *text = tr_str(b, "text");
            if (t == NULL || strcmp(t, "text") != 0 || text == NULL) {
                json_decref(content);
                return tr_fail(err, cap, "messages[%zu]: tool_result content of type %s cannot be translated", i,
                               t != NULL ? t : "(none)");
            }
            json_array_append_new(content, text_part(text));
        }
    } else {
        return tr_fail(err, cap, "messages[%zu]: tool_result content must be a string or an array", i);
    }
    json_t *m = json_pack("{s:s, s:s, s:o}", "role", "tool", "tool_call_id", id, "content", content);
    if (json_is_true(json_object_get(block, "is_error")))
        json_object_set_new(m, "x_is_error", json_true());
    return m;
}

/* one user message: its tool results first, then the rest as one user message */
static int user_message(json_t *msgs, const json_t *content, size_t i, char *err, size_t cap)
{
    json_t *parts = json_array();
    size_t j;
    json_t *b;
    json_array_foreach(content, j, b)
    {
        const char *type = tr_str(b, "type");
        json_t *part = NULL;
        if (type == NULL) {
            tr_fail(err, cap, "messages[%zu].content[%zu]: a content block needs a type", i, j);
        } else if (strcmp(type, "tool_result") == 0) {
            json_t *m = tool_message(b, i, err, cap);
            if (m != NULL) {
                json_array_append_new(msgs, m);
                continue;
            }
        } else if (strcmp(type, "text") == 0) {
            const char *text = tr_str(b, "text");
            part = text != NULL ? text_part(text) : tr_fail(err, cap, "messages[%zu].content[%zu]: text block without text", i, j);
        } else if (strcmp(type, "image") == 0) {
            part = image_part(b, i, err, cap);
        } else if (strcmp(type, "document") == 0) {
            part = document_part(b, i, err, cap);
        } else {
            tr_fail(err, cap, "messages[%zu]: content block type %s cannot be translated", i, type);
        }
        if (part == NULL) {
            json_decref(parts);
            return -1;
        }
        json_array_append_new(parts, part);
    }
    json_t *only = json_array_size(parts) == 1 ? json_object_get(json_array_get(parts, 0), "text") : NULL;
    if (only != NULL) /* one text block: plain content */
        json_array_append_new(msgs, json_pack("{s:s, s:O}", "role", "user", "content", only));
    else if (json_array_size(parts) != 0)
        json_array_append_new(msgs, json_pack("{s:s, s:O}", "role", "user", "content", parts));
    json_decref(parts);
    return 0;
}

/* one assistant message: text joined, tool_use blocks as tool_calls, thinking left out */
static int assistant_message(json_t *msgs, const json_t *content, size_t i, char *err, size_t cap)
{
    tr_buf_t text = {0};
    json_t *calls = json_array();
    size_t j;
    json_t *b;
    json_array_foreach(content, j, b)
    {
        const char *type = tr_str(b, "type");
        if (type != NULL && strcmp(type, "text") == 0 && tr_str(b, "text") != NULL) {
            tr_buf_add(&text, tr_str(b, "text"), strlen(tr_str(b, "text")));
        } else if (type != NULL && strcmp(type, "tool_use") == 0) {
            const char *id = tr_str(b, "id"), *name = tr_str(b, "name");
            json_t *input = json_object_get(b, "input");
            char *args = input != NULL ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY) : tr_strdup("{}");
            if (id == NULL || name == NULL || args == NULL) {
                free(args);
                tr_buf_free(&text);
                json_decref(calls);
                tr_fail(err, cap, "messages[%zu].content[%zu]: tool_use needs id, name and input", i, j);
                return -1;
            }
            json_array_append_new(calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function", "function", "name",
                                                   name, "arguments", args));
            free(args);
        } else if (type == NULL || (strcmp(type, "thinking") != 0 && strcmp(type, "redacted_thinking") != 0)) {
            tr_buf_free(&text);
            json_decref(calls);
            tr_fail(err, cap, "messages[%zu]: content block type %s cannot be translated", i, type != NULL ? type : "(none)");
            return -1;
        }
    }
    json_t *m = json_pack("{s:s}", "role", "assistant");
    tr_buf_add(&text, "", 1);
    json_object_set_new(m, "content", text.len > 1 || json_array_size(calls) == 0 ? json_string(text.p) : json_null());
    tr_buf_free(&text);
    if (json_array_size(calls) != 0)
        json_object_set_new(m, "tool_calls", calls);
    else
        json_decref(calls);
    json_array_append_new(msgs, m);
    return 0;
}

static json_t *system_message(const json_t *sys, char *err, size_t cap)
{
    if (json_is_string(sys))
        return json_pack("{s:s, s:O}", "role", "system", "content", sys);
    if (!json_is_array(sys))
        return tr_fail(err, cap, "system must be a string or an array of text blocks");
    json_t *parts = json_array();
    size_t i;
    json_t *b;
    json_array_foreach(sys, i, b)
    {
        const char *type = tr_str(b, "type"), *text = tr_str(b, "text");
        if (type == NULL || strcmp(type, "text") != 0 || text == NULL) {
            json_decref(parts);
            return tr_fail(err, cap, "system[%zu]: only text blocks can be translated", i);
        }
        json_array_append_new(parts, text_part(text));
    }
    json_t *m = json_array_size(parts) == 1 ? json_pack("{s:s, s:O}", "role", "system", "content", json_object_get(json_array_get(parts, 0), "text"))
                                            : json_pack("{s:s, s:O}", "role", "system", "content", parts);
    json_decref(parts);
    return m;
}

static json_t *tools_in(const json_t *tools, char *err, size_t cap)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *type = tr_str(t, "type"), *name = tr_str(t, "name");
        if ((type != NULL && strcmp(type, "custom") != 0) || name == NULL) {
            json_decref(out);
            return tr_fail(err, cap, "tools[%zu]: Anthropic tool type %s cannot be translated", i, type != NULL ? type : "(no name)");
        }
        json_t *fn = json_pack("{s:s}", "name", name);
        tr_copy(fn, "description", t, "description");
        tr_copy(fn, "parameters", t, "input_schema");
        json_array_append_new(out, json_pack("{s:s, s:o}", "type", "function", "function", fn));
    }
    return out;
}

static json_t *tool_choice_in(const json_t *tc, json_t *p, char *err, size_t cap)
{
    const char *type = tr_str(tc, "type");
    if (json_is_true(json_object_get(tc, "disable_parallel_tool_use")))
        json_object_set_new(p, "parallel_tool_calls", json_false());
    if (type == NULL)
        return tr_fail(err, cap, "tool_choice needs a type");
    if (strcmp(type, "auto") == 0 || strcmp(type, "none") == 0)
        return json_string(type);
    if (strcmp(type, "any") == 0)
        return json_string("required");
    if (strcmp(type, "tool") == 0 && tr_str(tc, "name") != NULL)
        return json_pack("{s:s, s:{s:s}}", "type", "function", "function", "name", tr_str(tc, "name"));
    return tr_fail(err, cap, "tool_choice type %s cannot be translated", type);
}

json_t *tr_req_anthropic_in(const json_t *b, char *err, size_t cap)
{
    if (!json_is_object(b))
        return tr_fail(err, cap, "the request body must be a JSON object");
    json_t *in = json_object_get(b, "messages");
    if (!json_is_array(in))
        return tr_fail(err, cap, "messages must be an array");
    static const char *const refused[] = {"mcp_servers", "container", "context_management", NULL};
    for (int k = 0; refused[k] != NULL; k++) {
        if (tr_present(json_object_get(b, refused[k])))
            return tr_fail(err, cap, "%s cannot be translated for this upstream", refused[k]);
    }
    json_t *p = json_object(), *msgs = json_array();
    json_object_set_new(p, "messages", msgs);
    json_t *sys = json_object_get(b, "system");
    if (tr_present(sys)) {
        json_t *m = system_message(sys, err, cap);
        if (m == NULL)
            goto fail;
        json_array_append_new(msgs, m);
    }
    size_t i;
    json_t *m;
    json_array_foreach(in, i, m)
    {
        const char *role = tr_str(m, "role");
        json_t *content = json_object_get(m, "content");
        if (role == NULL || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
            tr_fail(err, cap, "messages[%zu]: role must be user or assistant", i);
            goto fail;
        }
        if (json_is_string(content)) {
            json_array_append_new(msgs, json_pack("{s:s, s:O}", "role", role, "content", content));
        } else if (!json_is_array(content)) {
            tr_fail(err, cap, "messages[%zu]: content must be a string or an array", i);
            goto fail;
        } else if ((strcmp(role, "user") == 0 ? user_message(msgs, content, i, err, cap)
                                               : assistant_message(msgs, content, i, err, cap)) != 0) {
            goto fail;
        }
    }
    tr_copy(p, "max_tokens", b, "max_tokens");
    tr_copy(p, "temperature", b, "temperature");
    tr_copy(p, "top_p", b, "top_p");
    tr_copy(p, "top_k", b, "top_k");
    tr_copy(p, "stop", b, "stop_sequences");
    if (json_is_true(json_object_get(b, "stream")))
        json_object_set_new(p, "stream", json_true());
    tr_copy(p, "user", json_object_get(b, "metadata"), "user_id");
    json_t *tools = json_object_get(b, "tools");
    if (json_is_array(tools) && json_array_size(tools) != 0) {
        json_t *t = tools_in(tools, err, cap);
        if (t == NULL)
            goto fail;
        json_object_set_new(p, "tools", t);
    }
    json_t *tc = json_object_get(b, "tool_choice");
    if (tr_present(tc)) {
        json_t *c = tool_choice_in(tc, p, err, cap);
        if (c == NULL)
            goto fail;
        json_object_set_new(p, "tool_choice", c);
    }
    json_t *thinking = json_object_get(b, "thinking");
    const char *tt = tr_str(thinking, "type");
    if (tt != NULL && strcmp(tt, "enabled") == 0)
        tr_copy(p, "x_thinking_budget", thinking, "budget_tokens");
    return p;
fail:
    json_decref(p);
    return NULL;
}
