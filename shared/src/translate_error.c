/*
 * translate_error.c: error bodies and mid-stream error events in each
 * client format, and the message of an upstream's error body whatever its
 * format. The status decides Anthropic's error type and Gemini's status
 * name, so SDKs raise the same exception class they would for the provider.
 */
#include <stdlib.h>
#include <string.h>

#include "aihub/sse.h"
#include "translate_internal.h"

const char *tr_anthropic_error_type(int status)
{
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 402:
        return "billing_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 503:
    case 529:
        return "overloaded_error";
    case 504:
        return "timeout_error";
    default:
        return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

int tr_status_from_anthropic_type(const char *type)
{
    static const struct {
        const char *type;
        int status;
    } map[] = {{"invalid_request_error", 400}, {"authentication_error", 401}, {"billing_error", 402}, {"permission_error", 403},
               {"not_found_error", 404},       {"request_too_large", 413},    {"rate_limit_error", 429}, {"api_error", 500},
               {"timeout_error", 504},         {"overloaded_error", 529}};
    for (size_t i = 0; type != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(type, map[i].type) == 0)
            return map[i].status;
    }
    return 500;
}

const char *tr_gemini_status(int status)
{
    switch (status) {
    case 400:
    case 413:
        return "INVALID_ARGUMENT";
    case 401:
        return "UNAUTHENTICATED";
    case 402:
    case 403:
        return "PERMISSION_DENIED";
    case 404:
        return "NOT_FOUND";
    case 409:
        return "ABORTED";
    case 429:
        return "RESOURCE_EXHAUSTED";
    case 499:
        return "CANCELLED";
    case 501:
        return "UNIMPLEMENTED";
    case 502:
    case 503:
    case 529:
        return "UNAVAILABLE";
    case 504:
        return "DEADLINE_EXCEEDED";
    default:
        return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
    }
}

static const char *default_openai_type(int status)
{
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 429:
        return "rate_limit_error";
    default:
        return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

/* s as valid UTF-8 (a new string, caller frees): each byte of a bad or cut sequence becomes U+FFFD */
static char *valid_utf8(const char *s)
{
    tr_buf_t b = {0};
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        int n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 4 : 0;
        int good = n != 0;
        for (int i = 1; good && i < n; i++)
            good = (p[i] & 0xc0) == 0x80;
        if (good && n == 3) /* overlong forms and surrogates */
            good = !(p[0] == 0xe0 && p[1] < 0xa0) && !(p[0] == 0xed && p[1] >= 0xa0);
        if (good && n == 4)
            good = !(p[0] == 0xf0 && p[1] < 0x90) && !(p[0] == 0xf4 && p[1] >= 0x90);
        if (good) {
            tr_buf_add(&b, (const char *)p, (size_t)n);
            p += n;
        } else {
            tr_buf_add(&b, "\xEF\xBF\xBD", 3);
            p++;
        }
    }
    tr_buf_add(&b, "", 1);
    return b.p;
}

static json_t *error_body(ah_format_t client, int status, const char *openai_type, const char *code, const char *message)
{
    switch (client) {
    case AH_FMT_ANTHROPIC:
        return json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", tr_anthropic_error_type(status), "message", message);
    case AH_FMT_GEMINI:
        /* Google's APIs answer overload with 503 (Anthropic's 529 is its own) */
        return json_pack("{s:{s:i, s:s, s:s}}", "error", "code", status == 529 ? 503 : status, "message", message, "status",
                         tr_gemini_status(status));
    default:
        return json_pack("{s:{s:s, s:s, s:o, s:n}}", "error", "message", message, "type",
                         openai_type != NULL ? openai_type : default_openai_type(status), "code",
                         code != NULL ? json_string(code) : json_null(), "param");
    }
}

json_t *ah_translate_error_body(ah_format_t client, int status, const char *openai_type, const char *code, const char *message)
{
    /* the strings may come from anywhere (an upstream, a cut message): JSON needs them valid */
    char *m = valid_utf8(message != NULL ? message : "error");
    char *t = openai_type != NULL ? valid_utf8(openai_type) : NULL, *c = code != NULL ? valid_utf8(code) : NULL;
    json_t *body = error_body(client, status, t, c, m);
    free(m), free(t), free(c);
    return body;
}

size_t ah_translate_error_event(ah_format_t client, int status, const char *openai_type, const char *code, const char *message,
                                char *out, size_t cap)
{
    json_t *body = ah_translate_error_body(client, status, openai_type, code, message);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        return 0;
    size_t n = ah_sse_format_event(out, cap, client == AH_FMT_ANTHROPIC ? "error" : NULL, text, strlen(text));
    free(text);
    return n;
}

const char *ah_translate_upstream_error_message(const json_t *body)
{
    if (json_is_array(body))
        body = json_array_get(body, 0); /* Gemini's streaming endpoint without alt=sse answers with an array */
    if (!json_is_object(body))
        return NULL;
    json_t *e = json_object_get(body, "error");
    if (json_is_string(e))
        return json_string_value(e);
    const char *m = tr_str(e, "message");
    if (m != NULL)
        return m;
    m = tr_str(body, "message");
    if (m != NULL)
        return m;
    return tr_str(body, "detail");
}
