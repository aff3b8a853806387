/*
 * translate_stream_gemini.c: Gemini streamGenerateContent (alt=sse) streams,
 * read from an upstream and written for a client.
 *
 * Reading: every event is a whole GenerateContentResponse. The first
 * candidate's parts give text, reasoning (thought parts) and function
 * calls; Gemini sends each call whole, so it becomes a tool call start and
 * its args as one piece of arguments (ids: the call's id or a new one, with
 * the thoughtSignature appended as in non-streaming answers). usageMetadata
 * is cumulative: the last one wins. finishReason ends the answer (STOP
 * after function calls becomes tool_calls); a prompt blocked before any
 * candidate finishes with content_filter. Gemini has no terminal event: the
 * stream ends with ah_translate_stream_end. {"error": {...}} is an upstream
 * error; generated images and code execution parts cannot be translated.
 *
 * Writing: one event per text or reasoning piece; a tool call's argument
 * pieces are gathered until the call is complete (the next text, the
 * finish, or the end) and sent as whole functionCall parts; the end sends
 * a last event with finishReason and usageMetadata.
 */
#include <stdlib.h>
#include <string.h>

#include "translate_internal.h"

static int deliver_call(ah_translate_stream_t *t, const json_t *part, const json_t *fc, ah_translate_emit_cb emit, void *ud)
{
    const char *name = tr_str(fc, "name"), *sig = tr_str(part, "thoughtSignature");
    json_t *args = json_object_get(fc, "args");
    if (name == NULL || (args != NULL && !json_is_object(args)) || t->ntools >= TR_MAX_INDEX)
        return tr_stream_fail(t, "upstream chunk: functionCall needs a name and object args");
    json_t *id = tr_str(fc, "id") != NULL ? json_string(tr_str(fc, "id")) : tr_new_id("call_");
    if (sig != NULL) {
        json_t *with = tr_id_with_sig(json_string_value(id), sig);
        json_decref(id);
        id = with;
    }
    int k = t->ntools++;
    tr_delta_t d = {.kind = TR_TOOL_START, .index = k, .id = json_string_value(id), .name = name};
    int rc = tr_deliver(t, &d, emit, ud);
    json_decref(id);
    if (rc != 0)
        return rc;
    char *s = args != NULL ? json_dumps(args, JSON_COMPACT) : tr_strdup("{}");
    tr_delta_t a = {.kind = TR_TOOL_ARGS, .index = k, .text = s, .len = strlen(s)};
    rc = tr_deliver(t, &a, emit, ud);
    free(s);
    return rc;
}

