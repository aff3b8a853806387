/*
 * mem.c: allocation wrappers that abort on failure (see aihub/mem.h).
 */
#include "aihub/mem.h"

#include <stdio.h>
#include <stdlib.h>

static void die(size_t size)
{
    fprintf(stderr, "aihub: out of memory allocating %zu bytes\n", size);
    abort();
}

void *ah_mem_alloc(size_t size)
{
    void *p = malloc(size != 0 ? size : 1);
    if (p == NULL)
        die(size);
    return p;
}

void *ah_mem_realloc(void *p, size_t size)
{
    void *q = realloc(p, size != 0 ? size : 1);
    if (q == NULL)
        die(size);
    return q;
}
