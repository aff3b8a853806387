/*
 * Chat completions. A request is validated, counted, and matched against the behaviour table; then, after any
 * latency/hang delay (an h2o timer), it gets an injected error, a JSON completion, or an SSE stream.
 *
 * The content is C words "w1 w2 ... wC" (C = chunks), each word followed by its share of filler when response_bytes
 * asks for more text; the stream's deltas concatenate to exactly the non-streaming content.
 *
 * Per-request state (mock_chat_t) lives in the request pool. For streams and delayed answers it is allocated with
 * h2o_mem_alloc_shared, so that its dispose callback tells us when the client went away: it unlinks the timer and
 * counts the abort. A stream keeps at most one h2o_send outstanding and continues from proceed(), either at once
 * (several events batched per send) or after chunk_delay_ms. The event buffer is pool memory, reused after each
 * proceed() and valid until dispose.
 */
#include "chat.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "behavior.h"
#include "respond.h"
#include "stats.h"
#include "timers.h"

#define MOCK_BATCH_BYTES 16384  /* with no chunk delay, events are packed into sends of about this size */
#define MOCK_RESET_GRACE_MS 20  /* minimum pause between the last chunk sent and a reset_after_chunks cut */

#define MOCK_APPEND(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) += sizeof(lit) - 1)

typedef enum { MOCK_CHAT_WAITING, MOCK_CHAT_STREAMING, MOCK_CHAT_DONE } mock_chat_phase_t;

typedef struct st_mock_chat_t {
    h2o_generator_t gen; /* proceed/stop of a stream */
    h2o_req_t *req;      /* borrowed; valid while phase != DONE */
    h2o_timeout_entry_t timer;
    mock_params_t p;
    mock_chat_phase_t phase;
    int stream, include_usage;
    int stream_counted;        /* counted in active_streams until it ends */
    unsigned next;             /* next content chunk to emit, 0-based */
    size_t pad_total;          /* filler bytes over all chunks */
    size_t prompt_tokens;
    h2o_iovec_t head;          /* pool: 'data: {"id":..,"model":..,"choices":[' */
    h2o_iovec_t id_model;      /* pool: '"id":"..","object":"chat.completion","created":..,"model":..' */
    char *buf;                 /* pool: event buffer of cap bytes */
    size_t cap, ev_max, tail_max;
} mock_chat_t;

static atomic_ullong mock_next_id;

static const char mock_filler[] = " lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor";

static void mock_chat_emit(mock_chat_t *ctx);

/* Writes content piece i of n ("w<i+1>", a leading space after the first, then filler); returns its length. */
static size_t mock_piece(char *dst, unsigned i, unsigned n, size_t pad_total)
{
    char *p = dst;
    size_t pad = pad_total / n + (i < pad_total % n);

    if (i != 0)
        *p++ = ' ';
    *p++ = 'w';
    p += sprintf(p, "%u", i + 1);
    while (pad != 0) {
        size_t k = pad < sizeof(mock_filler) - 1 ? pad : sizeof(mock_filler) - 1;
        memcpy(p, mock_filler, k);
        p += k;
        pad -= k;
    }
    return (size_t)(p - dst);
}

/* Length of "w1 w2 ... wn" without filler: words of d digits take d + 2 bytes with their separator. */
static size_t mock_words_len(unsigned n)
{
    size_t len = 0;
    for (unsigned long long lo = 1, d = 1; lo <= n; lo *= 10, ++d)
        len += (d + 2) * ((n < lo * 10 - 1 ? n : lo * 10 - 1) - lo + 1);
    return len - 1;
}

static void mock_chat_send_failure(mock_chat_t *ctx)
{
    h2o_req_t *req = ctx->req;
    char *code = h2o_mem_alloc_pool(&req->pool, 48), *msg = code + 16;

    if (ctx->p.retry_after >= 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 16);
        int n = snprintf(v, 16, "%d", ctx->p.retry_after);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)n);
    }
    snprintf(code, 16, "mock_%d", ctx->p.status);
    snprintf(msg, 32, "mock failure %d", ctx->p.status);
    mock_stats_record_status(ctx->p.status);
    ctx->phase = MOCK_CHAT_DONE;
    mock_respond_error(req, ctx->p.status, "mock_error", code, msg, 0);
}

