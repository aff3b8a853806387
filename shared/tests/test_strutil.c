/*
 * test_strutil.c: unit tests for the strict parsers in aihub/strutil.h,
 * mostly the inputs they must refuse, and for the integer formatter.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aihub/strutil.h"
#include "tap.h"

static int i64(const char *s, int64_t *v)
{
    return ah_parse_int64(s, strlen(s), v);
}

static void test_int64(void)
{
    int64_t v = 0;
    ok(i64("0", &v) == 0 && v == 0, "0");
    ok(i64("42", &v) == 0 && v == 42, "42");
    ok(i64("+42", &v) == 0 && v == 42, "+42");
    ok(i64("-42", &v) == 0 && v == -42, "-42");
    ok(i64("007", &v) == 0 && v == 7, "leading zeros");
    ok(i64("9223372036854775807", &v) == 0 && v == INT64_MAX, "INT64_MAX");
    ok(i64("-9223372036854775808", &v) == 0 && v == INT64_MIN, "INT64_MIN");
    v = 5;
    is_int(i64("9223372036854775808", &v), -1, "INT64_MAX + 1 overflows");
    is_int(v, 5, "output untouched on failure");
    is_int(i64("-9223372036854775809", &v), -1, "INT64_MIN - 1 overflows");
    is_int(i64("99999999999999999999999", &v), -1, "far overflow");
    is_int(i64("", &v), -1, "empty");
    is_int(i64("-", &v), -1, "sign only");
    is_int(i64("+-1", &v), -1, "two signs");
    is_int(i64(" 1", &v), -1, "leading space");
    is_int(i64("1 ", &v), -1, "trailing space");
    is_int(i64("1x", &v), -1, "trailing junk");
    is_int(i64("0x10", &v), -1, "hex prefix");
    is_int(i64("1.5", &v), -1, "decimal point");
    is_int(i64("1e3", &v), -1, "exponent");
    ok(ah_parse_int64("123456", 3, &v) == 0 && v == 123, "length limits the input");
    is_int(ah_parse_int64(NULL, 1, &v), -1, "NULL");
}

static void test_size(void)
{
    static const struct {
        const char *s;
        int64_t v;
    } good[] = {{"0", 0},           {"512", 512},           {"1k", 1024},         {"1K", 1024},          {"1KiB", 1024},
                {"8MiB", 8388608},  {"8M", 8388608},        {"8m", 8388608},      {"2GiB", 2147483648LL}, {"2g", 2147483648LL},
                {"3G", 3221225472LL}, {"8589934591G", 8589934591LL << 30}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t v = -1;
        ok(ah_parse_size(good[i].s, &v) == 0 && v == good[i].v, good[i].s);
    }
    static const char *bad[] = {"",    "k",    "-1",     "+1",  "1 MiB", " 1", "1MB", "1kb", "1KB",    "1mib",
                                "1Mi", "1MiBs", "1.5M",   "1T",  "1b",    "M1",  "0x1", "1\n", "8589934592G", "9223372036854775808"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char name[64];
        int64_t v = 77;
        snprintf(name, sizeof(name), "size rejects \"%s\"", bad[i]);
        ok(ah_parse_size(bad[i], &v) == -1 && v == 77, name);
    }
    int64_t v;
    is_int(ah_parse_size(NULL, &v), -1, "size NULL");
}

static void test_hostport(void)
{
    char host[64];
    int port = -1;
    ok(ah_parse_hostport("0.0.0.0:8080", host, sizeof(host), &port) == 0 && strcmp(host, "0.0.0.0") == 0 && port == 8080, "0.0.0.0:8080");
    ok(ah_parse_hostport("127.0.0.1:0", host, sizeof(host), &port) == 0 && strcmp(host, "127.0.0.1") == 0 && port == 0, "port 0 allowed");
    ok(ah_parse_hostport("[::1]:8080", host, sizeof(host), &port) == 0 && strcmp(host, "::1") == 0 && port == 8080, "[::1]:8080");
    ok(ah_parse_hostport("[::]:443", host, sizeof(host), &port) == 0 && strcmp(host, "::") == 0 && port == 443, "[::]:443");
    ok(ah_parse_hostport("[fe80::1%eth0]:80", host, sizeof(host), &port) == 0 && strcmp(host, "fe80::1%eth0") == 0, "IPv6 with zone");
    ok(ah_parse_hostport(":8080", host, sizeof(host), &port) == 0 && strcmp(host, "0.0.0.0") == 0 && port == 8080, ":8080 -> 0.0.0.0");
    ok(ah_parse_hostport("localhost:65535", host, sizeof(host), &port) == 0 && strcmp(host, "localhost") == 0 && port == 65535,
       "host name, max port");

    static const char *bad[] = {"",         "8080",       "127.0.0.1",   "127.0.0.1:",  "127.0.0.1:65536", "127.0.0.1:-1",
                                "127.0.0.1:+80", "127.0.0.1:80x", "127.0.0.1: 80", "::1:8080",   "[::1]8080",       "[::1]",
                                "[]:80",    "[::1:80",    "[zz::1]:80",  "[fe80::1%]:80", "host name:80", "a:b:80",
                                "[1.2.3.4]:80", "127.0.0.1:000080"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "hostport rejects \"%s\"", bad[i]);
        port = 1234;
        ok(ah_parse_hostport(bad[i], host, sizeof(host), &port) == -1 && port == 1234, name);
    }
    is_int(ah_parse_hostport("averylonghostname:80", host, 10, &port), -1, "host longer than hostcap");
    is_int(ah_parse_hostport("abcdefghi:80", host, 10, &port), 0, "host of hostcap - 1 fits");
    is_int(ah_parse_hostport(NULL, host, sizeof(host), &port), -1, "NULL");
}

static void test_redis_url(void)
{
    ah_redis_url_t u;
    ok(ah_parse_redis_url("redis://", &u) == 0 && strcmp(u.host, "127.0.0.1") == 0 && u.port == 6379 && u.db == 0 && u.user[0] == 0 &&
           u.password[0] == 0,
       "redis:// gives all defaults");
    ok(ah_parse_redis_url("redis://redis.default.svc:6380/2", &u) == 0 && strcmp(u.host, "redis.default.svc") == 0 && u.port == 6380 &&
           u.db == 2,
       "host, port, db");
    ok(ah_parse_redis_url("redis://localhost", &u) == 0 && strcmp(u.host, "localhost") == 0 && u.port == 6379 && u.db == 0, "host only");
    ok(ah_parse_redis_url("redis://localhost/", &u) == 0 && u.db == 0, "trailing slash");
    ok(ah_parse_redis_url("redis://:s3cret@10.0.0.5:6379/0", &u) == 0 && strcmp(u.password, "s3cret") == 0 && u.user[0] == 0 &&
           strcmp(u.host, "10.0.0.5") == 0,
       "password only");
    ok(ah_parse_redis_url("redis://app:p%40ss%3Aw%2Fd@host/15", &u) == 0 && strcmp(u.user, "app") == 0 && strcmp(u.password, "p@ss:w/d") == 0 &&
           u.db == 15,
       "user and percent-encoded password");
    ok(ah_parse_redis_url("redis://app:p@ss@host", &u) == 0 && strcmp(u.password, "p@ss") == 0 && strcmp(u.host, "host") == 0,
       "raw '@' in password: the last '@' ends the userinfo");
    ok(ah_parse_redis_url("redis://app@host", &u) == 0 && strcmp(u.user, "app") == 0 && u.password[0] == 0, "user without password");
    ok(ah_parse_redis_url("redis://[::1]:7000/1", &u) == 0 && strcmp(u.host, "::1") == 0 && u.port == 7000 && u.db == 1, "IPv6 host");
    ok(ah_parse_redis_url("REDIS://h:1/2147483647", &u) == 0 && u.port == 1 && u.db == 2147483647, "scheme any case, port 1, db INT_MAX");
    ok(ah_parse_redis_url("redis://:6380", &u) == 0 && strcmp(u.host, "127.0.0.1") == 0 && u.port == 6380, "port only");

    static const char *bad[] = {"",
                                "rediss://host",
                                "http://host",
                                "redis:/host",
                                "redis//host",
                                "host:6379",
                                "redis://host:0",
                                "redis://host:65536",
                                "redis://host:-1",
                                "redis://host:",
                                "redis://host:abc",
                                "redis://host/-1",
                                "redis://host/x",
                                "redis://host/1x",
                                "redis://host/+1",
                                "redis://host/1/2",
                                "redis://host/2147483648",
                                "redis://host?db=1",
                                "redis://host/0?timeout=1",
                                "redis://host#frag",
                                "redis://ho st",
                                "redis://::1:6379",
                                "redis://[::1",
                                "redis://[]:6379",
                                "redis://u:p%2@host",
                                "redis://u:p%zz@host",
                                "redis://u:p%00@host",
                                "redis://u:pa ss@host",
                                "redis://host:6379:6380"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char name[80];
        snprintf(name, sizeof(name), "redis url rejects \"%s\"", bad[i]);
        memset(&u, 0x5a, sizeof(u));
        ok(ah_parse_redis_url(bad[i], &u) == -1 && u.port == 0x5a5a5a5a, name);
    }

    char long_url[600];
    memset(long_url, 'a', sizeof(long_url));
    memcpy(long_url, "redis://", 8);
    long_url[8 + 256] = '\0';
    is_int(ah_parse_redis_url(long_url, &u), -1, "host of 256 chars does not fit");
    long_url[8 + 255] = '\0';
    is_int(ah_parse_redis_url(long_url, &u), 0, "host of 255 chars fits");
    memset(long_url, 'p', sizeof(long_url));
    memcpy(long_url, "redis://:", 9);
    memcpy(long_url + 9 + 256, "@h", 3);
    is_int(ah_parse_redis_url(long_url, &u), -1, "password of 256 chars does not fit");
    is_int(ah_parse_redis_url(NULL, &u), -1, "NULL");
}

static void test_fmt_i64(void)
{
    static const int64_t values[] = {0, 1, -1, 9, 10, -10, 99, 100, 1234567890, -987654321012LL, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    int all = 1;
    for (size_t i = 0; i != sizeof(values) / sizeof(values[0]); ++i) {
        char got[AH_FMT_I64_MAX], want[32];
        size_t n = ah_fmt_i64(got, values[i]);
        snprintf(want, sizeof(want), "%lld", (long long)values[i]);
        int64_t back;
        all = all && strcmp(got, want) == 0 && n == strlen(want) && ah_parse_int64(got, n, &back) == 0 && back == values[i];
        if (strcmp(got, want) != 0)
            diag("ah_fmt_i64 wrote %s for %s", got, want);
    }
    ok(all, "ah_fmt_i64 writes what %lld writes, INT64_MIN and INT64_MAX included, and parses back");
    char buf[AH_FMT_I64_MAX];
    is_int(ah_fmt_i64(buf, INT64_MIN), AH_FMT_I64_MAX - 1, "AH_FMT_I64_MAX holds the longest value and its NUL");
}

static void test_form_decode(void)
{
    char out[8];
    ok(ah_form_decode("a+b%2Fc", 7, out, sizeof(out)) == 0, "plus and escape");
    is_str(out, "a b/c", "decoded");
    ok(ah_form_decode("", 0, out, sizeof(out)) == 0 && out[0] == '\0', "empty");
    ok(ah_form_decode("%e4%B8", 6, out, sizeof(out)) == 0 && (unsigned char)out[0] == 0xe4 && (unsigned char)out[1] == 0xb8,
       "hex of either case");
    is_int(ah_form_decode("%00", 3, out, sizeof(out)), -1, "an escaped NUL is refused");
    is_int(ah_form_decode("a\0b", 3, out, sizeof(out)), -1, "a raw NUL is refused");
    is_int(ah_form_decode("%4", 2, out, sizeof(out)), -1, "cut escape");
    is_int(ah_form_decode("%", 1, out, sizeof(out)), -1, "lone percent");
    is_int(ah_form_decode("%zz", 3, out, sizeof(out)), -1, "not hex");
    is_int(ah_form_decode("1234567", 7, out, sizeof(out)), 0, "exactly fits (7 + NUL)");
    is_int(ah_form_decode("12345678", 8, out, sizeof(out)), -2, "one too long");
    is_int(ah_form_decode("x", 1, out, 0), -2, "no room at all");
}

int main(void)
{
    test_form_decode();
    test_int64();
    test_fmt_i64();
    test_size();
    test_hostport();
    test_redis_url();
    return done_testing();
}
