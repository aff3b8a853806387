/*
 * Building, sharing and freeing configuration snapshots (see snapshot.h).
 * The current snapshot is one pointer behind a mutex; requests take their own
 * reference, so a swap never frees a snapshot that is still in use.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <h2o/memory.h>
#include "aihub/crypto.h"
#include "aihub/log.h"
#include "config/snapshot.h"

static const char *type_names[] = {"openai", "openai-compatible", "anthropic", "gemini", "azure"};

int ah_channel_type_from_name(const char *name)
{
    for (size_t i = 0; i != sizeof(type_names) / sizeof(type_names[0]); ++i)
        if (strcmp(type_names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *ah_channel_type_name(ah_channel_type_t t)
{
    return type_names[t];
}

int ah_channel_map_status(const ah_channel_t *c, int status)
{
    for (size_t i = 0; i != c->nstatus_map; ++i)
        if (c->status_map[i].from == status)
            return c->status_map[i].to;
    return status;
}

static char *dup_str(json_t *obj, const char *field, const char *def)
{
    const char *v = json_string_value(json_object_get(obj, field));
    if (v == NULL)
        v = def;
    return v != NULL ? strdup(v) : NULL;
}

static int64_t get_int(json_t *obj, const char *field, int64_t def)
{
    json_t *v = json_object_get(obj, field);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

static void read_cooldowns(json_t *obj, ah_cooldowns_t *out, const ah_cooldowns_t *def)
{
    *out = *def;
    if (!json_is_object(obj))
        return;
    out->s429 = get_int(obj, "429", def->s429);
    out->s5xx = get_int(obj, "5xx", def->s5xx);
    out->timeout = get_int(obj, "timeout", def->timeout);
}

/* secrets stored sealed: "<field>_enc" holds the AES-GCM box of the JSON text or string */
static char *open_field(json_t *obj, const char *field, const uint8_t key[32], const char *what, const char *id)
{
    const char *sealed = json_string_value(json_object_get(obj, field));
    if (sealed == NULL || sealed[0] == '\0')
        return NULL;
    size_t len;
    char *plain = ah_crypto_open(key, sealed, strlen(sealed), &len);
    if (plain == NULL)
        ah_log(AH_LOG_ERROR, "config", "%s %s: %s cannot be decrypted (wrong AIHUB_SECRET_KEY?)", what, id, field);
    return plain;
}

static int build_channel(ah_channel_t *c, const ah_snapshot_item_t *item, const ah_snapshot_t *s, const uint8_t key[32])
{
    json_error_t jerr;
    json_t *obj = json_loadb(item->json, item->len, 0, &jerr);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return -1;
    }
    const char *type = json_string_value(json_object_get(obj, "type"));
    int t = type != NULL ? ah_channel_type_from_name(type) : -1;
    json_t *models = json_object_get(obj, "models");
    if (t < 0 || !json_is_array(models)) {
        json_decref(obj);
        return -1;
    }
    memset(c, 0, sizeof(*c));
    c->id = strdup(item->id);
    c->type = t;
    c->name = dup_str(obj, "name", "");
    c->base_url = dup_str(obj, "base_url", "");
    size_t blen = strlen(c->base_url);
    while (blen > 0 && c->base_url[blen - 1] == '/')
        c->base_url[--blen] = '\0';
    c->nmodels = json_array_size(models);
    c->models = calloc(c->nmodels + 1, sizeof(char *));
    for (size_t i = 0; i != c->nmodels; ++i)
        c->models[i] = strdup(json_string_value(json_array_get(models, i)) ? json_string_value(json_array_get(models, i)) : "");
    c->weight = get_int(obj, "weight", 1);
    c->priority = get_int(obj, "priority", 0);
    c->enabled = !json_is_false(json_object_get(obj, "enabled"));
    c->timeout_ms = get_int(obj, "timeout_ms", 60000);
    c->stream_idle_timeout_ms = get_int(obj, "stream_idle_timeout_ms", 120000);
    read_cooldowns(json_object_get(obj, "cooldowns"), &c->cooldowns, &s->cooldowns);
    char *headers = open_field(obj, "headers_enc", key, "channel", item->id);
    if (headers != NULL) {
        json_t *h = json_loads(headers, 0, &jerr);
        const char *name;
        json_t *v;
        c->headers = calloc(json_object_size(h) + 1, sizeof(char *));
        json_object_foreach(h, name, v)
        {
            if (!json_is_string(v))
                continue;
            size_t n = strlen(name) + json_string_length(v) + 3;
            c->headers[c->nheaders] = malloc(n);
            snprintf(c->headers[c->nheaders++], n, "%s: %s", name, json_string_value(v));
        }
        json_decref(h);
        free(headers);
    }
    json_t *params = json_object_get(obj, "params");
    if (json_is_object(json_object_get(params, "set")))
        c->params_set = json_incref(json_object_get(params, "set"));
    if (json_is_array(json_object_get(params, "remove")))
        c->params_remove = json_incref(json_object_get(params, "remove"));
    json_t *smap = json_object_get(obj, "status_map");
    if (json_is_object(smap)) {
        const char *from;
        json_t *to;
        c->status_map = calloc(json_object_size(smap) + 1, sizeof(*c->status_map));
        json_object_foreach(smap, from, to)
        {
            if (json_is_integer(to))
                c->status_map[c->nstatus_map++] = (ah_status_map_entry_t){atoi(from), (int)json_integer_value(to)};
        }
    }
    c->proxy = open_field(obj, "proxy_enc", key, "channel", item->id);
    c->api_version = dup_str(obj, "api_version", NULL);
    if (json_is_object(json_object_get(obj, "deployments")))
        c->deployments = json_incref(json_object_get(obj, "deployments"));
    json_decref(obj);
    return 0;
}

