/*
 * test_options.c: unit tests for config/options.c: defaults, environment
 * overrides, size suffixes, out-of-range and malformed values (rejected with
 * a message naming the variable), the AIHUB_CONFIG file (KEY=VALUE lines,
 * comments, unknown keys, the environment winning over the file) and the
 * rule that the three TLS settings go together.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/options.h"
#include "tap.h"

extern char **environ;

static ah_options_t o;
static char err[512];
static char cfg_path[64];

/* removes every AIHUB_* variable, so the test sees only what it sets */
static void clear_env(void)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, "AIHUB_", 6) == 0) {
                size_t n = strcspn(*e, "=");
                if (n < sizeof(name)) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                    break;
                }
            }
        }
        if (name[0] == '\0')
            return;
        unsetenv(name);
    }
}

static int load(void)
{
    err[0] = '\0';
    return ah_options_load(&o, err, sizeof(err));
}

/* loads with one variable set to value; returns ah_options_load's result */
static int load_with(const char *name, const char *value)
{
    clear_env();
    setenv(name, value, 1);
    int rv = load();
    unsetenv(name);
    return rv;
}

static void write_cfg(const char *text)
{
    FILE *fp = fopen(cfg_path, "w");
    if (fp == NULL || fputs(text, fp) < 0)
        abort();
    fclose(fp);
}

static void test_defaults(void)
{
    clear_env();
    is_int(load(), 0, "defaults load");
    is_str(o.listen, "0.0.0.0:8080", "AIHUB_LISTEN default");
    is_str(o.admin_listen, "", "AIHUB_ADMIN_LISTEN default empty");
    is_str(o.tls_listen, "", "AIHUB_TLS_LISTEN default empty");
    is_str(o.tls_cert, "", "AIHUB_TLS_CERT default empty");
    is_str(o.tls_key, "", "AIHUB_TLS_KEY default empty");
    is_str(o.redis_url, "redis://127.0.0.1:6379/0", "AIHUB_REDIS_URL default");
    is_str(o.admin_key, "", "AIHUB_ADMIN_KEY default empty");
    is_str(o.secret_key, "", "AIHUB_SECRET_KEY default empty");
    is_int(o.threads, ah_options_available_cpus(), "AIHUB_THREADS default: the CPUs available");
    ok(o.threads >= 1, "  at least one");
    is_int(o.max_body, 8 << 20, "AIHUB_MAX_BODY default 8MiB");
    is_int(o.drain_timeout_s, 30, "AIHUB_DRAIN_TIMEOUT_S default 30");
    is_str(o.trusted_proxies, "", "AIHUB_TRUSTED_PROXIES default empty");
    is_str(o.cors_origins, "", "AIHUB_CORS_ORIGINS default empty");
    is_int(o.redis_timeout_ms, 2000, "AIHUB_REDIS_TIMEOUT_MS default 2000");
    is_int(o.header_timeout_ms, 10000, "AIHUB_HEADER_TIMEOUT_MS default 10000");
    is_int(o.idle_timeout_ms, 60000, "AIHUB_IDLE_TIMEOUT_MS default 60000");
    is_int(o.h2_max_streams, 100, "AIHUB_H2_MAX_STREAMS default 100");
    is_int(o.config_poll_ms, 500, "AIHUB_CONFIG_POLL_MS default 500");
    is_str(o.log_level, "info", "AIHUB_LOG_LEVEL default info");
    is_int(o.access_log, 1, "AIHUB_ACCESS_LOG default 1");
    is_str(o.config_file, "", "AIHUB_CONFIG default empty");

    /* a previous load leaves nothing behind */
    setenv("AIHUB_ADMIN_KEY", "k1", 1);
    load();
    unsetenv("AIHUB_ADMIN_KEY");
    load();
    is_str(o.admin_key, "", "a value from an earlier load does not leak into the next");
}

