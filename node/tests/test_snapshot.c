/*
 * test_snapshot.c: unit tests for config/snapshot.c: parsing of channels
 * (defaults, explicit fields, cooldown inheritance, sealed headers and proxy,
 * status maps, trailing slashes), accounts (sealed secrets; orphaned,
 * undecryptable and malformed ones skipped), settings, the model map,
 * reference counting and the process-wide current snapshot.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aihub/log.h"
#include "fixture.h"
#include "tap.h"

static FILE *logf_;

/* Returns everything logged since the last call, and clears it. */
static char *take_log(void)
{
    fflush(logf_);
    long n = ftell(logf_);
    char *buf = calloc(1, (size_t)n + 1);
    rewind(logf_);
    if (n > 0 && fread(buf, 1, (size_t)n, logf_) != (size_t)n)
        buf[0] = '\0';
    if (ftruncate(fileno(logf_), 0) != 0)
        abort();
    rewind(logf_);
    return buf;
}

static int has_header(const ah_channel_t *c, const char *line)
{
    for (size_t i = 0; i != c->nheaders; i++)
        if (strcmp(c->headers[i], line) == 0)
            return 1;
    return 0;
}

static void test_channel_defaults(void)
{
    fx_items_t ch = {0}, ac = {0};
    fx_add(&ch, "c-min", fx_channel("openai", (const char *[]){"gpt-a", NULL}));
    ah_snapshot_t *s = fx_build(5, &ch, &ac, NULL, NULL);
    ok(s != NULL, "minimal channel: snapshot built");
    is_int(s->version, 5, "version kept");
    is_int(s->nchannels, 1, "one channel");
    const ah_channel_t *c = &s->channels[0];
    is_str(c->id, "c-min", "id comes from the item");
    is_int(c->type, AH_CHANNEL_OPENAI, "type openai");
    is_str(c->name, "", "name defaults to empty");
    is_str(c->base_url, "", "base_url defaults to empty");
    is_int(c->nmodels, 1, "one model");
    is_str(c->models[0], "gpt-a", "model name");
    is_int(c->weight, 1, "weight defaults to 1");
    is_int(c->priority, 0, "priority defaults to 0");
    is_int(c->enabled, 1, "enabled by default");
    is_int(c->timeout_ms, 60000, "timeout_ms defaults to 60000");
    is_int(c->stream_idle_timeout_ms, 120000, "stream_idle_timeout_ms defaults to 120000");
    is_int(c->cooldowns.s429, 60, "cooldown 429 defaults to 60");
    is_int(c->cooldowns.s5xx, 300, "cooldown 5xx defaults to 300");
    is_int(c->cooldowns.timeout, 120, "cooldown timeout defaults to 120");
    is_int(c->nheaders, 0, "no headers");
    is_int(c->nstatus_map, 0, "no status map");
    ok(c->proxy == NULL, "no proxy");
    ok(c->api_version == NULL, "no api_version");
    ok(c->deployments == NULL, "no deployments");
    ok(c->params_set == NULL && c->params_remove == NULL, "no params");
    is_int(s->max_retries, 3, "max_retries defaults to 3");
    is_int(s->cooldowns.s429, 60, "settings cooldowns default 429");
    is_int(s->cooldowns.s5xx, 300, "settings cooldowns default 5xx");
    is_int(s->cooldowns.timeout, 120, "settings cooldowns default timeout");
    ok(json_is_object(s->modelmap) && json_object_size(s->modelmap) == 0, "absent model map: empty object");
    ok(json_is_object(s->settings) && json_object_size(s->settings) == 0, "absent settings: empty object");
    is_int(s->naccounts, 0, "no accounts");
    ah_snapshot_release(&s);
    fx_free(&ch);
}

