/*
 * translate_util.c: small pieces every translation adapter uses: JSON access
 * that tolerates missing values, data: URLs and MIME guesses, tool call ids
 * (with a Gemini thought signature riding in them), the finish reason and
 * usage vocabularies of the three formats, and schema spelling.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aihub/mem.h"
#include "aihub/reqid.h"
#include "translate_internal.h"

void *tr_fail(char *err, size_t cap, const char *fmt, ...)
{
    if (err != NULL && cap != 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

int tr_content_items(json_t *arr, const json_t *content, size_t i, tr_text_fn text, tr_part_fn part, char *err, size_t cap)
{
    if (json_is_string(content)) {
        if (json_string_length(content) != 0)
            json_array_append_new(arr, text(content));
        return 0;
    }
    if (content == NULL || json_is_null(content))
        return 0;
    if (!json_is_array(content)) {
        tr_fail(err, cap, "messages[%zu]: content must be a string or an array", i);
        return -1;
    }
    size_t j;
    json_t *p;
    json_array_foreach(content, j, p)
    {
        int skip = 0;
        json_t *item = part(p, i, &skip, err, cap);
        if (item == NULL && !skip)
            return -1;
        if (item != NULL)
            json_array_append_new(arr, item);
    }
    return 0;
}

json_t *tr_get2(const json_t *obj, const char *camel, const char *snake)
{
    json_t *v = json_object_get(obj, camel);
    return v != NULL ? v : json_object_get(obj, snake);
}

const char *tr_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

void tr_set(json_t *obj, const char *key, json_t *v)
{
    if (v != NULL)
        json_object_set_new(obj, key, v);
}

int tr_present(const json_t *v)
{
    return v != NULL && !json_is_null(v);
}

void tr_copy(json_t *dst, const char *dkey, const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (tr_present(v))
        json_object_set(dst, dkey, v);
}

json_t *tr_new_id(const char *prefix)
{
    char hex[33], buf[64];
    ah_reqid_new(hex);
    hex[24] = '\0';
    snprintf(buf, sizeof(buf), "%s%s", prefix, hex);
    return json_string(buf);
}

int tr_data_url_split(const char *url, char **mime, const char **data)
{
    if (url == NULL || strncmp(url, "data:", 5) != 0)
        return 0;
    const char *semi = strchr(url + 5, ';'), *comma = strchr(url + 5, ',');
    if (semi == NULL || comma == NULL || semi > comma || strncmp(semi, ";base64,", 8) != 0 || semi == url + 5)
        return 0;
    size_t n = (size_t)(semi - (url + 5));
    *mime = ah_mem_alloc(n + 1);
    memcpy(*mime, url + 5, n);
    (*mime)[n] = '\0';
    *data = comma + 1;
    return 1;
}

json_t *tr_data_url(const char *mime, const char *b64)
{
    size_t n = strlen(mime) + strlen(b64) + 16;
    char *s = ah_mem_alloc(n);
    snprintf(s, n, "data:%s;base64,%s", mime, b64);
    json_t *v = json_string(s);
    free(s);
    return v;
}

const char *tr_mime_from_url(const char *url)
{
    static const struct {
        const char *ext, *mime;
    } map[] = {{".png", "image/png"},   {".jpg", "image/jpeg"},       {".jpeg", "image/jpeg"}, {".gif", "image/gif"},
               {".webp", "image/webp"}, {".pdf", "application/pdf"}, {".wav", "audio/wav"},   {".mp3", "audio/mp3"}};
    if (url == NULL)
        return NULL;
    size_t len = strcspn(url, "?#");
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        size_t el = strlen(map[i].ext);
        if (len >= el && strncasecmp(url + len - el, map[i].ext, el) == 0)
            return map[i].mime;
    }
    return NULL;
}

char *tr_id_split(const char *id, const char **sig)
{
    const char *sep = strstr(id, TR_SIG_SEP);
    *sig = NULL;
    size_t n = sep != NULL ? (size_t)(sep - id) : strlen(id);
    if (sep != NULL && sep[strlen(TR_SIG_SEP)] != '\0')
        *sig = sep + strlen(TR_SIG_SEP);
    char *s = ah_mem_alloc(n + 1);
    memcpy(s, id, n);
    s[n] = '\0';
    return s;
}

json_t *tr_anthropic_id(const char *id)
{
    const char *sig;
    char *s = tr_id_split(id, &sig);
    for (char *c = s; *c != '\0'; c++) {
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
            *c = '_';
    }
    json_t *v = json_string(*s != '\0' ? s : "toolu_empty");
    free(s);
    return v;
}

int64_t tr_effort_budget(const char *effort)
{
    static const struct {
        const char *effort;
        int64_t budget;
    } map[] = {{"none", 0}, {"minimal", 512}, {"low", 1024}, {"medium", 8192}, {"high", 24576}};
    for (size_t i = 0; effort != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(effort, map[i].effort) == 0)
            return map[i].budget;
    }
    return -1;
}

const char *tr_budget_effort(int64_t budget)
{
    return budget <= 1024 ? "low" : budget <= 8192 ? "medium" : "high";
}

char *tr_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(ah_mem_alloc(n), s, n);
}

json_t *tr_anthropic_client_id(const char *id)
{
    char *s = tr_strdup(id);
    for (char *c = s; *c != '\0'; c++) {
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
            *c = '_';
    }
    json_t *v = json_string(s);
    free(s);
    return v;
}

json_t *tr_id_with_sig(const char *id, const char *sig)
{
    tr_buf_t b = {0};
    tr_buf_add(&b, id, strlen(id));
    tr_buf_add(&b, TR_SIG_SEP, strlen(TR_SIG_SEP));
    for (const char *c = sig; *c != '\0' && *c != '='; c++) {
        char x = *c == '+' ? '-' : *c == '/' ? '_' : *c;
        tr_buf_add(&b, &x, 1);
    }
    tr_buf_add(&b, "", 1);
    json_t *v = json_string(b.p);
    tr_buf_free(&b);
    return v;
}

json_t *tr_sig_standard(const char *sig)
{
    tr_buf_t b = {0};
    for (const char *c = sig; *c != '\0'; c++) {
        char x = *c == '-' ? '+' : *c == '_' ? '/' : *c;
        tr_buf_add(&b, &x, 1);
    }
    while (b.len % 4 != 0)
        tr_buf_add(&b, "=", 1);
    tr_buf_add(&b, "", 1);
    json_t *v = json_string(b.p);
    tr_buf_free(&b);
    return v;
}

const char *tr_finish_from_anthropic(const char *r)
{
    if (r == NULL)
        return NULL;
    if (strcmp(r, "max_tokens") == 0 || strcmp(r, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(r, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(r, "refusal") == 0)
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, pause_turn */
}

