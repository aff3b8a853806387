/*
 * The provider cache and ID token verification (see oidc.h).
 *
 * Both cached objects are immutable and reference counted: a worker takes a
 * reference under the mutex, uses the object without it, and drops it; a
 * refresh swaps in a new object under the mutex and drops the cache's
 * reference to the old one, which is freed when its last user lets go.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "aihub/base64.h"
#include "aihub/jwt.h"
#include "aihub/log.h"
#include "aihub/mem.h"
#include <openssl/crypto.h>
#include "auth/auth.h"
#include "auth/oidc.h"

#define META_TTL_MS (3600 * 1000)
#define KEYS_TTL_MS (3600 * 1000)
/** a first fetch (nothing cached) is retried at most this often */
#define FIRST_FETCH_MIN_MS 1000

typedef struct st_meta_ref_t {
    ah_oidc_meta_t meta; /* first: the public pointer is the ref */
    atomic_int refs;
} meta_ref_t;

typedef struct st_keys_ref_t {
    ah_jwks_t *set;
    atomic_int refs;
} keys_ref_t;

struct st_ah_oidc_t {
    ah_node_t *node;
    pthread_mutex_t lock;
    meta_ref_t *meta;
    int64_t meta_at_ms;
    keys_ref_t *keys;
    int64_t keys_at_ms;
    atomic_llong meta_attempt_ms; /* last discovery fetch started */
    atomic_llong keys_attempt_ms; /* last key set fetch started */
};

/* ---- references ---- */

static void meta_free(meta_ref_t *m)
{
    free(m->meta.issuer);
    free(m->meta.authorization_endpoint);
    free(m->meta.token_endpoint);
    free(m->meta.jwks_uri);
    free(m->meta.userinfo_endpoint);
    free(m->meta.end_session_endpoint);
    free(m);
}

void ah_oidc_meta_release(const ah_oidc_meta_t *meta)
{
    meta_ref_t *m = (meta_ref_t *)meta;
    if (m != NULL && atomic_fetch_sub(&m->refs, 1) == 1)
        meta_free(m);
}

static void keys_release(keys_ref_t *k)
{
    if (k != NULL && atomic_fetch_sub(&k->refs, 1) == 1) {
        ah_jwks_free(&k->set);
        free(k);
    }
}

const ah_oidc_meta_t *ah_oidc_meta_cached(ah_oidc_t *o)
{
    pthread_mutex_lock(&o->lock);
    meta_ref_t *m = o->meta;
    if (m != NULL)
        atomic_fetch_add(&m->refs, 1);
    pthread_mutex_unlock(&o->lock);
    return m != NULL ? &m->meta : NULL;
}

static keys_ref_t *keys_acquire(ah_oidc_t *o, int64_t *age_ms)
{
    pthread_mutex_lock(&o->lock);
    keys_ref_t *k = o->keys;
    if (k != NULL)
        atomic_fetch_add(&k->refs, 1);
    *age_ms = ah_now_ms() - o->keys_at_ms;
    pthread_mutex_unlock(&o->lock);
    return k;
}

/* 1 when this caller may start a fetch now (and has claimed the slot) */
static int claim_attempt(atomic_llong *last, int64_t min_ms)
{
    long long prev = atomic_load(last), now = ah_now_ms();
    if (now - prev < min_ms)
        return 0;
    return atomic_compare_exchange_strong(last, &prev, now);
}

ah_oidc_t *ah_oidc_create(ah_node_t *node)
{
    ah_oidc_t *o = calloc(1, sizeof(*o));
    if (o == NULL)
        abort();
    o->node = node;
    pthread_mutex_init(&o->lock, NULL);
    atomic_init(&o->meta_attempt_ms, 0);
    atomic_init(&o->keys_attempt_ms, 0);
    return o;
}

char *ah_oidc_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (e == NULL)
        abort();
    char *copy = strdup(e);
    curl_free(e);
    return copy;
}

/* ---- discovery ---- */

static int is_url(const char *s, int https_only)
{
    return s != NULL && (strncmp(s, "https://", 8) == 0 || (!https_only && strncmp(s, "http://", 7) == 0)) && strlen(s) < 2048;
}

