// settle.lua, the account's health record after a request: counters per
// outcome, last status and use, and the latency EWMA kept as a string; and
// the "released" outcome of an admission the node stopped waiting for.
// Money: money.test.mjs; slots and TPM: limits.test.mjs; log and stats:
// stats.test.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acctKey, admit, credits, logs, money, rejectsUnchanged, seedKeyAndUser, seeded, serverNowMs, settle as settleCall, unchanged,
  useRedis,
} from './fixtures.mjs';

const h = useRedis();
const settle = (id, outcome, status, latency) => settleCall(h, id, { outcome, status, latency });
const health = async (id) => h.client.hgetall(acctKey(id));

test('ok: one request, status, last use and the first latency sample as is', async () => {
  const t0 = Math.floor(await serverNowMs(h.client) / 1000);
  // no hold behind the lease: nothing charged, balance -1
  assert.deepEqual(await settle('a', 'ok', 200, 100), [0, 0, -1]);
  const t1 = Math.floor(await serverNowMs(h.client) / 1000);
  const st = await health('a');
  assert.ok(Number(st.last_used_at) >= t0 && Number(st.last_used_at) <= t1);
  assert.match(st.last_used_at, /^\d{10}$/);
  assert.deepEqual({ ...st, last_used_at: 'x' },
    { requests: '1', last_status: '200', last_used_at: 'x', latency_ewma_ms: '100' });
});

test('EWMA: old * 0.8 + new * 0.2, at most one decimal', async () => {
  const steps = [[100, '100'], [200, '120'], [101, '116.2'], [0, '93'], [7, '75.8'], [1, '60.8'], [3, '49.2']];
  for (const [latency, expected] of steps) {
    await settle('a', 'ok', 200, latency);
    assert.equal(await h.client.hget(acctKey('a'), 'latency_ewma_ms'), expected, `after ${latency}`);
  }
  assert.equal(await h.client.hget(acctKey('a'), 'requests'), String(steps.length));
});

test('EWMA over 300 seeded latencies tracks the reference within rounding', async () => {
  const rnd = seeded(99);
  let ref = null;
  for (let i = 0; i < 300; i++) {
    const latency = Math.floor(rnd() * 5000);
    const prev = await h.client.hget(acctKey('b'), 'latency_ewma_ms');
    await settle('b', 'ok', 200, latency);
    const got = await h.client.hget(acctKey('b'), 'latency_ewma_ms');
    assert.match(got, /^\d+(\.\d)?$/, `stored ${got}`);
    assert.doesNotMatch(got, /\.0$/);
    ref = prev === null ? latency : Number(prev) * 0.8 + latency * 0.2;
    assert.ok(Math.abs(Number(got) - ref) <= 0.05 + 1e-9, `step ${i}: ${got} vs ${ref}`);
  }
});

test('stream_error counts against health, with no cooldown', async () => {
  await settle('a', 'ok', 200, 50);
  assert.deepEqual(await settle('a', 'stream_error', 200, 3000), [0, 0, -1]);
  const st = await health('a');
  assert.equal(st.requests, '2');
  assert.equal(st.errors, '1');
  assert.equal(st.stream_errors, '1');
  assert.equal(st.latency_ewma_ms, '640');
  assert.equal(st.cooldown_until, undefined);
  assert.equal(st.disabled, undefined);
});

test('client_error and client_closed count as a request only', async () => {
  for (const [i, outcome] of ['client_error', 'client_closed'].entries()) {
    assert.deepEqual(await settle('a', outcome, 400 + i, 80), [0, 0, -1]);
    const st = await health('a');
    assert.equal(st.requests, String(i + 1), outcome);
    assert.equal(st.errors, undefined, outcome);
    assert.equal(st.stream_errors, undefined, outcome);
    assert.equal(st.last_status, String(400 + i), outcome);
    assert.equal(st.cooldown_until, undefined, outcome);
  }
});

