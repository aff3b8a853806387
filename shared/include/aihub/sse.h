/*
 * sse.h: an incremental Server-Sent Events parser for upstream streams, and
 * the small writers the node uses to emit events.
 *
 * Feed it bytes as they arrive, split anywhere; it calls back once per
 * complete event (an event ends at a blank line; "\n", "\r\n" and "\r" all
 * end lines). Each event carries its raw bytes for pass-through and the
 * parsed "event" and "data" fields for translation. The parser holds no
 * global state; one parser per stream, not shared between threads.
 */
#ifndef AIHUB_SSE_H
#define AIHUB_SSE_H

#include <stddef.h>

/** Error: one event grew past max_event_bytes (the parser then stays failed). */
#define AH_SSE_ETOOBIG (-2)
/** Error from ah_sse_finish: the stream ended inside an event, whose bytes were discarded. */
#define AH_SSE_ETRUNCATED (-3)
/** max_event_bytes used when ah_sse_init is given 0 (1 MiB). */
#define AH_SSE_DEFAULT_MAX_EVENT ((size_t)1 << 20)

/** One parsed event; every pointer is borrowed and valid only during the callback, and none is NUL-terminated. */
typedef struct st_ah_sse_event_t {
    /** the whole event as received, including its terminating blank line (for pass-through) */
    const char *raw;
    /** bytes in raw */
    size_t raw_len;
    /** value of the last "event:" field, or NULL if there was none */
    const char *event;
    /** bytes in event */
    size_t event_len;
    /** "data:" field values joined by "\n" (one leading space after the colon removed), or NULL if there was none */
    const char *data;
    /** bytes in data */
    size_t data_len;
} ah_sse_event_t;

/** Called once per event with the user data given to ah_sse_feed; return nonzero to stop feeding. */
typedef int (*ah_sse_event_cb)(void *ud, const ah_sse_event_t *ev);

/** Parser state; initialise with ah_sse_init, release with ah_sse_dispose. Fields are internal. */
typedef struct st_ah_sse_parser_t {
    /** bytes of the incomplete event received so far (owned) */
    char *buf;
    /** bytes used in buf */
    size_t len;
    /** bytes allocated for buf */
    size_t cap;
    /** joined data of events with several data lines (owned) */
    char *scratch;
    /** bytes allocated for scratch */
    size_t scratch_cap;
    /** largest event accepted, raw bytes including the blank line */
    size_t max_event_bytes;
    /** the next byte starts a line */
    unsigned char at_line_start;
    /** the last byte was a CR (a following LF belongs to the same line ending) */
    unsigned char prev_cr;
    /** the event ended with a CR blank line; waiting for one byte to see whether an LF follows */
    unsigned char ended;
    /** sticky error (AH_SSE_ETOOBIG) or 0 */
    int error;
} ah_sse_parser_t;

/** Initialises p for one stream; max_event_bytes caps one event's raw size (0 means AH_SSE_DEFAULT_MAX_EVENT). */
void ah_sse_init(ah_sse_parser_t *p, size_t max_event_bytes);

/**
 * Parses data[0..len), calling cb for each event completed. Returns 0, AH_SSE_ETOOBIG when an
 * event exceeds max_event_bytes (events before it were delivered; later feeds keep failing), or
 * the callback's nonzero value (the rest of this buffer is then dropped; the parser stays usable).
 * An event whose blank line ends with a CR at the very end of data is delivered on the next feed
 * or by ah_sse_finish, once it is known whether an LF follows.
 */
int ah_sse_feed(ah_sse_parser_t *p, const char *data, size_t len, ah_sse_event_cb cb, void *ud);

/** Ends the stream: delivers an event held back for the CR/LF look-ahead; returns 0, the callback's value, AH_SSE_ETRUNCATED if an incomplete event was discarded, or the sticky error. Leaves p reset for reuse. */
int ah_sse_finish(ah_sse_parser_t *p, ah_sse_event_cb cb, void *ud);

/** Returns the bytes buffered of an incomplete event. */
size_t ah_sse_pending(const ah_sse_parser_t *p);

/** Frees p's buffers; p may be initialised again afterwards. */
void ah_sse_dispose(ah_sse_parser_t *p);

/** Writes "data: " json "\n\n" into out (json split into several data lines if it holds line breaks); returns the bytes needed and writes only if cap >= that (no NUL). */
size_t ah_sse_format_data(char *out, size_t cap, const char *json, size_t len);

/** Like ah_sse_format_data with an "event: " line first (event is NUL-terminated, cut at any CR or LF; NULL for none); returns the bytes needed and writes only if cap suffices (no NUL). */
size_t ah_sse_format_event(char *out, size_t cap, const char *event, const char *data, size_t len);

#endif