static void test_env_overrides(void)
{
    clear_env();
    setenv("AIHUB_LISTEN", "127.0.0.1:9000", 1);
    setenv("AIHUB_ADMIN_LISTEN", "127.0.0.1:9001", 1);
    setenv("AIHUB_REDIS_URL", "redis://:pw@redis:6380/2", 1);
    setenv("AIHUB_ADMIN_KEY", "admin-secret", 1);
    setenv("AIHUB_SECRET_KEY", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1);
    setenv("AIHUB_THREADS", "4", 1);
    setenv("AIHUB_DRAIN_TIMEOUT_S", "0", 1);
    setenv("AIHUB_TRUSTED_PROXIES", "10.0.0.0/8,192.168.0.0/16", 1);
    setenv("AIHUB_CORS_ORIGINS", "*", 1);
    setenv("AIHUB_REDIS_TIMEOUT_MS", "10", 1);
    setenv("AIHUB_HEADER_TIMEOUT_MS", "600000", 1);
    setenv("AIHUB_IDLE_TIMEOUT_MS", "100", 1);
    setenv("AIHUB_H2_MAX_STREAMS", "256", 1);
    setenv("AIHUB_CONFIG_POLL_MS", "50", 1);
    setenv("AIHUB_LOG_LEVEL", "debug", 1);
    setenv("AIHUB_ACCESS_LOG", "0", 1);
    is_int(load(), 0, "environment overrides load");
    is_str(o.listen, "127.0.0.1:9000", "AIHUB_LISTEN from the environment");
    is_str(o.admin_listen, "127.0.0.1:9001", "AIHUB_ADMIN_LISTEN");
    is_str(o.redis_url, "redis://:pw@redis:6380/2", "AIHUB_REDIS_URL");
    is_str(o.admin_key, "admin-secret", "AIHUB_ADMIN_KEY");
    is_str(o.secret_key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "AIHUB_SECRET_KEY");
    is_int(o.threads, 4, "AIHUB_THREADS 4");
    is_int(o.drain_timeout_s, 0, "AIHUB_DRAIN_TIMEOUT_S 0 (its minimum)");
    is_str(o.trusted_proxies, "10.0.0.0/8,192.168.0.0/16", "AIHUB_TRUSTED_PROXIES");
    is_str(o.cors_origins, "*", "AIHUB_CORS_ORIGINS");
    is_int(o.redis_timeout_ms, 10, "AIHUB_REDIS_TIMEOUT_MS 10 (its minimum)");
    is_int(o.header_timeout_ms, 600000, "AIHUB_HEADER_TIMEOUT_MS 600000 (its maximum)");
    is_int(o.idle_timeout_ms, 100, "AIHUB_IDLE_TIMEOUT_MS 100 (its minimum)");
    is_int(o.h2_max_streams, 256, "AIHUB_H2_MAX_STREAMS 256 (its maximum)");
    is_int(o.config_poll_ms, 50, "AIHUB_CONFIG_POLL_MS 50 (its minimum)");
    is_str(o.log_level, "debug", "AIHUB_LOG_LEVEL");
    is_int(o.access_log, 0, "AIHUB_ACCESS_LOG 0");
    clear_env();

    is_int(load_with("AIHUB_THREADS", "0"), 0, "AIHUB_THREADS 0 accepted");
    is_int(o.threads, ah_options_available_cpus(), "  and means the CPUs available");
    is_int(load_with("AIHUB_THREADS", "256"), 0, "AIHUB_THREADS 256 (its maximum)");
    is_int(o.threads, 256, "  kept");
    is_int(load_with("AIHUB_THREADS", "+8"), 0, "AIHUB_THREADS with a plus sign");
    is_int(o.threads, 8, "  is 8");
    is_int(load_with("AIHUB_ADMIN_KEY", ""), 0, "an empty string value is accepted");
    is_str(o.admin_key, "", "  and is empty");
    char longest[16];
    memset(longest, 'x', 15);
    longest[15] = '\0';
    is_int(load_with("AIHUB_LOG_LEVEL", longest), 0, "a string of exactly its capacity minus one fits");
    is_str(o.log_level, longest, "  kept whole");
}

