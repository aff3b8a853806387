/*
 * json_scan.c: one member of a JSON object read without building the
 * document (see aihub/json_scan.h).
 *
 * A recursive-descent walk over the text with a cursor, following RFC 8259
 * and jansson's own lexer (json_loadb with flags 0): the same whitespace,
 * the same number grammar, strict UTF-8 in strings, no control characters,
 * only the standard escapes, and an object or array at the top. Where
 * jansson would fail on valid-looking text (integers out of range, doubles
 * that overflow, \u0000, bad surrogate pairs, very deep nesting) the walk
 * stops with UNSURE before that can happen, using bounds well inside
 * jansson's, so the caller's fallback decides those cases.
 */
#include "aihub/json_scan.h"
#include "aihub/strutil.h"

#include <string.h>

/* Well inside jansson's JSON_PARSER_MAX_DEPTH (2048). */
#define MAX_DEPTH 64
/* 18 decimal digits always fit a json_int_t (long long). */
#define MAX_INT_DIGITS 18
/* A real below 10^300 cannot overflow a double. */
#define MAX_REAL_MAGNITUDE 300

typedef struct {
    const unsigned char *p, *end;
    int depth;
} scan_t;

/* 0 on success, -1 for anything the walk does not vouch for */
static int scan_value(scan_t *s);

static void skip_ws(scan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        ++s->p;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the valid UTF-8 sequence at p (before end): no overlongs, no surrogates, nothing above U+10FFFF; 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; ++i)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

/* \uXXXX after the backslash and 'u': refuses \u0000 and every surrogate (jansson may reject them) */
static int scan_unicode_escape(scan_t *s)
{
    if (s->end - s->p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
        int h = ah_hex_digit(s->p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | (unsigned)h;
    }
    if (v == 0 || (v >= 0xd800 && v <= 0xdfff))
        return -1;
    s->p += 4;
    return 0;
}

/* a string, the cursor on its opening quote; *escaped is set when it holds any escape */
static int scan_string(scan_t *s, int *escaped)
{
    ++s->p;
    *escaped = 0;
    for (;;) {
        /* plain ASCII runs first: most of any document */
        while (s->p < s->end && *s->p >= 0x20 && *s->p < 0x80 && *s->p != '"' && *s->p != '\\')
            ++s->p;
        if (s->p >= s->end)
            return -1;
        unsigned char c = *s->p;
        if (c == '"') {
            ++s->p;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            *escaped = 1;
            if (s->end - s->p < 2)
                return -1;
            c = s->p[1];
            s->p += 2;
            if (c == 'u') {
                if (scan_unicode_escape(s) != 0)
                    return -1;
            } else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
                return -1;
            }
            continue;
        }
        size_t len = utf8_len(s->p, s->end);
        if (len == 0)
            return -1;
        s->p += len;
    }
}

/* digits at the cursor; returns how many */
static size_t scan_digits(scan_t *s)
{
    const unsigned char *start = s->p;
    while (s->p < s->end && is_digit(*s->p))
        ++s->p;
    return (size_t)(s->p - start);
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? within the bounds above */
static int scan_number(scan_t *s)
{
    if (*s->p == '-')
        ++s->p;
    if (s->p >= s->end || !is_digit(*s->p))
        return -1;
    size_t int_digits = scan_digits(s);
    if (int_digits > 1 && s->p[-(long)int_digits] == '0')
        return -1; /* a leading zero */
    int real = 0;
    if (s->p < s->end && *s->p == '.') {
        ++s->p;
        if (scan_digits(s) == 0)
            return -1;
        real = 1;
    }
    long exp = 0;
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        ++s->p;
        int neg = 0;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            neg = *s->p++ == '-';
        const unsigned char *e = s->p;
        size_t n = scan_digits(s);
        if (n == 0 || n > 3)
            return -1;
        for (size_t i = 0; i < n; ++i)
            exp = exp * 10 + (e[i] - '0');
        if (neg)
            exp = 0; /* small numbers underflow quietly; only the magnitude's upper bound matters */
        real = 1;
    }
    if (!real)
        return int_digits <= MAX_INT_DIGITS ? 0 : -1;
    return (long)int_digits + exp < MAX_REAL_MAGNITUDE ? 0 : -1;
}

