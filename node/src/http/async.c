/*
 * Request-lifetime watchers (see async.h).
 */
#include <stdlib.h>
#include "http/async.h"

struct st_ah_async_watcher_t {
    ah_async_t *a;
};

static void on_dispose(void *p)
{
    ah_async_watcher_t *wt = p;
    ah_async_t *a = wt->a;
    if (a == NULL)
        return;
    a->req = NULL;
    a->watcher = NULL;
    if (a->on_gone != NULL)
        a->on_gone(a);
}

void *ah_async_new(h2o_req_t *req, size_t size)
{
    ah_async_t *a = calloc(1, size);
    if (a == NULL)
        h2o_fatal("out of memory");
    a->req = req;
    a->watcher = h2o_mem_alloc_shared(&req->pool, sizeof(*a->watcher), on_dispose);
    a->watcher->a = a;
    return a;
}

void ah_async_free(void *p)
{
    ah_async_t *a = p;
    if (a == NULL)
        return;
    if (a->watcher != NULL)
        a->watcher->a = NULL;
    free(a);
}
