/*
 * The Gemini dialect of the completion engine (completion.c): POST /v1beta/models/{model}:generateContent and
 * :streamGenerateContent (?alt=sse: server-sent events; otherwise one JSON array of responses, written as it goes).
 * The API key is x-goog-api-key or ?key=. The model comes from the path; the answer is a GenerateContentResponse with
 * one candidate whose parts hold the text (or a functionCall), finishReason STOP and usageMetadata; a stream sends one
 * response per text chunk, the last one carrying finishReason and usageMetadata.
 */
#include "gemini.h"

#include <stdio.h>

#include "completion.h"
#include "respond.h"

static void mock_gemini_failure(mock_completion_t *c, const char *message)
{
    mock_respond_gemini_error(c->req, c->p.status, message);
}

/* One GenerateContentResponse: the part for chunk i (all of the text when all), and when last the finish and usage. */
static char *mock_gemini_response(mock_completion_t *c, char *p, unsigned i, int all, int last)
{
    MOCK_APPEND(p, "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[");
    if (c->tool.len != 0) {
        MOCK_APPEND(p, "{\"functionCall\":{\"name\":");
        p = mock_append_iov(p, c->tool);
        MOCK_APPEND(p, ",\"args\":" MOCK_TOOL_ARGS_JSON "}}]},");
    } else {
        MOCK_APPEND(p, "{\"text\":\"");
        p = all ? mock_text_all(c, p) : mock_text_piece(c, p, i);
        MOCK_APPEND(p, "\"}]},");
    }
    if (last) {
        p += sprintf(p, "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":%zu,"
                        "\"candidatesTokenCount\":%zu,\"totalTokenCount\":%zu},\"modelVersion\":",
                     c->prompt_tokens, c->completion_tokens, c->prompt_tokens + c->completion_tokens);
    } else {
        MOCK_APPEND(p, "\"index\":0}],\"modelVersion\":");
    }
    p = mock_append_iov(p, c->model);
    *p++ = '}';
    return p;
}

static h2o_iovec_t mock_gemini_body(mock_completion_t *c)
{
    char *buf = h2o_mem_alloc_pool(&c->req->pool, c->model.len + c->tool.len + mock_text_len(c) + 512);
    char *p = mock_gemini_response(c, buf, 0, 1, 1);
    return h2o_iovec_init(buf, (size_t)(p - buf));
}

static void mock_gemini_stream_setup(mock_completion_t *c)
{
    c->preamble_max = 1;
    c->ev_max = (c->tool.len == 0 ? mock_text_piece_max(c) : 0) + c->model.len + c->tool.len + 400; /* 282 + piece/name + model, as written */
    c->tail_max = 1;
}

static char *mock_gemini_preamble(mock_completion_t *c, char *p)
{
    if (c->json_array)
        *p++ = '[';
    return p;
}

static char *mock_gemini_event(mock_completion_t *c, char *p, unsigned i)
{
    if (!c->json_array)
        MOCK_APPEND(p, "data: ");
    else if (i != 0)
        *p++ = ',';
    p = mock_gemini_response(c, p, i, 0, i + 1 == c->n);
    if (!c->json_array)
        MOCK_APPEND(p, "\n\n");
    return p;
}

static char *mock_gemini_tail(mock_completion_t *c, char *p)
{
    if (c->json_array)
        *p++ = ']';
    return p;
}

static const mock_dialect_t mock_gemini_dialect = {mock_gemini_failure, mock_gemini_body, mock_gemini_stream_setup,
                                                   mock_gemini_preamble, mock_gemini_event, mock_gemini_tail};

/* A member by its camelCase or snake_case name (the REST API accepts both). */
static json_t *mock_get2(json_t *o, const char *camel, const char *snake)
{
    json_t *v = json_object_get(o, camel);
    return v != NULL ? v : json_object_get(o, snake);
}

/* Checks the request body; returns NULL when valid, else a message for the 400. */
static const char *mock_gemini_validate(json_t *root)
{
    json_t *v;

    if (root == NULL || !json_is_object(root))
        return "Invalid JSON payload received.";
    if (!json_is_array(json_object_get(root, "contents")))
        return "* GenerateContentRequest.contents: contents is not specified";
    if ((v = mock_get2(root, "systemInstruction", "system_instruction")) != NULL && !json_is_object(v))
        return "Invalid value at 'system_instruction', expected a Content object.";
    if ((v = mock_get2(root, "generationConfig", "generation_config")) != NULL && !json_is_object(v))
        return "Invalid value at 'generation_config', expected a GenerationConfig object.";
    if ((v = json_object_get(root, "tools")) != NULL && !json_is_array(v))
        return "Invalid value at 'tools', expected a list of Tool objects.";
    return NULL;
}

/*
 * The function to call, or NULL for a text answer: the first function declared in tools, when the tool config's mode
 * is ANY (the first allowed name, if given), or when the last content is the user's and says "use a tool"; never in
 * mode NONE.
 */