static void test_sizes(void)
{
    static const struct {
        const char *text;
        long long want;
    } good[] = {
        {"1024", 1024},          {"1k", 1024},       {"64k", 64 << 10},     {"64K", 64 << 10},          {"64KiB", 64 << 10},
        {"2m", 2 << 20},         {"2M", 2 << 20},    {"2MiB", 2 << 20},     {"512MiB", 512LL << 20},    {"536870912", 512LL << 20},
        {"0g", -1} /* below */, {"1g", -1} /* above */,
    };
    for (size_t i = 0; i != sizeof(good) / sizeof(good[0]); i++) {
        char name[96];
        int rv = load_with("AIHUB_MAX_BODY", good[i].text);
        if (good[i].want < 0) {
            snprintf(name, sizeof(name), "AIHUB_MAX_BODY=%s out of range: rejected", good[i].text);
            is_int(rv, -1, name);
            ok(strstr(err, "AIHUB_MAX_BODY") != NULL, "  the message names AIHUB_MAX_BODY");
            continue;
        }
        snprintf(name, sizeof(name), "AIHUB_MAX_BODY=%s accepted", good[i].text);
        is_int(rv, 0, name);
        snprintf(name, sizeof(name), "AIHUB_MAX_BODY=%s is %lld bytes", good[i].text, good[i].want);
        is_int(o.max_body, good[i].want, name);
    }
    is_int(load_with("AIHUB_MAX_BODY", "1023"), -1, "AIHUB_MAX_BODY=1023: below the 1024 minimum");
    ok(strstr(err, "AIHUB_MAX_BODY") != NULL && strstr(err, "1024") != NULL, "  the message names the variable and the bounds");
    is_int(load_with("AIHUB_MAX_BODY", "536870913"), -1, "AIHUB_MAX_BODY one byte over 512MiB: rejected");
    static const char *const bad[] = {"", "abc", "8MB", "8 M", " 8M", "8M ", "-1", "-1k", "1.5M", "8T", "M", "99999999999999999999"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); i++) {
        char name[96];
        snprintf(name, sizeof(name), "AIHUB_MAX_BODY='%s' malformed: rejected", bad[i]);
        is_int(load_with("AIHUB_MAX_BODY", bad[i]), -1, name);
        ok(strstr(err, "AIHUB_MAX_BODY") != NULL, "  the message names AIHUB_MAX_BODY");
    }
}

static void test_rejected(void)
{
    static const struct {
        const char *name, *value;
    } bad[] = {
        {"AIHUB_THREADS", "257"},           {"AIHUB_THREADS", "-1"},          {"AIHUB_THREADS", "four"},
        {"AIHUB_THREADS", "4x"},            {"AIHUB_THREADS", ""},            {"AIHUB_THREADS", " 4"},
        {"AIHUB_THREADS", "0x10"},          {"AIHUB_THREADS", "99999999999999999999"},
        {"AIHUB_DRAIN_TIMEOUT_S", "3601"},  {"AIHUB_REDIS_TIMEOUT_MS", "9"},  {"AIHUB_REDIS_TIMEOUT_MS", "60001"},
        {"AIHUB_HEADER_TIMEOUT_MS", "99"},  {"AIHUB_IDLE_TIMEOUT_MS", "3600001"}, {"AIHUB_H2_MAX_STREAMS", "0"},
        {"AIHUB_H2_MAX_STREAMS", "257"},    {"AIHUB_CONFIG_POLL_MS", "49"},   {"AIHUB_ACCESS_LOG", "2"},
        {"AIHUB_ACCESS_LOG", "yes"},
    };
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); i++) {
        char name[128];
        snprintf(name, sizeof(name), "%s='%s' rejected", bad[i].name, bad[i].value);
        is_int(load_with(bad[i].name, bad[i].value), -1, name);
        snprintf(name, sizeof(name), "  the message names %s", bad[i].name);
        ok(strstr(err, bad[i].name) != NULL, name);
    }
    is_int(load_with("AIHUB_THREADS", "257"), -1, "out of range");
    ok(strstr(err, "between 0 and 256") != NULL, "  the message gives the range");
    is_int(load_with("AIHUB_THREADS", "four"), -1, "malformed");
    ok(strstr(err, "four") != NULL, "  the message quotes the value");

    char toolong[17];
    memset(toolong, 'x', 16);
    toolong[16] = '\0';
    is_int(load_with("AIHUB_LOG_LEVEL", toolong), -1, "a string longer than its field: rejected");
    ok(strstr(err, "AIHUB_LOG_LEVEL") != NULL && strstr(err, "too long") != NULL, "  the message names the variable");
    char big[700];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    is_int(load_with("AIHUB_REDIS_URL", big), -1, "a 699-byte AIHUB_REDIS_URL: too long");
    ok(strstr(err, "AIHUB_REDIS_URL") != NULL, "  the message names the variable");

    /* a small error buffer is not overrun (ASan checks) */
    clear_env();
    setenv("AIHUB_THREADS", "four", 1);
    char small[8];
    memset(small, '#', sizeof(small));
    is_int(ah_options_load(&o, small, 5), -1, "error with a 5-byte message buffer");
    ok(small[4] == '\0' && small[5] == '#', "  the message is cut to fit");
    clear_env();
}

