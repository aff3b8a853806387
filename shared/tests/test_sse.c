/*
 * test_sse.c: unit tests for the SSE parser and writers (aihub/sse.h).
 *
 * Hand-written cases pin down exact results; fixture streams from
 * tests/fixtures/sse (path in argv[1]) are fed whole, byte by byte and in
 * random chunks with fixed seeds, and every result must equal the
 * whole-input reference parser in sse_check.h.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aihub/sse.h"
#include "sse_check.h"
#include "tap.h"

static char name_buf[256];

static const char *nm(const char *fmt, const char *arg)
{
    snprintf(name_buf, sizeof(name_buf), fmt, arg);
    return name_buf;
}

/* Parses s whole and checks it against the reference and against byte-by-byte and random splits. */
static void parse_checked(const char *s, size_t len, size_t max, rec_t *out, const char *label)
{
    rec_t ref = {0}, bytes = {0};
    sc_run(s, len, max, SC_WHOLE, 0, 0, out);
    ref_parse(s, len, max, &ref);
    sc_run(s, len, max, SC_BYTES, 0, 0, &bytes);
    int same = rec_equal(out, &ref) && rec_equal(out, &bytes);
    for (uint32_t seed = 1; seed <= 20 && same; seed++) {
        rec_t rnd = {0};
        sc_run(s, len, max, SC_RANDOM, seed, 7, &rnd);
        same = rec_equal(out, &rnd);
        rec_free(&rnd);
    }
    ok(same, nm("%s: whole, bytewise, random splits and reference agree", label));
    rec_free(&ref);
    rec_free(&bytes);
}

static int ev_is(const rec_event_t *e, const char *event, const char *data)
{
    int ev_ok = event == NULL ? e->event == NULL : e->event != NULL && e->event_len == strlen(event) && strcmp(e->event, event) == 0;
    int data_ok = data == NULL ? e->data == NULL : e->data != NULL && e->data_len == strlen(data) && strcmp(e->data, data) == 0;
    return ev_ok && data_ok;
}

static void test_basics(void)
{
    rec_t r = {0};
    const char *s = "data: hello\n\n";
    parse_checked(s, strlen(s), 0, &r, "single event");
    is_int(r.n, 1, "single event: one event");
    is_int(r.rc, 0, "single event: rc 0");
    ok(r.n == 1 && ev_is(&r.ev[0], NULL, "hello"), "single event: data, no event name");
    ok(r.n == 1 && r.ev[0].raw_len == strlen(s) && memcmp(r.ev[0].raw, s, strlen(s)) == 0, "single event: raw is the whole input");
    ok(r.n == 1 && r.ev[0].zero_copy, "single event: raw points into the fed buffer (no copy)");
    rec_free(&r);

    s = "event: message_start\ndata: {\"a\":\"b:c\"}\n\n";
    parse_checked(s, strlen(s), 0, &r, "event + data");
    ok(r.n == 1 && ev_is(&r.ev[0], "message_start", "{\"a\":\"b:c\"}"), "event name and data with colons");
    rec_free(&r);

    s = "data: a\ndata: b\ndata:c\n\n";
    parse_checked(s, strlen(s), 0, &r, "multi-line data");
    ok(r.n == 1 && ev_is(&r.ev[0], NULL, "a\nb\nc"), "data lines joined with LF");
    ok(r.n == 1 && r.ev[0].zero_copy, "multi-line data: raw still points into the fed buffer");
    rec_free(&r);

    s = "data: a\r\ndata: b\r\n\r\n";
    parse_checked(s, strlen(s), 0, &r, "CRLF");
    ok(r.n == 1 && ev_is(&r.ev[0], NULL, "a\nb") && r.ev[0].raw_len == strlen(s), "CRLF: data joined with LF, raw includes the CRLF blank line");
    rec_free(&r);

    s = ": keep-alive\n\n";
    parse_checked(s, strlen(s), 0, &r, "comment only");
    ok(r.n == 1 && ev_is(&r.ev[0], NULL, NULL) && r.ev[0].raw_len == strlen(s), "comment-only event delivered with event and data NULL");
    rec_free(&r);

    s = ": c\ndata: x\n\n";
    parse_checked(s, strlen(s), 0, &r, "comment + data");
    ok(r.n == 1 && ev_is(&r.ev[0], NULL, "x") && r.ev[0].raw_len == strlen(s), "comment is in raw but not in data");
    rec_free(&r);

    s = "data\n\ndata:\n\ndata:  two\n\ndata:x\n\n";
    parse_checked(s, strlen(s), 0, &r, "value edge cases");
    ok(r.n == 4 && ev_is(&r.ev[0], NULL, "") && ev_is(&r.ev[1], NULL, "") && ev_is(&r.ev[2], NULL, " two") && ev_is(&r.ev[3], NULL, "x"),
       "field without colon, empty value, only one space removed, no space");
    rec_free(&r);

    s = "id: 5\nretry: 10\nfoo: bar\nData: no\nevent: a\nevent: b\n\n";
    parse_checked(s, strlen(s), 0, &r, "other fields");
    ok(r.n == 1 && ev_is(&r.ev[0], "b", NULL), "unknown and case-different fields ignored, last event name wins, no data is NULL");
    rec_free(&r);

    s = "\ndata: x\n\n\r\n";
    parse_checked(s, strlen(s), 0, &r, "stray blank lines");
    ok(r.n == 3 && ev_is(&r.ev[0], NULL, NULL) && r.ev[0].raw_len == 1 && ev_is(&r.ev[1], NULL, "x") && ev_is(&r.ev[2], NULL, NULL) &&
           r.ev[2].raw_len == 2,
       "stray blank lines come out as empty events, so raw bytes are never lost");
    rec_free(&r);

    s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    parse_checked(s, strlen(s), 0, &r, "three events");
    ok(r.n == 3 && ev_is(&r.ev[0], NULL, "1") && ev_is(&r.ev[1], NULL, "2") && ev_is(&r.ev[2], NULL, "3"), "three events in order");
    ok(r.n == 3 && r.ev[0].zero_copy && r.ev[1].zero_copy && r.ev[2].zero_copy, "three events from one buffer, none copied");
    rec_free(&r);
}

