/*
 * HTTP serving on h2o: the global configuration (limits, timeouts, HTTP/2
 * stream cap), the listening sockets (one SO_REUSEPORT descriptor per worker
 * and address), TLS with ALPN, and attaching/detaching a worker's listeners.
 */
#ifndef AH_HTTP_SERVER_H
#define AH_HTTP_SERVER_H

#include <stddef.h>
#include "node.h"

/** prepares h2o's configuration and binds every listening address; -1 with err set */
int ah_server_setup(ah_node_t *node, char *err, size_t errcap);
/** starts accepting on the worker's descriptors */
void ah_server_listen(ah_worker_t *w);
/** stops accepting (the first step of a drain) */
void ah_server_unlisten(ah_worker_t *w);

#endif
