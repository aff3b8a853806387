/*
 * translate_req_anthropic_out.c: the pivot (an OpenAI Chat Completions
 * body) written as an Anthropic Messages request.
 *
 * System and developer messages become the system blocks (wherever they
 * stand: Anthropic has no system turn mid-conversation). "tool" messages
 * become tool_result blocks of a user turn; consecutive turns of one role
 * are merged, tool results first, as Anthropic requires. max_tokens is
 * required: max_completion_tokens, else max_tokens, else the default from
 * the options. reasoning_effort (or the pivot's x_thinking_budget) becomes
 * thinking with budget_tokens from tr_effort_budget (minimal and low 1024,
 * medium 8192, high 24576), kept below max_tokens (and not requested when
 * that leaves less than Anthropic's minimum of 1024). Tool call ids are cleaned to Anthropic's alphabet.
 */
#include <stdlib.h>
#include <string.h>

#include "translate_internal.h"

static json_t *text_block(const char *text)
{
    return json_pack("{s:s, s:s}", "type", "text", "text", text);
}

/* an OpenAI content part as an Anthropic block (NULL with err on failure; *skip for empty text) */
static json_t *part_block(const json_t *part, size_t i, int *skip, char *err, size_t cap)
{
    const char *type = tr_str(part, "type");
    *skip = 0;
    if (type != NULL && (strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0)) {
        const char *text = tr_str(part, strcmp(type, "text") == 0 ? "text" : "refusal");
        if (text == NULL)
            return tr_fail(err, cap, "messages[%zu]: a %s part needs its text", i, type);
        *skip = *text == '\0';
        return *skip ? NULL : text_block(text);
    }
    if (type != NULL && strcmp(type, "image_url") == 0) {
        json_t *iu = json_object_get(part, "image_url");
        const char *url = json_is_string(iu) ? json_string_value(iu) : tr_str(iu, "url"), *data;
        char *mime;
        if (tr_data_url_split(url, &mime, &data)) {
            json_t *b = json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "image", "source", "type", "base64", "media_type", mime,
                                  "data", data);
            free(mime);
            return b;
        }
        if (url != NULL && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0))
            return json_pack("{s:s, s:{s:s, s:s}}", "type", "image", "source", "type", "url", "url", url);
        return tr_fail(err, cap, "messages[%zu]: image_url must be an http(s) or base64 data: URL", i);
    }
    if (type != NULL && strcmp(type, "file") == 0) {
        const char *fd = tr_str(json_object_get(part, "file"), "file_data"), *data;
        char *mime;
        if (tr_data_url_split(fd, &mime, &data)) {
            json_t *b = json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "document", "source", "type", "base64", "media_type",
                                  mime, "data", data);
            free(mime);
            return b;
        }
        return tr_fail(err, cap, "messages[%zu]: only file parts with base64 file_data can be translated for Anthropic", i);
    }
    if (type != NULL && strcmp(type, "input_audio") == 0)
        return tr_fail(err, cap, "messages[%zu]: audio input is not supported by Anthropic upstreams", i);
    return tr_fail(err, cap, "messages[%zu]: content part type %s cannot be translated", i, type != NULL ? type : "(none)");
}

static json_t *text_item(const json_t *text)
{
    return text_block(json_string_value(text));
}

/* content (string or parts) appended as blocks to arr */
static int content_blocks(json_t *arr, const json_t *content, size_t i, char *err, size_t cap)
{
    return tr_content_items(arr, content, i, text_item, part_block, err, cap);
}

static int tool_use_blocks(json_t *arr, const json_t *calls, size_t i, char *err, size_t cap)
{
    size_t j;
    json_t *c;
    json_array_foreach(calls, j, c)
    {
        json_t *fn = json_object_get(c, "function");
        const char *id = tr_str(c, "id"), *name = tr_str(fn, "name"), *args = tr_str(fn, "arguments");
        if (id == NULL || name == NULL) {
            tr_fail(err, cap, "messages[%zu].tool_calls[%zu]: id and function.name are required", i, j);
            return -1;
        }
        json_error_t jerr;
        json_t *input = args != NULL && *args != '\0' ? json_loads(args, JSON_DECODE_ANY, &jerr) : json_object();
        if (!json_is_object(input)) {
            json_decref(input);
            tr_fail(err, cap, "messages[%zu].tool_calls[%zu]: function.arguments is not a JSON object", i, j);
            return -1;
        }
        json_array_append_new(arr, json_pack("{s:s, s:o, s:s, s:o}", "type", "tool_use", "id", tr_anthropic_id(id), "name", name,
                                              "input", input));
    }
    return 0;
}

