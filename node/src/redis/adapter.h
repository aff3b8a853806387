/*
 * Attaches a hiredis async context to an h2o evloop: h2o only watches the
 * descriptor and tells hiredis when it is readable or writable; hiredis does
 * all reading and writing itself.
 */
#ifndef AH_REDIS_ADAPTER_H
#define AH_REDIS_ADAPTER_H

#include <h2o.h>
#include <hiredis/async.h>

/** attaches ac to loop; returns 0, or -1 when ac already has an event library */
int ah_redis_adapter_attach(redisAsyncContext *ac, h2o_loop_t *loop);

#endif
