/*
 * mask.c: secret and URL-credential redaction (see aihub/mask.h).
 *
 * The rule is "never reveal more": a short secret is fully hidden, a long
 * one shows at most its vendor prefix and last four characters, and shown
 * characters are restricted to printable ASCII so the result is always
 * safe to put in JSON or a terminal.
 */
#include "aihub/mask.h"

#include <string.h>

/* Characters that must stay hidden for the prefix to be shown too. */
#define MIN_HIDDEN 8

static char shown(char c)
{
    return c >= 0x21 && c <= 0x7e ? c : '*';
}

static void put_fallback(char *out, size_t outcap)
{
    if (outcap >= 5)
        memcpy(out, "****", 5);
    else if (outcap > 0)
        out[0] = '\0';
}

void ah_mask_secret(const char *secret, char *out, size_t outcap)
{
    size_t len = secret != NULL ? strlen(secret) : 0;
    if (len <= 8) {
        put_fallback(out, outcap);
        return;
    }

    size_t prefix = 0;
    for (size_t i = 0; i < 8; i++) {
        if (secret[i] == '-') {
            prefix = i + 1;
            break;
        }
    }
    if (len < prefix + 4 + MIN_HIDDEN)
        prefix = 0;

    char buf[AH_MASK_SECRET_MAX];
    size_t n = 0;
    for (size_t i = 0; i < prefix; i++)
        buf[n++] = shown(secret[i]);
    memcpy(buf + n, "...", 3);
    n += 3;
    for (size_t i = len - 4; i < len; i++)
        buf[n++] = shown(secret[i]);
    buf[n++] = '\0';

    if (n <= outcap)
        memcpy(out, buf, n);
    else
        put_fallback(out, outcap);
}

static int is_scheme_char(char c, int first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return !first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.');
}

int ah_mask_url_credentials(const char *url, char *out, size_t outcap)
{
    if (url == NULL) {
        if (outcap > 0)
            out[0] = '\0';
        return -1;
    }
    size_t len = strlen(url);

    /* The authority starts after "scheme://", or at 0 when there is no scheme,
     * so "user:pass@host" without one is masked too. */
    size_t auth = 0;
    const char *sep = strstr(url, "://");
    if (sep != NULL) {
        size_t slen = (size_t)(sep - url);
        int valid = slen > 0;
        for (size_t i = 0; i < slen && valid; i++)
            valid = is_scheme_char(url[i], i == 0);
        if (valid)
            auth = slen + 3;
    }
    size_t auth_end = auth + strcspn(url + auth, "/?#");
    size_t at = auth_end;
    for (size_t i = auth_end; i > auth; i--) {
        if (url[i - 1] == '@') {
            at = i - 1;
            break;
        }
    }

    /* keep = bytes copied before "****", resume = where copying resumes. */
    int masked = at != auth_end;
    size_t keep = len, resume = len;
    if (masked) {
        const char *colon = memchr(url + auth, ':', at - auth);
        keep = colon != NULL ? (size_t)(colon - url) + 1 : auth;
        resume = at;
    }
    size_t need = keep + (masked ? 4 : 0) + (len - resume) + 1;
    if (need > outcap) {
        if (outcap > 0)
            out[0] = '\0';
        return -1;
    }
    memcpy(out, url, keep);
    size_t n = keep;
    if (masked) {
        memcpy(out + n, "****", 4);
        n += 4;
        memcpy(out + n, url + resume, len - resume);
        n += len - resume;
    }
    out[n] = '\0';
    return 0;
}
