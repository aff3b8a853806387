/* Small helpers for writing complete (non-streaming) responses and JSON text. */
#ifndef MOCK_RESPOND_H
#define MOCK_RESPOND_H

#include <h2o.h>

/** Reason phrase for an HTTP status (HTTP/1 needs one; h2o 2.2.5 does not fill it in). */
const char *mock_reason(int status);

/** Sends a complete response with content-length. body must live as long as the request (pool memory or static). */
void mock_respond(h2o_req_t *req, int status, const char *content_type, h2o_iovec_t body);

/** Sends a complete application/json response; takes ownership of json (malloc'd), and sends 500 when it is NULL. */
void mock_respond_json_owned(h2o_req_t *req, int status, char *json);

/**
 * Sends an OpenAI-shaped error {"error":{"message","type","code"[,"param":null]}}. message, type and code must be
 * JSON-safe literals (no quotes or backslashes).
 */
void mock_respond_error(h2o_req_t *req, int status, const char *type, const char *code, const char *message, int with_param);

/** Anthropic's error type for an HTTP status (rate_limit_error, overloaded_error, api_error, ...). */
const char *mock_anthropic_error_type(int status);

/**
 * Sends an Anthropic-shaped error {"type":"error","error":{"type","message"}}; type NULL = the one for the status.
 * type and message must be JSON-safe literals.
 */
void mock_respond_anthropic_error(h2o_req_t *req, int status, const char *type, const char *message);

/** Google's canonical status name for an HTTP status (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE, ...). */
const char *mock_gemini_status(int status);

/** Sends a Gemini-shaped error {"error":{"code","message","status"}}. message must be a JSON-safe literal. */
void mock_respond_gemini_error(h2o_req_t *req, int status, const char *message);

/** Returns s as a quoted, escaped JSON string allocated from pool. */
h2o_iovec_t mock_json_quote(h2o_mem_pool_t *pool, const char *s, size_t len);

#endif