static int count_cb(void *ud, const ah_sse_event_t *ev)
{
    (void)ev;
    (*(int *)ud)++;
    return 0;
}

static void test_line_endings(void)
{
    ah_sse_parser_t p;
    int n = 0;
    const char *s = "data: a\rdata: b\r\r";
    ah_sse_init(&p, 0);
    is_int(ah_sse_feed(&p, s, strlen(s), count_cb, &n), 0, "CR: feed ok");
    is_int(n, 0, "CR: an event ending in CR at the end of a feed waits for the next byte");
    is_int(ah_sse_pending(&p), strlen(s), "CR: its bytes are pending");
    is_int(ah_sse_feed(&p, "\n", 1, count_cb, &n), 0, "CR: next feed ok");
    is_int(n, 1, "CR: delivered when the next byte arrives");
    is_int(ah_sse_pending(&p), 0, "CR: the LF belonged to the event");
    is_int(ah_sse_feed(&p, "data: c\r\r", 9, count_cb, &n), 0, "CR: another");
    is_int(ah_sse_finish(&p, count_cb, &n), 0, "CR: finish delivers the held-back event");
    is_int(n, 2, "CR: two events");
    ah_sse_dispose(&p);

    rec_t r = {0};
    s = "data: a\r\rdata: b\n\n";
    parse_checked(s, strlen(s), 0, &r, "CR then LF event");
    ok(r.n == 2 && r.ev[0].raw_len == 9 && ev_is(&r.ev[0], NULL, "a") && ev_is(&r.ev[1], NULL, "b"), "CR-ended event raw stops before the next event");
    rec_free(&r);

    s = "data: a\r\r\ndata: b\n\n";
    parse_checked(s, strlen(s), 0, &r, "CR CRLF");
    ok(r.n == 2 && r.ev[0].raw_len == 10, "\"\\r\\r\\n\": the LF belongs to the blank line of the first event");
    rec_free(&r);

    s = "data: a\n\r\ndata: b\r\n\n";
    parse_checked(s, strlen(s), 0, &r, "mixed");
    ok(r.n == 2 && r.ev[0].raw_len == 10 && ev_is(&r.ev[1], NULL, "b") && r.ev[1].raw_len == 10, "LF + CRLF and CRLF + LF blank lines");
    rec_free(&r);
}

