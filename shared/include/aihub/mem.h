/*
 * mem.h: allocation wrappers that abort the process when memory runs out.
 *
 * Code in shared/ that cannot report an allocation failure in a useful way
 * (buffers of the SSE parser, log lines) allocates through these, so that
 * running out of memory is one loud failure instead of many silent ones.
 */
#ifndef AIHUB_MEM_H
#define AIHUB_MEM_H

#include <stddef.h>

/** malloc(size) that never returns NULL (aborts on failure); caller frees. */
void *ah_mem_alloc(size_t size);

/** realloc(p, size) that never returns NULL (aborts on failure); caller frees the result. */
void *ah_mem_realloc(void *p, size_t size);

#endif
