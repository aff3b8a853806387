// POST /api/channels/{id}/test: per-model probes straight to the provider,
// with no admission, charge or cooldown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, addChannel, waitConfig, ok } from '../lib/stack.mjs';

let s;
before(async () => { s = await startStack(); });
after(async () => { await s?.stop(); });

test('a healthy channel: every model answers, with a latency', async () => {
  const { channel } = await addChannel(s, { name: 'probe-ok', models: ['m1', 'm2', 'm3'], accounts: ['sk-mock-probe-ok-1'] });
  await waitConfig(s);
  await s.mock.resetStats();
  const r = await ok(s.admin('POST', `/api/channels/${channel.id}/test`));
  assert.deepEqual(r.data.map((d) => [d.model, d.ok, d.status]), [['m1', true, 200], ['m2', true, 200], ['m3', true, 200]]);
  assert.ok(r.data.every((d) => Number.isInteger(d.latency_ms) && d.latency_ms >= 0 && d.error === null));
  assert.equal((await s.mock.stats()).by_key['sk-mock-probe-ok-1'], 3);
});

test('failures are reported per model, with the upstream message, and set no cooldown', async () => {
  const { channel, accounts } = await addChannel(s, { name: 'probe-bad', models: ['m1'], accounts: ['sk-mock-probe-bad'] });
  await waitConfig(s);
  await s.mock.behave({ key: 'sk-mock-probe-bad', status: 401 });
  const r = await ok(s.admin('POST', `/api/channels/${channel.id}/test`));
  assert.equal(r.data[0].ok, false);
  assert.equal(r.data[0].status, 401);
  assert.match(r.data[0].error, /401.*mock failure/);
  const st = await s.redis.client.hgetall(`ah:acct:${accounts[0].id}`);
  assert.notEqual(st.disabled, '1');
  await s.mock.clear();
});

test('a probe that times out says so', async () => {
  const { channel } = await addChannel(s, { name: 'probe-slow', models: ['m1'], accounts: ['sk-mock-probe-slow'], timeout_ms: 300 });
  await waitConfig(s);
  await s.mock.behave({ key: 'sk-mock-probe-slow', hang_ms: 3000 });
  const r = await ok(s.admin('POST', `/api/channels/${channel.id}/test`));
  assert.equal(r.data[0].ok, false);
  assert.match(r.data[0].error, /time/i);
  await s.mock.clear();
});

test('unknown channel 404; a channel without an account 409', async () => {
  assert.equal((await s.admin('POST', '/api/channels/ch_nothere/test')).status, 404);
  const ch = await ok(s.admin('POST', '/api/channels', { name: 'empty', type: 'openai', base_url: s.mock.url, models: ['x'] }));
  await waitConfig(s);
  const r = await s.admin('POST', `/api/channels/${ch.id}/test`);
  assert.equal(r.status, 409);
});