static void test_config_file(void)
{
    clear_env();
    write_cfg("# AiHub settings\n"
              "\n"
              "   # an indented comment\n"
              "AIHUB_LISTEN=127.0.0.1:7000\n"
              "AIHUB_THREADS=5\n"
              "\tAIHUB_MAX_BODY=16MiB\r\n"
              "AIHUB_ADMIN_KEY=a=b=c\n"
              "AIHUB_CORS_ORIGINS=\n"
              "AIHUB_LOG_LEVEL=warn");
    setenv("AIHUB_CONFIG", cfg_path, 1);
    is_int(load(), 0, "config file loads");
    if (err[0] != '\0')
        diag("error: %s", err);
    is_str(o.config_file, cfg_path, "config_file holds the path");
    is_str(o.listen, "127.0.0.1:7000", "AIHUB_LISTEN from the file");
    is_int(o.threads, 5, "AIHUB_THREADS from the file");
    is_int(o.max_body, 16 << 20, "indented line with CRLF: AIHUB_MAX_BODY 16MiB");
    is_str(o.admin_key, "a=b=c", "the value is everything after the first '='");
    is_str(o.cors_origins, "", "an empty value");
    is_str(o.log_level, "warn", "last line without a newline");
    is_int(o.drain_timeout_s, 30, "settings not in the file keep their defaults");

    /* the environment wins over the file */
    setenv("AIHUB_THREADS", "3", 1);
    setenv("AIHUB_LOG_LEVEL", "error", 1);
    is_int(load(), 0, "file and environment load");
    is_int(o.threads, 3, "AIHUB_THREADS: the environment wins over the file");
    is_str(o.log_level, "error", "AIHUB_LOG_LEVEL: the environment wins over the file");
    is_str(o.listen, "127.0.0.1:7000", "AIHUB_LISTEN still from the file");
    unsetenv("AIHUB_THREADS");
    unsetenv("AIHUB_LOG_LEVEL");

    /* a bad value in the file is ignored when the environment overrides it */
    write_cfg("AIHUB_THREADS=lots\n");
    setenv("AIHUB_THREADS", "2", 1);
    is_int(load(), 0, "a bad file value overridden by the environment is not an error");
    is_int(o.threads, 2, "  the environment's value is used");
    unsetenv("AIHUB_THREADS");
    is_int(load(), -1, "a bad file value otherwise is an error");
    ok(strstr(err, "AIHUB_THREADS") != NULL, "  naming the variable");

    write_cfg("AIHUB_LISTEN=127.0.0.1:7000\n# fine\nAIHUB_NO_SUCH_THING=1\n");
    is_int(load(), -1, "unknown key in the file: error");
    ok(strstr(err, cfg_path) != NULL && strstr(err, ":3:") != NULL, "  the message names the file and line 3");
    ok(strstr(err, "unknown") != NULL, "  and says the setting is unknown");

    write_cfg("AIHUB_LISTEN\n");
    is_int(load(), -1, "a line without '=': error");
    ok(strstr(err, ":1:") != NULL, "  on line 1");
    write_cfg("aihub_listen=127.0.0.1:1\n");
    is_int(load(), -1, "keys are case-sensitive");
    write_cfg("AIHUB_LISTENX=1\n");
    is_int(load(), -1, "a longer name that starts like a known one: unknown");
    write_cfg("AIHUB_LISTE=1\n");
    is_int(load(), -1, "a prefix of a known name: unknown");
    write_cfg("export AIHUB_LISTEN=1\n");
    is_int(load(), -1, "shell syntax is not understood: unknown");
    write_cfg("AIHUB_MAX_BODY=1g\n");
    is_int(load(), -1, "out-of-range value in the file: error");
    ok(strstr(err, "AIHUB_MAX_BODY") != NULL, "  naming the variable");
    write_cfg("");
    is_int(load(), 0, "an empty file is fine");
    write_cfg("# only\n# comments\n\n");
    is_int(load(), 0, "a file of comments is fine");

    setenv("AIHUB_CONFIG", "/nonexistent/aihub.env", 1);
    is_int(load(), -1, "a missing AIHUB_CONFIG file: error");
    ok(strstr(err, "/nonexistent/aihub.env") != NULL, "  naming the file");
    clear_env();
}

