/*
 * log.c: JSON-lines logging (see aihub/log.h).
 *
 * A line is built in a stack buffer (moved to the heap only when it
 * outgrows it), then written with one fwrite and flushed while holding the
 * FILE's lock. Strings are escaped for JSON and validated as UTF-8 on the
 * way, since messages may quote bytes from clients or upstreams. Records
 * (ah_log_rec_*) are built the same way, field by field, for the lines
 * written on every request.
 */
#define _POSIX_C_SOURCE 200809L

#include "aihub/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aihub/mem.h"
#include "aihub/strutil.h"

/* Process-wide by design (see log.h); NULL means stdout. */
static _Atomic(FILE *) g_stream = NULL;
static atomic_int g_level = AH_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* A growable line buffer that starts on the stack (the record type of log.h). */
typedef ah_log_rec_t linebuf_t;

static void lb_init(linebuf_t *b)
{
    b->p = b->stack;
    b->len = 0;
    b->cap = sizeof(b->stack);
}

static void lb_free(linebuf_t *b)
{
    if (b->p != b->stack)
        free(b->p);
}

static void lb_reserve(linebuf_t *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t ncap = b->cap * 2;
    while (ncap < b->len + n)
        ncap *= 2;
    if (b->p == b->stack) {
        b->p = ah_mem_alloc(ncap);
        memcpy(b->p, b->stack, b->len);
    } else {
        b->p = ah_mem_realloc(b->p, ncap);
    }
    b->cap = ncap;
}

static void lb_put(linebuf_t *b, const char *s, size_t n)
{
    lb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void lb_puts(linebuf_t *b, const char *s)
{
    lb_put(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence starting at s[0..n), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f; /* no UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f; /* nothing above U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* Appends s[0..n) as a JSON string literal, quotes included. */
static void lb_json_string(linebuf_t *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    lb_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t run = i;
        /* Copy runs of plain ASCII at once. */
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            lb_put(b, str + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            char esc[6] = {'\\', 0, 0, 0, 0, 0};
            size_t elen = 2;
            switch (c) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            default:
                esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
                elen = 6;
            }
            lb_put(b, esc, elen);
            i++;
        } else {
            size_t len = utf8_seq(s + i, n - i);
            if (len == 0) {
                lb_put(b, "\xef\xbf\xbd", 3); /* U+FFFD for each bad byte */
                i++;
            } else {
                lb_put(b, str + i, len);
                i += len;
            }
        }
    }
    lb_put(b, "\"", 1);
}

static void write_line(const char *s, size_t n)
{
    FILE *f = atomic_load(&g_stream);
    if (f == NULL)
        f = stdout;
    flockfile(f);
    fwrite(s, 1, n, f);
    fflush(f);
    funlockfile(f);
}

void ah_log_set_stream(FILE *f)
{
    atomic_store(&g_stream, f);
}

static int clamp_level(int level)
{
    return level < AH_LOG_DEBUG ? AH_LOG_DEBUG : level > AH_LOG_ERROR ? AH_LOG_ERROR : level;
}

void ah_log_set_level(int level)
{
    atomic_store(&g_level, clamp_level(level));
}

int ah_log_get_level(void)
{
    return atomic_load(&g_level);
}

int ah_log_enabled(int level)
{
    return level >= atomic_load(&g_level);
}

int ah_log_parse_level(const char *s)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {{"debug", AH_LOG_DEBUG}, {"info", AH_LOG_INFO}, {"warn", AH_LOG_WARN}, {"warning", AH_LOG_WARN}, {"error", AH_LOG_ERROR}};
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *a = names[i].name, *b = s;
        while (*a != '\0' && (*b == *a || *b == *a - 'a' + 'A'))
            a++, b++;
        if (*a == '\0' && *b == '\0')
            return names[i].level;
    }
    return -1;
}

const char *ah_log_level_name(int level)
{
    return level_names[clamp_level(level)];
}

/* Proleptic Gregorian range that RFC 3339 can spell: 0000-01-01 to 9999-12-31. */
#define MIN_UNIX_MS (-62167219200000LL)
#define MAX_UNIX_MS (253402300799999LL)

/* Writes v (0 <= v < 10^n) as exactly n decimal digits. */
static void put_digits(char *out, int v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
}