ah_oidc_meta_t *ah_oidc_meta_parse(const char *json, size_t len, const char *issuer, char *err, size_t errcap)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, 0, &jerr);
    meta_ref_t *m = NULL;
    if (!json_is_object(doc)) {
        snprintf(err, errcap, "the discovery document is not a JSON object");
        goto out;
    }
    const char *iss = json_string_value(json_object_get(doc, "issuer"));
    size_t ilen = strlen(issuer);
    while (ilen > 0 && issuer[ilen - 1] == '/')
        --ilen;
    /* the document's issuer must be the configured one (a trailing slash in the setting is forgiven) */
    if (iss == NULL || !(strcmp(iss, issuer) == 0 || (strlen(iss) == ilen && memcmp(iss, issuer, ilen) == 0))) {
        snprintf(err, errcap, "the discovery document names issuer '%.200s', not the configured '%.200s'", iss != NULL ? iss : "",
                 issuer);
        goto out;
    }
    int https = strncmp(iss, "https://", 8) == 0;
    const char *authz = json_string_value(json_object_get(doc, "authorization_endpoint")),
               *token = json_string_value(json_object_get(doc, "token_endpoint")),
               *jwks = json_string_value(json_object_get(doc, "jwks_uri")),
               *userinfo = json_string_value(json_object_get(doc, "userinfo_endpoint")),
               *endsess = json_string_value(json_object_get(doc, "end_session_endpoint"));
    if (!is_url(authz, https) || !is_url(token, https) || !is_url(jwks, https) || (userinfo != NULL && !is_url(userinfo, https)) ||
        (endsess != NULL && !is_url(endsess, https))) {
        snprintf(err, errcap, "the discovery document lacks an endpoint, or one is not an %s URL", https ? "https" : "http(s)");
        goto out;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort();
    atomic_init(&m->refs, 1);
    m->meta.issuer = strdup(iss);
    m->meta.authorization_endpoint = strdup(authz);
    m->meta.token_endpoint = strdup(token);
    m->meta.jwks_uri = strdup(jwks);
    m->meta.userinfo_endpoint = userinfo != NULL ? strdup(userinfo) : NULL;
    m->meta.end_session_endpoint = endsess != NULL ? strdup(endsess) : NULL;
    json_t *methods = json_object_get(doc, "token_endpoint_auth_methods_supported"), *v;
    size_t i;
    int basic = !json_is_array(methods), post = 0;
    json_array_foreach(methods, i, v)
    {
        const char *s = json_string_value(v);
        basic |= s != NULL && strcmp(s, "client_secret_basic") == 0;
        post |= s != NULL && strcmp(s, "client_secret_post") == 0;
    }
    m->meta.client_secret_post = !basic && post;
out:
    json_decref(doc);
    return m != NULL ? &m->meta : NULL;
}

typedef struct st_meta_fetch_t {
    ah_oidc_t *o;
    ah_oidc_meta_cb cb; /* NULL: a background refresh */
    void *ud;
} meta_fetch_t;

static void on_meta(void *ud, long status, const char *body, size_t len, const char *err)
{
    meta_fetch_t *f = ud;
    ah_oidc_t *o = f->o;
    char why[300];
    ah_oidc_meta_t *meta = NULL;
    if (err != NULL)
        snprintf(why, sizeof(why), "cannot reach the identity provider: %s", err);
    else if (status != 200)
        snprintf(why, sizeof(why), "the identity provider's discovery document answered %ld", status);
    else
        meta = ah_oidc_meta_parse(body, len, o->node->opts.oidc_issuer, why, sizeof(why));
    if (meta != NULL) {
        meta_ref_t *m = (meta_ref_t *)meta, *old;
        atomic_fetch_add(&m->refs, 1); /* the cache's */
        pthread_mutex_lock(&o->lock);
        old = o->meta;
        o->meta = m;
        o->meta_at_ms = ah_now_ms();
        pthread_mutex_unlock(&o->lock);
        ah_oidc_meta_release(old != NULL ? &old->meta : NULL);
    } else {
        ah_log(AH_LOG_WARN, "auth", "OpenID discovery failed: %s", why);
    }
    if (f->cb != NULL) {
        const ah_oidc_meta_t *use = meta;
        if (use == NULL)
            use = ah_oidc_meta_cached(o); /* an older document still works */
        f->cb(f->ud, use, use != NULL ? NULL : why);
    } else {
        ah_oidc_meta_release(meta);
    }
    free(f);
}

