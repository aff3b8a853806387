/*
 * test_translate_response.c: non-streaming responses between the OpenAI,
 * Anthropic and Gemini formats, usage readers, completion estimates, and
 * error bodies and events (aihub/translate.h).
 *
 * tests/fixtures/translate/response/<upstream>_to_<client>.json holds named
 * cases: {"name", "model" (the client's model name), "in" (the upstream's
 * body), "usage" (what ah_translate_usage reads from it), then "out" or
 * "error" (a piece of the message)}.
 */
#include "test_translate_common.c"

static const char *const formats[] = {"openai", "anthropic", "gemini"};

static int run_file(ah_format_t up, ah_format_t client)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "response/%s_to_%s.json", formats[up], formats[client]);
    json_t *cases = tt_load(rel);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *in = json_object_get(c, "in");
        const char *error = json_string_value(json_object_get(c, "error"));
        char err[256] = "";
        json_t *got = ah_translate_response(up, client, in, json_string_value(json_object_get(c, "model")), err, sizeof(err));
        if (error != NULL) {
            ok(got == NULL && strstr(err, error) != NULL, tt_nm("%s -> %s: %s: refused", formats[up], formats[client], name));
            if (got != NULL || strstr(err, error) == NULL)
                diag("  error: \"%s\", expected to contain \"%s\"", err, error);
        } else {
            tt_is_json(got, json_object_get(c, "out"), tt_nm("%s -> %s: %s", formats[up], formats[client], name));
            if (got == NULL)
                diag("  error: %s", err);
        }
        json_t *wu = json_object_get(c, "usage");
        if (wu != NULL) {
            ah_usage_t u;
            ah_translate_usage(up, in, &u);
            json_t *gu = json_pack("{s:I, s:I, s:I, s:I, s:i}", "prompt_tokens", (json_int_t)u.prompt_tokens, "completion_tokens",
                                   (json_int_t)u.completion_tokens, "cached_tokens", (json_int_t)u.cached_tokens, "reasoning_tokens",
                                   (json_int_t)u.reasoning_tokens, "present", u.present);
            tt_is_json(gu, wu, tt_nm("%s usage: %s", formats[up], name));
            json_decref(gu);
            /* the client's usage, read back, is the same usage: cost comes out equal whichever pair served it */
            if (got != NULL && (u.present || client != AH_FMT_ANTHROPIC)) { /* Anthropic bodies always carry usage */
                ah_usage_t back;
                ah_translate_usage(client, got, &back);
                ok(back.present == u.present && back.prompt_tokens == u.prompt_tokens && back.completion_tokens == u.completion_tokens &&
                       back.cached_tokens == u.cached_tokens &&
                       (client == AH_FMT_ANTHROPIC || back.reasoning_tokens == u.reasoning_tokens),
                   tt_nm("%s -> %s: %s: the client reads the same usage", formats[up], formats[client], name));
            }
        }
        json_decref(got);
    }
    size_t n = json_array_size(cases);
    json_decref(cases);
    return (int)n;
}

static void test_same_format(void)
{
    json_t *r = json_pack("{s:s, s:s, s:[]}", "id", "x", "model", "upstream-model", "choices");
    char err[64];
    json_t *out = ah_translate_response(AH_FMT_OPENAI, AH_FMT_OPENAI, r, "alias", err, sizeof(err));
    is_str(json_string_value(json_object_get(out, "model")), "alias", "same format: model replaced by the client's name");
    is_str(json_string_value(json_object_get(r, "model")), "upstream-model", "same format: the upstream body is unchanged");
    json_decref(out);
    out = ah_translate_response(AH_FMT_OPENAI, AH_FMT_OPENAI, r, NULL, err, sizeof(err));
    is_str(json_string_value(json_object_get(out, "model")), "upstream-model", "same format: a NULL model keeps the upstream's");
    json_decref(out);
    json_decref(r);
    ok(ah_translate_response(AH_FMT_GEMINI, AH_FMT_OPENAI, NULL, "m", err, sizeof(err)) == NULL && err[0] != '\0', "NULL body: error");
}

static void test_estimates(void)
{
    json_t *a = tt_load("response/anthropic_to_openai.json");
    json_t *in = json_object_get(json_array_get(a, 0), "in");
    int64_t n = ah_translate_estimate_completion(AH_FMT_ANTHROPIC, in);
    ok(n >= 10 && n <= 40, tt_nm("estimate of an Anthropic answer (thinking, text, a tool call): %lld tokens", (long long)n));
    char err[64];
    json_t *o = ah_translate_response(AH_FMT_ANTHROPIC, AH_FMT_OPENAI, in, "m", err, sizeof(err));
    int64_t m = ah_translate_estimate_completion(AH_FMT_OPENAI, o);
    ok(m > 0 && m < n, "the same answer as OpenAI: fewer tokens (Claude's weights are heavier)");
    json_decref(o);
    json_decref(a);
    is_int(ah_translate_estimate_completion(AH_FMT_GEMINI, NULL), 0, "estimate of nothing: 0");
}

