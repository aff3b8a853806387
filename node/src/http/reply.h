/*
 * Building responses: JSON bodies, the contract's error shapes, and the
 * headers every response carries. All memory comes from the request's pool.
 */
#ifndef AH_HTTP_REPLY_H
#define AH_HTTP_REPLY_H

#include <h2o.h>
#include <jansson.h>

/** error shapes per client surface */
typedef enum en_ah_error_style_t { AH_ERRSTYLE_OPENAI, AH_ERRSTYLE_ANTHROPIC, AH_ERRSTYLE_GEMINI } ah_error_style_t;

/** sends body (serialised, then released: the reply steals the reference) with status */
void ah_reply_json(h2o_req_t *req, int status, json_t *body);
/** sends raw bytes (copied into the pool) with a content type */
void ah_reply_raw(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len);
/**
 * Sends an error in the OpenAI shape {"error":{"message","type","code","param"}};
 * retry_after_s > 0 adds Retry-After.
 */
void ah_reply_error(h2o_req_t *req, int status, const char *type, const char *code, const char *message, int64_t retry_after_s);
/** the same error in a client surface's own shape (OpenAI, Anthropic or Gemini); retry_after_s > 0 adds Retry-After */
void ah_reply_error_as(h2o_req_t *req, int format, int status, const char *type, const char *code, const char *message, int64_t retry_after_s);
/** the same error as a JSON object in the OpenAI shape (caller owns) */
json_t *ah_error_body(const char *type, const char *code, const char *message);
/** adds a header by lowercase name (copied into the pool) */
void ah_reply_add_header(h2o_req_t *req, const char *name, const char *value);
/** the reason phrase HTTP/1 needs (h2o 2.2.5 does not fill it in) */
const char *ah_reason_phrase(int status);
/** a query parameter's raw (not percent-decoded) value; {NULL,0} when absent */
h2o_iovec_t ah_req_query(h2o_req_t *req, const char *name);
/** reads a request header by lowercase name; {NULL,0} when absent */
h2o_iovec_t ah_req_header(h2o_req_t *req, const char *name);

#endif