static int deliver_parts(ah_translate_stream_t *t, const json_t *parts, ah_translate_emit_cb emit, void *ud)
{
    size_t i;
    json_t *part, *v;
    json_array_foreach(parts, i, part)
    {
        int rc = 0;
        if (!json_is_object(part))
            return tr_stream_fail(t, "upstream chunk: parts[%zu] is not an object", i);
        if ((v = json_object_get(part, "text")) != NULL) {
            if (!json_is_string(v))
                return tr_stream_fail(t, "upstream chunk: parts[%zu].text is not a string", i);
            if (json_string_length(v) != 0) {
                tr_delta_t d = {.kind = json_is_true(json_object_get(part, "thought")) ? TR_REASONING : TR_TEXT,
                                .text = json_string_value(v),
                                .len = json_string_length(v)};
                rc = tr_deliver(t, &d, emit, ud);
            }
        } else if ((v = json_object_get(part, "functionCall")) != NULL) {
            if (!json_is_object(v))
                return tr_stream_fail(t, "upstream chunk: parts[%zu].functionCall is not an object", i);
            rc = deliver_call(t, part, v, emit, ud);
        } else if (json_object_get(part, "inlineData") != NULL || json_object_get(part, "executableCode") != NULL ||
                   json_object_get(part, "codeExecutionResult") != NULL) {
            return tr_stream_fail(t, "upstream chunk: parts[%zu] holds generated data or code that cannot be translated", i);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int decode(ah_translate_stream_t *t, const json_t *v, ah_translate_emit_cb emit, void *ud)
{
    json_t *e = json_object_get(v, "error");
    if (json_is_object(e)) {
        json_t *code = json_object_get(e, "code");
        const char *m = tr_str(e, "message");
        int status = json_is_integer(code) && json_integer_value(code) >= 400 && json_integer_value(code) < 600 ? (int)json_integer_value(code) : 500;
        return tr_upstream_error(t, status, m != NULL ? m : "upstream error", emit, ud);
    }
    tr_stream_set_id(t, tr_str(v, "responseId"));
    json_t *um = json_object_get(v, "usageMetadata");
    if (um != NULL && !json_is_object(um))
        return tr_stream_fail(t, "upstream chunk: usageMetadata is not an object");
    if (um != NULL)
        tr_usage_gemini(um, &t->usage);
    json_t *cands = json_object_get(v, "candidates");
    if (cands != NULL && !json_is_array(cands))
        return tr_stream_fail(t, "upstream chunk: candidates is not an array");
    json_t *cand = json_array_get(cands, 0);
    if (cand == NULL) {
        if (tr_str(json_object_get(v, "promptFeedback"), "blockReason") == NULL)
            return 0;
        tr_delta_t d = {.kind = TR_FINISH, .finish = "content_filter"};
        return tr_deliver(t, &d, emit, ud);
    }
    json_t *content = json_object_get(cand, "content"), *parts = json_object_get(content, "parts");
    json_t *fr = json_object_get(cand, "finishReason");
    if (!json_is_object(cand) || (content != NULL && !json_is_object(content)) || (parts != NULL && !json_is_array(parts)) ||
        (fr != NULL && !json_is_string(fr)))
        return tr_stream_fail(t, "upstream chunk: malformed candidate");
    int rc = deliver_parts(t, parts, emit, ud);
    if (rc != 0 || fr == NULL)
        return rc;
    const char *finish = tr_finish_from_gemini(json_string_value(fr));
    if (t->ntools > 0 && strcmp(finish, "stop") == 0)
        finish = "tool_calls";
    tr_delta_t d = {.kind = TR_FINISH, .finish = finish};
    return tr_deliver(t, &d, emit, ud);
}

int tr_dec_gemini(ah_translate_stream_t *t, const char *data, size_t len, ah_translate_emit_cb emit, void *ud)
{
    return tr_stream_decode_object(t, data, len, "chunk", decode, emit, ud);
}

/* one client event: {candidates: [{content: {role, parts}, finishReason?, index}], usageMetadata?, modelVersion, responseId} */
static int send_chunk(ah_translate_stream_t *t, json_t *parts, const char *finish, ah_translate_emit_cb emit, void *ud)
{
    if (t->id == NULL) {
        json_t *id = tr_new_id("resp_");
        t->id = tr_strdup(json_string_value(id));
        json_decref(id);
    }
    json_t *cand = json_pack("{s:{s:s, s:o}, s:i}", "content", "role", "model", "parts", parts, "index", 0);
    if (finish != NULL)
        json_object_set_new(cand, "finishReason", json_string(finish));
    json_t *c = json_pack("{s:[o]}", "candidates", cand);
    if (finish != NULL && t->usage.present)
        json_object_set_new(c, "usageMetadata", tr_usage_to_gemini(&t->usage));
    json_object_set_new(c, "modelVersion", json_string(t->model != NULL ? t->model : ""));
    json_object_set_new(c, "responseId", json_string(t->id));
    int rc = tr_emit_json(t, NULL, c, emit, ud);
    json_decref(c);
    return rc;
}

/* sends the tool calls gathered so far as whole functionCall parts */
static int flush_calls(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud)
{
    json_t *parts = NULL;
    for (size_t i = 0; i < t->ntools_enc; i++) {
        tr_tool_t *tool = &t->tools[i];
        if (!tool->started || !tool->block)
            continue;
        tool->block = 0;
        json_error_t jerr;
        json_t *args = tool->args.len != 0 ? json_loadb(tool->args.p, tool->args.len, 0, &jerr) : json_object();
        if (!json_is_object(args)) {
            json_decref(args), json_decref(parts);
            return tr_stream_fail(t, "the arguments of tool call %zu are not a JSON object", i);
        }
        json_t *fc = json_pack("{s:s, s:s, s:o}", "id", tool->id, "name", tool->name, "args", args);
        if (parts == NULL)
            parts = json_array();
        json_array_append_new(parts, json_pack("{s:o}", "functionCall", fc));
    }
    return parts != NULL ? send_chunk(t, parts, NULL, emit, ud) : 0;
}

int tr_enc_gemini(ah_translate_stream_t *t, const tr_delta_t *d, ah_translate_emit_cb emit, void *ud)
{
    tr_tool_t *tool;
    int rc;
    switch (d->kind) {
    case TR_TEXT:
    case TR_REASONING: {
        if (d->len == 0)
            return 0;
        if ((rc = flush_calls(t, emit, ud)) != 0)
            return rc;
        json_t *part = json_pack("{s:s%}", "text", d->text, d->len);
        if (d->kind == TR_REASONING)
            json_object_set_new(part, "thought", json_true());
        return send_chunk(t, json_pack("[o]", part), NULL, emit, ud);
    }
    case TR_TOOL_START:
        tool = tr_stream_tool(t, d->index);
        if (tool->started)
            return 0;
        tool->started = 1;
        tool->block = 1;
        tool->id = tr_strdup(d->id);
        tool->name = tr_strdup(d->name);
        return 0;
    case TR_TOOL_ARGS:
        tool = (size_t)d->index < t->ntools_enc ? &t->tools[d->index] : NULL;
        if (tool == NULL || !tool->started || !tool->block)
            return tr_stream_fail(t, "arguments for tool call %d, which never started or was already sent", d->index);
        tr_buf_add(&tool->args, d->text, d->len);
        return 0;
    case TR_FINISH:
        t->finish = d->finish;
        return flush_calls(t, emit, ud);
    }
    return 0;
}

int tr_enc_gemini_done(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud)
{
    int rc = flush_calls(t, emit, ud);
    if (rc != 0)
        return rc;
    return send_chunk(t, json_pack("[{s:s}]", "text", ""), tr_finish_to_gemini(t->finish), emit, ud);
}
