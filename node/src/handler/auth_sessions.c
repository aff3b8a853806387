/*
 * The signed-in caller's own view: GET /api/me, the caller's sessions
 * (GET /api/sessions, DELETE /api/sessions/{id}, DELETE /api/sessions for
 * all but the current one) and the audit log (GET /api/audit). The
 * dispatcher has authenticated the caller already (ah_auth_identity).
 */
#include <string.h>
#include "auth/auth.h"
#include "auth/cookies.h"
#include "auth/session.h"
#include "handler/admin.h"
#include "handler/auth_util.h"
#include "http/reply.h"

/* ---- GET /api/me ---- */

void ah_handle_me(h2o_req_t *req, const ah_route_params_t *p)
{
    const ah_identity_t *id = ah_auth_identity(req);
    ah_node_t *node = ah_worker_of_req(req)->node;
    if (id->via == AH_VIA_HEADER) {
        /* no session sets the CSRF cookie in this mode: it is bound to the proxy's user instead */
        char binding[300], csrf[AH_CSRF_LEN + 1];
        snprintf(binding, sizeof(binding), "header:%s", id->principal);
        ah_csrf_value(node, binding, csrf);
        ah_cookie_set(req, AH_COOKIE_CSRF, csrf, "/", node->opts.session_max_s, AH_COOKIE_LAX | ah_session_cookie_secure(node));
    }
    ah_reply_add_header(req, "cache-control", "no-store");
    ah_reply_json(req, 200,
                  json_pack("{s:s, s:s?, s:s?, s:s, s:s?, s:s}", "sub", id->sub, "email", id->email[0] != '\0' ? id->email : NULL, "name",
                            id->name[0] != '\0' ? id->name : NULL, "role", ah_role_name(id->role), "session_id",
                            id->sid[0] != '\0' ? id->sid : NULL, "via", ah_auth_via_name(id->via)));
}

/* ---- sessions ---- */

static void on_sessions(ah_admin_op_t *op, redisReply *reply)
{
    json_t *data = json_array();
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i != reply->elements; ++i) {
        redisReply *r = reply->element[i];
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 7)
            continue;
        json_array_append_new(data, json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:I, s:b}", "id", r->element[0]->str, "created_at",
                                              (json_int_t)r->element[1]->integer, "last_seen_at", (json_int_t)r->element[2]->integer,
                                              "user_agent", r->element[3]->str, "ip", r->element[4]->str, "role", r->element[5]->str,
                                              "expires_at", (json_int_t)r->element[6]->integer, "current",
                                              strcmp(r->element[0]->str, op->id) == 0));
    }
    ah_reply_add_header(op->super.req, "cache-control", "no-store");
    ah_reply_json(op->super.req, 200, ah_admin_list(data, NULL));
    ah_admin_op_free(op);
}

