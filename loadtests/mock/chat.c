/*
 * POST /v1/chat/completions: the OpenAI dialect of the completion engine (completion.c). Validates the request, picks a
 * text or tool answer, and formats the chat.completion body, the chat.completion.chunk stream and the OpenAI errors.
 */
#include "chat.h"

#include <stdio.h>
#include <time.h>

#include "completion.h"
#include "respond.h"

static void mock_chat_failure(mock_completion_t *c, const char *message)
{
    char code[16];
    snprintf(code, sizeof(code), "mock_%d", c->p.status);
    mock_respond_error(c->req, c->p.status, "mock_error", code, message, 0);
}

static char *mock_chat_usage(mock_completion_t *c, char *p)
{
    return p + sprintf(p, "\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%zu,\"total_tokens\":%zu}}", c->prompt_tokens,
                       c->completion_tokens, c->prompt_tokens + c->completion_tokens);
}

static h2o_iovec_t mock_chat_body(mock_completion_t *c)
{
    size_t cap = c->prefix.len + c->tool.len + mock_text_len(c) + 512;
    char *buf = h2o_mem_alloc_pool(&c->req->pool, cap), *p = buf;

    MOCK_APPEND(p, "{");
    p = mock_append_iov(p, c->prefix);
    if (c->tool.len == 0) {
        MOCK_APPEND(p, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"");
        p = mock_text_all(c, p);
        MOCK_APPEND(p, "\"},\"finish_reason\":\"stop\"}],");
    } else {
        p += sprintf(p, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
                        "\"call_mock_%llu\",\"type\":\"function\",\"function\":{\"name\":", c->id);
        p = mock_append_iov(p, c->tool);
        MOCK_APPEND(p, ",\"arguments\":" MOCK_TOOL_ARGS_Q "}}]},\"finish_reason\":\"tool_calls\"}],");
    }
    p = mock_chat_usage(c, p);
    return h2o_iovec_init(buf, (size_t)(p - buf));
}

static void mock_chat_stream_setup(mock_completion_t *c)
{
    char *p = c->head.base = h2o_mem_alloc_pool(&c->req->pool, c->prefix.len + 64);

    MOCK_APPEND(p, "data: {");
    p = mock_append_iov(p, c->prefix);
    MOCK_APPEND(p, ",\"choices\":[");
    c->head.len = (size_t)(p - c->head.base);
    c->preamble_max = c->tool.len == 0 ? 0 : c->head.len + c->tool.len + 256;
    c->ev_max = c->head.len + (c->tool.len == 0 ? mock_text_piece_max(c) + 128 : 192); /* a tool event: 116 + head */
    c->tail_max = 2 * c->head.len + 256;
}

static char *mock_chat_head(mock_completion_t *c, char *p)
{
    return mock_append_iov(p, c->head);
}

/* A tool answer opens with the call's id and name and empty arguments, like OpenAI's own streams. */
static char *mock_chat_preamble(mock_completion_t *c, char *p)
{
    if (c->tool.len == 0)
        return p;
    p = mock_chat_head(c, p);
    p += sprintf(p, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":"
                    "\"call_mock_%llu\",\"type\":\"function\",\"function\":{\"name\":", c->id);
    p = mock_append_iov(p, c->tool);
    MOCK_APPEND(p, ",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n");
    return p;
}

