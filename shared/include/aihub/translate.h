/*
 * translate.h: translation between the OpenAI Chat Completions, Anthropic
 * Messages and Gemini generateContent formats: request bodies, non-streaming
 * responses, streams (one SSE event in, zero or more events out), usage and
 * error bodies. Pure code: JSON in, JSON out, no I/O; the only outside
 * state is the per-thread generator of aihub/reqid.h, for ids the upstream
 * did not give. Thread-safe; a stream translator belongs to one stream.
 *
 * How it works: every translation goes through one pivot, an OpenAI-shaped
 * value (Chat Completions bodies plus a few "x_" members for what OpenAI
 * has no field for; streams use a small C delta instead of JSON chunks).
 * Each format has one adapter that reads it into the pivot and one that
 * writes it from the pivot (src/translate_req_*, translate_resp*,
 * translate_stream_*), so a new format is one adapter pair and its
 * fixtures. Same-format pairs skip the pivot: requests and responses are
 * shallow copies with the model replaced, streams pass raw bytes through.
 *
 * Refused with a message for a 400, never dropped: n > 1 (candidateCount),
 * logprobs, logit_bias, audio output and non-text modalities, predicted
 * outputs, the legacy functions API, web_search_options, tools other than
 * functions (Anthropic server tools, Gemini googleSearch/codeExecution),
 * MCP servers, containers, Gemini cachedContent, content the target cannot
 * hold (audio to Anthropic, images inside tool results, file ids, code
 * execution parts, generated images); for Anthropic upstreams also
 * response_format json_object/json_schema ("response_format json_object is
 * not supported by Anthropic upstreams": Anthropic has no JSON mode, and
 * emulating one with a prompt would not guarantee JSON), presence and
 * frequency penalties other than 0, and seed.
 *
 * Dropped because they change nothing in the answer: cache_control marks,
 * store, OpenAI metadata, service_tier, stream_options (the usage chunk is
 * ah_translate_stream_set_include_usage), Gemini safetySettings, a
 * message's "name", thinking of earlier turns (Anthropic drops it too),
 * OpenAI's strict flag on tools, the user for Gemini upstreams. Fields an
 * adapter does not know are ignored.
 *
 * Mappings worth knowing:
 * - System and developer messages become Anthropic's system blocks or
 *   Gemini's systemInstruction, wherever they stand in the conversation.
 * - Anthropic needs max_tokens: max_completion_tokens, else max_tokens,
 *   else opts->default_max_tokens, else AH_TRANSLATE_DEFAULT_MAX_TOKENS.
 * - JSON mode to Gemini: responseMimeType application/json, and
 *   responseJsonSchema for json_schema. Tool schemas go to Gemini as
 *   parametersJsonSchema (full JSON Schema, additionalProperties and all).
 * - Reasoning: reasoning_effort <-> Anthropic thinking.budget_tokens <->
 *   Gemini thinkingConfig.thinkingBudget (minimal 512, low 1024, medium
 *   8192, high 24576; back: up to 1024 low, up to 8192 medium, else high);
 *   reasoning output is reasoning_content for OpenAI clients, thinking
 *   blocks (with an empty signature) for Anthropic, thought parts for Gemini.
 * - Images: OpenAI image_url data: URLs <-> Anthropic base64 sources <->
 *   Gemini inlineData; http(s) URLs <-> Anthropic url sources <-> Gemini
 *   fileData (MIME type from the extension, image/jpeg if none).
 * - Tool results: Anthropic tool_result (is_error) <-> OpenAI "tool"
 *   messages ("Error: " before a failed result) <-> Gemini functionResponse
 *   {"output": text} or {"error": text}, named after the call they answer.
 * - Tool call ids: a Gemini call's thoughtSignature rides in the id given to
 *   OpenAI and Anthropic clients ("<id>__thought__<base64url>") and goes
 *   back to Gemini with the conversation; calls without one get Gemini's
 *   documented "skip_thought_signature_validator". Ids for Anthropic (client
 *   or upstream) keep only [A-Za-z0-9_-]; ids to OpenAI upstreams lose the
 *   signature (OpenAI allows 40 characters).
 * - Finish reasons: stop <-> end_turn, stop_sequence, pause_turn <-> STOP;
 *   length <-> max_tokens <-> MAX_TOKENS; tool_calls <-> tool_use <-> STOP
 *   after function calls; content_filter <-> refusal <-> SAFETY, RECITATION,
 *   BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY and a blocked prompt.
 * - top_k (Anthropic, Gemini topK) goes to OpenAI upstreams as top_k: OpenAI
 *   itself answers 400; vLLM and other compatible servers take it.
 * - Requests to OpenAI upstreams that stream ask for
 *   stream_options.include_usage, so usage is always counted.
 */
