/*
 * Option table and loader (see options.h). Values are validated here so that
 * the rest of the node can trust them.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "aihub/strutil.h"
#include "config/options.h"

#ifndef AIHUB_DEFAULT_WEBUI_DIR
#define AIHUB_DEFAULT_WEBUI_DIR ""
#endif

enum { OPT_STR, OPT_INT, OPT_SIZE };

typedef struct st_option_t {
    const char *name;
    int type;
    size_t offset, size;
    const char *def;
    int64_t min, max;
    const char *help;
} option_t;

#define STR(field, name, def, help) {name, OPT_STR, offsetof(ah_options_t, field), sizeof(((ah_options_t *)0)->field), def, 0, 0, help}
#define INT(field, name, def, min, max, help) {name, OPT_INT, offsetof(ah_options_t, field), 0, def, min, max, help}
#define SIZE(field, name, def, min, max, help) {name, OPT_SIZE, offsetof(ah_options_t, field), 0, def, min, max, help}

static const option_t options[] = {
    STR(listen, "AIHUB_LISTEN", "0.0.0.0:8080", "client API, admin API and console (HTTP/1.1 and h2c); port 0 picks a free port"),
    STR(admin_listen, "AIHUB_ADMIN_LISTEN", "", "if set, /api/*, /admin/*, /auth/* and /metrics are served only here"),
    STR(tls_listen, "AIHUB_TLS_LISTEN", "", "address for HTTP/1.1 and h2 over TLS (needs AIHUB_TLS_CERT and AIHUB_TLS_KEY)"),
    STR(tls_cert, "AIHUB_TLS_CERT", "", "PEM certificate chain for AIHUB_TLS_LISTEN"),
    STR(tls_key, "AIHUB_TLS_KEY", "", "PEM private key for AIHUB_TLS_LISTEN"),
    STR(redis_url, "AIHUB_REDIS_URL", "redis://127.0.0.1:6379/0", "redis://[user:password@]host:port/db"),
    STR(admin_key, "AIHUB_ADMIN_KEY", "", "admin API key (admin-key access is off when empty)"),
    STR(secret_key, "AIHUB_SECRET_KEY", "", "required: at least 32 bytes, hex or base64; the same on every node"),
    INT(threads, "AIHUB_THREADS", "0", 0, 256, "event-loop threads; 0 = the CPUs available"),
    SIZE(max_body, "AIHUB_MAX_BODY", "8MiB", 1024, (int64_t)512 << 20, "request body limit"),
    INT(drain_timeout_s, "AIHUB_DRAIN_TIMEOUT_S", "30", 0, 3600, "how long SIGTERM lets running requests finish"),
    STR(trusted_proxies, "AIHUB_TRUSTED_PROXIES", "", "comma-separated CIDRs whose X-Forwarded-For is believed (and, in trusted-header mode, whose identity headers)"),
    STR(cors_origins, "AIHUB_CORS_ORIGINS", "", "comma-separated origins allowed to call client paths from browsers, or *"),
    INT(redis_timeout_ms, "AIHUB_REDIS_TIMEOUT_MS", "2000", 10, 60000, "deadline of every Redis call"),
    INT(header_timeout_ms, "AIHUB_HEADER_TIMEOUT_MS", "10000", 100, 600000, "HTTP/1 time to receive a request's headers and body, and keep-alive idle time"),
    INT(idle_timeout_ms, "AIHUB_IDLE_TIMEOUT_MS", "60000", 100, 3600000, "HTTP/2 connection idle timeout"),
    INT(h2_max_streams, "AIHUB_H2_MAX_STREAMS", "100", 1, 256, "concurrent HTTP/2 requests per connection"),
    INT(config_poll_ms, "AIHUB_CONFIG_POLL_MS", "500", 50, 60000, "how often the configuration version is checked (pub/sub also signals changes)"),
    INT(sweep_ms, "AIHUB_SWEEP_MS", "2000", 50, 600000, "how often this node settles expired credit holds and in-flight leases"),
    INT(stats_fold_ms, "AIHUB_STATS_FOLD_MS", "1000", 50, 60000, "how often this node folds new request-log entries into the day/hour stats"),
    STR(log_level, "AIHUB_LOG_LEVEL", "info", "debug, info, warn or error"),
    INT(access_log, "AIHUB_ACCESS_LOG", "1", 0, 1, "1: one JSON line per client request on stdout"),
    STR(config_file, "AIHUB_CONFIG", "", "optional file of KEY=VALUE lines with any of these variables"),
    STR(webui_dir, "AIHUB_WEBUI_DIR", AIHUB_DEFAULT_WEBUI_DIR, "the built console (webui/dist), served at /admin/"),
    STR(public_url, "AIHUB_PUBLIC_URL", "", "where people reach the node (http(s)://host[:port]); the sign-in redirect URI is {this}/auth/callback"),
    STR(oidc_issuer, "AIHUB_OIDC_ISSUER", "", "OpenID Provider for console sign-in (discovery at /.well-known/openid-configuration); empty: off"),
    STR(oidc_client_id, "AIHUB_OIDC_CLIENT_ID", "", "the console's client id at the provider"),
    STR(oidc_client_secret, "AIHUB_OIDC_CLIENT_SECRET", "", "the console's client secret (a confidential client that also uses PKCE)"),
    STR(oidc_scopes, "AIHUB_OIDC_SCOPES", "openid email profile", "scopes asked for; add groups or offline_access where the provider wants them"),
    STR(oidc_roles_claim, "AIHUB_OIDC_ROLES_CLAIM", "groups", "claim holding the person's groups (a dotted path reaches into objects)"),
    STR(oidc_role_map, "AIHUB_OIDC_ROLE_MAP", "", "group=role pairs, e.g. aihub-admins=admin,aihub-operators=operator"),
    STR(oidc_default_role, "AIHUB_OIDC_DEFAULT_ROLE", "viewer", "role of people in no mapped group: viewer, operator, admin, or none (refused)"),
    INT(oidc_jwks_min_refresh_s, "AIHUB_OIDC_JWKS_MIN_REFRESH_S", "60", 0, 86400, "a token signed by an unknown key refetches the provider's keys at most this often"),
    INT(session_idle_s, "AIHUB_SESSION_IDLE_S", "3600", 10, 31536000, "a console session ends after this long without use"),
    INT(session_max_s, "AIHUB_SESSION_MAX_S", "43200", 10, 31536000, "and this long after sign-in"),
    INT(session_token_s, "AIHUB_SESSION_TOKEN_S", "900", 10, 86400, "lifetime of the session token in the cookie; the console refreshes it"),
    STR(trusted_header_user, "AIHUB_TRUSTED_HEADER_USER", "", "trusted-header mode: header naming the user, believed only from AIHUB_TRUSTED_PROXIES; empty: off"),
    STR(trusted_header_email, "AIHUB_TRUSTED_HEADER_EMAIL", "", "trusted-header mode: header with the user's email (optional)"),
    STR(trusted_header_groups, "AIHUB_TRUSTED_HEADER_GROUPS", "", "trusted-header mode: header with the user's groups, comma-separated (mapped by AIHUB_OIDC_ROLE_MAP)"),
    INT(audit_max_entries, "AIHUB_AUDIT_MAX_ENTRIES", "100000", 100, 100000000, "approximate cap of the audit log (ah:audit)"),
};

static int set_option(ah_options_t *o, const option_t *opt, const char *value, char *err, size_t errcap)
{
    char *base = (char *)o + opt->offset;
    int64_t v;
    switch (opt->type) {
    case OPT_STR:
        if (strlen(value) >= opt->size) {
            snprintf(err, errcap, "%s is too long", opt->name);
            return -1;
        }
        strcpy(base, value);
        return 0;
    case OPT_INT:
        if (ah_parse_int64(value, strlen(value), &v) != 0)
            goto bad;
        break;
    default:
        if (ah_parse_size(value, &v) != 0)
            goto bad;
        break;
    }
    if (v < opt->min || v > opt->max) {
        snprintf(err, errcap, "%s must be between %lld and %lld", opt->name, (long long)opt->min, (long long)opt->max);
        return -1;
    }
    *(int64_t *)base = v;
    return 0;
bad:
    snprintf(err, errcap, "%s: not a valid %s: '%s'", opt->name, opt->type == OPT_INT ? "integer" : "size", value);
    return -1;
}

static const option_t *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i != sizeof(options) / sizeof(options[0]); ++i)
        if (strlen(options[i].name) == len && memcmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

static int load_file(ah_options_t *o, const char *path, char *err, size_t errcap)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(err, errcap, "cannot open AIHUB_CONFIG file %s", path);
        return -1;
    }
    char line[2048];
    int lineno = 0, rv = 0;
    while (rv == 0 && fgets(line, sizeof(line), fp) != NULL) {
        ++lineno;
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line + strspn(line, " \t");
        if (*p == '\0' || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        const option_t *opt = eq != NULL ? find_option(p, eq - p) : NULL;
        if (opt == NULL) {
            snprintf(err, errcap, "%s:%d: unknown setting", path, lineno);
            rv = -1;
        } else if (getenv(opt->name) == NULL) {
            rv = set_option(o, opt, eq + 1, err, errcap);
        }
    }
    fclose(fp);
    return rv;
}

/* 1 when url is http(s)://host... and, for http, the host is a loopback address */
static int url_ok(const char *url, int allow_http_loopback)
{
    if (strncmp(url, "https://", 8) == 0)
        return url[8] != '\0' && url[8] != '/';
    if (strncmp(url, "http://", 7) != 0 || url[7] == '\0' || url[7] == '/')
        return 0;
    if (!allow_http_loopback)
        return 1;
    const char *h = url + 7;
    return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 || strncmp(h, "[::1]", 5) == 0;
}

