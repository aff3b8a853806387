/*
 * translate_req_gemini_out.c: the pivot (an OpenAI Chat Completions body)
 * written as a Gemini generateContent request (no model, no stream: both
 * travel in Gemini's URL).
 *
 * System and developer messages become systemInstruction; assistant
 * messages "model" contents with text and functionCall parts; "tool"
 * messages functionResponse parts of a user content, named after the call
 * they answer, with the result as {"output": text} ({"error": text} for a
 * failed tool), as Gemini documents. Consecutive contents of one role are
 * merged, so parallel calls get their responses in one content. A function
 * call's thought signature comes back from its id (see translate.h); the
 * first call of a turn without one gets TR_SIG_SKIP. Images become
 * inlineData (data: URLs) or fileData (http URLs); tools become
 * functionDeclarations with parametersJsonSchema (JSON Schema as given);
 * JSON mode becomes responseMimeType (+ responseJsonSchema).
 */
#include <stdlib.h>
#include <string.h>

#include "translate_internal.h"

static json_t *inline_part(const char *mime, const char *data)
{
    return json_pack("{s:{s:s, s:s}}", "inlineData", "mimeType", mime, "data", data);
}

static json_t *content_part(const json_t *part, size_t i, int *skip, char *err, size_t cap)
{
    const char *type = tr_str(part, "type"), *data;
    char *mime;
    *skip = 0;
    if (type != NULL && (strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0)) {
        const char *text = tr_str(part, strcmp(type, "text") == 0 ? "text" : "refusal");
        if (text == NULL)
            return tr_fail(err, cap, "messages[%zu]: a %s part needs its text", i, type);
        *skip = *text == '\0';
        return *skip ? NULL : json_pack("{s:s}", "text", text);
    }
    if (type != NULL && strcmp(type, "image_url") == 0) {
        json_t *iu = json_object_get(part, "image_url");
        const char *url = json_is_string(iu) ? json_string_value(iu) : tr_str(iu, "url");
        if (tr_data_url_split(url, &mime, &data)) {
            json_t *p = inline_part(mime, data);
            free(mime);
            return p;
        }
        if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
            return tr_fail(err, cap, "messages[%zu]: image_url must be an http(s) or base64 data: URL", i);
        json_t *fd = json_pack("{s:s}", "fileUri", url);
        const char *guess = tr_mime_from_url(url);
        json_object_set_new(fd, "mimeType", json_string(guess != NULL ? guess : "image/jpeg"));
        return json_pack("{s:o}", "fileData", fd);
    }
    if (type != NULL && strcmp(type, "input_audio") == 0) {
        json_t *a = json_object_get(part, "input_audio");
        const char *fmt = tr_str(a, "format");
        if (tr_str(a, "data") == NULL || fmt == NULL)
            return tr_fail(err, cap, "messages[%zu]: input_audio needs data and format", i);
        return inline_part(strcmp(fmt, "wav") == 0 ? "audio/wav" : "audio/mp3", tr_str(a, "data"));
    }
    if (type != NULL && strcmp(type, "file") == 0) {
        if (tr_data_url_split(tr_str(json_object_get(part, "file"), "file_data"), &mime, &data)) {
            json_t *p = inline_part(mime, data);
            free(mime);
            return p;
        }
        return tr_fail(err, cap, "messages[%zu]: only file parts with base64 file_data can be translated for Gemini", i);
    }
    return tr_fail(err, cap, "messages[%zu]: content part type %s cannot be translated", i, type != NULL ? type : "(none)");
}

static json_t *text_part(const json_t *text)
{
    return json_pack("{s:O}", "text", text);
}

static int content_parts(json_t *arr, const json_t *content, size_t i, char *err, size_t cap)
{
    return tr_content_items(arr, content, i, text_part, content_part, err, cap);
}

