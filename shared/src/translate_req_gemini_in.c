/*
 * translate_req_gemini_in.c: a Gemini generateContent request read into the
 * pivot (an OpenAI Chat Completions body). Both spellings of Gemini's JSON
 * names are read (generationConfig and generation_config).
 *
 * contents with role "model" become assistant messages, functionCall parts
 * their tool_calls (ids from the part's id, else call_<n> in order);
 * functionResponse parts become "tool" messages answering the first
 * unanswered call of that name (or the call with their id), with the
 * response object as JSON text (a lone "output", "content" or "result"
 * string gives just the text).
 * inlineData becomes image_url data: URLs (images), input_audio (wav, mp3)
 * or file parts (anything else); fileData of an image becomes an image_url
 * URL. Thought parts of earlier turns and safetySettings are left out;
 * candidateCount > 1, logprobs, cachedContent, tools other than function
 * declarations, executable code parts and non-text output are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "translate_internal.h"

/* function calls of the conversation so far, for matching responses to calls */
typedef struct {
    json_t *ids;      /* array of ids, in order */
    json_t *names;    /* array of names, same order */
    json_t *answered; /* array of booleans */
} calls_t;

static json_t *part_inline(const json_t *d, size_t i, char *err, size_t cap)
{
    const char *mime = tr_get2(d, "mimeType", "mime_type") != NULL ? json_string_value(tr_get2(d, "mimeType", "mime_type")) : NULL;
    const char *data = tr_str(d, "data");
    if (mime == NULL || data == NULL)
        return tr_fail(err, cap, "contents[%zu]: inlineData needs mimeType and data", i);
    if (strncmp(mime, "image/", 6) == 0)
        return json_pack("{s:s, s:{s:o}}", "type", "image_url", "image_url", "url", tr_data_url(mime, data));
    if (strcmp(mime, "audio/wav") == 0 || strcmp(mime, "audio/mp3") == 0 || strcmp(mime, "audio/mpeg") == 0)
        return json_pack("{s:s, s:{s:s, s:s}}", "type", "input_audio", "input_audio", "data", data, "format",
                         strcmp(mime, "audio/wav") == 0 ? "wav" : "mp3");
    return json_pack("{s:s, s:{s:o, s:s}}", "type", "file", "file", "file_data", tr_data_url(mime, data), "filename",
                     strcmp(mime, "application/pdf") == 0 ? "document.pdf" : "file");
}

static json_t *part_file(const json_t *d, size_t i, char *err, size_t cap)
{
    const char *uri = json_string_value(tr_get2(d, "fileUri", "file_uri"));
    const char *mime = json_string_value(tr_get2(d, "mimeType", "mime_type"));
    if (mime == NULL)
        mime = tr_mime_from_url(uri);
    if (uri == NULL || mime == NULL || strncmp(mime, "image/", 6) != 0)
        return tr_fail(err, cap, "contents[%zu]: only fileData of images can be translated", i);
    return json_pack("{s:s, s:{s:s}}", "type", "image_url", "image_url", "url", uri);
}

static json_t *tool_message(const json_t *fr, calls_t *calls, size_t i, char *err, size_t cap)
{
    const char *name = tr_str(fr, "name"), *id = tr_str(fr, "id");
    if (name == NULL)
        return tr_fail(err, cap, "contents[%zu]: functionResponse needs a name", i);
    size_t k, n = json_array_size(calls->ids);
    for (k = 0; k < n; k++) {
        if (json_is_true(json_array_get(calls->answered, k)))
            continue;
        if (id != NULL ? strcmp(json_string_value(json_array_get(calls->ids, k)), id) == 0
                       : strcmp(json_string_value(json_array_get(calls->names, k)), name) == 0)
            break;
    }
    if (k == n)
        return tr_fail(err, cap, "contents[%zu]: functionResponse %s answers no earlier functionCall", i, name);
    json_array_set_new(calls->answered, k, json_true());
    json_t *resp = json_object_get(fr, "response");
    char *text;
    json_t *only = json_object_size(resp) == 1 ? json_object_iter_value(json_object_iter(resp)) : NULL;
    const char *key = only != NULL ? json_object_iter_key(json_object_iter(resp)) : "";
    if (json_is_string(only) && (strcmp(key, "output") == 0 || strcmp(key, "content") == 0 || strcmp(key, "result") == 0))
        text = tr_strdup(json_string_value(only));
    else
        text = resp != NULL ? json_dumps(resp, JSON_COMPACT | JSON_ENCODE_ANY) : tr_strdup("");
    json_t *m = json_pack("{s:s, s:O, s:s}", "role", "tool", "tool_call_id", json_array_get(calls->ids, k), "content",
                          text != NULL ? text : "");
    free(text);
    return m;
}

