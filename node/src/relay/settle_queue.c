/*
 * The per-worker queue of settle calls that could not be sent (see
 * settle_queue.h). Each entry owns one allocation holding its argument
 * pointers, lengths and bytes.
 */
#include "relay/settle_queue.h"
#include <stdlib.h>
#include <string.h>
#include "aihub/log.h"
#include "node.h"
#include "redis/client.h"

typedef struct st_queued_t {
    struct st_queued_t *next;
    int nkeys, argc;
    const char **argv; /* point into the same allocation */
    size_t *argvlen;
} queued_t;

struct st_ah_settle_queue_t {
    queued_t *head, *tail;
    size_t len;
    int warned;
};

static queued_t *entry_new(int nkeys, int argc, const char **argv)
{
    size_t bytes = 0;
    for (int i = 0; i != argc; ++i)
        bytes += strlen(argv[i]) + 1;
    size_t head = sizeof(queued_t) + (size_t)argc * (sizeof(char *) + sizeof(size_t));
    queued_t *q = malloc(head + bytes);
    if (q == NULL)
        return NULL;
    q->next = NULL;
    q->nkeys = nkeys;
    q->argc = argc;
    q->argv = (const char **)(q + 1);
    q->argvlen = (size_t *)(q->argv + argc);
    char *p = (char *)(q->argvlen + argc);
    for (int i = 0; i != argc; ++i) {
        size_t n = strlen(argv[i]);
        memcpy(p, argv[i], n + 1);
        q->argv[i] = p;
        q->argvlen[i] = n;
        p += n + 1;
    }
    return q;
}

/* appends q (owned by the queue from here on; freed when full) */
static int push_entry(ah_worker_t *w, queued_t *q)
{
    if (w->settle_queue == NULL && (w->settle_queue = calloc(1, sizeof(*w->settle_queue))) == NULL) {
        free(q);
        return -1;
    }
    struct st_ah_settle_queue_t *sq = w->settle_queue;
    if (sq->len >= AH_SETTLE_QUEUE_MAX) {
        if (!sq->warned)
            ah_log(AH_LOG_WARN, "relay", "worker %d: %d settlements wait for Redis; dropping more (the sweep refunds their holds)",
                   w->index, AH_SETTLE_QUEUE_MAX);
        sq->warned = 1;
        free(q);
        return -1;
    }
    if (sq->tail != NULL)
        sq->tail->next = q;
    else
        sq->head = q;
    sq->tail = q;
    ++sq->len;
    __atomic_store_n(&w->settle_waiting, sq->len, __ATOMIC_RELAXED);
    return 0;
}

int ah_settle_queue_push(ah_worker_t *w, int nkeys, int argc, const char **argv)
{
    queued_t *q = entry_new(nkeys, argc, argv);
    return q != NULL ? push_entry(w, q) : -1;
}

typedef struct st_idempotent_t {
    ah_worker_t *w;
    queued_t *q;
} idempotent_t;

static void on_idempotent_reply(void *ud, redisReply *reply, const char *err)
{
    (void)reply;
    idempotent_t *x = ud;
    /* the connection went before the reply: it may not have run; send it again after the reconnect */
    if (err != NULL && strcmp(err, "redis connection lost") == 0)
        push_entry(x->w, x->q);
    else
        free(x->q);
    free(x);
}

int ah_settle_queue_send_idempotent(ah_worker_t *w, int nkeys, int argc, const char **argv)
{
    idempotent_t *x = malloc(sizeof(*x));
    if (x == NULL)
        return ah_settle_queue_push(w, nkeys, argc, argv);
    *x = (idempotent_t){.w = w, .q = entry_new(nkeys, argc, argv)};
    if (x->q == NULL) {
        free(x);
        return ah_settle_queue_push(w, nkeys, argc, argv);
    }
    if (ah_redis_script(w->redis, AH_SCRIPT_SETTLE, nkeys, argc, argv, NULL, on_idempotent_reply, x) == 0)
        return 0;
    queued_t *q = x->q;
    free(x);
    return push_entry(w, q);
}

void ah_settle_queue_flush(ah_worker_t *w)
{
    struct st_ah_settle_queue_t *sq = w->settle_queue;
    if (sq == NULL)
        return;
    size_t sent = 0;
    while (sq->head != NULL) {
        queued_t *q = sq->head;
        if (ah_redis_script(w->redis, AH_SCRIPT_SETTLE, q->nkeys, q->argc, q->argv, q->argvlen, NULL, NULL) != 0)
            break; /* not connected (again): the rest waits for the next ready */
        sq->head = q->next;
        if (sq->head == NULL)
            sq->tail = NULL;
        --sq->len;
        free(q);
        ++sent;
        ++w->metrics.relay_redis_calls;
    }
    __atomic_store_n(&w->settle_waiting, sq->len, __ATOMIC_RELAXED);
    if (sent != 0)
        ah_log(AH_LOG_INFO, "relay", "worker %d: sent %zu settlements that waited for Redis", w->index, sent);
    if (sq->len == 0)
        sq->warned = 0;
}

size_t ah_settle_queue_length(const ah_worker_t *w)
{
    return w->settle_queue != NULL ? w->settle_queue->len : 0;
}

void ah_settle_queue_destroy(ah_worker_t *w)
{
    struct st_ah_settle_queue_t *sq = w->settle_queue;
    if (sq == NULL)
        return;
    if (sq->len != 0)
        ah_log(AH_LOG_WARN, "relay", "worker %d: %zu settlements never reached Redis (the sweep refunds their holds)", w->index,
               sq->len);
    while (sq->head != NULL) {
        queued_t *q = sq->head;
        sq->head = q->next;
        free(q);
    }
    free(sq);
    w->settle_queue = NULL;
    __atomic_store_n(&w->settle_waiting, 0, __ATOMIC_RELAXED);
}
