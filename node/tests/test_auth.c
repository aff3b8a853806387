/*
 * test_auth.c: unit tests for the console sign-in's pure parts: roles and
 * the group → role map (AIHUB_OIDC_ROLE_MAP, claims as arrays, strings and
 * dotted paths, the default role), the allow masks (no entry admits
 * nobody), trusted-proxy CIDRs and the client address behind them, the
 * check that a sign-in's "next" stays on this site, percent-decoding, the
 * audit summary's redaction, the discovery document's checks, and the
 * session, refresh and CSRF tokens.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aihub/jwt.h"
#include "auth/audit.h"
#include "auth/oidc.h"
#include "auth/roles.h"
#include "auth/session.h"
#include "auth/trusted.h"
#include "aihub/strutil.h"
#include "handler/auth_util.h"
#include "tap.h"

static void test_roles(void)
{
    is_int(ah_role_parse("admin", 5), AH_ROLE_ADMIN, "admin");
    is_int(ah_role_parse("none", 4), AH_ROLE_NONE, "none");
    is_int(ah_role_parse("Admin", 5), -1, "case-sensitive");
    is_int(ah_role_parse("root", 4), -1, "unknown");
    is_str(ah_role_name(AH_ROLE_OPERATOR), "operator", "names");
    unsigned read = AH_ALLOW_VIEWER | AH_ALLOW_OPERATOR | AH_ALLOW_ADMIN;
    ok(ah_role_allowed(read, AH_ROLE_VIEWER) && ah_role_allowed(read, AH_ROLE_ADMIN), "read admits every role");
    ok(!ah_role_allowed(AH_ALLOW_ADMIN, AH_ROLE_OPERATOR), "admin-only refuses an operator");
    ok(!ah_role_allowed(0, AH_ROLE_ADMIN), "a route with no entry refuses even the admin");
    ok(!ah_role_allowed(read, AH_ROLE_NONE), "no role is never admitted");
}

static void test_role_map(void)
{
    ah_role_map_t m;
    char err[256];
    if (!ok(ah_role_map_parse(" aihub-admins=admin , ops = operator,cn=staff=viewer,, ", "viewer", &m, err, sizeof(err)) == 0, "parses"))
        diag("%s", err);
    is_int(m.n, 3, "three entries");
    is_str(m.n == 3 ? m.groups[2] : NULL, "cn=staff", "a group may contain '=' (the last one separates the role)");
    json_error_t jerr;
    json_t *arr = json_loads("[\"staff\",\"ops\",\"aihub-admins\"]", 0, &jerr), *one = json_string("ops"), *none = json_loads("[\"staff\"]", 0, &jerr);
    is_int(ah_role_map_claim(&m, arr), AH_ROLE_ADMIN, "the highest mapped role wins");
    is_int(ah_role_map_claim(&m, one), AH_ROLE_OPERATOR, "a string claim is one group");
    is_int(ah_role_map_claim(&m, none), AH_ROLE_VIEWER, "no mapped group: the default");
    is_int(ah_role_map_claim(&m, NULL), AH_ROLE_VIEWER, "no claim: the default");
    is_int(ah_role_map_csv(&m, "staff, ops ,x", 13), AH_ROLE_OPERATOR, "comma-separated groups");
    ah_role_map_free(&m);
    ok(ah_role_map_parse("a=admin", "none", &m, err, sizeof(err)) == 0 && m.default_role == AH_ROLE_NONE, "default none");
    is_int(ah_role_map_claim(&m, none), AH_ROLE_NONE, "default none refuses");
    is_int(ah_role_map_csv(&m, "", 0), AH_ROLE_NONE, "no groups header");
    ah_role_map_free(&m);
    ok(ah_role_map_parse("a=root", "viewer", &m, err, sizeof(err)) != 0 && strstr(err, "a=root") != NULL, "an unknown role is refused");
    ok(ah_role_map_parse("a=none", "viewer", &m, err, sizeof(err)) != 0, "mapping to none is refused");
    ok(ah_role_map_parse("justagroup", "viewer", &m, err, sizeof(err)) != 0, "an item without = is refused");
    ok(ah_role_map_parse("=admin", "viewer", &m, err, sizeof(err)) != 0, "an empty group is refused");
    ok(ah_role_map_parse("", "superuser", &m, err, sizeof(err)) != 0, "a bad default is refused");
    json_t *claims = json_loads("{\"realm_access\":{\"roles\":[\"x\"]},\"a.b\":\"flat\"}", 0, &jerr);
    ok(json_is_array(ah_claim_get(claims, "realm_access.roles")), "a dotted path reaches into objects");
    is_str(json_string_value(ah_claim_get(claims, "a.b")), "flat", "a member with a dot in its name wins");
    ok(ah_claim_get(claims, "realm_access.nope") == NULL && ah_claim_get(claims, "x..y") == NULL, "missing paths");
    json_decref(claims);
    json_decref(arr);
    json_decref(one);
    json_decref(none);
}

static struct sockaddr_storage addr(const char *ip)
{
    struct sockaddr_storage ss = {0};
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *s6 = (void *)&ss;
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &s6->sin6_addr);
    } else {
        struct sockaddr_in *s4 = (void *)&ss;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &s4->sin_addr);
    }
    return ss;
}

static void test_cidrs(void)
{
    ah_cidr_list_t l;
    char err[256], out[64];
    ok(ah_cidr_list_parse("10.0.0.0/8, 192.168.1.7 ,fd00::/8, 172.16.0.0/12", &l, err, sizeof(err)) == 0 && l.n == 4, "parses");
    struct sockaddr_storage a;
    a = addr("10.200.3.4");
    ok(ah_cidr_list_match(&l, (void *)&a), "in 10/8");
    a = addr("11.0.0.1");
    ok(!ah_cidr_list_match(&l, (void *)&a), "not in 10/8");
    a = addr("192.168.1.7");
    ok(ah_cidr_list_match(&l, (void *)&a), "a bare address is a /32");
    a = addr("192.168.1.8");
    ok(!ah_cidr_list_match(&l, (void *)&a), "its neighbour is not");
    a = addr("::ffff:10.1.2.3");
    ok(ah_cidr_list_match(&l, (void *)&a), "IPv4-mapped IPv6 counts as IPv4");
    a = addr("fdab::1");
    ok(ah_cidr_list_match(&l, (void *)&a), "IPv6 prefix");
    a = addr("172.31.255.255");
    ok(ah_cidr_list_match(&l, (void *)&a), "a /12 boundary inside");
    a = addr("172.32.0.0");
    ok(!ah_cidr_list_match(&l, (void *)&a), "a /12 boundary outside");
    ok(ah_cidr_list_match_text(&l, " 10.0.0.1 ", 10), "text form");
    ok(!ah_cidr_list_match_text(&l, "garbage", 7), "garbage is no address");
    /* X-Forwarded-For: the rightmost hop that is not ours */
    a = addr("10.0.0.2");
    is_str(ah_client_addr(&l, (void *)&a, "203.0.113.9", 11, out, sizeof(out)), "203.0.113.9", "one proxy");
    const char *xff = "198.51.100.1, 203.0.113.9, 10.0.0.5";
    is_str(ah_client_addr(&l, (void *)&a, xff, strlen(xff), out, sizeof(out)), "203.0.113.9", "spoofed leftmost entries are skipped");
    const char *all = "10.1.1.1, 10.2.2.2";
    is_str(ah_client_addr(&l, (void *)&a, all, strlen(all), out, sizeof(out)), "10.1.1.1", "all trusted: the leftmost");
    const char *junk = "evil, 203.0.113.9";
    is_str(ah_client_addr(&l, (void *)&a, junk, strlen(junk), out, sizeof(out)), "203.0.113.9", "garbage stops the walk");
    a = addr("8.8.8.8");
    is_str(ah_client_addr(&l, (void *)&a, "203.0.113.9", 11, out, sizeof(out)), "8.8.8.8", "an untrusted peer's XFF is ignored");
    ah_cidr_list_free(&l);
    ok(ah_cidr_list_parse("10.0.0.0/33", &l, err, sizeof(err)) != 0, "prefix too long");
    ok(ah_cidr_list_parse("10.0.0/8", &l, err, sizeof(err)) != 0, "not an address");
    ok(ah_cidr_list_parse("::1/129", &l, err, sizeof(err)) != 0, "IPv6 prefix too long");
    ok(ah_cidr_list_parse("", &l, err, sizeof(err)) == 0 && l.n == 0, "empty list");
    a = addr("127.0.0.1");
    ok(!ah_cidr_list_match(&l, (void *)&a), "an empty list trusts nobody");
    ah_cidr_list_free(&l);
}