static void test_channel_fields(void)
{
    fx_items_t ch = {0}, ac = {0};
    json_t *c = fx_channel("azure", (const char *[]){"m1", "m2", "m3", NULL});
    json_object_set_new(c, "name", json_string("Azure EU"));
    json_object_set_new(c, "base_url", json_string("https://eu.example.com/openai///"));
    json_object_set_new(c, "weight", json_integer(7));
    json_object_set_new(c, "priority", json_integer(-2));
    json_object_set_new(c, "enabled", json_false());
    json_object_set_new(c, "timeout_ms", json_integer(1500));
    json_object_set_new(c, "stream_idle_timeout_ms", json_integer(2500));
    json_object_set_new(c, "api_version", json_string("2024-06-01"));
    json_object_set_new(c, "deployments", json_pack("{s:s}", "m1", "dep-1"));
    json_object_set_new(c, "params", json_pack("{s:{s:i},s:[s]}", "set", "max_tokens", 99, "remove", "logprobs"));
    json_object_set_new(c, "status_map", json_pack("{s:i,s:i,s:s}", "400", 429, "529", 503, "418", "teapot"));
    json_object_set_new(c, "headers_enc", fx_sealed(fx_key, "{\"X-Org\":\"org-1\",\"X-Two\":\"two words\",\"X-Num\":5}"));
    json_object_set_new(c, "proxy_enc", fx_sealed(fx_key, "http://user:pw@proxy:3128"));
    fx_add(&ch, "c-full", c);

    /* enabled: anything but false keeps the channel enabled */
    json_t *d = fx_channel("anthropic", (const char *[]){"claude", NULL});
    json_object_set_new(d, "enabled", json_true());
    json_object_set_new(d, "base_url", json_string("https://api.anthropic.com"));
    json_object_set_new(d, "weight", json_string("9")); /* wrong type: default */
    fx_add(&ch, "c-on", d);

    json_t *e = fx_channel("gemini", (const char *[]){NULL});
    json_object_set_new(e, "base_url", json_string("///"));
    json_object_set_new(e, "headers_enc", fx_sealed(fx_other_key, "{\"X-Secret\":\"nope\"}"));
    json_object_set_new(e, "proxy_enc", json_string("v1:garbage"));
    fx_add(&ch, "c-wrongkey", e);

    ah_snapshot_t *s = fx_build(1, &ch, &ac, NULL, NULL);
    is_int(s->nchannels, 3, "three channels");
    const ah_channel_t *f = fx_find_channel(s, "c-full");
    ok(f != NULL, "c-full present");
    if (f == NULL) {
        ah_snapshot_release(&s);
        fx_free(&ch);
        return;
    }
    is_int(f->type, AH_CHANNEL_AZURE, "type azure");
    is_str(f->name, "Azure EU", "name");
    is_str(f->base_url, "https://eu.example.com/openai", "trailing slashes stripped from base_url");
    is_int(f->nmodels, 3, "three models");
    ok(f->nmodels == 3 && strcmp(f->models[0], "m1") == 0 && strcmp(f->models[1], "m2") == 0 && strcmp(f->models[2], "m3") == 0,
       "models in order");
    is_int(f->weight, 7, "weight");
    is_int(f->priority, -2, "priority");
    is_int(f->enabled, 0, "enabled:false disables");
    is_int(f->timeout_ms, 1500, "timeout_ms");
    is_int(f->stream_idle_timeout_ms, 2500, "stream_idle_timeout_ms");
    is_str(f->api_version, "2024-06-01", "api_version");
    is_str(json_string_value(json_object_get(f->deployments, "m1")), "dep-1", "deployments kept");
    is_int(json_integer_value(json_object_get(f->params_set, "max_tokens")), 99, "params.set kept");
    is_str(json_string_value(json_array_get(f->params_remove, 0)), "logprobs", "params.remove kept");
    is_int(f->nheaders, 2, "headers_enc: two string headers (a number is skipped)");
    ok(has_header(f, "X-Org: org-1"), "header line \"X-Org: org-1\"");
    ok(has_header(f, "X-Two: two words"), "header line \"X-Two: two words\"");
    is_str(f->proxy, "http://user:pw@proxy:3128", "proxy_enc decrypted");
    is_int(f->nstatus_map, 2, "status_map: two integer entries (a string value is skipped)");
    is_int(ah_channel_map_status(f, 400), 429, "status 400 mapped to 429");
    is_int(ah_channel_map_status(f, 529), 503, "status 529 mapped to 503");
    is_int(ah_channel_map_status(f, 418), 418, "status with a non-integer mapping unchanged");
    is_int(ah_channel_map_status(f, 200), 200, "unmapped status unchanged");

    const ah_channel_t *on = fx_find_channel(s, "c-on");
    ok(on != NULL && on->enabled == 1, "enabled:true keeps the channel enabled");
    ok(on != NULL && on->type == AH_CHANNEL_ANTHROPIC, "type anthropic");
    ok(on != NULL && strcmp(on->base_url, "https://api.anthropic.com") == 0, "base_url without a trailing slash unchanged");
    ok(on != NULL && on->weight == 1, "a weight that is not an integer falls back to 1");

    const ah_channel_t *w = fx_find_channel(s, "c-wrongkey");
    ok(w != NULL, "a channel whose headers do not decrypt is kept");
    ok(w != NULL && w->nheaders == 0, "  with no headers");
    ok(w != NULL && w->proxy == NULL, "  and no proxy (garbage box)");
    ok(w != NULL && strcmp(w->base_url, "") == 0, "base_url of only slashes becomes empty");
    ok(w != NULL && w->nmodels == 0 && w->type == AH_CHANNEL_GEMINI, "empty model list accepted");
    ah_snapshot_release(&s);
    fx_free(&ch);
}

