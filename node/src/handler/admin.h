/*
 * What the admin handlers share: body parsing and the contract's error
 * replies, ids, path and query parameters, field validation, and one async
 * operation type that chains script calls and survives the client leaving.
 */
#ifndef AH_HANDLER_ADMIN_H
#define AH_HANDLER_ADMIN_H

#include <h2o.h>
#include <jansson.h>
#include "handler/routes.h"
#include "http/async.h"
#include "node.h"

#define AH_ADMIN_MAX_LIMIT 1000
#define AH_ADMIN_DEFAULT_LIMIT 100

typedef struct st_ah_admin_op_t ah_admin_op_t;
/** continuation of an admin operation after a successful script reply; it replies (or calls again) and may free op */
typedef void (*ah_admin_cont)(ah_admin_op_t *op, redisReply *reply);

/** one admin request in flight; fields are free for the handler's use */
struct st_ah_admin_op_t {
    ah_async_t super;
    ah_worker_t *w;
    ah_admin_cont cont;
    json_t *obj;      /**< owned; released by ah_admin_op_free */
    json_t *extra;    /**< owned; released by ah_admin_op_free */
    char id[160];
    char id2[192];
    size_t pending;   /**< calls outstanding (for fan-out) */
    size_t ok, failed, skipped;
    int limit;
    char secret[128]; /**< a key to show once; wiped on free */
};

/** a new operation tied to req */
ah_admin_op_t *ah_admin_op_new(h2o_req_t *req);
void ah_admin_op_free(ah_admin_op_t *op);
/**
 * Calls a script; the reply goes to cont unless the request is gone (op freed)
 * or Redis failed (503 sent, op freed). Returns 0, or -1 after replying 503.
 */
int ah_admin_call(ah_admin_op_t *op, ah_script_id_t script, int nkeys, int argc, const char **argv, ah_admin_cont cont);
/** the same with a plain command */
int ah_admin_command(ah_admin_op_t *op, int argc, const char **argv, ah_admin_cont cont);

/** calls the credits script for the user op->id: delta micro-units, a reason for the ledger, an Idempotency-Key or "" */
void ah_admin_credit(ah_admin_op_t *op, int64_t delta, const char *reason, const char *idem, ah_admin_cont cont);

/** the request body as a JSON object, or NULL after replying 400 */
json_t *ah_admin_body(h2o_req_t *req);
void ah_admin_reply_bad(h2o_req_t *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ah_admin_reply_not_found(h2o_req_t *req, const char *what);
void ah_admin_reply_conflict(h2o_req_t *req, const char *msg);
void ah_admin_reply_unavailable(h2o_req_t *req);
/** a script's {"err", code} reply mapped to a response; returns 1 when it was one */
int ah_admin_reply_refusal(h2o_req_t *req, redisReply *reply, const char *what);

/** a new time-ordered id: prefix, 11 base-36 digits of milliseconds, 6 random characters */
void ah_admin_new_id(const char *prefix, char *out, size_t cap);
/** path parameter i copied to out; 0, or -1 when it is not a plausible id (replies 404) */
int ah_admin_path_id(h2o_req_t *req, const ah_route_params_t *p, size_t i, char *out, size_t cap);
/** limit= (default AH_ADMIN_DEFAULT_LIMIT, at most AH_ADMIN_MAX_LIMIT); -1 after replying 400 */
int ah_admin_limit(h2o_req_t *req);

/** field checks: each returns NULL when fine, else a message (static or in buf) */
const char *ah_check_int(json_t *v, const char *field, int64_t min, int64_t max, char *buf, size_t cap);
const char *ah_check_string(json_t *v, const char *field, size_t min, size_t max, char *buf, size_t cap);
const char *ah_check_bool(json_t *v, const char *field, char *buf, size_t cap);
const char *ah_check_string_array(json_t *v, const char *field, int nonempty, char *buf, size_t cap);
/** a field not among allowed (NULL-terminated) → its name, else NULL */
const char *ah_unknown_field(json_t *obj, const char *const *allowed);

/** "1"/"0" or an integer, as the strings stored in Redis hashes */
const char *ah_admin_int_str(h2o_req_t *req, int64_t v);
/** a flat HGETALL reply as a JSON object of strings (caller owns) */
json_t *ah_admin_flat_to_object(redisReply *flat);
/** a stored JSON object (NULL when the text is not one; caller owns) */
json_t *ah_admin_parse_object(const char *text, size_t len);
/** qsort comparator: JSON objects by their "id", newest (greatest) first */
int ah_admin_by_id_desc(const void *a, const void *b);
/** the "data"/"next" list shape (steals data) */
json_t *ah_admin_list(json_t *data, const char *next);

#endif
