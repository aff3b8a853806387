/*
 * test_json_scan.c: unit tests for aihub/json_scan.h. Hand-written cases
 * for each answer, then a differential check against jansson: thousands of
 * mutated documents, where every FOUND or ABSENT must be exactly what
 * json_loadb and json_object_get give (UNSURE is always allowed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aihub/json_scan.h"
#include "tap.h"

static int scan(const char *doc, const char *name, char *val, size_t cap)
{
    const char *v = NULL;
    size_t n = 0;
    int rv = ah_json_scan_member(doc, strlen(doc), name, &v, &n);
    if (val != NULL)
        snprintf(val, cap, "%.*s", rv == AH_JSON_SCAN_FOUND ? (int)n : 0, v != NULL ? v : "");
    return rv;
}

static const char OPENAI[] = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"gpt-4o\","
                             "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"h\\u00e9llo \\\"w\\\" \xe4\xb8\x96\"},"
                             "\"finish_reason\":\"stop\",\"logprobs\":null}],"
                             "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":8,\"total_tokens\":20,"
                             "\"prompt_tokens_details\":{\"cached_tokens\":4}},\"system_fingerprint\":null,\"x\":[1.5e3,-0,0.25,true,false]}";

static void test_cases(void)
{
    char v[512];
    is_int(scan(OPENAI, "usage", v, sizeof(v)), AH_JSON_SCAN_FOUND, "an OpenAI answer: found");
    is_str(v, "{\"prompt_tokens\":12,\"completion_tokens\":8,\"total_tokens\":20,\"prompt_tokens_details\":{\"cached_tokens\":4}}",
           "the value's exact text");
    is_int(scan(OPENAI, "usageMetadata", NULL, 0), AH_JSON_SCAN_ABSENT, "absent member");
    is_int(scan(" \r\n\t{\"usage\" : null } \n", "usage", v, sizeof(v)), AH_JSON_SCAN_FOUND, "whitespace everywhere");
    is_str(v, "null", "a null value");
    is_int(scan("{}", "usage", NULL, 0), AH_JSON_SCAN_ABSENT, "empty object");
    is_int(scan("{\"a\":{\"usage\":1}}", "usage", NULL, 0), AH_JSON_SCAN_ABSENT, "a nested member is not the top-level one");
    is_int(scan("{\"usage\":\"x\\\"}\"}", "usage", v, sizeof(v)), AH_JSON_SCAN_FOUND, "a string value with an escaped quote");
    is_str(v, "\"x\\\"}\"", "... its text");

    static const char *unsure[] = {
        "",                                       /* empty */
        "[1,2]",                                  /* not an object (jansson takes it) */
        "{\"usage\":1} x",                        /* trailing garbage */
        "{\"usage\":1",                           /* unterminated */
        "{\"usage\":1,}",                         /* trailing comma */
        "{\"usage\":01}",                         /* leading zero */
        "{\"usage\":1.}",                         /* no fraction digits */
        "{\"usage\":.5}",                         /* no integer part */
        "{\"usage\":1e}",                         /* no exponent digits */
        "{\"usage\":+1}",                         /* plus sign */
        "{\"usage\":1234567890123456789}",        /* 19 digits: might overflow */
        "{\"usage\":1e400}",                      /* overflows a double */
        "{\"usage\":tru}",                        /* bad literal */
        "{\"usage\":truex}",                      /* bad literal */
        "{\"usage\":\"a\\u0000b\"}",              /* \u0000 */
        "{\"usage\":\"\\ud83d\\ude00\"}",         /* surrogates (a valid pair, still refused) */
        "{\"usage\":\"\\x\"}",                    /* bad escape */
        "{\"usage\":\"\\u12g4\"}",                /* bad \u */
        "{\"usage\":\"tab\there\"}",              /* raw control character */
        "{\"usage\":\"\xc3\x28\"}",               /* invalid UTF-8 */
        "{\"usage\":\"\xed\xa0\x80\"}",           /* UTF-8 surrogate */
        "{\"usage\":\"\xc0\xaf\"}",               /* overlong */
        "{\"usage\":1,\"usage\":2}",              /* twice */
        "{\"us\\u0061ge\":1}",                    /* an escaped top-level name */
        "{\"a\" 1}",                              /* no colon */
        "{1:2}",                                  /* a name that is not a string */
        "\xef\xbb\xbf{\"usage\":1}",              /* a BOM */
    };
    int all = 1;
    for (size_t i = 0; i != sizeof(unsure) / sizeof(unsure[0]); ++i) {
        if (scan(unsure[i], "usage", NULL, 0) != AH_JSON_SCAN_UNSURE) {
            diag("not UNSURE: %s", unsure[i]);
            all = 0;
        }
    }
    ok(all, "invalid JSON and the cases jansson might read differently are UNSURE");
    is_int(ah_json_scan_member("{\"usage\":1}\0", 12, "usage", &(const char *){NULL}, &(size_t){0}), AH_JSON_SCAN_UNSURE,
           "a NUL byte after the object");

    char deep[300];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"a\":");
    for (int i = 0; i < 70; ++i)
        deep[n++] = '[';
    for (int i = 0; i < 70; ++i)
        deep[n++] = ']';
    snprintf(deep + n, sizeof(deep) - n, "}");
    is_int(scan(deep, "usage", NULL, 0), AH_JSON_SCAN_UNSURE, "nesting deeper than 64 is UNSURE");
}

