/*
 * The completion engine. A dialect validates and counts its request, then creates a mock_completion_t, which is matched
 * against the behaviour table; after any latency/hang delay (an h2o timer) it gets an injected error, a complete body,
 * or a stream, all formatted by the dialect.
 *
 * The text content is C words "w1 w2 ... wC" (C = chunks), each word followed by its share of filler when
 * response_bytes asks for more text; the stream's deltas concatenate to exactly the non-streaming content. A tool answer
 * has fixed pieces instead (the dialect formats them).
 *
 * Per-request state lives in the request pool. For streams and delayed answers it is allocated with
 * h2o_mem_alloc_shared, so that its dispose callback tells us when the client went away: it unlinks the timer and
 * counts the abort. A stream keeps at most one h2o_send outstanding and continues from proceed(), either at once
 * (several events batched per send) or after chunk_delay_ms. The event buffer is pool memory, reused after each
 * proceed() and valid until dispose.
 */
#include "completion.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>

#include "respond.h"
#include "timers.h"

#define MOCK_BATCH_BYTES 16384  /* with no chunk delay, events are packed into sends of about this size */
#define MOCK_RESET_GRACE_MS 20  /* minimum pause between the last chunk sent and a reset_after_chunks cut */

static atomic_ullong mock_next_id;

static const char mock_filler[] = " lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor";

static void mock_completion_emit(mock_completion_t *c);

char *mock_text_piece(mock_completion_t *c, char *p, unsigned i)
{
    unsigned n = c->p.chunks;
    size_t pad = c->pad_total / n + (i < c->pad_total % n);

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
    return p;
}

size_t mock_text_piece_max(mock_completion_t *c)
{
    return 12 + c->pad_total / c->p.chunks + 1; /* " w" + up to 10 digits + filler share */
}

char *mock_text_all(mock_completion_t *c, char *p)
{
    for (unsigned i = 0; i != c->p.chunks; ++i)
        p = mock_text_piece(c, p, i);
    return p;
}

/* Length of "w1 w2 ... wn" without filler: words of d digits take d + 2 bytes with their separator. */
static size_t mock_words_len(unsigned n)
{
    size_t len = 0;
    for (unsigned long long lo = 1, d = 1; lo <= n; lo *= 10, ++d)
        len += (d + 2) * ((n < lo * 10 - 1 ? n : lo * 10 - 1) - lo + 1);
    return len - 1;
}

size_t mock_text_len(mock_completion_t *c)
{
    return c->tool.len != 0 ? 0 : mock_words_len(c->p.chunks) + c->pad_total;
}

h2o_iovec_t mock_req_header(h2o_req_t *req, const char *name, size_t name_len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, name_len, -1);
    return i == -1 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

const char *mock_bearer(h2o_iovec_t auth, size_t *len)
{
    if (auth.base == NULL || auth.len <= 7 || !h2o_lcstris(auth.base, 7, H2O_STRLIT("bearer ")))
        return NULL;
    const char *t = auth.base + 7, *end = auth.base + auth.len;
    while (t != end && *t == ' ')
        ++t;
    while (end != t && end[-1] == ' ')
        --end;
    *len = (size_t)(end - t);
    return t != end ? t : NULL;
}

void mock_record_request(h2o_req_t *req, mock_api_t api, const char *key, size_t keylen, h2o_iovec_t body, int body_is_object)
{
    /* the API headers a test may want to see (how the gateway called us), joined with ", " when repeated */
    static const h2o_iovec_t names[] = {{H2O_STRLIT("anthropic-version")}, {H2O_STRLIT("anthropic-beta")},
                                        {H2O_STRLIT("x-goog-api-client")}, {H2O_STRLIT("x-api-key")},
                                        {H2O_STRLIT("x-goog-api-key")}};
    h2o_iovec_t auth = mock_req_header(req, H2O_STRLIT("authorization"));
    json_t *headers = NULL;

    /* one pass over the headers; most requests (OpenAI chat) have none of these, and then nothing is allocated */
    for (size_t i = 0; i != req->headers.size; ++i) {
        h2o_iovec_t name = *req->headers.entries[i].name, val = req->headers.entries[i].value;
        size_t k;
        json_t *v;
        if (name.len == 0 || (name.base[0] != 'a' && name.base[0] != 'x'))
            continue;
        for (k = 0; k != sizeof(names) / sizeof(names[0]) && !h2o_memis(name.base, name.len, names[k].base, names[k].len); ++k)
            ;
        if (k == sizeof(names) / sizeof(names[0]) || (headers == NULL && (headers = json_object()) == NULL))
            continue;
        if ((v = json_object_get(headers, names[k].base)) == NULL) {
            json_object_set_new(headers, names[k].base, json_stringn(val.base, val.len));
        } else {
            size_t old = json_string_length(v);
            char *s = malloc(old + 2 + val.len);
            if (s != NULL) {
                memcpy(s, json_string_value(v), old);
                memcpy(s + old, ", ", 2);
                memcpy(s + old + 2, val.base, val.len);
                json_string_setn(v, s, old + 2 + val.len);
                free(s);
            }
        }
    }
    mock_stats_record_request(&(mock_stats_req_t){.api = api, .key = key, .keylen = keylen, .body = body.base,
                                                  .bodylen = body.len, .body_is_object = body_is_object,
                                                  .auth = auth.base, .authlen = auth.len, .path = req->path.base,
                                                  .pathlen = req->path.len, .headers = headers});
}

