/*
 * h2o 2.2.5 has no free-form timers: an h2o_timeout_t is a list whose entries all share one duration. Each worker
 * thread keeps a small cache of such lists keyed by duration (tests use a handful of distinct delays). A list with no
 * linked entries is recycled for a new duration once the cache is full, so the cache stays bounded.
 */
#include "timers.h"

#define MOCK_TIMER_LISTS 64

typedef struct st_mock_timer_list_t {
    h2o_timeout_t timeout;
    uint64_t ms;
    int used;
} mock_timer_list_t;

/* per thread: one event loop per worker thread, so the lists belong to that thread's loop */
static _Thread_local mock_timer_list_t *mock_lists;

static h2o_timeout_t *mock_timeout_for(h2o_loop_t *loop, uint64_t ms)
{
    mock_timer_list_t *idle = NULL;

    if (mock_lists == NULL && (mock_lists = calloc(MOCK_TIMER_LISTS, sizeof(*mock_lists))) == NULL)
        return NULL;
    for (int i = 0; i != MOCK_TIMER_LISTS; ++i) {
        mock_timer_list_t *l = &mock_lists[i];
        if (!l->used) {
            h2o_timeout_init(loop, &l->timeout, ms);
            l->ms = ms;
            l->used = 1;
            return &l->timeout;
        }
        if (l->ms == ms)
            return &l->timeout;
        if (idle == NULL && h2o_linklist_is_empty(&l->timeout._entries))
            idle = l;
    }
    if (idle == NULL)
        return NULL;
    h2o_timeout_dispose(loop, &idle->timeout);
    h2o_timeout_init(loop, &idle->timeout, ms);
    idle->ms = ms;
    return &idle->timeout;
}

int mock_timer_start(h2o_loop_t *loop, h2o_timeout_entry_t *entry, uint64_t ms)
{
    h2o_timeout_t *t = mock_timeout_for(loop, ms);
    if (t == NULL)
        return -1;
    h2o_timeout_link(loop, t, entry);
    return 0;
}