static void mock_chat_send_completion(mock_chat_t *ctx)
{
    h2o_req_t *req = ctx->req;
    unsigned n = ctx->p.chunks;
    size_t cap = ctx->id_model.len + mock_words_len(n) + ctx->pad_total + 256;
    char *buf = h2o_mem_alloc_pool(&req->pool, cap), *p = buf;

    MOCK_APPEND(p, "{");
    memcpy(p, ctx->id_model.base, ctx->id_model.len);
    p += ctx->id_model.len;
    MOCK_APPEND(p, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"");
    for (unsigned i = 0; i != n; ++i)
        p += mock_piece(p, i, n, ctx->pad_total);
    p += sprintf(p, "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%u,\"total_tokens\":%zu}}",
                 ctx->prompt_tokens, n, ctx->prompt_tokens + n);
    mock_stats_record_status(200);
    ctx->phase = MOCK_CHAT_DONE;
    mock_respond(req, 200, "application/json", h2o_iovec_init(buf, (size_t)(p - buf)));
}

/* The socket of an HTTP/1 request, or -1 (HTTP/2 streams share theirs). */
static int mock_http1_fd(h2o_req_t *req)
{
    h2o_socket_t *sock;
    if (req->version >= 0x200 || req->conn->callbacks->get_socket == NULL ||
        (sock = req->conn->callbacks->get_socket(req->conn)) == NULL)
        return -1;
    return h2o_socket_get_fd(sock);
}

/*
 * h2o 2.2.5 does not read an HTTP/1 socket while a request is being answered, so a client that closed it goes
 * unnoticed until a write fails. Before a delayed write, peek: EOF or an error means the client is gone.
 */
static int mock_http1_client_gone(h2o_req_t *req)
{
    char c;
    int fd = mock_http1_fd(req);
    ssize_t r = fd >= 0 ? recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) : 1;
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/*
 * Ends the response abruptly, counting it as `how`: HTTP/1 gets a TCP reset (SO_LINGER 0), HTTP/2 a RST_STREAM.
 * Does not touch req afterwards.
 */
static void mock_chat_abort(mock_chat_t *ctx, mock_stream_end_t how)
{
    static h2o_generator_t no_generator = {NULL, NULL};
    h2o_req_t *req = ctx->req;
    int fd = mock_http1_fd(req);
    struct linger lg = {1, 0};

    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    if (ctx->stream_counted)
        mock_stats_stream_end(how);
    else
        mock_stats_request_aborted();
    if (ctx->phase == MOCK_CHAT_WAITING) {
        req->res.status = 502; /* never seen: nothing but the reset reaches the client */
        h2o_start_response(req, &no_generator);
    }
    ctx->phase = MOCK_CHAT_DONE;
    ctx->stream_counted = 0;
    h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
}

/* Appends one content event for chunk i; returns the new end. */
static char *mock_chat_event(mock_chat_t *ctx, char *p, unsigned i)
{
    memcpy(p, ctx->head.base, ctx->head.len);
    p += ctx->head.len;
    if (i == 0)
        MOCK_APPEND(p, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"");
    else
        MOCK_APPEND(p, "{\"index\":0,\"delta\":{\"content\":\"");
    p += mock_piece(p, i, ctx->p.chunks, ctx->pad_total);
    MOCK_APPEND(p, "\"},\"finish_reason\":null}]}\n\n");
    return p;
}

/* Appends the finish event, the usage event when asked for, and [DONE]; returns the new end. */
static char *mock_chat_tail(mock_chat_t *ctx, char *p)
{
    memcpy(p, ctx->head.base, ctx->head.len);
    p += ctx->head.len;
    MOCK_APPEND(p, "{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    if (ctx->include_usage) {
        memcpy(p, ctx->head.base, ctx->head.len);
        p += ctx->head.len;
        p += sprintf(p, "],\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%u,\"total_tokens\":%zu}}\n\n",
                     ctx->prompt_tokens, ctx->p.chunks, ctx->prompt_tokens + ctx->p.chunks);
    }
    MOCK_APPEND(p, "data: [DONE]\n\n");
    return p;
}

/* The content chunk before which the stream is cut, or UINT_MAX. */
static unsigned mock_chat_reset_at(mock_chat_t *ctx)
{
    int r = ctx->p.reset_after_chunks;
    return r < 0 ? UINT_MAX : (unsigned)r < ctx->p.chunks ? (unsigned)r : ctx->p.chunks;
}