static json_t *tool_result_block(const json_t *m, size_t i, char *err, size_t cap)
{
    const char *id = tr_str(m, "tool_call_id");
    if (id == NULL)
        return tr_fail(err, cap, "messages[%zu]: a tool message needs tool_call_id", i);
    json_t *b = json_pack("{s:s, s:o}", "type", "tool_result", "tool_use_id", tr_anthropic_id(id));
    json_t *content = json_object_get(m, "content");
    if (json_is_string(content)) {
        json_object_set(b, "content", content);
    } else if (json_is_array(content)) {
        json_t *blocks = json_array();
        if (content_blocks(blocks, content, i, err, cap) != 0) {
            json_decref(blocks);
            json_decref(b);
            return NULL;
        }
        json_object_set_new(b, "content", blocks);
    }
    if (json_is_true(json_object_get(m, "x_is_error")))
        json_object_set_new(b, "is_error", json_true());
    return b;
}

/* appends blocks as a turn of role, merged into the previous turn of the same role (tool results first) */
static void push_turn(json_t *msgs, const char *role, json_t *blocks)
{
    size_t n = json_array_size(msgs);
    json_t *last = n != 0 ? json_array_get(msgs, n - 1) : NULL;
    if (json_array_size(blocks) == 0) {
        json_decref(blocks);
        return;
    }
    if (last == NULL || strcmp(tr_str(last, "role"), role) != 0) {
        json_array_append_new(msgs, json_pack("{s:s, s:o}", "role", role, "content", blocks));
        return;
    }
    json_t *content = json_object_get(last, "content");
    size_t j;
    json_t *b;
    json_array_foreach(blocks, j, b)
    {
        const char *type = tr_str(b, "type");
        if (strcmp(type, "tool_result") == 0) {
            size_t at = 0;
            while (at < json_array_size(content) && strcmp(tr_str(json_array_get(content, at), "type"), "tool_result") == 0)
                at++;
            json_array_insert(content, at, b);
        } else {
            json_array_append(content, b);
        }
    }
    json_decref(blocks);
}

static int messages_out(json_t *out, const json_t *in, char *err, size_t cap)
{
    json_t *system = json_array(), *msgs = json_array();
    json_object_set_new(out, "messages", msgs);
    size_t i;
    json_t *m;
    json_array_foreach(in, i, m)
    {
        const char *role = tr_str(m, "role");
        json_t *blocks = json_array();
        int rc = 0;
        if (role == NULL) {
            rc = -1;
            tr_fail(err, cap, "messages[%zu]: role is required", i);
        } else if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
            json_t *content = json_object_get(m, "content");
            char *text = tr_content_text(content); /* only to check that it is all text */
            if (text == NULL) {
                rc = -1;
                tr_fail(err, cap, "messages[%zu]: a %s message must be text", i, role);
            } else {
                rc = content_blocks(system, content, i, err, cap);
            }
            free(text);
        } else if (strcmp(role, "user") == 0) {
            rc = content_blocks(blocks, json_object_get(m, "content"), i, err, cap);
            if (rc == 0)
                push_turn(msgs, "user", json_incref(blocks));
        } else if (strcmp(role, "assistant") == 0) {
            rc = content_blocks(blocks, json_object_get(m, "content"), i, err, cap);
            if (rc == 0)
                rc = tool_use_blocks(blocks, json_object_get(m, "tool_calls"), i, err, cap);
            if (rc == 0)
                push_turn(msgs, "assistant", json_incref(blocks));
        } else if (strcmp(role, "tool") == 0) {
            json_t *b = tool_result_block(m, i, err, cap);
            if (b == NULL) {
                rc = -1;
            } else {
                json_array_append_new(blocks, b);
                push_turn(msgs, "user", json_incref(blocks));
            }
        } else {
            rc = -1;
            tr_fail(err, cap, "messages[%zu]: role %s cannot be translated", i, role);
        }
        json_decref(blocks);
        if (rc != 0) {
            json_decref(system);
            return -1;
        }
    }
    if (json_array_size(system) != 0)
        json_object_set_new(out, "system", system);
    else
        json_decref(system);
    return 0;
}

static json_t *tools_out(const json_t *tools, char *err, size_t cap)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        json_t *fn = json_object_get(t, "function");
        const char *type = tr_str(t, "type"), *name = tr_str(fn, "name");
        if (type == NULL || strcmp(type, "function") != 0 || name == NULL) {
            json_decref(out);
            return tr_fail(err, cap, "tools[%zu]: only function tools can be translated", i);
        }
        json_t *schema = json_object_get(fn, "parameters");
        schema = json_is_object(schema) ? json_incref(schema) : json_pack("{s:s, s:{}}", "type", "object", "properties");
        json_t *tool = json_pack("{s:s, s:o}", "name", name, "input_schema", schema);
        tr_copy(tool, "description", fn, "description");
        json_array_append_new(out, tool);
    }
    return out;
}

