/*
 * strutil.c: strict parsers for configuration values (see aihub/strutil.h).
 *
 * Written by hand rather than with strtol and friends: those skip leading
 * spaces, accept partial input and depend on the locale, and every one of
 * those would let a typo in a config file through.
 */
#include "aihub/strutil.h"

#include <limits.h>
#include <string.h>

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int ah_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t ah_fmt_i64(char *out, int64_t v)
{
    /* Digits of the magnitude as an unsigned number, so INT64_MIN needs no special case. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    size_t len = 0;
    if (v < 0)
        out[len++] = '-';
    while (n > 0)
        out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}

int ah_parse_int64(const char *s, size_t len, int64_t *out)
{
    if (s == NULL || out == NULL || len == 0)
        return -1;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return -1;
    /* Accumulate as a negative number: its range includes INT64_MIN. */
    int64_t v = 0;
    for (; i < len; i++) {
        if (!is_digit(s[i]))
            return -1;
        int d = s[i] - '0';
        if (v < (INT64_MIN + d) / 10)
            return -1;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN)
            return -1;
        v = -v;
    }
    *out = v;
    return 0;
}

int ah_parse_size(const char *s, int64_t *out)
{
    static const struct {
        const char *suffix;
        int shift;
    } suffixes[] = {{"", 0}, {"k", 10}, {"K", 10}, {"KiB", 10}, {"m", 20}, {"M", 20}, {"MiB", 20}, {"g", 30}, {"G", 30}, {"GiB", 30}};
    if (s == NULL || out == NULL)
        return -1;
    size_t ndigits = 0;
    while (is_digit(s[ndigits]))
        ndigits++;
    int64_t v;
    if (ndigits == 0 || ah_parse_int64(s, ndigits, &v) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (strcmp(s + ndigits, suffixes[i].suffix) == 0) {
            if (v > (INT64_MAX >> suffixes[i].shift))
                return -1;
            *out = v << suffixes[i].shift;
            return 0;
        }
    }
    return -1;
}