const char *tr_finish_to_anthropic(const char *f)
{
    if (f == NULL)
        return "end_turn";
    if (strcmp(f, "length") == 0)
        return "max_tokens";
    if (strcmp(f, "tool_calls") == 0 || strcmp(f, "function_call") == 0)
        return "tool_use";
    if (strcmp(f, "content_filter") == 0)
        return "refusal";
    return "end_turn";
}

const char *tr_finish_from_gemini(const char *r)
{
    static const char *const filtered[] = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", NULL};
    if (r == NULL)
        return NULL;
    if (strcmp(r, "MAX_TOKENS") == 0)
        return "length";
    for (int i = 0; filtered[i] != NULL; i++) {
        if (strcmp(r, filtered[i]) == 0)
            return "content_filter";
    }
    return "stop"; /* STOP, OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, ... */
}

const char *tr_finish_to_gemini(const char *f)
{
    if (f != NULL && strcmp(f, "length") == 0)
        return "MAX_TOKENS";
    if (f != NULL && strcmp(f, "content_filter") == 0)
        return "SAFETY";
    return "STOP"; /* Gemini ends a turn of function calls with STOP too */
}

static int64_t ival(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    return 0;
}

void tr_usage_openai(const json_t *u, ah_usage_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(u))
        return;
    out->present = 1;
    out->prompt_tokens = ival(u, "prompt_tokens");
    out->completion_tokens = ival(u, "completion_tokens");
    out->cached_tokens = ival(json_object_get(u, "prompt_tokens_details"), "cached_tokens");
    out->reasoning_tokens = ival(json_object_get(u, "completion_tokens_details"), "reasoning_tokens");
}