static int start_meta_fetch(ah_worker_t *w, ah_oidc_meta_cb cb, void *ud)
{
    ah_oidc_t *o = w->node->auth->provider;
    const char *issuer = w->node->opts.oidc_issuer;
    size_t ilen = strlen(issuer);
    while (ilen > 0 && issuer[ilen - 1] == '/')
        --ilen;
    char url[700];
    snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration", (int)ilen, issuer);
    meta_fetch_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();
    *f = (meta_fetch_t){o, cb, ud};
    atomic_store(&o->meta_attempt_ms, ah_now_ms());
    if (ah_fetch(w, url, NULL, NULL, on_meta, f) != 0) {
        free(f);
        return -1;
    }
    return 0;
}

void ah_oidc_meta(ah_worker_t *w, ah_oidc_meta_cb cb, void *ud)
{
    ah_oidc_t *o = w->node->auth->provider;
    pthread_mutex_lock(&o->lock);
    meta_ref_t *m = o->meta;
    int stale = m == NULL || ah_now_ms() - o->meta_at_ms > META_TTL_MS;
    if (m != NULL)
        atomic_fetch_add(&m->refs, 1);
    pthread_mutex_unlock(&o->lock);
    if (m != NULL) {
        if (stale && claim_attempt(&o->meta_attempt_ms, 60 * 1000))
            start_meta_fetch(w, NULL, NULL);
        cb(ud, &m->meta, NULL);
        return;
    }
    if (start_meta_fetch(w, cb, ud) != 0)
        cb(ud, NULL, "cannot start a request to the identity provider");
}

/* ---- ID tokens ---- */

typedef struct st_verify_t {
    ah_worker_t *w;
    ah_oidc_t *o;
    const ah_oidc_meta_t *meta; /* a reference */
    ah_jwt_t jwt;
    char *nonce;
    ah_oidc_verify_cb cb;
    void *ud;
} verify_t;

static void verify_done(verify_t *v, int rv, const char *why)
{
    json_t *claims = NULL;
    char buf[200];
    if (rv == AH_JWT_OK) {
        ah_jwt_expect_t e = {.iss = v->meta->issuer,
                             .aud = v->w->node->opts.oidc_client_id,
                             .nonce = v->nonce,
                             .now = ah_now_ms() / 1000,
                             .skew_s = AH_OIDC_SKEW_S,
                             .require_iat = 1};
        rv = ah_jwt_check_claims(v->jwt.claims, &e);
        const char *sub = json_string_value(json_object_get(v->jwt.claims, "sub"));
        if (rv == AH_JWT_OK && (sub == NULL || sub[0] == '\0' || strlen(sub) > 255))
            rv = AH_JWT_ECLAIM;
        if (rv == AH_JWT_OK)
            claims = json_incref(v->jwt.claims);
    }
    if (rv != AH_JWT_OK && why == NULL) {
        snprintf(buf, sizeof(buf), "the ID token was refused: %s", ah_jwt_strerror(rv));
        why = buf;
    }
    v->cb(v->ud, rv, claims, rv == AH_JWT_OK ? NULL : why);
    ah_jwt_clear(&v->jwt);
    ah_oidc_meta_release(v->meta);
    free(v->nonce);
    free(v);
}

static void verify_with(verify_t *v, keys_ref_t *k, const char *why)
{
    int rv = ah_jwt_verify_jwks(&v->jwt, k != NULL ? k->set : NULL);
    keys_release(k);
    verify_done(v, rv, rv == AH_JWT_EKID ? why : NULL);
}

static void on_keys(void *ud, long status, const char *body, size_t len, const char *err)
{
    verify_t *v = ud;
    ah_oidc_t *o = v->o;
    char why[300] = "", perr[200];
    ah_jwks_t *set = NULL;
    if (err != NULL)
        snprintf(why, sizeof(why), "cannot fetch the provider's keys: %s", err);
    else if (status != 200)
        snprintf(why, sizeof(why), "the provider's key set answered %ld", status);
    else if ((set = ah_jwks_parse(body, len, perr, sizeof(perr))) == NULL)
        snprintf(why, sizeof(why), "the provider's key set is malformed: %s", perr);
    else if (ah_jwks_count(set) == 0)
        snprintf(why, sizeof(why), "the provider's key set has no RS256 or ES256 signing key");
    if (set != NULL && ah_jwks_count(set) != 0) {
        keys_ref_t *k = calloc(1, sizeof(*k)), *old;
        if (k == NULL)
            abort();
        k->set = set;
        atomic_init(&k->refs, 1);
        pthread_mutex_lock(&o->lock);
        old = o->keys;
        o->keys = k;
        o->keys_at_ms = ah_now_ms();
        pthread_mutex_unlock(&o->lock);
        keys_release(old);
        ah_log(AH_LOG_INFO, "auth", "fetched the identity provider's key set: %zu signing keys", ah_jwks_count(set));
    } else {
        ah_jwks_free(&set);
        ah_log(AH_LOG_WARN, "auth", "%s", why);
    }
    int64_t age;
    keys_ref_t *k = keys_acquire(o, &age);
    if (why[0] == '\0')
        snprintf(why, sizeof(why), "no key of the provider's key set has the token's kid");
    verify_with(v, k, why);
}

