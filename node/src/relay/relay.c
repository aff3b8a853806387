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
#include "aihub/reqid.h"
#include "aihub/strutil.h"
#include "aihub/tokens.h"
#include "handler/routes.h"
#include "http/buffer.h"
#include "relay/settle_queue.h"
#include "http/reply.h"
#include "relay/relay.h"
#include "relay/relay_internal.h"

static void free_relay(ah_relay_t *r)
{
    --r->w->in_flight; /* only now: h2o has written everything the client will get */
    r->w->metrics.relay_buffered -= (int64_t)ah_relay_queued(r);
    ah_snapshot_release(&r->snap);
    free(r->cands);
    json_decref(r->body);
    if (r->respbody != NULL)
        h2o_buffer_dispose(&r->respbody);
    if (r->pending != NULL)
        h2o_buffer_dispose(&r->pending);
    if (r->inflight != NULL)
        h2o_buffer_dispose(&r->inflight);
    if (r->gen_data != NULL)
        h2o_buffer_dispose(&r->gen_data);
    free(r->gen_counter);
    if (r->tr != NULL)
        ah_translate_stream_free(r->tr);
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
    ah_reply_error_as(r->super.req, r->client_fmt, status, type, code, msg, retry_after_s);
}

/* prefix then s into buf (cap bytes, NUL included), cut to fit as snprintf would: the hot paths' "%s%s" */
static void join(char *buf, size_t cap, const char *prefix, const char *s)
{
    size_t a = strlen(prefix), b = strlen(s);
    if (a > cap - 1)
        a = cap - 1;
    if (b > cap - 1 - a)
        b = cap - 1 - a;
    memcpy(buf, prefix, a);
    memcpy(buf + a, s, b);
    buf[a + b] = '\0';
}

/* the request id as the scripts take it: at most 64 bytes, NUL-terminated (out holds 65) */
static void copy_request_id(char *out, const ah_relay_t *r)
{
    size_t n = r->request_id.len < 64 ? r->request_id.len : 64;
    memcpy(out, r->request_id.base, n);
    out[n] = '\0';
}

/* the access-log line: one JSON record, written field by field (no jansson on this path); no secrets in it */
static void write_log(ah_relay_t *r, int64_t latency_ms)
{
    if (!r->w->node->opts.access_log)
        return;
    const ah_account_t *a = r->cur != NULL ? r->cur->account : NULL;
    ah_log_rec_t rec;
    ah_log_rec_begin(&rec, AH_LOG_INFO, "access");
    ah_log_rec_strn(&rec, "request_id", r->request_id.base, r->request_id.len);
    ah_log_rec_str(&rec, "model", r->model);
    ah_log_rec_str(&rec, "upstream_model", r->cur != NULL ? r->cur->upstream_model : NULL);
    ah_log_rec_str(&rec, "channel_id", a != NULL ? a->channel->id : NULL);
    ah_log_rec_str(&rec, "account_id", a != NULL ? a->id : NULL);
    ah_log_rec_str(&rec, "key_id", r->key_id);
    ah_log_rec_str(&rec, "user_id", r->user_id);
    ah_log_rec_int(&rec, "status", r->final_status);
    ah_log_rec_bool(&rec, "stream", r->stream);
    ah_log_rec_int(&rec, "attempts", r->attempts);
    ah_log_rec_int(&rec, "latency_ms", latency_ms);
    ah_log_rec_int(&rec, "first_byte_ms", r->t_first_byte != 0 ? (int64_t)(r->t_first_byte - r->t_start) : -1);
    ah_log_rec_int(&rec, "prompt_tokens", r->prompt_tokens);
    ah_log_rec_int(&rec, "cached_tokens", r->cached_tokens);
    ah_log_rec_int(&rec, "completion_tokens", r->completion_tokens);
    ah_log_rec_int(&rec, "cost", r->cost);
    if (r->usage_estimated)
        ah_log_rec_bool(&rec, "tokens_estimated", 1);
    if (r->error[0] != '\0')
        ah_log_rec_str(&rec, "error", r->error);
    ah_log_rec_str(&rec, "client_ip", r->client_ip);
    ah_log_rec_end(&rec);
}

