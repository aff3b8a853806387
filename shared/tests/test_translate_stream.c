/*
 * test_translate_stream.c: stream translation between the OpenAI, Anthropic
 * and Gemini formats (aihub/translate.h), event by event.
 *
 * tests/fixtures/translate/stream/cases.json pairs a recorded-shape upstream
 * stream with the client stream expected from it: {"name", "upstream",
 * "client", "model", "include_usage", "in", "out", "usage"}. Each upstream
 * stream is fed through ah_sse_feed whole, byte by byte and in 7-byte
 * pieces; every split must give the same bytes, whose events must match the
 * expected file (event names, and data as JSON with "<any>" for generated
 * ids and timestamps), and the usage read must be the expected one.
 * malformed.json holds upstream events that must make
 * ah_translate_stream_event return -1 with a reason, never crash.
 *
 * AH_TRANSLATE_WRITE_MISSING=1 writes the actual output of a case whose
 * expected file does not exist yet, to be checked by hand.
 */
#include "test_translate_common.c"

static const char *const formats[] = {"openai", "anthropic", "gemini"};

static void write_missing(const char *rel, const tt_stream_t *s)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", AH_TRANSLATE_FIXTURES, rel);
    FILE *f = fopen(path, "rb");
    if (f != NULL) {
        fclose(f);
        return;
    }
    const char *w = getenv("AH_TRANSLATE_WRITE_MISSING");
    if (w == NULL || *w != '1')
        return;
    f = fopen(path, "wb");
    if (f != NULL) {
        fwrite(s->out, 1, s->len, f);
        fclose(f);
        diag("wrote %s: check it by hand", rel);
    }
}

static void run_case(const json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    ah_format_t up = tt_format(json_string_value(json_object_get(c, "upstream")));
    ah_format_t client = tt_format(json_string_value(json_object_get(c, "client")));
    int include_usage = json_is_true(json_object_get(c, "include_usage"));
    const char *model = json_string_value(json_object_get(c, "model"));
    char rel[256];
    snprintf(rel, sizeof(rel), "stream/%s", json_string_value(json_object_get(c, "in")));
    size_t len;
    char *in = tt_read(rel, &len);

    tt_stream_t whole, bytes, pieces;
    tt_run(&whole, up, client, model, include_usage, in, len, 0);
    tt_run(&bytes, up, client, model, include_usage, in, len, 1);
    tt_run(&pieces, up, client, model, include_usage, in, len, 7);
    is_int(whole.rc, 0, tt_nm("%s: translated without error", name));
    if (whole.rc != 0)
        diag("  error: %s", whole.err);
    /* generated ids and timestamps differ between runs: each split is compared with the expected events, where "<any>" marks them */
    json_t *ew = tt_events(whole.out, whole.len), *eb = tt_events(bytes.out, bytes.len), *ep = tt_events(pieces.out, pieces.len);

    snprintf(rel, sizeof(rel), "stream/%s", json_string_value(json_object_get(c, "out")));
    write_missing(rel, &whole);
    size_t wlen;
    char *want_text = tt_read(rel, &wlen);
    json_t *want = tt_events(want_text, wlen);
    tt_is_json(ew, want, tt_nm("%s: the expected client events", name));
    tt_is_json(eb, want, tt_nm("%s: the same events when fed byte by byte", name));
    tt_is_json(ep, want, tt_nm("%s: the same events when fed in 7-byte pieces", name));
    if (up == client)
        ok(whole.len == wlen && memcmp(whole.out, want_text, wlen) == 0, tt_nm("%s: byte for byte", name));

    const ah_usage_t *u = ah_translate_stream_usage(whole.t);
    json_t *gu = json_pack("{s:I, s:I, s:I, s:I, s:i}", "prompt_tokens", (json_int_t)u->prompt_tokens, "completion_tokens",
                           (json_int_t)u->completion_tokens, "cached_tokens", (json_int_t)u->cached_tokens, "reasoning_tokens",
                           (json_int_t)u->reasoning_tokens, "present", u->present);
    tt_is_json(gu, json_object_get(c, "usage"), tt_nm("%s: usage", name));
    json_decref(gu);
    int64_t est = ah_translate_stream_estimate(whole.t);
    if (up == client)
        is_int(est, -1, tt_nm("%s: same format: no estimate", name));
    else
        ok(est >= 0, tt_nm("%s: estimate of the generated tokens (%lld)", name, (long long)est));

    /* the end is idempotent and nothing follows it */
    size_t before = whole.len;
    is_int(ah_translate_stream_end(whole.t, tt_emit, &whole), 0, tt_nm("%s: a second end", name));
    ah_sse_event_t ev = {.raw = "data: {}\n\n", .raw_len = 10, .data = "{}", .data_len = 2};
    ah_translate_stream_event(whole.t, &ev, tt_emit, &whole);
    ok(whole.len == before || up == client, tt_nm("%s: nothing emitted after the end", name));

    json_decref(ew), json_decref(eb), json_decref(ep), json_decref(want);
    free(want_text);
    tt_stream_t *all[] = {&whole, &bytes, &pieces};
    for (int i = 0; i < 3; i++) {
        ah_translate_stream_free(all[i]->t);
        free(all[i]->out);
    }
    free(in);
}