/* Sends the next batch of events (one event when there is a chunk delay), or the reset. */
static void mock_chat_emit(mock_chat_t *ctx)
{
    unsigned n = ctx->p.chunks, reset_at = mock_chat_reset_at(ctx);
    char *p = ctx->buf;
    int final = 0;

    if (ctx->next == reset_at) {
        mock_chat_abort(ctx, MOCK_STREAM_RESET);
        return;
    }
    for (;;) {
        p = mock_chat_event(ctx, p, ctx->next++);
        if (ctx->next == reset_at)
            break;
        if (ctx->next == n) {
            p = mock_chat_tail(ctx, p);
            final = 1;
            break;
        }
        if (ctx->p.chunk_delay_ms != 0 || ctx->cap - (size_t)(p - ctx->buf) < ctx->ev_max + ctx->tail_max)
            break;
    }
    h2o_iovec_t buf = h2o_iovec_init(ctx->buf, (size_t)(p - ctx->buf));
    if (final) {
        ctx->phase = MOCK_CHAT_DONE;
        ctx->stream_counted = 0;
        mock_stats_stream_end(MOCK_STREAM_COMPLETED);
    }
    h2o_send(ctx->req, &buf, 1, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void mock_chat_start_stream(mock_chat_t *ctx)
{
    h2o_req_t *req = ctx->req;
    size_t piece_max = 12 + ctx->pad_total / ctx->p.chunks + 1; /* " w" + up to 10 digits + filler share */
    char *p;

    p = ctx->head.base = h2o_mem_alloc_pool(&req->pool, ctx->id_model.len + 64);
    MOCK_APPEND(p, "data: {");
    memcpy(p, ctx->id_model.base, ctx->id_model.len);
    p += ctx->id_model.len;
    MOCK_APPEND(p, ",\"choices\":[");
    ctx->head.len = (size_t)(p - ctx->head.base);
    ctx->ev_max = ctx->head.len + piece_max + 128;
    ctx->tail_max = 2 * ctx->head.len + 256;
    ctx->cap = ctx->ev_max + ctx->tail_max + (ctx->p.chunk_delay_ms == 0 ? MOCK_BATCH_BYTES : 0);
    ctx->buf = h2o_mem_alloc_pool(&req->pool, ctx->cap);

    mock_stats_record_status(200);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    ctx->phase = MOCK_CHAT_STREAMING;
    h2o_start_response(req, &ctx->gen);
    mock_chat_emit(ctx);
}

/* The response proper, once any latency/hang delay is over. */
static void mock_chat_answer(mock_chat_t *ctx)
{
    if (ctx->p.status != 200)
        mock_chat_send_failure(ctx);
    else if (!ctx->stream)
        mock_chat_send_completion(ctx);
    else
        mock_chat_start_stream(ctx);
}

static void mock_chat_on_timer(h2o_timeout_entry_t *entry)
{
    mock_chat_t *ctx = H2O_STRUCT_FROM_MEMBER(mock_chat_t, timer, entry);
    if (mock_http1_client_gone(ctx->req))
        mock_chat_abort(ctx, MOCK_STREAM_ABORTED);
    else if (ctx->phase == MOCK_CHAT_WAITING)
        mock_chat_answer(ctx);
    else if (ctx->phase == MOCK_CHAT_STREAMING)
        mock_chat_emit(ctx);
}

static void mock_chat_on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    mock_chat_t *ctx = H2O_STRUCT_FROM_MEMBER(mock_chat_t, gen, gen);
    uint64_t wait = ctx->p.chunk_delay_ms;

    if (ctx->phase != MOCK_CHAT_STREAMING)
        return;
    /* a reset right behind the data can make the client drop chunks it has not read yet: give it a moment */
    if (wait < MOCK_RESET_GRACE_MS && ctx->next == mock_chat_reset_at(ctx))
        wait = MOCK_RESET_GRACE_MS;
    if (wait == 0 || mock_timer_start(req->conn->ctx->loop, &ctx->timer, wait) != 0)
        mock_chat_emit(ctx);
}

/* Pool dispose (and generator stop): the request is going away, so no callback may touch it afterwards. */
static void mock_chat_on_gone(void *_ctx)
{
    mock_chat_t *ctx = _ctx;
    h2o_timeout_unlink(&ctx->timer);
    if (ctx->stream_counted)
        mock_stats_stream_end(MOCK_STREAM_ABORTED);
    else if (ctx->phase == MOCK_CHAT_WAITING)
        mock_stats_request_aborted();
    ctx->stream_counted = 0;
    ctx->phase = MOCK_CHAT_DONE;
    ctx->req = NULL;
}

static void mock_chat_on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    mock_chat_on_gone(H2O_STRUCT_FROM_MEMBER(mock_chat_t, gen, gen));
}

