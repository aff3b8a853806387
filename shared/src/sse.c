/*
 * sse.c: incremental Server-Sent Events parser and writers (see aihub/sse.h).
 *
 * Two steps per event. A byte scanner finds where the event ends; its state
 * (at line start, last byte CR, ended on CR) survives between feeds, so
 * each byte is scanned once however the stream is split. Then the fields of
 * the complete event are read from its raw bytes.
 *
 * Fast path: when nothing is pending and an event lies wholly inside the
 * fed buffer, the callback gets pointers into the caller's buffer and
 * nothing is copied. Only the tail of a buffer (an incomplete event) is
 * copied into p->buf, and the next feed appends just the bytes up to that
 * event's end. Data of an event with one data line points into raw; only
 * several data lines are joined into p->scratch.
 *
 * A blank line ending in CR needs one byte of look-ahead: an LF right after
 * belongs to it. When the CR is the last byte fed, the event waits for the
 * next feed (or ah_sse_finish), so every split of a stream yields the same
 * events with the same raw bytes. A stray blank line between events is
 * delivered as an empty event, so the raw bytes of all events concatenate
 * to exactly the input.
 */
#include "aihub/sse.h"

#include <stdlib.h>
#include <string.h>

#include "aihub/mem.h"

static void reset_scan(ah_sse_parser_t *p)
{
    p->at_line_start = 1;
    p->prev_cr = 0;
    p->ended = 0;
}

void ah_sse_init(ah_sse_parser_t *p, size_t max_event_bytes)
{
    memset(p, 0, sizeof(*p));
    p->max_event_bytes = max_event_bytes != 0 ? max_event_bytes : AH_SSE_DEFAULT_MAX_EVENT;
    reset_scan(p);
}

void ah_sse_dispose(ah_sse_parser_t *p)
{
    free(p->buf);
    free(p->scratch);
    p->buf = p->scratch = NULL;
    p->len = p->cap = p->scratch_cap = 0;
}

size_t ah_sse_pending(const ah_sse_parser_t *p)
{
    return p->len;
}

/*
 * Advances the scanner over s[0..n). Returns 1 with *end set when the
 * current event ends within s (its last byte is s[*end - 1]; *end is 0 when
 * it ended just before s), or 0 when all of s belongs to the unfinished event.
 */
static int scan(ah_sse_parser_t *p, const char *s, size_t n, size_t *end)
{
    if (p->ended) {
        if (n == 0)
            return 0;
        *end = s[0] == '\n' ? 1 : 0;
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!p->at_line_start) {
            /* Inside a line (so prev_cr is 0): skip to the next CR or LF. */
            const char *nl = memchr(s + i, '\n', n - i);
            size_t lim = nl != NULL ? (size_t)(nl - s) : n;
            const char *cr = memchr(s + i, '\r', lim - i);
            i = cr != NULL ? (size_t)(cr - s) : lim;
            if (i == n)
                break;
        }
        char c = s[i];
        if (c == '\n') {
            if (p->prev_cr) {
                p->prev_cr = 0; /* second half of a CRLF */
            } else if (p->at_line_start) {
                *end = i + 1;
                return 1;
            } else {
                p->at_line_start = 1;
            }
        } else if (c == '\r') {
            if (p->at_line_start) {
                if (i + 1 < n) {
                    *end = i + 1 + (s[i + 1] == '\n');
                    return 1;
                }
                p->ended = 1;
                return 0;
            }
            p->at_line_start = 1;
            p->prev_cr = 1;
        } else {
            p->at_line_start = 0;
            p->prev_cr = 0;
        }
    }
    return 0;
}

static void ensure(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t ncap = *cap != 0 ? *cap : 256;
    while (ncap < need)
        ncap *= 2;
    *buf = ah_mem_realloc(*buf, ncap);
    *cap = ncap;
}

static void append(ah_sse_parser_t *p, const char *s, size_t n)
{
    if (n == 0)
        return;
    ensure(&p->buf, &p->cap, p->len + n);
    memcpy(p->buf + p->len, s, n);
    p->len += n;
}

