/*
 * Process-wide helpers declared in node.h.
 */
#include <time.h>
#include "node.h"

int64_t ah_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
