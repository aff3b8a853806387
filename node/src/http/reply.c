/*
 * Response helpers (see reply.h).
 */
#include <string.h>
#include "aihub/translate.h"
#include "http/reply.h"

const char *ah_reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "OK" : "Error";
    }
}

void ah_reply_add_header(h2o_req_t *req, const char *name, const char *value)
{
    size_t nlen = strlen(name), vlen = strlen(value);
    h2o_iovec_t n = h2o_strdup(&req->pool, name, nlen), v = h2o_strdup(&req->pool, value, vlen);
    h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
}

h2o_iovec_t ah_req_header(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

void ah_reply_raw(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = ah_reason_phrase(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_iovec_t copy = h2o_strdup(&req->pool, body, len);
    h2o_send_inline(req, copy.base, copy.len);
}

void ah_reply_json(h2o_req_t *req, int status, json_t *body)
{
    size_t len = json_dumpb(body, NULL, 0, JSON_COMPACT);
    char *buf = h2o_mem_alloc_pool(&req->pool, len + 1);
    json_dumpb(body, buf, len, JSON_COMPACT);
    json_decref(body);
    req->res.status = status;
    req->res.reason = ah_reason_phrase(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, buf, len);
}

json_t *ah_error_body(const char *type, const char *code, const char *message)
{
    return json_pack("{s:{s:s, s:s, s:s, s:n}}", "error", "message", message, "type", type, "code", code, "param");
}

void ah_reply_error(h2o_req_t *req, int status, const char *type, const char *code, const char *message, int64_t retry_after_s)
{
    if (retry_after_s > 0) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%lld", (long long)retry_after_s);
        ah_reply_add_header(req, "retry-after", buf);
    }
    ah_reply_json(req, status, ah_error_body(type, code, message));
}

void ah_reply_error_as(h2o_req_t *req, int format, int status, const char *type, const char *code, const char *message, int64_t retry_after_s)
{
    if (format == AH_FMT_OPENAI) {
        ah_reply_error(req, status, type, code, message, retry_after_s);
        return;
    }
    if (retry_after_s > 0) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%lld", (long long)retry_after_s);
        ah_reply_add_header(req, "retry-after", buf);
    }
    ah_reply_json(req, status, ah_translate_error_body((ah_format_t)format, status, type, code, message));
}

h2o_iovec_t ah_req_query(h2o_req_t *req, const char *name)
{
    if (req->query_at == SIZE_MAX)
        return h2o_iovec_init(NULL, 0);
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    size_t nlen = strlen(name);
    while (q < end) {
        const char *amp = memchr(q, '&', end - q);
        if (amp == NULL)
            amp = end;
        if ((size_t)(amp - q) > nlen && memcmp(q, name, nlen) == 0 && q[nlen] == '=')
            return h2o_iovec_init(q + nlen + 1, amp - q - nlen - 1);
        q = amp + 1;
    }
    return h2o_iovec_init(NULL, 0);
}