/* 1 when s contains "use a tool", ASCII case-insensitively. */
static int mock_has_trigger(const char *s, size_t len)
{
    static const char t[] = "use a tool";
    for (size_t i = 0; i + sizeof(t) - 1 <= len; ++i)
        if (h2o_lcstris(s + i, sizeof(t) - 1, t, sizeof(t) - 1))
            return 1;
    return 0;
}

json_t *mock_tool_if_asked(json_t *name, json_t *turns, int role_optional, const char *content_key)
{
    json_t *last = json_array_get(turns, json_array_size(turns) - 1);
    return mock_asks_for_tool(json_object_get(last, "role"), role_optional, json_object_get(last, content_key)) ? name : NULL;
}

int mock_asks_for_tool(json_t *role, int role_optional, json_t *content)
{
    size_t i;
    json_t *part, *text;

    if (role == NULL ? !role_optional : !json_is_string(role) || strcmp(json_string_value(role), "user") != 0)
        return 0;
    if (json_is_string(content))
        return mock_has_trigger(json_string_value(content), json_string_length(content));
    json_array_foreach(content, i, part) {
        if (json_is_string(text = json_object_get(part, "text")) && mock_has_trigger(json_string_value(text), json_string_length(text)))
            return 1;
    }
    return 0;
}

static void mock_completion_send_failure(mock_completion_t *c)
{
    h2o_req_t *req = c->req;
    char msg[32];

    if (c->p.retry_after >= 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 16);
        int n = snprintf(v, 16, "%d", c->p.retry_after);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)n);
    }
    snprintf(msg, sizeof(msg), "mock failure %d", c->p.status);
    mock_stats_record_status(c->p.status);
    c->phase = MOCK_PHASE_DONE;
    c->d->failure(c, msg);
}

static void mock_completion_send_body(mock_completion_t *c)
{
    h2o_iovec_t body = c->d->body(c);
    mock_stats_record_status(200);
    c->phase = MOCK_PHASE_DONE;
    mock_respond(c->req, 200, "application/json", body);
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
    char ch;
    int fd = mock_http1_fd(req);
    ssize_t r = fd >= 0 ? recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) : 1;
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/*
 * Ends the response abruptly, counting it as `how`: HTTP/1 gets a TCP reset (SO_LINGER 0), HTTP/2 a RST_STREAM.
 * Does not touch req afterwards.
 */
static void mock_completion_abort(mock_completion_t *c, mock_stream_end_t how)
{
    static h2o_generator_t no_generator = {NULL, NULL};
    h2o_req_t *req = c->req;
    int fd = mock_http1_fd(req);
    struct linger lg = {1, 0};

    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    if (c->stream_counted)
        mock_stats_stream_end(how);
    else
        mock_stats_request_aborted();
    if (c->phase == MOCK_PHASE_WAITING) {
        req->res.status = 502; /* never seen: nothing but the reset reaches the client */
        h2o_start_response(req, &no_generator);
    }
    c->phase = MOCK_PHASE_DONE;
    c->stream_counted = 0;
    h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
}

/* The content chunk before which the stream is cut, or UINT_MAX. */
static unsigned mock_completion_reset_at(mock_completion_t *c)
{
    int r = c->p.reset_after_chunks;
    return r < 0 ? UINT_MAX : (unsigned)r < c->n ? (unsigned)r : c->n;
}

/*
 * Sends the next batch of events (one content event when there is a chunk delay; the first send carries the preamble),
 * or the reset. A reset before the first chunk still lets a non-empty preamble out first.
 */
