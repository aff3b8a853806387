/*
 * hiredis <-> h2o evloop glue. The socket is created with DONT_READ so h2o
 * never consumes bytes: read readiness calls redisAsyncHandleRead, and write
 * readiness (a one-shot notification in evloop that cannot be cancelled, so a
 * spurious call is tolerated) calls redisAsyncHandleWrite. On cleanup h2o
 * closes the descriptor, and hiredis is told so by setting its fd to -1.
 */
#include <stdlib.h>
#include "redis/adapter.h"

typedef struct st_adapter_t {
    redisAsyncContext *ac;
    h2o_socket_t *sock;
} adapter_t;

static void on_readable(h2o_socket_t *sock, const char *err)
{
    adapter_t *a = sock->data;
    redisAsyncHandleRead(a->ac);
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    adapter_t *a = sock->data;
    redisAsyncHandleWrite(a->ac);
}

static void add_read(void *data)
{
    adapter_t *a = data;
    if (!h2o_socket_is_reading(a->sock))
        h2o_socket_read_start(a->sock, on_readable);
}

static void del_read(void *data)
{
    adapter_t *a = data;
    if (h2o_socket_is_reading(a->sock))
        h2o_socket_read_stop(a->sock);
}

static void add_write(void *data)
{
    adapter_t *a = data;
    if (!h2o_socket_is_writing(a->sock))
        h2o_socket_notify_write(a->sock, on_writable);
}

static void cleanup(void *data)
{
    adapter_t *a = data;
    a->sock->data = NULL;
    h2o_socket_close(a->sock);
    a->ac->c.fd = -1;
    a->ac->ev.data = NULL;
    free(a);
}

int ah_redis_adapter_attach(redisAsyncContext *ac, h2o_loop_t *loop)
{
    if (ac->ev.data != NULL)
        return -1;
    adapter_t *a = h2o_mem_alloc(sizeof(*a));
    a->ac = ac;
    a->sock = h2o_evloop_socket_create(loop, ac->c.fd, H2O_SOCKET_FLAG_DONT_READ);
    a->sock->data = a;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = NULL;
    ac->ev.cleanup = cleanup;
    ac->ev.data = a;
    return 0;
}