/* Reads the fields of one complete event and calls cb. */
static int deliver(ah_sse_parser_t *p, const char *raw, size_t raw_len, ah_sse_event_cb cb, void *ud)
{
    ah_sse_event_t ev = {raw, raw_len, NULL, 0, NULL, 0};
    const char *data = NULL;
    size_t data_len = 0, ndata = 0, i = 0;

    while (i < raw_len) {
        const char *line = raw + i;
        size_t ll = 0;
        while (i + ll < raw_len && line[ll] != '\n' && line[ll] != '\r')
            ll++;
        if (ll == 0)
            break; /* the blank line */
        i += ll;
        if (i < raw_len)
            i += raw[i] == '\r' && i + 1 < raw_len && raw[i + 1] == '\n' ? 2 : 1;
        if (line[0] == ':')
            continue; /* comment */

        const char *colon = memchr(line, ':', ll);
        size_t name_len = colon != NULL ? (size_t)(colon - line) : ll;
        const char *value = colon != NULL ? colon + 1 : line + ll;
        size_t vlen = colon != NULL ? ll - name_len - 1 : 0;
        if (vlen > 0 && value[0] == ' ') {
            value++;
            vlen--;
        }
        if (name_len == 5 && memcmp(line, "event", 5) == 0) {
            ev.event = value;
            ev.event_len = vlen;
        } else if (name_len == 4 && memcmp(line, "data", 4) == 0) {
            if (ndata == 0) {
                data = value;
                data_len = vlen;
            } else {
                if (ndata == 1) {
                    /* Joined data is never longer than raw, so this is the only growth. */
                    ensure(&p->scratch, &p->scratch_cap, raw_len);
                    memmove(p->scratch, data, data_len);
                    data = p->scratch;
                }
                p->scratch[data_len] = '\n';
                memcpy(p->scratch + data_len + 1, value, vlen);
                data_len += 1 + vlen;
            }
            ndata++;
        }
    }
    ev.data = data;
    ev.data_len = data_len;
    return cb(ud, &ev);
}

int ah_sse_feed(ah_sse_parser_t *p, const char *data, size_t len, ah_sse_event_cb cb, void *ud)
{
    if (p->error != 0)
        return p->error;
    size_t off = 0;
    while (off < len) {
        size_t end = 0;
        if (!scan(p, data + off, len - off, &end)) {
            if (p->len + (len - off) > p->max_event_bytes)
                goto toobig;
            append(p, data + off, len - off);
            return 0;
        }
        if (p->len + end > p->max_event_bytes)
            goto toobig;

        const char *raw = data + off;
        size_t raw_len = end;
        if (p->len != 0) {
            append(p, data + off, end);
            raw = p->buf;
            raw_len = p->len;
        }
        off += end;
        reset_scan(p);
        int rc = deliver(p, raw, raw_len, cb, ud);
        p->len = 0;
        if (rc != 0)
            return rc;
    }
    return 0;

toobig:
    p->len = 0;
    p->error = AH_SSE_ETOOBIG;
    return p->error;
}

int ah_sse_finish(ah_sse_parser_t *p, ah_sse_event_cb cb, void *ud)
{
    int rc = p->error;
    if (rc == 0 && p->ended)
        rc = deliver(p, p->buf, p->len, cb, ud);
    else if (rc == 0 && p->len != 0)
        rc = AH_SSE_ETRUNCATED;
    p->len = 0;
    p->error = 0;
    reset_scan(p);
    return rc;
}

/* Writes s[0..n) at out + *pos if it fits in cap; always advances *pos. */
static void put(char *out, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (out != NULL && *pos + n <= cap && n != 0)
        memcpy(out + *pos, s, n);
    *pos += n;
}

/* Writes (or, with out NULL, only measures) an event; returns its size. */
static size_t emit(char *out, size_t cap, const char *event, const char *data, size_t len)
{
    size_t pos = 0, i = 0;
    if (data == NULL)
        data = "", len = 0;
    if (event != NULL) {
        put(out, cap, &pos, "event: ", 7);
        put(out, cap, &pos, event, strcspn(event, "\r\n"));
        put(out, cap, &pos, "\n", 1);
    }
    /* One data line per line of data, so a line break in it cannot end the event early. */
    for (;;) {
        size_t ll = 0;
        while (i + ll < len && data[i + ll] != '\n' && data[i + ll] != '\r')
            ll++;
        put(out, cap, &pos, "data: ", 6);
        put(out, cap, &pos, data + i, ll);
        put(out, cap, &pos, "\n", 1);
        i += ll;
        if (i == len)
            break;
        i += data[i] == '\r' && i + 1 < len && data[i + 1] == '\n' ? 2 : 1;
    }
    put(out, cap, &pos, "\n", 1);
    return pos;
}

size_t ah_sse_format_event(char *out, size_t cap, const char *event, const char *data, size_t len)
{
    size_t need = emit(NULL, 0, event, data, len);
    if (out != NULL && need <= cap)
        emit(out, cap, event, data, len);
    return need;
}

size_t ah_sse_format_data(char *out, size_t cap, const char *json, size_t len)
{
    return ah_sse_format_event(out, cap, NULL, json, len);
}
