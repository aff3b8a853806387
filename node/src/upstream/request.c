/*
 * Upstream request URL, headers and common transfer options (see request.h).
 */
#include <stdio.h>
#include "upstream/request.h"

#define DEFAULT_AZURE_API_VERSION "2024-10-21"

char *ah_upstream_url(const ah_channel_t *ch, const char *model, ah_upstream_call_t call, int stream)
{
    char *url = NULL;
    if (ch->type == AH_CHANNEL_ANTHROPIC) {
        if (asprintf(&url, "%s/v1/messages", ch->base_url) < 0)
            url = NULL;
        return url;
    }
    if (ch->type == AH_CHANNEL_GEMINI) {
        char *esc = curl_easy_escape(NULL, model, 0);
        if (esc == NULL || asprintf(&url, "%s/v1beta/models/%s:%s", ch->base_url, esc,
                                    stream ? "streamGenerateContent?alt=sse" : "generateContent") < 0)
            url = NULL;
        curl_free(esc);
        return url;
    }
    const char *what = call == AH_UPSTREAM_EMBEDDINGS ? "embeddings" : "chat/completions";
    if (ch->type == AH_CHANNEL_AZURE) {
        const char *dep = json_string_value(json_object_get(ch->deployments, model));
        char *esc = curl_easy_escape(NULL, dep != NULL ? dep : model, 0);
        if (esc == NULL || asprintf(&url, "%s/openai/deployments/%s/%s?api-version=%s", ch->base_url, esc, what,
                                    ch->api_version != NULL ? ch->api_version : DEFAULT_AZURE_API_VERSION) < 0)
            url = NULL;
        curl_free(esc);
    } else if (asprintf(&url, "%s/%s", ch->base_url, what) < 0) {
        url = NULL;
    }
    return url;
}

char *ah_upstream_chat_url(const ah_channel_t *ch, const char *model)
{
    return ah_upstream_url(ch, model, AH_UPSTREAM_CHAT, 0);
}

struct curl_slist *ah_upstream_headers(const ah_account_t *a, int stream)
{
    return ah_upstream_headers_for(a, stream, NULL, NULL);
}

struct curl_slist *ah_upstream_headers_for(const ah_account_t *a, int stream, const char *anthropic_version, const char *anthropic_beta)
{
    const ah_channel_t *ch = a->channel;
    char auth[1024];
    if (ch->type == AH_CHANNEL_AZURE)
        snprintf(auth, sizeof(auth), "api-key: %s", a->secret);
    else if (ch->type == AH_CHANNEL_ANTHROPIC)
        snprintf(auth, sizeof(auth), "x-api-key: %s", a->secret);
    else if (ch->type == AH_CHANNEL_GEMINI)
        snprintf(auth, sizeof(auth), "x-goog-api-key: %s", a->secret);
    else
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a->secret);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    if (ch->type == AH_CHANNEL_ANTHROPIC) {
        char v[160];
        snprintf(v, sizeof(v), "anthropic-version: %.120s", anthropic_version != NULL ? anthropic_version : "2023-06-01");
        h = curl_slist_append(h, v);
        if (anthropic_beta != NULL) {
            char b[600];
            snprintf(b, sizeof(b), "anthropic-beta: %.500s", anthropic_beta);
            h = curl_slist_append(h, b);
        }
    }
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