#ifndef AIHUB_TRANSLATE_H
#define AIHUB_TRANSLATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "aihub/sse.h"

/** A wire format. */
typedef enum en_ah_format_t { AH_FMT_OPENAI, AH_FMT_ANTHROPIC, AH_FMT_GEMINI } ah_format_t;

/** Number of formats (for loops over all pairs). */
#define AH_FMT_COUNT 3

/** max_tokens sent to Anthropic upstreams when neither the request nor the options give one. */
#define AH_TRANSLATE_DEFAULT_MAX_TOKENS 4096

/**
 * Token usage in one vocabulary for every format. prompt_tokens is the whole
 * prompt (Anthropic: input + cache creation + cache read tokens; Gemini:
 * promptTokenCount + toolUsePromptTokenCount); cached_tokens is the part
 * read from a cache (OpenAI cached_tokens, Anthropic cache_read_input_tokens,
 * Gemini cachedContentTokenCount); completion_tokens includes reasoning
 * (Gemini: candidatesTokenCount + thoughtsTokenCount); reasoning_tokens is
 * that reasoning part where the format reports it (0 for Anthropic).
 */
typedef struct st_ah_usage_t {
    /** prompt tokens, cached ones included */
    int64_t prompt_tokens;
    /** generated tokens, reasoning included */
    int64_t completion_tokens;
    /** prompt tokens served from a cache (a part of prompt_tokens) */
    int64_t cached_tokens;
    /** reasoning tokens (a part of completion_tokens) */
    int64_t reasoning_tokens;
    /** 1 if the upstream reported usage at all */
    int present;
} ah_usage_t;

/** Options of a request translation; a NULL pointer means all defaults (zeros). */
typedef struct st_ah_translate_opts_t {
    /** max_tokens for Anthropic upstreams when the request sets no limit (0: AH_TRANSLATE_DEFAULT_MAX_TOKENS) */
    int64_t default_max_tokens;
    /** Gemini clients: whether the client called :streamGenerateContent (their body cannot say) */
    int stream;
    /** OpenAI upstreams: send the limit as max_completion_tokens (what OpenAI's reasoning models take) rather than max_tokens */
    int openai_max_completion_tokens;
} ah_translate_opts_t;

/** "openai", "anthropic" or "gemini" (static string); "?" for other values. */
const char *ah_format_name(ah_format_t f);

/** Whether a request body asks for a stream: OpenAI and Anthropic "stream": true; always 0 for Gemini (the endpoint decides). */
int ah_translate_is_stream(ah_format_t f, const json_t *body);

/** The output limit a request body sets (OpenAI max_completion_tokens or max_tokens, Anthropic max_tokens, Gemini generationConfig.maxOutputTokens), or 0 if none. */
int64_t ah_translate_max_tokens(ah_format_t f, const json_t *body);

/**
 * Translates a client's request body (format from, borrowed) into a new body
 * for an upstream of format to, asking for upstream_model (Gemini carries the
 * model and streaming in its URL, so neither is in a Gemini body). Returns a
 * new reference (caller decrefs), or NULL with a message for a 400 written to
 * err (NUL-terminated, cut to errcap) naming what cannot be translated. When
 * from == to the result is a shallow copy of body with "model" replaced: it
 * shares nested values with body, which must then not be changed in place.
 * opts may be NULL. Requests to OpenAI upstreams that stream ask for
 * stream_options.include_usage.
 */
json_t *ah_translate_request(ah_format_t from, ah_format_t to, const json_t *body, const char *upstream_model,
                             const ah_translate_opts_t *opts, char *err, size_t errcap);

/**
 * Translates a non-streaming response body (format upstream, borrowed) into
 * the client's format, naming the model the client asked for (model, may be
 * NULL to keep the upstream's). Returns a new reference (caller decrefs), or
 * NULL with a message in err when the body is not a valid response of its
 * format (the caller answers 502). Same-format pairs give a shallow copy with
 * "model" replaced (Gemini's modelVersion is kept).
 */
json_t *ah_translate_response(ah_format_t upstream, ah_format_t client, const json_t *resp, const char *model, char *err,
                              size_t errcap);

/** Reads the usage of a non-streaming response of format f (borrowed) into out; out->present is 0 when it has none. */
void ah_translate_usage(ah_format_t f, const json_t *resp, ah_usage_t *out);

/** The top-level member of a non-streaming response of format f that holds its usage ("usage"; Gemini "usageMetadata"). */
const char *ah_translate_usage_member(ah_format_t f);

/** Reads usage from the value of that member alone (borrowed; NULL when absent): what ah_translate_usage reads from the whole response. */
void ah_translate_usage_value(ah_format_t f, const json_t *usage, ah_usage_t *out);

