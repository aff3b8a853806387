/*
 * test_candidates.c: unit tests for router/candidates.c over snapshots built
 * with ah_snapshot_build: direct model names, aliases (the order of their
 * upstream list, one candidate per account), exclusion of disabled and
 * zero-weight channels and accounts, weights and priorities, the cap, and
 * the list of model names.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aihub/log.h"
#include "fixture.h"
#include "router/candidates.h"
#include "tap.h"

#define MAXC 16

/*
 * Channels:
 *   c1  openai     [gpt-a, gpt-b]        weight 2, priority 1
 *   c2  anthropic  [claude-x, gpt-b]     weight 3, priority 0
 *   c3  openai     [gpt-a, only-off]     disabled
 *   c4  openai     [gpt-a, zero-w]       weight 0
 *   c5  openai     [gpt-c]               weight 1 (default), priority 5
 * Accounts, in this order:
 *   a1 c1 w1 | a2 c2 w4 | a3 c1 w0 | a4 c1 disabled | a5 c3 | a6 c4 | a7 c5 w2 | a8 c2 w1 (default)
 */
static ah_snapshot_t *build_fixture(void)
{
    fx_items_t ch = {0}, ac = {0};
    json_t *c = fx_channel("openai", (const char *[]){"gpt-a", "gpt-b", NULL});
    json_object_set_new(c, "weight", json_integer(2));
    json_object_set_new(c, "priority", json_integer(1));
    fx_add(&ch, "c1", c);
    c = fx_channel("anthropic", (const char *[]){"claude-x", "gpt-b", NULL});
    json_object_set_new(c, "weight", json_integer(3));
    fx_add(&ch, "c2", c);
    c = fx_channel("openai", (const char *[]){"gpt-a", "only-off", NULL});
    json_object_set_new(c, "enabled", json_false());
    fx_add(&ch, "c3", c);
    c = fx_channel("openai", (const char *[]){"gpt-a", "zero-w", NULL});
    json_object_set_new(c, "weight", json_integer(0));
    fx_add(&ch, "c4", c);
    c = fx_channel("openai", (const char *[]){"gpt-c", NULL});
    json_object_set_new(c, "priority", json_integer(5));
    fx_add(&ch, "c5", c);

    static const struct {
        const char *id, *channel;
        int weight, enabled;
    } accts[] = {{"a1", "c1", 1, 1}, {"a2", "c2", 4, 1}, {"a3", "c1", 0, 1}, {"a4", "c1", 1, 0},
                 {"a5", "c3", 1, 1}, {"a6", "c4", 1, 1}, {"a7", "c5", 2, 1}, {"a8", "c2", -1, 1}};
    for (size_t i = 0; i != sizeof(accts) / sizeof(accts[0]); i++) {
        json_t *a = fx_account(accts[i].channel, "sk-test");
        if (accts[i].weight >= 0)
            json_object_set_new(a, "weight", json_integer(accts[i].weight));
        if (!accts[i].enabled)
            json_object_set_new(a, "enabled", json_false());
        fx_add(&ac, accts[i].id, a);
    }
    const char *modelmap = "{\"smart\":[\"claude-x\",\"gpt-b\"],"
                           "\"fast\":[\"gpt-c\",\"gpt-a\",\"gpt-b\"],"
                           "\"reverse\":[\"gpt-b\",\"gpt-a\"],"
                           "\"ghost\":[\"nope\",\"only-off\",\"zero-w\"],"
                           "\"mixed\":[42,\"gpt-c\",null],"
                           "\"empty\":[],"
                           "\"notlist\":\"gpt-a\"}";
    ah_snapshot_t *s = fx_build(1, &ch, &ac, modelmap, NULL);
    fx_free(&ch);
    fx_free(&ac);
    return s;
}

/* Checks out[0..n) against the expected "account:upstream:priority:weight" entries, naming the check after label. */
static void check_list(const char *label, const ah_candidate_t *out, size_t got, size_t n, const char *const *want, size_t nwant)
{
    char name[200];
    snprintf(name, sizeof(name), "%s: %zu candidates", label, nwant);
    is_int(got, nwant, name);
    for (size_t i = 0; i != n && i != nwant; i++) {
        char have[160];
        snprintf(have, sizeof(have), "%s:%s:%lld:%lld", out[i].account->id, out[i].upstream_model, (long long)out[i].priority,
                 (long long)out[i].weight);
        snprintf(name, sizeof(name), "%s: candidate %zu is %s", label, i, want[i]);
        is_str(have, want[i], name);
    }
}

#define CHECK(s, model, ...)                                                                                                    \
    do {                                                                                                                        \
        static const char *const want_[] = {__VA_ARGS__};                                                                       \
        ah_candidate_t out_[MAXC];                                                                                              \
        size_t n_ = ah_router_candidates((s), (model), out_, MAXC);                                                             \
        check_list((model), out_, n_, n_ < MAXC ? n_ : MAXC, want_, sizeof(want_) / sizeof(want_[0]));                      \
    } while (0)

