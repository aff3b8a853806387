/*
 * test_translate_request.c: request bodies between the OpenAI, Anthropic
 * and Gemini formats (aihub/translate.h), every direction.
 *
 * tests/fixtures/translate/request/<from>_to_<to>.json holds named cases:
 * {"name", "in", "model" (upstream model), "opts" (optional:
 * default_max_tokens, stream, openai_max_completion_tokens), then "out"
 * (the expected body) or "error" (a piece of the expected 400 message)}.
 * Then properties no fixture shows well: same-format copies share nothing
 * the caller would change, the input is never modified, translations
 * through a second format keep what both carry, and malformed bodies of
 * every shape give an error, not a crash.
 */
#include "test_translate_common.c"

static const char *const formats[] = {"openai", "anthropic", "gemini"};

static void read_opts(const json_t *o, ah_translate_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->default_max_tokens = json_integer_value(json_object_get(o, "default_max_tokens"));
    opts->stream = json_is_true(json_object_get(o, "stream"));
    opts->openai_max_completion_tokens = json_is_true(json_object_get(o, "openai_max_completion_tokens"));
}

static int run_file(ah_format_t from, ah_format_t to)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "request/%s_to_%s.json", formats[from], formats[to]);
    json_t *cases = tt_load(rel);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *in = json_object_get(c, "in"), *want = json_object_get(c, "out");
        const char *model = json_string_value(json_object_get(c, "model"));
        const char *error = json_string_value(json_object_get(c, "error"));
        ah_translate_opts_t opts;
        read_opts(json_object_get(c, "opts"), &opts);
        char *before = json_dumps(in, JSON_SORT_KEYS);
        char err[256] = "";
        json_t *got = ah_translate_request(from, to, in, model != NULL ? model : "upstream-model", &opts, err, sizeof(err));
        if (error != NULL) {
            ok(got == NULL && strstr(err, error) != NULL, tt_nm("%s -> %s: %s: refused", formats[from], formats[to], name));
            if (got != NULL || strstr(err, error) == NULL)
                diag("  error: \"%s\", expected to contain \"%s\"", err, error);
        } else {
            tt_is_json(got, want, tt_nm("%s -> %s: %s", formats[from], formats[to], name));
            if (got == NULL)
                diag("  error: %s", err);
        }
        char *after = json_dumps(in, JSON_SORT_KEYS);
        ok(strcmp(before, after) == 0, tt_nm("%s -> %s: %s: input unchanged", formats[from], formats[to], name));
        free(before);
        free(after);
        json_decref(got);
    }
    size_t n = json_array_size(cases);
    json_decref(cases);
    return (int)n;
}

/* the same conversation through another format and back keeps the messages OpenAI and both others carry */
static void test_round_trips(void)
{
    json_t *cases = tt_load("request/round_trip.json");
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *in = json_object_get(c, "in");
        for (int via = AH_FMT_ANTHROPIC; via <= AH_FMT_GEMINI; via++) {
            char err[256] = "";
            ah_translate_opts_t opts = {.stream = json_is_true(json_object_get(in, "stream"))};
            json_t *mid = ah_translate_request(AH_FMT_OPENAI, (ah_format_t)via, in, "m", NULL, err, sizeof(err));
            json_t *back = mid != NULL ? ah_translate_request((ah_format_t)via, AH_FMT_OPENAI, mid, "m", &opts, err, sizeof(err)) : NULL;
            tt_is_json(json_object_get(back, "messages"), json_object_get(c, "messages"),
                       tt_nm("round trip through %s: %s: messages", formats[via], name));
            tt_is_json(json_object_get(back, "tools"), json_object_get(in, "tools"), tt_nm("round trip through %s: %s: tools", formats[via], name));
            if (back == NULL)
                diag("  error: %s", err);
            json_decref(mid);
            json_decref(back);
        }
    }
    json_decref(cases);
}

static void test_same_format(void)
{
    json_t *body = json_pack("{s:s, s:[{s:s, s:s}], s:{s:i}}", "model", "alias", "messages", "role", "user", "content", "hi",
                             "stream_options", "include_usage", 1);
    char err[64];
    for (int f = 0; f < AH_FMT_COUNT; f++) {
        json_t *out = ah_translate_request((ah_format_t)f, (ah_format_t)f, body, "real-model", NULL, err, sizeof(err));
        ok(out != NULL && out != body, tt_nm("%s -> %s: a new object", formats[f], formats[f]));
        is_str(json_string_value(json_object_get(out, "model")), f == AH_FMT_GEMINI ? "alias" : "real-model",
               tt_nm("%s -> %s: model replaced (kept for Gemini, whose model is in the URL)", formats[f], formats[f]));
        ok(json_object_get(out, "messages") == json_object_get(body, "messages"), tt_nm("%s: nested values shared (cheap)", formats[f]));
        is_str(json_string_value(json_object_get(body, "model")), "alias", tt_nm("%s: the client's body keeps its model", formats[f]));
        json_decref(out);
    }
    json_decref(body);
}