static void test_incomplete_and_errors(void)
{
    ah_sse_parser_t p;
    int n = 0;
    const char *s = "data: 1\n\ndata: 2\n";
    ah_sse_init(&p, 0);
    is_int(ah_sse_feed(&p, s, strlen(s), count_cb, &n), 0, "incomplete: feed ok");
    is_int(n, 1, "incomplete: only the complete event delivered");
    is_int(ah_sse_pending(&p), 8, "incomplete: tail pending");
    is_int(ah_sse_finish(&p, count_cb, &n), AH_SSE_ETRUNCATED, "incomplete: finish reports the truncated event");
    is_int(ah_sse_pending(&p), 0, "incomplete: finish resets");
    is_int(ah_sse_feed(&p, "data: 3\n\n", 9, count_cb, &n), 0, "incomplete: parser reusable after finish");
    is_int(n, 2, "incomplete: next event delivered");
    is_int(ah_sse_feed(&p, NULL, 0, count_cb, &n), 0, "empty feed is fine");
    is_int(ah_sse_finish(&p, count_cb, &n), 0, "clean finish returns 0");
    ah_sse_dispose(&p);

    /* Size limit: exactly max passes, max + 1 fails, wherever the stream is split. */
    rec_t r = {0};
    s = "data: 0123456789\n\n"; /* 18 bytes */
    parse_checked(s, strlen(s), 18, &r, "event of exactly max bytes");
    ok(r.n == 1 && r.rc == 0, "event of exactly max bytes accepted");
    rec_free(&r);
    parse_checked(s, strlen(s), 17, &r, "event of max + 1 bytes");
    ok(r.n == 0 && r.rc == AH_SSE_ETOOBIG, "event of max + 1 bytes: AH_SSE_ETOOBIG");
    rec_free(&r);
    s = "data: a\n\ndata: 0123456789abcdef0123456789";
    parse_checked(s, strlen(s), 20, &r, "oversized incomplete tail");
    ok(r.n == 1 && r.rc == AH_SSE_ETOOBIG, "events before an oversized one are delivered, then AH_SSE_ETOOBIG");
    rec_free(&r);
    s = "data: 0123456789\r\r\n";
    parse_checked(s, strlen(s), 18, &r, "CR look-ahead over max");
    ok(r.n == 0 && r.rc == AH_SSE_ETOOBIG, "the LF after a CR blank line counts toward the limit");
    rec_free(&r);

    ah_sse_init(&p, 16);
    n = 0;
    is_int(ah_sse_feed(&p, "data: 0123456789abcdef", 22, count_cb, &n), AH_SSE_ETOOBIG, "too big: error");
    is_int(ah_sse_feed(&p, "\n\ndata: x\n\n", 11, count_cb, &n), AH_SSE_ETOOBIG, "too big: error is sticky");
    is_int(n, 0, "too big: nothing delivered");
    ah_sse_dispose(&p);
    ah_sse_dispose(&p); /* twice is harmless */

    /* A callback's nonzero return stops the feed and is returned. */
    r = (rec_t){0};
    r.stop_at = 1;
    s = "data: 1\n\ndata: 2\n\n";
    ah_sse_init(&p, 0);
    is_int(ah_sse_feed(&p, s, strlen(s), rec_cb, &r), 7, "stop: callback value returned");
    is_int(r.n, 1, "stop: no event after the one that stopped");
    r.stop_at = 0;
    is_int(ah_sse_feed(&p, "data: 3\n\n", 9, rec_cb, &r), 0, "stop: parser usable afterwards");
    ok(r.n == 2 && ev_is(&r.ev[1], NULL, "3"), "stop: next event parsed cleanly");
    ah_sse_dispose(&p);
    rec_free(&r);
}

