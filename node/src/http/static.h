/*
 * The admin console's built files (webui/dist), loaded into memory at start
 * and served under /admin/ with the node's usual headers. The console is
 * small; serving it from memory keeps the request path free of disk I/O.
 */
#ifndef AH_HTTP_STATIC_H
#define AH_HTTP_STATIC_H

#include <stddef.h>
#include <h2o.h>

/** loads every file under dir (recursively); returns how many, or -1 when dir cannot be read (the console is then absent) */
int ah_static_load(const char *dir);
/** serves GET/HEAD /admin and /admin/...; returns 1 when it answered, 0 when the path is not the console's */
int ah_static_serve(h2o_req_t *req);

#endif