/* Parses s[0..len) as a port in min..65535. */
static int parse_port(const char *s, size_t len, int min, int *port)
{
    int64_t v;
    if (len == 0 || len > 5 || !is_digit(s[0]) || ah_parse_int64(s, len, &v) != 0 || v < min || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

/* A host name or IPv4 address: letters, digits, '.', '-', '_'. */
static int valid_hostname(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
            return 0;
    return 1;
}

/* The inside of "[...]": hex digits, ':' and '.', at least one ':', then an optional "%zone". */
static int valid_ipv6(const char *s, size_t len)
{
    size_t i = 0;
    int colons = 0;
    for (; i < len && s[i] != '%'; i++) {
        if (s[i] == ':')
            colons++;
        else if (ah_hex_digit((unsigned char)s[i]) < 0 && s[i] != '.')
            return 0;
    }
    if (colons == 0)
        return 0;
    if (i < len) {
        if (++i == len)
            return 0; /* empty zone */
        for (; i < len; i++)
            if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
                return 0;
    }
    return 1;
}

static int copy_field(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

/*
 * Splits "host[:port]" or "[v6][:port]" in s[0..len). *host and *host_len get the
 * host (brackets removed), *port_s the text after the ':' or NULL if none.
 */
static int split_hostport(const char *s, size_t len, const char **host, size_t *host_len, const char **port_s, size_t *port_len)
{
    const char *rest;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL || !valid_ipv6(s + 1, (size_t)(close - s) - 1))
            return -1;
        *host = s + 1;
        *host_len = (size_t)(close - s) - 1;
        rest = close + 1;
    } else {
        const char *colon = memchr(s, ':', len);
        *host = s;
        *host_len = colon != NULL ? (size_t)(colon - s) : len;
        if (!valid_hostname(*host, *host_len))
            return -1;
        rest = s + *host_len;
    }
    size_t rest_len = len - (size_t)(rest - s);
    if (rest_len == 0) {
        *port_s = NULL;
        *port_len = 0;
        return 0;
    }
    if (rest[0] != ':')
        return -1;
    *port_s = rest + 1;
    *port_len = rest_len - 1;
    return 0;
}

int ah_parse_hostport(const char *s, char *host, size_t hostcap, int *port)
{
    if (s == NULL || host == NULL || port == NULL)
        return -1;
    const char *h, *p;
    size_t hlen, plen;
    int portv;
    if (split_hostport(s, strlen(s), &h, &hlen, &p, &plen) != 0 || p == NULL || parse_port(p, plen, 0, &portv) != 0)
        return -1;
    if (hlen == 0) {
        if (s[0] == '[')
            return -1; /* "[]" */
        h = "0.0.0.0";
        hlen = 7;
    }
    if (copy_field(host, hostcap, h, hlen) != 0)
        return -1;
    *port = portv;
    return 0;
}

int ah_form_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i != len; ++i) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? ah_hex_digit((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? ah_hex_digit((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        } else if (c == '\0') {
            return -1;
        }
        if (n + 1 >= cap)
            return -2;
        out[n++] = c;
    }
    if (cap == 0)
        return -2;
    out[n] = '\0';
    return 0;
}

/* Percent-decodes s[0..len) into dst (cap bytes, NUL included); rejects bad escapes, NUL bytes, spaces and control characters. */
static int percent_decode(char *dst, size_t cap, const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = ah_hex_digit((unsigned char)s[i + 1]), lo = ah_hex_digit((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return -1;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c <= 0x20 || c == 0x7f) {
            return -1;
        }
        if (n + 1 >= cap)
            return -1;
        dst[n++] = (char)c;
    }
    dst[n] = '\0';
    return 0;
}

int ah_parse_redis_url(const char *url, ah_redis_url_t *out)
{
    static const char scheme[] = "redis://";
    if (url == NULL || out == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(scheme) - 1; i++) {
        char c = url[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != scheme[i])
            return -1;
    }

    ah_redis_url_t r;
    memset(&r, 0, sizeof(r));
    strcpy(r.host, "127.0.0.1");
    r.port = 6379;

    const char *auth = url + sizeof(scheme) - 1;
    size_t auth_len = strcspn(auth, "/?#");
    const char *path = auth + auth_len;
    if (*path == '?' || *path == '#')
        return -1;

    /* userinfo ends at the authority's last '@'; user and password split at its first ':'. */
    const char *at = NULL;
    for (size_t i = auth_len; i > 0; i--) {
        if (auth[i - 1] == '@') {
            at = auth + i - 1;
            break;
        }
    }
    if (at != NULL) {
        size_t ui_len = (size_t)(at - auth);
        const char *colon = memchr(auth, ':', ui_len);
        size_t user_len = colon != NULL ? (size_t)(colon - auth) : ui_len;
        if (percent_decode(r.user, sizeof(r.user), auth, user_len) != 0)
            return -1;
        if (colon != NULL && percent_decode(r.password, sizeof(r.password), colon + 1, ui_len - user_len - 1) != 0)
            return -1;
        auth_len -= ui_len + 1;
        auth = at + 1;
    }

    const char *h, *p;
    size_t hlen, plen;
    if (split_hostport(auth, auth_len, &h, &hlen, &p, &plen) != 0)
        return -1;
    if (hlen != 0 && copy_field(r.host, sizeof(r.host), h, hlen) != 0)
        return -1;
    if (hlen == 0 && auth_len != 0 && auth[0] == '[')
        return -1; /* "[]" */
    if (p != NULL && parse_port(p, plen, 1, &r.port) != 0)
        return -1;

    if (*path == '/' && path[1] != '\0') {
        int64_t db;
        size_t dlen = strlen(path + 1);
        if (!is_digit(path[1]) || ah_parse_int64(path + 1, dlen, &db) != 0 || db > INT_MAX)
            return -1;
        r.db = (int)db;
    }
    *out = r;
    return 0;
}
