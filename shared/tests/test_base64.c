/*
 * test_base64.c: unit tests for base64 and hex (aihub/base64.h), with the
 * RFC 4648 vectors and the inputs a strict decoder must refuse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aihub/base64.h"
#include "tap.h"

static int dec(const char *s, uint8_t *out, size_t cap, size_t *outlen)
{
    return ah_base64_decode(s, strlen(s), out, cap, outlen);
}

static void test_vectors(void)
{
    static const struct {
        const char *plain, *url, *std;
    } v[] = {{"", "", ""},           {"f", "Zg", "Zg=="},         {"fo", "Zm8", "Zm8="},          {"foo", "Zm9v", "Zm9v"},
             {"foob", "Zm9vYg", "Zm9vYg=="}, {"fooba", "Zm9vYmE", "Zm9vYmE="}, {"foobar", "Zm9vYmFy", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char out[32];
        uint8_t bin[32];
        size_t n = 99;
        size_t len = strlen(v[i].plain);
        is_int(ah_base64url_encode((const uint8_t *)v[i].plain, len, out), strlen(v[i].url), "url encode length");
        is_str(out, v[i].url, "url encode (RFC 4648 vector)");
        is_int(ah_base64_encode((const uint8_t *)v[i].plain, len, out), strlen(v[i].std), "std encode length");
        is_str(out, v[i].std, "std encode (RFC 4648 vector)");
        ok(dec(v[i].url, bin, sizeof(bin), &n) == 0 && n == len && memcmp(bin, v[i].plain, len) == 0, "decode unpadded");
        ok(dec(v[i].std, bin, sizeof(bin), &n) == 0 && n == len && memcmp(bin, v[i].plain, len) == 0, "decode padded");
    }

    const uint8_t hi[] = {0xfb, 0xff, 0xbf};
    char out[16];
    uint8_t bin[16];
    size_t n = 0;
    ah_base64url_encode(hi, 2, out);
    is_str(out, "-_8", "url alphabet uses - and _");
    ah_base64_encode(hi, 2, out);
    is_str(out, "+/8=", "std alphabet uses + and /");
    ok(dec("-_8", bin, sizeof(bin), &n) == 0 && n == 2 && bin[0] == 0xfb && bin[1] == 0xff, "decode url alphabet");
    ok(dec("+/8=", bin, sizeof(bin), &n) == 0 && n == 2 && bin[0] == 0xfb && bin[1] == 0xff, "decode std alphabet");
    ok(dec("+_-/", bin, sizeof(bin), &n) == 0 && n == 3, "both alphabets in one string decode");
}

static void test_rejects(void)
{
    uint8_t bin[64];
    size_t n = 0;
    static const char *bad[] = {
        "Z",        /* length % 4 == 1 */
        "Zm9vY",    /* same after a full quantum */
        "Zg=",      /* padding that does not complete a quantum */
        "Zg===",    /* three pads */
        "Zm9v====", /* pad-only quantum */
        "Zg=v",     /* '=' in the middle */
        "=Zg=",     /* leading '=' */
        "Zm 9v",    /* space */
        "Zm9v\n",   /* newline */
        "Zm9v!",    /* bad char */
        "Zm9v.",    /* bad char */
        "Zh",       /* non-zero trailing bits (canonical is Zg) */
        "Zm9=",     /* non-zero trailing bits (canonical is Zm8=) */
        "Zm9",      /* same without padding */
        "====",     /* only padding */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "rejects \"%s\"", bad[i][strlen(bad[i]) - 1] == '\n' ? "Zm9v\\n" : bad[i]);
        is_int(dec(bad[i], bin, sizeof(bin), &n), AH_BASE64_EINVAL, name);
    }
    is_int(ah_base64_decode("Zm9v\0Zm9v", 9, bin, sizeof(bin), &n), AH_BASE64_EINVAL, "rejects embedded NUL");
    is_int(ah_base64_decode(NULL, 4, bin, sizeof(bin), &n), AH_BASE64_EINVAL, "rejects NULL with length");
    is_int(ah_base64_decode(NULL, 0, NULL, 0, &n), 0, "empty input decodes to nothing");
    is_int(n, 0, "empty input: length 0");

    n = 0;
    is_int(dec("Zm9vYmFy", bin, 5, &n), AH_BASE64_ENOSPC, "output too small: ENOSPC");
    is_int(n, 6, "output too small: reports the size needed");
    is_int(dec("Zm9vYmFy", bin, 6, &n), 0, "exact capacity suffices");
}

static void test_roundtrip(void)
{
    uint32_t seed = 12345;
    int all = 1;
    for (size_t len = 0; len <= 100; len++) {
        uint8_t in[100], back[100];
        char enc[AH_BASE64_ENCODED_SIZE(100)];
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = (uint8_t)(seed >> 16);
        }
        size_t n = 0, elen = ah_base64url_encode(in, len, enc);
        all = all && elen == strlen(enc) && elen + 1 <= AH_BASE64_ENCODED_SIZE(len) &&
              ah_base64_decode(enc, elen, back, len, &n) == 0 && n == len && memcmp(in, back, len) == 0;
        elen = ah_base64_encode(in, len, enc);
        all = all && elen == AH_BASE64_ENCODED_SIZE(len) - 1 && ah_base64_decode(enc, elen, back, len, &n) == 0 && n == len &&
              memcmp(in, back, len) == 0 && AH_BASE64_DECODED_MAX(elen) >= len;
    }
    ok(all, "random round trips of 0..100 bytes in both alphabets, sizes within the macros");
}

static void test_hex(void)
{
    const uint8_t in[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff};
    char out[13];
    uint8_t bin[8];
    size_t n = 0;
    is_int(ah_hex_encode(in, sizeof(in), out), 12, "hex encode length");
    is_str(out, "0001abcdefff", "hex encode lower-case");
    ok(ah_hex_decode("0001ABCDefFF", 12, bin, sizeof(bin), &n) == 0 && n == 6 && memcmp(bin, in, 6) == 0, "hex decode either case");
    is_int(ah_hex_decode("abc", 3, bin, sizeof(bin), &n), AH_BASE64_EINVAL, "hex rejects odd length");
    is_int(ah_hex_decode("zz", 2, bin, sizeof(bin), &n), AH_BASE64_EINVAL, "hex rejects bad digit");
    is_int(ah_hex_decode("0g", 2, bin, sizeof(bin), &n), AH_BASE64_EINVAL, "hex rejects bad second digit");
    is_int(ah_hex_decode(" 0", 2, bin, sizeof(bin), &n), AH_BASE64_EINVAL, "hex rejects space");
    is_int(ah_hex_decode("00112233", 8, bin, 3, &n), AH_BASE64_ENOSPC, "hex output too small");
    is_int(ah_hex_decode("", 0, bin, 0, &n), 0, "hex empty ok");
    is_int(n, 0, "hex empty length 0");
    ah_hex_encode(in, 0, out);
    is_str(out, "", "hex encode of nothing is empty");
}

int main(void)
{
    test_vectors();
    test_rejects();
    test_roundtrip();
    test_hex();
    return done_testing();
}
