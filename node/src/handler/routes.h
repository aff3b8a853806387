/*
 * The node's single h2o handler: request id, drain and size checks, then the
 * route table (method × path pattern → handler, and for admin routes the
 * roles admitted), admin authentication and authorisation, and CORS.
 */
#ifndef AH_HANDLER_ROUTES_H
#define AH_HANDLER_ROUTES_H

#include <stdio.h>
#include <h2o.h>

#define AH_ROUTE_MAX_PARAMS 3

/** the {id} parts of a matched path, borrowed from the request */
typedef struct st_ah_route_params_t {
    h2o_iovec_t p[AH_ROUTE_MAX_PARAMS];
    size_t n;
} ah_route_params_t;

typedef void (*ah_route_fn)(h2o_req_t *req, const ah_route_params_t *params);

/** registers the handler on the host's root path */
void ah_routes_register(h2o_hostconf_t *host);
/** prints the route table, one JSON object a line: method, pattern, kind and the roles admitted (aihub-node --routes) */
void ah_routes_dump(FILE *out);
/** the x-request-id this response carries */
h2o_iovec_t ah_request_id(h2o_req_t *req);
/** the client's address as text (X-Forwarded-For only from trusted proxies), in the pool */
const char *ah_client_ip(h2o_req_t *req);

/* handlers, one family per file */
void ah_handle_chat(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_models(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_usage(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_messages(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_gemini(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_embeddings(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_healthz(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_readyz(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_metrics(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_channels_list(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_channels_create(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_channel_get(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_channel_update(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_channel_delete(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_channel_test(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_accounts_list(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_accounts_create(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_accounts_import(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_account_update(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_account_delete(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_account_reset(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_modelmap_get(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_modelmap_put(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_settings_get(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_settings_put(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_users_list(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_users_create(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_user_get(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_user_update(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_user_delete(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_keys_list(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_keys_create(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_key_update(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_key_delete(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_stats(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_logs_list(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_logs_stream(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_prices_get(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_prices_put(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_user_credits(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_user_ledger(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_auth_login(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_auth_callback(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_auth_refresh(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_auth_logout(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_me(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_sessions_list(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_sessions_delete_others(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_session_delete(h2o_req_t *req, const ah_route_params_t *p);
void ah_handle_audit_list(h2o_req_t *req, const ah_route_params_t *p);

#endif
