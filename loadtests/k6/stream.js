// Streaming chat completions (SSE): every stream must end with data: [DONE]; thresholds on p95 and failures,
// plus time to first byte (TTFB_P95_MS). k6 reads the whole stream; http_req_waiting is the time to first byte.
import http from 'k6/http';
import { check } from 'k6';
import { CHAT_URL, KEY, MODEL, chatBody, chatParams, envNumber, makeOptions, waitReady } from './lib/common.js';

export const options = makeOptions({
  'http_req_waiting{name:chat}': [`p(95)<${envNumber('TTFB_P95_MS', 200)}`],
});

const body = chatBody(MODEL, true);
const params = chatParams(KEY);

export function setup() {
  return waitReady(KEY, MODEL);
}

export default function () {
  const res = http.post(CHAT_URL, body, params);
  check(res, {
    'status is 200': (r) => r.status === 200,
    'is an event stream': (r) => String(r.headers['Content-Type'] || '').startsWith('text/event-stream'),
    'ends with [DONE]': (r) => typeof r.body === 'string' && r.body.trimEnd().endsWith('data: [DONE]'),
  });
}
