/*
 * In-memory static files for the console (see static.h). Paths without a
 * file extension that match no file get index.html (client-side routes);
 * index.html is never cached by browsers, hashed assets for a year.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "aihub/log.h"
#include "http/reply.h"
#include "http/static.h"

#define STATIC_MAX_FILE ((size_t)16 << 20)
#define STATIC_MAX_TOTAL ((size_t)64 << 20)

typedef struct st_static_file_t {
    char *path; /* "/admin/assets/app-1234.js" */
    char *data;
    size_t len;
    const char *type;
} static_file_t;

static static_file_t *files;
static size_t nfiles, total;
static const char *root;
static size_t rootlen;

static const char *type_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"}, {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
                 {".ico", "image/x-icon"}, {".woff2", "font/woff2"}, {".woff", "font/woff"}, {".map", "application/json"},
                 {".txt", "text/plain; charset=utf-8"}, {".webmanifest", "application/manifest+json"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot != NULL && i != sizeof(types) / sizeof(types[0]); ++i)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static int add_file(const char *fpath, const struct stat *st, int flag, struct FTW *ftw)
{
    if (flag != FTW_F || (size_t)st->st_size > STATIC_MAX_FILE || total + (size_t)st->st_size > STATIC_MAX_TOTAL)
        return 0;
    FILE *fp = fopen(fpath, "rb");
    if (fp == NULL)
        return 0;
    static_file_t f = {.len = (size_t)st->st_size, .type = type_of(fpath)};
    f.data = h2o_mem_alloc(f.len + 1);
    if (fread(f.data, 1, f.len, fp) != f.len) {
        fclose(fp);
        free(f.data);
        return 0;
    }
    fclose(fp);
    size_t plen = strlen(fpath + rootlen) + 8;
    f.path = h2o_mem_alloc(plen);
    snprintf(f.path, plen, "/admin%s", fpath + rootlen);
    files = h2o_mem_realloc(files, sizeof(*files) * (nfiles + 1));
    files[nfiles++] = f;
    total += f.len;
    return 0;
}

int ah_static_load(const char *dir)
{
    struct stat st;
    if (dir == NULL || dir[0] == '\0' || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return -1;
    root = dir;
    rootlen = strlen(dir);
    while (rootlen > 1 && dir[rootlen - 1] == '/')
        --rootlen;
    nftw(dir, add_file, 16, FTW_PHYS);
    return (int)nfiles;
}

static const static_file_t *find(const char *path, size_t len)
{
    for (size_t i = 0; i != nfiles; ++i)
        if (strlen(files[i].path) == len && memcmp(files[i].path, path, len) == 0)
            return &files[i];
    return NULL;
}

int ah_static_serve(h2o_req_t *req)
{
    h2o_iovec_t path = req->path_normalized;
    if (!(path.len == 6 && memcmp(path.base, "/admin", 6) == 0) && !(path.len >= 7 && memcmp(path.base, "/admin/", 7) == 0))
        return 0;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        ah_reply_error(req, 405, "invalid_request_error", "method_not_allowed", "the console is read with GET", 0);
        return 1;
    }
    if (path.len == 6) {
        ah_reply_add_header(req, "location", "/admin/");
        ah_reply_raw(req, 302, "text/plain; charset=utf-8", H2O_STRLIT("/admin/\n"));
        return 1;
    }
    if (nfiles == 0) {
        ah_reply_error(req, 404, "invalid_request_error", "console_not_built",
                       "the console is not built: run `npm ci && npm run build` in webui/ (scripts/start.sh does it)", 0);
        return 1;
    }
    const static_file_t *f = path.len == 7 ? NULL : find(path.base, path.len);
    if (f == NULL) {
        /* a client-side route (no file extension) gets the app; a missing asset is a 404 */
        const char *last = memrchr(path.base, '/', path.len);
        if (path.len != 7 && memchr(last, '.', path.len - (last - path.base)) != NULL) {
            ah_reply_error(req, 404, "invalid_request_error", "not_found", "no such file in the console", 0);
            return 1;
        }
        f = find(H2O_STRLIT("/admin/index.html"));
        if (f == NULL) {
            ah_reply_error(req, 404, "invalid_request_error", "not_found", "the console has no index.html", 0);
            return 1;
        }
    }
    int immutable = strstr(f->path, "/assets/") != NULL;
    ah_reply_add_header(req, "cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
    ah_reply_add_header(req, "x-content-type-options", "nosniff");
    if (strcmp(f->type, "text/html; charset=utf-8") == 0) {
        ah_reply_add_header(req, "x-frame-options", "DENY");
        ah_reply_add_header(req, "content-security-policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
        ah_reply_add_header(req, "referrer-policy", "same-origin");
    }
    ah_reply_raw(req, 200, f->type, f->data, f->len);
    return 1;
}
