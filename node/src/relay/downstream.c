/*
 * The client side of the relay: commits the response and writes upstream
 * bytes to h2o with one send outstanding at a time (h2o's rule). While the
 * client is slow, bytes pile up in `pending`; past the high-water mark the
 * upstream transfer is paused (see upstream.c) and resumed from proceed().
 */
#include "http/buffer.h"
#include "relay/relay_internal.h"

size_t ah_relay_queued(const ah_relay_t *r)
{
    return (r->pending != NULL ? r->pending->size : 0) + (r->inflight != NULL ? r->inflight->size : 0);
}

static void do_send(ah_relay_t *r)
{
    h2o_req_t *req = r->super.req;
    if (r->sending || !ah_relay_client_alive(r) || r->finished == 2)
        return;
    int final = r->upstream_ended;
    if (r->pending->size == 0 && !final)
        return;
    h2o_buffer_t *t = r->inflight;
    r->inflight = r->pending;
    r->pending = t;
    h2o_iovec_t buf = h2o_iovec_init(r->inflight->bytes, r->inflight->size);
    h2o_send_state_t state = H2O_SEND_STATE_IN_PROGRESS;
    if (final) {
        /* a broken upstream stream still ends cleanly here: its error event is the last thing the client reads */
        state = H2O_SEND_STATE_FINAL;
        r->finished = 2; /* no h2o call on req after this */
    }
    r->sending = 1;
    h2o_send(req, &buf, buf.len != 0 ? 1 : 0, state);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    ah_relay_t *r = H2O_STRUCT_FROM_MEMBER(ah_relay_t, gen, gen);
    r->w->metrics.relay_buffered -= (int64_t)r->inflight->size;
    h2o_buffer_consume(&r->inflight, r->inflight->size);
    r->sending = 0;
    if (r->paused && r->easy != NULL && r->pending->size < AH_RELAY_HIGH_WATER / 2) {
        r->paused = 0;
        ah_curl_loop_unpause(r->w->curl, r->easy); /* may write synchronously */
    }
    do_send(r);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    ah_relay_t *r = H2O_STRUCT_FROM_MEMBER(ah_relay_t, gen, gen);
    /* the client went away mid-response: no h2o_send from now on; the pool watcher does the rest */
    r->client_gone = 1;
    ah_relay_upstream_abort(r);
}

void ah_relay_commit(ah_relay_t *r, const char *content_type, size_t content_length)
{
    h2o_req_t *req = r->super.req;
    r->committed = 1;
    r->final_status = 200;
    h2o_buffer_init(&r->pending, &h2o_socket_buffer_prototype);
    h2o_buffer_init(&r->inflight, &h2o_socket_buffer_prototype);
    r->gen.proceed = on_proceed;
    r->gen.stop = on_stop;
    if (req == NULL)
        return;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = content_length;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    if (r->stream) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0, NULL, H2O_STRLIT("no"));
    }
    h2o_start_response(req, &r->gen);
    if (r->stream) {
        /* send the headers now: SSE clients want to see the stream open before the first event */
        r->sending = 1;
        h2o_send(req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
    }
}

void ah_relay_write(ah_relay_t *r, const char *data, size_t len)
{
    if (!ah_relay_client_alive(r) || r->finished == 2)
        return;
    if (r->t_first_byte == 0 && len != 0) {
        r->t_first_byte = h2o_now(r->w->loop);
        ah_histogram_observe(&r->w->metrics.first_byte_latency, (r->t_first_byte - r->t_start) / 1000.0);
    }
    ah_buffer_append(&r->pending, data, len);
    r->w->metrics.relay_buffered += (int64_t)len;
    do_send(r);
}

void ah_relay_end(ah_relay_t *r)
{
    r->upstream_ended = 1;
    if (ah_relay_client_alive(r))
        do_send(r);
}