/* the differential check of one document: 1 if the scan's answer agrees with jansson's */
static int agrees(const char *doc, size_t len, const char *name)
{
    const char *v = NULL;
    size_t vlen = 0;
    int rv = ah_json_scan_member(doc, len, name, &v, &vlen);
    if (rv == AH_JSON_SCAN_UNSURE)
        return 1;
    json_t *full = json_loadb(doc, len, 0, NULL);
    if (full == NULL)
        return 0; /* vouched for a document jansson refuses */
    json_t *want = json_object_get(full, name);
    int same;
    if (rv == AH_JSON_SCAN_ABSENT) {
        same = want == NULL;
    } else {
        json_t *got = json_loadb(v, vlen, JSON_DECODE_ANY, NULL);
        same = got != NULL && want != NULL && json_equal(got, want);
        json_decref(got);
    }
    json_decref(full);
    return same;
}

/* a small deterministic generator, so a failure replays */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void mutate(char *buf, size_t *len, size_t cap)
{
    static const char alphabet[] = "{}[]\":,.-+eE0123456789 \\utrfalsn\x01\x7f\xc3\xa9\xed\xa0\xff";
    int edits = 1 + (int)rnd(3);
    for (int e = 0; e < edits && *len > 0; ++e) {
        size_t at = rnd((uint32_t)*len);
        char c = alphabet[rnd(sizeof(alphabet) - 1)];
        switch (rnd(3)) {
        case 0: /* replace */
            buf[at] = c;
            break;
        case 1: /* insert */
            if (*len + 1 < cap) {
                memmove(buf + at + 1, buf + at, *len - at);
                buf[at] = c;
                ++*len;
            }
            break;
        default: /* delete */
            memmove(buf + at, buf + at + 1, *len - at - 1);
            --*len;
        }
    }
}

static void test_differential(void)
{
    static const char *seeds[] = {
        OPENAI,
        "{\"usage\":{\"prompt_tokens\":1,\"prompt_tokens\":2},\"b\":[{},[],\"\",0,-1.5E-7]}",
        "{\"a\":\"\\n\\t\\/\\\\\",\"usage\":[1,{\"x\":null}],\"c\":123456789012345678}",
        "{\"usageMetadata\":{\"promptTokenCount\":3},\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}]}}]}",
        "{\"usage\":\"\\u00e9\\u4e16\",\"z\":1e10}",
    };
    int ok_all = 1, vouched = 0, total = 0;
    char buf[1024];
    for (size_t s = 0; s != sizeof(seeds) / sizeof(seeds[0]); ++s) {
        size_t base = strlen(seeds[s]);
        ok_all = ok_all && agrees(seeds[s], base, "usage") && agrees(seeds[s], base, "usageMetadata");
        for (int i = 0; i < 4000; ++i) {
            size_t len = base;
            memcpy(buf, seeds[s], len);
            mutate(buf, &len, sizeof(buf));
            const char *name = rnd(2) ? "usage" : "usageMetadata";
            const char *v;
            size_t vl;
            vouched += ah_json_scan_member(buf, len, name, &v, &vl) != AH_JSON_SCAN_UNSURE;
            ++total;
            if (!agrees(buf, len, name)) {
                diag("disagrees with jansson on %.*s", (int)len, buf);
                ok_all = 0;
            }
        }
    }
    ok(ok_all, "every FOUND/ABSENT on 20,000 mutated documents is what jansson reads");
    diag("%d of %d mutated documents vouched for", vouched, total);
    ok(vouched > total / 20, "the mutations exercise the vouched-for side too");
}

int main(void)
{
    test_cases();
    test_differential();
    return done_testing();
}
