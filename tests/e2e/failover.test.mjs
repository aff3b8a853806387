// Routing, failover and cooldowns exactly as the contract says, through a
// real node, redis-server and the mock provider. Each test uses its own
// model name and channels so that their accounts never mix; the mock fails
// on purpose for an account's key (POST /_mock/behavior).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, addChannel, addUserKey, waitConfig, waitFor, chat, ok } from '../lib/stack.mjs';

let s;
let secret;
let seq = 0;

before(async () => {
  s = await startStack();
  ({ secret } = await addUserKey(s));
});
after(async () => { await s?.stop(); });
beforeEach(async () => { await s.mock.clear(); });

const msg = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

/** Two channels serving one fresh model: "high" (priority 10, account A) and "low" (priority 0, account B). */
async function pair(opts = {}) {
  const model = `m-${++seq}`;
  const tag = `${seq}-${Date.now()}`;
  const a = `sk-mock-A-${tag}`;
  const b = `sk-mock-B-${tag}`;
  const high = await addChannel(s, { name: `high-${tag}`, models: [model], priority: 10, accounts: [a], ...opts });
  const low = await addChannel(s, { name: `low-${tag}`, models: [model], priority: 0, accounts: [b], ...opts });
  await waitConfig(s);
  return { model, a, b, accA: high.accounts[0], accB: low.accounts[0], high, low };
}

async function state(accountId) {
  return s.redis.client.hgetall(`ah:acct:${accountId}`);
}

async function hits(key) {
  return (await s.mock.stats()).by_key[key] ?? 0;
}

test('priority first: the higher-priority account serves while it is healthy', async () => {
  const p = await pair();
  for (let i = 0; i < 5; i++) assert.equal((await chat(s.node.url, secret, msg(p.model))).status, 200);
  assert.equal(await hits(p.a), 5);
  assert.equal(await hits(p.b), 0);
});

test('upstream 500: fail over to the next account, cool the failed one for the 5xx cooldown', async () => {
  const p = await pair({ cooldowns: { '5xx': 300 } });
  await s.mock.behave({ key: p.a, status: 500 });
  const before = Date.now();
  const r = await chat(s.node.url, secret, msg(p.model));
  assert.equal(r.status, 200, r.text);
  assert.equal(await hits(p.a), 1);
  assert.equal(await hits(p.b), 1);
  const st = await state(p.accA.id);
  const until = Number(st.cooldown_until);
  assert.ok(until >= before + 299_000 && until <= Date.now() + 301_000, `cooldown_until ${until}`);
  assert.equal(st.last_status, '500');
  // the cooling account is skipped without being called
  assert.equal((await chat(s.node.url, secret, msg(p.model))).status, 200);
  assert.equal(await hits(p.a), 1);
  assert.equal(await hits(p.b), 2);
  const listed = await ok(s.admin('GET', `/api/channels/${p.high.channel.id}/accounts`));
  assert.equal(listed.data[0].status, 'cooling');
});

test('upstream 429: cooldown is the longer of the channel 429 cooldown and Retry-After', async () => {
  const p = await pair({ cooldowns: { 429: 5 } });
  await s.mock.behave({ key: p.a, status: 429, retry_after: 40 });
  const before = Date.now();
  assert.equal((await chat(s.node.url, secret, msg(p.model))).status, 200);
  const until = Number((await state(p.accA.id)).cooldown_until);
  assert.ok(until >= before + 39_000 && until <= Date.now() + 41_000, `Retry-After honoured: ${until - before} ms`);

  const q = await pair({ cooldowns: { 429: 30 } });
  await s.mock.behave({ key: q.a, status: 429, retry_after: 2 });
  const t0 = Date.now();
  assert.equal((await chat(s.node.url, secret, msg(q.model))).status, 200);
  const until2 = Number((await state(q.accA.id)).cooldown_until);
  assert.ok(until2 >= t0 + 29_000, 'the channel cooldown wins when longer');
});

