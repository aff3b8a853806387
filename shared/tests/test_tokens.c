/*
 * test_tokens.c: unit tests for the token estimator (aihub/tokens.h).
 *
 * The samples in tests/fixtures/tokens (the directory is compiled in as
 * AH_TOKENS_FIXTURES, or given as argv[1]) have exact o200k_base counts in
 * counts.txt, written by tests/tokens/make-counts.mjs with gpt-tokenizer;
 * the OpenAI estimate must be within ±15% of each. Claude and Gemini have no
 * exact reference here, so they are checked for plausible bands and order.
 * Then edge cases: empty and invalid UTF-8, a 10 MB text (timed), streaming
 * under every kind of split, model names, and chat bodies good and bad.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aihub/tokens.h"
#include "tap.h"

#ifndef AH_TOKENS_FIXTURES
#define AH_TOKENS_FIXTURES "shared/tests/fixtures/tokens"
#endif

/** Largest relative error allowed against the exact o200k count of a sample (200 tokens or more). */
#define TOLERANCE 0.15

static const char *fixtures = AH_TOKENS_FIXTURES;
static char name_buf[256];

/* A test name from a format with one %s (cut to fit). */
static const char *nm(const char *fmt, const char *arg)
{
    if (snprintf(name_buf, sizeof(name_buf), fmt, arg) >= (int)sizeof(name_buf))
        name_buf[sizeof(name_buf) - 1] = '\0';
    return name_buf;
}

/* Reads a whole file; NULL if it cannot. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

static char *fixture(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", fixtures, name);
    return slurp(path, len);
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- samples against exact counts ---- */

typedef struct {
    char name[64];
    long exact;
} sample_t;

static sample_t samples[32];
static int nsamples;

static void read_counts(void)
{
    size_t len;
    char *text = fixture("counts.txt", &len);
    ok(text != NULL, "counts.txt is readable");
    if (text == NULL)
        return;
    text = realloc(text, len + 1);
    text[len] = '\0';
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || nsamples == (int)(sizeof(samples) / sizeof(samples[0])))
            continue;
        sample_t *s = &samples[nsamples];
        if (sscanf(line, "%63s %ld", s->name, &s->exact) == 2)
            nsamples++;
    }
    free(text);
    ok(nsamples >= 8, "counts.txt lists the samples");
}

static void test_openai_samples(void)
{
    for (int i = 0; i < nsamples; i++) {
        size_t len;
        char *text = fixture(samples[i].name, &len);
        if (!ok(text != NULL, nm("%s is readable", samples[i].name)))
            continue;
        size_t chars = 0;
        for (size_t k = 0; k < len; k++)
            chars += ((unsigned char)text[k] & 0xC0) != 0x80;
        int64_t est = ah_tokens_estimate(AH_TOKENS_OPENAI, text, len);
        double err = ((double)est - (double)samples[i].exact) / (double)samples[i].exact;
        diag("%-16s exact %5ld  openai %5lld (%+5.1f%%)  claude %5lld  gemini %5lld  chars/token exact %.2f",
             samples[i].name, samples[i].exact, (long long)est, err * 100,
             (long long)ah_tokens_estimate(AH_TOKENS_CLAUDE, text, len),
             (long long)ah_tokens_estimate(AH_TOKENS_GEMINI, text, len), (double)chars / (double)samples[i].exact);
        ok(samples[i].exact >= 200, nm("%s: at least 200 tokens", samples[i].name));
        ok(err >= -TOLERANCE && err <= TOLERANCE, nm("%s: OpenAI estimate within 15%% of o200k", samples[i].name));
        free(text);
    }
}

/* Characters (code points) per token of a sample for a family. */
static double chars_per_token(ah_tokens_family_t family, const char *name)
{
    size_t len, chars = 0;
    char *text = fixture(name, &len);
    if (text == NULL)
        return 0;
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)text[i] & 0xC0) != 0x80;
    int64_t est = ah_tokens_estimate(family, text, len);
    free(text);
    return est > 0 ? (double)chars / (double)est : 0;
}

