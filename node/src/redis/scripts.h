/*
 * The registry of Redis scripts the node calls: each script's name, body and
 * SHA1, computed once at start from the embedded copies.
 */
#ifndef AH_REDIS_SCRIPTS_H
#define AH_REDIS_SCRIPTS_H
#include <stddef.h>

typedef enum en_ah_script_id_t {
    AH_SCRIPT_ADMIT,
    AH_SCRIPT_FAILOVER,
    AH_SCRIPT_SETTLE,
    AH_SCRIPT_ACCOUNT_RESET,
    AH_SCRIPT_CONFIG_READ,
    AH_SCRIPT_CONFIG_PUT,
    AH_SCRIPT_CONFIG_DELETE,
    AH_SCRIPT_CONFIG_SET,
    AH_SCRIPT_ACCOUNT_STATES,
    AH_SCRIPT_KEY_CHECK,
    AH_SCRIPT_RECORD_PUT,
    AH_SCRIPT_RECORD_GET,
    AH_SCRIPT_RECORDS_LIST,
    AH_SCRIPT_KEY_CREATE,
    AH_SCRIPT_KEY_UPDATE,
    AH_SCRIPT_KEY_DELETE,
    AH_SCRIPT_USER_DELETE,
    AH_SCRIPT_CHANNEL_DELETE,
    AH_SCRIPT_SWEEP,
    AH_SCRIPT_RENEW,
    AH_SCRIPT_CREDITS,
    AH_SCRIPT_USAGE_VIEW,
    AH_SCRIPT_STATS_READ,
    AH_SCRIPT_STATS_FOLD,
    AH_SCRIPT_SESSION_CREATE,
    AH_SCRIPT_SESSION_CHECK,
    AH_SCRIPT_SESSION_REFRESH,
    AH_SCRIPT_SESSION_REVOKE,
    AH_SCRIPT_SESSION_REVOKE_OTHERS,
    AH_SCRIPT_SESSION_LIST,
    AH_SCRIPT_AUDIT_LIST,
    AH_SCRIPT__COUNT
} ah_script_id_t;

typedef struct st_ah_script_t {
    const char *name;
    const char *body;
    size_t len;
    char sha[41];
} ah_script_t;

/** resolves every script of the enum against the embedded table; -1 (and logs) if one is missing */
int ah_scripts_init(void);
/** the script for id; valid after ah_scripts_init */
const ah_script_t *ah_script_get(ah_script_id_t id);

#endif
