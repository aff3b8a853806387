/*
 * translate_resp_gemini.c: non-streaming Gemini responses read into the
 * pivot (an OpenAI chat.completion) and written from it.
 *
 * Only the first candidate is read (requests ask for one). Thought parts
 * become reasoning_content; functionCall parts tool_calls, with the part's
 * id or a new call_<random> one, and the thoughtSignature appended
 * (TR_SIG_SEP) so it can go back to Gemini with the conversation. A turn
 * that ends in function calls finishes with "tool_calls" (Gemini says
 * STOP). A prompt blocked before any candidate gives an empty answer that
 * finished with content_filter. Generated images and code execution parts
 * have no OpenAI form and are refused.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "translate_internal.h"

json_t *tr_resp_gemini_in(const json_t *r, char *err, size_t cap)
{
    if (!json_is_object(r))
        return tr_fail(err, cap, "the upstream response is not a JSON object");
    json_t *cand = json_array_get(json_object_get(r, "candidates"), 0);
    json_t *parts = json_object_get(json_object_get(cand, "content"), "parts");
    if (cand == NULL && json_object_get(r, "promptFeedback") == NULL)
        return tr_fail(err, cap, "the upstream response has no candidates");
    if (parts != NULL && !json_is_array(parts))
        return tr_fail(err, cap, "the upstream response's parts are not an array");
    tr_buf_t text = {0}, reasoning = {0};
    json_t *calls = json_array();
    const char *rid = tr_str(r, "responseId");
    size_t i;
    json_t *part, *v;
    json_array_foreach(parts, i, part)
    {
        if ((v = json_object_get(part, "text")) != NULL && json_is_string(v)) {
            tr_buf_add(json_is_true(json_object_get(part, "thought")) ? &reasoning : &text, json_string_value(v), json_string_length(v));
        } else if ((v = json_object_get(part, "functionCall")) != NULL && tr_str(v, "name") != NULL) {
            json_t *args = json_object_get(v, "args");
            char *a = args != NULL ? json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY) : tr_strdup("{}");
            json_t *id = tr_str(v, "id") != NULL ? json_string(tr_str(v, "id")) : tr_new_id("call_");
            const char *sig = tr_str(part, "thoughtSignature");
            if (sig != NULL) {
                json_t *with = tr_id_with_sig(json_string_value(id), sig);
                json_decref(id);
                id = with;
            }
            json_array_append_new(calls, json_pack("{s:o, s:s, s:{s:s, s:s}}", "id", id, "type", "function", "function", "name",
                                                   tr_str(v, "name"), "arguments", a != NULL ? a : "{}"));
            free(a);
        } else if (json_object_size(part) == 1 && json_object_get(part, "thoughtSignature") != NULL) {
            continue;
        } else {
            tr_buf_free(&text), tr_buf_free(&reasoning), json_decref(calls);
            return tr_fail(err, cap, "the upstream response's parts[%zu] cannot be translated", i);
        }
    }
    tr_buf_add(&text, "", 1);
    json_t *msg = json_pack("{s:s, s:s}", "role", "assistant", "content", text.p);
    if (reasoning.len != 0) {
        tr_buf_add(&reasoning, "", 1);
        json_object_set_new(msg, "reasoning_content", json_string(reasoning.p));
    }
    const char *finish = tr_finish_from_gemini(tr_str(cand, "finishReason"));
    if (cand == NULL)
        finish = "content_filter"; /* promptFeedback.blockReason: the prompt was blocked */
    if (json_array_size(calls) != 0) {
        json_object_set(msg, "tool_calls", calls);
        if (text.len == 1)
            json_object_set_new(msg, "content", json_null());
        if (finish == NULL || strcmp(finish, "stop") == 0)
            finish = "tool_calls";
    }
    tr_buf_free(&text), tr_buf_free(&reasoning), json_decref(calls);
    ah_usage_t u;
    tr_usage_gemini(json_object_get(r, "usageMetadata"), &u);
    json_t *id = rid != NULL ? json_string(rid) : tr_new_id("chatcmpl-");
    json_t *p = json_pack("{s:o, s:s, s:I, s:s, s:[{s:i, s:o, s:s?}]}", "id", id, "object", "chat.completion", "created",
                          (json_int_t)time(NULL), "model", tr_str(r, "modelVersion") != NULL ? tr_str(r, "modelVersion") : "",
                          "choices", "index", 0, "message", msg, "finish_reason", finish);
    if (u.present)
        json_object_set_new(p, "usage", tr_usage_to_openai(&u));
    return p;
}

json_t *tr_resp_gemini_out(const json_t *p, const char *model, char *err, size_t cap)
{
    json_t *choice = json_array_get(json_object_get(p, "choices"), 0), *msg = json_object_get(choice, "message");
    json_t *parts = json_array();
    const char *reasoning = tr_str(msg, "reasoning_content"), *text = tr_str(msg, "content");
    if (reasoning != NULL && *reasoning != '\0')
        json_array_append_new(parts, json_pack("{s:s, s:b}", "text", reasoning, "thought", 1));
    if (text == NULL)
        text = tr_str(msg, "refusal");
    if (text != NULL && *text != '\0')
        json_array_append_new(parts, json_pack("{s:s}", "text", text));
    size_t i;
    json_t *call;
    json_array_foreach(json_object_get(msg, "tool_calls"), i, call)
    {
        json_t *fn = json_object_get(call, "function");
        const char *args = tr_str(fn, "arguments");
        json_error_t jerr;
        json_t *a = args != NULL && *args != '\0' ? json_loads(args, JSON_DECODE_ANY, &jerr) : json_object();
        if (!json_is_object(a)) {
            json_decref(a), json_decref(parts);
            return tr_fail(err, cap, "the upstream's tool call arguments are not a JSON object");
        }
        json_t *fc = json_pack("{s:s, s:o}", "name", tr_str(fn, "name"), "args", a);
        tr_copy(fc, "id", call, "id");
        json_array_append_new(parts, json_pack("{s:o}", "functionCall", fc));
    }
    if (json_array_size(parts) == 0)
        json_array_append_new(parts, json_pack("{s:s}", "text", ""));
    ah_usage_t u;
    tr_usage_openai(json_object_get(p, "usage"), &u);
    json_t *r = json_pack("{s:[{s:{s:s, s:o}, s:s, s:i}]}", "candidates", "content", "role", "model", "parts", parts, "finishReason",
                          tr_finish_to_gemini(tr_str(choice, "finish_reason")), "index", 0);
    if (u.present)
        json_object_set_new(r, "usageMetadata", tr_usage_to_gemini(&u));
    const char *mv = model != NULL ? model : tr_str(p, "model");
    json_object_set_new(r, "modelVersion", json_string(mv != NULL ? mv : ""));
    tr_copy(r, "responseId", p, "id");
    return r;
}