/* Returns the bearer token of the authorization header, or NULL; *auth gets the header value (NULL when absent). */
static const char *mock_bearer(h2o_req_t *req, size_t *len, h2o_iovec_t *auth)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    *auth = i == -1 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
    if (auth->base == NULL || auth->len <= 7 || !h2o_lcstris(auth->base, 7, H2O_STRLIT("bearer ")))
        return NULL;
    const char *t = auth->base + 7, *end = auth->base + auth->len;
    while (t != end && *t == ' ')
        ++t;
    while (end != t && end[-1] == ' ')
        --end;
    *len = (size_t)(end - t);
    return t != end ? t : NULL;
}

/* Checks the request body; returns NULL when valid, else a message for the 400. */
static const char *mock_chat_validate(json_t *root, int *stream, int *include_usage)
{
    json_t *v, *opts;

    if (root == NULL || !json_is_object(root))
        return "We could not parse the JSON body of your request.";
    if (!json_is_string(v = json_object_get(root, "model")) || json_string_length(v) == 0)
        return "you must provide a model parameter";
    if (!json_is_array(json_object_get(root, "messages")))
        return "'messages' is a required property and must be an array";
    v = json_object_get(root, "stream");
    if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
        return "'stream' must be a boolean";
    *stream = json_is_true(v);
    opts = json_object_get(root, "stream_options");
    v = json_is_object(opts) ? json_object_get(opts, "include_usage") : NULL;
    if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
        return "'stream_options.include_usage' must be a boolean";
    *include_usage = json_is_true(v);
    return NULL;
}

void mock_chat_handle(h2o_req_t *req)
{
    h2o_iovec_t auth, body = req->entity.base != NULL ? req->entity : h2o_iovec_init("", 0);
    size_t keylen = 0;
    const char *key = mock_bearer(req, &keylen, &auth), *err;
    json_t *root = json_loadb(body.base, body.len, 0, NULL);
    int stream = 0, include_usage = 0;

    mock_stats_record_chat(key, keylen, body.base, body.len, json_is_object(root), auth.base, auth.len);
    if (key == NULL) {
        json_decref(root);
        mock_stats_record_status(401);
        mock_respond_error(req, 401, "invalid_request_error", "invalid_api_key",
                           "You didn't provide an API key. Use a Bearer token in the authorization header.", 1);
        return;
    }
    if ((err = mock_chat_validate(root, &stream, &include_usage)) != NULL) {
        json_decref(root);
        mock_stats_record_status(400);
        mock_respond_error(req, 400, "invalid_request_error", "invalid_request", err, 1);
        return;
    }

    mock_params_t p;
    mock_behavior_lookup(key, keylen, &p);
    uint64_t delay = (uint64_t)p.latency_ms + p.hang_ms;
    int watch = stream || delay != 0; /* async work: we need to hear when the request goes away */
    mock_chat_t *ctx = watch ? h2o_mem_alloc_shared(&req->pool, sizeof(*ctx), mock_chat_on_gone)
                             : h2o_mem_alloc_pool(&req->pool, sizeof(*ctx));
    *ctx = (mock_chat_t){.gen = {mock_chat_on_proceed, mock_chat_on_stop}, .req = req, .p = p, .stream = stream,
                         .include_usage = include_usage, .prompt_tokens = (body.len + 3) / 4};
    ctx->timer.cb = mock_chat_on_timer;
    size_t words = mock_words_len(p.chunks);
    ctx->pad_total = p.response_bytes > words ? p.response_bytes - words : 0;

    /* '"id":"chatcmpl-mock-N","object":"chat.completion[.chunk]","created":T,"model":M' */
    json_t *model = json_object_get(root, "model");
    h2o_iovec_t qmodel = mock_json_quote(&req->pool, json_string_value(model), json_string_length(model));
    json_decref(root);
    ctx->id_model.base = h2o_mem_alloc_pool(&req->pool, qmodel.len + 128);
    int n = snprintf(ctx->id_model.base, qmodel.len + 128, "\"id\":\"chatcmpl-mock-%llu\",\"object\":\"%s\",\"created\":%lld,\"model\":",
                     (unsigned long long)atomic_fetch_add_explicit(&mock_next_id, 1, memory_order_relaxed) + 1,
                     stream ? "chat.completion.chunk" : "chat.completion", (long long)time(NULL));
    memcpy(ctx->id_model.base + n, qmodel.base, qmodel.len);
    ctx->id_model.len = (size_t)n + qmodel.len;

    if (stream && p.status == 200) {
        ctx->stream_counted = 1;
        mock_stats_stream_begin();
    }
    if (delay == 0 || mock_timer_start(req->conn->ctx->loop, &ctx->timer, delay) != 0)
        mock_chat_answer(ctx);
}
