/*
 * test_translate_common.c: helpers of the translation suites, #included by
 * each test_translate_*.c (one executable per suite).
 *
 * Fixtures live in tests/fixtures/translate (AH_TRANSLATE_FIXTURES):
 * JSON files of named cases for requests and responses, and recorded-shape
 * SSE streams with the client streams expected from them. Expected JSON is
 * compared structurally and exactly (same keys, same values, same types),
 * except that the string "<any>" matches any value: for generated ids and
 * timestamps.
 *
 * Setting AH_TRANSLATE_SHOW=1 prints each actual result, which is how a new
 * expectation is drafted before it is checked by hand against the
 * providers' documentation.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aihub/sse.h"
#include "aihub/translate.h"
#include "tap.h"

#ifndef AH_TRANSLATE_FIXTURES
#define AH_TRANSLATE_FIXTURES "shared/tests/fixtures/translate"
#endif

/* helpers a suite may not use */
#define TT_UNUSED __attribute__((unused))

static char tt_name[512];

/* a test name from a format (cut to fit) */
__attribute__((format(printf, 1, 2))) static const char *tt_nm(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tt_name, sizeof(tt_name), fmt, ap);
    va_end(ap);
    return tt_name;
}

TT_UNUSED static int tt_show(void)
{
    const char *s = getenv("AH_TRANSLATE_SHOW");
    return s != NULL && *s == '1';
}

/* the whole file under the fixtures directory, NUL-terminated (caller frees); aborts if missing */
TT_UNUSED static char *tt_read(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", AH_TRANSLATE_FIXTURES, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s == NULL || fread(s, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read fixture %s\n", path);
        exit(2);
    }
    fclose(f);
    s[n] = '\0';
    if (len != NULL)
        *len = (size_t)n;
    return s;
}

TT_UNUSED static json_t *tt_load(const char *rel)
{
    char *s = tt_read(rel, NULL);
    json_error_t jerr;
    json_t *v = json_loads(s, 0, &jerr);
    if (v == NULL) {
        fprintf(stderr, "fixture %s: line %d: %s\n", rel, jerr.line, jerr.text);
        exit(2);
    }
    free(s);
    return v;
}

TT_UNUSED static ah_format_t tt_format(const char *name)
{
    if (name != NULL && strcmp(name, "anthropic") == 0)
        return AH_FMT_ANTHROPIC;
    if (name != NULL && strcmp(name, "gemini") == 0)
        return AH_FMT_GEMINI;
    return AH_FMT_OPENAI;
}

/* structural match of got against want ("<any>" in want matches anything); on a mismatch writes its path into where */
TT_UNUSED static int tt_match(const json_t *want, const json_t *got, char *where, size_t cap, const char *path)
{
    char sub[512];
    if (want == NULL || got == NULL) {
        if (want != got)
            snprintf(where, cap, "%s: present in only one of them", *path ? path : "(top)");
        return want == got;
    }
    if (json_is_string(want) && strcmp(json_string_value(want), "<any>") == 0 && got != NULL)
        return 1;
    if (got == NULL || json_typeof(want) != json_typeof(got)) {
        snprintf(where, cap, "%s: type or presence differs", *path ? path : "(top)");
        return 0;
    }
    if (json_is_object(want)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)want, k, v)
        {
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            if (!tt_match(v, json_object_get(got, k), where, cap, sub))
                return 0;
        }
        json_object_foreach((json_t *)got, k, v)
        {
            if (json_object_get(want, k) == NULL) {
                snprintf(where, cap, "%s.%s: not expected", path, k);
                return 0;
            }
        }
        return 1;
    }
    if (json_is_array(want)) {
        if (json_array_size(want) != json_array_size(got)) {
            snprintf(where, cap, "%s: %zu elements, expected %zu", *path ? path : "(top)", json_array_size(got), json_array_size(want));
            return 0;
        }
        for (size_t i = 0; i < json_array_size(want); i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            if (!tt_match(json_array_get(want, i), json_array_get(got, i), where, cap, sub))
                return 0;
        }
        return 1;
    }
    if (!json_equal((json_t *)want, (json_t *)got)) {
        snprintf(where, cap, "%s: value differs", *path ? path : "(top)");
        return 0;
    }
    return 1;
}

