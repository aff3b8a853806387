/*
 * The parts of an upstream chat request that depend only on the channel and
 * account: its URL and its headers (auth, content type, channel headers).
 * Used by the relay and by the admin channel probe.
 */
#ifndef AH_UPSTREAM_REQUEST_H
#define AH_UPSTREAM_REQUEST_H

#include <curl/curl.h>
#include "config/snapshot.h"

/** the chat completions URL of channel ch for upstream model `model`; malloc'd, caller frees; NULL on allocation failure */
char *ah_upstream_chat_url(const ah_channel_t *ch, const char *model);
/** the request headers for account a (caller frees with curl_slist_free_all) */
struct curl_slist *ah_upstream_headers(const ah_account_t *a, int stream);
/** sets the options every upstream transfer shares (timeouts, HTTP version, proxy) */
void ah_upstream_common_options(CURL *e, const ah_channel_t *ch);

#endif
