/*
 * translate_api.c: the public entry points for requests, responses and
 * usage (aihub/translate.h). Each translation reads the source format into
 * the pivot (an OpenAI-shaped body; reading OpenAI is a check), checks what
 * the target cannot take, and writes the target format; same-format pairs
 * are shallow copies with the model replaced.
 */
#include <string.h>

#include "translate_internal.h"

const char *ah_format_name(ah_format_t f)
{
    switch (f) {
    case AH_FMT_OPENAI:
        return "openai";
    case AH_FMT_ANTHROPIC:
        return "anthropic";
    case AH_FMT_GEMINI:
        return "gemini";
    }
    return "?";
}

int ah_translate_is_stream(ah_format_t f, const json_t *body)
{
    return f != AH_FMT_GEMINI && json_is_true(json_object_get(body, "stream"));
}

int64_t ah_translate_max_tokens(ah_format_t f, const json_t *body)
{
    json_t *v = NULL;
    if (f == AH_FMT_GEMINI)
        v = tr_get2(tr_get2(body, "generationConfig", "generation_config"), "maxOutputTokens", "max_output_tokens");
    else if (f == AH_FMT_OPENAI && json_is_integer(json_object_get(body, "max_completion_tokens")))
        v = json_object_get(body, "max_completion_tokens");
    else
        v = json_object_get(body, "max_tokens");
    return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

static json_t *same_format(ah_format_t f, const json_t *body, const char *model)
{
    json_t *out = json_copy((json_t *)body);
    if (f != AH_FMT_GEMINI && model != NULL)
        json_object_set_new(out, "model", json_string(model));
    return out;
}

json_t *ah_translate_request(ah_format_t from, ah_format_t to, const json_t *body, const char *upstream_model,
                             const ah_translate_opts_t *opts, char *err, size_t errcap)
{
    if (err != NULL && errcap != 0)
        err[0] = '\0';
    if (!json_is_object(body))
        return tr_fail(err, errcap, "the request body must be a JSON object");
    if (from == to)
        return same_format(from, body, upstream_model);
    json_t *p;
    switch (from) {
    case AH_FMT_ANTHROPIC:
        p = tr_req_anthropic_in(body, err, errcap);
        break;
    case AH_FMT_GEMINI:
        p = tr_req_gemini_in(body, opts != NULL && opts->stream, err, errcap);
        break;
    default:
        p = json_incref((json_t *)body);
        break;
    }
    if (p == NULL)
        return NULL;
    json_t *out = NULL;
    if (to != AH_FMT_OPENAI && tr_req_openai_check(p, to, err, errcap) != 0)
        goto done;
    switch (to) {
    case AH_FMT_ANTHROPIC:
        out = tr_req_anthropic_out(p, upstream_model, opts, err, errcap);
        break;
    case AH_FMT_GEMINI:
        out = tr_req_gemini_out(p, err, errcap);
        break;
    default:
        out = tr_req_openai_out(p, upstream_model, opts, err, errcap); /* p is a pivot of ours here: changed in place */
        break;
    }
done:
    json_decref(p);
    return out;
}

static json_t *resp_in(ah_format_t f, const json_t *resp, char *err, size_t cap)
{
    switch (f) {
    case AH_FMT_ANTHROPIC:
        return tr_resp_anthropic_in(resp, err, cap);
    case AH_FMT_GEMINI:
        return tr_resp_gemini_in(resp, err, cap);
    default:
        return tr_resp_openai_in(resp, err, cap);
    }
}

json_t *ah_translate_response(ah_format_t upstream, ah_format_t client, const json_t *resp, const char *model, char *err,
                              size_t errcap)
{
    if (err != NULL && errcap != 0)
        err[0] = '\0';
    if (!json_is_object(resp))
        return tr_fail(err, errcap, "the upstream response is not a JSON object");
    if (upstream == client)
        return same_format(client, resp, model);
    json_t *p = resp_in(upstream, resp, err, errcap);
    if (p == NULL)
        return NULL;
    json_t *out;
    switch (client) {
    case AH_FMT_ANTHROPIC:
        out = tr_resp_anthropic_out(p, model, err, errcap);
        break;
    case AH_FMT_GEMINI:
        out = tr_resp_gemini_out(p, model, err, errcap);
        break;
    default:
        out = tr_resp_openai_out(p, model);
        break;
    }
    json_decref(p);
    return out;
}

const char *ah_translate_usage_member(ah_format_t f)
{
    return f == AH_FMT_GEMINI ? "usageMetadata" : "usage";
}

void ah_translate_usage_value(ah_format_t f, const json_t *usage, ah_usage_t *out)
{
    switch (f) {
    case AH_FMT_ANTHROPIC:
        tr_usage_anthropic(usage, out);
        break;
    case AH_FMT_GEMINI:
        tr_usage_gemini(usage, out);
        break;
    default:
        tr_usage_openai(usage, out);
        break;
    }
}

void ah_translate_usage(ah_format_t f, const json_t *resp, ah_usage_t *out)
{
    ah_translate_usage_value(f, json_object_get(resp, ah_translate_usage_member(f)), out);
}

static void count(ah_tokens_counter_t *c, const json_t *v)
{
    if (json_is_string(v))
        ah_tokens_counter_feed(c, json_string_value(v), json_string_length(v));
}

ah_tokens_family_t tr_family(ah_format_t f)
{
    return f == AH_FMT_ANTHROPIC ? AH_TOKENS_CLAUDE : f == AH_FMT_GEMINI ? AH_TOKENS_GEMINI : AH_TOKENS_OPENAI;
}

int64_t ah_translate_estimate_completion(ah_format_t f, const json_t *resp)
{
    ah_tokens_counter_t c;
    ah_tokens_counter_init(&c, tr_family(f));
    json_t *p = resp_in(f, resp, NULL, 0);
    json_t *msg = json_object_get(json_array_get(json_object_get(p, "choices"), 0), "message");
    count(&c, json_object_get(msg, "content"));
    count(&c, json_object_get(msg, "reasoning_content"));
    size_t i;
    json_t *call;
    json_array_foreach(json_object_get(msg, "tool_calls"), i, call)
    {
        count(&c, json_object_get(json_object_get(call, "function"), "name"));
        count(&c, json_object_get(json_object_get(call, "function"), "arguments"));
    }
    json_decref(p);
    return ah_tokens_counter_result(&c);
}
