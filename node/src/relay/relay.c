/*
 * The relay's lifecycle (see relay.h): admission, failover steps and
 * settlement, each one script call, and the request's end (log line,
 * metrics). Every path ends in ah_relay_finish exactly once.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "aihub/crypto.h"
#include "aihub/log.h"
#include "handler/routes.h"
#include "http/buffer.h"
#include "http/reply.h"
#include "relay/relay.h"
#include "relay/relay_internal.h"

static void free_relay(ah_relay_t *r)
{
    --r->w->in_flight; /* only now: h2o has written everything the client will get */
    ah_snapshot_release(&r->snap);
    json_decref(r->body);
    if (r->respbody != NULL)
        h2o_buffer_dispose(&r->respbody);
    if (r->pending != NULL)
        h2o_buffer_dispose(&r->pending);
    if (r->inflight != NULL)
        h2o_buffer_dispose(&r->inflight);
    ah_sse_dispose(&r->sse);
    free(r->key_id);
    free(r->user_id);
    ah_async_free(r);
}

void ah_relay_release(ah_relay_t *r)
{
    if (--r->refs == 0)
        free_relay(r);
}

void ah_relay_reply_error(ah_relay_t *r, int status, const char *type, const char *code, const char *msg, int64_t retry_after_s)
{
    if (r->final_status == 0)
        r->final_status = status;
    if (r->error[0] == '\0' || status < 500)
        snprintf(r->error, sizeof(r->error), "%.*s", (int)sizeof(r->error) - 1, msg);
    if (!ah_relay_client_alive(r) || r->committed)
        return;
    ah_reply_error(r->super.req, status, type, code, msg, retry_after_s);
}

static void write_log(ah_relay_t *r, int64_t latency_ms)
{
    if (!r->w->node->opts.access_log)
        return;
    const ah_account_t *a = r->cur != NULL ? r->cur->account : NULL;
    json_t *line = json_pack("{s:s, s:s, s:s%, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:i, s:b, s:i, s:I, s:I, s:I, s:I, s:I}",
                             "level", "info", "module", "access", "request_id", r->request_id.base, r->request_id.len, "model", r->model,
                             "upstream_model", r->cur != NULL ? r->cur->upstream_model : NULL, "channel_id",
                             a != NULL ? a->channel->id : NULL, "account_id", a != NULL ? a->id : NULL, "key_id", r->key_id,
                             "user_id", r->user_id, "status", r->final_status, "stream", r->stream, "attempts", r->attempts,
                             "latency_ms", (json_int_t)latency_ms, "first_byte_ms",
                             (json_int_t)(r->t_first_byte != 0 ? (int64_t)(r->t_first_byte - r->t_start) : -1), "prompt_tokens",
                             (json_int_t)r->prompt_tokens, "cached_tokens", (json_int_t)r->cached_tokens, "completion_tokens",
                             (json_int_t)r->completion_tokens);
    if (line == NULL)
        return;
    if (r->error[0] != '\0')
        json_object_set_new(line, "error", json_string(r->error));
    json_object_set_new(line, "client_ip", json_string(r->client_ip));
    ah_log_json(line);
    json_decref(line);
}

void ah_relay_finish(ah_relay_t *r, const char *outcome)
{
    if (r->finished == 1 || r->finished == 3)
        return;
    r->finished = r->finished == 2 ? 3 : 1;
    uint64_t now = h2o_now(r->w->loop);
    int64_t latency = (int64_t)(now - r->t_start);
    if (!ah_relay_client_alive(r) && !r->committed && r->final_status == 0)
        r->final_status = 499;
    if (strcmp(outcome, "client_closed") == 0)
        ++r->w->metrics.client_disconnects;
    if (r->cur != NULL) {
        char key[160], status[16], lat[24];
        snprintf(key, sizeof(key), "ah:acct:%s", r->cur->account->id);
        snprintf(status, sizeof(status), "%d", r->status);
        snprintf(lat, sizeof(lat), "%lld", (long long)(now - r->t_upstream));
        const char *argv[] = {key, outcome, status, lat};
        ah_redis_script(r->w->redis, AH_SCRIPT_SETTLE, 1, 4, argv, NULL, NULL, NULL);
    }
    int known = ah_router_candidates(r->snap, r->model, NULL, 0) != 0;
    ah_metrics_count_request(&r->w->metrics, r->final_status, known ? r->model : "other",
                             r->cur != NULL ? r->cur->account->channel->name : "-");
    write_log(r, latency);
}