static int is_thought(const json_t *part)
{
    return json_is_true(json_object_get(part, "thought"));
}

/* a user (or function) turn: function responses as tool messages, the rest as one user message */
static int user_turn(json_t *msgs, const json_t *parts, calls_t *calls, size_t i, char *err, size_t cap)
{
    json_t *out = json_array();
    size_t j;
    json_t *part, *v;
    json_array_foreach(parts, j, part)
    {
        json_t *p = NULL;
        if ((v = json_object_get(part, "text")) != NULL && json_is_string(v)) {
            if (is_thought(part))
                continue;
            p = json_pack("{s:s, s:O}", "type", "text", "text", v);
        } else if ((v = tr_get2(part, "inlineData", "inline_data")) != NULL) {
            p = part_inline(v, i, err, cap);
        } else if ((v = tr_get2(part, "fileData", "file_data")) != NULL) {
            p = part_file(v, i, err, cap);
        } else if ((v = tr_get2(part, "functionResponse", "function_response")) != NULL) {
            json_t *m = tool_message(v, calls, i, err, cap);
            if (m == NULL)
                goto fail;
            json_array_append_new(msgs, m);
            continue;
        } else {
            tr_fail(err, cap, "contents[%zu].parts[%zu]: this kind of part cannot be translated", i, j);
        }
        if (p == NULL)
            goto fail;
        json_array_append_new(out, p);
    }
    if (json_array_size(out) == 1 && json_is_string(json_object_get(json_array_get(out, 0), "text")))
        json_array_append_new(msgs, json_pack("{s:s, s:O}", "role", "user", "content", json_object_get(json_array_get(out, 0), "text")));
    else if (json_array_size(out) != 0)
        json_array_append_new(msgs, json_pack("{s:s, s:O}", "role", "user", "content", out));
    json_decref(out);
    return 0;
fail:
    json_decref(out);
    return -1;
}

static int model_turn(json_t *msgs, const json_t *parts, calls_t *calls, size_t i, char *err, size_t cap)
{
    tr_buf_t text = {0};
    json_t *tc = json_array();
    size_t j;
    json_t *part, *v;
    json_array_foreach(parts, j, part)
    {
        if ((v = json_object_get(part, "text")) != NULL && json_is_string(v)) {
            if (!is_thought(part))
                tr_buf_add(&text, json_string_value(v), json_string_length(v));
        } else if ((v = tr_get2(part, "functionCall", "function_call")) != NULL) {
            const char *name = tr_str(v, "name");
            json_t *args = json_object_get(v, "args");
            if (name == NULL) {
                tr_fail(err, cap, "contents[%zu].parts[%zu]: functionCall needs a name", i, j);
                goto fail;
            }
            char idbuf[32];
            snprintf(idbuf, sizeof(idbuf), "call_%zu", json_array_size(calls->ids));
            const char *id = tr_str(v, "id") != NULL ? tr_str(v, "id") : idbuf;
            char *a = args != NULL ? json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY) : tr_strdup("{}");
            json_array_append_new(tc, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function", "function", "name", name,
                                                "arguments", a != NULL ? a : "{}"));
            free(a);
            json_array_append_new(calls->ids, json_string(id));
            json_array_append_new(calls->names, json_string(name));
            json_array_append_new(calls->answered, json_false());
        } else if (json_object_size(part) == 1 && tr_get2(part, "thoughtSignature", "thought_signature") != NULL) {
            continue; /* a signature alone: only Gemini reads it */
        } else {
            tr_fail(err, cap, "contents[%zu].parts[%zu]: this kind of model part cannot be translated", i, j);
            goto fail;
        }
    }
    json_t *m = json_pack("{s:s}", "role", "assistant");
    tr_buf_add(&text, "", 1);
    json_object_set_new(m, "content", text.len > 1 || json_array_size(tc) == 0 ? json_string(text.p) : json_null());
    if (json_array_size(tc) != 0)
        json_object_set(m, "tool_calls", tc);
    json_array_append_new(msgs, m);
    json_decref(tc);
    tr_buf_free(&text);
    return 0;
fail:
    json_decref(tc);
    tr_buf_free(&text);
    return -1;
}