static int64_t estimate_file(ah_tokens_family_t family, const char *name)
{
    size_t len;
    char *text = fixture(name, &len);
    int64_t est = text != NULL ? ah_tokens_estimate(family, text, len) : -1;
    free(text);
    return est;
}

static void test_other_families(void)
{
    /* Anthropic: about 3.5 characters per token of English; Google: about 4 for Gemini (its tokenizer, measured
     * through Gemma 3's, gives 4.9 on this sample) */
    double claude_en = chars_per_token(AH_TOKENS_CLAUDE, "english.txt");
    double gemini_en = chars_per_token(AH_TOKENS_GEMINI, "english.txt");
    double openai_en = chars_per_token(AH_TOKENS_OPENAI, "english.txt");
    diag("English characters per token: openai %.2f, claude %.2f, gemini %.2f", openai_en, claude_en, gemini_en);
    ok(claude_en >= 3.2 && claude_en <= 3.8, "Claude: English at about 3.5 characters per token");
    ok(gemini_en >= 3.8 && gemini_en <= 5.5, "Gemini: English at 4-5 characters per token");

    /* CJK: Claude about one token per character or a little more, Gemini's large vocabulary below OpenAI */
    double claude_zh = chars_per_token(AH_TOKENS_CLAUDE, "chinese.txt");
    ok(claude_zh >= 0.7 && claude_zh <= 1.0, "Claude: Chinese at 1 token per character or a little more");
    ok(estimate_file(AH_TOKENS_GEMINI, "japanese.txt") < estimate_file(AH_TOKENS_OPENAI, "japanese.txt"),
       "Gemini: Japanese cheaper than on OpenAI");
    ok(estimate_file(AH_TOKENS_GEMINI, "chinese.txt") < estimate_file(AH_TOKENS_OPENAI, "chinese.txt"),
       "Gemini: Chinese cheaper than on OpenAI");
    ok(estimate_file(AH_TOKENS_GEMINI, "emoji.txt") < estimate_file(AH_TOKENS_OPENAI, "emoji.txt"),
       "Gemini: emoji cheaper than on OpenAI");

    /* every sample: Claude costs more than OpenAI, and no family is wildly off OpenAI */
    for (int i = 0; i < nsamples; i++) {
        int64_t o = estimate_file(AH_TOKENS_OPENAI, samples[i].name);
        int64_t c = estimate_file(AH_TOKENS_CLAUDE, samples[i].name);
        int64_t g = estimate_file(AH_TOKENS_GEMINI, samples[i].name);
        ok(c > o && c < 2 * o, nm("%s: Claude above OpenAI, below twice it", samples[i].name));
        ok(g > o / 2 && g < 2 * o, nm("%s: Gemini within half and twice OpenAI", samples[i].name));
    }

    /* Gemini splits numbers into digits; o200k takes three at a time */
    const char *digits = "3141592653 5897932384 6264338327 9502884197";
    int64_t od = ah_tokens_estimate(AH_TOKENS_OPENAI, digits, strlen(digits));
    int64_t gd = ah_tokens_estimate(AH_TOKENS_GEMINI, digits, strlen(digits));
    ok(gd >= 40 && od <= 25, "digits: Gemini one token per digit, OpenAI about one per three");
}

/* ---- edge cases ---- */

