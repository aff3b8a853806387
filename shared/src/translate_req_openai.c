/*
 * translate_req_openai.c: the OpenAI side of request translation. An OpenAI
 * request already is the pivot, so reading one is a check: what no other
 * format can carry is refused here, once, for every target (n > 1,
 * logprobs, logit_bias, audio output, predicted outputs, the legacy
 * functions API, web search options; for Anthropic also JSON mode,
 * penalties and seed). Writing one from the pivot maps the pivot's own
 * members (x_thinking_budget, x_is_error) to OpenAI fields and removes them.
 */
#include <stdlib.h>
#include <string.h>

#include "translate_internal.h"

/* a number other than 0 (penalties are refused only when they would change sampling) */
static int nonzero(const json_t *v)
{
    return json_is_number(v) && json_number_value(v) != 0.0;
}

int tr_req_openai_check(const json_t *b, ah_format_t to, char *err, size_t cap)
{
    const char *up = to == AH_FMT_ANTHROPIC ? "Anthropic" : "Gemini";
    if (!json_is_object(b)) {
        tr_fail(err, cap, "the request body must be a JSON object");
        return -1;
    }
    if (!json_is_array(json_object_get(b, "messages"))) {
        tr_fail(err, cap, "messages must be an array");
        return -1;
    }
    json_t *n = json_object_get(b, "n");
    if (tr_present(n) && (!json_is_integer(n) || json_integer_value(n) != 1)) {
        tr_fail(err, cap, "n other than 1 is not supported by %s upstreams", up);
        return -1;
    }
    if (json_is_true(json_object_get(b, "logprobs")) || tr_present(json_object_get(b, "top_logprobs"))) {
        tr_fail(err, cap, "logprobs are not supported by %s upstreams", up);
        return -1;
    }
    json_t *bias = json_object_get(b, "logit_bias");
    if (json_is_object(bias) && json_object_size(bias) != 0) {
        tr_fail(err, cap, "logit_bias is not supported by %s upstreams", up);
        return -1;
    }
    if (tr_present(json_object_get(b, "audio"))) {
        tr_fail(err, cap, "audio output is not supported by %s upstreams", up);
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(b, "modalities"), i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), "text") != 0) {
            tr_fail(err, cap, "modality %s is not supported by %s upstreams", json_string_value(v), up);
            return -1;
        }
    }
    if (tr_present(json_object_get(b, "prediction"))) {
        tr_fail(err, cap, "prediction (predicted outputs) is not supported by %s upstreams", up);
        return -1;
    }
    if (tr_present(json_object_get(b, "functions")) || tr_present(json_object_get(b, "function_call"))) {
        tr_fail(err, cap, "the legacy functions/function_call parameters cannot be translated; use tools and tool_choice");
        return -1;
    }
    if (tr_present(json_object_get(b, "web_search_options"))) {
        tr_fail(err, cap, "web_search_options is not supported by %s upstreams", up);
        return -1;
    }
    if (to != AH_FMT_ANTHROPIC)
        return 0;
    const char *rf = tr_str(json_object_get(b, "response_format"), "type");
    if (rf != NULL && strcmp(rf, "text") != 0) {
        tr_fail(err, cap, "response_format %s is not supported by Anthropic upstreams", rf);
        return -1;
    }
    if (nonzero(json_object_get(b, "presence_penalty")) || nonzero(json_object_get(b, "frequency_penalty"))) {
        tr_fail(err, cap, "presence_penalty and frequency_penalty are not supported by Anthropic upstreams");
        return -1;
    }
    if (tr_present(json_object_get(b, "seed"))) {
        tr_fail(err, cap, "seed is not supported by Anthropic upstreams");
        return -1;
    }
    return 0;
}

/* a tool call id without a Gemini thought signature (OpenAI caps ids at 40 characters) */
static void strip_sig(json_t *obj, const char *key)
{
    const char *id = tr_str(obj, key), *sig;
    if (id == NULL || strstr(id, TR_SIG_SEP) == NULL)
        return;
    char *s = tr_id_split(id, &sig);
    json_object_set_new(obj, key, json_string(s));
    free(s);
}

json_t *tr_req_openai_out(const json_t *pc, const char *model, const ah_translate_opts_t *o, char *err, size_t cap)
{
    json_t *p = (json_t *)pc; /* the pivot is ours: changed in place */
    json_object_set_new(p, "model", json_string(model != NULL ? model : ""));
    if (json_is_true(json_object_get(p, "stream")))
        json_object_set_new(p, "stream_options", json_pack("{s:b}", "include_usage", 1));
    else
        json_object_del(p, "stream");
    json_t *mt = json_object_get(p, "max_tokens");
    if (mt != NULL && o != NULL && o->openai_max_completion_tokens) {
        json_object_set(p, "max_completion_tokens", mt);
        json_object_del(p, "max_tokens");
    }
    json_t *budget = json_object_get(p, "x_thinking_budget");
    if (json_is_integer(budget) && json_integer_value(budget) > 0 && json_object_get(p, "reasoning_effort") == NULL) {
        json_int_t n = json_integer_value(budget);
        json_object_set_new(p, "reasoning_effort", json_string(tr_budget_effort(n)));
    }
    json_object_del(p, "x_thinking_budget");
    size_t i, j;
    json_t *m, *call;
    json_array_foreach(json_object_get(p, "messages"), i, m)
    {
        json_array_foreach(json_object_get(m, "tool_calls"), j, call) strip_sig(call, "id");
        strip_sig(m, "tool_call_id");
        if (json_is_true(json_object_get(m, "x_is_error"))) {
            char *text = tr_content_text(json_object_get(m, "content"));
            if (text == NULL)
                return tr_fail(err, cap, "messages[%zu]: a tool result must be text for OpenAI upstreams", i);
            tr_buf_t b = {0};
            tr_buf_add(&b, "Error: ", 7);
            tr_buf_add(&b, text, strlen(text) + 1);
            json_object_set_new(m, "content", json_string(b.p));
            tr_buf_free(&b);
            free(text);
        }
        json_object_del(m, "x_is_error");
    }
    return json_incref(p);
}
