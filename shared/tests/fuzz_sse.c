/*
 * fuzz_sse.c: libFuzzer entry point for the SSE parser (built only with
 * -DAIHUB_FUZZ=ON and clang). The first input byte picks the split seed
 * and the event size limit; the rest is the stream. The stream is parsed
 * whole, byte by byte and in seeded random chunks, and every result must
 * equal the whole-input reference parser; the raw bytes of the events must
 * concatenate to a prefix of the input; and the writer's output for the
 * same bytes must parse back to the same data. Any mismatch aborts.
 *
 * Run: ./fuzz_sse -max_total_time=20 ../shared/tests/fixtures/sse
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aihub/sse.h"
#include "sse_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

/* data[0..len) with each CR, LF or CRLF turned into one LF: what a data field round trip gives. */
static char *normalize_breaks(const char *s, size_t len, size_t *outlen)
{
    char *d = malloc(len + 1);
    size_t n = 0;
    check(d != NULL);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\r') {
            d[n++] = '\n';
            if (i + 1 < len && s[i + 1] == '\n')
                i++;
        } else {
            d[n++] = s[i];
        }
    }
    *outlen = n;
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    size_t max = flags & 1 ? 16 + (flags >> 1) : 0; /* small limits half the time */

    rec_t whole = {0}, ref = {0}, bytes = {0}, rnd = {0};
    sc_run(in, len, max, SC_WHOLE, 0, 0, &whole);
    ref_parse(in, len, max, &ref);
    sc_run(in, len, max, SC_BYTES, 0, 0, &bytes);
    sc_run(in, len, max, SC_RANDOM, flags, 1 + flags % 64, &rnd);
    check(rec_equal(&whole, &ref));
    check(rec_equal(&whole, &bytes));
    check(rec_equal(&whole, &rnd));

    size_t off = 0;
    for (size_t i = 0; i < whole.n; i++) {
        check(off + whole.ev[i].raw_len <= len && memcmp(in + off, whole.ev[i].raw, whole.ev[i].raw_len) == 0);
        off += whole.ev[i].raw_len;
    }
    if (whole.rc == 0)
        check(off == len);

    /* Writer round trip: any bytes as data come back with line breaks as LF. */
    size_t need = ah_sse_format_event(NULL, 0, "e", in, len);
    char *buf = malloc(need);
    check(buf != NULL && ah_sse_format_event(buf, need, "e", in, len) == need);
    rec_t back = {0};
    sc_run(buf, need, 0, SC_WHOLE, 0, 0, &back);
    size_t nlen;
    char *norm = normalize_breaks(in, len, &nlen);
    check(back.rc == 0 && back.n == 1 && back.ev[0].event != NULL && back.ev[0].event_len == 1 && back.ev[0].data != NULL &&
          back.ev[0].data_len == nlen && memcmp(back.ev[0].data, norm, nlen) == 0);
    free(norm);
    free(buf);

    rec_free(&whole);
    rec_free(&ref);
    rec_free(&bytes);
    rec_free(&rnd);
    rec_free(&back);
    return 0;
}
