/* URL routing of the mock: the provider API (/v1/...) and the test-control API (/_mock/...). */
#ifndef MOCK_ROUTES_H
#define MOCK_ROUTES_H

#include <h2o.h>

/** Registers the single handler that serves every path of hostconf. */
void mock_routes_register(h2o_hostconf_t *hostconf);

#endif