static void test_channel_types_and_malformed(void)
{
    static const struct {
        const char *name;
        int type;
    } types[] = {{"openai", AH_CHANNEL_OPENAI},
                 {"openai-compatible", AH_CHANNEL_OPENAI_COMPATIBLE},
                 {"anthropic", AH_CHANNEL_ANTHROPIC},
                 {"gemini", AH_CHANNEL_GEMINI},
                 {"azure", AH_CHANNEL_AZURE}};
    for (size_t i = 0; i != sizeof(types) / sizeof(types[0]); i++) {
        is_int(ah_channel_type_from_name(types[i].name), types[i].type, types[i].name);
        is_str(ah_channel_type_name(types[i].type), types[i].name, "type name round trip");
    }
    is_int(ah_channel_type_from_name("OpenAI"), -1, "type names are case-sensitive");
    is_int(ah_channel_type_from_name(""), -1, "empty type name");
    is_int(ah_channel_type_from_name("cohere"), -1, "unknown type name");

    fx_items_t ch = {0}, ac = {0};
    fx_add(&ch, "c-first", fx_channel("openai", (const char *[]){"a", NULL}));
    fx_add_text(&ch, "c-bad-json", "{\"type\":\"openai\",\"models\":[\"a\"");
    fx_add_text(&ch, "c-array", "[\"openai\"]");
    fx_add_text(&ch, "c-empty", "");
    fx_add(&ch, "c-bad-type", fx_channel("cohere", (const char *[]){"a", NULL}));
    fx_add_text(&ch, "c-no-type", "{\"models\":[\"a\"]}");
    fx_add_text(&ch, "c-type-int", "{\"type\":1,\"models\":[\"a\"]}");
    fx_add_text(&ch, "c-no-models", "{\"type\":\"openai\"}");
    fx_add_text(&ch, "c-models-str", "{\"type\":\"openai\",\"models\":\"a\"}");
    fx_add(&ch, "c-last", fx_channel("openai-compatible", (const char *[]){"b", NULL}));
    ah_snapshot_t *s = fx_build(2, &ch, &ac, "not json", "[1,2]");
    ok(s != NULL, "snapshot built despite malformed channels");
    is_int(s->nchannels, 2, "only the two well-formed channels kept");
    ok(s->nchannels == 2 && strcmp(s->channels[0].id, "c-first") == 0 && strcmp(s->channels[1].id, "c-last") == 0,
       "kept channels in item order");
    ok(json_is_object(s->modelmap) && json_object_size(s->modelmap) == 0, "malformed model map: empty object");
    ok(json_is_object(s->settings) && json_object_size(s->settings) == 0, "settings that are not an object: empty object");
    is_int(s->max_retries, 3, "  max_retries default");
    char *log = take_log();
    ok(strstr(log, "channel c-bad-json skipped") != NULL, "skipping a malformed channel is logged");
    ok(strstr(log, "channel c-bad-type skipped") != NULL, "skipping an unknown type is logged");
    free(log);
    ah_snapshot_release(&s);
    fx_free(&ch);
}