void ah_oidc_verify_id_token(ah_worker_t *w, const ah_oidc_meta_t *meta, const char *token, const char *nonce, ah_oidc_verify_cb cb,
                             void *ud)
{
    verify_t *v = calloc(1, sizeof(*v));
    if (v == NULL)
        abort();
    ah_oidc_t *o = w->node->auth->provider;
    *v = (verify_t){.w = w, .o = o, .meta = meta, .nonce = nonce != NULL ? strdup(nonce) : NULL, .cb = cb, .ud = ud};
    atomic_fetch_add(&((meta_ref_t *)meta)->refs, 1);
    int rv = ah_jwt_parse(token, strlen(token), &v->jwt);
    if (rv != AH_JWT_OK) {
        verify_done(v, rv, NULL);
        return;
    }
    /* never "none", never HMAC: refused before any key is looked at */
    if (v->jwt.alg != AH_JWT_ALG_RS256 && v->jwt.alg != AH_JWT_ALG_ES256) {
        verify_done(v, AH_JWT_EALG, "the ID token is not signed with RS256 or ES256");
        return;
    }
    int64_t age;
    keys_ref_t *k = keys_acquire(o, &age);
    int need = k == NULL || age > KEYS_TTL_MS || (v->jwt.kid[0] != '\0' && !ah_jwks_has_kid(k->set, v->jwt.kid));
    int64_t min_ms = k == NULL ? FIRST_FETCH_MIN_MS : w->node->opts.oidc_jwks_min_refresh_s * 1000;
    if (need && claim_attempt(&o->keys_attempt_ms, min_ms)) {
        keys_release(k);
        if (ah_fetch(w, meta->jwks_uri, NULL, NULL, on_keys, v) != 0)
            verify_with(v, keys_acquire(o, &age), "cannot start a request for the provider's keys");
        return;
    }
    verify_with(v, k,
                k == NULL ? "the provider's key set is not available yet"
                          : "no key of the provider's key set has the token's kid (the set was refetched recently; "
                            "AIHUB_OIDC_JWKS_MIN_REFRESH_S limits how often)");
}

/* ---- the token and userinfo endpoints ---- */

int ah_oidc_token_request(ah_worker_t *w, const ah_oidc_meta_t *meta, const char *form, ah_fetch_cb cb, void *ud)
{
    const ah_options_t *opts = &w->node->opts;
    char *id = ah_oidc_escape(opts->oidc_client_id), *secret = ah_oidc_escape(opts->oidc_client_secret);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    char *body;
    if (meta->client_secret_post) {
        if (asprintf(&body, "%s&client_id=%s&client_secret=%s", form, id, secret) < 0)
            abort();
    } else {
        /* RFC 6749 §2.3.1: id and secret are form-encoded before Basic */
        size_t n = strlen(id) + 1 + strlen(secret);
        char *pair = ah_mem_alloc(n + 1), *b64 = ah_mem_alloc(AH_BASE64_ENCODED_SIZE(n)), *hdr;
        snprintf(pair, n + 1, "%s:%s", id, secret);
        ah_base64_encode((const uint8_t *)pair, n, b64);
        if (asprintf(&hdr, "Authorization: Basic %s", b64) < 0)
            abort();
        headers = curl_slist_append(headers, hdr);
        OPENSSL_cleanse(pair, n);
        free(pair);
        free(b64);
        free(hdr);
        body = strdup(form);
    }
    free(id);
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    int rv = ah_fetch(w, meta->token_endpoint, body, headers, cb, ud);
    free(body);
    return rv;
}

int ah_oidc_userinfo(ah_worker_t *w, const ah_oidc_meta_t *meta, const char *access_token, ah_fetch_cb cb, void *ud)
{
    if (meta->userinfo_endpoint == NULL)
        return -1;
    char *hdr;
    if (asprintf(&hdr, "Authorization: Bearer %s", access_token) < 0)
        abort();
    struct curl_slist *headers = curl_slist_append(NULL, hdr);
    free(hdr);
    return ah_fetch(w, meta->userinfo_endpoint, NULL, headers, cb, ud);
}
