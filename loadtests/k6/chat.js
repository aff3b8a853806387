// Non-streaming chat completions with one key: p95 latency and failure rate as pass/fail thresholds.
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e AIHUB_KEY=sk-... loadtests/k6/chat.js
import http from 'k6/http';
import { CHAT_URL, KEY, MODEL, chatBody, chatParams, checkChat, makeOptions, waitReady } from './lib/common.js';

export const options = makeOptions();

const body = chatBody(MODEL, false);
const params = chatParams(KEY);

export function setup() {
  return waitReady(KEY, MODEL);
}

export default function () {
  checkChat(http.post(CHAT_URL, body, params));
}