static void free_channel(ah_channel_t *c)
{
    free(c->id);
    free(c->name);
    free(c->base_url);
    for (size_t i = 0; i != c->nmodels; ++i)
        free(c->models[i]);
    free(c->models);
    for (size_t i = 0; i != c->nheaders; ++i)
        free(c->headers[i]);
    free(c->headers);
    json_decref(c->params_set);
    json_decref(c->params_remove);
    free(c->status_map);
    free(c->proxy);
    free(c->api_version);
    json_decref(c->deployments);
}

static int build_account(ah_account_t *a, const ah_snapshot_item_t *item, const ah_snapshot_t *s, const uint8_t key[32])
{
    json_error_t jerr;
    json_t *obj = json_loadb(item->json, item->len, 0, &jerr);
    const char *channel_id = json_string_value(json_object_get(obj, "channel_id"));
    const ah_channel_t *channel = NULL;
    for (size_t i = 0; channel_id != NULL && i != s->nchannels; ++i)
        if (strcmp(s->channels[i].id, channel_id) == 0)
            channel = &s->channels[i];
    char *secret = channel != NULL ? open_field(obj, "key_enc", key, "account", item->id) : NULL;
    if (secret == NULL) {
        json_decref(obj);
        return -1;
    }
    *a = (ah_account_t){.id = strdup(item->id), .name = dup_str(obj, "name", ""), .channel = channel, .secret = secret};
    a->weight = get_int(obj, "weight", 1);
    a->enabled = !json_is_false(json_object_get(obj, "enabled"));
    a->rpm = get_int(obj, "rpm", 0);
    a->tpm = get_int(obj, "tpm", 0);
    json_decref(obj);
    return 0;
}

static json_t *load_object(const char *text)
{
    json_error_t jerr;
    json_t *v = text != NULL && text[0] != '\0' ? json_loads(text, 0, &jerr) : NULL;
    if (!json_is_object(v)) {
        json_decref(v);
        v = json_object();
    }
    return v;
}