/* functionCall parts of an assistant message; names recorded by id for the tool results */
static int call_parts(json_t *arr, const json_t *calls, json_t *names, size_t i, char *err, size_t cap)
{
    size_t j;
    json_t *c;
    int first = 1;
    json_array_foreach(calls, j, c)
    {
        json_t *fn = json_object_get(c, "function");
        const char *id = tr_str(c, "id"), *name = tr_str(fn, "name"), *args = tr_str(fn, "arguments"), *sig;
        if (name == NULL) {
            tr_fail(err, cap, "messages[%zu].tool_calls[%zu]: function.name is required", i, j);
            return -1;
        }
        json_error_t jerr;
        json_t *a = args != NULL && *args != '\0' ? json_loads(args, JSON_DECODE_ANY, &jerr) : json_object();
        if (!json_is_object(a)) {
            json_decref(a);
            tr_fail(err, cap, "messages[%zu].tool_calls[%zu]: function.arguments is not a JSON object", i, j);
            return -1;
        }
        json_t *part = json_pack("{s:{s:s, s:o}}", "functionCall", "name", name, "args", a);
        if (id != NULL) {
            char *bare = tr_id_split(id, &sig);
            json_object_set_new(names, bare, json_string(name));
            if (sig != NULL)
                json_object_set_new(part, "thoughtSignature", tr_sig_standard(sig));
            free(bare);
        }
        if (first && json_object_get(part, "thoughtSignature") == NULL)
            json_object_set_new(part, "thoughtSignature", json_string(TR_SIG_SKIP));
        first = 0;
        json_array_append_new(arr, part);
    }
    return 0;
}

static json_t *response_part(const json_t *m, const json_t *names, size_t i, char *err, size_t cap)
{
    const char *id = tr_str(m, "tool_call_id"), *sig;
    if (id == NULL)
        return tr_fail(err, cap, "messages[%zu]: a tool message needs tool_call_id", i);
    char *bare = tr_id_split(id, &sig);
    const char *name = tr_str(names, bare);
    free(bare);
    if (name == NULL)
        return tr_fail(err, cap, "messages[%zu]: tool_call_id %s answers no earlier tool call", i, id);
    char *text = tr_content_text(json_object_get(m, "content"));
    if (text == NULL)
        return tr_fail(err, cap, "messages[%zu]: a tool result must be text for Gemini upstreams", i);
    const char *key = json_is_true(json_object_get(m, "x_is_error")) ? "error" : "output";
    json_t *p = json_pack("{s:{s:s, s:{s:s}}}", "functionResponse", "name", name, "response", key, text);
    free(text);
    return p;
}

static void push_content(json_t *contents, const char *role, json_t *parts)
{
    size_t n = json_array_size(contents);
    json_t *last = n != 0 ? json_array_get(contents, n - 1) : NULL;
    if (json_array_size(parts) == 0)
        json_decref(parts);
    else if (last != NULL && strcmp(tr_str(last, "role"), role) == 0)
        json_array_extend(json_object_get(last, "parts"), parts), json_decref(parts);
    else
        json_array_append_new(contents, json_pack("{s:s, s:o}", "role", role, "parts", parts));
}

static int contents_out(json_t *out, const json_t *msgs, char *err, size_t cap)
{
    json_t *contents = json_array(), *sys = json_array(), *names = json_object();
    json_object_set_new(out, "contents", contents);
    size_t i;
    json_t *m;
    int rc = 0;
    json_array_foreach(msgs, i, m)
    {
        const char *role = tr_str(m, "role");
        json_t *parts = json_array();
        if (role == NULL) {
            rc = -1, tr_fail(err, cap, "messages[%zu]: role is required", i);
        } else if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
            json_t *content = json_object_get(m, "content");
            char *text = tr_content_text(content); /* only to check that it is all text */
            if (text == NULL)
                rc = -1, tr_fail(err, cap, "messages[%zu]: a %s message must be text", i, role);
            else
                rc = content_parts(sys, content, i, err, cap);
            free(text);
        } else if (strcmp(role, "user") == 0) {
            rc = content_parts(parts, json_object_get(m, "content"), i, err, cap);
            if (rc == 0)
                push_content(contents, "user", json_incref(parts));
        } else if (strcmp(role, "assistant") == 0) {
            rc = content_parts(parts, json_object_get(m, "content"), i, err, cap);
            if (rc == 0)
                rc = call_parts(parts, json_object_get(m, "tool_calls"), names, i, err, cap);
            if (rc == 0)
                push_content(contents, "model", json_incref(parts));
        } else if (strcmp(role, "tool") == 0) {
            json_t *p = response_part(m, names, i, err, cap);
            if (p == NULL) {
                rc = -1;
            } else {
                json_array_append_new(parts, p);
                push_content(contents, "user", json_incref(parts));
            }
        } else {
            rc = -1, tr_fail(err, cap, "messages[%zu]: role %s cannot be translated", i, role);
        }
        json_decref(parts);
        if (rc != 0)
            break;
    }
    if (rc == 0 && json_array_size(sys) != 0)
        json_object_set_new(out, "systemInstruction", json_pack("{s:O}", "parts", sys));
    json_decref(sys);
    json_decref(names);
    return rc;
}

