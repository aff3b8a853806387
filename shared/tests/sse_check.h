/*
 * sse_check.h: helpers shared by test_sse.c and fuzz_sse.c.
 *
 * A recorder that copies every event the parser delivers, a runner that
 * feeds one stream whole, byte by byte or in pseudo-random chunks (each
 * chunk in its own exact-size allocation, so a read past a chunk shows up
 * under ASan), and a deliberately naive whole-input reference parser to
 * compare against. Any split of a stream must give the reference's events.
 */
#ifndef AIHUB_SSE_CHECK_H
#define AIHUB_SSE_CHECK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aihub/sse.h"

typedef struct {
    char *raw, *event, *data; /* copies; event/data NULL when absent */
    size_t raw_len, event_len, data_len;
    int zero_copy; /* raw pointed into the caller's buffer */
} rec_event_t;

typedef struct {
    rec_event_t *ev;
    size_t n, cap;
    int rc;         /* first nonzero result of a feed, else the result of finish */
    size_t stop_at; /* callback returns 7 at this event (1-based); 0 = never */
    const char *chunk;
    size_t chunk_len; /* the buffer being fed, to detect zero-copy delivery */
} rec_t;

static char *sc_dup(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d == NULL)
        abort();
    if (n != 0)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

static void rec_add(rec_t *r, const char *raw, size_t raw_len, const char *event, size_t event_len, const char *data, size_t data_len)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->ev = realloc(r->ev, r->cap * sizeof(*r->ev));
        if (r->ev == NULL)
            abort();
    }
    rec_event_t *e = &r->ev[r->n++];
    e->raw = sc_dup(raw, raw_len);
    e->raw_len = raw_len;
    e->event = event != NULL ? sc_dup(event, event_len) : NULL;
    e->event_len = event_len;
    e->data = data != NULL ? sc_dup(data, data_len) : NULL;
    e->data_len = data_len;
    e->zero_copy = 0;
}

static int rec_cb(void *ud, const ah_sse_event_t *ev)
{
    rec_t *r = ud;
    rec_add(r, ev->raw, ev->raw_len, ev->event, ev->event_len, ev->data, ev->data_len);
    uintptr_t p = (uintptr_t)ev->raw, c = (uintptr_t)r->chunk;
    r->ev[r->n - 1].zero_copy = r->chunk != NULL && p >= c && p + ev->raw_len <= c + r->chunk_len;
    return r->stop_at != 0 && r->n == r->stop_at ? 7 : 0;
}

static void rec_free(rec_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->ev[i].raw);
        free(r->ev[i].event);
        free(r->ev[i].data);
    }
    free(r->ev);
    memset(r, 0, sizeof(*r));
}

static int sc_mem_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    if ((a == NULL) != (b == NULL))
        return 0;
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* 1 if both recordings hold the same events and result. */
static int rec_equal(const rec_t *a, const rec_t *b)
{
    if (a->n != b->n || a->rc != b->rc)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const rec_event_t *x = &a->ev[i], *y = &b->ev[i];
        if (!sc_mem_eq(x->raw, x->raw_len, y->raw, y->raw_len) || !sc_mem_eq(x->event, x->event_len, y->event, y->event_len) ||
            !sc_mem_eq(x->data, x->data_len, y->data, y->data_len))
            return 0;
    }
    return 1;
}

/* Split modes for sc_run. */
enum { SC_WHOLE, SC_BYTES, SC_RANDOM };

static uint32_t sc_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Feeds in[0..len) split by mode (SC_RANDOM: chunks of 1..maxchunk from seed), then finishes. */
static void sc_run(const char *in, size_t len, size_t max_event, int mode, uint32_t seed, size_t maxchunk, rec_t *r)
{
    ah_sse_parser_t p;
    ah_sse_init(&p, max_event);
    r->rc = 0;
    size_t off = 0;
    while (off < len && r->rc == 0) {
        size_t n = mode == SC_WHOLE ? len : mode == SC_BYTES ? 1 : 1 + sc_rand(&seed) % maxchunk;
        if (n > len - off)
            n = len - off;
        char *chunk = sc_dup(in + off, n);
        r->chunk = chunk;
        r->chunk_len = n;
        r->rc = ah_sse_feed(&p, chunk, n, rec_cb, r);
        r->chunk = NULL;
        free(chunk);
        off += n;
    }
    if (r->rc == 0)
        r->rc = ah_sse_finish(&p, rec_cb, r);
    ah_sse_dispose(&p);
}

/* Appends one field line to the reference event under construction. */
static void ref_field(const char *line, size_t ll, const char **event, size_t *event_len, char **data, size_t *data_len, int *has_data)
{
    if (ll == 0 || line[0] == ':')
        return;
    size_t name = 0;
    while (name < ll && line[name] != ':')
        name++;
    const char *v = line + name;
    size_t vl = 0;
    if (name < ll) {
        v++;
        vl = ll - name - 1;
        if (vl > 0 && *v == ' ')
            v++, vl--;
    }
    if (name == 5 && memcmp(line, "event", 5) == 0) {
        *event = v;
        *event_len = vl;
    } else if (name == 4 && memcmp(line, "data", 4) == 0) {
        *data = realloc(*data, *data_len + vl + 2);
        if (*data == NULL)
            abort();
        if (*has_data)
            (*data)[(*data_len)++] = '\n';
        if (vl != 0)
            memcpy(*data + *data_len, v, vl);
        *data_len += vl;
        *has_data = 1;
    }
}

/* The reference: the whole input at once, line by line, as the SSE spec reads it. */
static void ref_parse(const char *in, size_t len, size_t max_event, rec_t *r)
{
    size_t i = 0, start = 0;
    const char *event = NULL;
    size_t event_len = 0, data_len = 0;
    char *data = NULL;
    int has_data = 0;
    r->rc = 0;
    if (max_event == 0)
        max_event = AH_SSE_DEFAULT_MAX_EVENT;
    while (i < len) {
        size_t j = i;
        while (j < len && in[j] != '\r' && in[j] != '\n')
            j++;
        if (j == len)
            break;
        size_t term = in[j] == '\r' && j + 1 < len && in[j + 1] == '\n' ? 2 : 1;
        if (j == i) {
            size_t raw_len = j + term - start;
            if (raw_len > max_event) {
                r->rc = AH_SSE_ETOOBIG;
                free(data);
                return;
            }
            rec_add(r, in + start, raw_len, event, event_len, has_data ? (data ? data : "") : NULL, data_len);
            event = NULL;
            event_len = data_len = 0;
            has_data = 0;
            start = j + term;
        } else {
            ref_field(in + i, j - i, &event, &event_len, &data, &data_len, &has_data);
        }
        i = j + term;
    }
    free(data);
    if (len - start > max_event)
        r->rc = AH_SSE_ETOOBIG;
    else if (len > start)
        r->rc = AH_SSE_ETRUNCATED;
}

#endif
