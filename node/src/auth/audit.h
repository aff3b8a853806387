/*
 * The audit log, kept in one place: the dispatcher attaches a small context
 * to every authorised admin request (an h2o prefilter, so it lives in the
 * request and sees the response start); when a state-changing request ends
 * with a status below 400, one entry is appended to the capped stream
 * ah:audit: actor, role, how they got in, the action ("METHOD
 * /api/pattern"), the target id (the object the response names, else the
 * path's id), a summary of the request body with every secret removed, the
 * status, the request id and the client address. No handler records
 * anything itself.
 */
#ifndef AH_AUTH_AUDIT_H
#define AH_AUTH_AUDIT_H

#include <h2o.h>
#include "auth/auth.h"

/** the audit stream */
#define AH_AUDIT_KEY "ah:audit"
/** longest summary kept, bytes */
#define AH_AUDIT_MAX_SUMMARY 1000

/** attaches an empty identity (and the audit hook) to req; the dispatcher fills the identity in */
ah_identity_t *ah_audit_attach(h2o_req_t *req, const ah_auth_route_t *route, const ah_route_params_t *params);
/** the identity attached to req, or NULL */
ah_identity_t *ah_audit_identity(h2o_req_t *req);
/**
 * The summary of a request body kept in the log (caller frees): a JSON
 * object's members with secret-looking ones (key, secret, token, password,
 * headers, proxy, ... and any "sk-..." string) replaced by "[redacted]",
 * long strings cut and long arrays counted; an array body as {"items": n};
 * anything else as {"bytes": n, "lines": n}; "" for no body. Never longer
 * than AH_AUDIT_MAX_SUMMARY (past that, only the member names are kept).
 */
char *ah_audit_summary(const char *body, size_t len);

#endif