static void on_gone(ah_async_t *a)
{
    ah_relay_t *r = (ah_relay_t *)a;
    r->client_gone = 1;
    ah_relay_upstream_abort(r);
    if (!r->finished && r->easy == NULL && r->refs == 1)
        ah_relay_finish(r, "client_closed"); /* nothing pending would finish it */
    ah_relay_release(r);
}

static const ah_candidate_t *find_candidate(ah_relay_t *r, const char *account_id)
{
    for (size_t i = 0; i != r->ncands; ++i) {
        if (strcmp(r->cands[i].account->id, account_id) == 0) {
            r->tried[i] = 1;
            return &r->cands[i];
        }
    }
    return NULL;
}

static void start_attempt(ah_relay_t *r, const ah_candidate_t *c)
{
    r->cur = c;
    ++r->attempts;
    if (!ah_relay_client_alive(r)) {
        ah_relay_finish(r, "client_closed");
        return;
    }
    if (ah_relay_upstream_start(r) != 0)
        ah_relay_attempt_failed(r);
}

/* the final answer when no attempt succeeded */
static void reply_exhausted(ah_relay_t *r)
{
    char msg[400];
    if (r->fail == AH_FAIL_TIMEOUT) {
        snprintf(msg, sizeof(msg), "the upstream timed out (%d attempt%s)", r->attempts, r->attempts == 1 ? "" : "s");
        ah_relay_reply_error(r, 504, "api_error", "upstream_timeout", msg, 0);
    } else {
        if (r->fail == AH_FAIL_STATUS)
            snprintf(msg, sizeof(msg), "every candidate failed (%d attempt%s); last upstream status %d", r->attempts,
                     r->attempts == 1 ? "" : "s", r->status);
        else
            snprintf(msg, sizeof(msg), "every candidate failed (%d attempt%s); last error: %s", r->attempts, r->attempts == 1 ? "" : "s",
                     r->error);
        ah_relay_reply_error(r, 502, "api_error", "upstream_error", msg, 0);
    }
    ah_relay_finish(r, "failed");
}

static void on_failover(void *ud, redisReply *reply, const char *err)
{
    ah_relay_t *r = ud;
    if (err == NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 && strcmp(reply->element[0]->str, "ok") == 0) {
        const ah_candidate_t *c = find_candidate(r, reply->element[1]->str);
        if (c != NULL) {
            ++r->w->metrics.failovers;
            start_attempt(r, c);
            ah_relay_release(r);
            return;
        }
    }
    if (err != NULL)
        ah_log(AH_LOG_WARN, "relay", "failover step failed: %s", err);
    reply_exhausted(r);
    ah_relay_release(r);
}

