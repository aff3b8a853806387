/*
 * h2o_buffer_t helpers missing from h2o 2.2.5, and the size of the buffers
 * made from h2o's socket-buffer prototype.
 */
#ifndef AH_HTTP_BUFFER_H
#define AH_HTTP_BUFFER_H

#include <stddef.h>
#include <string.h>
#include <h2o/memory.h>
#include <h2o/socket.h>

/**
 * Bytes allocated for a buffer's first chunk (header included). h2o's default
 * is 8 KiB plus its header (a 10 KiB jemalloc size class). Every open stream
 * keeps a few such buffers (h2o's HTTP/2 request body, the relay's queue and
 * its kept event data), almost all holding a few hundred bytes; larger
 * contents grow the buffer by doubling, as before.
 */
#define AH_BUFFER_FIRST_CHUNK 1024

/**
 * Shrinks this thread's h2o_socket_buffer_prototype (h2o keeps one per thread)
 * so that buffers start at AH_BUFFER_FIRST_CHUNK bytes. Call on each event-loop
 * thread before it allocates any buffer: h2o recycles a chunk only when its
 * capacity equals the prototype's.
 */
static inline void ah_buffer_tune_socket_prototype(void)
{
    h2o_socket_buffer_prototype._initial_buf.capacity = AH_BUFFER_FIRST_CHUNK - offsetof(h2o_buffer_t, _buf);
}

/** appends n bytes to *b (growing it; aborts on allocation failure, as h2o does) */
static inline void ah_buffer_append(h2o_buffer_t **b, const void *p, size_t n)
{
    if (n == 0)
        return;
    h2o_iovec_t dst = h2o_buffer_reserve(b, n);
    memcpy(dst.base, p, n);
    (*b)->size += n;
}

#endif