static void test_edges(void)
{
    const ah_tokens_weights_t *w = ah_tokens_weights(AH_TOKENS_OPENAI);
    is_int(ah_tokens_estimate(AH_TOKENS_OPENAI, "", 0), 0, "empty text: 0");
    is_int(ah_tokens_estimate(AH_TOKENS_OPENAI, NULL, 0), 0, "NULL text: 0");
    is_int(ah_tokens_estimate(AH_TOKENS_CLAUDE, "hello", 0), 0, "len 0: 0");
    is_int(ah_tokens_estimate(AH_TOKENS_OPENAI, "hello", 5), 1, "one word: 1");
    is_int(ah_tokens_estimate(AH_TOKENS_OPENAI, " ", 1), 1, "one space: 1");
    is_int(ah_tokens_estimate(AH_TOKENS_OPENAI, "\n\n\n", 3), 1, "a run of line breaks: 1");
    is_int(ah_tokens_estimate(AH_TOKENS_OPENAI, "123456", 6), 3, "six digits: two groups of three");
    ok(ah_tokens_estimate(AH_TOKENS_OPENAI, "a\0b", 3) >= 2, "an embedded NUL is counted, not an end");
    ok(ah_tokens_weights((ah_tokens_family_t)99) == w, "an unknown family gets OpenAI's weights");

    /* invalid UTF-8: every byte of a bad sequence is one wide symbol */
    struct {
        const char *s;
        int bytes;
        const char *what;
    } bad[] = {
        {"\xff", 1, "byte 0xFF"},
        {"\x80\x80\x80", 3, "stray continuation bytes"},
        {"\xc0\xaf", 2, "overlong '/'"},
        {"\xe0\x80\xaf", 3, "overlong three-byte"},
        {"\xed\xa0\x80", 3, "a surrogate"},
        {"\xf4\x90\x80\x80", 4, "past U+10FFFF"},
        {"\xf8\x88\x80\x80\x80", 5, "a five-byte form"},
        {"\xe4\xb8", 2, "a sequence cut at the end"},
        {"\xc3", 1, "a lead byte at the end"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        double want = bad[i].bytes * w->symbol_wide;
        int64_t want_tokens = (int64_t)want + ((double)(int64_t)want < want);
        is_int(ah_tokens_estimate(AH_TOKENS_OPENAI, bad[i].s, strlen(bad[i].s)), want_tokens,
               nm("invalid UTF-8 (%s): each byte a symbol", bad[i].what));
    }
    /* a broken sequence does not swallow the ASCII after it */
    int64_t word = ah_tokens_estimate(AH_TOKENS_OPENAI, "x hello", 7);
    int64_t broken = ah_tokens_estimate(AH_TOKENS_OPENAI, "\xe4hello", 6);
    ok(broken >= 2 && broken <= word + 2, "invalid UTF-8: the word after a broken lead byte still counts");

    /* all 256 byte values in every order of two: no crash, never negative */
    int sane = 1;
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) {
            char s[3] = {(char)a, (char)b, 'x'};
            for (int f = 0; f < 3; f++)
                sane &= ah_tokens_estimate((ah_tokens_family_t)f, s, 3) >= 1;
        }
    ok(sane, "every pair of bytes then a letter estimates to at least 1");
}

/* ---- streaming ---- */

static uint32_t rng_state;

static uint32_t rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

/* 1 if feeding text in random pieces (and byte by byte) gives the one-shot estimate for every family. */
static int stream_matches(const char *text, size_t len)
{
    for (int f = 0; f < 3; f++) {
        int64_t whole = ah_tokens_estimate((ah_tokens_family_t)f, text, len);
        ah_tokens_counter_t c;
        ah_tokens_counter_init(&c, (ah_tokens_family_t)f);
        for (size_t i = 0; i < len; i++)
            ah_tokens_counter_feed(&c, text + i, 1);
        if (ah_tokens_counter_result(&c) != whole)
            return 0;
        for (uint32_t seed = 1; seed <= 10; seed++) {
            rng_state = seed;
            ah_tokens_counter_init(&c, (ah_tokens_family_t)f);
            for (size_t at = 0; at < len;) {
                size_t n = 1 + rnd() % 9;
                if (n > len - at)
                    n = len - at;
                ah_tokens_counter_feed(&c, text + at, n);
                at += n;
                /* reading the result midway changes nothing */
                if (rnd() % 4 == 0)
                    (void)ah_tokens_counter_result(&c);
            }
            if (ah_tokens_counter_result(&c) != whole)
                return 0;
        }
    }
    return 1;
}