static char *mock_chat_event(mock_completion_t *c, char *p, unsigned i)
{
    p = mock_chat_head(c, p);
    if (c->tool.len != 0) {
        MOCK_APPEND(p, "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":");
        if (i == 0)
            MOCK_APPEND(p, MOCK_TOOL_ARGS_Q0);
        else
            MOCK_APPEND(p, MOCK_TOOL_ARGS_Q1);
        MOCK_APPEND(p, "}}]},\"finish_reason\":null}]}\n\n");
        return p;
    }
    if (i == 0)
        MOCK_APPEND(p, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"");
    else
        MOCK_APPEND(p, "{\"index\":0,\"delta\":{\"content\":\"");
    p = mock_text_piece(c, p, i);
    MOCK_APPEND(p, "\"},\"finish_reason\":null}]}\n\n");
    return p;
}

/* The finish event, the usage event when asked for, and [DONE]. */
static char *mock_chat_tail(mock_completion_t *c, char *p)
{
    p = mock_chat_head(c, p);
    if (c->tool.len == 0)
        MOCK_APPEND(p, "{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    else
        MOCK_APPEND(p, "{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n");
    if (c->include_usage) {
        p = mock_chat_head(c, p);
        MOCK_APPEND(p, "],");
        p = mock_chat_usage(c, p);
        MOCK_APPEND(p, "\n\n");
    }
    MOCK_APPEND(p, "data: [DONE]\n\n");
    return p;
}

static const mock_dialect_t mock_chat_dialect = {mock_chat_failure, mock_chat_body, mock_chat_stream_setup,
                                                 mock_chat_preamble, mock_chat_event, mock_chat_tail};

/* Checks the request body; returns NULL when valid, else a message for the 400. */
static const char *mock_chat_validate(json_t *root, int *stream, int *include_usage)
{
    json_t *v, *opts;

    if (root == NULL || !json_is_object(root))
        return "We could not parse the JSON body of your request.";
    if (!json_is_string(v = json_object_get(root, "model")) || json_string_length(v) == 0)
        return "you must provide a model parameter";
    if (!json_is_array(json_object_get(root, "messages")))
        return "'messages' is a required property and must be an array";
    v = json_object_get(root, "stream");
    if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
        return "'stream' must be a boolean";
    *stream = json_is_true(v);
    opts = json_object_get(root, "stream_options");
    v = json_is_object(opts) ? json_object_get(opts, "include_usage") : NULL;
    if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
        return "'stream_options.include_usage' must be a boolean";
    *include_usage = json_is_true(v);
    return NULL;
}

/*
 * The function to call, or NULL for a text answer: with tools, when tool_choice forces a call ("required", or a named
 * function) or the last message is the user's and says "use a tool"; never with tool_choice "none".
 */
static json_t *mock_chat_tool(json_t *root)
{
    json_t *tools = json_object_get(root, "tools"), *choice = json_object_get(root, "tool_choice"), *name;
    int forced = 0;

    if (!json_is_array(tools) || json_array_size(tools) == 0)
        return NULL;
    name = json_object_get(json_object_get(json_array_get(tools, 0), "function"), "name");
    if (json_is_string(choice)) {
        if (strcmp(json_string_value(choice), "none") == 0)
            return NULL;
        forced = strcmp(json_string_value(choice), "required") == 0;
    } else if (json_is_object(choice)) {
        json_t *forced_name = json_object_get(json_object_get(choice, "function"), "name");
        if (json_is_string(forced_name)) {
            name = forced_name;
            forced = 1;
        }
    }
    if (!json_is_string(name) || json_string_length(name) == 0)
        return NULL;
    if (forced)
        return name;
    return mock_tool_if_asked(name, json_object_get(root, "messages"), 0, "content");
}

void mock_chat_handle(h2o_req_t *req)
{
    h2o_iovec_t auth = mock_req_header(req, H2O_STRLIT("authorization")),
                body = req->entity.base != NULL ? req->entity : h2o_iovec_init("", 0);
    size_t keylen = 0;
    const char *key = mock_bearer(auth, &keylen), *err;
    json_t *root = json_loadb(body.base, body.len, 0, NULL), *model, *tool;
    int stream = 0, include_usage = 0;

    mock_record_request(req, MOCK_API_OPENAI, key, keylen, body, json_is_object(root));
    if (key == NULL) {
        json_decref(root);
        mock_stats_record_status(401);
        mock_respond_error(req, 401, "invalid_request_error", "invalid_api_key",
                           "You didn't provide an API key. Use a Bearer token in the authorization header.", 1);
        return;
    }
    if ((err = mock_chat_validate(root, &stream, &include_usage)) != NULL) {
        json_decref(root);
        mock_stats_record_status(400);
        mock_respond_error(req, 400, "invalid_request_error", "invalid_request", err, 1);
        return;
    }

    model = json_object_get(root, "model");
    tool = mock_chat_tool(root);
    mock_completion_t *c = mock_completion_new(req, &mock_chat_dialect, key, keylen, stream, json_string_value(model),
                                               json_string_length(model), json_string_value(tool), json_string_length(tool));
    json_decref(root);
    c->include_usage = include_usage;

    /* '"id":"chatcmpl-mock-N","object":"chat.completion[.chunk]","created":T,"model":M' */
    c->prefix.base = h2o_mem_alloc_pool(&req->pool, c->model.len + 128);
    int n = snprintf(c->prefix.base, c->model.len + 128, "\"id\":\"chatcmpl-mock-%llu\",\"object\":\"%s\",\"created\":%lld,\"model\":",
                     c->id, stream ? "chat.completion.chunk" : "chat.completion", (long long)time(NULL));
    memcpy(c->prefix.base + n, c->model.base, c->model.len);
    c->prefix.len = (size_t)n + c->model.len;
    mock_completion_run(c);
}
