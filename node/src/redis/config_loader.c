/*
 * Configuration snapshot loading (see config_loader.h). At most one load is in
 * flight; a notice that arrives meanwhile sets `again`, so the newest version
 * is always loaded afterwards.
 */
#include <stdlib.h>
#include <string.h>
#include "aihub/log.h"
#include "config/snapshot.h"
#include "redis/config_loader.h"

static struct {
    ah_worker_t *w;
    ah_timer_t poll;
    int loading, again, checked;
} loader;

static atomic_int loaded;

int ah_config_loaded(void)
{
    return atomic_load(&loaded);
}

static void load(void);

static ah_snapshot_item_t *items_of(redisReply *flat, size_t *n)
{
    *n = flat->type == REDIS_REPLY_ARRAY ? flat->elements / 2 : 0;
    ah_snapshot_item_t *items = calloc(*n + 1, sizeof(*items));
    for (size_t i = 0; i != *n; ++i)
        items[i] = (ah_snapshot_item_t){flat->element[2 * i]->str, flat->element[2 * i + 1]->str, flat->element[2 * i + 1]->len};
    return items;
}

static void on_config(void *ud, redisReply *reply, const char *err)
{
    loader.loading = 0;
    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 6) {
        ah_log(AH_LOG_WARN, "config", "cannot read the configuration: %s", err != NULL ? err : "unexpected reply");
        return;
    }
    size_t nch, nac;
    ah_snapshot_item_t *ch = items_of(reply->element[1], &nch), *ac = items_of(reply->element[2], &nac);
    const char *mm = reply->element[3]->type == REDIS_REPLY_STRING ? reply->element[3]->str : "";
    const char *st = reply->element[4]->type == REDIS_REPLY_STRING ? reply->element[4]->str : "";
    const char *pr = reply->element[5]->type == REDIS_REPLY_STRING ? reply->element[5]->str : "";
    ah_snapshot_t *s = ah_snapshot_build(reply->element[0]->integer, ch, nch, ac, nac, mm, st, pr, loader.w->node->enc_key);
    free(ch);
    free(ac);
    if (s == NULL)
        return;
    int64_t old = ah_snapshot_current_version();
    ah_snapshot_publish(s);
    if (!atomic_load(&loaded) || old != s->version)
        ah_log(AH_LOG_INFO, "config", "configuration version %lld loaded: %zu channels, %zu accounts", (long long)s->version,
               s->nchannels, s->naccounts);
    atomic_store(&loaded, 1);
    if (loader.again) {
        loader.again = 0;
        load();
    }
}

static void load(void)
{
    if (loader.loading) {
        loader.again = 1;
        return;
    }
    static const char *keys[] = {"ah:cfg:ver", "ah:cfg:channels", "ah:cfg:accounts", "ah:cfg:modelmap", "ah:cfg:settings", "ah:cfg:prices"};
    if (ah_redis_script(loader.w->redis, AH_SCRIPT_CONFIG_READ, 6, 6, keys, NULL, on_config, NULL) == 0)
        loader.loading = 1;
}

static void on_version(void *ud, redisReply *reply, const char *err)
{
    if (err != NULL || reply->type == REDIS_REPLY_ERROR)
        return;
    long long v = reply->type == REDIS_REPLY_STRING ? atoll(reply->str) : 0;
    if (!atomic_load(&loaded) || v != ah_snapshot_current_version())
        load();
}

static void on_poll(ah_timer_t *t)
{
    ah_redis_command(loader.w->redis, on_version, NULL, 2, (const char *[]){"GET", "ah:cfg:ver"}, NULL);
    ah_timer_start(&loader.w->timers, &loader.poll, loader.w->node->opts.config_poll_ms, on_poll);
}

static void on_notice(ah_redis_t *r, void *ud, const char *channel, const char *msg, size_t len)
{
    if (ah_redis_is_ready(loader.w->redis))
        load();
}

static void on_config_get(void *ud, redisReply *reply, const char *err)
{
    const char *what = ud;
    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
        return;
    const char *v = reply->element[1]->str;
    if (strcmp(what, "maxmemory-policy") == 0 && strcmp(v, "noeviction") != 0)
        ah_log(AH_LOG_WARN, "redis", "UNSAFE: maxmemory-policy is '%s'; anything but noeviction can silently drop balances and limits", v);
    if (strcmp(what, "appendonly") == 0 && strcmp(v, "yes") != 0)
        ah_redis_command(loader.w->redis, on_config_get, "save", 3, (const char *[]){"CONFIG", "GET", "save"}, NULL);
    if (strcmp(what, "save") == 0 && v[0] == '\0')
        ah_log(AH_LOG_WARN, "redis", "UNSAFE: Redis has neither AOF nor RDB persistence; a restart loses every balance and setting");
}

void ah_config_loader_on_ready(ah_worker_t *w)
{
    if (!loader.checked) {
        loader.checked = 1;
        ah_redis_command(w->redis, on_config_get, "maxmemory-policy", 3, (const char *[]){"CONFIG", "GET", "maxmemory-policy"}, NULL);
        ah_redis_command(w->redis, on_config_get, "appendonly", 3, (const char *[]){"CONFIG", "GET", "appendonly"}, NULL);
    }
    loader.loading = 0;
    load();
}

void ah_config_loader_start(ah_worker_t *w)
{
    loader.w = w;
    ah_node_t *node = w->node;
    ah_redis_conf_t conf = {.host = node->redis.host, .port = node->redis.port, .db = node->redis.db, .user = node->redis.user,
                            .password = node->redis.password, .timeout_ms = node->opts.redis_timeout_ms};
    ah_redis_hooks_t hooks = {.on_message = on_notice};
    w->subscriber = ah_redis_create(w->loop, &w->timers, &conf, &hooks);
    ah_redis_subscribe(w->subscriber, "ah:cfg:changed");
    ah_redis_start(w->subscriber);
    ah_timer_start(&w->timers, &loader.poll, node->opts.config_poll_ms, on_poll);
}

void ah_config_loader_stop(ah_worker_t *w)
{
    ah_timer_stop(&w->timers, &loader.poll);
    ah_redis_destroy(&w->subscriber);
}