/* an upstream 4xx that is the client's problem: its status and message go back as they are */
static void reply_client_error(ah_relay_t *r)
{
    json_error_t jerr;
    json_t *body = json_loadb(r->respbody->bytes, r->respbody->size, 0, &jerr);
    json_t *e = json_object_get(body, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *code = json_string_value(json_object_get(e, "code"));
    char fallback[128];
    if (msg == NULL) {
        snprintf(fallback, sizeof(fallback), "the upstream refused the request with status %d", r->status);
        msg = fallback;
    }
    ah_relay_reply_error(r, r->status, type != NULL ? type : "invalid_request_error", code != NULL ? code : "upstream_error", msg, 0);
    json_decref(body);
    ah_relay_finish(r, "client_error");
}

void ah_relay_attempt_failed(ah_relay_t *r)
{
    const ah_channel_t *ch = r->cur->account->channel;
    const char *action = "cool";
    int64_t secs = ch->cooldowns.timeout;
    char reason[96];
    if (r->fail == AH_FAIL_STATUS) {
        int s = r->status;
        snprintf(reason, sizeof(reason), "upstream %d", s);
        if (s == 401 || s == 403) {
            action = "disable";
        } else if (s == 429) {
            secs = r->retry_after > ch->cooldowns.s429 ? r->retry_after : ch->cooldowns.s429;
        } else if (s == 408 || s >= 500) {
            secs = ch->cooldowns.s5xx;
        } else {
            reply_client_error(r);
            return;
        }
    } else {
        snprintf(reason, sizeof(reason), "%s", r->fail == AH_FAIL_TIMEOUT ? "upstream timeout" : "connection failed");
    }

    /* the failed account's cooldown and the next draw, in one script call */
    size_t n = 0;
    int can_retry = r->attempts <= r->snap->max_retries && ah_relay_client_alive(r);
    const char *keys_args[3 + 6 + AH_RELAY_MAX_CANDIDATES * 4];
    char bufs[AH_RELAY_MAX_CANDIDATES + 1][160], nums[AH_RELAY_MAX_CANDIDATES][2][24], secs_s[24], status_s[16], rnd[32], n_s[16];
    snprintf(bufs[0], sizeof(bufs[0]), "ah:acct:%s", r->cur->account->id);
    keys_args[0] = bufs[0];
    for (size_t i = 0; can_retry && i != r->ncands; ++i) {
        if (r->tried[i])
            continue;
        snprintf(bufs[n + 1], sizeof(bufs[0]), "ah:acct:%s", r->cands[i].account->id);
        keys_args[1 + n] = bufs[n + 1];
        ++n;
    }
    size_t k = 1 + n;
    snprintf(secs_s, sizeof(secs_s), "%lld", (long long)secs);
    snprintf(status_s, sizeof(status_s), "%d", r->fail == AH_FAIL_STATUS ? r->status : 0);
    snprintf(rnd, sizeof(rnd), "%.17g", ah_crypto_random_unit());
    snprintf(n_s, sizeof(n_s), "%zu", n);
    keys_args[k++] = action;
    keys_args[k++] = secs_s;
    keys_args[k++] = reason;
    keys_args[k++] = status_s;
    keys_args[k++] = rnd;
    keys_args[k++] = n_s;
    for (size_t i = 0, j = 0; can_retry && i != r->ncands; ++i) {
        if (r->tried[i])
            continue;
        snprintf(nums[j][0], sizeof(nums[j][0]), "%lld", (long long)r->cands[i].priority);
        snprintf(nums[j][1], sizeof(nums[j][1]), "%lld", (long long)r->cands[i].weight);
        keys_args[k++] = r->cands[i].account->id;
        keys_args[k++] = nums[j][0];
        keys_args[k++] = nums[j][1];
        ++j;
    }
    ++r->refs;
    if (ah_redis_script(r->w->redis, AH_SCRIPT_FAILOVER, (int)(1 + n), (int)k, keys_args, NULL, on_failover, r) != 0) {
        --r->refs;
        reply_exhausted(r);
    }
}

static void on_admit(void *ud, redisReply *reply, const char *err)
{
    ah_relay_t *r = ud;
    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
        ah_relay_reply_error(r, 503, "api_error", "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly",
                             0);
        ah_relay_finish(r, "rejected");
        ah_relay_release(r);
        return;
    }
    const char *verdict = reply->element[0]->str, *what = reply->element[1]->str;
    if (strcmp(verdict, "ok") == 0 && reply->elements >= 4) {
        r->key_id = strdup(reply->element[2]->str);
        r->user_id = strdup(reply->element[3]->str);
        const ah_candidate_t *c = find_candidate(r, what);
        if (c != NULL)
            start_attempt(r, c);
        else
            reply_exhausted(r);
    } else if (strcmp(what, "invalid_api_key") == 0) {
        ah_relay_reply_error(r, 401, "authentication_error", "invalid_api_key", "the API key is missing, unknown, disabled or expired", 0);
        ah_relay_finish(r, "rejected");
    } else if (strcmp(what, "user_disabled") == 0) {
        ah_relay_reply_error(r, 403, "permission_error", "user_disabled", "the user of this API key is disabled", 0);
        ah_relay_finish(r, "rejected");
    } else if (strcmp(what, "model_not_allowed") == 0) {
        ah_relay_reply_error(r, 403, "permission_error", "model_not_allowed", "this API key may not use this model", 0);
        ah_relay_finish(r, "rejected");
    } else if (strcmp(what, "model_not_found") == 0) {
        char msg[320];
        snprintf(msg, sizeof(msg), "no enabled channel serves the model '%.200s'", r->model);
        ah_relay_reply_error(r, 404, "invalid_request_error", "model_not_found", msg, 0);
        ah_relay_finish(r, "rejected");
    } else if (strcmp(what, "no_available_account") == 0) {
        long long ms = reply->elements >= 3 ? reply->element[2]->integer : -1;
        ah_relay_reply_error(r, 503, "api_error", "no_available_account",
                             ms >= 0 ? "every account for this model is cooling down" : "every account for this model is disabled",
                             ms >= 0 ? (ms + 999) / 1000 : 0);
        ah_relay_finish(r, "rejected");
    } else {
        ah_log(AH_LOG_ERROR, "relay", "unexpected admission reply: %s", what);
        ah_relay_reply_error(r, 500, "api_error", "internal_error", "unexpected admission result", 0);
        ah_relay_finish(r, "rejected");
    }
    ah_relay_release(r);
}