static void test_malformed(void)
{
    json_t *cases = tt_load("stream/malformed.json");
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *text = json_string_value(json_object_get(c, "in_text"));
        const char *error = json_string_value(json_object_get(c, "error"));
        ah_format_t up = tt_format(json_string_value(json_object_get(c, "upstream")));
        ah_format_t client = tt_format(json_string_value(json_object_get(c, "client")));
        for (size_t chunk = 0; chunk <= 1; chunk++) {
            tt_stream_t s;
            tt_run(&s, up, client, "m", 1, text, strlen(text), chunk);
            ok(s.rc == -1 && strstr(s.err[0] != '\0' ? s.err : ah_translate_stream_error(s.t), error) != NULL,
               tt_nm("malformed %s -> %s: %s%s", formats[up], formats[client], name, chunk ? " (bytewise)" : ""));
            if (s.rc != -1 || strstr(s.err[0] != '\0' ? s.err : ah_translate_stream_error(s.t), error) == NULL)
                diag("  rc %d, error \"%s\" / \"%s\", expected \"%s\"", s.rc, s.err, ah_translate_stream_error(s.t), error);
            ah_translate_stream_free(s.t);
            free(s.out);
        }
    }
    json_decref(cases);
}

static int refuse(void *ud, const char *bytes, size_t len)
{
    (*(int *)ud)++;
    return 7;
}

static void test_api(void)
{
    ah_translate_stream_free(NULL);
    /* an emit callback's nonzero value comes back */
    ah_translate_stream_t *t = ah_translate_stream_new(AH_FMT_ANTHROPIC, AH_FMT_OPENAI, "m");
    const char *d = "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}";
    ah_sse_event_t ev = {.raw = d, .raw_len = strlen(d), .data = d, .data_len = strlen(d)};
    int calls = 0;
    is_int(ah_translate_stream_event(t, &ev, refuse, &calls), 7, "emit's nonzero value is returned");
    is_int(calls, 1, "and the translation of that event stops");
    ah_translate_stream_free(t);

    /* events without data give nothing; an upstream that ends early still gets a well-formed end */
    t = ah_translate_stream_new(AH_FMT_GEMINI, AH_FMT_ANTHROPIC, "claude-alias");
    tt_stream_t s = {.t = t};
    ah_sse_event_t comment = {.raw = ": keep-alive\n\n", .raw_len = 14};
    is_int(ah_translate_stream_event(t, &comment, tt_emit, &s), 0, "a comment: 0");
    is_int((int)s.len, 0, "a comment: nothing emitted");
    is_int(ah_translate_stream_end(t, tt_emit, &s), 0, "an empty stream ends");
    json_t *evs = tt_events(s.out, s.len);
    json_t *want = json_loads("[{\"event\":\"message_start\",\"data\":{\"type\":\"message_start\",\"message\":{\"id\":\"<any>\",\"type\":\"message\","
                              "\"role\":\"assistant\",\"model\":\"claude-alias\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                              "\"usage\":{\"input_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0}}}},"
                              "{\"event\":\"message_delta\",\"data\":{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
                              "\"usage\":{\"input_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0}}},"
                              "{\"event\":\"message_stop\",\"data\":{\"type\":\"message_stop\"}}]",
                              0, NULL);
    tt_is_json(evs, want, "an empty Gemini stream to an Anthropic client: message_start, message_delta, message_stop");
    json_decref(evs), json_decref(want);
    ah_translate_stream_free(t);
    free(s.out);

    /* same format OpenAI without [DONE]: the end adds it */
    t = ah_translate_stream_new(AH_FMT_OPENAI, AH_FMT_OPENAI, "m");
    memset(&s, 0, sizeof(s));
    s.t = t;
    ah_translate_stream_end(t, tt_emit, &s);
    is_str(s.out, "data: [DONE]\n\n", "same format OpenAI: [DONE] added when the upstream sent none");
    ah_translate_stream_free(t);
    free(s.out);

    /* an OpenAI client without include_usage gets no usage chunk from a translated stream, but the usage is counted */
    size_t len;
    char *in = tt_read("stream/anthropic_text.sse", &len);
    tt_run(&s, AH_FMT_ANTHROPIC, AH_FMT_OPENAI, "m", 0, in, len, 0);
    ok(strstr(s.out, "\"usage\"") == NULL && ah_translate_stream_usage(s.t)->completion_tokens == 15,
       "no usage chunk unless asked for; usage still read");
    ok(strstr(s.out, "data: [DONE]\n\n") != NULL, "[DONE] at the end");
    ah_translate_stream_free(s.t);
    free(s.out);
    free(in);
}

int main(void)
{
    json_t *cases = tt_load("stream/cases.json");
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) run_case(c);
    diag("%zu stream fixture cases", json_array_size(cases));
    json_decref(cases);
    test_malformed();
    test_api();
    return done_testing();
}
