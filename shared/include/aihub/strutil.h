/*
 * strutil.h: strict parsers for the values configuration is made of:
 * integers, sizes, listen addresses and Redis URLs; and the integer
 * formatter the hot paths use instead of snprintf.
 *
 * Every parser accepts the whole input or nothing: no leading or trailing
 * spaces, no partial numbers, and the output is written only on success.
 */
#ifndef AIHUB_STRUTIL_H
#define AIHUB_STRUTIL_H

#include <stddef.h>
#include <stdint.h>

/** A parsed redis:// URL. */
typedef struct st_ah_redis_url_t {
    /** host name or address, without IPv6 brackets (default "127.0.0.1") */
    char host[256];
    /** TCP port, 1..65535 (default 6379) */
    int port;
    /** database number (default 0) */
    int db;
    /** ACL user name, percent-decoded, or "" */
    char user[128];
    /** password, percent-decoded, or "" */
    char password[256];
} ah_redis_url_t;

/** Parses s[0..len) as a decimal int64: optional sign, then digits only; 0, or -1 on anything else or overflow. */
int ah_parse_int64(const char *s, size_t len, int64_t *out);

/** Writes v in decimal with a NUL into out (AH_FMT_I64_MAX bytes hold any int64_t, sign included); returns the length. */
size_t ah_fmt_i64(char *out, int64_t v);

/** The value of hex digit c (0-9, a-f, A-F), or -1. */
int ah_hex_digit(int c);

/**
 * Decodes a form-encoded query value s[0..len) (%XX escapes, '+' is a space)
 * into out (cap bytes, NUL-terminated). 0; -1 when malformed (a bad or cut
 * escape, or one that spells NUL); -2 when it does not fit.
 */
int ah_form_decode(const char *s, size_t len, char *out, size_t cap);

/** Bytes ah_fmt_i64 may write, NUL included. */
#define AH_FMT_I64_MAX 21

/** Parses a non-negative byte count with an optional binary suffix k/K/KiB, m/M/MiB, g/G/GiB ("8MiB" is 8388608); 0, or -1 if malformed or overflowing. */
int ah_parse_size(const char *s, int64_t *out);

/** Parses "host:port", "[ipv6]:port" or ":port" (host "0.0.0.0") into host (without brackets) and port 0..65535; 0, or -1 if malformed or host does not fit in hostcap. */
int ah_parse_hostport(const char *s, char *host, size_t hostcap, int *port);

/** Parses "redis://[user[:password]@][host][:port][/db]" (scheme case-insensitive, user and password percent-decoded) with defaults 127.0.0.1, 6379, 0; 0, or -1 on any other scheme, a query or fragment, a port outside 1..65535, a db that is not a non-negative int, or a field too long. */
int ah_parse_redis_url(const char *url, ah_redis_url_t *out);

#endif