static void test_settings_and_cooldowns(void)
{
    fx_items_t ch = {0}, ac = {0};
    fx_add(&ch, "c-inherit", fx_channel("openai", (const char *[]){"a", NULL}));
    json_t *c = fx_channel("openai", (const char *[]){"a", NULL});
    json_object_set_new(c, "cooldowns", json_pack("{s:i}", "5xx", 7));
    fx_add(&ch, "c-own-5xx", c);
    c = fx_channel("openai", (const char *[]){"a", NULL});
    json_object_set_new(c, "cooldowns", json_pack("{s:i,s:i,s:i}", "429", 1, "5xx", 2, "timeout", 3));
    fx_add(&ch, "c-own-all", c);
    c = fx_channel("openai", (const char *[]){"a", NULL});
    json_object_set_new(c, "cooldowns", json_pack("{s:s,s:i}", "429", "soon", "timeout", 0));
    fx_add(&ch, "c-own-bad", c);
    c = fx_channel("openai", (const char *[]){"a", NULL});
    json_object_set_new(c, "cooldowns", json_integer(5));
    fx_add(&ch, "c-cd-int", c);

    ah_snapshot_t *s = fx_build(3, &ch, &ac, "{\"fast\":[\"a\"]}", "{\"max_retries\":5,\"cooldowns\":{\"429\":10}}");
    is_int(s->max_retries, 5, "settings max_retries");
    is_int(s->cooldowns.s429, 10, "settings cooldowns 429 set");
    is_int(s->cooldowns.s5xx, 300, "settings cooldowns 5xx keeps its default");
    is_int(s->cooldowns.timeout, 120, "settings cooldowns timeout keeps its default");
    ok(json_is_array(json_object_get(s->modelmap, "fast")), "model map parsed");
    is_int(json_integer_value(json_object_get(s->settings, "max_retries")), 5, "settings object kept");

    const ah_channel_t *x = fx_find_channel(s, "c-inherit");
    ok(x != NULL && x->cooldowns.s429 == 10 && x->cooldowns.s5xx == 300 && x->cooldowns.timeout == 120,
       "channel without cooldowns inherits the settings' (10/300/120)");
    x = fx_find_channel(s, "c-own-5xx");
    ok(x != NULL && x->cooldowns.s429 == 10 && x->cooldowns.s5xx == 7 && x->cooldowns.timeout == 120,
       "channel with its own 5xx inherits the other fields per field (10/7/120)");
    x = fx_find_channel(s, "c-own-all");
    ok(x != NULL && x->cooldowns.s429 == 1 && x->cooldowns.s5xx == 2 && x->cooldowns.timeout == 3, "channel with all three (1/2/3)");
    x = fx_find_channel(s, "c-own-bad");
    ok(x != NULL && x->cooldowns.s429 == 10 && x->cooldowns.s5xx == 300 && x->cooldowns.timeout == 0,
       "a non-integer field inherits; timeout 0 is kept (10/300/0)");
    x = fx_find_channel(s, "c-cd-int");
    ok(x != NULL && x->cooldowns.s429 == 10 && x->cooldowns.s5xx == 300 && x->cooldowns.timeout == 120,
       "cooldowns that are not an object: all inherited");
    ah_snapshot_release(&s);

    s = fx_build(4, &ch, &ac, "", "{\"max_retries\":\"7\",\"cooldowns\":{\"5xx\":30,\"timeout\":40}}");
    is_int(s->max_retries, 3, "max_retries that is not an integer: default 3");
    is_int(s->cooldowns.s429, 60, "settings 429 default");
    is_int(s->cooldowns.s5xx, 30, "settings 5xx set");
    is_int(s->cooldowns.timeout, 40, "settings timeout set");
    x = fx_find_channel(s, "c-own-5xx");
    ok(x != NULL && x->cooldowns.s429 == 60 && x->cooldowns.s5xx == 7 && x->cooldowns.timeout == 40,
       "channel 5xx own, the rest from these settings (60/7/40)");
    x = fx_find_channel(s, "c-own-bad");
    ok(x != NULL && x->cooldowns.s429 == 60 && x->cooldowns.s5xx == 30 && x->cooldowns.timeout == 0,
       "channel timeout own, 429 and 5xx from these settings (60/30/0)");
    x = fx_find_channel(s, "c-inherit");
    ok(x != NULL && x->cooldowns.s429 == 60 && x->cooldowns.s5xx == 30 && x->cooldowns.timeout == 40,
       "channel without cooldowns: these settings' (60/30/40)");
    ah_snapshot_release(&s);
    fx_free(&ch);
}