static json_t *tool_choice_out(const json_t *tc, int no_parallel, char *err, size_t cap)
{
    json_t *c;
    const char *s = json_string_value(tc);
    if (tc == NULL || json_is_null(tc))
        c = no_parallel ? json_pack("{s:s}", "type", "auto") : NULL;
    else if (s != NULL && (strcmp(s, "auto") == 0 || strcmp(s, "none") == 0))
        c = json_pack("{s:s}", "type", s);
    else if (s != NULL && strcmp(s, "required") == 0)
        c = json_pack("{s:s}", "type", "any");
    else if (tr_str(json_object_get(tc, "function"), "name") != NULL)
        c = json_pack("{s:s, s:s}", "type", "tool", "name", tr_str(json_object_get(tc, "function"), "name"));
    else
        return tr_fail(err, cap, "tool_choice cannot be translated for Anthropic upstreams");
    if (c != NULL && no_parallel && strcmp(tr_str(c, "type"), "none") != 0)
        json_object_set_new(c, "disable_parallel_tool_use", json_true());
    return c;
}

/* thinking budget from x_thinking_budget or reasoning_effort, kept under max_tokens; 0 for none */
static int64_t thinking_budget(const json_t *p, int64_t max_tokens)
{
    json_t *b = json_object_get(p, "x_thinking_budget");
    const char *effort = tr_str(p, "reasoning_effort");
    int64_t n = 0;
    if (json_is_integer(b))
        n = json_integer_value(b);
    else if (effort != NULL)
        n = tr_effort_budget(effort);
    if (n <= 0)
        return 0;
    if (n < 1024)
        n = 1024;
    if (n >= max_tokens)
        n = max_tokens - 1;
    return n >= 1024 ? n : 0;
}

json_t *tr_req_anthropic_out(const json_t *p, const char *model, const ah_translate_opts_t *o, char *err, size_t cap)
{
    json_t *out = json_pack("{s:s}", "model", model != NULL ? model : "");
    if (messages_out(out, json_object_get(p, "messages"), err, cap) != 0)
        goto fail;
    json_t *mt = json_object_get(p, "max_completion_tokens");
    if (!json_is_integer(mt))
        mt = json_object_get(p, "max_tokens");
    int64_t max_tokens = json_is_integer(mt) ? json_integer_value(mt)
                         : o != NULL && o->default_max_tokens > 0 ? o->default_max_tokens
                                                                  : AH_TRANSLATE_DEFAULT_MAX_TOKENS;
    json_object_set_new(out, "max_tokens", json_integer(max_tokens));
    json_t *stop = json_object_get(p, "stop");
    if (json_is_string(stop))
        json_object_set_new(out, "stop_sequences", json_pack("[O]", stop));
    else if (json_is_array(stop) && json_array_size(stop) != 0)
        json_object_set(out, "stop_sequences", stop);
    tr_copy(out, "temperature", p, "temperature");
    tr_copy(out, "top_p", p, "top_p");
    tr_copy(out, "top_k", p, "top_k");
    if (json_is_true(json_object_get(p, "stream")))
        json_object_set_new(out, "stream", json_true());
    if (tr_str(p, "user") != NULL)
        json_object_set_new(out, "metadata", json_pack("{s:O}", "user_id", json_object_get(p, "user")));
    json_t *tools = json_object_get(p, "tools");
    if (json_is_array(tools) && json_array_size(tools) != 0) {
        json_t *t = tools_out(tools, err, cap);
        if (t == NULL)
            goto fail;
        json_object_set_new(out, "tools", t);
    }
    json_t *tc = json_object_get(p, "tool_choice");
    int no_parallel = json_is_false(json_object_get(p, "parallel_tool_calls"));
    json_t *c = tool_choice_out(tc, no_parallel, err, cap);
    if (c == NULL && (tr_present(tc) || no_parallel))
        goto fail;
    tr_set(out, "tool_choice", c);
    int64_t budget = thinking_budget(p, max_tokens);
    if (budget > 0)
        json_object_set_new(out, "thinking", json_pack("{s:s, s:I}", "type", "enabled", "budget_tokens", (json_int_t)budget));
    return out;
fail:
    json_decref(out);
    return NULL;
}
