/*
 * fixture.h: helpers shared by the node's unit tests for building
 * configuration snapshots from JSON text, the way the config loader hands
 * them over: one ah_snapshot_item_t (id, JSON text) per channel or account,
 * with secrets sealed under the same key passed to ah_snapshot_build.
 */
#ifndef AH_TESTS_FIXTURE_H
#define AH_TESTS_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aihub/crypto.h"
#include "config/snapshot.h"

/** the key snapshots are built with */
static const uint8_t fx_key[32] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                                   0xcc, 0xdd, 0xee, 0xff, 0x00, 1,    2,    3,    4,    5,    6,
                                   7,    8,    9,    10,   11,   12,   13,   14,   15,   16};
/** another key: boxes sealed with it must not open under fx_key */
static const uint8_t fx_other_key[32] = {0xde, 0xad, 0xbe, 0xef};

#define FX_MAX_ITEMS 32

/** a growing list of items whose JSON text the list owns */
typedef struct st_fx_items_t {
    ah_snapshot_item_t items[FX_MAX_ITEMS];
    char *texts[FX_MAX_ITEMS];
    size_t n;
} fx_items_t;

/** adds an item with raw JSON text (which may be malformed on purpose) */
static inline void fx_add_text(fx_items_t *l, const char *id, const char *json)
{
    if (l->n == FX_MAX_ITEMS)
        abort();
    l->texts[l->n] = strdup(json);
    l->items[l->n] = (ah_snapshot_item_t){id, l->texts[l->n], strlen(json)};
    l->n++;
}

/** adds an item made from obj (stolen) */
static inline void fx_add(fx_items_t *l, const char *id, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (text == NULL)
        abort();
    fx_add_text(l, id, text);
    free(text);
}

static inline void fx_free(fx_items_t *l)
{
    for (size_t i = 0; i != l->n; i++)
        free(l->texts[i]);
    l->n = 0;
}

/** a sealed box of text under key, as a new JSON string */
static inline json_t *fx_sealed(const uint8_t key[32], const char *text)
{
    char *box = ah_crypto_seal(key, text, strlen(text));
    if (box == NULL)
        abort();
    json_t *v = json_string(box);
    free(box);
    return v;
}

/** an account object on channel_id whose key_enc holds secret sealed under fx_key */
static inline json_t *fx_account(const char *channel_id, const char *secret)
{
    json_t *a = json_object();
    json_object_set_new(a, "channel_id", json_string(channel_id));
    json_object_set_new(a, "key_enc", fx_sealed(fx_key, secret));
    return a;
}

/** a channel object of type serving the models given as a NULL-terminated list */
static inline json_t *fx_channel(const char *type, const char *const *models)
{
    json_t *c = json_object(), *m = json_array();
    for (size_t i = 0; models[i] != NULL; i++)
        json_array_append_new(m, json_string(models[i]));
    json_object_set_new(c, "type", json_string(type));
    json_object_set_new(c, "models", m);
    return c;
}

/** builds a snapshot from the two lists under fx_key */
static inline ah_snapshot_t *fx_build(int64_t version, const fx_items_t *channels, const fx_items_t *accounts, const char *modelmap,
                                      const char *settings)
{
    return ah_snapshot_build(version, channels->items, channels->n, accounts->items, accounts->n, modelmap, settings, NULL, fx_key);
}

/** the account of s with this id, or NULL */
static inline const ah_account_t *fx_find_account(const ah_snapshot_t *s, const char *id)
{
    for (size_t i = 0; i != s->naccounts; i++)
        if (strcmp(s->accounts[i].id, id) == 0)
            return &s->accounts[i];
    return NULL;
}

/** the channel of s with this id, or NULL */
static inline const ah_channel_t *fx_find_channel(const ah_snapshot_t *s, const char *id)
{
    for (size_t i = 0; i != s->nchannels; i++)
        if (strcmp(s->channels[i].id, id) == 0)
            return &s->channels[i];
    return NULL;
}

#endif