static void test_direct(const ah_snapshot_t *s)
{
    is_int(s->naccounts, 8, "fixture: eight accounts loaded");
    is_int(s->nchannels, 5, "fixture: five channels loaded");
    /* a3 (weight 0), a4 (disabled), a5 (disabled channel), a6 (channel weight 0) are excluded */
    CHECK(s, "gpt-a", "a1:gpt-a:1:2");
    /* snapshot (account) order; weight = channel weight x account weight; priority = the channel's */
    CHECK(s, "gpt-b", "a1:gpt-b:1:2", "a2:gpt-b:0:12", "a8:gpt-b:0:3");
    CHECK(s, "claude-x", "a2:claude-x:0:12", "a8:claude-x:0:3");
    CHECK(s, "gpt-c", "a7:gpt-c:5:2");

    ah_candidate_t out[MAXC];
    is_int(ah_router_candidates(s, "only-off", out, MAXC), 0, "model served only by a disabled channel: 0");
    is_int(ah_router_candidates(s, "zero-w", out, MAXC), 0, "model served only by a weight-0 channel: 0");
    is_int(ah_router_candidates(s, "unknown-model", out, MAXC), 0, "unknown model: 0");
    is_int(ah_router_candidates(s, "", out, MAXC), 0, "empty model name: 0");
    is_int(ah_router_candidates(s, "GPT-A", out, MAXC), 0, "model names are case-sensitive");
    is_int(ah_router_candidates(s, "gpt-", out, MAXC), 0, "no prefix matching");
}

static void test_aliases(const ah_snapshot_t *s)
{
    /* claude-x first (a2, a8), then gpt-b adds only a1: a2 and a8 keep claude-x */
    CHECK(s, "smart", "a2:claude-x:0:12", "a8:claude-x:0:3", "a1:gpt-b:1:2");
    /* gpt-c: a7; gpt-a: a1; gpt-b: a2, a8 (a1 already listed with gpt-a) */
    CHECK(s, "fast", "a7:gpt-c:5:2", "a1:gpt-a:1:2", "a2:gpt-b:0:12", "a8:gpt-b:0:3");
    /* the alias order decides a1's upstream model: gpt-b before gpt-a */
    CHECK(s, "reverse", "a1:gpt-b:1:2", "a2:gpt-b:0:12", "a8:gpt-b:0:3");
    /* non-string entries in the alias list are ignored */
    CHECK(s, "mixed", "a7:gpt-c:5:2");
    /* an alias that is not an array is no alias: the name is looked up directly */
    ah_candidate_t out[MAXC];
    is_int(ah_router_candidates(s, "notlist", out, MAXC), 0, "alias that is not a list: looked up as a model name (none)");
    is_int(ah_router_candidates(s, "ghost", out, MAXC), 0, "alias whose models are unknown, disabled or weight 0: 0");
    is_int(ah_router_candidates(s, "empty", out, MAXC), 0, "alias with an empty list: 0");
}

static void test_cap(const ah_snapshot_t *s)
{
    ah_candidate_t out[4];
    const ah_account_t *sentinel = (const ah_account_t *)&out; /* any recognisable pointer */
    for (size_t i = 0; i != 4; i++)
        out[i] = (ah_candidate_t){sentinel, "untouched", -99, -99};
    is_int(ah_router_candidates(s, "gpt-b", out, 2), 3, "cap 2 of 3: returns 3");
    ok(out[0].account != sentinel && strcmp(out[0].account->id, "a1") == 0, "  out[0] written (a1)");
    ok(out[1].account != sentinel && strcmp(out[1].account->id, "a2") == 0, "  out[1] written (a2)");
    ok(out[2].account == sentinel && strcmp(out[2].upstream_model, "untouched") == 0 && out[2].weight == -99,
       "  out[2] not written");
    ok(out[3].account == sentinel, "  out[3] not written");

    is_int(ah_router_candidates(s, "gpt-b", NULL, 0), 3, "cap 0 with out NULL: just counts (3)");
    is_int(ah_router_candidates(s, "unknown-model", NULL, 0), 0, "cap 0 with out NULL: unknown model 0");

    for (size_t i = 0; i != 4; i++)
        out[i] = (ah_candidate_t){sentinel, "untouched", -99, -99};
    is_int(ah_router_candidates(s, "fast", out, 3), 4, "cap 3 of alias fast: returns 4");
    ok(out[2].account != sentinel && strcmp(out[2].account->id, "a2") == 0, "  out[2] written (a2)");
    ok(out[3].account == sentinel, "  out[3] not written");

    /* an account served by several upstream models of an alias counts once, whatever the cap */
    is_int(ah_router_candidates(s, "smart", out, 1), 3, "cap 1 of alias smart: 3 distinct accounts, each counted once");
    is_int(ah_router_candidates(s, "smart", NULL, 0), 3, "cap 0 of alias smart: 3 distinct accounts, each counted once");
    is_int(ah_router_candidates(s, "fast", NULL, 0), 4, "cap 0 of alias fast: 4 distinct accounts, each counted once");
    is_int(ah_router_candidates(s, "smart", out, 3), 3, "cap equal to the count: 3");
    is_int(ah_router_candidates(s, "smart", out, 4), 3, "cap above the count: 3");
}