static void test_helpers(void)
{
    json_t *b = json_pack("{s:b, s:i}", "stream", 1, "max_tokens", 77);
    ok(ah_translate_is_stream(AH_FMT_OPENAI, b) && ah_translate_is_stream(AH_FMT_ANTHROPIC, b), "stream: true read for OpenAI and Anthropic");
    ok(!ah_translate_is_stream(AH_FMT_GEMINI, b), "stream: never from a Gemini body");
    is_int(ah_translate_max_tokens(AH_FMT_ANTHROPIC, b), 77, "max_tokens of an Anthropic body");
    json_object_set_new(b, "max_completion_tokens", json_integer(99));
    is_int(ah_translate_max_tokens(AH_FMT_OPENAI, b), 99, "OpenAI: max_completion_tokens wins");
    json_decref(b);
    b = json_pack("{s:{s:i}}", "generationConfig", "maxOutputTokens", 55);
    is_int(ah_translate_max_tokens(AH_FMT_GEMINI, b), 55, "Gemini: generationConfig.maxOutputTokens");
    is_int(ah_translate_max_tokens(AH_FMT_OPENAI, b), 0, "no limit: 0");
    json_decref(b);
    is_str(ah_format_name(AH_FMT_GEMINI), "gemini", "format names");
}

/* every value of every shape in place of each member of a valid body: an answer or an error, never a crash */
static void test_malformed(void)
{
    json_t *seeds = tt_load("request/round_trip.json");
    json_t *odd[] = {json_null(), json_true(), json_integer(-1), json_real(1e300), json_string(""), json_string("x"),
                     json_array(), json_object(), json_pack("[n, i, {}]", 3), json_pack("{s:n}", "type")};
    size_t nodd = sizeof(odd) / sizeof(odd[0]), tried = 0, answered = 0;
    size_t i;
    json_t *c;
    json_array_foreach(seeds, i, c)
    {
        json_t *in = json_object_get(c, "in");
        for (int from = 0; from < AH_FMT_COUNT; from++) {
            char err[256];
            json_t *base = from == AH_FMT_OPENAI ? json_incref(in) : ah_translate_request(AH_FMT_OPENAI, (ah_format_t)from, in, "m", NULL, err, sizeof(err));
            if (base == NULL)
                continue;
            /* replace each member, and each member of each message, with each odd value */
            json_t *targets[64];
            size_t nt = 0;
            targets[nt++] = base;
            json_t *list = json_object_get(base, from == AH_FMT_GEMINI ? "contents" : "messages");
            for (size_t k = 0; k < json_array_size(list) && nt < 60; k++) {
                targets[nt++] = json_array_get(list, k);
                json_t *content = json_object_get(json_array_get(list, k), from == AH_FMT_GEMINI ? "parts" : "content");
                if (json_is_array(content) && json_array_size(content) != 0 && nt < 60)
                    targets[nt++] = json_array_get(content, 0);
            }
            for (size_t tk = 0; tk < nt; tk++) {
                json_t *obj = targets[tk];
                const char *key;
                json_t *val;
                void *tmp;
                json_object_foreach_safe(obj, tmp, key, val)
                {
                    json_t *saved = json_incref(val);
                    for (size_t o = 0; o < nodd; o++) {
                        json_object_set(obj, key, odd[o]);
                        for (int to = 0; to < AH_FMT_COUNT; to++) {
                            json_t *out = ah_translate_request((ah_format_t)from, (ah_format_t)to, base, "m", NULL, err, sizeof(err));
                            tried++;
                            answered += out != NULL || err[0] != '\0';
                            json_decref(out);
                        }
                    }
                    json_object_set_new(obj, key, saved);
                }
            }
            json_decref(base);
        }
    }
    for (size_t o = 0; o < nodd; o++)
        json_decref(odd[o]);
    json_decref(seeds);
    ok(tried > 1000, tt_nm("malformed bodies: %zu tried", tried));
    is_int(answered, tried, "malformed bodies: each gave a body or an error message");
}

int main(void)
{
    int n = 0;
    for (int from = 0; from < AH_FMT_COUNT; from++) {
        for (int to = 0; to < AH_FMT_COUNT; to++) {
            if (from != to)
                n += run_file((ah_format_t)from, (ah_format_t)to);
        }
    }
    diag("%d request fixture cases", n);
    test_same_format();
    test_round_trips();
    test_helpers();
    test_malformed();
    return done_testing();
}