static void test_errors(void)
{
    json_t *e = ah_translate_error_body(AH_FMT_OPENAI, 429, "rate_limit_error", "rate_limit_exceeded", "slow down");
    json_t *w = json_pack("{s:{s:s, s:s, s:s, s:n}}", "error", "message", "slow down", "type", "rate_limit_error", "code", "rate_limit_exceeded", "param");
    tt_is_json(e, w, "OpenAI error body");
    json_decref(e), json_decref(w);
    e = ah_translate_error_body(AH_FMT_OPENAI, 502, NULL, NULL, "bad gateway");
    w = json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", "bad gateway", "type", "api_error", "code", "param");
    tt_is_json(e, w, "OpenAI error body: default type, null code");
    json_decref(e), json_decref(w);
    static const struct {
        int status;
        const char *anthropic, *gemini;
    } map[] = {{400, "invalid_request_error", "INVALID_ARGUMENT"}, {401, "authentication_error", "UNAUTHENTICATED"},
               {403, "permission_error", "PERMISSION_DENIED"},  {404, "not_found_error", "NOT_FOUND"},
               {413, "request_too_large", "INVALID_ARGUMENT"},  {429, "rate_limit_error", "RESOURCE_EXHAUSTED"},
               {500, "api_error", "INTERNAL"},                  {502, "api_error", "UNAVAILABLE"},
               {503, "overloaded_error", "UNAVAILABLE"},        {504, "timeout_error", "DEADLINE_EXCEEDED"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        e = ah_translate_error_body(AH_FMT_ANTHROPIC, map[i].status, "x", "y", "m");
        json_t *want = json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", map[i].anthropic, "message", "m");
        tt_is_json(e, want, tt_nm("Anthropic error body for %d", map[i].status));
        json_decref(want), json_decref(e);
        e = ah_translate_error_body(AH_FMT_GEMINI, map[i].status, "x", "y", "m");
        want = json_pack("{s:{s:i, s:s, s:s}}", "error", "code", map[i].status, "message", "m", "status", map[i].gemini);
        tt_is_json(e, want, tt_nm("Gemini error body for %d", map[i].status));
        json_decref(want), json_decref(e);
    }
    char buf[512];
    size_t n = ah_translate_error_event(AH_FMT_ANTHROPIC, 529, NULL, NULL, "Overloaded", buf, sizeof(buf));
    buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = '\0';
    is_str(buf, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n", "Anthropic error event");
    n = ah_translate_error_event(AH_FMT_OPENAI, 502, "api_error", "upstream_error", "broke\nhere", buf, sizeof(buf));
    buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = '\0';
    is_str(buf, "data: {\"error\":{\"message\":\"broke\\nhere\",\"type\":\"api_error\",\"code\":\"upstream_error\",\"param\":null}}\n\n",
           "OpenAI error event: one data line, the line break escaped");
    n = ah_translate_error_event(AH_FMT_GEMINI, 504, NULL, NULL, "late", buf, sizeof(buf));
    buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = '\0';
    is_str(buf, "data: {\"error\":{\"code\":504,\"message\":\"late\",\"status\":\"DEADLINE_EXCEEDED\"}}\n\n", "Gemini error event");
    size_t need = ah_translate_error_event(AH_FMT_GEMINI, 504, NULL, NULL, "late", buf, 5);
    ok(need == n, "error event: a short buffer gets the size needed");

    static const char *const bodies[][2] = {
        {"{\"error\":{\"message\":\"Invalid 'messages'\",\"type\":\"invalid_request_error\",\"param\":\"messages\",\"code\":null}}", "Invalid 'messages'"},
        {"{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"max_tokens: Field required\"},\"request_id\":\"req_1\"}", "max_tokens: Field required"},
        {"{\"error\":{\"code\":400,\"message\":\"API key not valid.\",\"status\":\"INVALID_ARGUMENT\"}}", "API key not valid."},
        {"[{\"error\":{\"code\":429,\"message\":\"Quota exceeded\",\"status\":\"RESOURCE_EXHAUSTED\"}}]", "Quota exceeded"},
        {"{\"error\":\"model not loaded\"}", "model not loaded"},
        {"{\"detail\":\"Not Found\"}", "Not Found"},
        {"{\"message\":\"bad\"}", "bad"},
        {"{\"nothing\":1}", NULL},
        {"\"text\"", NULL},
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        json_t *b = json_loads(bodies[i][0], JSON_DECODE_ANY, NULL);
        is_str(ah_translate_upstream_error_message(b), bodies[i][1], tt_nm("upstream error message of %s", bodies[i][0]));
        json_decref(b);
    }
    ok(ah_translate_upstream_error_message(NULL) == NULL, "upstream error message of NULL");
}

int main(void)
{
    int n = 0;
    for (int up = 0; up < AH_FMT_COUNT; up++) {
        for (int client = 0; client < AH_FMT_COUNT; client++) {
            if (up != client)
                n += run_file((ah_format_t)up, (ah_format_t)client);
        }
    }
    diag("%d response fixture cases", n);
    test_same_format();
    test_estimates();
    test_errors();
    return done_testing();
}