static void mock_completion_emit(mock_completion_t *c)
{
    unsigned n = c->n, reset_at = mock_completion_reset_at(c);
    char *p = c->buf;
    int final = 0;

    if (!c->preamble_sent) {
        c->preamble_sent = 1;
        p = c->d->preamble(c, p);
    }
    if (c->next == reset_at) {
        if (p == c->buf) {
            mock_completion_abort(c, MOCK_STREAM_RESET);
            return;
        }
    } else {
        for (;;) {
            p = c->d->event(c, p, c->next++);
            if (c->next == reset_at)
                break;
            if (c->next == n) {
                p = c->d->tail(c, p);
                final = 1;
                break;
            }
            if (c->p.chunk_delay_ms != 0 || c->cap - (size_t)(p - c->buf) < c->ev_max + c->tail_max)
                break;
        }
    }
    assert((size_t)(p - c->buf) <= c->cap); /* the dialect's size bounds held */
    h2o_iovec_t buf = h2o_iovec_init(c->buf, (size_t)(p - c->buf));
    if (final) {
        c->phase = MOCK_PHASE_DONE;
        c->stream_counted = 0;
        mock_stats_stream_end(MOCK_STREAM_COMPLETED);
    }
    h2o_send(c->req, &buf, 1, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void mock_completion_start_stream(mock_completion_t *c)
{
    h2o_req_t *req = c->req;
    const char *type = c->stream_type != NULL ? c->stream_type : "text/event-stream";

    c->d->stream_setup(c);
    c->cap = c->preamble_max + c->ev_max + c->tail_max + (c->p.chunk_delay_ms == 0 ? MOCK_BATCH_BYTES : 0);
    c->buf = h2o_mem_alloc_pool(&req->pool, c->cap);

    mock_stats_record_status(200);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    c->phase = MOCK_PHASE_STREAMING;
    h2o_start_response(req, &c->gen);
    mock_completion_emit(c);
}

/* The response proper, once any latency/hang delay is over. */
static void mock_completion_answer(mock_completion_t *c)
{
    if (c->p.status != 200)
        mock_completion_send_failure(c);
    else if (!c->stream)
        mock_completion_send_body(c);
    else
        mock_completion_start_stream(c);
}

static void mock_completion_on_timer(h2o_timeout_entry_t *entry)
{
    mock_completion_t *c = H2O_STRUCT_FROM_MEMBER(mock_completion_t, timer, entry);
    if (mock_http1_client_gone(c->req))
        mock_completion_abort(c, MOCK_STREAM_ABORTED);
    else if (c->phase == MOCK_PHASE_WAITING)
        mock_completion_answer(c);
    else if (c->phase == MOCK_PHASE_STREAMING)
        mock_completion_emit(c);
}

static void mock_completion_on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    mock_completion_t *c = H2O_STRUCT_FROM_MEMBER(mock_completion_t, gen, gen);
    uint64_t wait = c->p.chunk_delay_ms;

    if (c->phase != MOCK_PHASE_STREAMING)
        return;
    /* a reset right behind the data can make the client drop chunks it has not read yet: give it a moment */
    if (wait < MOCK_RESET_GRACE_MS && c->next == mock_completion_reset_at(c))
        wait = MOCK_RESET_GRACE_MS;
    if (wait == 0 || mock_timer_start(req->conn->ctx->loop, &c->timer, wait) != 0)
        mock_completion_emit(c);
}

/* Pool dispose (and generator stop): the request is going away, so no callback may touch it afterwards. */
static void mock_completion_on_gone(void *_c)
{
    mock_completion_t *c = _c;
    h2o_timeout_unlink(&c->timer);
    if (c->stream_counted)
        mock_stats_stream_end(MOCK_STREAM_ABORTED);
    else if (c->phase == MOCK_PHASE_WAITING)
        mock_stats_request_aborted();
    c->stream_counted = 0;
    c->phase = MOCK_PHASE_DONE;
    c->req = NULL;
}

static void mock_completion_on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    mock_completion_on_gone(H2O_STRUCT_FROM_MEMBER(mock_completion_t, gen, gen));
}

mock_completion_t *mock_completion_new(h2o_req_t *req, const mock_dialect_t *d, const char *key, size_t keylen, int stream,
                                       const char *model, size_t model_len, const char *tool, size_t tool_len)
{
    mock_params_t p;
    mock_behavior_lookup(key, keylen, &p);
    uint64_t delay = (uint64_t)p.latency_ms + p.hang_ms;
    int watch = stream || delay != 0; /* async work: we need to hear when the request goes away */
    mock_completion_t *c = watch ? h2o_mem_alloc_shared(&req->pool, sizeof(*c), mock_completion_on_gone)
                                 : h2o_mem_alloc_pool(&req->pool, sizeof(*c));

    *c = (mock_completion_t){.gen = {mock_completion_on_proceed, mock_completion_on_stop},
                             .req = req,
                             .d = d,
                             .p = p,
                             .stream = stream,
                             .n = tool != NULL ? 2 : p.chunks,
                             .id = atomic_fetch_add_explicit(&mock_next_id, 1, memory_order_relaxed) + 1,
                             .prompt_tokens = (req->entity.len + 3) / 4,
                             .completion_tokens = tool != NULL ? MOCK_TOOL_TOKENS : p.chunks,
                             .model = mock_json_quote(&req->pool, model, model_len)};
    c->timer.cb = mock_completion_on_timer;
    if (tool != NULL) {
        c->tool = mock_json_quote(&req->pool, tool, tool_len);
    } else {
        size_t words = mock_words_len(p.chunks);
        c->pad_total = p.response_bytes > words ? p.response_bytes - words : 0;
    }
    return c;
}

void mock_completion_run(mock_completion_t *c)
{
    uint64_t delay = (uint64_t)c->p.latency_ms + c->p.hang_ms;

    if (c->stream && c->p.status == 200) {
        c->stream_counted = 1;
        mock_stats_stream_begin();
    }
    if (delay == 0 || mock_timer_start(c->req->conn->ctx->loop, &c->timer, delay) != 0)
        mock_completion_answer(c);
}
