/*
 * Candidate listing (see candidates.h).
 */
#include <string.h>
#include "router/candidates.h"

static int channel_serves(const ah_channel_t *c, const char *model)
{
    for (size_t i = 0; i != c->nmodels; ++i)
        if (strcmp(c->models[i], model) == 0)
            return 1;
    return 0;
}

/* 1 when the account's channel serves one of the alias's upstream models listed before index `upto`:
 * the account was already counted for that one */
static int served_earlier(const ah_channel_t *c, json_t *alias, size_t upto)
{
    for (size_t k = 0; k != upto; ++k) {
        const char *m = json_string_value(json_array_get(alias, k));
        if (m != NULL && channel_serves(c, m))
            return 1;
    }
    return 0;
}

/* adds the accounts serving upstream (alias entry `index` when alias is not NULL) */
static size_t add_for_model(const ah_snapshot_t *s, const char *upstream, json_t *alias, size_t index, ah_candidate_t *out, size_t cap,
                            size_t n)
{
    for (size_t i = 0; i != s->naccounts; ++i) {
        const ah_account_t *a = &s->accounts[i];
        if (!a->enabled || !a->channel->enabled || a->weight <= 0 || a->channel->weight <= 0 || !channel_serves(a->channel, upstream))
            continue;
        if (alias != NULL && served_earlier(a->channel, alias, index))
            continue;
        if (n < cap)
            out[n] = (ah_candidate_t){a, upstream, a->channel->priority, a->channel->weight * a->weight};
        ++n;
    }
    return n;
}

size_t ah_router_candidates(const ah_snapshot_t *s, const char *model, ah_candidate_t *out, size_t cap)
{
    json_t *alias = json_object_get(s->modelmap, model);
    if (!json_is_array(alias))
        return add_for_model(s, model, NULL, 0, out, cap, 0);
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(alias, i, v)
    {
        if (json_is_string(v))
            n = add_for_model(s, json_string_value(v), alias, i, out, cap, n);
    }
    return n;
}

json_t *ah_router_model_names(const ah_snapshot_t *s)
{
    json_t *seen = json_object(), *names = json_array();
    const char *alias;
    json_t *v;
    json_object_foreach(s->modelmap, alias, v)
    {
        if (json_object_get(seen, alias) == NULL) {
            json_object_set_new(seen, alias, json_true());
            json_array_append_new(names, json_string(alias));
        }
    }
    for (size_t i = 0; i != s->nchannels; ++i) {
        const ah_channel_t *c = &s->channels[i];
        if (!c->enabled)
            continue;
        for (size_t j = 0; j != c->nmodels; ++j) {
            if (json_object_get(seen, c->models[j]) == NULL) {
                json_object_set_new(seen, c->models[j], json_true());
                json_array_append_new(names, json_string(c->models[j]));
            }
        }
    }
    json_decref(seen);
    return names;
}
