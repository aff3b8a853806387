/* Counters exposed at GET /_mock/stats, shared by all worker threads. */
#ifndef MOCK_STATS_H
#define MOCK_STATS_H

#include <stddef.h>

/** How a stream ended (or did not). */
typedef enum { MOCK_STREAM_COMPLETED, MOCK_STREAM_ABORTED, MOCK_STREAM_RESET } mock_stream_end_t;

/**
 * Records one chat request: key may be NULL (no bearer token), body is stored as last_body only when body_is_object,
 * auth may be NULL (no authorization header). All pointers are borrowed for the call.
 */
void mock_stats_record_chat(const char *key, size_t keylen, const char *body, size_t bodylen, int body_is_object,
                            const char *auth, size_t authlen);
/** Counts a chat response status. */
void mock_stats_record_status(int status);
/** A stream was accepted (counts it active until mock_stats_stream_end). */
void mock_stats_stream_begin(void);
void mock_stats_stream_end(mock_stream_end_t how);
/** A non-streaming chat request whose client went away before it was answered. */
void mock_stats_request_aborted(void);
/** Returns the stats as JSON (malloc'd, NUL-terminated; caller frees), or NULL on allocation failure. */
char *mock_stats_dump(void);
void mock_stats_reset(void);

#endif