test('malformed calls are errors and write nothing', async () => {
  await h.client.hset('ah:user:u1', { id: 'u1', balance: '500', held: '100', credited: '600' });
  await h.client.hset('ah:hold:L', { user_id: 'u1', key_id: 'k1', amount: '100', tpm_est: '0', tpm_sec: '1', acct_id: 'a', acct_sec: '1' });
  await h.client.zadd('ah:holds', '9999999999999', 'L');
  const call = (opts) => settleCall(h, 'a', { lease: 'L', cost: 50, ...opts });
  const raw = (args) => h.run('settle', [acctKey('a')], args);
  const base = ['L', 'ok', '200', '10', '5', '0', '1000', 'm', 'ch', '200', '0', '0'];
  const bad = [
    [() => call({ outcome: 'great' }), /unknown outcome great/],
    [() => call({ latency: -1 }), /latency_ms must be >= 0/],
    [() => call({ latency: 1.5 }), /latency_ms must be a decimal integer/],
    [() => call({ status: 'OK' }), /status must be a decimal integer/],
    [() => call({ cost: -1 }), /cost and tokens must be >= 0/],
    [() => call({ tokens: -1 }), /cost and tokens must be >= 0/],
    [() => call({ pt: -1 }), /prompt_tokens and completion_tokens must be >= 0/],
    [() => call({ ct: 'x' }), /completion_tokens must be a decimal integer/],
    [() => call({ logMax: -1 }), /log_max must be >= 0/],
    [() => call({ clientStatus: '' }), /client_status must be a decimal integer/],
    [() => raw(['L', 'ok', '200']), /latency_ms must be a decimal integer/],
    [() => raw([...base, 'request_id']), /expected 1 key and 12 arguments plus field\/value pairs/],
    [() => h.run('settle', [acctKey('a'), acctKey('b')], base), /expected 1 key and 12 arguments/],
  ];
  for (const [fn, re] of bad) await rejectsUnchanged(h.client, fn, re);
  assert.equal(await h.client.exists(acctKey('a')), 0);
});

test('failed: the health record is left to the failover steps that counted each attempt', async () => {
  await h.client.hset(acctKey('f'), 'requests', '3', 'errors', '3', 'last_status', '500');
  await settle('f', 'failed', 500, 40);
  assert.deepEqual(await health('f'), { requests: '3', errors: '3', last_status: '500' });
});

test('released: an admission the node gave up on is given back and logged; none at all changes nothing', async () => {
  await seedKeyAndUser(h.client, { key: { max_in_flight: '5', tpm: '1000' } });
  await credits(h, 'u1', 1000, 'seed');
  assert.equal((await admit(h, { lease: 'R1', hold: 300, tokens: 50, cands: [['a', 0, 1]] }))[0], 'ok');
  const before = await health('a');
  assert.deepEqual(await settleCall(h, 'a', {
    lease: 'R1', outcome: 'released', status: 0, latency: 0, clientStatus: 503,
    fields: { request_id: 'rq-R1', error: 'the gateway\'s state store (Redis) is unreachable; retry shortly' },
  }), [0, 0, 1000]);
  assert.deepEqual(await money(h.client), { balance: 1000, held: 0, spent: 0, credited: 1000 });
  assert.equal(await h.client.hget('ah:key:h1', 'inflight'), '0');
  assert.equal(await h.client.hget('ah:lim:key:k1', 'ts'), '0', 'the estimate leaves the TPM window');
  assert.equal(await h.client.exists('ah:hold:R1'), 0);
  assert.deepEqual(await health('a'), before, 'not the account\'s fault');
  const entry = (await logs(h.client)).at(-1);
  assert.deepEqual([entry.request_id, entry.status, entry.user_id, entry.cost], ['rq-R1', '503', 'u1', '0']);
  // an admission that never ran: nothing to give back, nothing written (no log entry either)
  assert.deepEqual(await unchanged(h.client, () => settleCall(h, 'a', { lease: 'never', outcome: 'released', clientStatus: 503 })),
    [0, 0, -1]);
});