static int openai_shaped(const ah_channel_t *c)
{
    return c->type == AH_CHANNEL_OPENAI || c->type == AH_CHANNEL_OPENAI_COMPATIBLE || c->type == AH_CHANNEL_AZURE;
}

void ah_relay_chat(h2o_req_t *req, json_t *body, const char *key, size_t keylen)
{
    ah_worker_t *w = ah_worker_of_req(req);
    ah_relay_t *r = ah_async_new(req, sizeof(*r));
    r->super.on_gone = on_gone;
    r->refs = 1; /* the request's */
    r->w = w;
    r->snap = ah_snapshot_acquire();
    r->body = body;
    r->model = json_string_value(json_object_get(body, "model"));
    r->stream = json_is_true(json_object_get(body, "stream"));
    r->client_wants_usage = json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage"));
    r->request_id = ah_request_id(req);
    r->client_ip = ah_client_ip(req);
    r->t_start = h2o_now(w->loop);
    ah_sse_init(&r->sse, 0);
    ah_crypto_hmac_hex(w->node->hash_key, key, keylen, r->key_hmac);
    ++w->in_flight;

    ah_candidate_t all[AH_RELAY_MAX_CANDIDATES];
    size_t total = ah_router_candidates(r->snap, r->model, all, AH_RELAY_MAX_CANDIDATES);
    if (total > AH_RELAY_MAX_CANDIDATES)
        total = AH_RELAY_MAX_CANDIDATES;
    for (size_t i = 0; i != total; ++i)
        if (openai_shaped(all[i].account->channel))
            r->cands[r->ncands++] = all[i];

    /* admission: KEYS = key record, candidate states; ARGV = model, draw, n, triples */
    size_t n = r->ncands, k = 0;
    const char **argv = h2o_mem_alloc_pool(&req->pool, sizeof(char *) * (1 + n + 3 + 3 * n));
    char *kk = h2o_mem_alloc_pool(&req->pool, 80);
    snprintf(kk, 80, "ah:key:%s", r->key_hmac);
    argv[k++] = kk;
    for (size_t i = 0; i != n; ++i) {
        size_t len = strlen(r->cands[i].account->id) + 9;
        char *s = h2o_mem_alloc_pool(&req->pool, len);
        snprintf(s, len, "ah:acct:%s", r->cands[i].account->id);
        argv[k++] = s;
    }
    argv[k++] = r->model;
    char *rnd = h2o_mem_alloc_pool(&req->pool, 32), *ns = h2o_mem_alloc_pool(&req->pool, 16);
    snprintf(rnd, 32, "%.17g", ah_crypto_random_unit());
    snprintf(ns, 16, "%zu", n);
    argv[k++] = rnd;
    argv[k++] = ns;
    for (size_t i = 0; i != n; ++i) {
        char *p = h2o_mem_alloc_pool(&req->pool, 48);
        argv[k++] = r->cands[i].account->id;
        snprintf(p, 24, "%lld", (long long)r->cands[i].priority);
        snprintf(p + 24, 24, "%lld", (long long)r->cands[i].weight);
        argv[k++] = p;
        argv[k++] = p + 24;
    }
    ++r->refs;
    if (ah_redis_script(w->redis, AH_SCRIPT_ADMIT, (int)(1 + n), (int)k, argv, NULL, on_admit, r) != 0) {
        --r->refs;
        ah_relay_reply_error(r, 503, "api_error", "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly", 0);
        ah_relay_finish(r, "rejected");
    }
}