/* settlement: one script call, not waited for (the client has its answer) */
static void settle(ah_relay_t *r, const char *outcome, int64_t upstream_latency)
{
    char key[160], lat[AH_FMT_I64_MAX], cost[AH_FMT_I64_MAX], tokens[AH_FMT_I64_MAX], logmax[AH_FMT_I64_MAX], cstatus[AH_FMT_I64_MAX],
        status[AH_FMT_I64_MAX], pt[AH_FMT_I64_MAX], ct[AH_FMT_I64_MAX], cached[AH_FMT_I64_MAX], attempts[AH_FMT_I64_MAX],
        first_byte[AH_FMT_I64_MAX], latency[AH_FMT_I64_MAX], rid[80];
    const char *upstream_model = r->cur != NULL ? r->cur->upstream_model : "";
    const char *account = r->cur != NULL ? r->cur->account->id : "";
    const char *channel = r->cur != NULL ? r->cur->account->channel->id : "";
    join(key, sizeof(key), "ah:acct:", account);
    ah_fmt_i64(status, r->status);
    ah_fmt_i64(lat, upstream_latency);
    ah_fmt_i64(cost, r->cost);
    ah_fmt_i64(tokens, r->prompt_tokens + r->completion_tokens);
    ah_fmt_i64(logmax, r->snap->log_max_entries);
    ah_fmt_i64(cstatus, r->final_status);
    ah_fmt_i64(pt, r->prompt_tokens);
    ah_fmt_i64(ct, r->completion_tokens);
    ah_fmt_i64(cached, r->cached_tokens);
    ah_fmt_i64(attempts, r->attempts);
    ah_fmt_i64(first_byte, r->t_first_byte != 0 ? (int64_t)(r->t_first_byte - r->t_start) : -1);
    ah_fmt_i64(latency, (int64_t)(h2o_now(r->w->loop) - r->t_start));
    copy_request_id(rid, r);
    const char *argv[] = {key, r->lease, outcome, status, lat, cost, tokens, logmax, r->model, channel, cstatus, pt, ct,
                          "request_id", rid, "upstream_model", upstream_model, "account_id", account, "stream", r->stream ? "1" : "0",
                          "attempts", attempts, "latency_ms", latency, "first_byte_ms", first_byte, "cached_tokens", cached,
                          "estimated", r->usage_estimated ? "1" : "0", "error", r->error, "client_ip", r->client_ip};
    int argc = (int)(sizeof(argv) / sizeof(argv[0]));
    if (strcmp(outcome, "released") == 0)
        ah_settle_queue_send_idempotent(r->w, 1, argc, argv); /* harmless twice: resent if the connection goes first */
    else if (ah_redis_script(r->w->redis, AH_SCRIPT_SETTLE, 1, argc, argv, NULL, NULL, NULL) == 0)
        ++r->w->metrics.relay_redis_calls;
    else
        ah_settle_queue_push(r->w, 1, argc, argv); /* never sent: sent when Redis is back */
}

