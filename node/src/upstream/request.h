/*
 * The parts of an upstream chat request that depend only on the channel and
 * account: its URL and its headers (auth, content type, channel headers).
 * Used by the relay and by the admin channel probe.
 */
#ifndef AH_UPSTREAM_REQUEST_H
#define AH_UPSTREAM_REQUEST_H

#include <curl/curl.h>
#include "config/snapshot.h"

/** what kind of call: a chat (in the channel's own API) or OpenAI embeddings */
typedef enum en_ah_upstream_call_t { AH_UPSTREAM_CHAT, AH_UPSTREAM_EMBEDDINGS } ah_upstream_call_t;

/** the URL of channel ch for `model`: chat completions, Anthropic messages or Gemini (stream selects
 *  :streamGenerateContent?alt=sse), or embeddings; malloc'd, caller frees; NULL on allocation failure */
char *ah_upstream_url(const ah_channel_t *ch, const char *model, ah_upstream_call_t call, int stream);
/** the chat completions URL (ah_upstream_url for an OpenAI-type chat) */
char *ah_upstream_chat_url(const ah_channel_t *ch, const char *model);
/**
 * The request headers for account a (caller frees with curl_slist_free_all): its API's auth header, the
 * content type, Anthropic's version (anthropic_version, or 2023-06-01 when NULL) and beta headers, and the
 * channel's own headers.
 */
struct curl_slist *ah_upstream_headers_for(const ah_account_t *a, int stream, const char *anthropic_version, const char *anthropic_beta);
/** ah_upstream_headers_for with no Anthropic client headers */
struct curl_slist *ah_upstream_headers(const ah_account_t *a, int stream);
/** sets the options every upstream transfer shares (timeouts, HTTP version, proxy) */
void ah_upstream_common_options(CURL *e, const ah_channel_t *ch);

#endif
