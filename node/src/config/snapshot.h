/*
 * The configuration snapshot: channels, accounts (with their provider secrets
 * decrypted), the model map and settings, as plain read-only structures.
 * A snapshot never changes after it is built; a newer one replaces it whole,
 * and requests keep the one they started with through a reference count.
 */
#ifndef AH_CONFIG_SNAPSHOT_H
#define AH_CONFIG_SNAPSHOT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "aihub/money.h"

typedef enum en_ah_channel_type_t {
    AH_CHANNEL_OPENAI,
    AH_CHANNEL_OPENAI_COMPATIBLE,
    AH_CHANNEL_ANTHROPIC,
    AH_CHANNEL_GEMINI,
    AH_CHANNEL_AZURE,
} ah_channel_type_t;

/** cooldown durations in seconds */
typedef struct st_ah_cooldowns_t {
    int64_t s429, s5xx, timeout;
} ah_cooldowns_t;

typedef struct st_ah_status_map_entry_t {
    int from, to;
} ah_status_map_entry_t;

typedef struct st_ah_channel_t {
    char *id, *name, *base_url;
    ah_channel_type_t type;
    char **models;
    size_t nmodels;
    int64_t weight, priority;
    int enabled;
    int64_t timeout_ms, stream_idle_timeout_ms;
    ah_cooldowns_t cooldowns;    /**< resolved: the channel's own, else the settings' */
    char **headers;              /**< "Name: value" lines set on every upstream request (decrypted) */
    size_t nheaders;
    json_t *params_set;          /**< object or NULL */
    json_t *params_remove;       /**< array of strings or NULL */
    ah_status_map_entry_t *status_map;
    size_t nstatus_map;
    char *proxy;                 /**< egress proxy URL (decrypted) or NULL */
    char *api_version;           /**< azure */
    json_t *deployments;         /**< azure: object model -> deployment, or NULL */
} ah_channel_t;

typedef struct st_ah_account_t {
    char *id, *name;
    const ah_channel_t *channel;
    char *secret; /**< the provider key, decrypted */
    int64_t weight;
    int enabled;
    int64_t rpm, tpm;
} ah_account_t;

typedef struct st_ah_snapshot_t {
    int64_t version;
    atomic_long refs;
    ah_channel_t *channels;
    size_t nchannels;
    ah_account_t *accounts;
    size_t naccounts;
    json_t *modelmap; /**< object alias -> array of upstream model names */
    json_t *settings; /**< object */
    int64_t max_retries;
    ah_cooldowns_t cooldowns;
    json_t *prices;              /**< object model -> [input, output, cached_input] in micro-units per million tokens */
    int64_t global_rpm, global_tpm;
    int64_t hold_ttl_s;
    int64_t default_max_tokens;
    int64_t log_max_entries;
} ah_snapshot_t;

/** one config object as stored: its id and JSON text (borrowed) */
typedef struct st_ah_snapshot_item_t {
    const char *id;
    const char *json;
    size_t len;
} ah_snapshot_item_t;

/**
 * Builds a snapshot (refs = 1). Objects that cannot be parsed or decrypted are
 * skipped and logged, never fatal. Returns NULL only when allocation fails.
 */
ah_snapshot_t *ah_snapshot_build(int64_t version, const ah_snapshot_item_t *channels, size_t nchannels,
                                 const ah_snapshot_item_t *accounts, size_t naccounts, const char *modelmap, const char *settings,
                                 const char *prices, const uint8_t enc_key[32]);
/** the price of model; 1 when it has one, else 0 (the model costs nothing) */
int ah_snapshot_price(const ah_snapshot_t *s, const char *model, ah_price_t *out);
/** converts the prices table as stored ({"m": {"input", "output", "cached_input"}}) to integer form; NULL when malformed (caller owns) */
json_t *ah_snapshot_prices_parse(json_t *table);
/** an empty snapshot of version 0 (before the first load) */
ah_snapshot_t *ah_snapshot_empty(void);
void ah_snapshot_retain(ah_snapshot_t *s);
/** drops a reference; frees at zero; sets *s to NULL */
void ah_snapshot_release(ah_snapshot_t **s);
/** the channel type named by text, or -1 */
int ah_channel_type_from_name(const char *name);
const char *ah_channel_type_name(ah_channel_type_t t);
/** the status the channel's status_map turns status into */
int ah_channel_map_status(const ah_channel_t *c, int status);

/** process-wide current snapshot: publish swaps it in (taking the caller's reference) */
void ah_snapshot_publish(ah_snapshot_t *s);
/** a new reference to the current snapshot; release it when done */
ah_snapshot_t *ah_snapshot_acquire(void);
/** the version of the current snapshot, without taking a reference */
int64_t ah_snapshot_current_version(void);

#endif
