/* Counters exposed at GET /_mock/stats, shared by all worker threads. */
#ifndef MOCK_STATS_H
#define MOCK_STATS_H

#include <jansson.h>
#include <stddef.h>

/** The provider API a request came in on (by_path). */
typedef enum { MOCK_API_OPENAI, MOCK_API_ANTHROPIC, MOCK_API_GEMINI, MOCK_API_COUNT } mock_api_t;

/** How a stream ended (or did not). */
typedef enum { MOCK_STREAM_COMPLETED, MOCK_STREAM_ABORTED, MOCK_STREAM_RESET } mock_stream_end_t;

/** One provider request, as recorded. Pointers are borrowed for the call, except headers. */
typedef struct st_mock_stats_req_t {
    mock_api_t api;
    const char *key; /* API key, NULL when none was given */
    size_t keylen;
    const char *body; /* stored as last_body only when body_is_object */
    size_t bodylen;
    int body_is_object;
    const char *auth; /* the authorization header, NULL when absent */
    size_t authlen;
    const char *path; /* the request path with its query */
    size_t pathlen;
    json_t *headers; /* owned (taken over): object of the API headers present, or NULL when there were none */
} mock_stats_req_t;

/** Records one provider request (chat, messages, generateContent). */
void mock_stats_record_request(const mock_stats_req_t *r);
/** Counts a provider response status. */
void mock_stats_record_status(int status);
/** A stream was accepted (counts it active until mock_stats_stream_end). */
void mock_stats_stream_begin(void);
void mock_stats_stream_end(mock_stream_end_t how);
/** A non-streaming request whose client went away before it was answered. */
void mock_stats_request_aborted(void);
/** Returns the stats as JSON (malloc'd, NUL-terminated; caller frees), or NULL on allocation failure. */
char *mock_stats_dump(void);
void mock_stats_reset(void);

#endif
