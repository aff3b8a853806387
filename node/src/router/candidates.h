/*
 * Candidate listing: which provider accounts may serve a model name, after
 * model-map aliasing. Pure: reads a snapshot, does no I/O. The draw among the
 * candidates (priority, weight, cooldowns, limits) happens in the admission
 * script, where the accounts' live state is.
 */
#ifndef AH_ROUTER_CANDIDATES_H
#define AH_ROUTER_CANDIDATES_H

#include <stddef.h>
#include <jansson.h>
#include "config/snapshot.h"

typedef struct st_ah_candidate_t {
    const ah_account_t *account;
    const char *upstream_model; /**< the model name sent upstream (borrowed from the snapshot) */
    int64_t priority;           /**< the channel's priority */
    int64_t weight;             /**< channel weight × account weight */
} ah_candidate_t;

/**
 * Lists up to cap candidates for model into out (in snapshot order, one per
 * account: for an alias, the first of its upstream models that the account's
 * channel serves). Returns how many were found (may exceed cap: then only cap
 * were written).
 */
size_t ah_router_candidates(const ah_snapshot_t *s, const char *model, ah_candidate_t *out, size_t cap);

/** the model names a client may ask for (aliases first, then upstream models of enabled channels), without duplicates; caller owns the array */
json_t *ah_router_model_names(const ah_snapshot_t *s);

#endif