/* checks got against want, printing both on a mismatch */
TT_UNUSED static int tt_is_json(const json_t *got, const json_t *want, const char *name)
{
    char where[512] = "";
    int r = ok(tt_match(want, got, where, sizeof(where), ""), name);
    if (!r || tt_show()) {
        char *g = got != NULL ? json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (!r) {
            char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
            diag("  mismatch at %s", where);
            diag("  expected: %s", w);
            free(w);
        }
        diag("  got:      %s", g != NULL ? g : "NULL");
        free(g);
    }
    return r;
}

/* ---- streams ---- */

typedef struct {
    ah_translate_stream_t *t;
    char *out; /* client bytes emitted */
    size_t len, cap;
    int rc;      /* first nonzero result of ah_translate_stream_event */
    int events;  /* upstream events seen */
    char err[256];
} tt_stream_t;

static int tt_emit(void *ud, const char *bytes, size_t len)
{
    tt_stream_t *s = ud;
    if (s->len + len + 1 > s->cap) {
        s->cap = (s->len + len + 1) * 2;
        s->out = realloc(s->out, s->cap);
    }
    memcpy(s->out + s->len, bytes, len);
    s->len += len;
    s->out[s->len] = '\0';
    return 0;
}

static int tt_on_event(void *ud, const ah_sse_event_t *ev)
{
    tt_stream_t *s = ud;
    s->events++;
    if (s->rc != 0)
        return 0;
    s->rc = ah_translate_stream_event(s->t, ev, tt_emit, s);
    if (s->rc != 0)
        snprintf(s->err, sizeof(s->err), "%s", ah_translate_stream_error(s->t));
    return 0;
}

/*
 * Runs an upstream stream through a translator fed in pieces of `chunk`
 * bytes (0: whole), then ends it (unless an event failed). The caller frees
 * s->out and s->t.
 */
TT_UNUSED static void tt_run(tt_stream_t *s, ah_format_t up, ah_format_t client, const char *model, int include_usage, const char *in,
                   size_t len, size_t chunk)
{
    memset(s, 0, sizeof(*s));
    s->t = ah_translate_stream_new(up, client, model);
    ah_translate_stream_set_include_usage(s->t, include_usage);
    ah_sse_parser_t p;
    ah_sse_init(&p, 0);
    size_t step = chunk == 0 ? len : chunk;
    for (size_t off = 0; off < len; off += step)
        ah_sse_feed(&p, in + off, off + step <= len ? step : len - off, tt_on_event, s);
    ah_sse_finish(&p, tt_on_event, s);
    ah_sse_dispose(&p);
    if (s->rc == 0)
        s->rc = ah_translate_stream_end(s->t, tt_emit, s);
    if (s->out == NULL)
        tt_emit(s, "", 0);
}

typedef struct {
    json_t *list;
} tt_events_t;

static int tt_collect(void *ud, const ah_sse_event_t *ev)
{
    tt_events_t *c = ud;
    if (ev->data == NULL && ev->event == NULL)
        return 0;
    json_error_t jerr;
    json_t *data = ev->data != NULL ? json_loadb(ev->data, ev->data_len, 0, &jerr) : NULL;
    if (data == NULL && ev->data != NULL)
        data = json_stringn(ev->data, ev->data_len); /* [DONE] */
    json_t *e = json_object();
    json_object_set_new(e, "event", ev->event != NULL ? json_stringn(ev->event, ev->event_len) : json_null());
    json_object_set_new(e, "data", data != NULL ? data : json_null());
    json_array_append_new(c->list, e);
    return 0;
}

/* an SSE text as [{event, data}] with data parsed as JSON where it is JSON (new reference) */
TT_UNUSED static json_t *tt_events(const char *s, size_t len)
{
    tt_events_t c = {json_array()};
    ah_sse_parser_t p;
    ah_sse_init(&p, 0);
    ah_sse_feed(&p, s, len, tt_collect, &c);
    ah_sse_finish(&p, tt_collect, &c);
    ah_sse_dispose(&p);
    return c.list;
}