void ah_relay_finish(ah_relay_t *r, const char *outcome)
{
    if (r->finished == 1 || r->finished == 3)
        return;
    r->finished = r->finished == 2 ? 3 : 1;
    ah_timer_stop(&r->w->timers, &r->renew_timer);
    uint64_t now = h2o_now(r->w->loop);
    int64_t latency = (int64_t)(now - r->t_start);
    if (!ah_relay_client_alive(r) && !r->committed && r->final_status == 0)
        r->final_status = 499;
    if (strcmp(outcome, "client_closed") == 0)
        ++r->w->metrics.client_disconnects;
    if (r->admitted) {
        ah_relay_usage_finalize(r);
        r->cost = ah_relay_cost(r);
        r->w->metrics.cost_micro += (uint64_t)r->cost;
        settle(r, outcome, r->t_upstream != 0 ? (int64_t)(now - r->t_upstream) : 0);
    } else if (r->admit_unknown) {
        settle(r, "released", 0);
    }
    /* label by the model only when the configuration knows it: client-chosen names would be unbounded */
    ah_metrics_count_request(&r->w->metrics, r->final_status, r->ncands != 0 ? r->model : "other",
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
    int rv = ah_relay_upstream_start(r);
    if (rv == -2) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s", r->error);
        ah_relay_reply_error(r, 400, "invalid_request_error", "invalid_request", msg, 0);
        ah_relay_finish(r, "client_error");
    } else if (rv != 0) {
        ah_relay_attempt_failed(r);
    }
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
    const char *msg = ah_translate_upstream_error_message(body);
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

/* appends a candidate's tuple (id, priority, weight, rpm, tpm) to a script's arguments; nums holds the digits */
static size_t push_candidate(const char **argv, size_t k, const ah_candidate_t *c, char nums[4][24])
{
    ah_fmt_i64(nums[0], c->priority);
    ah_fmt_i64(nums[1], c->weight);
    ah_fmt_i64(nums[2], c->account->rpm);
    ah_fmt_i64(nums[3], c->account->tpm);
    argv[k++] = c->account->id;
    argv[k++] = nums[0];
    argv[k++] = nums[1];
    argv[k++] = nums[2];
    argv[k++] = nums[3];
    return k;
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
    int can_retry = r->attempts <= r->snap->max_retries && ah_relay_client_alive(r);
    const char **argv = malloc(sizeof(char *) * (1 + AH_RELAY_MAX_CANDIDATES + 8 + 5 * AH_RELAY_MAX_CANDIDATES));
    char (*bufs)[160] = malloc(sizeof(*bufs) * (1 + AH_RELAY_MAX_CANDIDATES));
    char (*nums)[4][24] = malloc(sizeof(*nums) * AH_RELAY_MAX_CANDIDATES);
    char secs_s[24], status_s[16], rnd[32], n_s[16], tok_s[24];
    size_t n = 0, k = 0;
    snprintf(bufs[0], sizeof(bufs[0]), "ah:acct:%s", r->cur->account->id);
    argv[k++] = bufs[0];
    for (size_t i = 0; can_retry && i != r->ncands; ++i) {
        if (r->tried[i])
            continue;
        snprintf(bufs[n + 1], sizeof(bufs[0]), "ah:acct:%s", r->cands[i].account->id);
        argv[k++] = bufs[++n];
    }
    snprintf(secs_s, sizeof(secs_s), "%lld", (long long)secs);
    snprintf(status_s, sizeof(status_s), "%d", r->fail == AH_FAIL_STATUS ? r->status : 0);
    ah_crypto_random_unit_text(rnd);
    snprintf(n_s, sizeof(n_s), "%zu", n);
    snprintf(tok_s, sizeof(tok_s), "%lld", (long long)r->tpm_est);
    argv[k++] = action;
    argv[k++] = secs_s;
    argv[k++] = reason;
    argv[k++] = status_s;
    argv[k++] = rnd;
    argv[k++] = r->lease;
    argv[k++] = tok_s;
    argv[k++] = n_s;
    for (size_t i = 0, j = 0; can_retry && i != r->ncands; ++i) {
        if (r->tried[i])
            continue;
        k = push_candidate(argv, k, &r->cands[i], nums[j++]);
    }
    ++r->refs;
    ++r->w->metrics.relay_redis_calls;
    int rv = ah_redis_script(r->w->redis, AH_SCRIPT_FAILOVER, (int)(1 + n), (int)k, argv, NULL, on_failover, r);
    free(argv);
    free(bufs);
    free(nums);
    if (rv != 0) {
        --r->refs;
        reply_exhausted(r);
    }
}

/* seconds of ms (0 <= ms < 60000) as %g writes ms / 1000.0: "0", "1.5", "59.999"; returns the length */
static size_t put_seconds(char *p, int64_t ms)
{
    size_t n = ah_fmt_i64(p, ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac != 0) {
        p[n++] = '.';
        for (int unit = 100; frac != 0; unit /= 10) {
            p[n++] = (char)('0' + frac / unit);
            frac %= unit;
        }
    }
    p[n] = '\0';
    return n;
}

/* OpenAI-style duration: "20ms", "1.5s", "6m0s"; buf holds at least 48 bytes */
static void format_reset(char *buf, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    size_t n;
    if (ms < 1000) {
        n = ah_fmt_i64(buf, ms);
        memcpy(buf + n, "ms", 3);
        return;
    }
    if (ms < 60000) {
        n = put_seconds(buf, ms);
    } else {
        n = ah_fmt_i64(buf, ms / 60000);
        buf[n++] = 'm';
        n += put_seconds(buf + n, ms % 60000);
    }
    memcpy(buf + n, "s", 2);
}

/* x-ratelimit-* for the tightest key/user windows, as OpenAI sends them */
static void add_ratelimit_headers(ah_relay_t *r)
{
    static const char *names[2][3] = {{"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"},
                                      {"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"}};
    for (int i = 0; i != 2; ++i) {
        const int64_t *v = &r->rl[3 * i];
        if (v[0] <= 0)
            continue;
        char a[AH_FMT_I64_MAX], b[AH_FMT_I64_MAX], c[48];
        ah_fmt_i64(a, v[0]);
        ah_fmt_i64(b, v[1] < 0 ? 0 : v[1]);
        format_reset(c, v[2]);
        ah_reply_add_header(r->super.req, names[i][0], a);
        ah_reply_add_header(r->super.req, names[i][1], b);
        ah_reply_add_header(r->super.req, names[i][2], c);
    }
}

/* extends the lease of a long request at half its life */
static void on_renew(ah_timer_t *t)
{
    ah_relay_t *r = H2O_STRUCT_FROM_MEMBER(ah_relay_t, renew_timer, t);
    char ttl[24];
    int64_t ttl_ms = r->snap->hold_ttl_s * 1000;
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_ms);
    const char *argv[] = {"ah:holds", r->lease, ttl};
    ah_redis_script(r->w->redis, AH_SCRIPT_RENEW, 1, 3, argv, NULL, NULL, NULL);
    ++r->w->metrics.relay_redis_calls;
    ah_timer_start(&r->w->timers, &r->renew_timer, ttl_ms / 2, on_renew);
}