void tr_usage_anthropic(const json_t *u, ah_usage_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(u))
        return;
    out->present = 1;
    out->cached_tokens = ival(u, "cache_read_input_tokens");
    out->prompt_tokens = ival(u, "input_tokens") + ival(u, "cache_creation_input_tokens") + out->cached_tokens;
    out->completion_tokens = ival(u, "output_tokens");
}

void tr_usage_gemini(const json_t *u, ah_usage_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(u))
        return;
    out->present = 1;
    out->prompt_tokens = ival(u, "promptTokenCount") + ival(u, "toolUsePromptTokenCount");
    out->cached_tokens = ival(u, "cachedContentTokenCount");
    out->reasoning_tokens = ival(u, "thoughtsTokenCount");
    out->completion_tokens = ival(u, "candidatesTokenCount") + out->reasoning_tokens;
}

json_t *tr_usage_to_openai(const ah_usage_t *u)
{
    return json_pack("{s:I, s:I, s:I, s:{s:I}, s:{s:I}}", "prompt_tokens", (json_int_t)u->prompt_tokens, "completion_tokens",
                     (json_int_t)u->completion_tokens, "total_tokens", (json_int_t)(u->prompt_tokens + u->completion_tokens),
                     "prompt_tokens_details", "cached_tokens", (json_int_t)u->cached_tokens, "completion_tokens_details",
                     "reasoning_tokens", (json_int_t)u->reasoning_tokens);
}

json_t *tr_usage_to_anthropic(const ah_usage_t *u)
{
    return json_pack("{s:I, s:I, s:I, s:I}", "input_tokens", (json_int_t)(u->prompt_tokens - u->cached_tokens),
                     "cache_creation_input_tokens", (json_int_t)0, "cache_read_input_tokens", (json_int_t)u->cached_tokens,
                     "output_tokens", (json_int_t)u->completion_tokens);
}

json_t *tr_usage_to_gemini(const ah_usage_t *u)
{
    json_t *m = json_pack("{s:I, s:I, s:I}", "promptTokenCount", (json_int_t)u->prompt_tokens, "candidatesTokenCount",
                          (json_int_t)(u->completion_tokens - u->reasoning_tokens), "totalTokenCount",
                          (json_int_t)(u->prompt_tokens + u->completion_tokens));
    if (u->cached_tokens > 0)
        json_object_set_new(m, "cachedContentTokenCount", json_integer(u->cached_tokens));
    if (u->reasoning_tokens > 0)
        json_object_set_new(m, "thoughtsTokenCount", json_integer(u->reasoning_tokens));
    return m;
}

char *tr_content_text(const json_t *content)
{
    if (json_is_string(content))
        return tr_strdup(json_string_value(content));
    if (content == NULL || json_is_null(content))
        return tr_strdup("");
    if (!json_is_array(content))
        return NULL;
    tr_buf_t b = {0};
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part)
    {
        const char *type = tr_str(part, "type"), *text = tr_str(part, "text");
        if (type == NULL || strcmp(type, "text") != 0 || text == NULL) {
            tr_buf_free(&b);
            return NULL;
        }
        if (b.len != 0)
            tr_buf_add(&b, "\n", 1);
        tr_buf_add(&b, text, strlen(text));
    }
    tr_buf_add(&b, "", 1);
    return b.p;
}

json_t *tr_schema_from_gemini(const json_t *schema)
{
    if (json_is_array(schema)) {
        json_t *a = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(schema, i, v) json_array_append_new(a, tr_schema_from_gemini(v));
        return a;
    }
    if (!json_is_object(schema))
        return json_deep_copy(schema);
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)schema, k, v)
    {
        if (strcmp(k, "type") == 0 && json_is_string(v)) {
            char *s = tr_strdup(json_string_value(v));
            for (char *c = s; *c != '\0'; c++)
                *c = (char)tolower((unsigned char)*c);
            json_object_set_new(o, k, json_string(s));
            free(s);
        } else {
            json_object_set_new(o, k, tr_schema_from_gemini(v));
        }
    }
    return o;
}

void tr_buf_add(tr_buf_t *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = ah_mem_realloc(b->p, cap);
        b->cap = cap;
    }
    if (n != 0 && s != NULL)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

void tr_buf_free(tr_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
