/*
 * The node's settings: one table of name, type, default and help, read from
 * an optional KEY=VALUE file (AIHUB_CONFIG) and then from the environment,
 * which wins. The same table prints --help and feeds docs/configuration.md.
 */
#ifndef AH_CONFIG_OPTIONS_H
#define AH_CONFIG_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct st_ah_options_t {
    char listen[128];
    char admin_listen[128];
    char tls_listen[128];
    char tls_cert[512];
    char tls_key[512];
    char redis_url[512];
    char admin_key[256];
    char secret_key[512];
    int64_t threads;          /**< 0 = the CPUs available (cgroup quota respected) */
    int64_t max_body;         /**< bytes */
    int64_t drain_timeout_s;
    char trusted_proxies[512];
    char cors_origins[1024];
    int64_t redis_timeout_ms;
    int64_t header_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t h2_max_streams;
    int64_t config_poll_ms;
    int64_t sweep_ms;
    int64_t stats_fold_ms;
    char log_level[16];
    int64_t access_log;
    char config_file[512];
    char webui_dir[512];
    /* console sign-in (docs/auth.md) */
    char public_url[512];        /**< where people reach the node; no trailing slash after loading */
    char oidc_issuer[512];       /**< empty: OpenID Connect sign-in is off */
    char oidc_client_id[256];
    char oidc_client_secret[512];
    char oidc_scopes[512];
    char oidc_roles_claim[128];
    char oidc_role_map[2048];
    char oidc_default_role[16];
    int64_t oidc_jwks_min_refresh_s; /**< an unknown kid refetches the key set at most this often */
    int64_t session_idle_s;
    int64_t session_max_s;
    int64_t session_token_s;     /**< lifetime of the session JWT in the cookie */
    char trusted_header_user[128];   /**< empty: trusted-header mode is off */
    char trusted_header_email[128];
    char trusted_header_groups[128];
    int64_t audit_max_entries;
} ah_options_t;

/** fills o from defaults, the file named by AIHUB_CONFIG (if any) and the environment; -1 with a message in err */
int ah_options_load(ah_options_t *o, char *err, size_t errcap);
/** prints every option with its default and meaning */
void ah_options_usage(FILE *out);
/** the number of CPUs this process may use (affinity and cgroup v2 quota) */
int ah_options_available_cpus(void);

#endif
