/*
 * base64.c: base64 (RFC 4648, both alphabets) and hex codecs.
 *
 * Decoding is strict so that one byte string has exactly one accepted
 * spelling per alphabet: padding, when present, must complete the last
 * quantum; a lone trailing character (length % 4 == 1) is impossible; the
 * unused low bits of the last character must be zero. Both alphabets map
 * to the same values, so "+/" and "-_" are interchangeable.
 */
#include "aihub/base64.h"
#include "aihub/strutil.h"

static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of a base64 character in either alphabet, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

static size_t encode(const char *alphabet, int pad, const uint8_t *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

size_t ah_base64url_encode(const uint8_t *in, size_t len, char *out)
{
    return encode(url_alphabet, 0, in, len, out);
}

size_t ah_base64_encode(const uint8_t *in, size_t len, char *out)
{
    return encode(std_alphabet, 1, in, len, out);
}

int ah_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    if (in == NULL && len != 0)
        return AH_BASE64_EINVAL;

    /* Strip at most two '=' and require that they complete a quantum. */
    size_t n = len, pad = 0;
    while (n > 0 && pad < 2 && in[n - 1] == '=') {
        n--;
        pad++;
    }
    if (pad != 0 && len % 4 != 0)
        return AH_BASE64_EINVAL;
    if (n % 4 == 1)
        return AH_BASE64_EINVAL;

    size_t need = n / 4 * 3 + (n % 4 != 0 ? n % 4 - 1 : 0);
    for (size_t i = 0; i < n; i++)
        if (b64_value((unsigned char)in[i]) < 0)
            return AH_BASE64_EINVAL;
    /* The bits after the last whole byte must be zero (canonical form). */
    if (n % 4 == 2 && (b64_value((unsigned char)in[n - 1]) & 0x0f) != 0)
        return AH_BASE64_EINVAL;
    if (n % 4 == 3 && (b64_value((unsigned char)in[n - 1]) & 0x03) != 0)
        return AH_BASE64_EINVAL;
    if (need > cap) {
        if (outlen != NULL)
            *outlen = need;
        return AH_BASE64_ENOSPC;
    }

    size_t o = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t v = (uint32_t)b64_value((unsigned char)in[i]) << 18 | (uint32_t)b64_value((unsigned char)in[i + 1]) << 12 |
                     (uint32_t)b64_value((unsigned char)in[i + 2]) << 6 | (uint32_t)b64_value((unsigned char)in[i + 3]);
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    if (n - i >= 2) {
        uint32_t v = (uint32_t)b64_value((unsigned char)in[i]) << 18 | (uint32_t)b64_value((unsigned char)in[i + 1]) << 12;
        if (n - i == 3)
            v |= (uint32_t)b64_value((unsigned char)in[i + 2]) << 6;
        out[o++] = (uint8_t)(v >> 16);
        if (n - i == 3)
            out[o++] = (uint8_t)(v >> 8);
    }
    if (outlen != NULL)
        *outlen = o;
    return 0;
}

size_t ah_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
    return 2 * len;
}

int ah_hex_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    if ((in == NULL && len != 0) || len % 2 != 0)
        return AH_BASE64_EINVAL;
    for (size_t i = 0; i < len; i++)
        if (ah_hex_digit((unsigned char)in[i]) < 0)
            return AH_BASE64_EINVAL;
    if (len / 2 > cap) {
        if (outlen != NULL)
            *outlen = len / 2;
        return AH_BASE64_ENOSPC;
    }
    for (size_t i = 0; i < len / 2; i++)
        out[i] = (uint8_t)(ah_hex_digit((unsigned char)in[2 * i]) << 4 | ah_hex_digit((unsigned char)in[2 * i + 1]));
    if (outlen != NULL)
        *outlen = len / 2;
    return 0;
}