static void refuse(ah_relay_t *r, int status, const char *type, const char *code, const char *msg, int64_t retry_after_s)
{
    ++r->w->metrics.refusals[ah_metrics_refusal_index(code)];
    ah_relay_reply_error(r, status, type, code, msg, retry_after_s);
    ah_relay_finish(r, "rejected");
}

static void on_admit(void *ud, redisReply *reply, const char *err)
{
    ah_relay_t *r = ud;
    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
        /* a timed-out admit may still run in Redis: the settle ("released") queued behind it gives back what it placed */
        r->admit_unknown = err != NULL;
        refuse(r, 503, "api_error", "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly", 0);
        ah_relay_release(r);
        return;
    }
    const char *verdict = reply->element[0]->str, *what = reply->element[1]->str;
    long long ms = reply->elements >= 3 && reply->element[2]->type == REDIS_REPLY_INTEGER ? reply->element[2]->integer : -1;
    if (strcmp(verdict, "ok") == 0 && reply->elements >= 10) {
        r->admitted = 1;
        r->key_id = strdup(reply->element[2]->str);
        r->user_id = strdup(reply->element[3]->str);
        for (int i = 0; i != 6; ++i)
            r->rl[i] = reply->element[4 + i]->integer;
        if (ah_relay_client_alive(r))
            add_ratelimit_headers(r);
        ah_timer_start(&r->w->timers, &r->renew_timer, r->snap->hold_ttl_s * 1000 / 2, on_renew);
        const ah_candidate_t *c = find_candidate(r, what);
        if (c != NULL)
            start_attempt(r, c);
        else
            reply_exhausted(r);
    } else if (strcmp(what, "invalid_api_key") == 0) {
        refuse(r, 401, "authentication_error", "invalid_api_key", "the API key is missing, unknown, disabled or expired", 0);
    } else if (strcmp(what, "user_disabled") == 0) {
        refuse(r, 403, "permission_error", "user_disabled", "the user of this API key is disabled", 0);
    } else if (strcmp(what, "model_not_allowed") == 0) {
        refuse(r, 403, "permission_error", "model_not_allowed", "this API key may not use this model", 0);
    } else if (strcmp(what, "model_not_found") == 0) {
        char msg[320];
        snprintf(msg, sizeof(msg), "no enabled channel serves the model '%.200s'", r->model);
        refuse(r, 404, "invalid_request_error", "model_not_found", msg, 0);
    } else if (strcmp(what, "rate_limit_exceeded") == 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "rate limit reached; retry in %.1f s", ms / 1000.0);
        refuse(r, 429, "rate_limit_error", "rate_limit_exceeded", msg, ms > 0 ? (ms + 999) / 1000 : 1);
    } else if (strcmp(what, "insufficient_quota") == 0) {
        int spend = reply->elements >= 4 && strcmp(reply->element[3]->str, "spend_limit") == 0;
        char msg[200];
        if (spend)
            snprintf(msg, sizeof(msg), "this API key reached its monthly spend limit");
        else
            snprintf(msg, sizeof(msg), "the balance does not cover this request (it needs %lld micro-units on hold)", (long long)r->hold);
        refuse(r, 429, "insufficient_quota", "insufficient_quota", msg, 0);
    } else if (strcmp(what, "no_available_account") == 0) {
        refuse(r, 503, "api_error", "no_available_account",
               ms >= 0 ? "every account for this model is cooling down" : "every account for this model is disabled",
               ms >= 0 ? (ms + 999) / 1000 : 0);
    } else {
        ah_log(AH_LOG_ERROR, "relay", "unexpected admission reply: %s", what);
        refuse(r, 500, "api_error", "internal_error", "unexpected admission result", 0);
    }
    ah_relay_release(r);
}