static void test_streaming(void)
{
    for (int i = 0; i < nsamples; i++) {
        size_t len;
        char *text = fixture(samples[i].name, &len);
        if (text != NULL)
            ok(stream_matches(text, len), nm("%s: any split streams to the one-shot estimate", samples[i].name));
        free(text);
    }
    struct {
        const char *s, *what;
    } odd[] = {
        {"don't stop", "a contraction"},
        {"keeper's' end'", "apostrophes at word ends"},
        {"x'", "an apostrophe at the end"},
        {"https://a.b/c?d=1&e=f#g and http:/x and :// alone", "URLs and near misses"},
        {"s3://bucket/key", "a URL after digits"},
        {"\xe4\xb8\xad\xe4\xb8", "Han then a cut sequence"},
        {"\xf0\x9f\x98\x80\xe2\x80\x8d\xf0\x9f\x92\xbb", "an emoji ZWJ sequence"},
        {"\t\t\"x\"\n\t\t9", "tabs before punctuation and digits"},
        {"\xc3\xa9t\xc3\xa9 \xd0\xb6\xd0\xb8\xd0\xb7\xd0\xbd\xd1\x8c", "accented Latin and Cyrillic"},
        {"a\xff\xfe" "b\x80" "c", "invalid bytes between letters"},
        {"   ", "spaces alone"},
        {"end.\n\n", "a line break after punctuation"},
    };
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
        ok(stream_matches(odd[i].s, strlen(odd[i].s)), nm("streaming matches on %s", odd[i].what));

    ah_tokens_counter_t c;
    ah_tokens_counter_init(&c, AH_TOKENS_OPENAI);
    is_int(ah_tokens_counter_result(&c), 0, "a fresh counter reads 0");
}

/* ---- size and speed ---- */

static void test_large(void)
{
    /* 10 MB of every sample, over and over */
    size_t total = 10u << 20, at = 0;
    char *big = malloc(total);
    if (!ok(big != NULL, "10 MB buffer"))
        return;
    while (at < total) {
        for (int i = 0; i < nsamples && at < total; i++) {
            size_t len;
            char *text = fixture(samples[i].name, &len);
            if (text == NULL)
                continue;
            size_t n = len < total - at ? len : total - at;
            memcpy(big + at, text, n);
            at += n;
            free(text);
        }
        if (nsamples == 0)
            memset(big, 'a', total), at = total;
    }
    double t0 = seconds();
    int64_t est = ah_tokens_estimate(AH_TOKENS_OPENAI, big, total);
    double t1 = seconds();
    double mbps = (double)total / (1 << 20) / (t1 - t0 > 1e-9 ? t1 - t0 : 1e-9);
    diag("10 MiB of mixed samples: %lld tokens estimated in %.1f ms, %.0f MiB/s", (long long)est, (t1 - t0) * 1e3,
         mbps);
    ok(est > 1000000 && est < 10000000, "10 MB: a plausible estimate");
    ok(t1 - t0 < 5.0, "10 MB: estimated in well under 5 s");

    /* degenerate inputs: one 10 MB word, digits, spaces, apostrophes, punctuation, invalid bytes */
    struct {
        char fill[4];
        const char *what;
    } deg[] = {{"a", "one long word"}, {"7", "digits"}, {" ", "spaces"}, {"a'", "apostrophes"},
               {"-", "punctuation"},   {"\xff", "invalid bytes"}, {"\xe4\xb8\xad", "Han"}};
    for (size_t i = 0; i < sizeof(deg) / sizeof(deg[0]); i++) {
        size_t fl = strlen(deg[i].fill);
        for (size_t j = 0; j + fl <= total; j += fl)
            memcpy(big + j, deg[i].fill, fl);
        size_t len = total - total % fl;
        t0 = seconds();
        est = ah_tokens_estimate(AH_TOKENS_OPENAI, big, len);
        t1 = seconds();
        ok(est >= 1 && t1 - t0 < 5.0, nm("10 MB of %s: estimated quickly", deg[i].what));
    }
    /* linear in length: twice the text, twice the tokens (to within rounding) */
    memset(big, 0, total);
    const char *unit = "The quick brown fox jumps over the lazy dog. ";
    size_t ul = strlen(unit), n = 0;
    for (; (n + 1) * ul <= total; n++)
        memcpy(big + n * ul, unit, ul);
    int64_t half = ah_tokens_estimate(AH_TOKENS_OPENAI, big, (n / 2) * ul);
    int64_t full = ah_tokens_estimate(AH_TOKENS_OPENAI, big, (n / 2) * 2 * ul);
    ok(full >= 2 * half - 2 && full <= 2 * half + 2, "estimates add up: twice the text, twice the tokens");
    free(big);
}