static void tls(const char *listen, const char *cert, const char *key)
{
    clear_env();
    if (listen != NULL)
        setenv("AIHUB_TLS_LISTEN", listen, 1);
    if (cert != NULL)
        setenv("AIHUB_TLS_CERT", cert, 1);
    if (key != NULL)
        setenv("AIHUB_TLS_KEY", key, 1);
}

static void test_tls_trio(void)
{
    tls(NULL, NULL, NULL);
    is_int(load(), 0, "no TLS settings: fine");
    tls("0.0.0.0:8443", "/etc/cert.pem", "/etc/key.pem");
    is_int(load(), 0, "all three TLS settings: fine");
    is_str(o.tls_listen, "0.0.0.0:8443", "  AIHUB_TLS_LISTEN");
    is_str(o.tls_cert, "/etc/cert.pem", "  AIHUB_TLS_CERT");
    is_str(o.tls_key, "/etc/key.pem", "  AIHUB_TLS_KEY");
    tls("0.0.0.0:8443", NULL, NULL);
    is_int(load(), -1, "AIHUB_TLS_LISTEN alone: rejected");
    ok(strstr(err, "AIHUB_TLS_LISTEN") != NULL && strstr(err, "AIHUB_TLS_CERT") != NULL && strstr(err, "AIHUB_TLS_KEY") != NULL,
       "  the message names the three variables");
    tls("0.0.0.0:8443", "/etc/cert.pem", NULL);
    is_int(load(), -1, "listen and cert without key: rejected");
    tls("0.0.0.0:8443", NULL, "/etc/key.pem");
    is_int(load(), -1, "listen and key without cert: rejected");
    tls("0.0.0.0:8443", "", "/etc/key.pem");
    is_int(load(), -1, "an empty cert counts as unset: rejected");
    tls(NULL, "/etc/cert.pem", "/etc/key.pem");
    is_int(load(), -1, "cert and key without listen: rejected");
    /* all or none of the TLS trio */
    tls(NULL, "/etc/cert.pem", NULL);
    is_int(load(), -1, "cert alone: rejected");
    tls(NULL, NULL, "/etc/key.pem");
    is_int(load(), -1, "key alone: rejected");

    /* the trio may be split between the file and the environment */
    tls(NULL, "/etc/cert.pem", "/etc/key.pem");
    write_cfg("AIHUB_TLS_LISTEN=0.0.0.0:8443\n");
    setenv("AIHUB_CONFIG", cfg_path, 1);
    is_int(load(), 0, "listen from the file, cert and key from the environment: fine");
    is_str(o.tls_listen, "0.0.0.0:8443", "  listen from the file");
    clear_env();
}

static void test_usage(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    ah_options_usage(fp);
    fclose(fp);
    static const char *const names[] = {"AIHUB_LISTEN", "AIHUB_TLS_LISTEN", "AIHUB_SECRET_KEY", "AIHUB_MAX_BODY", "AIHUB_CONFIG"};
    int all = 1;
    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); i++)
        all &= strstr(buf, names[i]) != NULL;
    ok(all, "usage lists the options");
    ok(strstr(buf, "8MiB") != NULL, "usage shows defaults");
    free(buf);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(cfg_path, sizeof(cfg_path), "%s/aihub-opts-XXXXXX", tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
    int fd = mkstemp(cfg_path);
    if (fd < 0)
        return 2;
    close(fd);
    test_defaults();
    test_env_overrides();
    test_sizes();
    test_rejected();
    test_config_file();
    test_tls_trio();
    test_usage();
    unlink(cfg_path);
    return done_testing();
}