/* embeddings go to OpenAI-type upstreams only; everything else to any upstream, translated */
static int can_serve(const ah_relay_t *r, const ah_channel_t *c)
{
    return !r->embeddings || ah_relay_channel_format(c) == AH_FMT_OPENAI;
}

/* the completion budget: max_completion_tokens, else max_tokens, else the configured default */
static int64_t max_tokens_of(const ah_relay_t *r, int *given)
{
    json_t *v = json_object_get(r->body, "max_completion_tokens");
    if (!json_is_integer(v))
        v = json_object_get(r->body, "max_tokens");
    if (r->client_fmt != AH_FMT_OPENAI) {
        int64_t n = ah_translate_max_tokens(r->client_fmt, r->body);
        *given = n > 0;
        return *given ? n : r->snap->default_max_tokens;
    }
    *given = json_is_integer(v);
    return *given ? json_integer_value(v) : r->snap->default_max_tokens;
}

void ah_relay_start(h2o_req_t *req, json_t *body, const char *key, size_t keylen, const ah_relay_request_t *rq)
{
    ah_worker_t *w = ah_worker_of_req(req);
    ah_relay_t *r = ah_async_new(req, sizeof(*r));
    r->super.on_gone = on_gone;
    r->refs = 1; /* the request's */
    r->w = w;
    r->snap = ah_snapshot_acquire();
    r->body = body;
    r->client_fmt = rq->format;
    if (rq->format == AH_FMT_ANTHROPIC) {
        h2o_iovec_t v = ah_req_header(req, "anthropic-version"), b = ah_req_header(req, "anthropic-beta");
        r->anthropic_version = v.base != NULL ? h2o_strdup(&req->pool, v.base, v.len).base : NULL;
        r->anthropic_beta = b.base != NULL ? h2o_strdup(&req->pool, b.base, b.len).base : NULL;
    }
    r->embeddings = rq->embeddings;
    r->model = rq->model;
    r->stream = rq->stream;
    r->client_wants_usage =
        rq->format == AH_FMT_OPENAI && json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage"));
    r->request_id = ah_request_id(req);
    r->client_ip = ah_client_ip(req);
    r->t_start = h2o_now(w->loop);
    ah_sse_init(&r->sse, 0);
    ah_crypto_hmac_hex(w->node->hash_key, key, keylen, r->key_hmac);
    ah_reqid_new(r->lease);
    ++w->in_flight;

    ah_candidate_t all[AH_RELAY_MAX_CANDIDATES];
    size_t total = ah_router_candidates(r->snap, r->model, all, AH_RELAY_MAX_CANDIDATES);
    if (total > AH_RELAY_MAX_CANDIDATES)
        total = AH_RELAY_MAX_CANDIDATES;
    r->cands = h2o_mem_alloc(sizeof(*r->cands) * (total != 0 ? total : 1));
    for (size_t i = 0; i != total; ++i)
        if (can_serve(r, all[i].account->channel))
            r->cands[r->ncands++] = all[i];

    /* what this request may cost and use: the hold and the TPM estimate */
    int given;
    int64_t max_tokens = max_tokens_of(r, &given);
    if (r->client_fmt == AH_FMT_OPENAI && !r->embeddings) {
        r->est_prompt = ah_tokens_estimate_chat(ah_tokens_family_of(r->model), body);
    } else {
        /* other shapes: the whole body's text, a slight over-estimate (field names count too) */
        r->est_prompt = ah_tokens_estimate(ah_tokens_family_of(r->model), req->entity.base != NULL ? req->entity.base : "", req->entity.len);
    }
    r->tpm_est = r->est_prompt + (given ? max_tokens : 0);
    r->hold = ah_relay_hold(r, max_tokens);

    /* admission: KEYS = key record, candidate states; ARGV as admit.lua lists them */
    size_t n = r->ncands, k = 0;
    const char **argv = h2o_mem_alloc_pool(&req->pool, sizeof(char *) * (1 + n + 13 + 5 * n));
    char *kk = h2o_mem_alloc_pool(&req->pool, 80);
    join(kk, 80, "ah:key:", r->key_hmac);
    argv[k++] = kk;
    for (size_t i = 0; i != n; ++i) {
        size_t len = strlen(r->cands[i].account->id) + 9;
        char *s = h2o_mem_alloc_pool(&req->pool, len);
        join(s, len, "ah:acct:", r->cands[i].account->id);
        argv[k++] = s;
    }
    char (*nums)[24] = h2o_mem_alloc_pool(&req->pool, sizeof(*nums) * 10);
    ah_crypto_random_unit_text(nums[0]);
    ah_fmt_i64(nums[1], r->hold);
    ah_fmt_i64(nums[2], r->tpm_est);
    ah_fmt_i64(nums[3], r->snap->hold_ttl_s * 1000);
    ah_fmt_i64(nums[4], r->snap->global_rpm);
    ah_fmt_i64(nums[5], r->snap->global_tpm);
    ah_fmt_i64(nums[6], r->snap->log_max_entries);
    ah_fmt_i64(nums[7], (int64_t)n);
    char *rid = h2o_mem_alloc_pool(&req->pool, 72);
    copy_request_id(rid, r);
    argv[k++] = r->model;
    argv[k++] = nums[0];
    argv[k++] = r->lease;
    argv[k++] = nums[1];
    argv[k++] = nums[2];
    argv[k++] = nums[3];
    argv[k++] = nums[4];
    argv[k++] = nums[5];
    argv[k++] = rid;
    argv[k++] = r->stream ? "1" : "0";
    argv[k++] = r->client_ip;
    argv[k++] = nums[6];
    argv[k++] = nums[7];
    for (size_t i = 0; i != n; ++i)
        k = push_candidate(argv, k, &r->cands[i], h2o_mem_alloc_pool(&req->pool, sizeof(char[4][24])));
    ++r->refs;
    ++w->metrics.relay_redis_calls;
    if (ah_redis_script(w->redis, AH_SCRIPT_ADMIT, (int)(1 + n), (int)k, argv, NULL, on_admit, r) != 0) {
        --r->refs;
        refuse(r, 503, "api_error", "service_unavailable", "the gateway's state store (Redis) is unreachable; retry shortly", 0);
    }
}