static void test_fast_path(void)
{
    /* 1000 events fed in 4 KiB chunks: events inside a chunk are not copied. */
    size_t cap = 1000 * 64, len = 0;
    char *s = malloc(cap);
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(s + len, cap - len, "data: {\"i\":%d,\"pad\":\"xxxxxxxxxxxxxxx\"}\n\n", i);
    rec_t r = {0};
    sc_run(s, len, 0, SC_RANDOM, 42, 4096, &r);
    size_t copied = 0;
    for (size_t i = 0; i < r.n; i++)
        copied += !r.ev[i].zero_copy;
    is_int(r.n, 1000, "fast path: all events");
    ok(copied > 0 && copied < 100, "fast path: only events spanning a chunk boundary are copied");
    char want[64];
    snprintf(want, sizeof(want), "{\"i\":%d,\"pad\":\"xxxxxxxxxxxxxxx\"}", 999);
    ok(r.n == 1000 && ev_is(&r.ev[999], NULL, want), "fast path: last event intact");
    rec_free(&r);
    free(s);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

static void test_fixtures(const char *dir)
{
    static const struct {
        const char *file;
        size_t events;
    } fixtures[] = {{"openai_chat.txt", 9},         {"anthropic_messages.txt", 8}, {"gemini_crlf.txt", 2},
                    {"keepalive_comments.txt", 6}, {"multiline_data.txt", 2},     {"cr_mixed.txt", 8}};
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        char path[1024];
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, fixtures[i].file);
        char *s = read_file(path, &len);
        if (!ok(s != NULL, nm("fixture %s readable", fixtures[i].file)))
            continue;
        rec_t r = {0};
        parse_checked(s, len, 0, &r, fixtures[i].file);
        is_int(r.n, fixtures[i].events, nm("%s: event count", fixtures[i].file));
        is_int(r.rc, 0, nm("%s: ends cleanly", fixtures[i].file));
        size_t total = 0;
        int concat = 1;
        for (size_t k = 0; k < r.n; k++) {
            concat = concat && total + r.ev[k].raw_len <= len && memcmp(s + total, r.ev[k].raw, r.ev[k].raw_len) == 0;
            total += r.ev[k].raw_len;
        }
        ok(concat && total == len, nm("%s: raw bytes of all events concatenate to the input", fixtures[i].file));
        if (strcmp(fixtures[i].file, "anthropic_messages.txt") == 0)
            ok(r.n == 8 && ev_is(&r.ev[2], "ping", "{\"type\": \"ping\"}"), "anthropic: ping event");
        if (strcmp(fixtures[i].file, "openai_chat.txt") == 0)
            ok(r.n == 9 && ev_is(&r.ev[8], NULL, "[DONE]"), "openai: [DONE] sentinel");
        if (strcmp(fixtures[i].file, "multiline_data.txt") == 0)
            ok(r.n == 2 && ev_is(&r.ev[0], NULL, "first\nsecond\n\nthird\n fourth") && ev_is(&r.ev[1], "b", "last event name wins"),
               "multiline: joined data and last event name");
        if (strcmp(fixtures[i].file, "cr_mixed.txt") == 0)
            ok(r.n == 8 && ev_is(&r.ev[0], NULL, "cr\nonly") && ev_is(&r.ev[4], NULL, "cr-cr-lf") && ev_is(&r.ev[5], NULL, NULL) &&
                   ev_is(&r.ev[7], NULL, "end"),
               "cr_mixed: every line-ending mixture");
        /* Many more random splits with larger chunks. */
        int same = 1;
        for (uint32_t seed = 100; seed < 300 && same; seed++) {
            rec_t rnd = {0};
            sc_run(s, len, 0, SC_RANDOM, seed, 1 + seed % 97, &rnd);
            same = rec_equal(&r, &rnd);
            rec_free(&rnd);
        }
        ok(same, nm("%s: 200 more random splits agree", fixtures[i].file));
        rec_free(&r);
        free(s);
    }
}

static void test_format(void)
{
    char buf[128];
    const char *json = "{\"a\":1}";
    size_t need = ah_sse_format_data(NULL, 0, json, strlen(json));
    is_int(need, strlen(json) + 8, "format_data: size");
    is_int(ah_sse_format_data(buf, need - 1, json, strlen(json)), need, "format_data: too small still reports size");
    memset(buf, 'Z', sizeof(buf));
    ah_sse_format_data(buf, sizeof(buf), json, strlen(json));
    ok(memcmp(buf, "data: {\"a\":1}\n\n", need) == 0 && buf[need] == 'Z', "format_data: exact bytes, no NUL written");
    memset(buf, 'Z', sizeof(buf));
    ah_sse_format_data(buf, need - 1, json, strlen(json));
    ok(buf[0] == 'Z', "format_data: nothing written when cap is short");

    const char *want = "event: ping\ndata: x\n\n";
    need = ah_sse_format_event(buf, sizeof(buf), "ping", "x", 1);
    ok(need == strlen(want) && memcmp(buf, want, need) == 0, "format_event: event line first");
    want = "event: bad\ndata: a\ndata: b\ndata: c\n\n";
    need = ah_sse_format_event(buf, sizeof(buf), "bad\nname", "a\nb\r\nc", 6);
    ok(need == strlen(want) && memcmp(buf, want, need) == 0, "format_event: line breaks cannot break framing");
    need = ah_sse_format_data(buf, sizeof(buf), "", 0);
    ok(need == 8 && memcmp(buf, "data: \n\n", 8) == 0, "format_data: empty");
    need = ah_sse_format_data(buf, sizeof(buf), NULL, 0);
    ok(need == 8 && memcmp(buf, "data: \n\n", 8) == 0, "format_data: NULL data");

    /* Round trip through the parser. */
    const char *tricky = " lead\n\ntrail\n";
    need = ah_sse_format_event(buf, sizeof(buf), "e", tricky, strlen(tricky));
    rec_t r = {0};
    parse_checked(buf, need, 0, &r, "format round trip");
    ok(r.n == 1 && ev_is(&r.ev[0], "e", tricky), "format_event output parses back to the same data and name");
    rec_free(&r);
}

int main(int argc, char **argv)
{
    test_basics();
    test_line_endings();
    test_incomplete_and_errors();
    test_fast_path();
    test_format();
    test_fixtures(argc > 1 ? argv[1] : "fixtures/sse");
    return done_testing();
}
