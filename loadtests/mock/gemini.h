/* POST /v1beta/models/{model}:generateContent and :streamGenerateContent: Gemini answers, shaped by the behaviour table. */
#ifndef MOCK_GEMINI_H
#define MOCK_GEMINI_H

#include <h2o.h>

/** Serves any path under /v1beta: the two generate methods, else a Gemini-shaped 404. */
void mock_gemini_route(h2o_req_t *req);

#endif
