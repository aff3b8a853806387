/*
 * Roles and the group → role map (see roles.h).
 */
#include <stdlib.h>
#include <string.h>
#include "auth/roles.h"

static const char *const names[] = {"none", "viewer", "operator", "admin"};

const char *ah_role_name(ah_role_t role)
{
    return role >= AH_ROLE_NONE && role <= AH_ROLE_ADMIN ? names[role] : "none";
}

int ah_role_parse(const char *s, size_t len)
{
    for (int i = 0; i != 4; ++i)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return i;
    return -1;
}

int ah_role_allowed(unsigned allow, ah_role_t role)
{
    return role != AH_ROLE_NONE && (allow & (1u << role)) != 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t'))
        ++*s, --*n;
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        --*n;
}

void ah_role_map_free(ah_role_map_t *map)
{
    for (size_t i = 0; i != map->n; ++i)
        free(map->groups[i]);
    free(map->groups);
    free(map->roles);
    memset(map, 0, sizeof(*map));
}

int ah_role_map_parse(const char *spec, const char *default_role, ah_role_map_t *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    int d = ah_role_parse(default_role, strlen(default_role));
    if (d < 0) {
        snprintf(err, errcap, "AIHUB_OIDC_DEFAULT_ROLE must be viewer, operator, admin or none, not '%s'", default_role);
        return -1;
    }
    out->default_role = d;
    for (const char *p = spec; *p != '\0';) {
        size_t n = strcspn(p, ",");
        const char *item = p;
        p += n + (p[n] == ',');
        trim(&item, &n);
        if (n == 0)
            continue;
        const char *eq = NULL;
        for (size_t i = 0; i != n; ++i)
            if (item[i] == '=')
                eq = item + i;
        const char *g = item, *r = eq != NULL ? eq + 1 : NULL;
        size_t gl = eq != NULL ? (size_t)(eq - item) : 0, rl = eq != NULL ? n - gl - 1 : 0;
        if (eq != NULL) {
            trim(&g, &gl);
            trim(&r, &rl);
        }
        int role = eq != NULL ? ah_role_parse(r, rl) : -1;
        if (eq == NULL || gl == 0 || role <= AH_ROLE_NONE) {
            snprintf(err, errcap, "AIHUB_OIDC_ROLE_MAP: '%.*s' is not group=admin|operator|viewer", (int)n, item);
            ah_role_map_free(out);
            out->default_role = d;
            return -1;
        }
        out->groups = realloc(out->groups, (out->n + 1) * sizeof(*out->groups));
        out->roles = realloc(out->roles, (out->n + 1) * sizeof(*out->roles));
        if (out->groups == NULL || out->roles == NULL)
            abort();
        out->groups[out->n] = strndup(g, gl);
        out->roles[out->n] = role;
        ++out->n;
    }
    return 0;
}

static ah_role_t role_of_group(const ah_role_map_t *map, const char *g, size_t len)
{
    ah_role_t best = AH_ROLE_NONE;
    for (size_t i = 0; i != map->n; ++i)
        if (strlen(map->groups[i]) == len && memcmp(map->groups[i], g, len) == 0 && map->roles[i] > best)
            best = map->roles[i];
    return best;
}

ah_role_t ah_role_map_claim(const ah_role_map_t *map, const json_t *groups)
{
    ah_role_t best = AH_ROLE_NONE;
    if (json_is_string(groups)) {
        best = role_of_group(map, json_string_value(groups), json_string_length(groups));
    } else if (json_is_array(groups)) {
        size_t i;
        json_t *g;
        json_array_foreach(groups, i, g)
        {
            ah_role_t r = json_is_string(g) ? role_of_group(map, json_string_value(g), json_string_length(g)) : AH_ROLE_NONE;
            if (r > best)
                best = r;
        }
    }
    return best != AH_ROLE_NONE ? best : map->default_role;
}

ah_role_t ah_role_map_csv(const ah_role_map_t *map, const char *csv, size_t len)
{
    ah_role_t best = AH_ROLE_NONE;
    const char *p = csv, *end = csv + len;
    while (p < end) {
        const char *c = memchr(p, ',', end - p);
        const char *g = p;
        size_t n = (c != NULL ? c : end) - p;
        p += n + 1;
        trim(&g, &n);
        ah_role_t r = n != 0 ? role_of_group(map, g, n) : AH_ROLE_NONE;
        if (r > best)
            best = r;
    }
    return best != AH_ROLE_NONE ? best : map->default_role;
}

json_t *ah_claim_get(const json_t *claims, const char *path)
{
    json_t *v = json_object_get(claims, path);
    if (v != NULL || strchr(path, '.') == NULL)
        return v;
    const json_t *cur = claims;
    for (const char *p = path; cur != NULL;) {
        size_t n = strcspn(p, ".");
        char key[128];
        if (n == 0 || n >= sizeof(key))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        if (p[n] == '\0')
            return (json_t *)cur;
        p += n + 1;
    }
    return NULL;
}
