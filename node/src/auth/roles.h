/*
 * Console roles and how people get them: the three roles, the per-route
 * allow masks the route table uses, and the mapping from an identity
 * provider's groups (a claim, or a trusted proxy's header) to a role through
 * AIHUB_OIDC_ROLE_MAP. Pure: no I/O, no h2o.
 */
#ifndef AH_AUTH_ROLES_H
#define AH_AUTH_ROLES_H

#include <stddef.h>
#include <jansson.h>

/** roles, lowest first; NONE = may not use the console */
typedef enum en_ah_role_t { AH_ROLE_NONE = 0, AH_ROLE_VIEWER = 1, AH_ROLE_OPERATOR = 2, AH_ROLE_ADMIN = 3 } ah_role_t;

/** bits of a route's allow mask, one per role */
#define AH_ALLOW_VIEWER (1u << AH_ROLE_VIEWER)
#define AH_ALLOW_OPERATOR (1u << AH_ROLE_OPERATOR)
#define AH_ALLOW_ADMIN (1u << AH_ROLE_ADMIN)

/** "admin", "operator", "viewer" or "none" */
const char *ah_role_name(ah_role_t role);
/** the role named s[0..len) (case-sensitive), or -1 when it names none ("none" gives AH_ROLE_NONE) */
int ah_role_parse(const char *s, size_t len);
/** 1 when a route with this allow mask admits role; a mask of 0 (no entry) admits nobody */
int ah_role_allowed(unsigned allow, ah_role_t role);

/** AIHUB_OIDC_ROLE_MAP parsed: group → role, and the role of anyone matching none */
typedef struct st_ah_role_map_t {
    size_t n;
    char **groups;     /**< owned */
    ah_role_t *roles;
    ah_role_t default_role; /**< AH_ROLE_NONE: people in no mapped group are refused */
} ah_role_map_t;

/**
 * Parses "group=role,group=role" (spaces around items ignored; a group may
 * contain '=' only before the last one) and the default role ("viewer",
 * "operator", "admin" or "none"). 0, or -1 with a message in err.
 */
int ah_role_map_parse(const char *spec, const char *default_role, ah_role_map_t *out, char *err, size_t errcap);
void ah_role_map_free(ah_role_map_t *map);
/**
 * The highest role any of the groups maps to, else the default. groups is a
 * claim value: an array of strings, or one string (a single group); NULL or
 * another type counts as no group.
 */
ah_role_t ah_role_map_claim(const ah_role_map_t *map, const json_t *groups);
/** the same for a comma-separated list of groups (a proxy's header) */
ah_role_t ah_role_map_csv(const ah_role_map_t *map, const char *csv, size_t len);
/** a claim by name, or by a dotted path into nested objects ("realm_access.roles") when no member has the whole name */
json_t *ah_claim_get(const json_t *claims, const char *path);

#endif
