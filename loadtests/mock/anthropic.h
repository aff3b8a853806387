/* POST /v1/messages: Anthropic Messages answers, streamed or not, shaped by the behaviour table. */
#ifndef MOCK_ANTHROPIC_H
#define MOCK_ANTHROPIC_H

#include <h2o.h>

/** Handles one Messages request (always answers it, possibly later). */
void mock_anthropic_handle(h2o_req_t *req);

#endif
