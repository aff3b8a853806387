/* POST /v1/chat/completions: OpenAI-shaped completions, streamed or not, shaped by the behaviour table. */
#ifndef MOCK_CHAT_H
#define MOCK_CHAT_H

#include <h2o.h>

/** Handles one chat completion request (always answers it, possibly later). */
void mock_chat_handle(h2o_req_t *req);

#endif