test('upstream 401 and 403 disable the account until an operator resets it', async () => {
  for (const status of [401, 403]) {
    const p = await pair();
    await s.mock.behave({ key: p.a, status });
    assert.equal((await chat(s.node.url, secret, msg(p.model))).status, 200);
    const st = await state(p.accA.id);
    assert.equal(st.disabled, '1');
    assert.match(st.disabled_reason, new RegExp(String(status)));
    await s.mock.clear();
    for (let i = 0; i < 3; i++) assert.equal((await chat(s.node.url, secret, msg(p.model))).status, 200);
    assert.equal(await hits(p.a), 1, 'a disabled account is never tried again');
    const listed = await ok(s.admin('GET', `/api/channels/${p.high.channel.id}/accounts`));
    assert.equal(listed.data[0].status, 'disabled');
    await ok(s.admin('POST', `/api/accounts/${p.accA.id}/reset`));
    assert.equal((await chat(s.node.url, secret, msg(p.model))).status, 200);
    assert.equal(await hits(p.a), 2, 'after reset the account serves again');
  }
});

test('timeout: an upstream that does not answer within timeout_ms is cooled for the timeout cooldown', async () => {
  const p = await pair({ timeout_ms: 300, cooldowns: { timeout: 120 } });
  await s.mock.behave({ key: p.a, hang_ms: 5000 });
  const before = Date.now();
  const r = await chat(s.node.url, secret, msg(p.model));
  assert.equal(r.status, 200, r.text);
  const st = await state(p.accA.id);
  assert.ok(Number(st.cooldown_until) >= before + 119_000);
  assert.equal(st.last_status, '0');
});

test('the last candidate timing out gives 504 upstream_timeout', async () => {
  const model = `m-${++seq}`;
  const key = `sk-mock-T-${Date.now()}`;
  await addChannel(s, { name: `t-${seq}`, models: [model], accounts: [key], timeout_ms: 300 });
  await waitConfig(s);
  await s.mock.behave({ key, hang_ms: 5000 });
  const r = await chat(s.node.url, secret, msg(model));
  assert.equal(r.status, 504);
  assert.equal(r.body.error.code, 'upstream_timeout');
  assert.equal(r.body.error.type, 'api_error');
});

test('every candidate failing gives 502 upstream_error naming the last upstream status', async () => {
  const p = await pair();
  await s.mock.behave({ key: p.a, status: 500 });
  await s.mock.behave({ key: p.b, status: 503 });
  const r = await chat(s.node.url, secret, msg(p.model));
  assert.equal(r.status, 502);
  assert.equal(r.body.error.code, 'upstream_error');
  assert.match(r.body.error.message, /503/);
});

test('every candidate cooling gives 503 no_available_account with Retry-After; all disabled gives no Retry-After', async () => {
  const p = await pair({ cooldowns: { '5xx': 60 } });
  await s.mock.behave({ key: p.a, status: 500 });
  await s.mock.behave({ key: p.b, status: 500 });
  assert.equal((await chat(s.node.url, secret, msg(p.model))).status, 502);
  const r = await chat(s.node.url, secret, msg(p.model));
  assert.equal(r.status, 503);
  assert.equal(r.body.error.code, 'no_available_account');
  const ra = Number(r.headers.get('retry-after'));
  assert.ok(ra >= 1 && ra <= 60, `Retry-After ${ra}`);

  const q = await pair();
  await s.mock.behave({ key: q.a, status: 401 });
  await s.mock.behave({ key: q.b, status: 403 });
  assert.equal((await chat(s.node.url, secret, msg(q.model))).status, 502);
  const r2 = await chat(s.node.url, secret, msg(q.model));
  assert.equal(r2.status, 503);
  assert.equal(r2.body.error.code, 'no_available_account');
  assert.equal(r2.headers.get('retry-after'), null);
});

test('an upstream 400 goes back to the client as is: no failover, no cooldown', async () => {
  const p = await pair();
  await s.mock.behave({ key: p.a, status: 400 });
  const r = await chat(s.node.url, secret, msg(p.model));
  assert.equal(r.status, 400);
  assert.match(r.body.error.message, /mock failure 400/);
  assert.equal(await hits(p.b), 0);
  const st = await state(p.accA.id);
  assert.ok(!st.cooldown_until || Number(st.cooldown_until) === 0);
  assert.notEqual(st.disabled, '1');
});