/** Generated text of a non-streaming response of format f (content, reasoning, tool names and arguments) estimated as tokens of the upstream's family (aihub/tokens.h). */
int64_t ah_translate_estimate_completion(ah_format_t f, const json_t *resp);

/** A stream translator: one per stream, not shared between threads. Opaque. */
typedef struct st_ah_translate_stream_t ah_translate_stream_t;

/**
 * Receives one complete SSE event (its lines and its blank line) for the
 * client; bytes are borrowed for the call. Return 0 to go on; a nonzero value
 * stops the translation of the current event and is passed back to the caller.
 */
typedef int (*ah_translate_emit_cb)(void *ud, const char *bytes, size_t len);

/**
 * A translator for a stream from an upstream of one format to a client of
 * another; model is the name the client asked for (copied; NULL keeps the
 * upstream's). Free with ah_translate_stream_free. Same-format streams pass
 * each event's raw bytes through unchanged, except an OpenAI usage chunk
 * with no choices when include_usage is off (the node's own request).
 */
ah_translate_stream_t *ah_translate_stream_new(ah_format_t upstream, ah_format_t client, const char *model);

/**
 * OpenAI clients: whether to send the usage chunk ({"choices":[],"usage":...})
 * before [DONE]; on when the client asked with stream_options.include_usage.
 * Off by default.
 */
void ah_translate_stream_set_include_usage(ah_translate_stream_t *t, int on);

/**
 * Translates one upstream event (as from ah_sse_feed; borrowed), calling emit
 * for each client event it gives (zero or more). Returns 0; -1 when the event
 * is malformed (not JSON, missing or mistyped fields, a tool call the client
 * format cannot follow), with the reason in ah_translate_stream_error: the
 * caller then ends the stream with ah_translate_error_event; or emit's
 * nonzero value. An upstream error event is translated into the client's
 * error event and ends the translation (later events and _end emit nothing).
 * Events without data (comments, keep-alives) and unknown event types give
 * nothing.
 */
int ah_translate_stream_event(ah_translate_stream_t *t, const ah_sse_event_t *ev, ah_translate_emit_cb emit, void *ud);

/**
 * Ends a stream whose upstream finished normally: emits the closing events
 * the client format needs that were not sent yet (OpenAI: the usage chunk if
 * asked for, then data: [DONE]; Anthropic: content_block_stop,
 * message_delta with stop_reason and usage, message_stop; Gemini: the last
 * chunk with finishReason and usageMetadata). Returns 0, -1 (a tool call's
 * arguments were not valid JSON for a Gemini client) or emit's value. Emits
 * nothing after an upstream error event or a second call.
 */
int ah_translate_stream_end(ah_translate_stream_t *t, ah_translate_emit_cb emit, void *ud);

/** Usage reported by the upstream so far (borrowed from t; present is 0 until some arrives). */
const ah_usage_t *ah_translate_stream_usage(const ah_translate_stream_t *t);

/** Tokens generated so far, estimated from the translated deltas (text, reasoning, tool names and arguments); -1 for same-format streams, which are not decoded. */
int64_t ah_translate_stream_estimate(const ah_translate_stream_t *t);

/** Why the last call returned -1 (borrowed from t, "" if it did not). */
const char *ah_translate_stream_error(const ah_translate_stream_t *t);

/** Frees t (NULL is fine). */
void ah_translate_stream_free(ah_translate_stream_t *t);

/**
 * An error body in the client's format (new reference, caller decrefs):
 * OpenAI {"error":{"message","type","code","param":null}} (type openai_type,
 * code may be NULL); Anthropic {"type":"error","error":{"type","message"}}
 * with the type for the status (400 invalid_request_error, 401
 * authentication_error, 402 billing_error, 403 permission_error, 404
 * not_found_error, 413 request_too_large, 429 rate_limit_error, 503 and 529
 * overloaded_error, 504 timeout_error, other 5xx api_error); Gemini
 * {"error":{"code","message","status"}} with the gRPC status name for the
 * HTTP status (INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED,
 * NOT_FOUND, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED).
 */
json_t *ah_translate_error_body(ah_format_t client, int status, const char *openai_type, const char *code, const char *message);

/**
 * The same error as one SSE event for a stream that already started (OpenAI
 * "data: {error}"; Anthropic "event: error"; Gemini "data: {error}"). Writes
 * it into out only if cap suffices (no NUL) and returns the bytes it needs.
 */
size_t ah_translate_error_event(ah_format_t client, int status, const char *openai_type, const char *code, const char *message,
                                char *out, size_t cap);

/**
 * The message an upstream error body carries, whatever its format (error.message
 * of OpenAI, Anthropic and Gemini, the first element of a Gemini array, a
 * bare string "error", "message" or "detail"); borrowed from body, or NULL.
 */
const char *ah_translate_upstream_error_message(const json_t *body);

#endif
