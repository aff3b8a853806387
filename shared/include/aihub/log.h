/*
 * log.h: structured logging, one JSON object per line.
 *
 * Lines look like {"time":"2026-11-22T02:10:11.123Z","level":"info",
 * "module":"redis","msg":"..."} and go to one FILE* (stdout by default),
 * each written with a single fwrite and flushed under the stream's lock,
 * so lines from different threads never interleave.
 *
 * Globals (stated, as the style asks): the output stream and the minimum
 * level are process-wide, set by ah_log_set_stream and ah_log_set_level,
 * and read atomically.
 */
#ifndef AIHUB_LOG_H
#define AIHUB_LOG_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/** Log levels, lowest first. */
enum {
    /** detail for debugging */
    AH_LOG_DEBUG = 0,
    /** normal operation (the default minimum) */
    AH_LOG_INFO = 1,
    /** something unexpected that was handled */
    AH_LOG_WARN = 2,
    /** something failed */
    AH_LOG_ERROR = 3,
};

/** Longest msg written by ah_log in bytes; a longer one is cut and ends with "...". */
#define AH_LOG_MAX_MSG 16384

#if defined(__GNUC__) || defined(__clang__)
#define AH_LOG_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define AH_LOG_PRINTF(fmt, args)
#endif

/** Sets the stream log lines go to (borrowed; must outlive its use); NULL restores stdout. */
void ah_log_set_stream(FILE *f);

/** Sets the minimum level written (clamped to AH_LOG_DEBUG..AH_LOG_ERROR). */
void ah_log_set_level(int level);

/** Returns the minimum level written. */
int ah_log_get_level(void);

/** Returns 1 if a line at this level would be written, so callers can skip costly formatting. */
int ah_log_enabled(int level);

/** Parses "debug", "info", "warn"/"warning" or "error" (any case) into a level; -1 if unknown. */
int ah_log_parse_level(const char *s);

/** Returns the name written for a level ("debug", "info", "warn", "error"); out-of-range levels clamp. */
const char *ah_log_level_name(int level);

/** Writes one line with level, module (omitted if NULL) and the printf-formatted message, JSON-escaped (invalid UTF-8 becomes U+FFFD). */
void ah_log(int level, const char *module, const char *fmt, ...) AH_LOG_PRINTF(3, 4);

/**
 * One JSON-lines record written field by field, without jansson: begin it,
 * add fields in the order they should appear, end it. It lives on the stack
 * (1 KiB; the heap only for a longer line) and is written by ah_log_rec_end,
 * which also frees it. Names and strings are escaped for JSON (invalid UTF-8
 * becomes U+FFFD), so they may carry bytes from clients or upstreams.
 */
typedef struct st_ah_log_rec_t {
    /** the line so far (stack or heap) */
    char *p;
    /** bytes used and capacity of p */
    size_t len, cap;
    /** the first 1 KiB */
    char stack[1024];
} ah_log_rec_t;

/** Starts a record: {"time":"<now>","level":"<level>","module":<module> (module omitted if NULL). */
void ah_log_rec_begin(ah_log_rec_t *rec, int level, const char *module);

/** Adds "name":"s" (NUL-terminated); s NULL writes "name":null. */
void ah_log_rec_str(ah_log_rec_t *rec, const char *name, const char *s);

/** Adds "name":"s[0..n)"; s NULL writes "name":null. */
void ah_log_rec_strn(ah_log_rec_t *rec, const char *name, const char *s, size_t n);

/** Adds "name":v in decimal. */
void ah_log_rec_int(ah_log_rec_t *rec, const char *name, int64_t v);

/** Adds "name":true or "name":false. */
void ah_log_rec_bool(ah_log_rec_t *rec, const char *name, int v);

/** Closes the record, writes it as one line (like ah_log, regardless of the level filter) and frees it. */
void ah_log_rec_end(ah_log_rec_t *rec);

/** Writes the jansson object obj as one compact line, with "time" inserted first if obj has none; obj is borrowed and not modified. Non-objects are ignored. */
void ah_log_json(json_t *obj);

/** Formats unix_ms (milliseconds since 1970, UTC) as "YYYY-MM-DDTHH:MM:SS.mmmZ" with a NUL. */
void ah_time_rfc3339(char out[32], int64_t unix_ms);

/** Returns the wall-clock time in milliseconds since 1970. */
int64_t ah_time_now_ms(void);

#endif
