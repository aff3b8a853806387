/*
 * Upstream request URL, headers and common transfer options (see request.h).
 */
#include <stdio.h>
#include "upstream/request.h"

#define DEFAULT_AZURE_API_VERSION "2024-10-21"

char *ah_upstream_chat_url(const ah_channel_t *ch, const char *model)
{
    char *url;
    if (ch->type == AH_CHANNEL_AZURE) {
        const char *dep = json_string_value(json_object_get(ch->deployments, model));
        char *esc = curl_easy_escape(NULL, dep != NULL ? dep : model, 0);
        if (esc == NULL || asprintf(&url, "%s/openai/deployments/%s/chat/completions?api-version=%s", ch->base_url, esc,
                                    ch->api_version != NULL ? ch->api_version : DEFAULT_AZURE_API_VERSION) < 0)
            url = NULL;
        curl_free(esc);
    } else if (asprintf(&url, "%s/chat/completions", ch->base_url) < 0) {
        url = NULL;
    }
    return url;
}

struct curl_slist *ah_upstream_headers(const ah_account_t *a, int stream)
{
    const ah_channel_t *ch = a->channel;
    char auth[1024];
    if (ch->type == AH_CHANNEL_AZURE)
        snprintf(auth, sizeof(auth), "api-key: %s", a->secret);
    else
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a->secret);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, stream ? "Accept: text/event-stream" : "Accept: application/json");
    h = curl_slist_append(h, "Expect:");
    for (size_t i = 0; i != ch->nheaders; ++i)
        h = curl_slist_append(h, ch->headers[i]);
    return h;
}

void ah_upstream_common_options(CURL *e, const ah_channel_t *ch)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)ch->timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (ch->proxy != NULL)
        curl_easy_setopt(e, CURLOPT_PROXY, ch->proxy);
}
