/*
 * test_log.c: unit tests for aihub/log.h. Every line written is read back
 * and parsed with jansson: format, escaping of hostile messages, level
 * filtering, ah_log_json, records (ah_log_rec_*: the access log),
 * timestamps, and lines from several threads never interleaving.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aihub/log.h"
#include "tap.h"

static FILE *out;

/* Returns everything written since the last call, and clears it. */
static char *take(void)
{
    fflush(out);
    long n = ftell(out);
    char *buf = calloc(1, (size_t)n + 1);
    rewind(out);
    if (n > 0 && fread(buf, 1, (size_t)n, out) != (size_t)n)
        buf[0] = '\0';
    if (ftruncate(fileno(out), 0) != 0)
        abort();
    rewind(out);
    return buf;
}

/* Parses a single line (must end in exactly one '\n'). */
static json_t *take_one(void)
{
    char *s = take();
    size_t len = strlen(s);
    json_t *j = NULL;
    if (len > 0 && s[len - 1] == '\n' && memchr(s, '\n', len - 1) == NULL)
        j = json_loadb(s, len - 1, 0, NULL);
    free(s);
    return j;
}

static int is_rfc3339_ms(const char *t)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (t == NULL || strlen(t) != sizeof(pattern) - 1)
        return 0;
    for (size_t i = 0; pattern[i] != '\0'; i++)
        if (pattern[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != pattern[i])
            return 0;
    return 1;
}

