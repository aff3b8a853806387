// Failure mix: FAIL_SHARE percent of requests ask FAIL_MODEL (accounts the mock makes answer 429/5xx), the rest
// ask MODEL (a pool with some failing accounts, so the gateway fails over). Pass/fail: the healthy model's failure
// rate and p95 stay within bounds, and the failing model is answered with an error quickly (FAIL_P95_MS).
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import exec from 'k6/execution';
import { CHAT_URL, KEY, MODEL, chatBody, chatParams, env, envNumber, makeOptions, waitReady } from './lib/common.js';

const FAIL_MODEL = env('FAIL_MODEL', 'mock-flaky');
const FAIL_SHARE = envNumber('FAIL_SHARE', 10);
if (FAIL_SHARE < 0 || FAIL_SHARE > 100) throw new Error('FAIL_SHARE must be 0-100');

// Only the healthy model's answers count in http_req_failed; the failing model's are expected to fail.
export const options = makeOptions({
  'http_req_failed{kind:healthy}': [`rate<${envNumber('MAX_FAIL_RATE', 0.01)}`],
  'http_req_duration{kind:failing}': [`p(95)<${envNumber('FAIL_P95_MS', 500)}`],
}, { allFail: false });

const statuses = new Counter('failure_mix_non2xx');
const healthy = { body: chatBody(MODEL, false), params: chatParams(KEY, { kind: 'healthy' }) };
const failing = {
  body: chatBody(FAIL_MODEL, false),
  params: { ...chatParams(KEY, { kind: 'failing' }), responseCallback: http.expectedStatuses({ min: 400, max: 599 }) },
};

export function setup() {
  return waitReady(KEY, MODEL);
}

export default function () {
  const k = exec.scenario.iterationInTest + 1;
  const bad = Math.floor((k * FAIL_SHARE) / 100) !== Math.floor(((k - 1) * FAIL_SHARE) / 100);
  const target = bad ? failing : healthy;
  const res = http.post(CHAT_URL, target.body, target.params);
  if (res.status < 200 || res.status > 299) statuses.add(1, { status: String(res.status), kind: bad ? 'failing' : 'healthy' });
  if (bad) {
    check(res, { 'failing model answers 429/5xx': (r) => r.status === 429 || r.status >= 500 });
  } else {
    check(res, { 'healthy model answers 200': (r) => r.status === 200 });
  }
}
