/*
 * HTTP calls to the identity provider on the curl loop (see fetch.h).
 */
#include <stdlib.h>
#include <string.h>
#include "aihub/mem.h"
#include "auth/fetch.h"

typedef struct st_fetch_t {
    ah_worker_t *w;
    ah_fetch_cb cb;
    void *ud;
    struct curl_slist *headers;
    char *form;
    char *body;
    size_t len, cap;
    int too_big;
} fetch_t;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    fetch_t *f = ud;
    size_t n = size * nmemb;
    if (f->len + n > AH_FETCH_MAX_BODY) {
        f->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (f->len + n + 1 > f->cap) {
        f->cap = (f->len + n + 1) * 2;
        f->body = ah_mem_realloc(f->body, f->cap);
    }
    memcpy(f->body + f->len, ptr, n);
    f->len += n;
    return n;
}

static void on_done(void *ud, CURL *easy, CURLcode result)
{
    fetch_t *f = ud;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    ah_curl_loop_release(f->w->curl, easy);
    if (f->body == NULL)
        f->body = ah_mem_alloc(1);
    f->body[f->len] = '\0';
    const char *err = f->too_big ? "response too large" : result != CURLE_OK ? curl_easy_strerror(result) : NULL;
    f->cb(f->ud, err != NULL ? 0 : status, f->body, f->len, err);
    curl_slist_free_all(f->headers);
    free(f->form);
    free(f->body);
    free(f);
}

int ah_fetch(ah_worker_t *w, const char *url, const char *form, struct curl_slist *headers, ah_fetch_cb cb, void *ud)
{
    fetch_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();
    f->w = w, f->cb = cb, f->ud = ud;
    f->headers = curl_slist_append(headers, "Expect:");
    f->headers = curl_slist_append(f->headers, "Accept: application/json");
    CURL *e = ah_curl_loop_easy(w->curl);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)AH_FETCH_TIMEOUT_MS / 2);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)AH_FETCH_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "aihub-node");
    if (form != NULL) {
        f->form = strdup(form);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, f->form);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(f->form));
    }
    if (ah_curl_loop_add(w->curl, e, on_done, f) != 0) {
        ah_curl_loop_release(w->curl, e);
        curl_slist_free_all(f->headers);
        free(f->form);
        free(f);
        return -1;
    }
    return 0;
}