test('status_map turns an upstream status into another before the rules apply', async () => {
  const p = await pair({ status_map: { 400: 500 } });
  await s.mock.behave({ key: p.a, status: 400 });
  const r = await chat(s.node.url, secret, msg(p.model));
  assert.equal(r.status, 200, 'the mapped 500 fails over');
  assert.equal(await hits(p.b), 1);
});

test('max_retries bounds the attempts', async () => {
  const model = `m-${++seq}`;
  const keys = [1, 2, 3, 4].map((i) => `sk-mock-R${i}-${Date.now()}`);
  for (const [i, key] of keys.entries()) await addChannel(s, { name: `r-${seq}-${i}`, models: [model], priority: 10 - i, accounts: [key] });
  await ok(s.admin('PUT', '/api/settings', { max_retries: 1 }));
  await waitConfig(s);
  for (const key of keys) await s.mock.behave({ key, status: 500 });
  const r = await chat(s.node.url, secret, msg(model));
  await ok(s.admin('PUT', '/api/settings', { max_retries: 3 }));
  assert.equal(r.status, 502);
  const st = await s.mock.stats();
  const attempts = keys.map((k) => st.by_key[k] ?? 0);
  assert.deepEqual(attempts, [1, 1, 0, 0]);
  await waitConfig(s);
});

test('a cooldown expires by itself and the account serves again', async () => {
  const p = await pair({ cooldowns: { '5xx': 1 } });
  await s.mock.behave({ key: p.a, status: 500, times: 1 });
  assert.equal((await chat(s.node.url, secret, msg(p.model))).status, 200);
  assert.equal(await hits(p.a), 1);
  await waitFor(async () => {
    assert.equal((await chat(s.node.url, secret, msg(p.model))).status, 200);
    return (await hits(p.a)) >= 2;
  }, { timeoutMs: 5000, intervalMs: 100, what: 'the cooled account to serve again' });
});

test('weighted draw: traffic splits by weight within one priority', async () => {
  const model = `m-${++seq}`;
  const k1 = `sk-mock-W1-${Date.now()}`;
  const k3 = `sk-mock-W3-${Date.now()}`;
  await addChannel(s, { name: `w-${seq}`, models: [model], accounts: [{ key: k1, weight: 1 }, { key: k3, weight: 3 }] });
  await waitConfig(s);
  const n = 400;
  for (let i = 0; i < n; i++) assert.equal((await chat(s.node.url, secret, msg(model))).status, 200);
  const share = (await hits(k3)) / n;
  // 3:1 expects 0.75; with 400 draws the standard deviation is ~0.022, so ±0.1 is > 4 sigma
  assert.ok(share > 0.65 && share < 0.85, `weight-3 share ${share}`);
});

test('a stream that breaks after it started ends with an error event and counts against health without a cooldown', async () => {
  const p = await pair();
  await s.mock.behave({ key: p.a, chunks: 6, reset_after_chunks: 2 });
  const r = await chat(s.node.url, secret, msg(p.model, { stream: true }));
  assert.equal(r.status, 200);
  const events = r.text.split('\n\n').filter(Boolean);
  assert.ok(!events.includes('data: [DONE]'), 'no [DONE] after a broken stream');
  const last = JSON.parse(events.at(-1).replace(/^data: /, ''));
  assert.ok(last.error, `the last event is an error: ${events.at(-1)}`);
  assert.ok(events.length >= 3, 'the events sent before the break reached the client');
  assert.equal(await hits(p.b), 0, 'no failover after commit');
  await waitFor(async () => (await state(p.accA.id)).stream_errors === '1', { what: 'stream_errors recorded' });
  const st = await state(p.accA.id);
  assert.ok(!st.cooldown_until || Number(st.cooldown_until) === 0);
});
