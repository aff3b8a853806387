// Shared by AiHub's k6 scripts: the target, the request, the run's bounds, the pass/fail thresholds and the
// readiness check of setup(). Every value comes from __ENV, so one script serves a laptop and a CI box:
//
//   BASE_URL        the gateway (required), e.g. http://127.0.0.1:8080
//   AIHUB_KEY       user API key (sk-...)           MODEL      model name (mock-gpt)
//   VUS             concurrent virtual users (10)   ITERATIONS requests in all (10000): the run's request bound
//   MAX_DURATION    the run's time bound (60s)      P95_MS     pass/fail: p95 of http_req_duration (500)
//   MAX_FAIL_RATE   pass/fail: share of failed requests (0.01)
//   READY_TIMEOUT_S how long setup() waits for GET /readyz (30)
import http from 'k6/http';
import { check, fail, sleep } from 'k6';

/**
 * @param {string} name
 * @param {string} fallback
 * @returns {string}
 */
export function env(name, fallback) {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : v;
}

/**
 * @param {string} name
 * @param {number} fallback
 * @returns {number}
 */
export function envNumber(name, fallback) {
  const raw = env(name, '');
  if (raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got '${raw}'`);
  return n;
}

const rawBase = env('BASE_URL', '');
if (rawBase === '') throw new Error('BASE_URL is required (the gateway, e.g. http://127.0.0.1:8080)');
export const BASE_URL = rawBase.replace(/\/+$/, '');
export const CHAT_URL = `${BASE_URL}/v1/chat/completions`;
export const KEY = env('AIHUB_KEY', 'sk-bench');
export const MODEL = env('MODEL', 'mock-gpt');

/**
 * The run's options: a shared-iterations scenario (bounded by ITERATIONS requests and MAX_DURATION) and the
 * pass/fail thresholds; `extra` adds thresholds (a metric name or `metric{tag:value}` -> expressions).
 * `allFail: false` leaves out the threshold on every request's failure rate (for a script that expects some
 * failures and puts its own threshold on a tagged subset).
 * @param {{ [metric: string]: string[] }} [extra]
 * @param {{ allFail?: boolean }} [opts]
 * @returns {import('k6/options').Options}
 */
export function makeOptions(extra = {}, { allFail = true } = {}) {
  return {
    scenarios: {
      main: {
        executor: 'shared-iterations',
        vus: envNumber('VUS', 10),
        iterations: envNumber('ITERATIONS', 10000),
        maxDuration: env('MAX_DURATION', '60s'),
      },
    },
    thresholds: {
      http_req_duration: [`p(95)<${envNumber('P95_MS', 500)}`],
      ...(allFail ? { http_req_failed: [`rate<${envNumber('MAX_FAIL_RATE', 0.01)}`] } : {}),
      checks: ['rate>0.99'],
      ...extra,
    },
    summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
    setupTimeout: `${envNumber('READY_TIMEOUT_S', 30) + 30}s`,
  };
}

/**
 * A chat completion body: short prompt, small max_tokens (so a credit hold is placed and settled).
 * @param {string} model
 * @param {boolean} stream
 * @returns {string}
 */
export function chatBody(model, stream) {
  return JSON.stringify({
    model,
    messages: [
      { role: 'system', content: 'You are a terse assistant.' },
      { role: 'user', content: 'Say hello in eight words.' },
    ],
    max_tokens: 64,
    ...(stream ? { stream: true } : {}),
  });
}

/**
 * Request parameters for a user key; `tags` label the request's metrics.
 * @param {string} key
 * @param {{ [name: string]: string }} [tags]
 * @returns {import('k6/http').Params}
 */
export function chatParams(key, tags = {}) {
  return {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
    tags: { name: 'chat', ...tags },
    timeout: '30s',
  };
}

/**
 * setup(): waits until GET /readyz answers 200 (READY_TIMEOUT_S), then sends one chat request with `key`
 * and fails the run unless it succeeds, so a misconfigured target stops before the load starts.
 * @param {string} key
 * @param {string} model
 * @returns {{ ready_after_s: number }}
 */
export function waitReady(key, model) {
  const timeout = envNumber('READY_TIMEOUT_S', 30);
  const start = Date.now();
  for (;;) {
    const r = http.get(`${BASE_URL}/readyz`, { timeout: '5s', tags: { name: 'readyz' } });
    if (r.status === 200) break;
    if ((Date.now() - start) / 1000 > timeout) {
      fail(`${BASE_URL}/readyz did not answer 200 within ${timeout} s (last status ${r.status})`);
    }
    sleep(0.5);
  }
  const probe = http.post(CHAT_URL, chatBody(model, false), chatParams(key, { name: 'probe' }));
  if (probe.status !== 200) {
    fail(`the probe request to ${CHAT_URL} (model ${model}) got ${probe.status}: ${String(probe.body).slice(0, 300)}`);
  }
  return { ready_after_s: (Date.now() - start) / 1000 };
}

/**
 * Standard checks on a non-streaming answer.
 * @param {import('k6/http').RefinedResponse<import('k6/http').ResponseType | undefined>} res
 * @returns {boolean}
 */
export function checkChat(res) {
  return check(res, {
    'status is 200': (r) => r.status === 200,
    'has choices': (r) => typeof r.body === 'string' && r.body.includes('"choices"'),
  });
}
