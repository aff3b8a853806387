/* Per-API-key behaviour of the mock: the parameters a request is served with, and the runtime rule table. */
#ifndef MOCK_BEHAVIOR_H
#define MOCK_BEHAVIOR_H

#include <stddef.h>

/** The effective parameters one chat request is served with. */
typedef struct st_mock_params_t {
    unsigned chunks;          /** content chunks (words), >= 1 */
    unsigned chunk_delay_ms;  /** pause between content chunks of a stream */
    unsigned latency_ms;      /** pause before the response headers */
    unsigned hang_ms;         /** extra silence before answering (exercises upstream timeouts) */
    size_t response_bytes;    /** minimum content length in bytes (0 = just the words) */
    int status;               /** 200, or an injected failure status */
    int retry_after;          /** seconds for a retry-after header, -1 = none */
    int reset_after_chunks;   /** abort a stream after this many content chunks, -1 = never */
} mock_params_t;

/** Sets the CLI defaults used when no rule matches (call once, before any thread starts). */
void mock_behavior_init(const mock_params_t *defaults);

/**
 * Adds or replaces a rule from a JSON object (see README.md). Returns 0, or -1 with a static message in *err.
 */
int mock_behavior_set(const char *json, size_t len, const char **err);

/** Removes every rule. */
void mock_behavior_clear(void);

/** Fills *out with the parameters for an API key: its own rule, else the "*" rule, else the defaults. Consumes one use. */
void mock_behavior_lookup(const char *key, size_t keylen, mock_params_t *out);

#endif