/* the sign-in settings go together: see docs/auth.md */
static int check_sign_in(ah_options_t *o, char *err, size_t errcap)
{
    size_t n = strlen(o->public_url);
    while (n > 0 && o->public_url[n - 1] == '/')
        o->public_url[--n] = '\0';
    if (o->public_url[0] != '\0' && !url_ok(o->public_url, 0)) {
        snprintf(err, errcap, "AIHUB_PUBLIC_URL must be an http:// or https:// URL");
        return -1;
    }
    if (o->oidc_issuer[0] != '\0') {
        if (!url_ok(o->oidc_issuer, 1)) {
            snprintf(err, errcap, "AIHUB_OIDC_ISSUER must be an https:// URL (http:// only for a loopback address)");
            return -1;
        }
        if (o->oidc_client_id[0] == '\0' || o->public_url[0] == '\0') {
            snprintf(err, errcap, "AIHUB_OIDC_ISSUER needs AIHUB_OIDC_CLIENT_ID and AIHUB_PUBLIC_URL");
            return -1;
        }
        if (strstr(o->oidc_scopes, "openid") == NULL) {
            snprintf(err, errcap, "AIHUB_OIDC_SCOPES must include openid");
            return -1;
        }
    }
    if (o->trusted_header_user[0] != '\0' && o->trusted_proxies[0] == '\0') {
        snprintf(err, errcap, "AIHUB_TRUSTED_HEADER_USER needs AIHUB_TRUSTED_PROXIES (the proxies whose headers are believed)");
        return -1;
    }
    if (o->session_token_s > o->session_max_s) {
        snprintf(err, errcap, "AIHUB_SESSION_TOKEN_S may not exceed AIHUB_SESSION_MAX_S");
        return -1;
    }
    return 0;
}

