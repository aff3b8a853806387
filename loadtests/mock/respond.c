/*
 * Helpers for complete responses: status/reason, content-length, the error bodies of the three provider APIs (OpenAI,
 * Anthropic, Gemini) and JSON string quoting.
 */
#include "respond.h"

#include <stdio.h>
#include <stdlib.h>

const char *mock_reason(int status)
{
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {{200, "OK"}, {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
                   {408, "Request Timeout"}, {413, "Payload Too Large"}, {429, "Too Many Requests"},
                   {500, "Internal Server Error"}, {502, "Bad Gateway"}, {503, "Service Unavailable"}, {504, "Gateway Timeout"}};
    for (size_t i = 0; i != sizeof(reasons) / sizeof(reasons[0]); ++i)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return status < 400 ? "OK" : "Error";
}

void mock_respond(h2o_req_t *req, int status, const char *content_type, h2o_iovec_t body)
{
    static h2o_generator_t generator = {NULL, NULL};

    req->res.status = status;
    req->res.reason = mock_reason(status);
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

void mock_respond_json_owned(h2o_req_t *req, int status, char *json)
{
    if (json == NULL) {
        mock_respond_error(req, 500, "server_error", "out_of_memory", "mock out of memory", 0);
        return;
    }
    h2o_iovec_t body = h2o_strdup(&req->pool, json, strlen(json));
    free(json);
    mock_respond(req, status, "application/json", body);
}

void mock_respond_error(h2o_req_t *req, int status, const char *type, const char *code, const char *message, int with_param)
{
    size_t cap = strlen(type) + strlen(code) + strlen(message) + 80;
    char *buf = h2o_mem_alloc_pool(&req->pool, cap);
    int n = snprintf(buf, cap, "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"code\":\"%s\"%s}}", message, type, code,
                     with_param ? ",\"param\":null" : "");
    mock_respond(req, status, "application/json", h2o_iovec_init(buf, (size_t)n));
}

const char *mock_anthropic_error_type(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 504: return "timeout_error";
    case 529: return "overloaded_error";
    default: return status < 500 ? "invalid_request_error" : "api_error";
    }
}

void mock_respond_anthropic_error(h2o_req_t *req, int status, const char *type, const char *message)
{
    if (type == NULL)
        type = mock_anthropic_error_type(status);
    size_t cap = strlen(type) + strlen(message) + 64;
    char *buf = h2o_mem_alloc_pool(&req->pool, cap);
    int n = snprintf(buf, cap, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"%s\"}}", type, message);
    mock_respond(req, status, "application/json", h2o_iovec_init(buf, (size_t)n));
}

const char *mock_gemini_status(int status)
{
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 412: return "FAILED_PRECONDITION";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 500: return "INTERNAL";
    case 501: return "UNIMPLEMENTED";
    case 502: case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return "UNKNOWN";
    }
}

void mock_respond_gemini_error(h2o_req_t *req, int status, const char *message)
{
    const char *st = mock_gemini_status(status);
    size_t cap = strlen(st) + strlen(message) + 64;
    char *buf = h2o_mem_alloc_pool(&req->pool, cap);
    int n = snprintf(buf, cap, "{\"error\":{\"code\":%d,\"message\":\"%s\",\"status\":\"%s\"}}", status, message, st);
    mock_respond(req, status, "application/json", h2o_iovec_init(buf, (size_t)n));
}

h2o_iovec_t mock_json_quote(h2o_mem_pool_t *pool, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char *dst = h2o_mem_alloc_pool(pool, len * 6 + 2), *p = dst; /* worst case: every byte as \u00XX */

    *p++ = '"';
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return h2o_iovec_init(dst, (size_t)(p - dst));
}