static json_t *system_message(const json_t *si, char *err, size_t cap)
{
    if (json_is_string(si))
        return json_pack("{s:s, s:O}", "role", "system", "content", si);
    json_t *parts = json_object_get(si, "parts"), *out = json_array();
    size_t j;
    json_t *part;
    json_array_foreach(parts, j, part)
    {
        const char *text = tr_str(part, "text");
        if (text == NULL) {
            json_decref(out);
            return tr_fail(err, cap, "systemInstruction.parts[%zu]: only text can be translated", j);
        }
        json_array_append_new(out, json_pack("{s:s, s:s}", "type", "text", "text", text));
    }
    json_t *m = json_array_size(out) == 1 ? json_pack("{s:s, s:O}", "role", "system", "content", json_object_get(json_array_get(out, 0), "text"))
                                          : json_pack("{s:s, s:O}", "role", "system", "content", out);
    json_decref(out);
    return m;
}

static int tools_in(json_t *p, const json_t *tools, const json_t *tcfg, char *err, size_t cap)
{
    json_t *out = json_array();
    json_object_set_new(p, "tools", out);
    size_t i, j;
    json_t *t, *fd;
    json_array_foreach(tools, i, t)
    {
        json_t *decls = tr_get2(t, "functionDeclarations", "function_declarations");
        if (decls == NULL || json_object_size(t) != 1) {
            tr_fail(err, cap, "tools[%zu]: only functionDeclarations can be translated", i);
            return -1;
        }
        json_array_foreach(decls, j, fd)
        {
            const char *name = tr_str(fd, "name");
            if (name == NULL) {
                tr_fail(err, cap, "tools[%zu].functionDeclarations[%zu]: a name is required", i, j);
                return -1;
            }
            json_t *fn = json_pack("{s:s}", "name", name);
            tr_copy(fn, "description", fd, "description");
            json_t *js = tr_get2(fd, "parametersJsonSchema", "parameters_json_schema"), *ps = json_object_get(fd, "parameters");
            if (js != NULL)
                json_object_set(fn, "parameters", js);
            else if (ps != NULL)
                json_object_set_new(fn, "parameters", tr_schema_from_gemini(ps));
            json_array_append_new(out, json_pack("{s:s, s:o}", "type", "function", "function", fn));
        }
    }
    json_t *fcc = tr_get2(tcfg, "functionCallingConfig", "function_calling_config");
    const char *mode = tr_str(fcc, "mode");
    json_t *allowed = tr_get2(fcc, "allowedFunctionNames", "allowed_function_names");
    if (mode == NULL || strcmp(mode, "AUTO") == 0 || strcmp(mode, "MODE_UNSPECIFIED") == 0)
        return 0;
    if (strcmp(mode, "NONE") == 0) {
        json_object_set_new(p, "tool_choice", json_string("none"));
    } else if (strcmp(mode, "ANY") == 0 && json_array_size(allowed) == 1 && json_is_string(json_array_get(allowed, 0))) {
        json_object_set_new(p, "tool_choice", json_pack("{s:s, s:{s:O}}", "type", "function", "function", "name", json_array_get(allowed, 0)));
    } else if (strcmp(mode, "ANY") == 0 && json_array_size(allowed) == 0) {
        json_object_set_new(p, "tool_choice", json_string("required"));
    } else {
        tr_fail(err, cap, "functionCallingConfig mode %s (with these allowedFunctionNames) cannot be translated", mode);
        return -1;
    }
    return 0;
}