void ah_handle_sessions_list(h2o_req_t *req, const ah_route_params_t *p)
{
    const ah_identity_t *id = ah_auth_identity(req);
    if (id->via != AH_VIA_SESSION) {
        ah_reply_json(req, 200, ah_admin_list(json_array(), NULL)); /* the admin key and proxy users have no sessions */
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    snprintf(op->id, sizeof(op->id), "%s", id->sid);
    snprintf(op->id2, sizeof(op->id2), "ah:sess_idx:%s", id->phash);
    const char *argv[] = {op->id2, id->phash, ah_admin_int_str(req, ah_worker_of_req(req)->node->opts.session_idle_s)};
    ah_admin_call(op, AH_SCRIPT_SESSION_LIST, 1, 3, argv, on_sessions);
}

static void on_session_revoked(ah_admin_op_t *op, redisReply *reply)
{
    h2o_req_t *req = op->super.req;
    if (ah_admin_reply_refusal(req, reply, "session")) {
        ah_admin_op_free(op);
        return;
    }
    const ah_identity_t *id = ah_auth_identity(req);
    if (id->via == AH_VIA_SESSION && strcmp(id->sid, op->id) == 0)
        ah_session_clear_cookies(req, op->w->node); /* the caller ended its own session */
    ah_reply_json(req, 200, json_pack("{s:s, s:b}", "id", op->id, "deleted", 1));
    ah_admin_op_free(op);
}

void ah_handle_session_delete(h2o_req_t *req, const ah_route_params_t *p)
{
    const ah_identity_t *id = ah_auth_identity(req);
    h2o_iovec_t sid = p->p[0];
    /* a session caller ends only its own person's sessions: never with an empty owner (which means "any") */
    if (!ah_session_is_id(sid.base, sid.len) || id->via == AH_VIA_HEADER || (id->via == AH_VIA_SESSION && id->phash[0] == '\0')) {
        ah_admin_reply_not_found(req, "session");
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    snprintf(op->id, sizeof(op->id), "%.*s", (int)sid.len, sid.base);
    snprintf(op->id2, sizeof(op->id2), "ah:sess:%s", op->id);
    /* a session caller may end only its own person's sessions; the admin key may end any */
    const char *argv[] = {op->id2, op->id, id->via == AH_VIA_KEY ? "" : id->phash, id->via == AH_VIA_KEY ? "admin_revoke" : "remote_logout"};
    ah_admin_call(op, AH_SCRIPT_SESSION_REVOKE, 1, 4, argv, on_session_revoked);
}

static void on_others_revoked(ah_admin_op_t *op, redisReply *reply)
{
    json_int_t n = reply->type == REDIS_REPLY_ARRAY && reply->elements > 1 ? reply->element[1]->integer : 0;
    ah_reply_json(op->super.req, 200, json_pack("{s:I}", "deleted", n));
    ah_admin_op_free(op);
}

void ah_handle_sessions_delete_others(h2o_req_t *req, const ah_route_params_t *p)
{
    const ah_identity_t *id = ah_auth_identity(req);
    if (id->via != AH_VIA_SESSION) {
        ah_admin_reply_bad(req, "only a signed-in session has other sessions to end");
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    snprintf(op->id2, sizeof(op->id2), "ah:sess_idx:%s", id->phash);
    const char *argv[] = {op->id2, id->phash, id->sid, "remote_logout"};
    ah_admin_call(op, AH_SCRIPT_SESSION_REVOKE_OTHERS, 1, 4, argv, on_others_revoked);
}

/* ---- GET /api/audit ---- */

static void on_audit(ah_admin_op_t *op, redisReply *reply)
{
    json_t *data = json_array();
    const char *next = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 && reply->element[0]->type == REDIS_REPLY_STRING
                           ? reply->element[0]->str
                           : "";
    for (size_t i = 1; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; ++i) {
        redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1)
            continue;
        json_t *o = json_object();
        const char *sid = e->element[0]->str;
        json_object_set_new(o, "id", json_string(sid));
        json_object_set_new(o, "time", json_integer(atoll(sid) / 1000));
        for (size_t j = 1; j + 1 < e->elements; j += 2) {
            const char *k = e->element[j]->str, *v = e->element[j + 1]->str;
            json_t *val = NULL;
            if (strcmp(k, "summary") == 0 && v[0] != '\0')
                val = ah_admin_parse_object(v, strlen(v));
            else if (strcmp(k, "status") == 0)
                val = json_integer(atoll(v));
            json_object_set_new(o, k, val != NULL ? val : json_string(v));
        }
        json_array_append_new(data, o);
    }
    ah_reply_json(op->super.req, 200, ah_admin_list(data, next));
    ah_admin_op_free(op);
}

void ah_handle_audit_list(h2o_req_t *req, const ah_route_params_t *p)
{
    int limit = ah_admin_limit(req);
    if (limit < 0)
        return;
    const char *names[] = {"before", "actor", "action", "target"};
    const char *vals[4];
    for (int i = 0; i != 4; ++i) {
        int present = ah_req_query(req, names[i]).base != NULL;
        vals[i] = present ? ah_auth_query_decoded(req, names[i]) : "";
        if (vals[i] == NULL || strlen(vals[i]) > 256) {
            ah_admin_reply_bad(req, "'%s' is malformed", names[i]);
            return;
        }
    }
    /* before: an entry id "<ms>-<seq>" or a time in ms, as next gives it */
    const char *b = vals[0];
    size_t d1 = strspn(b, "0123456789"), d2 = b[d1] == '-' ? strspn(b + d1 + 1, "0123456789") : 0;
    if (b[0] != '\0' && (d1 == 0 || d1 > 20 || !(b[d1] == '\0' || (b[d1] == '-' && d2 != 0 && d2 <= 20 && b[d1 + 1 + d2] == '\0')))) {
        ah_admin_reply_bad(req, "'before' must be an audit entry id (as given in next)");
        return;
    }
    ah_admin_op_t *op = ah_admin_op_new(req);
    const char *argv[] = {"ah:audit", vals[0], ah_admin_int_str(req, limit), vals[1], vals[2], vals[3], "10000"};
    ah_admin_call(op, AH_SCRIPT_AUDIT_LIST, 1, 7, argv, on_audit);
}