/* ---- model names ---- */

static void test_family_of(void)
{
    struct {
        const char *model;
        ah_tokens_family_t family;
    } cases[] = {
        {"gpt-4o", AH_TOKENS_OPENAI},
        {"gpt-4o-mini-2024-07-18", AH_TOKENS_OPENAI},
        {"gpt-4.1", AH_TOKENS_OPENAI},
        {"gpt-5", AH_TOKENS_OPENAI},
        {"o1", AH_TOKENS_OPENAI},
        {"o3-mini", AH_TOKENS_OPENAI},
        {"o4-mini-high", AH_TOKENS_OPENAI},
        {"chatgpt-4o-latest", AH_TOKENS_OPENAI},
        {"gpt-3.5-turbo", AH_TOKENS_OPENAI},
        {"text-embedding-3-small", AH_TOKENS_OPENAI},
        {"deepseek-chat", AH_TOKENS_OPENAI},
        {"qwen2.5-72b-instruct", AH_TOKENS_OPENAI},
        {"llama-3.1-70b", AH_TOKENS_OPENAI},
        {"mistral-large", AH_TOKENS_OPENAI},
        {"", AH_TOKENS_OPENAI},
        {"claude-3-5-sonnet-20241022", AH_TOKENS_CLAUDE},
        {"claude-3-opus", AH_TOKENS_CLAUDE},
        {"claude-sonnet-4-5", AH_TOKENS_CLAUDE},
        {"claude-opus-4-1-20250805", AH_TOKENS_CLAUDE},
        {"Claude-3-Haiku", AH_TOKENS_CLAUDE},
        {"anthropic/claude-3.7-sonnet", AH_TOKENS_CLAUDE},
        {"anthropic.claude-3-5-sonnet-20240620-v1:0", AH_TOKENS_CLAUDE},
        {"us.anthropic.claude-sonnet-4-20250514-v1:0", AH_TOKENS_CLAUDE},
        {"gemini-1.5-pro", AH_TOKENS_GEMINI},
        {"gemini-2.0-flash", AH_TOKENS_GEMINI},
        {"gemini-2.5-flash-lite", AH_TOKENS_GEMINI},
        {"models/gemini-1.5-flash-001", AH_TOKENS_GEMINI},
        {"google/gemini-2.5-pro", AH_TOKENS_GEMINI},
        {"GEMINI-PRO", AH_TOKENS_GEMINI},
        {"gemma-3-27b-it", AH_TOKENS_GEMINI},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        is_int(ah_tokens_family_of(cases[i].model), cases[i].family, nm("family of \"%s\"", cases[i].model));
    is_int(ah_tokens_family_of(NULL), AH_TOKENS_OPENAI, "family of NULL: OpenAI");
    is_int(ah_tokens_family_of("clau"), AH_TOKENS_OPENAI, "family of a prefix of \"claude\": OpenAI");
}

/* ---- chat bodies ---- */

static json_t *parse(const char *s)
{
    json_error_t err;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &err);
    if (j == NULL)
        diag("bad JSON in test: %s", err.text);
    return j;
}

