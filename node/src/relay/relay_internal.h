/*
 * The relay's per-request state, shared by relay.c (lifecycle, scripts),
 * upstream.c (the libcurl side) and downstream.c (the h2o side).
 *
 * Lifetime: the context is malloc'd and reference-counted. References are held
 * by the client request (until h2o disposes it), by a pending Redis call, and
 * by a running upstream transfer; the last one frees it. Buffers handed to
 * h2o therefore stay valid until the request is gone.
 */
#ifndef AH_RELAY_INTERNAL_H
#define AH_RELAY_INTERNAL_H

#include <curl/curl.h>
#include <h2o.h>
#include <jansson.h>
#include "aihub/sse.h"
#include "aihub/tokens.h"
#include "aihub/translate.h"
#include "config/snapshot.h"
#include "http/async.h"
#include "loop/timer.h"
#include "node.h"
#include "router/candidates.h"

#define AH_RELAY_MAX_CANDIDATES 64
#define AH_RELAY_HIGH_WATER (256 * 1024)      /* bytes queued for the client before the upstream is paused */
#define AH_RELAY_MAX_ERROR_BODY (64 * 1024)   /* upstream error bodies kept for the client's message */
#define AH_RELAY_MAX_RESPONSE ((size_t)64 << 20) /* non-streaming upstream answers */
#define AH_RELAY_MAX_GEN_DATA ((size_t)4 << 20)  /* stream event data kept for a token estimate */
/* curl's receive buffer for a stream (its default is 16 KiB): it lives as long as the stream, whose events are a few
 * hundred bytes; a larger event just takes several reads */
#define AH_RELAY_STREAM_RECV_BUFFER 2048
/* kept stream event data past which it is folded into a token counter: memory per stream stays flat however long
 * the answer (events are ~200 bytes of JSON for a few characters of text) */
#define AH_RELAY_GEN_FOLD 2048

typedef enum en_ah_fail_t {
    AH_FAIL_NONE,
    AH_FAIL_STATUS,  /**< the upstream answered with an error status */
    AH_FAIL_TIMEOUT, /**< no response headers within timeout_ms */
    AH_FAIL_CONNECT, /**< connection or transfer error before commit */
} ah_fail_t;

typedef struct st_ah_relay_t {
    ah_async_t super; /* req is NULL once the client is gone */
    ah_worker_t *w;
    ah_snapshot_t *snap;
    int refs;

    /* the client's request */
    ah_format_t client_fmt;
    ah_format_t up_fmt;          /**< the current attempt's upstream format */
    int embeddings;
    ah_translate_stream_t *tr;   /**< stream translator when the formats differ (or a non-OpenAI identity) */
    const char *anthropic_version, *anthropic_beta; /**< an Anthropic client's headers, passed to Anthropic upstreams (pool) */
    json_t *body;
    const char *model; /**< borrowed from body */
    int stream, client_wants_usage;
    char key_hmac[65];
    char *key_id, *user_id;
    h2o_iovec_t request_id;
    const char *client_ip;
    uint64_t t_start; /**< h2o_now ms */

    /* routing */
    ah_candidate_t *cands; /**< the accounts that may serve it (owned; ncands of them, at most AH_RELAY_MAX_CANDIDATES) */
    size_t ncands;
    unsigned char tried[AH_RELAY_MAX_CANDIDATES];
    const ah_candidate_t *cur;
    int attempts;

    /* the current upstream attempt */
    CURL *easy;
    struct curl_slist *headers;
    char *upbody;
    int status;           /**< upstream status (after status_map) */
    int64_t retry_after;  /**< upstream Retry-After seconds, or -1 */
    int headers_done, timed_out, paused;
    ah_fail_t fail;
    h2o_buffer_t *respbody; /**< error body, or the whole non-streaming answer */
    ah_timer_t timer;       /**< header timeout, then stream idle timeout */
    uint64_t t_upstream;

    /* the response to the client */
    int committed, finished;
    int client_gone;  /**< the client went away (h2o stopped the generator or disposed the request) */
    int final_status;
    h2o_generator_t gen;
    h2o_buffer_t *pending, *inflight;
    int sending, upstream_ended;
    ah_sse_parser_t sse;
    uint64_t t_first_byte;

    /* money and limits (see docs/money.md) */
    char lease[40];           /**< this request's hold and slot id in Redis */
    int admitted;             /**< admission placed a hold and took slots */
    int admit_unknown;        /**< the admit call failed in flight (timeout, lost connection): Redis may still run it */
    int64_t est_prompt;       /**< estimated prompt tokens */
    int64_t tpm_est;          /**< tokens counted in TPM windows at admission */
    int64_t hold;             /**< micro-units held */
    int64_t cost, charged, unpaid;
    int64_t rl[6];            /**< from admit: requests limit, remaining, reset ms; tokens limit, remaining, reset ms */
    ah_timer_t renew_timer;   /**< extends the lease of a long request */
    h2o_buffer_t *gen_data;   /**< data of recent stream events, kept to estimate tokens when no usage arrives */
    ah_tokens_counter_t *gen_counter; /**< the text of older events, folded out of gen_data (NULL until the first fold) */
    int usage_estimated;      /**< the tokens were estimated, not reported by the upstream */

    /* outcome */
    int64_t prompt_tokens, completion_tokens, cached_tokens;
    int have_usage;
    char error[256];
} ah_relay_t;

