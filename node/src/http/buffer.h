/*
 * h2o_buffer_t helpers missing from h2o 2.2.5.
 */
#ifndef AH_HTTP_BUFFER_H
#define AH_HTTP_BUFFER_H

#include <string.h>
#include <h2o/memory.h>

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