static int64_t chat(const char *s)
{
    json_t *j = parse(s);
    int64_t n = ah_tokens_estimate_chat(AH_TOKENS_OPENAI, j);
    json_decref(j);
    return n;
}

static void test_chat(void)
{
    /* OpenAI's published example: one user message "Hello" costs 3 + 1 (role) + 1 (text) + 3 (reply) = 8 */
    is_int(chat("{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}"), 8, "chat: one short message is 8");

    const char *two = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
                      "{\"role\":\"user\",\"content\":\"What is the capital of France?\"}]}";
    int64_t n2 = chat(two);
    int64_t text = ah_tokens_estimate(AH_TOKENS_OPENAI, "You are a helpful assistant.", 28) +
                   ah_tokens_estimate(AH_TOKENS_OPENAI, "What is the capital of France?", 30);
    ok(n2 >= text + 3 + 2 * 3 && n2 <= text + 3 + 2 * 3 + 3, "chat: two messages are their text plus 3 each plus 3");

    /* array content: text parts count, images are a fixed price */
    int64_t parts = chat("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is the capital of "
                         "France?\"}]}]}");
    int64_t plain = chat("{\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}]}");
    is_int(parts, plain, "chat: a text part counts like string content");
    int64_t img = chat("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is the capital of "
                       "France?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}]}");
    is_int(img - plain, AH_TOKENS_IMAGE, "chat: an image part adds AH_TOKENS_IMAGE");
    int64_t low = chat("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is the capital of "
                       "France?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\","
                       "\"detail\":\"low\"}}]}]}");
    is_int(low - plain, AH_TOKENS_IMAGE_LOW, "chat: a low-detail image adds AH_TOKENS_IMAGE_LOW");
    int64_t two_img = chat("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is the "
                           "capital of France?\"},{\"type\":\"input_image\",\"image_url\":\"https://x/y.png\"},"
                           "{\"type\":\"image\"}]}]}");
    is_int(two_img - plain, 2 * AH_TOKENS_IMAGE, "chat: input_image and image parts are images too");

    /* names */
    int64_t named = chat("{\"messages\":[{\"role\":\"user\",\"name\":\"alice\",\"content\":\"What is the capital of France?\"}]}");
    ok(named >= plain + AH_TOKENS_PER_NAME + 1 && named <= plain + AH_TOKENS_PER_NAME + 2, "chat: a name adds itself and 1");

    /* tools: their JSON text */
    const char *tools_json = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Current "
                             "weather for a city\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
                             "\"string\"},\"unit\":{\"type\":\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]}},"
                             "\"required\":[\"city\"]}}}]";
    char body[2048];
    snprintf(body, sizeof(body), "{\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}],\"tools\":%s}",
             tools_json);
    int64_t with_tools = chat(body);
    int64_t tools_text = ah_tokens_estimate(AH_TOKENS_OPENAI, tools_json, strlen(tools_json));
    ok(with_tools - plain >= tools_text - 2 && with_tools - plain <= tools_text + 2, "chat: tools cost their JSON text");
    snprintf(body, sizeof(body), "{\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}],\"functions\":%s}",
             tools_json);
    ok(chat(body) - plain >= tools_text - 2, "chat: legacy functions cost their JSON text");

    /* tool calls and their results */
    const char *args = "{\\\"city\\\":\\\"Paris\\\",\\\"unit\\\":\\\"celsius\\\"}";
    snprintf(body, sizeof(body),
             "{\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"},"
             "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
             "\"function\":{\"name\":\"get_weather\",\"arguments\":\"%s\"}}]},"
             "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"18 degrees, sunny\"}]}",
             args);
    int64_t calls = chat(body);
    int64_t call_text = ah_tokens_estimate(AH_TOKENS_OPENAI, "get_weather", 11) +
                        ah_tokens_estimate(AH_TOKENS_OPENAI, "{\"city\":\"Paris\",\"unit\":\"celsius\"}", 33) +
                        ah_tokens_estimate(AH_TOKENS_OPENAI, "18 degrees, sunny", 17);
    ok(calls - plain >= call_text + 2 * AH_TOKENS_PER_MESSAGE + AH_TOKENS_PER_TOOL_CALL &&
           calls - plain <= call_text + 2 * AH_TOKENS_PER_MESSAGE + AH_TOKENS_PER_TOOL_CALL + 5,
       "chat: tool calls cost name, arguments and 3; the tool's reply is a message");
    int64_t legacy = chat("{\"messages\":[{\"role\":\"assistant\",\"function_call\":{\"name\":\"get_weather\","
                          "\"arguments\":\"{}\"}}]}");
    ok(legacy >= 3 + 3 + AH_TOKENS_PER_TOOL_CALL + 2, "chat: a legacy function_call counts");

    /* other families price the same body differently */
    json_t *j = parse(two);
    ok(ah_tokens_estimate_chat(AH_TOKENS_CLAUDE, j) > ah_tokens_estimate_chat(AH_TOKENS_OPENAI, j),
       "chat: Claude prices the same body higher");
    json_decref(j);

    /* malformed shapes: never fatal */
    int64_t empty = chat("{\"messages\":[]}");
    is_int(empty, AH_TOKENS_REPLY_PRIMING, "chat: no messages is the reply priming alone");
    is_int(ah_tokens_estimate_chat(AH_TOKENS_OPENAI, NULL), 0, "chat: NULL body is 0");
    is_int(chat("[1,2,3]"), 0, "chat: an array body is 0");
    is_int(chat("\"text\""), 0, "chat: a string body is 0");
    is_int(chat("{}"), AH_TOKENS_REPLY_PRIMING, "chat: no messages member");
    is_int(chat("{\"messages\":\"hello\"}"), AH_TOKENS_REPLY_PRIMING, "chat: messages a string");
    is_int(chat("{\"messages\":{\"role\":\"user\"}}"), AH_TOKENS_REPLY_PRIMING, "chat: messages an object");
    is_int(chat("{\"messages\":[1,null,\"x\",[]]}"), AH_TOKENS_REPLY_PRIMING, "chat: messages that are not objects");
    int64_t role_only = chat("{\"messages\":[{\"role\":\"user\"}]}");
    is_int(chat("{\"messages\":[{\"role\":\"user\",\"content\":42}]}"), role_only, "chat: content a number is skipped");
    is_int(chat("{\"messages\":[{\"role\":\"user\",\"content\":true}]}"), role_only, "chat: content a boolean is skipped");
    is_int(chat("{\"messages\":[{\"role\":\"user\",\"content\":[1,null,{},{\"type\":5},{\"type\":\"text\",\"text\":7}]}]}"),
           role_only, "chat: parts of the wrong shape are skipped");
    is_int(chat("{\"messages\":[{\"role\":7,\"name\":[],\"content\":null}]}"), 3 + 3, "chat: role and name of the wrong type");
    is_int(chat("{\"messages\":[{\"role\":\"user\",\"tool_calls\":\"x\"}]}"), role_only, "chat: tool_calls a string");
    ok(chat("{\"messages\":[{\"role\":\"user\",\"tool_calls\":[1,{},{\"function\":7},{\"function\":{\"name\":1}}]}]}") >=
           role_only,
       "chat: tool calls of the wrong shape");
    is_int(chat("{\"messages\":[],\"tools\":null}"), AH_TOKENS_REPLY_PRIMING, "chat: tools null");
    ok(chat("{\"messages\":[],\"tools\":\"x\"}") >= AH_TOKENS_REPLY_PRIMING, "chat: tools a string");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        fixtures = argv[1];
    read_counts();
    test_openai_samples();
    test_other_families();
    test_edges();
    test_streaming();
    test_large();
    test_family_of();
    test_chat();
    return done_testing();
}