/** the API format of a channel type */
static inline ah_format_t ah_relay_channel_format(const ah_channel_t *c)
{
    return c->type == AH_CHANNEL_ANTHROPIC ? AH_FMT_ANTHROPIC : c->type == AH_CHANNEL_GEMINI ? AH_FMT_GEMINI : AH_FMT_OPENAI;
}

/** 1 while the client is still there to receive bytes */
static inline int ah_relay_client_alive(const ah_relay_t *r)
{
    return r->super.req != NULL && !r->client_gone;
}

/* relay.c */
void ah_relay_release(ah_relay_t *r);
/** the current attempt ended without committing a response: fail over or answer the client */
void ah_relay_attempt_failed(ah_relay_t *r);
/** the response ended (successfully or not): settle, log, and let go */
void ah_relay_finish(ah_relay_t *r, const char *outcome);
/** sends an error response (OpenAI shape) unless the client is gone or a response was committed */
void ah_relay_reply_error(ah_relay_t *r, int status, const char *type, const char *code, const char *msg, int64_t retry_after_s);

/* upstream.c */
/** starts the attempt on r->cur; 0, -1 when the transfer could not start (r->fail set), or -2 when the request
 *  cannot be expressed in this upstream's API (r->error says why: a 400 for the client) */
int ah_relay_upstream_start(ah_relay_t *r);
/** aborts the running transfer, if any */
void ah_relay_upstream_abort(ah_relay_t *r);

/* usage.c */
/** fills prompt/completion/cached tokens: the upstream's usage, or estimates (see docs/money.md) */
void ah_relay_usage_finalize(ah_relay_t *r);
/** folds the kept stream event data into r->gen_counter and empties gen_data */
void ah_relay_usage_fold(ah_relay_t *r);
/** the cost of the request's tokens: the asked model's price, else the upstream model's, else 0 */
int64_t ah_relay_cost(const ah_relay_t *r);
/** the hold at admission: estimated prompt and max tokens at the asked model's price, else the highest candidate price */
int64_t ah_relay_hold(const ah_relay_t *r, int64_t max_tokens);

/* downstream.c */
/** commits the response: status and headers to the client (content_length SIZE_MAX when unknown) */
void ah_relay_commit(ah_relay_t *r, const char *content_type, size_t content_length);
/** queues bytes for the client and sends what it can */
void ah_relay_write(ah_relay_t *r, const char *data, size_t len);
/** no more bytes: sends the rest with the final flag (or an error end when broken) */
void ah_relay_end(ah_relay_t *r);
/** bytes queued for the client and not yet written */
size_t ah_relay_queued(const ah_relay_t *r);

#endif
