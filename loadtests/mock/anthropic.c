/*
 * POST /v1/messages: the Anthropic dialect of the completion engine (completion.c). Validates the request (x-api-key or
 * a bearer token, anthropic-version, model, max_tokens, messages), picks a text or tool_use answer, and formats the
 * message body, the event stream (message_start ... message_stop) and Anthropic's errors.
 */
#include "anthropic.h"

#include <stdio.h>

#include "completion.h"
#include "respond.h"

static void mock_anthropic_failure(mock_completion_t *c, const char *message)
{
    mock_respond_anthropic_error(c->req, c->p.status, NULL, message);
}

static h2o_iovec_t mock_anthropic_body(mock_completion_t *c)
{
    size_t cap = c->model.len + c->tool.len + mock_text_len(c) + 512;
    char *buf = h2o_mem_alloc_pool(&c->req->pool, cap), *p = buf;

    p += sprintf(p, "{\"id\":\"msg_mock_%llu\",\"type\":\"message\",\"role\":\"assistant\",\"model\":", c->id);
    p = mock_append_iov(p, c->model);
    if (c->tool.len == 0) {
        MOCK_APPEND(p, ",\"content\":[{\"type\":\"text\",\"text\":\"");
        p = mock_text_all(c, p);
        MOCK_APPEND(p, "\"}],\"stop_reason\":\"end_turn\"");
    } else {
        p += sprintf(p, ",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_mock_%llu\",\"name\":", c->id);
        p = mock_append_iov(p, c->tool);
        MOCK_APPEND(p, ",\"input\":" MOCK_TOOL_ARGS_JSON "}],\"stop_reason\":\"tool_use\"");
    }
    p += sprintf(p, ",\"stop_sequence\":null,\"usage\":{\"input_tokens\":%zu,\"output_tokens\":%zu,"
                    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0}}",
                 c->prompt_tokens, c->completion_tokens);
    return h2o_iovec_init(buf, (size_t)(p - buf));
}

static void mock_anthropic_stream_setup(mock_completion_t *c)
{
    c->preamble_max = c->model.len + c->tool.len + 768;
    c->ev_max = (c->tool.len == 0 ? mock_text_piece_max(c) : 0) + 224; /* at most 145 + piece */
    c->tail_max = 512;                                                  /* about 300 */
}