int ah_options_load(ah_options_t *o, char *err, size_t errcap)
{
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; i != sizeof(options) / sizeof(options[0]); ++i) {
        const char *env = getenv(options[i].name);
        if (set_option(o, &options[i], env != NULL ? env : options[i].def, err, errcap) != 0)
            return -1;
    }
    if (o->config_file[0] != '\0' && load_file(o, o->config_file, err, errcap) != 0)
        return -1;
    if (o->threads == 0)
        o->threads = ah_options_available_cpus();
    int tls_set = (o->tls_listen[0] != '\0') + (o->tls_cert[0] != '\0') + (o->tls_key[0] != '\0');
    if (tls_set != 0 && tls_set != 3) {
        snprintf(err, errcap, "AIHUB_TLS_LISTEN, AIHUB_TLS_CERT and AIHUB_TLS_KEY go together");
        return -1;
    }
    return check_sign_in(o, err, errcap);
}

void ah_options_usage(FILE *out)
{
    fprintf(out, "aihub-node: the AiHub gateway. Configured by environment variables:\n\n");
    for (size_t i = 0; i != sizeof(options) / sizeof(options[0]); ++i)
        fprintf(out, "  %-24s default '%s'\n      %s\n", options[i].name, options[i].def, options[i].help);
}

int ah_options_available_cpus(void)
{
    cpu_set_t set;
    int n = 1;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        n = CPU_COUNT(&set);
    FILE *fp = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (fp != NULL) {
        char quota[32];
        long period;
        if (fscanf(fp, "%31s %ld", quota, &period) == 2 && strcmp(quota, "max") != 0 && period > 0) {
            long q = atol(quota), cpus = (q + period - 1) / period;
            if (cpus >= 1 && cpus < n)
                n = (int)cpus;
        }
        fclose(fp);
    }
    return n < 1 ? 1 : n;
}
