/*
 * test_mask.c: unit tests for aihub/mask.h. Besides exact outputs, a
 * property check over many random secrets: the output never shows more
 * than the allowed prefix and four final characters, and never leaves
 * fewer than five characters hidden.
 */
#include <stdint.h>
#include <string.h>

#include "aihub/mask.h"
#include "tap.h"

static const char *mask(const char *s)
{
    static char out[AH_MASK_SECRET_MAX];
    ah_mask_secret(s, out, sizeof(out));
    return out;
}

static const char *mask_url(const char *s, int *rc)
{
    static char out[256];
    *rc = ah_mask_url_credentials(s, out, sizeof(out));
    return out;
}

static void test_secret(void)
{
    is_str(mask("sk-abcdefghijklmnopqrstuvwxyz1234"), "sk-...1234", "OpenAI-style key keeps sk- and last 4");
    is_str(mask("sk-ant-api03-abcdefghijklmnopqrstuvwxyz-wxyz"), "sk-...wxyz", "prefix stops at the first '-'");
    is_str(mask("AIzaSyA-abcdefghijklmnopqrstu"), "AIzaSyA-...rstu", "'-' as 8th char still counts");
    is_str(mask("AIzaSyAb-cdefghijklmnopqrstu"), "...rstu", "'-' as 9th char is not a prefix");
    is_str(mask("abcdefghijklmnop"), "...mnop", "no '-': last 4 only");
    is_str(mask("abcdefghi"), "...fghi", "9 chars: last 4");
    is_str(mask("abcdefgh"), "****", "8 chars: fully hidden");
    is_str(mask("a"), "****", "1 char: fully hidden");
    is_str(mask(""), "****", "empty: ****");
    is_str(mask(NULL), "****", "NULL: ****");
    is_str(mask("sk-abcdefgh"), "...efgh", "prefix dropped when fewer than 8 chars would stay hidden");
    is_str(mask("sk-abcdefghijkl"), "sk-...ijkl", "prefix kept when 8 chars stay hidden");
    is_str(mask("abcdefg-h"), "...fg-h", "short secret with late '-': no overlap of prefix and suffix");
    is_str(mask("sk-abc\001defghijklm\"x\xff"), "sk-...m\"x*", "non-printable shown characters become '*'");

    char out[16];
    memset(out, 'Z', sizeof(out));
    ah_mask_secret("sk-abcdefghijklmnopqrstuvwxyz1234", out, 8);
    is_str(out, "****", "buffer too small for the mask: ****");
    ah_mask_secret("sk-abcdefghijklmnopqrstuvwxyz1234", out, 4);
    is_str(out, "", "buffer too small even for ****: empty");
    memset(out, 'Z', sizeof(out));
    ah_mask_secret("sk-abcdefghijklmnopqrstuvwxyz1234", out, 0);
    ok(out[0] == 'Z', "outcap 0: nothing written");
    ah_mask_secret("sk-abcdefghijklmnopqrstuvwxyz1234", out, 11);
    is_str(out, "sk-...1234", "exact buffer size suffices");

    /* Property: random secrets of 0..40 chars drawn from an alphabet rich in '-'. */
    static const char alpha[] = "ab-cd-EF01-";
    uint32_t seed = 7;
    int safe = 1;
    for (int iter = 0; iter < 20000 && safe; iter++) {
        char s[41];
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % 41;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            s[i] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
        }
        s[len] = '\0';
        const char *m = mask(s);
        if (len <= 8) {
            safe = strcmp(m, "****") == 0;
            continue;
        }
        const char *dots = strstr(m, "...");
        size_t pre = dots != NULL ? (size_t)(dots - m) : 99, post = dots != NULL ? strlen(dots + 3) : 99;
        safe = dots != NULL && post == 4 && pre <= 8 && len - pre - post >= 5 && memcmp(m, s, pre) == 0 &&
               memcmp(dots + 3, s + len - 4, 4) == 0 && (pre == 0 || (m[pre - 1] == '-' && len - pre - post >= 8));
        if (!safe)
            diag("unsafe mask of \"%s\": \"%s\"", s, m);
    }
    ok(safe, "20000 random secrets: never more than prefix + last 4, at least 5 hidden");
}

static void test_url(void)
{
    int rc = 9;
    is_str(mask_url("redis://user:s3cret@redis.internal:6379/0", &rc), "redis://user:****@redis.internal:6379/0", "user:password");
    is_int(rc, 0, "rc 0 when masked");
    is_str(mask_url("redis://:s3cret@10.0.0.1:6379", &rc), "redis://:****@10.0.0.1:6379", "password only");
    is_str(mask_url("https://ghp_TOKEN@github.com/org/repo", &rc), "https://****@github.com/org/repo", "bare token userinfo fully masked");
    is_str(mask_url("socks5h://u:p@1.2.3.4:1080", &rc), "socks5h://u:****@1.2.3.4:1080", "proxy URL");
    is_str(mask_url("http://u:p@ss@host/x", &rc), "http://u:****@host/x", "raw '@' in password: last '@' ends the userinfo");
    is_str(mask_url("http://u:pa:ss@host", &rc), "http://u:****@host", "':' in password");
    is_str(mask_url("user:pass@host:6379", &rc), "user:****@host:6379", "no scheme still masked");
    is_str(mask_url("redis://host:6379/0", &rc), "redis://host:6379/0", "no credentials: unchanged");
    is_int(rc, 0, "rc 0 when nothing to mask");
    is_str(mask_url("https://registry.npmjs.org/@types/node", &rc), "https://registry.npmjs.org/@types/node", "'@' in the path is not userinfo");
    is_str(mask_url("http://h/?email=a@b", &rc), "http://h/?email=a@b", "'@' in the query is not userinfo");
    is_str(mask_url("http://h#a:b@c", &rc), "http://h#a:b@c", "'@' in the fragment is not userinfo");
    is_str(mask_url("", &rc), "", "empty string");

    char small[12];
    is_int(ah_mask_url_credentials("redis://user:s3cret@host", small, sizeof(small)), -1, "output too small: -1");
    is_str(small, "", "output too small: empty string, no partial secret");
    is_int(ah_mask_url_credentials("redis://host", small, 12), -1, "unmasked URL too long: -1");
    is_int(ah_mask_url_credentials("redis://hos", small, 12), 0, "exact fit");
    is_int(ah_mask_url_credentials(NULL, small, sizeof(small)), -1, "NULL url: -1");
}

int main(void)
{
    test_secret();
    test_url();
    return done_testing();
}
