/*
 * json_scan.h: one member of a JSON object read without building the
 * document.
 *
 * The relay passes an upstream's non-streaming answer through as bytes and
 * needs only its usage member; parsing the whole answer with jansson costs
 * more than the rest of that step. ah_json_scan_member walks the text once,
 * allocating nothing, and checks all of it, but it is deliberately stricter
 * than jansson: whenever its answer could differ from what json_loadb
 * (flags 0) followed by json_object_get would give, it says so
 * (AH_JSON_SCAN_UNSURE) and the caller parses the document fully as before.
 */
#ifndef AIHUB_JSON_SCAN_H
#define AIHUB_JSON_SCAN_H

#include <stddef.h>

/** Results of ah_json_scan_member. */
enum {
    /** the text is a JSON object that has the member once: *val and *vlen give its value's text */
    AH_JSON_SCAN_FOUND = 1,
    /** the text is a JSON object without the member */
    AH_JSON_SCAN_ABSENT = 0,
    /** anything else: not an object, not valid JSON, or a case jansson might read differently (see below) */
    AH_JSON_SCAN_UNSURE = -1,
};

/**
 * Finds the top-level member name (NUL-terminated, compared byte for byte)
 * of the JSON object in s[0..n). FOUND and ABSENT promise that json_loadb(s,
 * n, 0) succeeds and that its member name is, respectively, the value
 * json_loadb(*val, *vlen, JSON_DECODE_ANY) reads, or absent. UNSURE is
 * returned for invalid JSON and also for valid JSON it does not vouch for:
 * integers of more than 18 digits, reals that might overflow a double, the
 * escapes \u0000 and of UTF-16 surrogates, escapes in top-level member
 * names, nesting deeper than 64, and the member appearing twice. *val and
 * *vlen are set only on FOUND and point into s.
 */
int ah_json_scan_member(const char *s, size_t n, const char *name, const char **val, size_t *vlen);

#endif