static void test_basic(void)
{
    ah_log(AH_LOG_INFO, "redis", "connected to %s:%d", "10.0.0.1", 6379);
    char *raw = take();
    ok(strncmp(raw, "{\"time\":\"", 9) == 0, "line starts with time");
    json_t *j = json_loads(raw, 0, NULL);
    free(raw);
    ok(j != NULL, "line is valid JSON");
    is_str(json_string_value(json_object_get(j, "level")), "info", "level");
    is_str(json_string_value(json_object_get(j, "module")), "redis", "module");
    is_str(json_string_value(json_object_get(j, "msg")), "connected to 10.0.0.1:6379", "formatted msg");
    ok(is_rfc3339_ms(json_string_value(json_object_get(j, "time"))), "time is RFC 3339 UTC with milliseconds");
    is_int(json_object_size(j), 4, "exactly four keys");
    json_decref(j);

    ah_log(AH_LOG_ERROR, NULL, "no module");
    j = take_one();
    ok(j != NULL && json_object_get(j, "module") == NULL, "NULL module omitted");
    is_str(json_string_value(json_object_get(j, "level")), "error", "error level name");
    json_decref(j);

    const char hostile[] = "q\" b\\ n\n r\r t\t c\x01 d\x7f e\xc3\xa9 bad\xff mid\xe2\x82 cut";
    ah_log(AH_LOG_WARN, "m\"od", "%s", hostile);
    j = take_one();
    ok(j != NULL, "hostile message: still one valid JSON line");
    is_str(json_string_value(json_object_get(j, "msg")),
           "q\" b\\ n\n r\r t\t c\x01 d\x7f e\xc3\xa9 bad\xef\xbf\xbd mid\xef\xbf\xbd\xef\xbf\xbd cut",
           "quotes, backslashes and controls escaped; valid UTF-8 kept; invalid bytes become U+FFFD");
    is_str(json_string_value(json_object_get(j, "module")), "m\"od", "module escaped too");
    json_decref(j);

    static const char *overlong[] = {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80"};
    int all_valid = 1;
    for (size_t i = 0; i < sizeof(overlong) / sizeof(overlong[0]); i++) {
        ah_log(AH_LOG_INFO, "t", "x%sy", overlong[i]);
        j = take_one();
        all_valid = all_valid && j != NULL;
        json_decref(j);
    }
    ok(all_valid, "overlong forms, surrogates and code points past U+10FFFF never make invalid JSON");

    char *big = malloc(AH_LOG_MAX_MSG * 2);
    memset(big, 'x', AH_LOG_MAX_MSG * 2 - 1);
    big[AH_LOG_MAX_MSG * 2 - 1] = '\0';
    ah_log(AH_LOG_INFO, "t", "%s", big);
    j = take_one();
    const char *m = json_string_value(json_object_get(j, "msg"));
    ok(m != NULL && strlen(m) == AH_LOG_MAX_MSG && strcmp(m + AH_LOG_MAX_MSG - 3, "...") == 0, "long message cut to AH_LOG_MAX_MSG with ...");
    json_decref(j);
    big[1500] = '\0';
    ah_log(AH_LOG_INFO, "t", "%s", big);
    j = take_one();
    m = json_string_value(json_object_get(j, "msg"));
    ok(m != NULL && strlen(m) == 1500, "message longer than the stack buffer kept whole");
    json_decref(j);
    free(big);
}

static void test_levels(void)
{
    ah_log_set_level(AH_LOG_WARN);
    is_int(ah_log_get_level(), AH_LOG_WARN, "level set");
    ah_log(AH_LOG_INFO, "t", "hidden");
    ah_log(AH_LOG_DEBUG, "t", "hidden");
    char *s = take();
    is_str(s, "", "below the level: nothing written");
    free(s);
    ah_log(AH_LOG_WARN, "t", "shown");
    json_t *j = take_one();
    is_str(json_string_value(json_object_get(j, "level")), "warn", "at the level: written");
    json_decref(j);
    is_int(ah_log_enabled(AH_LOG_ERROR), 1, "enabled above");
    is_int(ah_log_enabled(AH_LOG_INFO), 0, "disabled below");
    ah_log_set_level(99);
    is_int(ah_log_get_level(), AH_LOG_ERROR, "out-of-range level clamped");
    ah_log_set_level(AH_LOG_DEBUG);
    ah_log(AH_LOG_DEBUG, "t", "debug now");
    j = take_one();
    is_str(json_string_value(json_object_get(j, "level")), "debug", "debug written at debug level");
    json_decref(j);
    ah_log_set_level(AH_LOG_INFO);

    is_int(ah_log_parse_level("debug"), AH_LOG_DEBUG, "parse debug");
    is_int(ah_log_parse_level("INFO"), AH_LOG_INFO, "parse INFO");
    is_int(ah_log_parse_level("Warning"), AH_LOG_WARN, "parse Warning");
    is_int(ah_log_parse_level("error"), AH_LOG_ERROR, "parse error");
    is_int(ah_log_parse_level("fatal"), -1, "unknown level");
    is_int(ah_log_parse_level("info "), -1, "trailing space");
    is_int(ah_log_parse_level("inf"), -1, "prefix");
    is_int(ah_log_parse_level(""), -1, "empty");
    is_int(ah_log_parse_level(NULL), -1, "NULL");
    is_str(ah_log_level_name(-5), "debug", "name clamps low");
}

static void test_json(void)
{
    json_t *obj = json_pack("{s:s, s:i}", "event", "request", "status", 200);
    ah_log_json(obj);
    char *raw = take();
    ok(strncmp(raw, "{\"time\":\"", 9) == 0, "ah_log_json: time inserted first");
    json_t *j = json_loads(raw, 0, NULL);
    ok(j != NULL && strchr(raw, '\n') == raw + strlen(raw) - 1, "ah_log_json: one line");
    free(raw);
    ok(is_rfc3339_ms(json_string_value(json_object_get(j, "time"))), "ah_log_json: time format");
    is_int(json_integer_value(json_object_get(j, "status")), 200, "ah_log_json: fields kept");
    json_decref(j);
    ok(json_object_size(obj) == 2 && json_object_get(obj, "time") == NULL && obj->refcount == 1, "ah_log_json: caller's object untouched");
    json_decref(obj);

    obj = json_pack("{s:s, s:s}", "a", "1", "time", "given");
    ah_log_json(obj);
    raw = take();
    is_str(raw, "{\"a\":\"1\",\"time\":\"given\"}\n", "ah_log_json: existing time kept as is");
    free(raw);
    json_decref(obj);

    obj = json_array();
    ah_log_json(obj);
    ah_log_json(NULL);
    raw = take();
    is_str(raw, "", "ah_log_json: non-objects ignored");
    free(raw);
    json_decref(obj);
}

/* the part of a record's line after {"time":"...", so the expected text need not know the clock */
static const char *after_time(const char *raw)
{
    const char *p = strstr(raw, "\",\"level\":");
    return p != NULL ? p + 2 : "";
}

static void test_record(void)
{
    ah_log_rec_t rec;
    ah_log_rec_begin(&rec, AH_LOG_INFO, "access");
    ah_log_rec_str(&rec, "request_id", "r-1");
    ah_log_rec_str(&rec, "upstream_model", NULL);
    ah_log_rec_strn(&rec, "account_id", NULL, 0);
    ah_log_rec_int(&rec, "status", 200);
    ah_log_rec_bool(&rec, "stream", 0);
    ah_log_rec_bool(&rec, "tokens_estimated", 1);
    ah_log_rec_int(&rec, "first_byte_ms", -1);
    ah_log_rec_int(&rec, "max", INT64_MAX);
    ah_log_rec_int(&rec, "min", INT64_MIN);
    ah_log_rec_end(&rec);
    char *raw = take();
    ok(strncmp(raw, "{\"time\":\"", 9) == 0, "record: time first");
    is_str(after_time(raw),
           "\"level\":\"info\",\"module\":\"access\",\"request_id\":\"r-1\",\"upstream_model\":null,\"account_id\":null,"
           "\"status\":200,\"stream\":false,\"tokens_estimated\":true,\"first_byte_ms\":-1,"
           "\"max\":9223372036854775807,\"min\":-9223372036854775808}\n",
           "record: fields in order, null, booleans, integers at both ends");
    json_t *j = json_loads(raw, 0, NULL);
    ok(j != NULL && is_rfc3339_ms(json_string_value(json_object_get(j, "time"))), "record: parses, time format");
    ok(json_is_null(json_object_get(j, "upstream_model")) && json_integer_value(json_object_get(j, "min")) == INT64_MIN,
       "record: jansson reads null and INT64_MIN back");
    json_decref(j);
    free(raw);

    /* escaping: quotes, backslash, every control character, DEL, UTF-8 kept, invalid bytes replaced */
    char ctl[33];
    for (int i = 0; i < 32; i++)
        ctl[i] = (char)(i + 1 == 32 ? 0x1f : i + 1);
    ctl[32] = '\0';
    ah_log_rec_begin(&rec, AH_LOG_WARN, NULL);
    ah_log_rec_str(&rec, "q", "say \"hi\" \\ /");
    ah_log_rec_strn(&rec, "nul", "a\0b", 3);
    ah_log_rec_str(&rec, "ctl", ctl);
    ah_log_rec_str(&rec, "utf8", "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80 \x7f");
    ah_log_rec_str(&rec, "bad", "a\xff\xc3(\xed\xa0\x80z");
    ah_log_rec_str(&rec, "na\"me", "v");
    ah_log_rec_end(&rec);
    raw = take();
    is_str(after_time(raw),
           "\"level\":\"warn\",\"q\":\"say \\\"hi\\\" \\\\ /\",\"nul\":\"a\\u0000b\","
           "\"ctl\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
           "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e"
           "\\u001f\\u001f\","
           "\"utf8\":\"h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80 \x7f\","
           "\"bad\":\"a\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\",\"na\\\"me\":\"v\"}\n",
           "record: quotes, control characters and names escaped; UTF-8 passes; invalid bytes become U+FFFD");
    j = json_loads(raw, JSON_ALLOW_NUL, NULL); /* \u0000 is valid JSON; jansson wants to be told */
    ok(j != NULL, "record: the escaped line is valid JSON");
    is_str(json_string_value(json_object_get(j, "q")), "say \"hi\" \\ /", "record: quotes read back");
    ok(json_string_length(json_object_get(j, "nul")) == 3, "record: a NUL byte kept as \\u0000");
    is_str(json_string_value(json_object_get(j, "ctl")), ctl, "record: control characters read back");
    json_decref(j);
    free(raw);

    /* a line longer than the stack buffer moves to the heap whole */
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[1000] = '"';
    ah_log_rec_begin(&rec, AH_LOG_ERROR, "m");
    ah_log_rec_int(&rec, "n", 1);
    ah_log_rec_str(&rec, "big", big);
    ah_log_rec_int(&rec, "after", 2);
    ah_log_rec_end(&rec);
    j = take_one();
    ok(j != NULL && json_string_length(json_object_get(j, "big")) == sizeof(big) - 1 &&
           json_integer_value(json_object_get(j, "after")) == 2,
       "record: a 5 KB line is written whole");
    json_decref(j);
}

static void test_time(void)
{
    char t[32];
    ah_time_rfc3339(t, 0);
    is_str(t, "1970-01-01T00:00:00.000Z", "epoch");
    ah_time_rfc3339(t, 1700000000123LL);
    is_str(t, "2023-11-14T22:13:20.123Z", "a known instant");
    ah_time_rfc3339(t, 951782400000LL);
    is_str(t, "2000-02-29T00:00:00.000Z", "leap day");
    ah_time_rfc3339(t, -1);
    is_str(t, "1969-12-31T23:59:59.999Z", "one ms before the epoch");
    ah_time_rfc3339(t, INT64_MAX);
    is_str(t, "9999-12-31T23:59:59.999Z", "far future clamps to year 9999");
    ah_time_rfc3339(t, INT64_MIN);
    is_str(t, "0000-01-01T00:00:00.000Z", "far past clamps to year 0");
    int64_t now = ah_time_now_ms();
    ok(now > 1700000000000LL && now < 7000000000000LL, "now_ms is plausible");
}

#define THREADS 4
#define LINES 500

static void *worker(void *arg)
{
    for (int i = 0; i < LINES; i++)
        ah_log(AH_LOG_INFO, "thread", "thread %d line %d %s", *(int *)arg, i, "padding padding padding padding padding padding");
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[THREADS];
    int ids[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ids[i] = i;
        pthread_create(&t[i], NULL, worker, &ids[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    char *all = take();
    int lines = 0, valid = 1;
    for (char *line = all, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, NULL);
        valid = valid && j != NULL;
        json_decref(j);
        lines++;
    }
    is_int(lines, THREADS * LINES, "every line from 4 threads arrived");
    ok(valid, "no line was interleaved with another");
    free(all);
}

int main(void)
{
    out = tmpfile();
    if (out == NULL)
        return 1;
    ah_log_set_stream(out);
    test_basic();
    test_levels();
    test_json();
    test_record();
    test_time();
    test_threads();
    ah_log_set_stream(NULL);
    fclose(out);
    return done_testing();
}
