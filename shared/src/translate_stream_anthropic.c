/*
 * translate_stream_anthropic.c: Anthropic Messages streams, read from an
 * upstream and written for a client.
 *
 * Reading: message_start gives the id and the input usage;
 * content_block_start/_delta give text (text_delta), reasoning
 * (thinking_delta) and tool calls (a tool_use block starts one; each
 * input_json_delta is a piece of its arguments), tool calls numbered in
 * order of their blocks; message_delta gives stop_reason and the output
 * usage (counts are cumulative, so the last report wins); message_stop ends
 * the stream; ping, signature and citation deltas and unknown event types
 * give nothing; an error event is an upstream error.
 *
 * Writing: message_start before the first block (with the input usage known
 * so far), one content block per run of text, reasoning or a tool call
 * (content_block_start, deltas, content_block_stop), and at the end
 * message_delta (stop_reason, usage) and message_stop. A tool call's
 * arguments must arrive while its block is the open one (OpenAI sends tool
 * calls one after the other); arguments for an earlier, closed block cannot
 * be followed by an Anthropic client and make the event malformed.
 */
#include <stdlib.h>
#include <string.h>

#include "aihub/mem.h"
#include "translate_internal.h"

void tr_usage_anthropic_merge(ah_translate_stream_t *t, const json_t *u)
{
    static const char *const keys[4] = {"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"};
    if (!json_is_object(u))
        return;
    for (int i = 0; i < 4; i++) {
        json_t *v = json_object_get(u, keys[i]);
        if (json_is_integer(v))
            t->an_usage[i] = json_integer_value(v);
    }
    t->usage.present = 1;
    t->usage.cached_tokens = t->an_usage[2];
    t->usage.prompt_tokens = t->an_usage[0] + t->an_usage[1] + t->an_usage[2];
    t->usage.completion_tokens = t->an_usage[3];
}

/* the tool call index of a content block, or -1 */
static int block_tool(const ah_translate_stream_t *t, json_int_t block)
{
    return block >= 0 && (size_t)block < t->nblock_tool ? t->block_tool[block] : -1;
}

static void set_block_tool(ah_translate_stream_t *t, json_int_t block, int tool)
{
    if ((size_t)block >= t->nblock_tool) {
        size_t n = (size_t)block + 1;
        t->block_tool = ah_mem_realloc(t->block_tool, n * sizeof(int));
        for (size_t i = t->nblock_tool; i < n; i++)
            t->block_tool[i] = -1;
        t->nblock_tool = n;
    }
    t->block_tool[block] = tool;
}

static int deliver(ah_translate_stream_t *t, tr_kind_t kind, const json_t *text, int index, ah_translate_emit_cb emit, void *ud)
{
    if (!json_is_string(text))
        return tr_stream_fail(t, "upstream event: a delta's text is not a string");
    if (json_string_length(text) == 0)
        return 0;
    tr_delta_t d = {.kind = kind, .text = json_string_value(text), .len = json_string_length(text), .index = index};
    return tr_deliver(t, &d, emit, ud);
}

static int block_start(ah_translate_stream_t *t, json_int_t index, const json_t *cb, ah_translate_emit_cb emit, void *ud)
{
    const char *type = tr_str(cb, "type");
    if (type == NULL)
        return tr_stream_fail(t, "upstream event: content_block_start without a content_block type");
    if (strcmp(type, "text") == 0)
        return json_object_get(cb, "text") != NULL ? deliver(t, TR_TEXT, json_object_get(cb, "text"), 0, emit, ud) : 0;
    if (strcmp(type, "thinking") == 0)
        return json_object_get(cb, "thinking") != NULL ? deliver(t, TR_REASONING, json_object_get(cb, "thinking"), 0, emit, ud) : 0;
    if (strcmp(type, "tool_use") != 0)
        return 0; /* redacted thinking, and block types added later */
    const char *id = tr_str(cb, "id"), *name = tr_str(cb, "name");
    if (id == NULL || name == NULL || t->ntools >= TR_MAX_INDEX)
        return tr_stream_fail(t, "upstream event: tool_use block without id or name");
    int k = t->ntools++;
    set_block_tool(t, index, k);
    tr_delta_t d = {.kind = TR_TOOL_START, .index = k, .id = id, .name = name};
    int rc = tr_deliver(t, &d, emit, ud);
    json_t *input = json_object_get(cb, "input");
    if (rc == 0 && json_is_object(input) && json_object_size(input) != 0) {
        char *s = json_dumps(input, JSON_COMPACT);
        tr_delta_t a = {.kind = TR_TOOL_ARGS, .index = k, .text = s, .len = strlen(s)};
        rc = tr_deliver(t, &a, emit, ud);
        free(s);
    }
    return rc;
}

