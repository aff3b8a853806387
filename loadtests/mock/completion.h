/*
 * The completion engine shared by the provider dialects (OpenAI chat, Anthropic Messages, Gemini): behaviour lookup,
 * latency/hang delays, injected failures, the non-streaming answer, and the stream loop (batching, chunk delays,
 * back-pressure, reset_after_chunks, client-gone detection and stream stats). A dialect only parses its request and
 * formats its bytes, through a mock_dialect_t.
 */
#ifndef MOCK_COMPLETION_H
#define MOCK_COMPLETION_H

#include <h2o.h>
#include <jansson.h>

#include "behavior.h"
#include "stats.h"

/* The tool call every tool answer makes: arguments {"city":"Paris"}, streamed in two fragments. As JSON strings: */
#define MOCK_TOOL_ARGS_Q "\"{\\\"city\\\":\\\"Paris\\\"}\"" /* "{\"city\":\"Paris\"}" */
#define MOCK_TOOL_ARGS_Q0 "\"{\\\"city\\\":\""              /* "{\"city\":" */
#define MOCK_TOOL_ARGS_Q1 "\"\\\"Paris\\\"}\""              /* "\"Paris\"}" */
#define MOCK_TOOL_ARGS_JSON "{\"city\":\"Paris\"}"
#define MOCK_TOOL_TOKENS 2 /* completion tokens reported for a tool answer */

/** Appends a string literal at p and advances p. */
#define MOCK_APPEND(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) += sizeof(lit) - 1)

/** Appends v at p; returns the new end. */
static inline char *mock_append_iov(char *p, h2o_iovec_t v)
{
    memcpy(p, v.base, v.len);
    return p + v.len;
}

typedef struct st_mock_completion_t mock_completion_t;

/** How a dialect formats its answers. Every writer appends at p and returns the new end. */
typedef struct st_mock_dialect_t {
    /** Sends the injected failure (status c->p.status, message e.g. "mock failure 503") in the API's error shape. */
    void (*failure)(mock_completion_t *c, const char *message);
    /** The complete non-streaming body (pool memory). */
    h2o_iovec_t (*body)(mock_completion_t *c);
    /** Before the first stream write: sets c->head (if used), c->preamble_max, c->ev_max and c->tail_max. */
    void (*stream_setup)(mock_completion_t *c);
    /** What a stream sends before its first content chunk (may be nothing); at most preamble_max bytes. */
    char *(*preamble)(mock_completion_t *c, char *p);
    /** Content chunk i of c->n; at most ev_max bytes. */
    char *(*event)(mock_completion_t *c, char *p, unsigned i);
    /** What follows the last content chunk; at most tail_max bytes. */
    char *(*tail)(mock_completion_t *c, char *p);
} mock_dialect_t;

typedef enum { MOCK_PHASE_WAITING, MOCK_PHASE_STREAMING, MOCK_PHASE_DONE } mock_phase_t;

struct st_mock_completion_t {
    h2o_generator_t gen; /* proceed/stop of a stream */
    h2o_req_t *req;      /* borrowed; valid while phase != DONE */
    h2o_timeout_entry_t timer;
    const mock_dialect_t *d;
    mock_params_t p;
    mock_phase_t phase;
    int stream;                /* answer as a stream */
    int stream_counted;        /* counted in active_streams until it ends */
    int preamble_sent;
    int include_usage;         /* OpenAI: stream_options.include_usage */
    int json_array;            /* Gemini streamGenerateContent without alt=sse: a JSON array, not SSE */
    const char *stream_type;   /* content-type of a stream (default text/event-stream) */
    unsigned n;                /* content chunks of a stream: p.chunks, or the tool call's pieces */
    unsigned next;             /* next content chunk to emit, 0-based */
    unsigned long long id;     /* this answer's number (ids like chatcmpl-mock-<id>, msg_mock_<id>) */
    size_t pad_total;          /* filler bytes over all text chunks */
    size_t prompt_tokens, completion_tokens;
    h2o_iovec_t model;         /* pool: the model as a quoted JSON string */
    h2o_iovec_t tool;          /* pool: the tool to call as a quoted JSON string; len 0 = a text answer */
    h2o_iovec_t prefix, head;  /* pool: dialect scratch (precomputed JSON prefixes) */
    char *buf;                 /* pool: event buffer of cap bytes */
    size_t cap, preamble_max, ev_max, tail_max;
};

/** A request header's value ({NULL, 0} when absent; the first one when repeated). */
h2o_iovec_t mock_req_header(h2o_req_t *req, const char *name, size_t name_len);

/** The token of an "authorization: Bearer <token>" value, trimmed, or NULL; *len gets its length. */
const char *mock_bearer(h2o_iovec_t auth, size_t *len);

/**
 * Records a provider request in the stats (before any validation): api, key (NULL = none), the body (kept as last_body
 * when body_is_object), and the request's authorization, API headers and path.
 */
void mock_record_request(h2o_req_t *req, mock_api_t api, const char *key, size_t keylen, h2o_iovec_t body, int body_is_object);

/**
 * 1 when the last message asks for a tool: role (NULL = absent) is "user" (or absent when role_optional) and content
 * (a string, or an array of parts/blocks with "text" members) contains "use a tool", in any case.
 */
int mock_asks_for_tool(json_t *role, int role_optional, json_t *content);
/** name (borrowed) when the last of turns (messages or contents) asks for a tool (mock_asks_for_tool on its content_key), else NULL */
json_t *mock_tool_if_asked(json_t *name, json_t *turns, int role_optional, const char *content_key);

/**
 * Creates the completion for a valid request: looks up the behaviour for the key, numbers the answer, and quotes model
 * and tool (tool NULL = a text answer; it then has p.chunks chunks, else 2 pieces). The dialect may adjust fields
 * (n, include_usage, json_array, stream_type, prefix) before mock_completion_run. Never fails.
 */
mock_completion_t *mock_completion_new(h2o_req_t *req, const mock_dialect_t *d, const char *key, size_t keylen, int stream,
                                       const char *model, size_t model_len, const char *tool, size_t tool_len);

/** Answers: at once, or after latency_ms + hang_ms. */
void mock_completion_run(mock_completion_t *c);

/** Writes text chunk i of c->n (" w<i+1>" plus its filler share; no space before the first); returns the new end. */
char *mock_text_piece(mock_completion_t *c, char *p, unsigned i);
/** The longest text chunk. */
size_t mock_text_piece_max(mock_completion_t *c);
/** Writes the whole text content (all chunks); returns the new end. */
char *mock_text_all(mock_completion_t *c, char *p);
/** Length of the whole text content (0 for a tool answer). */
size_t mock_text_len(mock_completion_t *c);

#endif
