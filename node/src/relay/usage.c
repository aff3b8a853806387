/*
 * Tokens and money of one relayed request: the hold placed at admission, the
 * tokens at the end (the upstream's usage, else an estimate), and the cost.
 *
 * When no usage arrives (an upstream that gives none, or a client that left
 * before the usage chunk), prompt tokens are the estimate made at admission
 * and completion tokens are estimated from the text generated so far: the
 * delta contents and tool-call arguments of the stream events received, or
 * the message contents of a non-streaming answer.
 */
#include <string.h>
#include "aihub/tokens.h"
#include "relay/relay_internal.h"

/* the generated text goes through one counter, so that deltas split mid-word count as the whole text would */
static void add_text(json_t *v, ah_tokens_counter_t *c)
{
    if (json_is_string(v))
        ah_tokens_counter_feed(c, json_string_value(v), json_string_length(v));
}

/* the generated text of one choice's delta (stream) or message (non-stream) */
static void add_message(json_t *m, ah_tokens_counter_t *c)
{
    add_text(json_object_get(m, "content"), c);
    add_text(json_object_get(m, "reasoning_content"), c);
    size_t i;
    json_t *call;
    json_array_foreach(json_object_get(m, "tool_calls"), i, call)
    {
        json_t *fn = json_object_get(call, "function");
        add_text(json_object_get(fn, "name"), c);
        add_text(json_object_get(fn, "arguments"), c);
    }
}

/* the generated text of kept stream events (one event's data per line) */
static void add_events(const h2o_buffer_t *data, ah_tokens_counter_t *n)
{
    const char *p = data->bytes, *end = p + data->size;
    json_error_t jerr;
    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        if (nl == NULL)
            nl = end;
        json_t *chunk = json_loadb(p, nl - p, 0, &jerr);
        size_t i;
        json_t *choice;
        json_array_foreach(json_object_get(chunk, "choices"), i, choice)
        {
            add_message(json_object_get(choice, "delta"), n);
        }
        json_decref(chunk);
        p = nl + 1;
    }
}

static int64_t estimate_completion(const ah_relay_t *r)
{
    if (r->tr != NULL)
        return ah_translate_stream_estimate(r->tr);
    if (!r->stream && r->up_fmt != AH_FMT_OPENAI && r->respbody != NULL && r->respbody->size != 0) {
        json_error_t jerr;
        json_t *resp = json_loadb(r->respbody->bytes, r->respbody->size, 0, &jerr);
        int64_t n = resp != NULL ? ah_translate_estimate_completion(r->up_fmt, resp) : 0;
        json_decref(resp);
        return n;
    }
    ah_tokens_counter_t counter, *n = &counter;
    ah_tokens_counter_init(n, ah_tokens_family_of(r->cur != NULL ? r->cur->upstream_model : r->model));
    json_error_t jerr;
    if (!r->stream) {
        if (r->respbody == NULL || r->respbody->size == 0)
            return 0;
        json_t *body = json_loadb(r->respbody->bytes, r->respbody->size, 0, &jerr);
        size_t i;
        json_t *choice;
        json_array_foreach(json_object_get(body, "choices"), i, choice)
        {
            add_message(json_object_get(choice, "message"), n);
        }
        json_decref(body);
        return ah_tokens_counter_result(n);
    }
    if (r->gen_counter != NULL)
        counter = *r->gen_counter;
    if (r->gen_data != NULL)
        add_events(r->gen_data, n);
    return ah_tokens_counter_result(n);
}

void ah_relay_usage_fold(ah_relay_t *r)
{
    if (r->gen_counter == NULL) {
        r->gen_counter = h2o_mem_alloc(sizeof(*r->gen_counter));
        ah_tokens_counter_init(r->gen_counter, ah_tokens_family_of(r->cur != NULL ? r->cur->upstream_model : r->model));
    }
    add_events(r->gen_data, r->gen_counter);
    h2o_buffer_consume(&r->gen_data, r->gen_data->size);
}

void ah_relay_usage_finalize(ah_relay_t *r)
{
    int success = r->status >= 200 && r->status < 300 && r->headers_done;
    if (r->have_usage || !success)
        return;
    r->usage_estimated = 1;
    r->prompt_tokens = r->est_prompt;
    r->cached_tokens = 0;
    r->completion_tokens = estimate_completion(r);
}

int64_t ah_relay_cost(const ah_relay_t *r)
{
    ah_price_t p;
    if (!ah_snapshot_price(r->snap, r->model, &p) && (r->cur == NULL || !ah_snapshot_price(r->snap, r->cur->upstream_model, &p)))
        return 0;
    int64_t cached = r->cached_tokens < r->prompt_tokens ? r->cached_tokens : r->prompt_tokens;
    return ah_money_cost(&p, r->prompt_tokens - cached, cached, r->completion_tokens);
}

int64_t ah_relay_hold(const ah_relay_t *r, int64_t max_tokens)
{
    ah_price_t p;
    if (ah_snapshot_price(r->snap, r->model, &p))
        return ah_money_cost(&p, r->est_prompt, 0, max_tokens);
    int64_t hold = 0;
    for (size_t i = 0; i != r->ncands; ++i) {
        if (ah_snapshot_price(r->snap, r->cands[i].upstream_model, &p)) {
            int64_t h = ah_money_cost(&p, r->est_prompt, 0, max_tokens);
            if (h > hold)
                hold = h;
        }
    }
    return hold;
}