static int block_delta(ah_translate_stream_t *t, json_int_t index, const json_t *delta, ah_translate_emit_cb emit, void *ud)
{
    const char *type = tr_str(delta, "type");
    if (type == NULL)
        return tr_stream_fail(t, "upstream event: content_block_delta without a delta type");
    if (strcmp(type, "text_delta") == 0)
        return deliver(t, TR_TEXT, json_object_get(delta, "text"), 0, emit, ud);
    if (strcmp(type, "thinking_delta") == 0)
        return deliver(t, TR_REASONING, json_object_get(delta, "thinking"), 0, emit, ud);
    if (strcmp(type, "input_json_delta") == 0) {
        int k = block_tool(t, index);
        if (k < 0)
            return tr_stream_fail(t, "upstream event: input_json_delta for block %d, which is not a tool_use block", (int)index);
        return deliver(t, TR_TOOL_ARGS, json_object_get(delta, "partial_json"), k, emit, ud);
    }
    return 0; /* signature_delta, citations_delta, and later kinds */
}

static int decode(ah_translate_stream_t *t, const json_t *v, ah_translate_emit_cb emit, void *ud)
{
    const char *type = tr_str(v, "type");
    if (type == NULL)
        return tr_stream_fail(t, "upstream event has no type");
    json_t *index = json_object_get(v, "index");
    int needs_index = strcmp(type, "content_block_start") == 0 || strcmp(type, "content_block_delta") == 0;
    if (needs_index && (!json_is_integer(index) || json_integer_value(index) < 0 || json_integer_value(index) >= TR_MAX_INDEX))
        return tr_stream_fail(t, "upstream event %s has no valid index", type);
    if (strcmp(type, "message_start") == 0) {
        json_t *m = json_object_get(v, "message");
        if (!json_is_object(m))
            return tr_stream_fail(t, "upstream message_start has no message");
        tr_stream_set_id(t, tr_str(m, "id"));
        tr_usage_anthropic_merge(t, json_object_get(m, "usage"));
        tr_delta_t d = {.kind = TR_TEXT, .text = "", .len = 0}; /* announces the answer (OpenAI's role chunk) */
        return tr_deliver(t, &d, emit, ud);
    }
    if (strcmp(type, "content_block_start") == 0) {
        json_t *cb = json_object_get(v, "content_block");
        if (!json_is_object(cb))
            return tr_stream_fail(t, "upstream content_block_start has no content_block");
        return block_start(t, json_integer_value(index), cb, emit, ud);
    }
    if (strcmp(type, "content_block_delta") == 0) {
        json_t *delta = json_object_get(v, "delta");
        if (!json_is_object(delta))
            return tr_stream_fail(t, "upstream content_block_delta has no delta");
        return block_delta(t, json_integer_value(index), delta, emit, ud);
    }
    if (strcmp(type, "message_delta") == 0) {
        json_t *delta = json_object_get(v, "delta"), *sr = json_object_get(delta, "stop_reason");
        if (!json_is_object(delta) || (sr != NULL && !json_is_string(sr) && !json_is_null(sr)))
            return tr_stream_fail(t, "upstream message_delta has no valid delta");
        tr_usage_anthropic_merge(t, json_object_get(v, "usage"));
        if (!json_is_string(sr))
            return 0;
        tr_delta_t d = {.kind = TR_FINISH, .finish = tr_finish_from_anthropic(json_string_value(sr))};
        return tr_deliver(t, &d, emit, ud);
    }
    if (strcmp(type, "message_stop") == 0) {
        t->upstream_done = 1;
        return tr_stream_done(t, emit, ud);
    }
    if (strcmp(type, "error") == 0) {
        json_t *e = json_object_get(v, "error");
        const char *m = tr_str(e, "message");
        return tr_upstream_error(t, tr_status_from_anthropic_type(tr_str(e, "type")), m != NULL ? m : "upstream error", emit, ud);
    }
    return 0; /* content_block_stop, ping, and event types added later */
}

int tr_dec_anthropic(ah_translate_stream_t *t, const char *data, size_t len, ah_translate_emit_cb emit, void *ud)
{
    return tr_stream_decode_object(t, data, len, "event", decode, emit, ud);
}

static int send_event(ah_translate_stream_t *t, const char *name, json_t *v, ah_translate_emit_cb emit, void *ud)
{
    int rc = tr_emit_json(t, name, v, emit, ud);
    json_decref(v);
    return rc;
}

