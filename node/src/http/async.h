/*
 * Request contexts that outlive a Redis or upstream call. The client may go
 * away while the call is pending; h2o then disposes the request's pool. An
 * ah_async_t is malloc'd (not from the pool) and a small watcher in the pool
 * clears its `req` when the request dies, so the callback can tell.
 */
#ifndef AH_HTTP_ASYNC_H
#define AH_HTTP_ASYNC_H

#include <stddef.h>
#include <h2o.h>

typedef struct st_ah_async_watcher_t ah_async_watcher_t;

/** embed as the first member of a handler's context */
typedef struct st_ah_async_t {
    h2o_req_t *req; /**< NULL once the request has been disposed */
    ah_async_watcher_t *watcher;
    void (*on_gone)(struct st_ah_async_t *a); /**< optional: called when the request is disposed while a is alive */
} ah_async_t;

/** allocates a zeroed context of size bytes (>= sizeof(ah_async_t)) tied to req; free with ah_async_free */
void *ah_async_new(h2o_req_t *req, size_t size);
/** frees the context (the request may still be alive) */
void ah_async_free(void *a);

#endif