static json_t *mock_gemini_tool(json_t *root)
{
    json_t *tools = json_object_get(root, "tools"), *tool, *decls, *name = NULL, *allowed,
           *cfg = mock_get2(mock_get2(root, "toolConfig", "tool_config"), "functionCallingConfig", "function_calling_config"),
           *mode = json_object_get(cfg, "mode");
    size_t i;

    json_array_foreach(tools, i, tool) {
        if (json_array_size(decls = mock_get2(tool, "functionDeclarations", "function_declarations")) != 0) {
            name = json_object_get(json_array_get(decls, 0), "name");
            break;
        }
    }
    if (!json_is_string(name) || json_string_length(name) == 0)
        return NULL;
    if (json_is_string(mode) && strcmp(json_string_value(mode), "NONE") == 0)
        return NULL;
    if (json_is_string(mode) && strcmp(json_string_value(mode), "ANY") == 0) {
        allowed = json_array_get(mock_get2(cfg, "allowedFunctionNames", "allowed_function_names"), 0);
        return json_is_string(allowed) && json_string_length(allowed) != 0 ? allowed : name;
    }
    return mock_tool_if_asked(name, json_object_get(root, "contents"), 1, "parts");
}

/* The raw value of query parameter name ({NULL, 0} when absent). */
static h2o_iovec_t mock_query_param(h2o_req_t *req, const char *name, size_t len)
{
    const char *p, *end = req->path.base + req->path.len;

    if (req->query_at == SIZE_MAX)
        return h2o_iovec_init(NULL, 0);
    for (p = req->path.base + req->query_at + 1; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
        if (amp == NULL)
            amp = end;
        eq = memchr(p, '=', (size_t)(amp - p));
        if ((size_t)((eq != NULL ? eq : amp) - p) == len && memcmp(p, name, len) == 0)
            return eq != NULL ? h2o_iovec_init(eq + 1, (size_t)(amp - eq - 1)) : h2o_iovec_init(amp, 0);
        p = amp + 1;
    }
    return h2o_iovec_init(NULL, 0);
}

static int mock_hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes (and turns '+' into ' ') v into pool memory. */
static h2o_iovec_t mock_url_decode(h2o_mem_pool_t *pool, h2o_iovec_t v)
{
    char *dst = h2o_mem_alloc_pool(pool, v.len + 1), *d = dst;

    for (size_t i = 0; i != v.len; ++i) {
        if (v.base[i] == '%' && i + 2 < v.len && mock_hex(v.base[i + 1]) != -1 && mock_hex(v.base[i + 2]) != -1) {
            *d++ = (char)(mock_hex(v.base[i + 1]) << 4 | mock_hex(v.base[i + 2]));
            i += 2;
        } else {
            *d++ = v.base[i] == '+' ? ' ' : v.base[i];
        }
    }
    return h2o_iovec_init(dst, (size_t)(d - dst));
}

static void mock_gemini_handle(h2o_req_t *req, h2o_iovec_t model, int stream)
{
    h2o_iovec_t body = req->entity.base != NULL ? req->entity : h2o_iovec_init("", 0),
                key = mock_req_header(req, H2O_STRLIT("x-goog-api-key")), alt;
    json_t *root = json_loadb(body.base, body.len, 0, NULL), *tool;
    const char *err;

    if (key.len == 0 && (key = mock_query_param(req, H2O_STRLIT("key"))).len != 0)
        key = mock_url_decode(&req->pool, key);
    mock_record_request(req, MOCK_API_GEMINI, key.len != 0 ? key.base : NULL, key.len, body, json_is_object(root));
    if (key.len == 0) {
        json_decref(root);
        mock_stats_record_status(403);
        mock_respond_gemini_error(req, 403, "Method doesn't allow unregistered callers (callers without established identity). "
                                            "Please use API Key or other form of API consumer identity to call this API.");
        return;
    }
    if ((err = mock_gemini_validate(root)) != NULL) {
        json_decref(root);
        mock_stats_record_status(400);
        mock_respond_gemini_error(req, 400, err);
        return;
    }

    tool = mock_gemini_tool(root);
    mock_completion_t *c = mock_completion_new(req, &mock_gemini_dialect, key.base, key.len, stream, model.base, model.len,
                                               json_string_value(tool), json_string_length(tool));
    json_decref(root);
    if (tool != NULL)
        c->n = 1; /* Gemini sends a function call whole */
    alt = mock_query_param(req, H2O_STRLIT("alt"));
    if (stream && !h2o_memis(alt.base, alt.len, H2O_STRLIT("sse"))) {
        c->json_array = 1;
        c->stream_type = "application/json";
    }
    mock_completion_run(c);
}

void mock_gemini_route(h2o_req_t *req)
{
    static const char prefix[] = "/v1beta/models/";
    h2o_iovec_t path = req->path_normalized;
    const char *colon;

    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) && path.len > sizeof(prefix) - 1 &&
        memcmp(path.base, prefix, sizeof(prefix) - 1) == 0 &&
        (colon = memrchr(path.base + sizeof(prefix) - 1, ':', path.len - (sizeof(prefix) - 1))) != NULL &&
        colon != path.base + sizeof(prefix) - 1) {
        h2o_iovec_t model = h2o_iovec_init(path.base + sizeof(prefix) - 1, (size_t)(colon - path.base) - (sizeof(prefix) - 1)),
                    method = h2o_iovec_init(colon + 1, (size_t)(path.base + path.len - colon - 1));
        if (h2o_memis(method.base, method.len, H2O_STRLIT("generateContent"))) {
            mock_gemini_handle(req, model, 0);
            return;
        }
        if (h2o_memis(method.base, method.len, H2O_STRLIT("streamGenerateContent"))) {
            mock_gemini_handle(req, model, 1);
            return;
        }
    }
    mock_respond_gemini_error(req, 404, "Unknown method or path");
}