static int names_has(json_t *names, const char *name, size_t *count)
{
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            n++;
    }
    if (count != NULL)
        *count = n;
    return n != 0;
}

static void test_model_names(const ah_snapshot_t *s)
{
    json_t *names = ah_router_model_names(s);
    ok(json_is_array(names), "model names: an array");
    /* 7 aliases, then gpt-a gpt-b claude-x zero-w gpt-c (only-off is only on the disabled channel) */
    is_int(json_array_size(names), 12, "  12 names");
    static const char *const aliases[] = {"smart", "fast", "reverse", "ghost", "mixed", "empty", "notlist"};
    int aliases_first = 1;
    for (size_t i = 0; i != 7; i++) {
        const char *n = json_string_value(json_array_get(names, i));
        int is_alias = 0;
        for (size_t j = 0; j != 7; j++)
            is_alias |= n != NULL && strcmp(n, aliases[j]) == 0;
        aliases_first &= is_alias;
    }
    ok(aliases_first, "  aliases come first");
    static const char *const models[] = {"gpt-a", "gpt-b", "claude-x", "zero-w", "gpt-c"};
    for (size_t i = 0; i != 5; i++) {
        char name[80];
        size_t count;
        snprintf(name, sizeof(name), "  %s listed once", models[i]);
        names_has(names, models[i], &count);
        is_int(count, 1, name);
        snprintf(name, sizeof(name), "  %s in channel order", models[i]);
        is_str(json_string_value(json_array_get(names, 7 + i)), models[i], name);
    }
    ok(!names_has(names, "only-off", NULL), "  a model only a disabled channel serves is not listed");
    ok(!names_has(names, "nope", NULL), "  an alias's upstream names are not listed by themselves");
    json_decref(names);

    /* an alias that is also an upstream model name, and models repeated across and within channels */
    fx_items_t ch = {0}, ac = {0};
    fx_add(&ch, "c1", fx_channel("openai", (const char *[]){"m-x", "m-y", "m-y", NULL}));
    fx_add(&ch, "c2", fx_channel("openai", (const char *[]){"m-y", "m-z", NULL}));
    json_t *off = fx_channel("openai", (const char *[]){"m-off", "m-z", NULL});
    json_object_set_new(off, "enabled", json_false());
    fx_add(&ch, "c3", off);
    ah_snapshot_t *t = fx_build(2, &ch, &ac, "{\"m-x\":[\"m-y\"],\"alias\":[\"m-z\"]}", NULL);
    names = ah_router_model_names(t);
    char *text = json_dumps(names, JSON_COMPACT);
    is_str(text, "[\"m-x\",\"alias\",\"m-y\",\"m-z\"]", "duplicates removed, aliases first, disabled channel's models left out");
    free(text);
    json_decref(names);
    ah_snapshot_release(&t);
    fx_free(&ch);

    ah_snapshot_t *e = ah_snapshot_empty();
    names = ah_router_model_names(e);
    ok(json_is_array(names) && json_array_size(names) == 0, "empty snapshot: no model names");
    json_decref(names);
    ah_candidate_t out[2];
    is_int(ah_router_candidates(e, "gpt-a", out, 2), 0, "empty snapshot: no candidates");
    ah_snapshot_release(&e);
}

static void test_alias_to_model_shadow(void)
{
    /* an alias named like a served model replaces it: the alias list decides */
    fx_items_t ch = {0}, ac = {0};
    fx_add(&ch, "c1", fx_channel("openai", (const char *[]){"m-x", "m-y", NULL}));
    fx_add(&ch, "c2", fx_channel("openai", (const char *[]){"m-x", NULL}));
    fx_add(&ac, "k1", fx_account("c1", "sk"));
    fx_add(&ac, "k2", fx_account("c2", "sk"));
    ah_snapshot_t *t = fx_build(3, &ch, &ac, "{\"m-x\":[\"m-y\"]}", NULL);
    CHECK(t, "m-x", "k1:m-y:0:1");
    ah_snapshot_release(&t);
    fx_free(&ch);
    fx_free(&ac);
}

int main(void)
{
    FILE *devnull = fopen("/dev/null", "w");
    ah_log_set_stream(devnull);
    ah_snapshot_t *s = build_fixture();
    if (s == NULL)
        return 2;
    test_direct(s);
    test_aliases(s);
    test_cap(s);
    test_model_names(s);
    test_alias_to_model_shadow();
    ah_snapshot_release(&s);
    ah_log_set_stream(NULL);
    if (devnull != NULL)
        fclose(devnull);
    return done_testing();
}