static int begin(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud)
{
    if (t->began)
        return 0;
    t->began = 1;
    if (t->id == NULL) {
        json_t *id = tr_new_id("msg_");
        t->id = tr_strdup(json_string_value(id));
        json_decref(id);
    }
    json_t *usage = tr_usage_to_anthropic(&t->usage);
    json_object_set_new(usage, "output_tokens", json_integer(0));
    return send_event(t, "message_start",
                json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:[], s:n, s:n, s:o}}", "type", "message_start", "message", "id", t->id,
                          "type", "message", "role", "assistant", "model", t->model != NULL ? t->model : "", "content", "stop_reason",
                          "stop_sequence", "usage", usage),
                emit, ud);
}

static int close_block(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud)
{
    if (t->open_block < 0)
        return 0;
    int index = t->open_block;
    t->open_block = -1;
    return send_event(t, "content_block_stop", json_pack("{s:s, s:i}", "type", "content_block_stop", "index", index), emit, ud);
}

/* closes the open block and starts a new one (content_block stolen) */
static int open_block(ah_translate_stream_t *t, tr_kind_t kind, json_t *content_block, ah_translate_emit_cb emit, void *ud)
{
    int rc = close_block(t, emit, ud);
    if (rc != 0) {
        json_decref(content_block);
        return rc;
    }
    t->open_block = t->next_block++;
    t->open_kind = kind;
    return send_event(t, "content_block_start",
                json_pack("{s:s, s:i, s:o}", "type", "content_block_start", "index", t->open_block, "content_block", content_block),
                emit, ud);
}

static int block_delta_out(ah_translate_stream_t *t, json_t *delta, ah_translate_emit_cb emit, void *ud)
{
    return send_event(t, "content_block_delta", json_pack("{s:s, s:i, s:o}", "type", "content_block_delta", "index", t->open_block, "delta", delta),
                emit, ud);
}

int tr_enc_anthropic(ah_translate_stream_t *t, const tr_delta_t *d, ah_translate_emit_cb emit, void *ud)
{
    int rc = begin(t, emit, ud);
    if (rc != 0)
        return rc;
    tr_tool_t *tool;
    switch (d->kind) {
    case TR_TEXT:
    case TR_REASONING:
        if (d->len == 0)
            return 0;
        if (t->open_block < 0 || t->open_kind != d->kind) {
            json_t *cb = d->kind == TR_TEXT ? json_pack("{s:s, s:s}", "type", "text", "text", "")
                                            : json_pack("{s:s, s:s}", "type", "thinking", "thinking", "");
            if ((rc = open_block(t, d->kind, cb, emit, ud)) != 0)
                return rc;
        }
        return block_delta_out(t,
                               d->kind == TR_TEXT ? json_pack("{s:s, s:s%}", "type", "text_delta", "text", d->text, d->len)
                                                  : json_pack("{s:s, s:s%}", "type", "thinking_delta", "thinking", d->text, d->len),
                               emit, ud);
    case TR_TOOL_START:
        tool = tr_stream_tool(t, d->index);
        if (tool->started)
            return 0;
        if ((rc = open_block(t, TR_TOOL_START,
                             json_pack("{s:s, s:o, s:s, s:{}}", "type", "tool_use", "id", tr_anthropic_client_id(d->id), "name", d->name, "input"),
                             emit, ud)) != 0)
            return rc;
        tool->started = 1;
        tool->block = t->open_block;
        return 0;
    case TR_TOOL_ARGS:
        tool = (size_t)d->index < t->ntools_enc ? &t->tools[d->index] : NULL;
        if (tool == NULL || !tool->started)
            return tr_stream_fail(t, "arguments for tool call %d, which never started", d->index);
        if (tool->block != t->open_block)
            return tr_stream_fail(t, "arguments for tool call %d after its content block was closed", d->index);
        return block_delta_out(t, json_pack("{s:s, s:s%}", "type", "input_json_delta", "partial_json", d->text, d->len), emit, ud);
    case TR_FINISH:
        t->finish = d->finish;
        return close_block(t, emit, ud);
    }
    return 0;
}

int tr_enc_anthropic_done(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud)
{
    int rc;
    if ((rc = begin(t, emit, ud)) != 0 || (rc = close_block(t, emit, ud)) != 0)
        return rc;
    const char *stop = tr_finish_to_anthropic(t->finish);
    if (t->finish == NULL && t->ntools_enc != 0)
        stop = "tool_use";
    rc = send_event(t, "message_delta",
              json_pack("{s:s, s:{s:s, s:n}, s:o}", "type", "message_delta", "delta", "stop_reason", stop, "stop_sequence", "usage",
                        tr_usage_to_anthropic(&t->usage)),
              emit, ud);
    if (rc != 0)
        return rc;
    return send_event(t, "message_stop", json_pack("{s:s}", "type", "message_stop"), emit, ud);
}