/* message_start, content_block_start (the text block, or the tool_use block with empty input) and a ping. */
static char *mock_anthropic_preamble(mock_completion_t *c, char *p)
{
    p += sprintf(p, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_mock_%llu\",\"type\":"
                    "\"message\",\"role\":\"assistant\",\"model\":", c->id);
    p = mock_append_iov(p, c->model);
    p += sprintf(p, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":%zu,"
                    "\"output_tokens\":1,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0}}}\n\n",
                 c->prompt_tokens);
    MOCK_APPEND(p, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":");
    if (c->tool.len == 0) {
        MOCK_APPEND(p, "{\"type\":\"text\",\"text\":\"\"}}\n\n");
    } else {
        p += sprintf(p, "{\"type\":\"tool_use\",\"id\":\"toolu_mock_%llu\",\"name\":", c->id);
        p = mock_append_iov(p, c->tool);
        MOCK_APPEND(p, ",\"input\":{}}}\n\n");
    }
    MOCK_APPEND(p, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
    return p;
}

static char *mock_anthropic_event(mock_completion_t *c, char *p, unsigned i)
{
    MOCK_APPEND(p, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":");
    if (c->tool.len == 0) {
        MOCK_APPEND(p, "{\"type\":\"text_delta\",\"text\":\"");
        p = mock_text_piece(c, p, i);
        MOCK_APPEND(p, "\"}}\n\n");
    } else if (i == 0) {
        MOCK_APPEND(p, "{\"type\":\"input_json_delta\",\"partial_json\":" MOCK_TOOL_ARGS_Q0 "}}\n\n");
    } else {
        MOCK_APPEND(p, "{\"type\":\"input_json_delta\",\"partial_json\":" MOCK_TOOL_ARGS_Q1 "}}\n\n");
    }
    return p;
}

static char *mock_anthropic_tail(mock_completion_t *c, char *p)
{
    MOCK_APPEND(p, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
                   "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
    if (c->tool.len == 0)
        MOCK_APPEND(p, "\"end_turn\"");
    else
        MOCK_APPEND(p, "\"tool_use\"");
    p += sprintf(p, ",\"stop_sequence\":null},\"usage\":{\"output_tokens\":%zu}}\n\n", c->completion_tokens);
    MOCK_APPEND(p, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    return p;
}

static const mock_dialect_t mock_anthropic_dialect = {mock_anthropic_failure, mock_anthropic_body, mock_anthropic_stream_setup,
                                                      mock_anthropic_preamble, mock_anthropic_event, mock_anthropic_tail};

/* Checks the request body; returns NULL when valid, else a message for the 400. */
static const char *mock_anthropic_validate(json_t *root, int *stream)
{
    json_t *v;

    if (root == NULL || !json_is_object(root))
        return "There was an error parsing the body of your request as JSON.";
    if (!json_is_string(v = json_object_get(root, "model")) || json_string_length(v) == 0)
        return "model: Field required";
    if (!json_is_integer(v = json_object_get(root, "max_tokens")))
        return v == NULL ? "max_tokens: Field required" : "max_tokens: Input should be a valid integer";
    if (!json_is_array(v = json_object_get(root, "messages")))
        return v == NULL ? "messages: Field required" : "messages: Input should be a valid list";
    v = json_object_get(root, "stream");
    if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
        return "stream: Input should be a valid boolean";
    *stream = json_is_true(v);
    return NULL;
}

/*
 * The tool to call, or NULL for a text answer: with tools, when tool_choice forces a call ({"type":"any"}, or
 * {"type":"tool","name":...}) or the last message is the user's and says "use a tool"; never with {"type":"none"}.
 */
static json_t *mock_anthropic_tool(json_t *root)
{
    json_t *tools = json_object_get(root, "tools"), *choice = json_object_get(root, "tool_choice"), *name,
           *type = json_object_get(choice, "type");
    int forced = 0;

    if (!json_is_array(tools) || json_array_size(tools) == 0)
        return NULL;
    name = json_object_get(json_array_get(tools, 0), "name");
    if (json_is_string(type)) {
        if (strcmp(json_string_value(type), "none") == 0)
            return NULL;
        if (strcmp(json_string_value(type), "any") == 0) {
            forced = 1;
        } else if (strcmp(json_string_value(type), "tool") == 0 && json_is_string(json_object_get(choice, "name"))) {
            name = json_object_get(choice, "name");
            forced = 1;
        }
    }
    if (!json_is_string(name) || json_string_length(name) == 0)
        return NULL;
    if (forced)
        return name;
    return mock_tool_if_asked(name, json_object_get(root, "messages"), 0, "content");
}

void mock_anthropic_handle(h2o_req_t *req)
{
    h2o_iovec_t body = req->entity.base != NULL ? req->entity : h2o_iovec_init("", 0),
                xkey = mock_req_header(req, H2O_STRLIT("x-api-key"));
    size_t keylen = xkey.len;
    const char *key = xkey.len != 0 ? xkey.base : mock_bearer(mock_req_header(req, H2O_STRLIT("authorization")), &keylen), *err;
    json_t *root = json_loadb(body.base, body.len, 0, NULL), *model, *tool;
    int stream = 0;

    mock_record_request(req, MOCK_API_ANTHROPIC, key, keylen, body, json_is_object(root));
    if (key == NULL) {
        json_decref(root);
        mock_stats_record_status(401);
        mock_respond_anthropic_error(req, 401, "authentication_error", "x-api-key header is required");
        return;
    }
    if (mock_req_header(req, H2O_STRLIT("anthropic-version")).base == NULL) {
        err = "anthropic-version: header is required";
    } else {
        err = mock_anthropic_validate(root, &stream);
    }
    if (err != NULL) {
        json_decref(root);
        mock_stats_record_status(400);
        mock_respond_anthropic_error(req, 400, "invalid_request_error", err);
        return;
    }

    model = json_object_get(root, "model");
    tool = mock_anthropic_tool(root);
    mock_completion_t *c = mock_completion_new(req, &mock_anthropic_dialect, key, keylen, stream, json_string_value(model),
                                               json_string_length(model), json_string_value(tool), json_string_length(tool));
    json_decref(root);
    mock_completion_run(c);
}
