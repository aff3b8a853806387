/*
 * Script registry: maps the node's script ids to the bodies embedded at build
 * time and their SHA1 (what EVALSHA takes).
 */
#include <string.h>
#include <openssl/sha.h>
#include "aihub/log.h"
#include "redis/scripts.h"
#include "redis/scripts_embedded.h"

static ah_script_t scripts[AH_SCRIPT__COUNT] = {
    [AH_SCRIPT_ADMIT] = {.name = "admit"},
    [AH_SCRIPT_FAILOVER] = {.name = "failover"},
    [AH_SCRIPT_SETTLE] = {.name = "settle"},
    [AH_SCRIPT_ACCOUNT_RESET] = {.name = "account_reset"},
    [AH_SCRIPT_CONFIG_READ] = {.name = "config_read"},
    [AH_SCRIPT_CONFIG_PUT] = {.name = "config_put"},
    [AH_SCRIPT_CONFIG_DELETE] = {.name = "config_delete"},
    [AH_SCRIPT_CONFIG_SET] = {.name = "config_set"},
    [AH_SCRIPT_ACCOUNT_STATES] = {.name = "account_states"},
    [AH_SCRIPT_KEY_CHECK] = {.name = "key_check"},
    [AH_SCRIPT_RECORD_PUT] = {.name = "record_put"},
    [AH_SCRIPT_RECORD_GET] = {.name = "record_get"},
    [AH_SCRIPT_RECORDS_LIST] = {.name = "records_list"},
    [AH_SCRIPT_KEY_CREATE] = {.name = "key_create"},
    [AH_SCRIPT_KEY_UPDATE] = {.name = "key_update"},
    [AH_SCRIPT_KEY_DELETE] = {.name = "key_delete"},
    [AH_SCRIPT_USER_DELETE] = {.name = "user_delete"},
    [AH_SCRIPT_CHANNEL_DELETE] = {.name = "channel_delete"},
    [AH_SCRIPT_SWEEP] = {.name = "sweep"},
    [AH_SCRIPT_RENEW] = {.name = "renew"},
    [AH_SCRIPT_CREDITS] = {.name = "credits"},
    [AH_SCRIPT_USAGE_VIEW] = {.name = "usage_view"},
    [AH_SCRIPT_STATS_READ] = {.name = "stats_read"},
[AH_SCRIPT_STATS_FOLD] = {.name = "stats_fold"},
    [AH_SCRIPT_SESSION_CREATE] = {.name = "session_create"},
    [AH_SCRIPT_SESSION_CHECK] = {.name = "session_check"},
    [AH_SCRIPT_SESSION_REFRESH] = {.name = "session_refresh"},
    [AH_SCRIPT_SESSION_REVOKE] = {.name = "session_revoke"},
    [AH_SCRIPT_SESSION_REVOKE_OTHERS] = {.name = "session_revoke_others"},
    [AH_SCRIPT_SESSION_LIST] = {.name = "session_list"},
    [AH_SCRIPT_AUDIT_LIST] = {.name = "audit_list"},
};

int ah_scripts_init(void)
{
    for (int i = 0; i != AH_SCRIPT__COUNT; ++i) {
        const ah_embedded_script_t *e;
        for (e = ah_embedded_scripts; e->name != NULL; ++e)
            if (strcmp(e->name, scripts[i].name) == 0)
                break;
        if (e->name == NULL) {
            ah_log(AH_LOG_ERROR, "redis", "script %s.lua is missing from the build", scripts[i].name);
            return -1;
        }
        scripts[i].body = e->body;
        scripts[i].len = e->len;
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)e->body, e->len, md);
        for (int j = 0; j != SHA_DIGEST_LENGTH; ++j)
            sprintf(scripts[i].sha + 2 * j, "%02x", md[j]);
    }
    return 0;
}

const ah_script_t *ah_script_get(ah_script_id_t id)
{
    return &scripts[id];
}