static void test_accounts(void)
{
    fx_items_t ch = {0}, ac = {0};
    fx_add(&ch, "c1", fx_channel("openai", (const char *[]){"a", NULL}));
    fx_add_text(&ch, "c-broken", "{\"type\":\"openai\"}");
    fx_add(&ch, "c2", fx_channel("anthropic", (const char *[]){"b", NULL}));

    fx_add(&ac, "a-min", fx_account("c1", "sk-min"));
    json_t *a = fx_account("c2", "sk-full \"quoted\"");
    json_object_set_new(a, "name", json_string("main key"));
    json_object_set_new(a, "weight", json_integer(4));
    json_object_set_new(a, "enabled", json_false());
    json_object_set_new(a, "rpm", json_integer(60));
    json_object_set_new(a, "tpm", json_integer(100000));
    fx_add(&ac, "a-full", a);
    fx_add(&ac, "a-orphan", fx_account("c-gone", "sk-orphan"));
    fx_add(&ac, "a-broken-channel", fx_account("c-broken", "sk-x"));
    a = json_pack("{s:s}", "channel_id", "c1");
    json_object_set_new(a, "key_enc", fx_sealed(fx_other_key, "sk-other"));
    fx_add(&ac, "a-wrong-key", a);
    fx_add(&ac, "a-no-key", json_pack("{s:s}", "channel_id", "c1"));
    fx_add(&ac, "a-empty-key", json_pack("{s:s,s:s}", "channel_id", "c1", "key_enc", ""));
    fx_add(&ac, "a-garbage-key", json_pack("{s:s,s:s}", "channel_id", "c1", "key_enc", "v1:AAAA"));
    fx_add(&ac, "a-plain-key", json_pack("{s:s,s:s}", "channel_id", "c1", "key_enc", "sk-plaintext"));
    a = fx_account("c1", "sk-x");
    json_object_del(a, "channel_id");
    fx_add(&ac, "a-no-channel", a);
    fx_add_text(&ac, "a-bad-json", "{\"channel_id\":\"c1\",");
    fx_add_text(&ac, "a-array", "[]");
    fx_add(&ac, "a-last", fx_account("c1", "sk-last"));

    ah_snapshot_t *s = fx_build(9, &ch, &ac, NULL, NULL);
    ok(s != NULL, "snapshot built despite bad accounts");
    is_int(s->nchannels, 2, "two channels (one malformed skipped)");
    is_int(s->naccounts, 3, "three accounts kept");
    ok(s->naccounts == 3 && strcmp(s->accounts[0].id, "a-min") == 0 && strcmp(s->accounts[1].id, "a-full") == 0 &&
           strcmp(s->accounts[2].id, "a-last") == 0,
       "kept accounts in item order");

    const ah_account_t *m = fx_find_account(s, "a-min");
    ok(m != NULL, "a-min present");
    if (m != NULL) {
        is_str(m->secret, "sk-min", "secret decrypted");
        is_str(m->name, "", "name defaults to empty");
        is_int(m->weight, 1, "weight defaults to 1");
        is_int(m->enabled, 1, "enabled by default");
        is_int(m->rpm, 0, "rpm defaults to 0");
        is_int(m->tpm, 0, "tpm defaults to 0");
        ok(m->channel == fx_find_channel(s, "c1"), "channel points at c1 inside the snapshot");
    }
    const ah_account_t *f = fx_find_account(s, "a-full");
    ok(f != NULL, "a-full present");
    if (f != NULL) {
        is_str(f->secret, "sk-full \"quoted\"", "secret with quotes decrypted verbatim");
        is_str(f->name, "main key", "name");
        is_int(f->weight, 4, "weight");
        is_int(f->enabled, 0, "enabled:false disables");
        is_int(f->rpm, 60, "rpm");
        is_int(f->tpm, 100000, "tpm");
        ok(f->channel == fx_find_channel(s, "c2"), "channel points at c2 (the channel after a skipped one)");
    }
    ok(fx_find_account(s, "a-orphan") == NULL, "account whose channel is missing: skipped");
    ok(fx_find_account(s, "a-broken-channel") == NULL, "account whose channel was malformed: skipped");
    ok(fx_find_account(s, "a-wrong-key") == NULL, "account sealed under another key: skipped");
    ok(fx_find_account(s, "a-no-key") == NULL, "account without key_enc: skipped");
    ok(fx_find_account(s, "a-empty-key") == NULL, "account with empty key_enc: skipped");
    ok(fx_find_account(s, "a-garbage-key") == NULL, "account with a garbage box: skipped");
    ok(fx_find_account(s, "a-plain-key") == NULL, "account with an unsealed key: skipped");
    ok(fx_find_account(s, "a-no-channel") == NULL, "account without channel_id: skipped");
    ok(fx_find_account(s, "a-bad-json") == NULL && fx_find_account(s, "a-array") == NULL, "malformed account JSON: skipped");
    const ah_account_t *l = fx_find_account(s, "a-last");
    ok(l != NULL && strcmp(l->secret, "sk-last") == 0, "accounts after skipped ones still load");

    char *log = take_log();
    ok(strstr(log, "account a-orphan skipped") != NULL, "skipping an orphaned account is logged");
    ok(strstr(log, "account a-wrong-key skipped") != NULL, "skipping an undecryptable account is logged");
    ok(strstr(log, "cannot be decrypted") != NULL, "the decryption failure is logged");
    ok(strstr(log, "sk-") == NULL, "no secret appears in the log");
    free(log);
    ah_snapshot_release(&s);

    /* the same accounts under the other key: nothing opens */
    s = ah_snapshot_build(10, ch.items, ch.n, ac.items, ac.n, NULL, NULL, NULL, fx_other_key);
    is_int(s->naccounts, 1, "under the other key only the account sealed with it loads");
    ok(s->naccounts == 1 && strcmp(s->accounts[0].id, "a-wrong-key") == 0 && strcmp(s->accounts[0].secret, "sk-other") == 0,
       "  and it is a-wrong-key");
    ah_snapshot_release(&s);
    free(take_log());
    fx_free(&ch);
    fx_free(&ac);
}