ah_snapshot_t *ah_snapshot_build(int64_t version, const ah_snapshot_item_t *channels, size_t nchannels,
                                 const ah_snapshot_item_t *accounts, size_t naccounts, const char *modelmap, const char *settings,
                                 const char *prices, const uint8_t enc_key[32])
{
    ah_snapshot_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->version = version;
    atomic_init(&s->refs, 1);
    s->modelmap = load_object(modelmap);
    s->settings = load_object(settings);
    s->max_retries = get_int(s->settings, "max_retries", 3);
    s->global_rpm = get_int(s->settings, "global_rpm", 0);
    s->global_tpm = get_int(s->settings, "global_tpm", 0);
    s->hold_ttl_s = get_int(s->settings, "hold_ttl_s", 600);
    s->default_max_tokens = get_int(s->settings, "default_max_tokens", 4096);
    s->log_max_entries = get_int(s->settings, "log_max_entries", 1000000);
    json_t *table = load_object(prices);
    s->prices = ah_snapshot_prices_parse(table);
    if (s->prices == NULL) {
        ah_log(AH_LOG_WARN, "config", "the price table is malformed: every model is free until it is fixed");
        s->prices = json_object();
    }
    json_decref(table);
    ah_cooldowns_t defaults = {60, 300, 120};
    read_cooldowns(json_object_get(s->settings, "cooldowns"), &s->cooldowns, &defaults);
    s->channels = calloc(nchannels + 1, sizeof(*s->channels));
    for (size_t i = 0; i != nchannels; ++i) {
        if (build_channel(&s->channels[s->nchannels], &channels[i], s, enc_key) == 0)
            ++s->nchannels;
        else
            ah_log(AH_LOG_WARN, "config", "channel %s skipped: malformed", channels[i].id);
    }
    s->accounts = calloc(naccounts + 1, sizeof(*s->accounts));
    for (size_t i = 0; i != naccounts; ++i) {
        if (build_account(&s->accounts[s->naccounts], &accounts[i], s, enc_key) == 0)
            ++s->naccounts;
        else
            ah_log(AH_LOG_WARN, "config", "account %s skipped: malformed, orphaned or undecryptable", accounts[i].id);
    }
    return s;
}

ah_snapshot_t *ah_snapshot_empty(void)
{
    return ah_snapshot_build(0, NULL, 0, NULL, 0, NULL, NULL, NULL, (const uint8_t[32]){0});
}

void ah_snapshot_retain(ah_snapshot_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void ah_snapshot_release(ah_snapshot_t **ps)
{
    ah_snapshot_t *s = *ps;
    *ps = NULL;
    if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i != s->nchannels; ++i)
        free_channel(&s->channels[i]);
    free(s->channels);
    for (size_t i = 0; i != s->naccounts; ++i) {
        ah_account_t *a = &s->accounts[i];
        if (a->secret != NULL)
            memset(a->secret, 0, strlen(a->secret));
        free(a->secret);
        free(a->id);
        free(a->name);
    }
    free(s->accounts);
    json_decref(s->modelmap);
    json_decref(s->settings);
    json_decref(s->prices);
    free(s);
}

json_t *ah_snapshot_prices_parse(json_t *table)
{
    if (!json_is_object(table))
        return NULL;
    json_t *out = json_object();
    const char *model;
    json_t *p;
    json_object_foreach(table, model, p)
    {
        json_t *in = json_object_get(p, "input"), *o = json_object_get(p, "output"), *c = json_object_get(p, "cached_input");
        int64_t vi = json_is_number(in) ? ah_money_price_from_units(json_number_value(in)) : -1;
        int64_t vo = json_is_number(o) ? ah_money_price_from_units(json_number_value(o)) : -1;
        int64_t vc = c == NULL || json_is_null(c) ? vi : json_is_number(c) ? ah_money_price_from_units(json_number_value(c)) : -1;
        if (!json_is_object(p) || vi < 0 || vo < 0 || vc < 0) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, model, json_pack("[I, I, I]", (json_int_t)vi, (json_int_t)vo, (json_int_t)vc));
    }
    return out;
}

int ah_snapshot_price(const ah_snapshot_t *s, const char *model, ah_price_t *out)
{
    json_t *p = json_object_get(s->prices, model);
    if (p == NULL)
        return 0;
    *out = (ah_price_t){json_integer_value(json_array_get(p, 0)), json_integer_value(json_array_get(p, 1)),
                        json_integer_value(json_array_get(p, 2))};
    return 1;
}

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static ah_snapshot_t *current;
static atomic_llong current_version;

void ah_snapshot_publish(ah_snapshot_t *s)
{
    pthread_mutex_lock(&current_lock);
    ah_snapshot_t *old = current;
    current = s;
    atomic_store(&current_version, s->version);
    pthread_mutex_unlock(&current_lock);
    ah_snapshot_release(&old);
}

ah_snapshot_t *ah_snapshot_acquire(void)
{
    pthread_mutex_lock(&current_lock);
    ah_snapshot_t *s = current;
    if (s != NULL)
        ah_snapshot_retain(s);
    pthread_mutex_unlock(&current_lock);
    return s;
}

int64_t ah_snapshot_current_version(void)
{
    return atomic_load(&current_version);
}
