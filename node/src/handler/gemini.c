/*
 * POST /v1beta/models/{model}:generateContent and :streamGenerateContent: the
 * Gemini API. The model and whether it streams come from the path; the key
 * from x-goog-api-key, ?key= (on these paths only; never logged) or Bearer.
 * Streams are served as Server-Sent Events (?alt=sse, what Google's SDKs ask
 * for); a stream without alt=sse is refused with a clear 400.
 */
#include <string.h>
#include "handler/client_auth.h"
#include "handler/routes.h"
#include "http/reply.h"
#include "relay/relay.h"

static void bad(h2o_req_t *req, int status, const char *msg)
{
    ah_reply_error_as(req, AH_FMT_GEMINI, status, "invalid_request_error", "invalid_request", msg, 0);
}

void ah_handle_gemini(h2o_req_t *req, const ah_route_params_t *p)
{
    h2o_iovec_t seg = p->p[0]; /* "<model>:<method>" */
    const char *colon = NULL;
    for (size_t i = seg.len; i-- > 0;)
        if (seg.base[i] == ':') {
            colon = seg.base + i;
            break;
        }
    if (colon == NULL || colon == seg.base) {
        bad(req, 404, "unknown method: use models/{model}:generateContent or :streamGenerateContent");
        return;
    }
    h2o_iovec_t method = h2o_iovec_init(colon + 1, seg.base + seg.len - colon - 1);
    int stream;
    if (h2o_memis(method.base, method.len, H2O_STRLIT("generateContent")))
        stream = 0;
    else if (h2o_memis(method.base, method.len, H2O_STRLIT("streamGenerateContent")))
        stream = 1;
    else {
        bad(req, 404, "unknown method: use :generateContent or :streamGenerateContent");
        return;
    }
    h2o_iovec_t alt = ah_req_query(req, "alt");
    if (stream && !h2o_memis(alt.base, alt.len, H2O_STRLIT("sse"))) {
        bad(req, 400, "streamGenerateContent is served as Server-Sent Events: add ?alt=sse");
        return;
    }
    h2o_iovec_t key = ah_client_key(req);
    if (key.base == NULL)
        key = ah_req_query(req, "key");
    if (key.base == NULL || !ah_client_key_well_formed(key)) {
        ah_reply_error_as(req, AH_FMT_GEMINI, 401, "authentication_error", "invalid_api_key",
                          "API key not valid: it is missing, unknown, disabled or expired", 0);
        return;
    }
    h2o_iovec_t model = h2o_strdup(&req->pool, seg.base, colon - seg.base);
    if (model.len > 256) {
        bad(req, 400, "the model name is too long");
        return;
    }
    json_error_t jerr;
    json_t *body = req->entity.base != NULL ? json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(body) || !json_is_array(json_object_get(body, "contents")) || json_array_size(json_object_get(body, "contents")) == 0) {
        json_decref(body);
        bad(req, 400, "the body must be a JSON object with a non-empty \"contents\" array");
        return;
    }
    ah_relay_request_t rq = {.format = AH_FMT_GEMINI, .model = model.base, .stream = stream, .gemini_sse = stream};
    ah_relay_start(req, body, key.base, key.len, &rq);
}