static void test_map_status_direct(void)
{
    ah_status_map_entry_t map[] = {{500, 502}, {404, 400}, {500, 503}};
    ah_channel_t c = {.status_map = map, .nstatus_map = 3};
    is_int(ah_channel_map_status(&c, 500), 502, "first matching entry wins");
    is_int(ah_channel_map_status(&c, 404), 400, "second entry");
    is_int(ah_channel_map_status(&c, 502), 502, "a target is not mapped again");
    ah_channel_t empty = {0};
    is_int(ah_channel_map_status(&empty, 429), 429, "empty map: identity");
}

static void test_refcount_and_current(void)
{
    is_int(ah_snapshot_current_version(), 0, "no snapshot published yet: version 0");
    ok(ah_snapshot_acquire() == NULL, "no snapshot published yet: acquire gives NULL");

    ah_snapshot_t *e = ah_snapshot_empty();
    ok(e != NULL, "empty snapshot");
    is_int(e->version, 0, "  version 0");
    ok(e->nchannels == 0 && e->naccounts == 0, "  no channels, no accounts");
    is_int(e->max_retries, 3, "  default max_retries");
    is_int(atomic_load(&e->refs), 1, "  one reference");

    fx_items_t ch = {0}, ac = {0};
    fx_add(&ch, "c1", fx_channel("openai", (const char *[]){"a", NULL}));
    fx_add(&ac, "a1", fx_account("c1", "sk-1"));
    ah_snapshot_t *s1 = fx_build(7, &ch, &ac, NULL, NULL);
    is_int(atomic_load(&s1->refs), 1, "built with one reference");
    ah_snapshot_retain(s1);
    is_int(atomic_load(&s1->refs), 2, "retain: two");
    ah_snapshot_t *extra = s1;
    ah_snapshot_release(&extra);
    ok(extra == NULL, "release sets the pointer to NULL");
    is_int(atomic_load(&s1->refs), 1, "release: one");
    ah_snapshot_t *none = NULL;
    ah_snapshot_release(&none);
    ok(none == NULL, "releasing NULL is a no-op");

    ah_snapshot_publish(e);
    is_int(ah_snapshot_current_version(), 0, "empty published: version 0");
    ah_snapshot_publish(s1); /* takes our reference; frees e */
    is_int(ah_snapshot_current_version(), 7, "publish: current version 7");
    ah_snapshot_t *held = ah_snapshot_acquire();
    ok(held == s1, "acquire returns the published snapshot");
    is_int(atomic_load(&s1->refs), 2, "  with a new reference");

    ah_snapshot_t *s2 = fx_build(8, &ch, &ac, NULL, NULL);
    ah_snapshot_publish(s2);
    is_int(ah_snapshot_current_version(), 8, "second publish: version 8");
    is_int(atomic_load(&held->refs), 1, "the replaced snapshot lives on with the request's reference");
    ok(held->naccounts == 1 && strcmp(held->accounts[0].secret, "sk-1") == 0, "  and its contents are intact");
    ah_snapshot_release(&held); /* frees s1: ASan checks it is freed once */
    ah_snapshot_t *h2 = ah_snapshot_acquire();
    ok(h2 == s2 && h2->version == 8, "acquire now returns the second snapshot");
    is_int(atomic_load(&s2->refs), 2, "  with two references (current + ours)");
    ah_snapshot_release(&h2);
    is_int(atomic_load(&s2->refs), 1, "only the current reference remains");
    /* the current snapshot stays published (reachable from a global) until exit */
    fx_free(&ch);
    fx_free(&ac);
}

int main(void)
{
    logf_ = tmpfile();
    if (logf_ == NULL)
        return 2;
    ah_log_set_stream(logf_);
    test_refcount_and_current(); /* first: it checks the state before any publish */
    test_channel_defaults();
    test_channel_fields();
    test_channel_types_and_malformed();
    test_settings_and_cooldowns();
    test_accounts();
    test_map_status_direct();
    ah_log_set_stream(NULL);
    fclose(logf_);
    return done_testing();
}