void ah_time_rfc3339(char out[32], int64_t unix_ms)
{
    if (unix_ms < MIN_UNIX_MS)
        unix_ms = MIN_UNIX_MS;
    if (unix_ms > MAX_UNIX_MS)
        unix_ms = MAX_UNIX_MS;
    /* Floor division, so -1 ms is 23:59:59.999 the day before. */
    int64_t sec = unix_ms / 1000, ms = unix_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        memcpy(out, "1970-01-01T00:00:00.000Z", 25);
        return;
    }
    put_digits(out, tm.tm_year + 1900, 4);
    out[4] = '-';
    put_digits(out + 5, tm.tm_mon + 1, 2);
    out[7] = '-';
    put_digits(out + 8, tm.tm_mday, 2);
    out[10] = 'T';
    put_digits(out + 11, tm.tm_hour, 2);
    out[13] = ':';
    put_digits(out + 14, tm.tm_min, 2);
    out[16] = ':';
    put_digits(out + 17, tm.tm_sec, 2);
    out[19] = '.';
    put_digits(out + 20, (int)ms, 3);
    out[23] = 'Z';
    out[24] = '\0';
}

int64_t ah_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ah_log(int level, const char *module, const char *fmt, ...)
{
    if (!ah_log_enabled(level))
        return;

    char small[512], *heap = NULL;
    const char *msg = small;
    va_list ap;
    va_start(ap, fmt);
    int n = fmt != NULL ? vsnprintf(small, sizeof(small), fmt, ap) : 0;
    va_end(ap);
    size_t msg_len;
    if (n < 0) {
        msg = "(invalid log format)";
        msg_len = strlen(msg);
    } else if ((size_t)n < sizeof(small)) {
        msg_len = (size_t)n;
    } else {
        msg_len = (size_t)n < AH_LOG_MAX_MSG ? (size_t)n : AH_LOG_MAX_MSG;
        msg = heap = ah_mem_alloc(msg_len + 1);
        va_start(ap, fmt);
        vsnprintf(heap, msg_len + 1, fmt, ap);
        va_end(ap);
        if ((size_t)n > msg_len)
            memcpy(heap + msg_len - 3, "...", 3);
    }

    linebuf_t b;
    ah_log_rec_begin(&b, level, module);
    lb_puts(&b, ",\"msg\":");
    lb_json_string(&b, msg, msg_len);
    ah_log_rec_end(&b);
    free(heap);
}

void ah_log_rec_begin(ah_log_rec_t *rec, int level, const char *module)
{
    char ts[32];
    ah_time_rfc3339(ts, ah_time_now_ms());
    lb_init(rec);
    lb_puts(rec, "{\"time\":\"");
    lb_puts(rec, ts);
    lb_puts(rec, "\",\"level\":\"");
    lb_puts(rec, ah_log_level_name(level));
    lb_puts(rec, "\"");
    if (module != NULL) {
        lb_puts(rec, ",\"module\":");
        lb_json_string(rec, module, strlen(module));
    }
}

/* ,"name": */
static void rec_name(ah_log_rec_t *rec, const char *name)
{
    lb_put(rec, ",", 1);
    lb_json_string(rec, name, strlen(name));
    lb_put(rec, ":", 1);
}

void ah_log_rec_strn(ah_log_rec_t *rec, const char *name, const char *s, size_t n)
{
    rec_name(rec, name);
    if (s == NULL)
        lb_put(rec, "null", 4);
    else
        lb_json_string(rec, s, n);
}

void ah_log_rec_str(ah_log_rec_t *rec, const char *name, const char *s)
{
    ah_log_rec_strn(rec, name, s, s != NULL ? strlen(s) : 0);
}

void ah_log_rec_int(ah_log_rec_t *rec, const char *name, int64_t v)
{
    char digits[AH_FMT_I64_MAX];
    size_t n = ah_fmt_i64(digits, v);
    rec_name(rec, name);
    lb_put(rec, digits, n);
}

void ah_log_rec_bool(ah_log_rec_t *rec, const char *name, int v)
{
    rec_name(rec, name);
    if (v)
        lb_put(rec, "true", 4);
    else
        lb_put(rec, "false", 5);
}

void ah_log_rec_end(ah_log_rec_t *rec)
{
    lb_put(rec, "}\n", 2);
    write_line(rec->p, rec->len);
    lb_free(rec);
}

void ah_log_json(json_t *obj)
{
    if (!json_is_object(obj))
        return;
    json_t *line = obj, *tmp = NULL;
    if (json_object_get(obj, "time") == NULL) {
        char ts[32];
        ah_time_rfc3339(ts, ah_time_now_ms());
        /* A new object (jansson keeps insertion order) so obj is left as it was. */
        tmp = json_object();
        if (tmp == NULL || json_object_set_new(tmp, "time", json_string(ts)) != 0 || json_object_update(tmp, obj) != 0)
            goto out;
        line = tmp;
    }
    size_t n = json_dumpb(line, NULL, 0, JSON_COMPACT);
    if (n == 0)
        goto out;
    char *buf = ah_mem_alloc(n + 1);
    if (json_dumpb(line, buf, n, JSON_COMPACT) == n) {
        buf[n] = '\n';
        write_line(buf, n + 1);
    }
    free(buf);
out:
    json_decref(tmp);
}