static void test_local_paths(void)
{
    const char *good[] = {"/", "/admin/", "/admin/channels?tab=2&x=%20", "/a/b/../c", NULL};
    const char *bad[] = {"", "admin", "//evil.example", "/\\evil.example", "https://evil.example", "javascript:alert(1)", "/a b",
                         "/a\tb", "/a\nb", "/caf\xc3\xa9", "/a\\b", NULL};
    for (const char **p = good; *p != NULL; ++p)
        ok(ah_auth_local_path(*p), *p);
    for (const char **p = bad; *p != NULL; ++p) {
        char label[80];
        snprintf(label, sizeof(label), "refused: bad path #%d", (int)(p - bad));
        ok(!ah_auth_local_path(*p), label);
    }
    char big[AH_AUTH_NEXT_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    ok(!ah_auth_local_path(big), "too long");
    char out[64];
    ok(ah_form_decode("%2Fadmin%2f+x", 13, out, sizeof(out)) == 0 && strcmp(out, "/admin/ x") == 0, "percent and plus");
    ok(ah_form_decode("%2", 2, out, sizeof(out)) != 0, "truncated escape");
    ok(ah_form_decode("%zz", 3, out, sizeof(out)) != 0, "bad escape");
    ok(ah_form_decode("a%00b", 5, out, sizeof(out)) != 0, "NUL refused");
    ok(ah_form_decode("abcdef", 6, out, 4) != 0, "too long for the buffer");
}

static void test_audit_summary(void)
{
    const char *body = "{\"name\":\"main\",\"key\":\"sk-abc\",\"api_key\":\"x\",\"headers\":{\"Authorization\":\"Bearer t\"},"
                       "\"proxy\":\"http://u:p@h:1\",\"models\":[\"a\",\"b\"],\"weight\":2,\"note\":\"sk-live-in-a-note\","
                       "\"params\":{\"set\":{\"client_secret\":\"s\",\"temperature\":0.5}}}";
    char *s = ah_audit_summary(body, strlen(body));
    json_error_t jerr;
    json_t *j = json_loads(s, 0, &jerr);
    is_str(json_string_value(json_object_get(j, "name")), "main", "plain fields kept");
    is_str(json_string_value(json_object_get(j, "key")), "[redacted]", "key redacted");
    is_str(json_string_value(json_object_get(j, "api_key")), "[redacted]", "api_key redacted");
    is_str(json_string_value(json_object_get(j, "headers")), "[redacted]", "headers redacted");
    is_str(json_string_value(json_object_get(j, "proxy")), "[redacted]", "proxy redacted");
    is_str(json_string_value(json_object_get(j, "note")), "[redacted]", "an sk- value anywhere is redacted");
    is_str(json_string_value(json_object_get(json_object_get(json_object_get(j, "params"), "set"), "client_secret")), "[redacted]",
           "nested secret redacted");
    ok(json_real_value(json_object_get(json_object_get(json_object_get(j, "params"), "set"), "temperature")) == 0.5, "nested value kept");
    ok(strstr(s, "sk-abc") == NULL && strstr(s, "u:p@") == NULL && strstr(s, "Bearer") == NULL, "no secret text at all");
    json_decref(j);
    free(s);
    const char *arr = "[{\"key\":\"sk-1\"},{\"key\":\"sk-2\"}]";
    s = ah_audit_summary(arr, strlen(arr));
    is_str(s, "{\"items\":2}", "an array body is counted");
    free(s);
    s = ah_audit_summary("sk-a\nsk-b\n\nsk-c", 15);
    is_str(s, "{\"bytes\":15,\"lines\":4}", "a text body is measured, never kept");
    free(s);
    s = ah_audit_summary(NULL, 0);
    is_str(s, "", "no body");
    free(s);
    /* a huge table: only the names */
    json_t *big = json_object();
    for (int i = 0; i != 200; ++i) {
        char k[32];
        snprintf(k, sizeof(k), "model-%03d", i);
        json_object_set_new(big, k, json_pack("{s:f, s:f}", "input", 2.5, "output", 10.0));
    }
    char *text = json_dumps(big, JSON_COMPACT);
    s = ah_audit_summary(text, strlen(text));
    ok(strlen(s) <= AH_AUDIT_MAX_SUMMARY, "capped");
    ok(strstr(s, "\"truncated\":true") != NULL && strstr(s, "model-000") != NULL, "member names kept when too long");
    free(s);
    free(text);
    json_decref(big);
    char longstr[400] = "{\"name\":\"";
    memset(longstr + 9, 'x', 300);
    strcpy(longstr + 309, "\"}");
    s = ah_audit_summary(longstr, strlen(longstr));
    ok(strlen(s) < 160 && strstr(s, "...") != NULL, "long strings cut");
    free(s);
}

static void test_discovery(void)
{
    char err[256];
    const char *doc = "{\"issuer\":\"https://idp.example.com/realms/x\",\"authorization_endpoint\":\"https://idp.example.com/auth\","
                      "\"token_endpoint\":\"https://idp.example.com/token\",\"jwks_uri\":\"https://idp.example.com/jwks\","
                      "\"end_session_endpoint\":\"https://idp.example.com/logout\","
                      "\"token_endpoint_auth_methods_supported\":[\"client_secret_post\"]}";
    ah_oidc_meta_t *m = ah_oidc_meta_parse(doc, strlen(doc), "https://idp.example.com/realms/x/", err, sizeof(err));
    ok(m != NULL, "parses (a trailing slash in the setting is forgiven)");
    if (m != NULL) {
        is_str(m->token_endpoint, "https://idp.example.com/token", "token endpoint");
        ok(m->userinfo_endpoint == NULL, "no userinfo");
        ok(m->client_secret_post, "client_secret_post when basic is not offered");
        ah_oidc_meta_release(m);
    }
    ok(ah_oidc_meta_parse(doc, strlen(doc), "https://evil.example.com/realms/x", err, sizeof(err)) == NULL && strstr(err, "issuer"),
       "another issuer is refused");
    const char *http = "{\"issuer\":\"https://idp.example.com\",\"authorization_endpoint\":\"http://idp.example.com/auth\","
                       "\"token_endpoint\":\"https://idp.example.com/token\",\"jwks_uri\":\"https://idp.example.com/jwks\"}";
    ok(ah_oidc_meta_parse(http, strlen(http), "https://idp.example.com", err, sizeof(err)) == NULL, "an http endpoint of an https issuer");
    const char *missing = "{\"issuer\":\"https://idp.example.com\",\"authorization_endpoint\":\"https://idp.example.com/auth\"}";
    ok(ah_oidc_meta_parse(missing, strlen(missing), "https://idp.example.com", err, sizeof(err)) == NULL, "missing endpoints");
    ok(ah_oidc_meta_parse("[]", 2, "https://idp.example.com", err, sizeof(err)) == NULL, "not an object");
}

static void test_tokens(void)
{
    static ah_node_t node;
    memset(node.session_key, 7, sizeof(node.session_key));
    memset(node.csrf_key, 9, sizeof(node.csrf_key));
    char sid[AH_SID_LEN + 1], got[64];
    ah_session_new_id(sid);
    ok(strncmp(sid, "ses_", 4) == 0 && strlen(sid) == AH_SID_LEN && ah_session_is_id(sid, strlen(sid)), "session ids");
    ok(!ah_session_is_id("ses_a/b..", 9) && !ah_session_is_id("short", 5), "odd ids refused");
    char *t = ah_session_token(&node, sid, "user-1", 1000, 900);
    is_int(ah_session_verify(&node, t, strlen(t), 1000, got), AH_JWT_OK, "verifies");
    is_str(got, sid, "names the session");
    is_int(ah_session_verify(&node, t, strlen(t), 1904, got), AH_JWT_OK, "within the skew");
    is_int(ah_session_verify(&node, t, strlen(t), 1905, got), AH_JWT_EEXP, "expired");
    is_str(got, sid, "an expired token still names its session (for logout)");
    node.session_key[0] ^= 1;
    is_int(ah_session_verify(&node, t, strlen(t), 1000, got), AH_JWT_ESIG, "another key");
    ok(got[0] == '\0', "no session named");
    node.session_key[0] ^= 1;
    free(t);
    char token[128], hash[65], sid2[64], hash2[65];
    ah_refresh_new(sid, token, sizeof(token), hash);
    ok(ah_refresh_parse(h2o_iovec_init(token, strlen(token)), sid2, hash2) == 0, "refresh token parses");
    ok(strcmp(sid2, sid) == 0 && strcmp(hash2, hash) == 0, "sid and hash");
    ok(ah_refresh_parse(h2o_iovec_init(sid, strlen(sid)), sid2, hash2) != 0, "no secret part");
    ok(ah_refresh_parse(h2o_iovec_init("bad/id.xxxxxxxxxxxxxxxxxxxxxxx", 30), sid2, hash2) != 0, "bad id");
    char c1[AH_CSRF_LEN + 1], c2[AH_CSRF_LEN + 1];
    ah_csrf_value(&node, "sid:a", c1);
    ah_csrf_value(&node, "sid:b", c2);
    ok(strlen(c1) == AH_CSRF_LEN && strcmp(c1, c2) != 0, "CSRF tokens differ per session");
    char p1[33], p2[33];
    ah_principal_hash("https://idp#a", p1);
    ah_principal_hash("https://idp#b", p2);
    ok(strlen(p1) == 32 && strcmp(p1, p2) != 0, "principal hashes");
}

int main(void)
{
    test_roles();
    test_role_map();
    test_cidrs();
    test_local_paths();
    test_audit_summary();
    test_discovery();
    test_tokens();
    return done_testing();
}
