/*
 * CIDR lists and the client address behind trusted proxies (see trusted.h).
 */
#include <stdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "aihub/strutil.h"
#include "auth/trusted.h"

/* a textual address into family and bytes (IPv4-mapped IPv6 becomes IPv4); 0 or -1 */
static int parse_addr(const char *s, size_t len, int *family, uint8_t out[16])
{
    char buf[64];
    while (len > 0 && (*s == ' ' || *s == '\t'))
        ++s, --len;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        --len;
    if (len > 1 && s[0] == '[' && s[len - 1] == ']')
        ++s, len -= 2;
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(out, mapped, 12) == 0) {
            memmove(out, out + 12, 4);
            *family = AF_INET;
        } else {
            *family = AF_INET6;
        }
        return 0;
    }
    return -1;
}

int ah_cidr_list_parse(const char *spec, ah_cidr_list_t *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    for (const char *p = spec; *p != '\0';) {
        size_t n = strcspn(p, ",");
        const char *item = p;
        p += n + (p[n] == ',');
        while (n > 0 && (*item == ' ' || *item == '\t'))
            ++item, --n;
        while (n > 0 && (item[n - 1] == ' ' || item[n - 1] == '\t'))
            --n;
        if (n == 0)
            continue;
        ah_cidr_t c = {0};
        const char *slash = memchr(item, '/', n);
        size_t alen = slash != NULL ? (size_t)(slash - item) : n;
        int64_t bits = -1;
        if (parse_addr(item, alen, &c.family, c.addr) != 0 ||
            (slash != NULL && (ah_parse_int64(slash + 1, n - alen - 1, &bits) != 0 || bits < 0 ||
                               bits > (c.family == AF_INET ? 32 : 128)))) {
            snprintf(err, errcap, "AIHUB_TRUSTED_PROXIES: '%.*s' is not an address or CIDR", (int)n, item);
            ah_cidr_list_free(out);
            return -1;
        }
        c.bits = slash != NULL ? (int)bits : (c.family == AF_INET ? 32 : 128);
        out->v = realloc(out->v, (out->n + 1) * sizeof(*out->v));
        if (out->v == NULL)
            abort();
        out->v[out->n++] = c;
    }
    return 0;
}

void ah_cidr_list_free(ah_cidr_list_t *list)
{
    free(list->v);
    memset(list, 0, sizeof(*list));
}

static int match_bytes(const ah_cidr_list_t *list, int family, const uint8_t *addr)
{
    for (size_t i = 0; i != list->n; ++i) {
        const ah_cidr_t *c = &list->v[i];
        if (c->family != family)
            continue;
        int full = c->bits / 8, rest = c->bits % 8;
        if (memcmp(c->addr, addr, full) != 0)
            continue;
        if (rest != 0) {
            uint8_t mask = (uint8_t)(0xff << (8 - rest));
            if ((c->addr[full] & mask) != (addr[full] & mask))
                continue;
        }
        return 1;
    }
    return 0;
}

static int sockaddr_bytes(const struct sockaddr *sa, int *family, uint8_t out[16])
{
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        *family = AF_INET;
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (memcmp(a, mapped, 12) == 0) {
            memcpy(out, a + 12, 4);
            *family = AF_INET;
        } else {
            memcpy(out, a, 16);
            *family = AF_INET6;
        }
        return 0;
    }
    return -1;
}

int ah_cidr_list_match(const ah_cidr_list_t *list, const struct sockaddr *sa)
{
    int family;
    uint8_t a[16];
    return list->n != 0 && sockaddr_bytes(sa, &family, a) == 0 && match_bytes(list, family, a);
}

int ah_cidr_list_match_text(const ah_cidr_list_t *list, const char *s, size_t len)
{
    int family;
    uint8_t a[16];
    return list->n != 0 && parse_addr(s, len, &family, a) == 0 && match_bytes(list, family, a);
}

static const char *format_bytes(int family, const uint8_t *a, char *out, size_t cap)
{
    if (inet_ntop(family, a, out, (socklen_t)cap) == NULL)
        snprintf(out, cap, "-");
    return out;
}

const char *ah_client_addr(const ah_cidr_list_t *list, const struct sockaddr *peer, const char *xff, size_t xfflen, char *out,
                           size_t cap)
{
    int family;
    uint8_t a[16];
    if (sockaddr_bytes(peer, &family, a) != 0) {
        snprintf(out, cap, "-");
        return out;
    }
    if (xff == NULL || xfflen == 0 || !match_bytes(list, family, a))
        return format_bytes(family, a, out, cap);
    /* walk right to left: each hop appended the address it saw; stop at the first one we do not trust */
    const char *end = xff + xfflen;
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            --start;
        int f;
        uint8_t b[16];
        if (parse_addr(start, end - start, &f, b) != 0)
            break; /* garbage: keep the last good hop */
        family = f;
        memcpy(a, b, 16);
        if (!match_bytes(list, f, b))
            break;
        end = start > xff ? start - 1 : xff;
    }
    return format_bytes(family, a, out, cap);
}
