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

/** Returns s as a quoted, escaped JSON string allocated from pool. */
h2o_iovec_t mock_json_quote(h2o_mem_pool_t *pool, const char *s, size_t len);

#endif