static int scan_literal(scan_t *s, const char *lit, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

/* after a member or element: 0 and the container closed (close), 1 after a comma (the next one follows), -1 otherwise */
static int scan_separator(scan_t *s, char close)
{
    skip_ws(s);
    if (s->p >= s->end)
        return -1;
    if (*s->p == (unsigned char)close) {
        ++s->p;
        return 0;
    }
    if (*s->p != ',')
        return -1;
    ++s->p;
    skip_ws(s);
    return 1;
}

static int scan_array(scan_t *s)
{
    ++s->p;
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        ++s->p;
        return 0;
    }
    for (;;) {
        if (scan_value(s) != 0)
            return -1;
        int next = scan_separator(s, ']');
        if (next <= 0)
            return next;
    }
}

/* a member name and its colon, the cursor on the name's quote; the name's text (quotes excluded) in *k, *klen */
static int scan_name(scan_t *s, const unsigned char **k, size_t *klen, int *escaped)
{
    if (s->p >= s->end || *s->p != '"')
        return -1;
    *k = s->p + 1;
    if (scan_string(s, escaped) != 0)
        return -1;
    *klen = (size_t)(s->p - 1 - *k);
    skip_ws(s);
    if (s->p >= s->end || *s->p != ':')
        return -1;
    ++s->p;
    skip_ws(s);
    return 0;
}

/*
 * An object, the cursor on its brace. With name set (the top level), the
 * value of that member is noted in *val, *vlen; a second one, or a name
 * with escapes (it might spell name), makes the result UNSURE.
 */
static int scan_object(scan_t *s, const char *name, const unsigned char **val, size_t *vlen)
{
    size_t name_len = name != NULL ? strlen(name) : 0;
    ++s->p;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        ++s->p;
        return 0;
    }
    for (;;) {
        const unsigned char *k;
        size_t klen;
        int escaped;
        if (scan_name(s, &k, &klen, &escaped) != 0)
            return -1;
        int wanted = 0;
        if (name != NULL) {
            if (escaped)
                return -1;
            wanted = klen == name_len && memcmp(k, name, klen) == 0;
            if (wanted && *val != NULL)
                return -1;
        }
        const unsigned char *v = s->p;
        if (scan_value(s) != 0)
            return -1;
        if (wanted) {
            *val = v;
            *vlen = (size_t)(s->p - v);
        }
        int next = scan_separator(s, '}');
        if (next <= 0)
            return next;
    }
}

static int scan_value(scan_t *s)
{
    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '{':
    case '[': {
        if (++s->depth > MAX_DEPTH)
            return -1;
        int rv = *s->p == '{' ? scan_object(s, NULL, NULL, NULL) : scan_array(s);
        --s->depth;
        return rv;
    }
    case '"': {
        int escaped;
        return scan_string(s, &escaped);
    }
    case 't':
        return scan_literal(s, "true", 4);
    case 'f':
        return scan_literal(s, "false", 5);
    case 'n':
        return scan_literal(s, "null", 4);
    default:
        return scan_number(s);
    }
}

int ah_json_scan_member(const char *text, size_t n, const char *name, const char **val, size_t *vlen)
{
    if (text == NULL || name == NULL)
        return AH_JSON_SCAN_UNSURE;
    scan_t s = {.p = (const unsigned char *)text, .end = (const unsigned char *)text + n, .depth = 1};
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return AH_JSON_SCAN_UNSURE;
    const unsigned char *v = NULL;
    size_t len = 0;
    if (scan_object(&s, name, &v, &len) != 0)
        return AH_JSON_SCAN_UNSURE;
    skip_ws(&s);
    if (s.p != s.end)
        return AH_JSON_SCAN_UNSURE;
    if (v == NULL)
        return AH_JSON_SCAN_ABSENT;
    *val = (const char *)v;
    *vlen = len;
    return AH_JSON_SCAN_FOUND;
}
