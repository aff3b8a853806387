// settle.lua: the account's health record after a request: counters per
// outcome, last status and use, and the latency EWMA kept as a string.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acctKey, seeded, serverNowMs, useRedis } from './fixtures.mjs';

const h = useRedis();
const settle = (id, outcome, status, latency) => h.run('settle', [acctKey(id)], [outcome, String(status), String(latency)]);

test('ok: one request, status, last use and the first latency sample as is', async () => {
  const t0 = Math.floor(await serverNowMs(h.client) / 1000);
  assert.equal(await settle('a', 'ok', 200, 100), 1);
  const t1 = Math.floor(await serverNowMs(h.client) / 1000);
  const st = await h.client.hgetall(acctKey('a'));
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
  assert.equal(await settle('a', 'stream_error', 200, 3000), 1);
  const st = await h.client.hgetall(acctKey('a'));
  assert.equal(st.requests, '2');
  assert.equal(st.errors, '1');
  assert.equal(st.stream_errors, '1');
  assert.equal(st.latency_ewma_ms, '640');
  assert.equal(st.cooldown_until, undefined);
  assert.equal(st.disabled, undefined);
});

test('client_error counts as a request only', async () => {
  assert.equal(await settle('a', 'client_error', 400, 80), 1);
  const st = await h.client.hgetall(acctKey('a'));
  assert.equal(st.requests, '1');
  assert.equal(st.errors, undefined);
  assert.equal(st.stream_errors, undefined);
  assert.equal(st.last_status, '400');
});

test('malformed calls are errors and write nothing', async () => {
  await assert.rejects(settle('a', 'great', 200, 10), /outcome must be ok, stream_error or client_error/);
  await assert.rejects(settle('a', 'ok', 200, -1), /latency ms must be >= 0/);
  await assert.rejects(settle('a', 'ok', 200, 1.5), /latency ms must be a decimal integer/);
  await assert.rejects(settle('a', 'ok', 'OK', 10), /upstream status must be a decimal integer/);
  await assert.rejects(h.run('settle', [acctKey('a')], ['ok', '200']), /expected 3 ARGV, got 2/);
  assert.equal(await h.client.exists(acctKey('a')), 0);
});
