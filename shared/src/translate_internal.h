/*
 * translate_internal.h: what the translate_*.c files share and nothing else
 * sees: the pivot adapters of each format, the stream translator's state and
 * its delta (the pivot of streams), and small JSON helpers.
 *
 * The request and response pivot is an OpenAI Chat Completions body. The
 * members it adds, all removed again by the OpenAI writer:
 *   x_thinking_budget  reasoning budget in tokens (Anthropic thinking, Gemini thinkingBudget)
 *   x_is_error         on a "tool" message: the tool failed (Anthropic is_error)
 *   top_k              kept under its common name (vLLM and others accept it)
 */
#ifndef AIHUB_TRANSLATE_INTERNAL_H
#define AIHUB_TRANSLATE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "aihub/tokens.h"
#include "aihub/translate.h"

/** Separator between a tool call id and a Gemini thought signature riding in it. */
#define TR_SIG_SEP "__thought__"
/** The signature Gemini documents for function calls it did not generate. */
#define TR_SIG_SKIP "skip_thought_signature_validator"
/** Largest tool call or content block index accepted in a stream (more is malformed). */
#define TR_MAX_INDEX 1024

/* ---- helpers (translate_util.c) ---- */

/** Writes a printf-style message into err (if any) and returns NULL, for `return tr_fail(...)`. */
void *tr_fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/** obj[camel], else obj[snake] (Gemini takes both spellings); borrowed. */
json_t *tr_get2(const json_t *obj, const char *camel, const char *snake);
/** The string value of obj[key], or NULL. */
const char *tr_str(const json_t *obj, const char *key);
/** Sets obj[key] = v (stolen) unless v is NULL. */
void tr_set(json_t *obj, const char *key, json_t *v);
/** Copies obj[key] (a new reference to the same value) into dst[dkey] when present and not null. */
void tr_copy(json_t *dst, const char *dkey, const json_t *obj, const char *key);
/** 1 if v is present and not JSON null. */
int tr_present(const json_t *v);
/** Turns one OpenAI content part of message i into an upstream item (new), or NULL with *skip set (nothing to send) or err. */
typedef json_t *(*tr_part_fn)(const json_t *part, size_t i, int *skip, char *err, size_t cap);
/** Turns a non-empty text content into an upstream item (new). */
typedef json_t *(*tr_text_fn)(const json_t *text);
/**
 * Appends the items of an OpenAI message content (message i) to arr: a string
 * through text (nothing when empty), an array part by part, null or absent as
 * nothing. 0, or -1 with err (content of another type, or a part refused).
 */
int tr_content_items(json_t *arr, const json_t *content, size_t i, tr_text_fn text, tr_part_fn part, char *err, size_t cap);
/** A new string "prefix" + random hex (24 digits). */
json_t *tr_new_id(const char *prefix);

/** Splits "data:<mime>;base64,<data>": returns 1 with mime (a new string, caller frees) and *data pointing into url; else 0. */
int tr_data_url_split(const char *url, char **mime, const char **data);
/** "data:<mime>;base64,<b64>" as a new JSON string. */
json_t *tr_data_url(const char *mime, const char *b64);
/** The image/audio/pdf MIME type guessed from a URL's extension, or NULL. */
const char *tr_mime_from_url(const char *url);

/** id without its thought signature (new string, caller frees), and the signature (a pointer into id, or NULL). */
char *tr_id_split(const char *id, const char **sig);
/** id cleaned for Anthropic upstreams: the signature removed and each byte outside [A-Za-z0-9_-] replaced by '_' (new JSON string). */
json_t *tr_anthropic_id(const char *id);
/** id for Anthropic clients: each byte outside [A-Za-z0-9_-] replaced by '_', the signature kept (it is base64url already); new JSON string. */
json_t *tr_anthropic_client_id(const char *id);
/** id + TR_SIG_SEP + the signature as base64url without padding (a Gemini thoughtSignature is standard base64); new JSON string. */
json_t *tr_id_with_sig(const char *id, const char *sig);
/** A signature taken from an id back to standard base64 with padding, as Gemini gave it (new JSON string). */
json_t *tr_sig_standard(const char *sig);

/** Finish reasons between the pivot's (OpenAI's) vocabulary and the others; unknown values map to stop/end_turn/STOP. */
const char *tr_finish_from_anthropic(const char *stop_reason);
const char *tr_finish_to_anthropic(const char *finish);
const char *tr_finish_from_gemini(const char *reason);
const char *tr_finish_to_gemini(const char *finish);

/** Thinking budget in tokens for an OpenAI reasoning_effort (none 0, minimal 512, low 1024, medium 8192, high 24576; -1 if unknown). */
int64_t tr_effort_budget(const char *effort);
/** reasoning_effort for a budget: low up to 1024, medium up to 8192, high above. */
const char *tr_budget_effort(int64_t budget);
/** strdup that aborts when memory runs out. */
char *tr_strdup(const char *s);