static int generation_config(json_t *p, const json_t *g, char *err, size_t cap)
{
    static const struct {
        const char *camel, *snake, *pivot;
    } same[] = {{"temperature", "temperature", "temperature"},
                {"topP", "top_p", "top_p"},
                {"topK", "top_k", "top_k"},
                {"maxOutputTokens", "max_output_tokens", "max_tokens"},
                {"stopSequences", "stop_sequences", "stop"},
                {"presencePenalty", "presence_penalty", "presence_penalty"},
                {"frequencyPenalty", "frequency_penalty", "frequency_penalty"},
                {"seed", "seed", "seed"}};
    for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++) {
        json_t *v = tr_get2(g, same[k].camel, same[k].snake);
        if (tr_present(v))
            json_object_set(p, same[k].pivot, v);
    }
    json_t *cc = tr_get2(g, "candidateCount", "candidate_count");
    if (tr_present(cc) && (!json_is_integer(cc) || json_integer_value(cc) != 1)) {
        tr_fail(err, cap, "candidateCount other than 1 cannot be translated");
        return -1;
    }
    if (json_is_true(tr_get2(g, "responseLogprobs", "response_logprobs")) || tr_present(json_object_get(g, "logprobs"))) {
        tr_fail(err, cap, "logprobs cannot be translated");
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(tr_get2(g, "responseModalities", "response_modalities"), i, v)
    {
        if (!json_is_string(v) || strcasecmp(json_string_value(v), "TEXT") != 0) {
            tr_fail(err, cap, "responseModalities other than TEXT cannot be translated");
            return -1;
        }
    }
    if (tr_present(tr_get2(g, "speechConfig", "speech_config"))) {
        tr_fail(err, cap, "speechConfig cannot be translated");
        return -1;
    }
    const char *rmt = json_string_value(tr_get2(g, "responseMimeType", "response_mime_type"));
    json_t *js = tr_get2(g, "responseJsonSchema", "response_json_schema"), *rs = tr_get2(g, "responseSchema", "response_schema");
    if (rmt != NULL && strcmp(rmt, "application/json") == 0) {
        if (js != NULL || rs != NULL)
            json_object_set_new(p, "response_format", json_pack("{s:s, s:{s:s, s:o}}", "type", "json_schema", "json_schema", "name",
                                                                "response", "schema",
                                                                js != NULL ? json_incref(js) : tr_schema_from_gemini(rs)));
        else
            json_object_set_new(p, "response_format", json_pack("{s:s}", "type", "json_object"));
    } else if (rmt != NULL && strcmp(rmt, "text/plain") != 0) {
        tr_fail(err, cap, "responseMimeType %s cannot be translated", rmt);
        return -1;
    }
    json_t *tc = tr_get2(g, "thinkingConfig", "thinking_config");
    json_t *budget = tr_get2(tc, "thinkingBudget", "thinking_budget");
    const char *level = json_string_value(tr_get2(tc, "thinkingLevel", "thinking_level"));
    if (json_is_integer(budget))
        json_object_set(p, "x_thinking_budget", budget);
    else if (level != NULL) {
        char lower[16];
        snprintf(lower, sizeof(lower), "%s", level);
        for (char *c = lower; *c != '\0'; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        json_object_set_new(p, "reasoning_effort", json_string(lower));
    }
    return 0;
}

json_t *tr_req_gemini_in(const json_t *b, int stream, char *err, size_t cap)
{
    if (!json_is_object(b))
        return tr_fail(err, cap, "the request body must be a JSON object");
    json_t *contents = json_object_get(b, "contents");
    if (!json_is_array(contents))
        return tr_fail(err, cap, "contents must be an array");
    if (tr_present(tr_get2(b, "cachedContent", "cached_content")))
        return tr_fail(err, cap, "cachedContent refers to a Gemini cache and cannot be translated");
    calls_t calls = {json_array(), json_array(), json_array()};
    json_t *p = json_object(), *msgs = json_array();
    json_object_set_new(p, "messages", msgs);
    json_t *si = tr_get2(b, "systemInstruction", "system_instruction");
    if (tr_present(si)) {
        json_t *m = system_message(si, err, cap);
        if (m == NULL)
            goto fail;
        json_array_append_new(msgs, m);
    }
    size_t i;
    json_t *c;
    json_array_foreach(contents, i, c)
    {
        const char *role = tr_str(c, "role");
        json_t *parts = json_object_get(c, "parts");
        if (!json_is_array(parts)) {
            tr_fail(err, cap, "contents[%zu]: parts must be an array", i);
            goto fail;
        }
        int rc;
        if (role == NULL || strcmp(role, "user") == 0 || strcmp(role, "function") == 0)
            rc = user_turn(msgs, parts, &calls, i, err, cap);
        else if (strcmp(role, "model") == 0)
            rc = model_turn(msgs, parts, &calls, i, err, cap);
        else
            rc = -1, tr_fail(err, cap, "contents[%zu]: role must be user or model", i);
        if (rc != 0)
            goto fail;
    }
    json_t *g = tr_get2(b, "generationConfig", "generation_config");
    if (json_is_object(g) && generation_config(p, g, err, cap) != 0)
        goto fail;
    json_t *tools = json_object_get(b, "tools");
    if (json_array_size(tools) != 0 && tools_in(p, tools, tr_get2(b, "toolConfig", "tool_config"), err, cap) != 0)
        goto fail;
    if (stream)
        json_object_set_new(p, "stream", json_true());
    json_decref(calls.ids), json_decref(calls.names), json_decref(calls.answered);
    return p;
fail:
    json_decref(calls.ids), json_decref(calls.names), json_decref(calls.answered);
    json_decref(p);
    return NULL;
}