static json_t *generation_config(const json_t *p)
{
    json_t *g = json_object();
    tr_copy(g, "temperature", p, "temperature");
    tr_copy(g, "topP", p, "top_p");
    tr_copy(g, "topK", p, "top_k");
    json_t *mt = json_object_get(p, "max_completion_tokens");
    tr_copy(g, "maxOutputTokens", p, json_is_integer(mt) ? "max_completion_tokens" : "max_tokens");
    json_t *stop = json_object_get(p, "stop");
    if (json_is_string(stop))
        json_object_set_new(g, "stopSequences", json_pack("[O]", stop));
    else if (json_is_array(stop) && json_array_size(stop) != 0)
        json_object_set(g, "stopSequences", stop);
    tr_copy(g, "presencePenalty", p, "presence_penalty");
    tr_copy(g, "frequencyPenalty", p, "frequency_penalty");
    tr_copy(g, "seed", p, "seed");
    json_t *rf = json_object_get(p, "response_format");
    const char *rft = tr_str(rf, "type");
    if (rft != NULL && (strcmp(rft, "json_object") == 0 || strcmp(rft, "json_schema") == 0)) {
        json_object_set_new(g, "responseMimeType", json_string("application/json"));
        tr_copy(g, "responseJsonSchema", json_object_get(rf, "json_schema"), "schema");
    }
    json_t *budget = json_object_get(p, "x_thinking_budget");
    int64_t n = json_is_integer(budget) ? json_integer_value(budget) : tr_effort_budget(tr_str(p, "reasoning_effort"));
    if (json_is_integer(budget) || n >= 0) {
        json_t *tc = json_pack("{s:I}", "thinkingBudget", (json_int_t)n);
        if (json_is_integer(budget) && n != 0)
            json_object_set_new(tc, "includeThoughts", json_true()); /* asked for by an Anthropic client, who sees thinking blocks */
        json_object_set_new(g, "thinkingConfig", tc);
    }
    return g;
}

static int tools_out(json_t *out, const json_t *p, char *err, size_t cap)
{
    json_t *tools = json_object_get(p, "tools"), *decls = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        json_t *fn = json_object_get(t, "function");
        const char *type = tr_str(t, "type"), *name = tr_str(fn, "name");
        if (type == NULL || strcmp(type, "function") != 0 || name == NULL) {
            json_decref(decls);
            tr_fail(err, cap, "tools[%zu]: only function tools can be translated", i);
            return -1;
        }
        json_t *d = json_pack("{s:s}", "name", name);
        tr_copy(d, "description", fn, "description");
        tr_copy(d, "parametersJsonSchema", fn, "parameters");
        json_array_append_new(decls, d);
    }
    if (json_array_size(decls) != 0)
        json_object_set_new(out, "tools", json_pack("[{s:o}]", "functionDeclarations", decls));
    else
        json_decref(decls);
    json_t *tc = json_object_get(p, "tool_choice");
    const char *s = json_string_value(tc), *fname = tr_str(json_object_get(tc, "function"), "name");
    json_t *fcc = NULL;
    if (s != NULL && strcmp(s, "auto") == 0)
        fcc = json_pack("{s:s}", "mode", "AUTO");
    else if (s != NULL && strcmp(s, "none") == 0)
        fcc = json_pack("{s:s}", "mode", "NONE");
    else if (s != NULL && strcmp(s, "required") == 0)
        fcc = json_pack("{s:s}", "mode", "ANY");
    else if (fname != NULL)
        fcc = json_pack("{s:s, s:[s]}", "mode", "ANY", "allowedFunctionNames", fname);
    else if (tr_present(tc)) {
        tr_fail(err, cap, "tool_choice cannot be translated for Gemini upstreams");
        return -1;
    }
    if (fcc != NULL)
        json_object_set_new(out, "toolConfig", json_pack("{s:o}", "functionCallingConfig", fcc));
    return 0;
}

json_t *tr_req_gemini_out(const json_t *p, char *err, size_t cap)
{
    json_t *out = json_object();
    if (contents_out(out, json_object_get(p, "messages"), err, cap) != 0 || tools_out(out, p, err, cap) != 0) {
        json_decref(out);
        return NULL;
    }
    json_t *g = generation_config(p);
    if (json_object_size(g) != 0)
        json_object_set_new(out, "generationConfig", g);
    else
        json_decref(g);
    return out;
}