/** Usage readers of each format's usage object (out zeroed first; present set if u is an object). */
void tr_usage_openai(const json_t *u, ah_usage_t *out);
void tr_usage_anthropic(const json_t *u, ah_usage_t *out);
void tr_usage_gemini(const json_t *u, ah_usage_t *out);
/** The token family of a format's models (for estimates). */
ah_tokens_family_t tr_family(ah_format_t f);

/** Usage objects of each format. */
json_t *tr_usage_to_openai(const ah_usage_t *u);
json_t *tr_usage_to_anthropic(const ah_usage_t *u);
json_t *tr_usage_to_gemini(const ah_usage_t *u);

/** Text of an OpenAI message content (a string, or the text parts joined) as a new string (caller frees); NULL if it holds a part that is not text. */
char *tr_content_text(const json_t *content);

/** Lower-cases every "type" string of a Gemini (OpenAPI-style) schema, giving a JSON Schema (new reference). */
json_t *tr_schema_from_gemini(const json_t *schema);

/** Error status names (translate_error.c). */
const char *tr_anthropic_error_type(int status);
const char *tr_gemini_status(int status);
/** HTTP status for an Anthropic error type (overloaded_error 529, ...; 500 if unknown). */
int tr_status_from_anthropic_type(const char *type);

/* ---- request adapters ---- */

/** Anthropic Messages request -> pivot (translate_req_anthropic_in.c). */
json_t *tr_req_anthropic_in(const json_t *body, char *err, size_t cap);
/** pivot -> Anthropic Messages request (translate_req_anthropic_out.c). */
json_t *tr_req_anthropic_out(const json_t *p, const char *model, const ah_translate_opts_t *o, char *err, size_t cap);
/** Gemini generateContent request -> pivot (translate_req_gemini_in.c). */
json_t *tr_req_gemini_in(const json_t *body, int stream, char *err, size_t cap);
/** pivot -> Gemini request (translate_req_gemini_out.c). */
json_t *tr_req_gemini_out(const json_t *p, char *err, size_t cap);
/** pivot -> OpenAI request: extensions mapped or removed (translate_req_openai.c). */
json_t *tr_req_openai_out(const json_t *p, const char *model, const ah_translate_opts_t *o, char *err, size_t cap);
/** Checks a pivot (or OpenAI) request for what format `to` cannot take (n > 1, logprobs, ...); 0 if fine, else -1 with the message in err (translate_req_openai.c). */
int tr_req_openai_check(const json_t *body, ah_format_t to, char *err, size_t cap);

/* ---- response adapters (translate_resp.c, translate_resp_gemini.c) ---- */

json_t *tr_resp_openai_in(const json_t *resp, char *err, size_t cap);
json_t *tr_resp_anthropic_in(const json_t *resp, char *err, size_t cap);
json_t *tr_resp_gemini_in(const json_t *resp, char *err, size_t cap);
json_t *tr_resp_openai_out(const json_t *p, const char *model);
json_t *tr_resp_anthropic_out(const json_t *p, const char *model, char *err, size_t cap);
json_t *tr_resp_gemini_out(const json_t *p, const char *model, char *err, size_t cap);

/* ---- streams ---- */

/** What a decoder hands to an encoder: one step of the answer. */
typedef enum en_tr_kind_t {
    TR_TEXT,       /* text: a piece of the answer */
    TR_REASONING,  /* text: a piece of reasoning */
    TR_TOOL_START, /* tool: a tool call begins (index, id, name) */
    TR_TOOL_ARGS,  /* tool: a piece of a tool call's arguments (index, text) */
    TR_FINISH,     /* finish: why the answer ended (pivot vocabulary) */
} tr_kind_t;

typedef struct st_tr_delta_t {
    tr_kind_t kind;
    /** text or argument piece (not NUL-terminated) */
    const char *text;
    size_t len;
    /** tool call index in the answer (0, 1, ...) */
    int index;
    /** tool call id and function name (TR_TOOL_START) */
    const char *id, *name;
    /** finish reason (TR_FINISH) */
    const char *finish;
} tr_delta_t;

/** A growable byte buffer. */
typedef struct st_tr_buf_t {
    char *p;
    size_t len, cap;
} tr_buf_t;

/** Appends n bytes of s (s NULL: n bytes of room, left as they are). */
void tr_buf_add(tr_buf_t *b, const char *s, size_t n);
void tr_buf_free(tr_buf_t *b);

/** One tool call of the answer, as an encoder follows it. */
typedef struct st_tr_tool_t {
    /** 1 once TR_TOOL_START was seen */
    int started;
    /** Anthropic clients: the content block index; Gemini clients: 1 while not yet sent */
    int block;
    /** Gemini clients: id, name and the arguments gathered so far (owned) */
    char *id, *name;
    tr_buf_t args;
} tr_tool_t;

struct st_ah_translate_stream_t {
    ah_format_t up, client;
    /** the client's model name (owned; NULL to keep the upstream's) */
    char *model;
    /** same format: pass raw bytes through */
    int identity;
    int include_usage;
    /** an error event was sent, or the end was: nothing more */
    int finished;
    /** the upstream's terminal event was seen ([DONE], message_stop) */
    int upstream_done;
    ah_usage_t usage;
    /** Anthropic upstream: input, cache creation, cache read and output tokens as last reported (-1 unknown) */
    int64_t an_usage[4];
    ah_tokens_counter_t counter;
    char error[256];
    /** message id for the client (owned): the upstream's, else generated */
    char *id;
    /** Unix seconds, for OpenAI's created */
    int64_t created;

    /* decoder state */
    /** Anthropic upstream: content block index -> tool call index (or -1) */
    int *block_tool;
    size_t nblock_tool;
    /** tool calls seen so far (Anthropic/Gemini upstream: the next index) */
    int ntools;
    /** OpenAI upstream: tool indexes already started (TR_MAX_INDEX flags) */
    unsigned char *started;

    /* encoder state */
    /** the first client event was sent (OpenAI role chunk, Anthropic message_start) */
    int began;
    /** Anthropic client: open block index (-1 none), its kind, next index */
    int open_block;
    tr_kind_t open_kind;
    int next_block;
    /** the finish reason received (pivot vocabulary), or NULL */
    const char *finish;
    /** tool calls followed by the encoder */
    tr_tool_t *tools;
    size_t ntools_enc;
    /** scratch for one outgoing event */
    tr_buf_t out;
};

/** Sends one delta to the client's encoder (and the text counter). */
int tr_deliver(ah_translate_stream_t *t, const tr_delta_t *d, ah_translate_emit_cb emit, void *ud);
/** The upstream reported an error mid-stream: emit the client's error event and finish. */
int tr_upstream_error(ah_translate_stream_t *t, int status, const char *message, ah_translate_emit_cb emit, void *ud);
/** Records a malformed-event message and returns -1. */
int tr_stream_fail(ah_translate_stream_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Decodes one upstream event (a JSON object) with decode. */
typedef int (*tr_event_decoder)(ah_translate_stream_t *t, const json_t *v, ah_translate_emit_cb emit, void *ud);
/** Parses data[0..len) as a JSON object and hands it to decode; a malformed one fails the stream ("upstream <what> is ..."). */
int tr_stream_decode_object(ah_translate_stream_t *t, const char *data, size_t len, const char *what, tr_event_decoder decode,
                            ah_translate_emit_cb emit, void *ud);
/** Emits one client event: "event: name\n" (name may be NULL) and data as JSON (v is borrowed). */
int tr_emit_json(ah_translate_stream_t *t, const char *name, const json_t *v, ah_translate_emit_cb emit, void *ud);
/** Sets t->id from an upstream id (if t has none yet). */
void tr_stream_set_id(ah_translate_stream_t *t, const char *id);
/** The tool call record of index i, grown as needed (i < TR_MAX_INDEX). */
tr_tool_t *tr_stream_tool(ah_translate_stream_t *t, int i);

/** Merges an Anthropic usage object (message_start's or message_delta's; counts are cumulative) into t->usage. */
void tr_usage_anthropic_merge(ah_translate_stream_t *t, const json_t *u);

/** Decoders: one upstream event's data (parsed) into deltas. */
int tr_dec_openai(ah_translate_stream_t *t, const char *data, size_t len, ah_translate_emit_cb emit, void *ud);
int tr_dec_anthropic(ah_translate_stream_t *t, const char *data, size_t len, ah_translate_emit_cb emit, void *ud);
int tr_dec_gemini(ah_translate_stream_t *t, const char *data, size_t len, ah_translate_emit_cb emit, void *ud);

/** Encoders: one delta into client events; _done: the closing events. */
int tr_enc_openai(ah_translate_stream_t *t, const tr_delta_t *d, ah_translate_emit_cb emit, void *ud);
int tr_enc_openai_done(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud);
int tr_enc_anthropic(ah_translate_stream_t *t, const tr_delta_t *d, ah_translate_emit_cb emit, void *ud);
int tr_enc_anthropic_done(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud);
int tr_enc_gemini(ah_translate_stream_t *t, const tr_delta_t *d, ah_translate_emit_cb emit, void *ud);
int tr_enc_gemini_done(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud);

/** Closing events of the client format once the upstream is done (idempotent). */
int tr_stream_done(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud);

#endif
